//! Journal records: an intent written before acting, its outcome after.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Finished entries kept for `history`; older ones are pruned. Unfinished
/// ones are never pruned: crash recovery needs them.
pub const HISTORY_LIMIT: usize = 10_000;

/// A journal entry's id; increases with every intent, across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JournalId(pub u64);

impl fmt::Display for JournalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What lunguard is about to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The reconcile key (an H:C:T:L, a WWID, a target, a map name).
    pub key: String,
    /// The action as `lunguard plan` prints it.
    pub action: String,
    /// When it was decided.
    pub at: SystemTime,
}

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The system changed as intended.
    Changed,
    /// Nothing needed doing.
    AlreadyConverged,
    /// A dry run (observe mode, `apply --once --dry-run`): it would have changed the system,
    /// nothing was done. Added after `changed`; records written before it still read.
    WouldChange,
    /// It failed; the device was kept.
    Failed {
        /// The error, as reported.
        error: String,
    },
    /// Found without an outcome after a restart: the process died mid-action.
    Interrupted,
}

/// An outcome and when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    /// When it finished.
    pub at: SystemTime,
    /// How.
    pub outcome: Outcome,
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Its id.
    pub id: JournalId,
    /// What was intended.
    pub intent: Intent,
    /// How it ended, if it did.
    pub outcome: Option<OutcomeRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `would_change` was added to a journal that already has records: every outcome written
    /// before it must still decode, and the new one round-trips under its own name.
    #[test]
    fn old_outcomes_still_read_and_would_change_round_trips() {
        for (json, want) in [
            (r#"{"result":"changed"}"#, Outcome::Changed),
            (
                r#"{"result":"already_converged"}"#,
                Outcome::AlreadyConverged,
            ),
            (r#"{"result":"interrupted"}"#, Outcome::Interrupted),
            (
                r#"{"result":"failed","error":"e"}"#,
                Outcome::Failed { error: "e".into() },
            ),
        ] {
            assert_eq!(serde_json::from_str::<Outcome>(json).unwrap(), want);
        }
        let w = serde_json::to_string(&Outcome::WouldChange).unwrap();
        assert_eq!(w, r#"{"result":"would_change"}"#);
        assert_eq!(
            serde_json::from_str::<Outcome>(&w).unwrap(),
            Outcome::WouldChange
        );
    }
}
