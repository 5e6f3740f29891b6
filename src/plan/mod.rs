//! The plan vocabulary: what the planner (`reconcile`) produces and the executor (`act`), the
//! alerts and the commands consume — `Plan`, its `Step`s and `Action`s, `OnFailure`, and the
//! `Finding`s concluded along the way. Plain data with no behaviour beyond display, in a module
//! of its own so that neither side imports the other.

mod action;
mod finding;
mod flush_policy;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::DeviceKey;

pub use action::{Action, GroupId, MapRef, OnFailure, PathRef, Step};
pub use finding::{Finding, FindingKind, Subject, attachment_state};
pub use flush_policy::FlushPolicy;

/// What to do, and what was concluded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Steps in execution order.
    pub steps: Vec<Step>,
    /// Conclusions per attachment, device, map and session.
    pub findings: Vec<Finding>,
    /// In-scope devices, maps and sessions not in `Context::first_seen`: the
    /// caller records them as first seen at `Context::now`.
    pub newly_seen: Vec<DeviceKey>,
    /// Keys in `Context::first_seen` no longer observed in scope: the caller
    /// forgets them, so a device that comes back starts a new grace period.
    pub forgotten: Vec<DeviceKey>,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Findings about `subject`.
    pub fn findings_for<'a>(&'a self, subject: &'a Subject) -> impl Iterator<Item = &'a Finding> {
        self.findings.iter().filter(move |f| &f.subject == subject)
    }
}

impl fmt::Display for Plan {
    /// One line per step, as `lunguard plan` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            writeln!(f, "{s}")?;
        }
        Ok(())
    }
}
