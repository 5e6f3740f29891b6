//! `execute_plan`: runs a plan's steps in order through an `Actuator`,
//! journaling intent before and outcome after each step.
//!
//! Rules:
//! - A failed step whose `on_failure` is `Stop` marks its group failed: the
//!   group's remaining steps are skipped, and so is every step that `needs`
//!   it (a logout after a removal that stopped). `Continue` records the
//!   failure and goes on (the planner uses it only under `force`).
//! - `FlushMap` is retried here while the error is "map in use", with
//!   exponential backoff, at most `retry.retries` more times and within
//!   `retry.timeout`; then it fails with `ActError::MapInUse`. Any other
//!   flush error fails at once.
//! - `DeletePaths` deletes its paths in parallel (`std::thread::scope`).
//! - While a group runs, the locks of its targets are held (taken in sorted
//!   order, so concurrent executors cannot deadlock): our own scan never
//!   races our own detach of the same target.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde::Serialize;

use crate::model::Iqn;
use crate::plan::{Action, FlushPolicy, GroupId, MapRef, OnFailure, Plan, Step};

use super::error::ActError;
use super::{Actuator, Outcome};

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum StepResult {
    /// Done; the system changed.
    Changed,
    /// Nothing needed doing.
    AlreadyConverged,
    /// Dry run: would have changed the system.
    WouldChange,
    /// Failed; `stopped` says whether the group was abandoned.
    Failed {
        /// The error, with context.
        error: String,
        /// Whether this stopped its group (`OnFailure::Stop`).
        stopped: bool,
    },
    /// Not attempted.
    Skipped {
        /// Why.
        why: String,
    },
}

impl fmt::Display for StepResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Changed => f.write_str("changed"),
            Self::AlreadyConverged => f.write_str("already converged"),
            Self::WouldChange => f.write_str("would change"),
            Self::Failed {
                error,
                stopped: true,
            } => write!(f, "FAILED, stopped its group: {error}"),
            Self::Failed { error, .. } => write!(f, "FAILED, continued (force): {error}"),
            Self::Skipped { why } => write!(f, "skipped: {why}"),
        }
    }
}

/// A step and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// Position in the plan.
    pub index: usize,
    /// The step's plan line.
    pub line: String,
    /// What happened.
    pub result: StepResult,
}

/// What `execute_plan` did: one entry per step, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Per step.
    pub steps: Vec<StepReport>,
}

impl Report {
    /// How many steps ended with each result. A dry run's steps are counted as `would_change`,
    /// never as `changed`: nothing was changed, and the summary must not say so.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for s in &self.steps {
            match s.result {
                StepResult::Changed => c.changed += 1,
                StepResult::WouldChange => c.would_change += 1,
                StepResult::AlreadyConverged => c.converged += 1,
                StepResult::Failed { .. } => c.failed += 1,
                StepResult::Skipped { .. } => c.skipped += 1,
            }
        }
        c
    }

    /// Whether every step succeeded.
    /// Whether every failure was a compare-and-delete refusal: the kernel moved on since the plan
    /// (for example multipathd built a map over a path), nothing was written, and the right
    /// answer is to plan again at once rather than to back off.
    pub fn only_stale_failures(&self) -> bool {
        let mut any = false;
        for s in &self.steps {
            if let StepResult::Failed { error, .. } = &s.result {
                if !error.contains(super::error::STALE_PLAN) {
                    return false;
                }
                any = true;
            }
        }
        any
    }

    /// Whether nothing failed and nothing was skipped.
    pub fn ok(&self) -> bool {
        let c = self.counts();
        c.failed == 0 && c.skipped == 0
    }

    /// The one-line summary; "N would change" appears when a dry run would have changed
    /// something.
    pub fn summary(&self) -> String {
        let c = self.counts();
        let would = if c.would_change > 0 {
            format!("{} would change, ", c.would_change)
        } else {
            String::new()
        };
        format!(
            "{} changed, {would}{} already converged, {} failed, {} skipped",
            c.changed, c.converged, c.failed, c.skipped
        )
    }
}

/// Steps per result, from [`Report::counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Done; the system changed.
    pub changed: usize,
    /// Dry run: would have changed the system.
    pub would_change: usize,
    /// Nothing needed doing.
    pub converged: usize,
    /// Failed.
    pub failed: usize,
    /// Not attempted.
    pub skipped: usize,
}

