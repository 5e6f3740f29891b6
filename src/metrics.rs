//! Prometheus metrics for node_exporter's textfile collector: what the guard found and did,
//! written after every pass (`daemon.metrics_textfile`), so a fleet's state shows in the
//! monitoring it already has (docs/metrics.md, with alert rules).
//!
//! Gauges describe the latest pass (attachments, unwanted devices and findings by state,
//! degraded keys, whether the state files are rejected); counters and the pass-duration
//! histogram count since the daemon started, as Prometheus counters do (a restart resets them,
//! which `rate()` handles). The file is replaced whole (a temporary file renamed over it), on a
//! worker thread with a deadline: a hung filesystem never holds up the guard.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::act::{Report, StepResult};
use crate::bounded::deadline::{self, Expired};
use crate::config::Mode;
use crate::plan::{Action, FindingKind, Plan, Subject, attachment_state};

/// Upper bounds of the pass-duration buckets, in seconds: a lab pass takes milliseconds, a
/// pass over thousands of paths a second or two, one with a flush up to its timeout.
pub const PASS_BUCKETS: [f64; 11] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0];

/// Every attachment state, so each series exists (at 0) from the first pass.
const ATTACHMENT_STATES: [&str; 6] = [
    "converged",
    "missing",
    "wrong_wwid",
    "degraded",
    "in_use",
    "unwanted",
];

/// Every state of an unwanted device, map or session.
const UNWANTED_STATES: [&str; 5] = [
    "waiting_for_grace",
    "in_use",
    "refused",
    "to_remove",
    "alert_only",
];

/// Every finding kind.
const FINDING_KINDS: [&str; 9] = [
    "converged",
    "missing",
    "unwanted",
    "in_use",
    "wrong_wwid",
    "degraded",
    "refused",
    "blast_radius",
    "waiting_for_grace",
];

/// Every step result.
const OUTCOMES: [&str; 5] = [
    "changed",
    "would_change",
    "already_converged",
    "failed",
    "skipped",
];

/// The daemon's metrics: updated after every pass, rendered as the text format.
#[derive(Debug, Clone)]
pub struct Metrics {
    mode: Mode,
    attachments: BTreeMap<&'static str, u64>,
    unwanted: BTreeMap<&'static str, u64>,
    findings: BTreeMap<&'static str, u64>,
    degraded_keys: u64,
    state_rejected: bool,
    actions: BTreeMap<(&'static str, &'static str), u64>,
    unwanted_removed: u64,
    passes_ok: u64,
    passes_failed: u64,
    pass_buckets: [u64; PASS_BUCKETS.len()],
    pass_seconds_sum: f64,
    resyncs: u64,
    overflows: u64,
    state_rejections: u64,
    last_success: Option<SystemTime>,
}

