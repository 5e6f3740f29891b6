//! Running a blocking kernel call (BLKFLSBUF, fsync, a sysfs write) on a worker thread with a
//! deadline, so that nothing the loop waits for can block it forever.
//!
//! A flush of a multipath map that queues I/O with every path down, or a write to `delete` of a
//! device stuck in error handling, sleeps in the kernel uninterruptibly (`D` state): no signal
//! ends it. The worker thread is then left behind, blocked, and the step fails with
//! [`Expired`]; the caller keeps the device. While a worker for the same
//! device is still blocked, a new call does not start another one: it fails at once.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Why a call gave no answer of its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Expired {
    /// It ran past its deadline (its worker is left blocked in the kernel), or an earlier
    /// worker for the same key still is.
    #[error(
        "{what} {}",
        if *earlier {
            "not tried: an earlier attempt did not finish within its deadline and is still blocked in the kernel".to_owned()
        } else {
            format!("did not finish within {}s (thread left blocked in the kernel)", waited.as_secs_f32())
        }
    )]
    Deadline {
        /// The operation, e.g. "flush buffers of /dev/dm-3".
        what: String,
        /// The deadline it was given (zero when refused for an earlier worker).
        waited: Duration,
        /// Refused because an earlier worker for the same key is still blocked.
        earlier: bool,
    },
    /// No worker thread could be started, or it ended without an answer (panicked).
    #[error("{0}")]
    NoAnswer(String),
}

/// Devices (by the key the caller gives, e.g. `/dev/sdc`) whose worker is still in the kernel.
static BLOCKED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Runs `f` on a new thread and waits at most `timeout` for it. `key` names the device the call
/// is about: a call whose earlier worker for the same key is still blocked fails at once. The
/// caller's error type says how an [`Expired`] call is reported (`act` turns it into a failed
/// step, `observe` into an unknown fact).
pub fn run<T, E, F>(key: &str, what: &str, timeout: Duration, f: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<Expired> + Send + 'static,
    F: FnOnce() -> Result<T, E> + Send + 'static,
{
    if BLOCKED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(key)
    {
        return Err(Expired::Deadline {
            what: what.to_owned(),
            waited: Duration::ZERO,
            earlier: true,
        }
        .into());
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let owned_key = key.to_owned();
    let spawned = std::thread::Builder::new()
        .name("lunguard-io".into())
        .spawn(move || {
            let out = f();
            // Send first, then free the key: a caller that timed out checks the channel under
            // the lock before it marks the key, so the key is never left marked by a race.
            let _ = tx.send(out);
            BLOCKED
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&owned_key);
        });
    if let Err(e) = spawned {
        return Err(
            Expired::NoAnswer(format!("{what}: could not start a worker thread: {e}")).into(),
        );
    }
    match rx.recv_timeout(timeout) {
        Ok(out) => out,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let mut blocked = BLOCKED.lock().unwrap_or_else(PoisonError::into_inner);
            // Finished between the timeout and the lock: take the answer after all.
            if let Ok(out) = rx.try_recv() {
                return out;
            }
            blocked.insert(key.to_owned());
            Err(Expired::Deadline {
                what: what.to_owned(),
                waited: timeout,
                earlier: false,
            }
            .into())
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(Expired::NoAnswer(format!(
            "{what}: the worker thread ended without an answer (panicked)"
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_call_past_its_deadline_fails_and_the_device_is_not_tried_again_while_it_blocks() {
        // Issue 7: a BLKFLSBUF on a map queueing I/O blocked the pass (and the loop) forever.
        let (release, wait) = mpsc::channel::<()>();
        let t0 = Instant::now();
        let err = run(
            "/dev/test-deadline-a",
            "flush buffers of /dev/test-deadline-a",
            Duration::from_millis(100),
            move || {
                let _ = wait.recv();
                Ok::<_, Expired>(1)
            },
        )
        .unwrap_err();
        assert!(t0.elapsed() < Duration::from_secs(5));
        let msg = err.to_string();
        assert!(
            msg.contains("did not finish within 0.1s (thread left blocked in the kernel)"),
            "{msg}"
        );
        assert!(matches!(err, Expired::Deadline { earlier: false, .. }));
        // The first worker is still "in the kernel": no second one is started.
        let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = std::sync::Arc::clone(&started);
        let again = run(
            "/dev/test-deadline-a",
            "flush buffers of /dev/test-deadline-a",
            Duration::from_secs(5),
            move || {
                s.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, Expired>(1)
            },
        )
        .unwrap_err();
        assert!(again.to_string().contains("still blocked"), "{again}");
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
        // Once the kernel lets go, the device can be tried again.
        release.send(()).expect("worker waiting");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = run(
                "/dev/test-deadline-a",
                "flush",
                Duration::from_secs(5),
                || Ok::<_, Expired>(2),
            );
            if r.is_ok() || Instant::now() > deadline {
                assert_eq!(r.ok(), Some(2));
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_quick_call_returns_its_own_result() {
        let out = run("/dev/test-deadline-b", "x", Duration::from_secs(5), || {
            Err::<u32, _>(Expired::NoAnswer("boom".into()))
        });
        assert_eq!(out.unwrap_err().to_string(), "boom");
    }
}