impl fmt::Display for Report {
    /// One line per step (`apply --once`), then the summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            writeln!(f, "[{}] {}", s.result, s.line)?;
        }
        writeln!(f, "summary: {}", self.summary())
    }
}

/// A journal event: intent before a step, outcome after.
#[derive(Debug, Clone, Copy)]
pub enum JournalEvent<'a> {
    /// About to run `step`.
    Intent {
        /// Position in the plan.
        index: usize,
        /// The step.
        step: &'a Step,
    },
    /// `step` finished (or was skipped).
    Outcome {
        /// Position in the plan.
        index: usize,
        /// The step.
        step: &'a Step,
        /// What happened.
        result: &'a StepResult,
    },
}

/// Where intents and outcomes are recorded (the sled journal in the daemon).
pub trait Journal: Sync {
    /// Records one event. `Err` (why, for the step's error) on an intent means it is not on
    /// disk: the executor then does not run the step (fail closed: an action the journal does
    /// not know of could not be reported as interrupted after a crash). `Err` on an outcome is
    /// only logged: the action has happened.
    fn record(&self, event: &JournalEvent<'_>) -> Result<(), String>;
}

/// Observers (tests, the daemon's alert tee) are closures that cannot fail.
impl<F: Fn(&JournalEvent<'_>) + Sync> Journal for F {
    fn record(&self, event: &JournalEvent<'_>) -> Result<(), String> {
        self(event);
        Ok(())
    }
}

/// A journal that records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoJournal;

impl Journal for NoJournal {
    fn record(&self, _: &JournalEvent<'_>) -> Result<(), String> {
        Ok(())
    }
}

/// One lock per iSCSI target, shared by every executor in the process.
#[derive(Debug, Default)]
pub struct TargetLocks {
    locks: Mutex<HashMap<Iqn, Arc<Mutex<()>>>>,
}

impl TargetLocks {
    /// The locks of `targets`, sorted and deduplicated.
    fn of(&self, targets: &BTreeSet<&Iqn>) -> Vec<Arc<Mutex<()>>> {
        let mut map = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        targets
            .iter()
            .map(|t| Arc::clone(map.entry((*t).clone()).or_default()))
            .collect()
    }
}

/// The device numbers a group removes: its maps and paths.
fn removal_devs(chunk: &[(usize, &Step)]) -> Vec<crate::model::DevT> {
    let mut devs = Vec::new();
    for (_, s) in chunk {
        match &s.action {
            Action::FlushMap { map, .. } => devs.extend(map.dev),
            Action::DeletePaths { paths, .. } => devs.extend(paths.iter().filter_map(|p| p.dev)),
            _ => {}
        }
    }
    devs.sort_unstable();
    devs.dedup();
    devs
}

/// Runs `plan` through `actuator`. See the module docs for the rules.
pub fn execute_plan<A: Actuator + ?Sized>(
    plan: &Plan,
    actuator: &A,
    journal: &dyn Journal,
    locks: &TargetLocks,
) -> Report {
    let mut report = Report::default();
    let mut failed: BTreeSet<GroupId> = BTreeSet::new();
    let steps: Vec<(usize, &Step)> = plan.steps.iter().enumerate().collect();
    for chunk in steps.chunk_by(|a, b| a.1.group == b.1.group) {
        let targets: BTreeSet<&Iqn> = chunk.iter().flat_map(|(_, s)| &s.targets).collect();
        let arcs = locks.of(&targets);
        let _guards: Vec<_> = arcs
            .iter()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
            .collect();
        let _markers = actuator.mark_removing(&removal_devs(chunk));
        for &(index, step) in chunk {
            let result = run_step(step, actuator, journal, index, &mut failed);
            // An outcome that cannot be written is logged by the journal; the action is done.
            let _ = journal.record(&JournalEvent::Outcome {
                index,
                step,
                result: &result,
            });
            report.steps.push(StepReport {
                index,
                line: step.to_string(),
                result,
            });
        }
    }
    report
}

fn run_step<A: Actuator + ?Sized>(
    step: &Step,
    actuator: &A,
    journal: &dyn Journal,
    index: usize,
    failed: &mut BTreeSet<GroupId>,
) -> StepResult {
    if failed.contains(&step.group) {
        return StepResult::Skipped {
            why: "an earlier step of this group failed".into(),
        };
    }
    if let Some(g) = step.needs.iter().find(|g| failed.contains(g)) {
        failed.insert(step.group);
        return StepResult::Skipped {
            why: format!("needs group {} which failed", g.0),
        };
    }
    let targets: Vec<String> = step.targets.iter().map(ToString::to_string).collect();
    let span = tracing::info_span!(
        "act",
        step = index,
        action = step.action.kind(),
        device = %device_of(&step.action),
        target = %targets.join(","),
    );
    let _enter = span.enter();
    if let Err(why) = journal.record(&JournalEvent::Intent { index, step }) {
        tracing::error!("{}: not run: {why}", step.action);
        failed.insert(step.group);
        return StepResult::Failed {
            error: why,
            stopped: true,
        };
    }
    match run_action(&step.action, actuator) {
        Ok(Outcome::Changed) if actuator.is_dry_run() => StepResult::WouldChange,
        Ok(Outcome::Changed) => {
            tracing::info!(reason = %step.reason, "{}", step.action);
            StepResult::Changed
        }
        Ok(Outcome::AlreadyConverged) => {
            tracing::debug!("{}: already converged", step.action);
            StepResult::AlreadyConverged
        }
        Err(error) => {
            let stopped = step.on_failure == OnFailure::Stop;
            tracing::warn!(stopped, "{error}");
            if stopped {
                failed.insert(step.group);
            }
            StepResult::Failed { error, stopped }
        }
    }
}

/// The device(s) an action is about, for the tracing span.
fn device_of(action: &Action) -> String {
    match action {
        Action::Login { portal, .. }
        | Action::Logout { portal, .. }
        | Action::DeleteNode { portal, .. } => portal.to_string(),
        Action::ScanLun { hctl, .. } => hctl.to_string(),
        Action::MultipathAdd { path, .. } => path.clone(),
        Action::RegisterWwid { wwid } => wwid.to_string(),
        Action::ForgetWwid { id } => id.clone(),
        Action::RescanDevice { hctl, .. } => hctl.to_string(),
        Action::DisableQueueing { map } | Action::FlushMap { map, .. } => map.name.to_string(),
        Action::FlushBuffers { name, .. } => name.clone(),
        Action::RemoveFromMap { path, .. } => path.to_string(),
        Action::DeletePaths { paths, .. } => paths
            .iter()
            .map(|p| p.hctl.to_string())
            .collect::<Vec<_>>()
            .join(","),
        Action::WaitGone { paths, map, .. } => paths
            .iter()
            .map(ToString::to_string)
            .chain(map.iter().cloned())
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn run_action<A: Actuator + ?Sized>(action: &Action, actuator: &A) -> Result<Outcome, String> {
    match action {
        Action::FlushMap { map, retry } => {
            flush_with_retry(actuator, action, map, *retry).map_err(|e| e.to_string())
        }
        Action::DeletePaths { paths, .. } => {
            let results: Vec<Result<Outcome, ActError>> = std::thread::scope(|s| {
                let handles: Vec<_> = paths
                    .iter()
                    .map(|p| s.spawn(move || actuator.delete_path(p)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(ActError::Injected("path delete thread panicked".into()))
                        })
                    })
                    .collect()
            });
            let errors: Vec<String> = results
                .iter()
                .filter_map(|r| r.as_ref().err().map(ToString::to_string))
                .collect();
            if !errors.is_empty() {
                return Err(errors.join("; "));
            }
            let changed = results.iter().any(|r| matches!(r, Ok(Outcome::Changed)));
            Ok(if changed {
                Outcome::Changed
            } else {
                Outcome::AlreadyConverged
            })
        }
        _ => actuator.execute(action).map_err(|e| e.to_string()),
    }
}

fn flush_with_retry<A: Actuator + ?Sized>(
    actuator: &A,
    action: &Action,
    map: &MapRef,
    retry: FlushPolicy,
) -> Result<Outcome, ActError> {
    let start = Instant::now();
    let mut backoff = retry.backoff;
    let mut attempts = 0;
    loop {
        attempts += 1;
        match actuator.execute(action) {
            Err(e) if e.is_in_use() => {
                let out_of_time = start.elapsed() + backoff >= retry.timeout;
                if attempts > retry.retries || out_of_time {
                    return Err(ActError::MapInUse {
                        map: map.name.clone(),
                        attempts,
                        waited: start.elapsed(),
                    });
                }
                tracing::debug!(attempts, ?backoff, "map in use; retrying");
                std::thread::sleep(backoff);
                backoff = retry.next_backoff(backoff);
            }
            other => return other,
        }
    }
}
