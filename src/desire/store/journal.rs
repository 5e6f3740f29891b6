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