impl Metrics {
    /// Empty metrics of a daemon in `mode`.
    pub fn new(mode: Mode) -> Self {
        let zero = |keys: &[&'static str]| keys.iter().map(|k| (*k, 0)).collect();
        Self {
            mode,
            attachments: zero(&ATTACHMENT_STATES),
            unwanted: zero(&UNWANTED_STATES),
            findings: zero(&FINDING_KINDS),
            degraded_keys: 0,
            state_rejected: false,
            actions: BTreeMap::new(),
            unwanted_removed: 0,
            passes_ok: 0,
            passes_failed: 0,
            pass_buckets: [0; PASS_BUCKETS.len()],
            pass_seconds_sum: 0.0,
            resyncs: 0,
            overflows: 0,
            state_rejections: 0,
            last_success: None,
        }
    }

    /// The mode in force (it follows a reload).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    /// The latest plan's conclusions, replacing the previous pass's gauges. `attachments` are the
    /// declared names; `None` when no good desired state exists (nothing is planned).
    pub fn observe_plan(&mut self, plan: Option<&Plan>, attachments: &[String]) {
        for v in self
            .attachments
            .values_mut()
            .chain(self.unwanted.values_mut())
            .chain(self.findings.values_mut())
        {
            *v = 0;
        }
        let Some(plan) = plan else { return };
        for f in &plan.findings {
            *self.findings.entry(f.kind.name()).or_default() += 1;
        }
        for name in attachments {
            let mine = plan.findings.iter().filter(|f| {
                f.attachment.as_deref() == Some(name.as_str())
                    || matches!(&f.subject, Subject::Attachment { name: n } if n == name)
            });
            let (state, _) = attachment_state(mine);
            *self.attachments.entry(state).or_default() += 1;
        }
        for f in &plan.findings {
            if f.attachment.is_some() || matches!(f.subject, Subject::Attachment { .. }) {
                continue;
            }
            let state = match &f.kind {
                FindingKind::WaitingForGrace { .. } => "waiting_for_grace",
                FindingKind::InUse { .. } => "in_use",
                FindingKind::Refused { .. } => "refused",
                FindingKind::Unwanted { action, .. } if action.starts_with("remove") => "to_remove",
                FindingKind::Unwanted { .. } => "alert_only",
                _ => continue,
            };
            *self.unwanted.entry(state).or_default() += 1;
        }
    }

    /// What the pass's steps did.
    pub fn record_report(&mut self, plan: &Plan, report: &Report) {
        for s in &report.steps {
            let Some(step) = plan.steps.get(s.index) else {
                continue;
            };
            let outcome = match s.result {
                StepResult::Changed => "changed",
                StepResult::WouldChange => "would_change",
                StepResult::AlreadyConverged => "already_converged",
                StepResult::Failed { .. } => "failed",
                StepResult::Skipped { .. } => "skipped",
            };
            *self
                .actions
                .entry((step.action.kind(), outcome))
                .or_default() += 1;
            if let (StepResult::Changed, Action::DeletePaths { paths, .. }) =
                (&s.result, &step.action)
            {
                self.unwanted_removed += paths.len() as u64;
            }
        }
    }

    /// A pass ended after `took`; `ok` when every step succeeded and the pass itself ran.
    pub fn pass_done(&mut self, took: Duration, ok: bool, full: bool, at: SystemTime) {
        let secs = took.as_secs_f64();
        for (bound, count) in PASS_BUCKETS.iter().zip(self.pass_buckets.iter_mut()) {
            if secs <= *bound {
                *count += 1;
            }
        }
        self.pass_seconds_sum += secs;
        if ok {
            self.passes_ok += 1;
            self.last_success = Some(at);
        } else {
            self.passes_failed += 1;
        }
        if full {
            self.resyncs += 1;
        }
    }

    /// Steps marked degraded (retries exhausted) now.
    pub fn set_degraded(&mut self, keys: usize) {
        self.degraded_keys = keys as u64;
    }

    /// Whether the state files are rejected now; `newly` counts a new rejection.
    pub fn set_state_rejected(&mut self, rejected: bool, newly: bool) {
        self.state_rejected = rejected;
        if newly {
            self.state_rejections += 1;
        }
    }

    /// A netlink overflow forced a resync.
    pub fn overflow(&mut self) {
        self.overflows += 1;
    }

    /// The text format (version 0.0.4), every family with HELP and TYPE.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let by = |label: &str, m: &BTreeMap<&'static str, u64>| -> Vec<(String, String)> {
            m.iter()
                .map(|(k, v)| (format!("{{{label}=\"{k}\"}}"), v.to_string()))
                .collect()
        };
        let one = |v: u64| vec![(String::new(), v.to_string())];
        family(
            "lunguard_info",
            "gauge",
            "Always 1; the version and the mode in force as labels.",
            &[(
                format!(
                    "{{version=\"{}\",mode=\"{}\"}}",
                    env!("CARGO_PKG_VERSION"),
                    match self.mode {
                        Mode::Observe => "observe",
                        Mode::Enforce => "enforce",
                    }
                ),
                "1".into(),
            )],
        );
        family(
            "lunguard_attachments",
            "gauge",
            "Declared attachments by state in the latest pass.",
            &by("state", &self.attachments),
        );
        family(
            "lunguard_unwanted",
            "gauge",
            "In-scope devices, maps and sessions nobody declared, by state, in the latest pass.",
            &by("state", &self.unwanted),
        );
        family(
            "lunguard_findings",
            "gauge",
            "The latest plan's findings by kind.",
            &by("kind", &self.findings),
        );
        family(
            "lunguard_degraded_keys",
            "gauge",
            "Destructive steps given up after their retries (alerted; they wait for a change).",
            &one(self.degraded_keys),
        );
        family(
            "lunguard_state_rejected",
            "gauge",
            "1 while the state files are rejected (the last good state stays in force).",
            &one(u64::from(self.state_rejected)),
        );
        family(
            "lunguard_state_rejections_total",
            "counter",
            "Loads of the state files that were rejected (each distinct set of errors once).",
            &one(self.state_rejections),
        );
        let mut actions: Vec<(String, String)> = Vec::new();
        for kind in Action::KINDS {
            for outcome in OUTCOMES {
                let n = self.actions.get(&(kind, outcome)).copied().unwrap_or(0);
                actions.push((
                    format!("{{kind=\"{kind}\",outcome=\"{outcome}\"}}"),
                    n.to_string(),
                ));
            }
        }
        family(
            "lunguard_actions_total",
            "counter",
            "Plan steps executed, by action kind and outcome.",
            &actions,
        );
        family(
            "lunguard_unwanted_removed_total",
            "counter",
            "SCSI paths deleted (unwanted, or detached).",
            &one(self.unwanted_removed),
        );
        family(
            "lunguard_passes_total",
            "counter",
            "Reconcile passes, by result (failed: a step failed or the pass could not run).",
            &[
                ("{result=\"ok\"}".into(), self.passes_ok.to_string()),
                ("{result=\"failed\"}".into(), self.passes_failed.to_string()),
            ],
        );
        let mut hist: Vec<(String, String)> = PASS_BUCKETS
            .iter()
            .zip(self.pass_buckets)
            .map(|(b, n)| (format!("_bucket{{le=\"{b}\"}}"), n.to_string()))
            .collect();
        let count = self.passes_ok + self.passes_failed;
        hist.push(("_bucket{le=\"+Inf\"}".into(), count.to_string()));
        hist.push(("_sum".into(), format!("{}", self.pass_seconds_sum)));
        hist.push(("_count".into(), count.to_string()));
        family(
            "lunguard_pass_duration_seconds",
            "histogram",
            "How long reconcile passes took (observe, plan, act).",
            &hist,
        );
        family(
            "lunguard_resyncs_total",
            "counter",
            "Passes that re-read the whole host (the first, periodic resyncs, after an overflow or a reload).",
            &one(self.resyncs),
        );
        family(
            "lunguard_uevent_overflows_total",
            "counter",
            "Times the uevent socket overflowed (events lost), each forcing a resync.",
            &one(self.overflows),
        );
        family(
            "lunguard_last_successful_pass_timestamp_seconds",
            "gauge",
            "When the last pass without a failed step ended (Unix time; 0 before the first).",
            &[(
                String::new(),
                self.last_success
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs())
                    .to_string(),
            )],
        );
        out
    }
}

