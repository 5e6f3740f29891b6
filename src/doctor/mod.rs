//! `lunguard doctor`: audits a host against the field reports lunguard exists for
//! (`shared/seeds`, summarised in docs/doctor.md) — open-iscsi's scans and timeouts,
//! multipath's map handling, the services the guard relies on, lunguard's own unit, state and
//! database — and says per finding what is wrong, which failure it leads to, and the exact fix.
//!
//! Pure over its inputs: the host's files are read under a root (tests point it at a tree),
//! `multipath -t` is the effective multipath configuration the command passes in. Nothing is
//! changed.

mod config_text;
mod iscsi;
mod multipath;
mod services;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::model::Attachment;

pub use config_text::{MultipathConfig, parse_multipath_config};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; not counted as a finding (exit 0).
    Note,
    /// Leads to one of the seeds' failures under the right conditions.
    Warning,
    /// Data loss or a guard that cannot work.
    Critical,
}

/// One thing wrong with the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id, `area.check` (docs/doctor.md lists them).
    pub id: &'static str,
    /// How bad.
    pub severity: Severity,
    /// The file (or command) the setting comes from, and its line when known.
    pub source: String,
    /// What is wrong, with the value found.
    pub what: String,
    /// The failure it leads to, naming the field report.
    pub leads_to: String,
    /// The exact change that fixes it.
    pub fix: String,
}

/// Everything the audit looks at.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Prefix of the host's files (`/` on the host).
    pub root: PathBuf,
    /// procfs (the config's `roots.proc`).
    pub proc: PathBuf,
    /// The effective multipath configuration (`multipath -t`), when multipath-tools answered.
    pub multipath: Option<MultipathConfig>,
    /// Why it is missing, when it is.
    pub multipath_error: Option<String>,
    /// The declared attachments (the state files as the daemon would load them).
    pub attachments: Vec<Attachment>,
    /// The state files' errors (rejected: the daemon keeps the last good state).
    pub state_errors: Vec<String>,
    /// The database's health: `None` healthy or absent, else why not.
    pub database_error: Option<String>,
    /// A cluster's heartbeat timeout in seconds, when the operator names one.
    pub heartbeat_secs: Option<u64>,
}

impl Inputs {
    /// `abs` (an absolute host path) under the root.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    /// Reads `abs` under the root; `None` when absent or unreadable.
    pub fn read(&self, abs: &str) -> Option<String> {
        std::fs::read_to_string(self.path(abs)).ok()
    }

    /// Whether some attachment uses multipath.
    pub fn any_multipath(&self) -> bool {
        self.attachments.iter().any(|a| a.multipath)
    }
}

/// Runs every check.
pub fn audit(inputs: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    iscsi::check(inputs, &mut out);
    multipath::check(inputs, &mut out);
    services::check(inputs, &mut out);
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(b.id)));
    out
}

/// A source label: the host path (not the root-prefixed one) and a line.
fn at(abs: &str, line: Option<usize>) -> String {
    match line {
        Some(n) => format!("{abs}:{n}"),
        None => abs.to_owned(),
    }
}

/// Lines of `dir` (under the root) ending in `ext`, sorted, as host paths.
fn files_in(inputs: &Inputs, dir: &str, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(inputs.path(dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(ext))
        .map(|n| format!("{}/{n}", dir.trim_end_matches('/')))
        .collect();
    v.sort();
    v
}

/// Whether a host path exists under the root.
fn exists(inputs: &Inputs, abs: &str) -> bool {
    Path::new(&inputs.path(abs)).exists()
}

#[cfg(test)]
mod tests;
