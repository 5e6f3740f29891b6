//! Connects the executor's journal events to the store: the intent is on disk before the action
//! runs (`record_intent` syncs), the outcome after. A crash between the two leaves an intent
//! without outcome, which the next start reports and re-plans from the kernel's state.
//!
//! An intent that cannot be written (a full filesystem, a failing disk) is an `Err`: the
//! executor does not run that step (fail closed, docs/decisions.md).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use tracing::error;

use crate::act::{JournalEvent, StepResult};
use crate::desire::Store;
use crate::desire::store::{Intent, JournalId, Outcome, OutcomeRecord};

/// `act::Journal` over a `Store`.
pub struct StoreJournal<'a> {
    store: &'a dyn Store,
    ids: Mutex<HashMap<usize, JournalId>>,
}

impl<'a> StoreJournal<'a> {
    /// Journals into `store`.
    pub fn new(store: &'a dyn Store) -> Self {
        Self {
            store,
            ids: Mutex::new(HashMap::new()),
        }
    }
}

impl crate::act::Journal for StoreJournal<'_> {
    fn record(&self, event: &JournalEvent<'_>) -> Result<(), String> {
        let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            JournalEvent::Intent { index, step } => {
                let targets: Vec<String> = step.targets.iter().map(ToString::to_string).collect();
                let intent = Intent {
                    key: format!("{} {}", step.action.kind(), targets.join(",")),
                    action: step.action.to_string(),
                    at: SystemTime::now(),
                };
                match self.store.record_intent(&intent) {
                    Ok(id) => {
                        ids.insert(*index, id);
                        super::kill_hook::intent_durable(&intent.action);
                    }
                    Err(e) => {
                        error!(error = %e, action = %step.action, "journal: intent not recorded; not acting");
                        return Err(format!(
                            "not run: its intent could not be journaled ({e}); lunguard does not act without a journal"
                        ));
                    }
                }
                Ok(())
            }
            JournalEvent::Outcome {
                index,
                step,
                result,
            } => {
                let Some(id) = ids.remove(index) else {
                    return Ok(()); // skipped steps have no intent
                };
                let outcome = match result {
                    StepResult::Changed => Outcome::Changed,
                    // A dry run changed nothing: the journal must not say it did.
                    StepResult::WouldChange => Outcome::WouldChange,
                    StepResult::AlreadyConverged => Outcome::AlreadyConverged,
                    StepResult::Failed { error, .. } => Outcome::Failed {
                        error: error.clone(),
                    },
                    StepResult::Skipped { why } => Outcome::Failed { error: why.clone() },
                };
                let rec = OutcomeRecord {
                    at: SystemTime::now(),
                    outcome,
                };
                self.store.record_outcome(id, &rec).map_err(|e| {
                    error!(error = %e, action = %step.action, "journal: outcome not recorded");
                    format!("outcome not journaled: {e}")
                })
            }
        }
    }
}
