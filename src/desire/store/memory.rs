//! `MemoryStore`: the `Store` in a mutex, for tests and dry runs. Same
//! semantics as `SledStore`, nothing durable.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use super::{HISTORY_LIMIT, Intent, JournalEntry, JournalId, OutcomeRecord, Store, StoreError};
use crate::desire::DesiredState;
use crate::model::Iqn;

/// An in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    desired: Option<DesiredState>,
    seen: HashMap<String, SystemTime>,
    claimed: BTreeSet<Iqn>,
    wwids: BTreeSet<String>,
    lost: BTreeMap<String, String>,
    journal: BTreeMap<JournalId, JournalEntry>,
    next_id: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves plain data behind;
        // using it is no worse than what the panicking test already saw.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemoryStore {
    fn desired(&self) -> Result<Option<DesiredState>, StoreError> {
        Ok(self.lock().desired.clone())
    }

    fn set_desired(&self, state: &DesiredState) -> Result<(), StoreError> {
        self.lock().desired = Some(state.clone());
        Ok(())
    }

    fn first_seen(&self, key: &str, now: SystemTime) -> Result<SystemTime, StoreError> {
        Ok(*self.lock().seen.entry(key.to_owned()).or_insert(now))
    }

    fn forget_seen(&self, key: &str) -> Result<(), StoreError> {
        self.lock().seen.remove(key);
        Ok(())
    }

    fn seen(&self) -> Result<Vec<(String, SystemTime)>, StoreError> {
        let mut v: Vec<_> = self
            .lock()
            .seen
            .iter()
            .map(|(k, t)| (k.clone(), *t))
            .collect();
        v.sort();
        Ok(v)
    }

    fn claim_target(&self, target: &Iqn) -> Result<(), StoreError> {
        self.lock().claimed.insert(target.clone());
        Ok(())
    }

    fn release_target(&self, target: &Iqn) -> Result<(), StoreError> {
        self.lock().claimed.remove(target);
        Ok(())
    }

    fn claimed_targets(&self) -> Result<Vec<Iqn>, StoreError> {
        Ok(self.lock().claimed.iter().cloned().collect())
    }

    fn own_wwid(&self, id: &str) -> Result<(), StoreError> {
        self.lock().wwids.insert(id.to_owned());
        Ok(())
    }

    fn disown_wwid(&self, id: &str) -> Result<(), StoreError> {
        self.lock().wwids.remove(id);
        Ok(())
    }

    fn owned_wwids(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.lock().wwids.iter().cloned().collect())
    }

    fn mark_writeback_lost(&self, key: &str, error: &str) -> Result<(), StoreError> {
        self.lock().lost.insert(key.to_owned(), error.to_owned());
        Ok(())
    }

    fn forget_writeback_lost(&self, key: &str) -> Result<(), StoreError> {
        self.lock().lost.remove(key);
        Ok(())
    }

    fn writeback_lost(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .lock()
            .lost
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn record_intent(&self, intent: &Intent) -> Result<JournalId, StoreError> {
        let mut g = self.lock();
        let id = JournalId(g.next_id);
        g.next_id += 1;
        g.journal.insert(
            id,
            JournalEntry {
                id,
                intent: intent.clone(),
                outcome: None,
            },
        );
        Ok(id)
    }

    fn record_outcome(&self, id: JournalId, outcome: &OutcomeRecord) -> Result<(), StoreError> {
        let mut g = self.lock();
        let entry = g.journal.get_mut(&id).ok_or(StoreError::NoSuchEntry(id))?;
        entry.outcome = Some(outcome.clone());
        let finished: Vec<JournalId> = g
            .journal
            .values()
            .filter(|e| e.outcome.is_some())
            .map(|e| e.id)
            .collect();
        for old in finished
            .iter()
            .take(finished.len().saturating_sub(HISTORY_LIMIT))
        {
            g.journal.remove(old);
        }
        Ok(())
    }

    fn intents_without_outcome(&self) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self
            .lock()
            .journal
            .values()
            .filter(|e| e.outcome.is_none())
            .cloned()
            .collect())
    }

    fn history(&self, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self
            .lock()
            .journal
            .values()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }
}
