//! `Store`: what lunguard must remember across restarts — the last good
//! desired state, when each unwanted device was first seen, the targets it has
//! attached and not yet fully detached, the wwids-file entries it added, and the action journal.
//!
//! A narrow trait of our own so the daemon and the planner's wiring do not
//! depend on sled, and tests use `MemoryStore`. Writes that a crash must not
//! lose (desired state, journal) are durable when the call returns.

mod journal;
#[cfg(any(test, feature = "test-support"))]
mod memory;
mod sled_store;

use std::path::PathBuf;
use std::time::SystemTime;

pub use journal::{HISTORY_LIMIT, Intent, JournalEntry, JournalId, Outcome, OutcomeRecord};
#[cfg(any(test, feature = "test-support"))]
pub use memory::MemoryStore;
pub use sled_store::SledStore;

use super::DesiredState;
use crate::model::Iqn;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (normally the daemon) has the database open; sled is
    /// single-process.
    #[error(
        "the database {path} is in use by another process: the daemon holds it; use the control socket (or stop lunguard.service before opening the database directly)"
    )]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// The database directory or its lock file could not be created/opened.
    #[error("cannot open the database {path}: {source}")]
    Io {
        /// The database directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// sled failed.
    #[error("database {op} failed: {source}")]
    Sled {
        /// What was being done.
        op: &'static str,
        /// The cause.
        source: sled::Error,
    },
    /// A stored value does not decode (written by an incompatible version, or
    /// damaged).
    #[error("database entry {key} cannot be decoded: {source}")]
    Decode {
        /// Which entry.
        key: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A value could not be serialized (a bug: our types always serialize).
    #[error("cannot encode {what} for the database: {source}")]
    Encode {
        /// What was being written.
        what: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// The database was written by an incompatible lunguard.
    #[error(
        "database {path} has schema {found}, this lunguard understands {expected}; move it aside to start afresh"
    )]
    Schema {
        /// The database directory.
        path: PathBuf,
        /// What it says.
        found: String,
        /// What we write.
        expected: &'static str,
    },
    /// The database is damaged: the daemon must not act on a partial memory of what it did
    /// (which disks lost their writeback, which targets it attached, what was in flight).
    #[error(
        "the database {path} is damaged: {detail}. lunguard will not act on it. The state files are the source of truth: stop lunguard, move the directory aside (mv {path} {path}.damaged) and start again; the new database starts from the state files, forgets first-seen times (grace periods restart), the journal, the targets it attached (their sessions are no longer logged out when undeclared) and the disks whose writeback failed, which it keeps (the journal's alerts of failed flushes name them: keep those disks out of the state files' reach until checked)"
    )]
    Corrupt {
        /// The database directory.
        path: PathBuf,
        /// What was found.
        detail: String,
    },
    /// The filesystem holding the database is full: nothing can be journaled, so nothing is
    /// done (an action without its intent on disk could not be reported after a crash).
    #[error(
        "the database {path} cannot be written: the filesystem holding it is full ({source}). lunguard does not act without its journal: free space there, then start lunguard again (systemctl restart lunguard)"
    )]
    NoSpace {
        /// The database directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `record_outcome` for an id with no intent.
    #[error("journal entry {0} does not exist")]
    NoSuchEntry(JournalId),
}

impl StoreError {
    /// The `ENOSPC` (or `EDQUOT`) underneath, if that is what this is.
    pub fn no_space(&self) -> Option<std::io::Error> {
        let io = match self {
            Self::Io { source, .. } | Self::NoSpace { source, .. } => source,
            Self::Sled {
                source: sled::Error::Io(source),
                ..
            } => source,
            _ => return None,
        };
        matches!(
            io.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
        .then(|| std::io::Error::new(io.kind(), io.to_string()))
    }
}

/// Persistent memory of the daemon. All methods are safe to call from several
/// threads.
pub trait Store: Send + Sync {
    /// The last good desired state, if one was ever stored.
    fn desired(&self) -> Result<Option<DesiredState>, StoreError>;

    /// Replaces the desired state (durable on return).
    fn set_desired(&self, state: &DesiredState) -> Result<(), StoreError>;

    /// When the unwanted device `key` (e.g. `"3:0:0:1 naa.6001…"`) was first
    /// seen: records `now` if it was not known. The grace period counts from
    /// the returned time. Not flushed by itself (a pass may note thousands of
    /// keys): durable after [`Store::sync`] or when the store is dropped.
    fn first_seen(&self, key: &str, now: SystemTime) -> Result<SystemTime, StoreError>;

    /// Forgets `key` (the device is gone, or is wanted again). Not flushed by
    /// itself, like [`Store::first_seen`].
    fn forget_seen(&self, key: &str) -> Result<(), StoreError>;

    /// Makes every write so far durable. The daemon calls it once a pass after
    /// recording first-seen times: the store runs no background flusher (it
    /// would wake an idle daemon every 500 ms), so until then a crash could
    /// lose them — a lost `forget_seen` would leave a stale first-seen time
    /// that shortens a reappearing device's grace period. In-memory stores
    /// have nothing to do.
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Every remembered first-seen time, by key.
    fn seen(&self) -> Result<Vec<(String, SystemTime)>, StoreError>;

    /// Remembers that lunguard attached (logged in to) `target`, so it stays in
    /// scope until fully detached even after its attachments are deleted
    /// (durable on return).
    fn claim_target(&self, target: &Iqn) -> Result<(), StoreError>;

    /// Forgets `target` once it is fully detached and logged out.
    fn release_target(&self, target: &Iqn) -> Result<(), StoreError>;

    /// Every claimed target.
    fn claimed_targets(&self) -> Result<Vec<Iqn>, StoreError>;

    /// Remembers that lunguard added `id` (multipath form) to multipathd's wwids file, so it is
    /// the one to remove it after the detach (durable on return).
    fn own_wwid(&self, id: &str) -> Result<(), StoreError>;

    /// Forgets `id` (removed from the file, or found gone).
    fn disown_wwid(&self, id: &str) -> Result<(), StoreError>;

    /// Every wwids-file entry lunguard added and has not removed.
    fn owned_wwids(&self) -> Result<Vec<String>, StoreError>;

    /// Remembers that the kernel reported lost writes on block device `key` (`"sdc 8:32"`):
    /// the device is kept — not flushed or removed again — until it is gone, across restarts
    /// (the kernel reports a writeback error once; a second flush would succeed and the removal
    /// would delete the evidence). Durable on return.
    fn mark_writeback_lost(&self, key: &str, error: &str) -> Result<(), StoreError>;

    /// Forgets a writeback-loss mark (the device is gone).
    fn forget_writeback_lost(&self, key: &str) -> Result<(), StoreError>;

    /// Every writeback-loss mark: key and the error the kernel reported.
    fn writeback_lost(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Writes an intent before acting on it; durable on return, so after a
    /// crash `intents_without_outcome` shows what may have been half done.
    fn record_intent(&self, intent: &Intent) -> Result<JournalId, StoreError>;

    /// Writes the outcome of an intent; durable on return.
    fn record_outcome(&self, id: JournalId, outcome: &OutcomeRecord) -> Result<(), StoreError>;

    /// Intents with no outcome, oldest first: after a crash, the keys to
    /// reconcile first (the plan is recomputed; the intent says only where).
    fn intents_without_outcome(&self) -> Result<Vec<JournalEntry>, StoreError>;

    /// The newest `limit` journal entries, newest first. The journal keeps at
    /// most [`HISTORY_LIMIT`] finished entries.
    fn history(&self, limit: usize) -> Result<Vec<JournalEntry>, StoreError>;
}
