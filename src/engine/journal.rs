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
                        // The executor prefixes "<action>: not run: " when it logs this.
                        return Err(format!(
                            "its intent could not be journaled ({e}); lunguard does not act without a journal"
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
                // Whose a wwids-file entry is, written with the outcome that decides it: only an
                // entry this step added is lunguard's.
                match (&step.action, result) {
                    (crate::plan::Action::RegisterWwid { wwid }, StepResult::Changed) => {
                        if let Some(id) = wwid.multipath_id() {
                            self.store.own_wwid(&id).map_err(|e| {
                                error!(error = %e, wwid = %wwid, "journal: wwids-file entry not recorded as lunguard's");
                                format!("entry not recorded as lunguard's: {e}")
                            })?;
                        }
                    }
                    (
                        crate::plan::Action::ForgetWwid { id },
                        StepResult::Changed | StepResult::AlreadyConverged,
                    ) => {
                        self.store.disown_wwid(id).map_err(|e| {
                            error!(error = %e, id = %id, "journal: wwids-file entry not forgotten");
                            format!("entry not forgotten: {e}")
                        })?;
                    }
                    _ => {}
                }
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    use super::StoreJournal;
    use crate::act::{Recording, StepResult, TargetLocks, execute_plan};
    use crate::desire::DesiredState;
    use crate::desire::store::{
        Intent, JournalEntry, JournalId, MemoryStore, OutcomeRecord, Store, StoreError,
    };
    use crate::model::{Iqn, Portal};
    use crate::plan::{Action, GroupId, OnFailure, Plan, Step};

    /// A store on a full filesystem: intents fail with `NoSpace`, the rest is a `MemoryStore`.
    #[derive(Default)]
    struct FullStore(MemoryStore);

    fn no_space() -> StoreError {
        StoreError::NoSpace {
            path: "/var/lib/lunguard/db".into(),
            source: std::io::Error::from(std::io::ErrorKind::StorageFull),
        }
    }

    impl Store for FullStore {
        fn desired(&self) -> Result<Option<DesiredState>, StoreError> {
            self.0.desired()
        }
        fn set_desired(&self, state: &DesiredState) -> Result<(), StoreError> {
            self.0.set_desired(state)
        }
        fn first_seen(&self, key: &str, now: SystemTime) -> Result<SystemTime, StoreError> {
            self.0.first_seen(key, now)
        }
        fn forget_seen(&self, key: &str) -> Result<(), StoreError> {
            self.0.forget_seen(key)
        }
        fn seen(&self) -> Result<Vec<(String, SystemTime)>, StoreError> {
            self.0.seen()
        }
        fn claim_target(&self, target: &Iqn) -> Result<(), StoreError> {
            self.0.claim_target(target)
        }
        fn release_target(&self, target: &Iqn) -> Result<(), StoreError> {
            self.0.release_target(target)
        }
        fn claimed_targets(&self) -> Result<Vec<Iqn>, StoreError> {
            self.0.claimed_targets()
        }
        fn own_wwid(&self, id: &str) -> Result<(), StoreError> {
            self.0.own_wwid(id)
        }
        fn disown_wwid(&self, id: &str) -> Result<(), StoreError> {
            self.0.disown_wwid(id)
        }
        fn owned_wwids(&self) -> Result<Vec<String>, StoreError> {
            self.0.owned_wwids()
        }
        fn mark_writeback_lost(&self, key: &str, error: &str) -> Result<(), StoreError> {
            self.0.mark_writeback_lost(key, error)
        }
        fn forget_writeback_lost(&self, key: &str) -> Result<(), StoreError> {
            self.0.forget_writeback_lost(key)
        }
        fn writeback_lost(&self) -> Result<Vec<(String, String)>, StoreError> {
            self.0.writeback_lost()
        }
        fn record_intent(&self, _: &Intent) -> Result<JournalId, StoreError> {
            Err(no_space())
        }
        fn record_outcome(&self, id: JournalId, o: &OutcomeRecord) -> Result<(), StoreError> {
            self.0.record_outcome(id, o)
        }
        fn intents_without_outcome(&self) -> Result<Vec<JournalEntry>, StoreError> {
            self.0.intents_without_outcome()
        }
        fn history(&self, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
            self.0.history(limit)
        }
    }

    /// The log lines, for the exact text an operator reads.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Issue 10, bug: the journal's error began with "not run:" and the executor logs
    /// "<action>: not run: <error>", so the operator read "…: not run: not run: its intent…".
    #[test]
    fn an_intent_that_cannot_be_journaled_is_logged_once_as_not_run() {
        let target: Iqn = crate::testing::EXAMPLE_TARGET.parse().unwrap();
        let portal: Portal = "192.0.2.10:3260".parse().unwrap();
        let action = Action::Login {
            target: target.clone(),
            portal,
        };
        let plan = Plan {
            steps: vec![Step {
                targets: vec![target],
                action: action.clone(),
                reason: "test".into(),
                on_failure: OnFailure::Stop,
                group: GroupId(1),
                needs: Vec::new(),
            }],
            ..Plan::default()
        };
        let store = FullStore::default();
        let lines = Lines::default();
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .without_time()
            .with_target(false)
            .finish();
        let report = tracing::subscriber::with_default(subscriber, || {
            execute_plan(
                &plan,
                &Recording::new(),
                &StoreJournal::new(&store),
                &TargetLocks::default(),
            )
        });
        let why = format!(
            "its intent could not be journaled ({}); lunguard does not act without a journal",
            no_space()
        );
        let StepResult::Failed { error, stopped } = &report.steps[0].result else {
            panic!("{report}")
        };
        assert!(*stopped);
        assert_eq!(error, &why);
        let log = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains(": not run: "))
            .unwrap_or_else(|| panic!("no not-run line in:\n{log}"));
        assert!(
            line.ends_with(&format!("{action}: not run: {why}")),
            "{line}"
        );
    }

    /// Issue 12: an entry is lunguard's only when its registration changed the file, and stops
    /// being so once removed or found gone; recorded with the step's outcome.
    #[test]
    fn wwids_file_entries_are_owned_only_when_added_and_disowned_when_removed() {
        let step = |action: Action| Step {
            targets: vec![],
            action,
            reason: "test".into(),
            on_failure: OnFailure::Continue,
            group: GroupId(1),
            needs: Vec::new(),
        };
        let wwid: crate::model::Wwid = "naa.6001405aa".parse().unwrap();
        let store = MemoryStore::new();
        let journal = StoreJournal::new(&store);
        let record = |i: usize, s: &Step, r: StepResult| {
            use crate::act::{Journal, JournalEvent};
            journal
                .record(&JournalEvent::Intent { index: i, step: s })
                .unwrap();
            journal
                .record(&JournalEvent::Outcome {
                    index: i,
                    step: s,
                    result: &r,
                })
                .unwrap();
        };
        let register = step(Action::RegisterWwid { wwid: wwid.clone() });
        record(0, &register, StepResult::AlreadyConverged);
        assert!(
            store.owned_wwids().unwrap().is_empty(),
            "already there: not ours"
        );
        record(1, &register, StepResult::WouldChange);
        assert!(
            store.owned_wwids().unwrap().is_empty(),
            "a dry run added nothing"
        );
        record(2, &register, StepResult::Changed);
        assert_eq!(store.owned_wwids().unwrap(), ["36001405aa"]);
        let forget = step(Action::ForgetWwid {
            id: "36001405aa".into(),
        });
        record(
            3,
            &forget,
            StepResult::Failed {
                error: "multipath -w failed".into(),
                stopped: false,
            },
        );
        assert_eq!(store.owned_wwids().unwrap(), ["36001405aa"], "still there");
        record(4, &forget, StepResult::AlreadyConverged);
        assert!(
            store.owned_wwids().unwrap().is_empty(),
            "found gone: forgotten"
        );
    }
}