/// Why the metrics file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Creating, writing or renaming failed.
    #[error("cannot write metrics to {}: {source}", path.display())]
    Io {
        /// The file being written (the temporary file or the target).
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The filesystem did not answer in time.
    #[error(transparent)]
    Expired(#[from] Expired),
}

/// Writes `text` to `path` whole: a temporary file beside it (a dotfile, which the collector
/// ignores), mode 0644, renamed over `path`. At most `timeout` on this thread; the write goes on
/// a worker that is abandoned if the filesystem hangs.
pub fn write_textfile(path: &Path, text: String, timeout: Duration) -> Result<(), MetricsError> {
    let path = path.to_owned();
    let key = format!("metrics {}", path.display());
    let what = format!("write metrics to {}", path.display());
    deadline::run(&key, &what, timeout, move || {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp"));
        let io = |p: &Path| {
            let p = p.to_owned();
            move |source| MetricsError::Io { path: p, source }
        };
        let write = || -> Result<(), MetricsError> {
            let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
            f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
                .map_err(io(&tmp))?;
            f.write_all(text.as_bytes()).map_err(io(&tmp))?;
            std::fs::rename(&tmp, &path).map_err(io(&path))
        };
        let r = write();
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        r
    })
}

#[cfg(test)]
mod tests;
