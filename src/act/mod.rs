//! Carrying out a plan: the `Actuator` trait and its implementations (real,
//! dry-run, recording), the command runner, and the executor.
//!
//! This is the only module that changes the system. Every sysfs and `/dev`
//! path goes through the injectable roots (`observe::Roots`); every program
//! runs through `cmd`; every destructive action re-verifies the identity the
//! plan recorded right before it acts (compare-and-delete).

mod dry_run;
mod error;
pub mod executor;
mod flush;
mod iscsi;
mod multipath;
mod real;
#[cfg(any(test, feature = "test-support"))]
mod recording;
mod session;
mod sysfs;

pub use dry_run::DryRun;
pub use error::{ActError, STALE_PLAN, TIMED_OUT, WRITEBACK_LOST};
pub use executor::{
    Counts, Journal, JournalEvent, NoJournal, Report, StepReport, StepResult, TargetLocks,
    execute_plan,
};
pub use real::{Real, Tools};
#[cfg(any(test, feature = "test-support"))]
pub use recording::Recording;
pub use sysfs::Sysfs;
pub(crate) use sysfs::poll_gone;

use crate::plan::{Action, PathRef};

/// What an action did. Every action is idempotent: finding the goal already
/// reached (a device already gone, a session already there) is success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing needed doing.
    AlreadyConverged,
    /// The system was changed.
    Changed,
}

/// Carries out single actions. `Sync` because the executor deletes a LUN's
/// paths in parallel.
pub trait Actuator: Sync {
    /// Carries out one action. `DeletePaths` deletes its paths one after
    /// another here; the executor calls `delete_path` in parallel instead.
    fn execute(&self, action: &Action) -> Result<Outcome, ActError>;

    /// Deletes one path (compare-and-delete).
    fn delete_path(&self, path: &PathRef) -> Result<Outcome, ActError>;

    /// Whether this actuator only pretends (reports say "would change").
    fn is_dry_run(&self) -> bool {
        false
    }

    /// Marks `devs` as about to be removed for as long as the returned guard lives (the
    /// executor holds it over a whole removal group), so the udev rule in rules/ can tell other
    /// consumers (multipathd, LVM, udisks) to leave them alone. Best effort: the default marks
    /// nothing, and a marker that cannot be created never stops a removal.
    fn mark_removing(&self, devs: &[crate::model::DevT]) -> Vec<crate::marker::Marker> {
        let _ = devs;
        Vec::new()
    }
}

/// Runs a `DeletePaths` through `delete_path`, one by one: the fallback for
/// actuators executing it outside the executor.
pub(crate) fn delete_sequentially<A: Actuator + ?Sized>(
    a: &A,
    paths: &[PathRef],
) -> Result<Outcome, ActError> {
    let mut out = Outcome::AlreadyConverged;
    for p in paths {
        if a.delete_path(p)? == Outcome::Changed {
            out = Outcome::Changed;
        }
    }
    Ok(out)
}

/// One call an actuator that records (the test double `Recording`, the simulator) received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// `execute(action)`.
    Action(Action),
    /// `delete_path(path)`.
    DeletePath(PathRef),
}

#[cfg(test)]
mod tests;
