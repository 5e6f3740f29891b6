//! Building alerts: from a planner `Finding`, from an executor
//! `JournalEvent`, and for daemon lifecycle and state-file events. Pure.

use crate::act::{JournalEvent, StepResult};
use crate::config::LoadErrors;
use crate::plan::{Action, Finding, FindingKind, Step, Subject};

use super::{Alert, AlertKind, Priority, field};

impl AlertKind {
    /// The kind a finding is reported as.
    pub fn of_finding(kind: &FindingKind) -> Self {
        match kind {
            FindingKind::Converged => Self::Converged,
            FindingKind::Missing { .. } => Self::Missing,
            FindingKind::Unwanted { .. } | FindingKind::WaitingForGrace { .. } => {
                Self::UnwantedDevice
            }
            FindingKind::InUse { .. } => Self::RemovalRefusedInUse,
            FindingKind::WrongWwid { .. } => Self::WwidMismatch,
            FindingKind::Degraded { .. } => Self::Degraded,
            FindingKind::Refused { .. } => Self::RemovalRefused,
            FindingKind::BlastRadius { .. } => Self::BlastRadiusTripped,
        }
    }

    /// The kind a finished step is reported as.
    pub fn of_outcome(action: &Action, result: &StepResult) -> Self {
        let attach = matches!(
            action,
            Action::Login { .. } | Action::ScanLun { .. } | Action::MultipathAdd { .. }
        );
        let flush = matches!(
            action,
            Action::FlushBuffers { .. } | Action::FlushMap { .. } | Action::DisableQueueing { .. }
        );
        match result {
            // fail_if_no_path makes every queued write fail: accepted only under force.
            StepResult::Changed if matches!(action, Action::DisableQueueing { .. }) => {
                Self::DataLossForced
            }
            StepResult::Changed if attach => Self::AttachDone,
            StepResult::Changed => match action {
                Action::DeletePaths { .. }
                | Action::FlushMap { .. }
                | Action::RemoveFromMap { .. } => Self::DeviceRemoved,
                Action::Logout { .. } | Action::DeleteNode { .. } => Self::SessionLoggedOut,
                _ => Self::ActionDone,
            },
            StepResult::AlreadyConverged => Self::ActionDone,
            StepResult::WouldChange => Self::WouldAct,
            StepResult::Failed { .. } if attach => Self::AttachFailed,
            // A flush that failed but did not stop its group: force goes on, data may be lost.
            StepResult::Failed { stopped: false, .. }
                if matches!(
                    action,
                    Action::FlushBuffers { .. } | Action::FlushMap { .. }
                ) =>
            {
                Self::DataLossForced
            }
            StepResult::Failed { .. } if flush => Self::FlushFailed,
            StepResult::Failed { .. } => Self::ActionFailed,
            StepResult::Skipped { .. } => Self::ActionSkipped,
        }
    }
}

impl Alert {
    /// The alert for a finding: message = the finding's `Display`, fields
    /// from its subject and details, rate-limit key = the subject.
    pub fn from_finding(finding: &Finding) -> Self {
        let mut a = Alert::new(AlertKind::of_finding(&finding.kind), finding.to_string())
            .keyed(finding.subject.to_string());
        a = subject_fields(a, &finding.subject);
        if let Some(name) = &finding.attachment
            && a.field(field::ATTACHMENT) != Some(name.as_str())
        {
            a = a.with(field::ATTACHMENT, name);
        }
        match &finding.kind {
            FindingKind::Converged => a,
            FindingKind::Missing { what } => a.with(field::REASON, what),
            FindingKind::Unwanted { why, action } => {
                a.with(field::REASON, why).with(field::PLANNED, action)
            }
            FindingKind::InUse { why }
            | FindingKind::Degraded { why }
            | FindingKind::Refused { why } => a.with(field::REASON, why),
            FindingKind::WrongWwid { expected, found } => a
                .with(field::WWID, found)
                .with(field::EXPECTED_WWID, expected),
            FindingKind::BlastRadius { count, limit } => {
                a.with(field::COUNT, count).with(field::LIMIT, limit)
            }
            FindingKind::WaitingForGrace {
                remaining_secs,
                removes_at,
            } => a
                .with(
                    field::PLANNED,
                    format!("remove at {removes_at}, when the grace period ends"),
                )
                .with(field::GRACE_REMAINING_SEC, remaining_secs),
        }
    }

