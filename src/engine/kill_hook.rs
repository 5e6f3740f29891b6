//! Test aid: `LUNGUARD_TEST_KILL_AFTER_INTENT=N` makes the process SIGKILL itself right after
//! its N-th journal intent is durable (`record_intent` returned `Ok`, which means flushed to
//! disk). The VM scenario `daemon-kill-every-step.sh` uses it to stop the daemon at every step of
//! an attach, a detach and a rogue-LUN removal, exactly between "intent on disk" and "action
//! run", the window the journal exists for. Timed kills could not hit every step.
//!
//! The variable is read once, at start ([`init_from_env`]); unset, the hook is a `OnceLock` that
//! was never set, and [`intent_durable`] returns at its first test. Armed, every other durable
//! intent prints `intent I durable: ACTION` on stderr, so a run that is not killed tells the
//! scenario how many steps the operation has. Not for production use: it is
//! documented in docs/testing.md and the daemon's man page as a test aid.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that arms the hook.
pub const VAR: &str = "LUNGUARD_TEST_KILL_AFTER_INTENT";

/// Counts durable intents and says when the N-th has been reached.
#[derive(Debug)]
pub struct KillAfterIntent {
    n: u64,
    seen: AtomicU64,
}

impl KillAfterIntent {
    /// Parses the variable's value: a positive integer (intents are counted from 1).
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Self {
                n,
                seen: AtomicU64::new(0),
            }),
            _ => Err(format!(
                "{VAR}={value:?}: expected a positive integer (the intent after which to SIGKILL)"
            )),
        }
    }

    /// Counts one durable intent; true exactly when it is the N-th.
    pub fn count(&self) -> bool {
        self.next() == self.n
    }

    /// Counts one durable intent and returns its number (from 1).
    fn next(&self) -> u64 {
        self.seen.fetch_add(1, Ordering::SeqCst) + 1
    }
}

static HOOK: OnceLock<KillAfterIntent> = OnceLock::new();

/// Reads [`VAR`] once; call at process start. An unparsable value is an error (a test that sets
/// it wrongly must not silently run without the kill).
pub fn init_from_env() -> Result<(), String> {
    let Some(value) = std::env::var_os(VAR) else {
        return Ok(());
    };
    let value = value
        .into_string()
        .map_err(|v| format!("{VAR}={v:?}: not UTF-8"))?;
    let hook = KillAfterIntent::parse(&value)?;
    tracing::warn!(
        n = hook.n,
        "test aid {VAR} set: SIGKILL after intent {}",
        hook.n
    );
    // A second call (tests) keeps the first value.
    let _ = HOOK.set(hook);
    Ok(())
}

/// Called by the journal right after an intent is durable: SIGKILLs the process when the armed
/// count is reached (`action` is the intent's, for the test's log). Inert when [`VAR`] was unset
/// at start.
pub fn intent_durable(action: &str) {
    let Some(hook) = HOOK.get() else { return };
    let i = hook.next();
    if i != hook.n {
        // The scenario counts these lines in a run that was not killed: how many steps an
        // operation has, so a reduced run can still kill at its last one.
        eprintln!("lunguard: {VAR}: intent {i} durable: {action}");
        return;
    }
    // stderr is unbuffered: the scenario reads this line to know the kill was ours and
    // which action it interrupted.
    eprintln!(
        "lunguard: {VAR}: intent {} durable, raising SIGKILL before: {action}",
        hook.n
    );
    // SIGKILL cannot be caught or blocked; raise returns only if the signal could not be sent.
    if let Err(e) = signal_hook::low_level::raise(signal_hook::consts::SIGKILL) {
        eprintln!("lunguard: {VAR}: raise(SIGKILL) failed: {e}");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_on_the_nth_intent_only() {
        let h = KillAfterIntent::parse("3").unwrap();
        let fired: Vec<bool> = (0..6).map(|_| h.count()).collect();
        assert_eq!(fired, [false, false, true, false, false, false]);
    }

    #[test]
    fn first_intent_is_one() {
        let h = KillAfterIntent::parse(" 1\n").unwrap();
        assert!(h.count());
        assert!(!h.count());
    }

    #[test]
    fn rejects_zero_negative_and_words() {
        for v in ["0", "-1", "", "two", "1.5"] {
            let e = KillAfterIntent::parse(v).unwrap_err();
            assert!(e.contains(VAR), "{e}");
        }
    }
}
