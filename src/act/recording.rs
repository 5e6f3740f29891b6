//! `Recording`: an actuator for tests. Records every call in order and can
//! be told to fail matching actions with a given error a number of times
//! (e.g. "map in use" twice, then succeed).

use std::sync::Mutex;

use crate::plan::{Action, PathRef};

use super::error::ActError;
use super::{Actuator, Outcome, Recorded};

type Matcher = Box<dyn Fn(&Recorded) -> bool + Send + Sync>;

struct Failure {
    matches: Matcher,
    times: usize,
    message: String,
}

/// Records calls; fails the ones it was told to.
#[derive(Default)]
pub struct Recording {
    calls: Mutex<Vec<Recorded>>,
    failures: Mutex<Vec<Failure>>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl Recording {
    /// Succeeds at everything (`Changed`) until told otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails the next `times` actions of `kind` (`Action::kind()`, or
    /// `"delete_path"`) with `ActError::Injected(message)`.
    pub fn fail(&self, kind: &'static str, times: usize, message: &str) {
        self.fail_when(
            move |r| match r {
                Recorded::Action(a) => a.kind() == kind,
                Recorded::DeletePath(_) => kind == "delete_path",
            },
            times,
            message,
        );
    }

    /// Fails the next `times` calls matching `matches`.
    pub fn fail_when(
        &self,
        matches: impl Fn(&Recorded) -> bool + Send + Sync + 'static,
        times: usize,
        message: &str,
    ) {
        if let Ok(mut f) = self.failures.lock() {
            f.push(Failure {
                matches: Box::new(matches),
                times,
                message: message.to_owned(),
            });
        }
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The actions executed so far (without the per-path deletes).
    pub fn actions(&self) -> Vec<Action> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Recorded::Action(a) => Some(a),
                Recorded::DeletePath(_) => None,
            })
            .collect()
    }

    fn record(&self, call: Recorded) -> Result<Outcome, ActError> {
        let failure = self.failures.lock().ok().and_then(|mut fs| {
            let f = fs.iter_mut().find(|f| f.times > 0 && (f.matches)(&call))?;
            f.times -= 1;
            Some(f.message.clone())
        });
        if let Ok(mut c) = self.calls.lock() {
            c.push(call);
        }
        match failure {
            Some(m) => Err(ActError::Injected(m)),
            None => Ok(Outcome::Changed),
        }
    }
}

impl Actuator for Recording {
    fn execute(&self, action: &Action) -> Result<Outcome, ActError> {
        self.record(Recorded::Action(action.clone()))
    }

    fn delete_path(&self, path: &PathRef) -> Result<Outcome, ActError> {
        self.record(Recorded::DeletePath(path.clone()))
    }
}