    /// The alert for an executor journal event. An intent is `ActionStarted`
    /// (info for destructive steps, debug otherwise); an outcome is mapped
    /// by [`AlertKind::of_outcome`], and "already converged" is debug.
    pub fn from_journal_event(event: &JournalEvent<'_>) -> Self {
        match event {
            JournalEvent::Intent { index, step } => {
                let priority = if step.action.is_destructive() {
                    Priority::Info
                } else {
                    Priority::Debug
                };
                step_alert(AlertKind::ActionStarted, *index, step, format!("{}", step))
                    .with_priority(priority)
                    .with(field::OUTCOME, "started")
            }
            JournalEvent::Outcome {
                index,
                step,
                result,
            } => {
                let kind = AlertKind::of_outcome(&step.action, result);
                let message = format!("{}: {result}", step.action);
                let mut a = step_alert(kind, *index, step, message)
                    .with(field::OUTCOME, outcome_name(result));
                match result {
                    StepResult::AlreadyConverged => a = a.with_priority(Priority::Debug),
                    StepResult::Failed { error, .. } => a = a.with(field::ERROR, error),
                    StepResult::Skipped { why } => a = a.with(field::ERROR, why),
                    _ => {}
                }
                a
            }
        }
    }

    /// Retries for `key` are exhausted; it is marked degraded.
    pub fn key_degraded(key: &str, attempts: u32, last_error: &str) -> Self {
        Alert::new(
            AlertKind::KeyDegraded,
            format!(
                "{key}: giving up after {attempts} attempts, marked degraded until the next change: {last_error}"
            ),
        )
        .keyed(key)
        .with(field::KEY, key)
        .with(field::ATTEMPTS, attempts)
        .with(field::ERROR, last_error)
    }

    /// Journal entry `id` (`action`) had no outcome: it was in flight when lunguard stopped.
    pub fn action_interrupted(id: &str, action: &str) -> Self {
        Alert::new(
            AlertKind::ActionInterrupted,
            format!("{action}: interrupted by the last stop (journal {id}); re-planning from the kernel's state"),
        )
        .keyed(action)
        .with(field::ACTION, action)
    }

    /// A pass could not run; the loop retries with backoff.
    pub fn pass_failed(consecutive: u32, error: &str) -> Self {
        Alert::new(
            AlertKind::PassFailed,
            format!(
                "a reconcile pass failed ({consecutive} in a row), retrying with backoff: {error}"
            ),
        )
        .keyed("pass")
        .with(field::ATTEMPTS, consecutive)
        .with(field::ERROR, error)
    }

    /// The daemon started, in `mode` (`observe` or `enforce`).
    pub fn daemon_started(version: &str, mode: &str) -> Self {
        Alert::new(
            AlertKind::DaemonStarted,
            format!("lunguard {version} starting in {mode} mode"),
        )
        .with(field::VERSION, version)
        .with(field::MODE, mode)
    }

    /// The first full observation is done; `detail` summarises it.
    pub fn daemon_ready(detail: &str) -> Self {
        Alert::new(AlertKind::DaemonReady, format!("ready: {detail}"))
    }

    /// The daemon is stopping, and why.
    pub fn daemon_stopping(reason: &str) -> Self {
        Alert::new(AlertKind::DaemonStopping, format!("stopping: {reason}"))
            .with(field::REASON, reason)
    }

    /// New state loaded.
    pub fn state_reloaded(attachments: usize) -> Self {
        Alert::new(
            AlertKind::StateReloaded,
            format!("state reloaded: {attachments} attachments"),
        )
        .with(field::ATTACHMENTS, attachments)
    }

    /// State files rejected; the last good state stays. Every diagnostic is
    /// in `DIAGNOSTICS` (one per line) and each file in `STATE_FILE`.
    pub fn state_rejected(errors: &LoadErrors) -> Self {
        let n = errors.0.len();
        let first = errors.iter().next().map(ToString::to_string);
        let message = match first {
            Some(first) if n > 1 => format!(
                "state files rejected, keeping the last good state: {first} (and {} more)",
                n - 1
            ),
            Some(first) => format!("state files rejected, keeping the last good state: {first}"),
            None => "state files rejected, keeping the last good state".to_owned(),
        };
        let mut a = Alert::new(AlertKind::StateRejected, message);
        let mut files: Vec<String> = errors
            .iter()
            .map(|d| d.file.display().to_string())
            .collect();
        files.dedup();
        for f in files {
            a = a.with(field::STATE_FILE, f);
        }
        a.with(field::DIAGNOSTICS, errors)
    }

    /// Uevents were lost (`ENOBUFS` on the netlink socket); a full resync
    /// runs.
    pub fn resync_after_overflow(source: &str) -> Self {
        Alert::new(
            AlertKind::ResyncAfterOverflow,
            format!("{source} uevent socket overflowed (events lost): full resync"),
        )
        .keyed(source)
        .with(field::REASON, "ENOBUFS")
    }
}

fn outcome_name(result: &StepResult) -> &'static str {
    match result {
        StepResult::Changed => "changed",
        StepResult::AlreadyConverged => "already_converged",
        StepResult::WouldChange => "would_change",
        StepResult::Failed { .. } => "failed",
        StepResult::Skipped { .. } => "skipped",
    }
}

fn subject_fields(a: Alert, subject: &Subject) -> Alert {
    match subject {
        Subject::Attachment { name } => a.with(field::ATTACHMENT, name),
        Subject::Path { hctl } => a.with(field::HCTL, hctl),
        Subject::Map { name } => a.with(field::DM_NAME, name),
        Subject::Session {
            target,
            portal,
            iface,
        } => {
            let a = a.with(field::TARGET, target).with(field::PORTAL, portal);
            match iface {
                Some(i) => a.with(field::ISCSI_IFACE, i),
                None => a,
            }
        }
        Subject::NodeRecord {
            target,
            portal,
            iface,
        } => a
            .with(field::TARGET, target)
            .with(field::PORTAL, portal)
            .with(field::ISCSI_IFACE, iface),
        Subject::Plan => a,
    }
}

fn step_alert(kind: AlertKind, index: usize, step: &Step, message: String) -> Alert {
    let mut a = action_fields(Alert::new(kind, message), &step.action)
        .with(field::ACTION, step.action.kind())
        .with(field::STEP, index)
        .with(field::REASON, &step.reason);
    let key: Vec<&str> = a
        .fields
        .iter()
        .filter(|(n, _)| {
            [
                field::HCTL,
                field::DM_NAME,
                field::TARGET,
                field::PORTAL,
                field::ISCSI_IFACE,
            ]
            .contains(n)
        })
        .map(|(_, v)| v.as_str())
        .collect();
    a.key = if key.is_empty() {
        a.field(field::DEVICE).unwrap_or_default().to_owned()
    } else {
        key.join(",")
    };
    a
}

fn action_fields(a: Alert, action: &Action) -> Alert {
    match action {
        Action::Login { target, portal } => {
            a.with(field::TARGET, target).with(field::PORTAL, portal)
        }
        Action::Logout {
            target,
            portal,
            iface,
            ..
        }
        | Action::DeleteNode {
            target,
            portal,
            iface,
        } => a
            .with(field::TARGET, target)
            .with(field::PORTAL, portal)
            .with(field::ISCSI_IFACE, iface),
        Action::ScanLun { target, hctl } => a.with(field::HCTL, hctl).with(field::TARGET, target),
        Action::MultipathAdd { wwid, path } => a.with(field::WWID, wwid).with(field::DEVICE, path),
        Action::RegisterWwid { wwid } => a.with(field::WWID, wwid),
        Action::ForgetWwid { id } => a.with(field::WWID, id),
        Action::RescanDevice { hctl, wwid } => {
            let a = a.with(field::HCTL, hctl);
            match wwid {
                Some(w) => a.with(field::WWID, w),
                None => a,
            }
        }
        Action::DisableQueueing { map } | Action::FlushMap { map, .. } => {
            let mut a = a
                .with(field::DM_NAME, &map.name)
                .with(field::DEVICE, &map.kernel_name);
            if let Some(dev) = map.dev {
                a = a.with(field::DEVT, dev);
            }
            a
        }
        Action::FlushBuffers { name, dev } => a.with(field::DEVICE, name).with(field::DEVT, dev),
        Action::RemoveFromMap { map, path } => {
            let mut a = a
                .with(field::DM_NAME, &map.name)
                .with(field::HCTL, path.hctl)
                .with(field::WWID, &path.wwid);
            if let Some(b) = &path.block {
                a = a.with(field::DEVICE, b);
            }
            a
        }
        Action::DeletePaths { map, paths } => {
            let mut a = a;
            if let Some(m) = map {
                a = a.with(field::DM_NAME, m);
            }
            let mut wwids: Vec<&str> = Vec::new();
            for p in paths {
                a = a.with(field::HCTL, p.hctl);
                if let Some(b) = &p.block {
                    a = a.with(field::DEVICE, b);
                }
                if !wwids.contains(&p.wwid.as_str()) {
                    wwids.push(p.wwid.as_str());
                }
            }
            for w in wwids {
                a = a.with(field::WWID, w);
            }
            a
        }
        Action::WaitGone { paths, map, .. } => {
            let mut a = a;
            for p in paths {
                a = a.with(field::HCTL, p);
            }
            if let Some(m) = map {
                a = a.with(field::DEVICE, m);
            }
            a
        }
    }
}
