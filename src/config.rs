//! `/etc/lunguard/lunguard.toml`: roots, paths, scope, policy, timeouts, daemon, mode.
//!
//! Every field is optional with a documented default (docs/config.md, and the
//! example in `state/lunguard.toml.example`), so a missing file means "all
//! defaults". Loading reads one file and checks its owner and mode; the rest
//! (`Config::parse`) is pure and reports every problem it can find with
//! `file:line:column`.

mod daemon;
mod diagnostic;
pub mod duration;
mod ownership;
mod pattern;
mod policy;
mod scope;

use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};

use crate::observe::Roots;

pub use daemon::DaemonSettings;
pub use diagnostic::{Diagnostic, LoadErrors, Pos, Source};
pub use ownership::Ownership;
pub use pattern::{Pattern, PatternError};
pub use policy::{Effective, FlushPolicy, Policy};
pub use scope::{Exclusions, Scope};

/// Where the config is read from unless `--config` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/lunguard/lunguard.toml";

/// Whether lunguard may change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Plan and report, never act: the safe way to introduce lunguard to a host.
    #[default]
    Observe,
    /// Carry out plans.
    Enforce,
}

/// The whole config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Observe (default) or enforce.
    pub mode: Mode,
    /// Directory of state files (`*.toml` with `[[attachment]]` tables).
    pub state_dir: PathBuf,
    /// sled database: last good desired state, first-seen times, journal.
    pub database: PathBuf,
    /// Unix socket the daemon serves commands on (so other commands need not
    /// open the database the daemon holds).
    pub control_socket: PathBuf,
    /// Where sysfs, procfs and /dev are mounted (tests point these elsewhere).
    pub roots: RootPaths,
    /// What lunguard governs besides the attachments' own targets.
    pub scope: Scope,
    /// How unwanted devices are handled.
    pub policy: Policy,
    /// Limits on external commands.
    pub timeouts: Timeouts,
    /// The guard loop's knobs (`lunguard daemon`).
    pub daemon: DaemonSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Observe,
            state_dir: PathBuf::from("/etc/lunguard/state.d"),
            database: PathBuf::from("/var/lib/lunguard/db"),
            control_socket: PathBuf::from("/run/lunguard/control.sock"),
            roots: RootPaths::default(),
            scope: Scope::default(),
            policy: Policy::default(),
            timeouts: Timeouts::default(),
            daemon: DaemonSettings::default(),
        }
    }
}

/// `[roots]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RootPaths {
    /// sysfs, default `/sys`.
    pub sys: PathBuf,
    /// procfs, default `/proc`.
    pub proc: PathBuf,
    /// devtmpfs, default `/dev`.
    pub dev: PathBuf,
    /// open-iscsi's node records, default `/etc/iscsi/nodes` (some distributions keep them in
    /// `/var/lib/iscsi/nodes`).
    pub iscsi_nodes: PathBuf,
    /// multipathd's wwids file, default `/etc/multipath/wwids` (set it when multipath.conf's
    /// `wwids_file` says otherwise). Read only; changed through `multipath -a` / `multipath -w`.
    pub multipath_wwids: PathBuf,
    /// udev's database, default `/run/udev/data`: read (never written) to tell a device the
    /// quarantine rule marked, which needs a `change` event once it is declared.
    pub udev_data: PathBuf,
}

impl Default for RootPaths {
    fn default() -> Self {
        let r = Roots::default();
        Self {
            sys: r.sys,
            proc: r.proc,
            dev: r.dev,
            iscsi_nodes: r.iscsi_nodes,
            multipath_wwids: r.multipath_wwids,
            udev_data: r.udev_data,
        }
    }
}

impl RootPaths {
    /// As the observer's `Roots`.
    pub fn to_roots(&self) -> Roots {
        Roots {
            sys: self.sys.clone(),
            proc: self.proc.clone(),
            dev: self.dev.clone(),
            iscsi_nodes: self.iscsi_nodes.clone(),
            multipath_wwids: self.multipath_wwids.clone(),
            udev_data: self.udev_data.clone(),
        }
    }
}

/// `[timeouts]`: an external command running longer is killed and its action
/// counts as failed (and is retried with backoff), so a hung `iscsiadm`
/// cannot stall the loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// `iscsiadm` (login, logout, node updates), default 60s: a login to an
    /// unreachable portal takes the initiator's own retries.
    #[serde(with = "duration")]
    pub iscsiadm: Duration,
    /// `multipath`/`multipathd` commands, default 30s.
    #[serde(with = "duration")]
    pub multipath: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            iscsiadm: Duration::from_secs(60),
            multipath: Duration::from_secs(30),
        }
    }
}

/// What to do when the config file does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMissing {
    /// Use the defaults (the default path need not exist).
    Defaults,
    /// Report it (a path given with `--config` must exist).
    Error,
}

impl Config {
    /// Reads, checks ownership of (file and directory) and parses `path`.
    pub fn load(
        path: &Path,
        if_missing: IfMissing,
        ownership: Ownership,
    ) -> Result<Self, LoadErrors> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound && if_missing == IfMissing::Defaults => {
                return Ok(Self::default());
            }
            Err(e) => {
                return Err(LoadErrors(vec![Diagnostic::file(
                    path,
                    format!(
                        "cannot read the config file: {e} (every setting is optional; an empty file means all defaults)"
                    ),
                )]));
            }
        };
        let mut errors = LoadErrors::default();
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        for p in [path, dir] {
            if let Err(msg) = ownership.check(p) {
                errors.push(Diagnostic::file(p, msg));
            }
        }
        match Self::parse(path, &text) {
            Ok(c) if errors.is_empty() => Ok(c),
            Ok(_) => Err(errors),
            Err(more) => {
                errors.extend(more.0);
                Err(errors)
            }
        }
    }

    /// Parses and validates config text; `file` only names it in diagnostics.
    pub fn parse(file: &Path, text: &str) -> Result<Self, LoadErrors> {
        let src = Source::new(file, text);
        let (doc, syntax) = DeTable::parse_recoverable(text);
        if !syntax.is_empty() {
            return Err(LoadErrors(
                syntax.iter().map(|e| src.toml_error(e)).collect(),
            ));
        }
        let config: Self =
            toml::from_str(text).map_err(|e| LoadErrors(vec![src.toml_error(&e)]))?;
        let errors = config.validate(&src, doc.get_ref());
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// Rules serde cannot express. Each points at the offending value.
    fn validate(&self, src: &Source<'_>, doc: &DeTable<'_>) -> LoadErrors {
        let mut errors = LoadErrors::default();
        let mut bad = |path: &[&str], msg: String| {
            errors.push(match span_of(doc, path) {
                Some(span) => src.error(&span, msg),
                None => Diagnostic::file(src.file, msg),
            });
        };
        let paths: [(&[&str], &Path); 9] = [
            (&["state_dir"], &self.state_dir),
            (&["database"], &self.database),
            (&["control_socket"], &self.control_socket),
            (&["roots", "sys"], &self.roots.sys),
            (&["roots", "proc"], &self.roots.proc),
            (&["roots", "dev"], &self.roots.dev),
            (&["roots", "iscsi_nodes"], &self.roots.iscsi_nodes),
            (&["roots", "multipath_wwids"], &self.roots.multipath_wwids),
            (&["roots", "udev_data"], &self.roots.udev_data),
        ];
        for (key, p) in paths {
            if !p.is_absolute() {
                bad(
                    key,
                    format!(
                        "{} must be an absolute path (the daemon runs from /), got {:?}",
                        key.join("."),
                        p
                    ),
                );
            }
        }
        let f = &self.policy.flush;
        if !(f.backoff_multiplier.is_finite() && f.backoff_multiplier >= 1.0) {
            bad(
                &["policy", "flush", "backoff_multiplier"],
                format!(
                    "policy.flush.backoff_multiplier must be a number >= 1.0 (e.g. 2.0), got {}",
                    f.backoff_multiplier
                ),
            );
        }
        if f.backoff_initial.is_zero() || f.backoff_initial > f.backoff_max {
            bad(
                &["policy", "flush", "backoff_initial"],
                format!(
                    "policy.flush.backoff_initial must be more than 0 and at most backoff_max ({}), got {}",
                    duration::format(f.backoff_max),
                    duration::format(f.backoff_initial)
                ),
            );
        }
        let nonzero: [(&[&str], Duration); 3] = [
            (&["policy", "flush", "timeout"], f.timeout),
            (&["timeouts", "iscsiadm"], self.timeouts.iscsiadm),
            (&["timeouts", "multipath"], self.timeouts.multipath),
        ];
        for (key, d) in nonzero {
            if d.is_zero() {
                bad(
                    key,
                    format!("{} must be more than 0 (e.g. \"30s\")", key.join(".")),
                );
            }
        }
        if self.policy.max_removals_per_pass == 0 {
            bad(
                &["policy", "max_removals_per_pass"],
                "policy.max_removals_per_pass must be at least 1; to never remove anything set policy.on_unexpected = \"alert\" or mode = \"observe\"".to_owned(),
            );
        }
        let d = &self.daemon;
        if !(daemon::MIN_RECEIVE_BUFFER..=daemon::MAX_RECEIVE_BUFFER)
            .contains(&d.uevent_receive_buffer)
        {
            bad(
                &["daemon", "uevent_receive_buffer"],
                format!(
                    "daemon.uevent_receive_buffer must be between {} and {} bytes (default {}), got {}",
                    daemon::MIN_RECEIVE_BUFFER,
                    daemon::MAX_RECEIVE_BUFFER,
                    DaemonSettings::default().uevent_receive_buffer,
                    d.uevent_receive_buffer
                ),
            );
        }
        if d.debounce > daemon::MAX_DEBOUNCE {
            bad(
                &["daemon", "debounce"],
                format!(
                    "daemon.debounce must be at most {} (a pass must not wait longer after a burst of events), got {}",
                    duration::format(daemon::MAX_DEBOUNCE),
                    duration::format(d.debounce)
                ),
            );
        }
        if d.resync_interval < daemon::MIN_RESYNC_INTERVAL {
            bad(
                &["daemon", "resync_interval"],
                format!(
                    "daemon.resync_interval must be at least {} (e.g. \"5m\"), got {}",
                    duration::format(daemon::MIN_RESYNC_INTERVAL),
                    duration::format(d.resync_interval)
                ),
            );
        }
        if let Some(p) = &d.metrics_textfile
            && (!p.is_absolute() || p.extension().is_none_or(|e| e != "prom"))
        {
            bad(
                &["daemon", "metrics_textfile"],
                format!(
                    "daemon.metrics_textfile must be an absolute path ending in .prom (node_exporter's textfile collector reads only those), e.g. \"/var/lib/prometheus/node-exporter/lunguard.prom\", got {:?}",
                    p.display().to_string()
                ),
            );
        }
        let hosts: [(&[&str], &Vec<String>); 2] = [
            (&["scope", "scsi_hosts"], &self.scope.scsi_hosts),
            (
                &["scope", "exclude", "scsi_hosts"],
                &self.scope.exclude.scsi_hosts,
            ),
        ];
        for (key, list) in hosts {
            for h in list {
                if h.is_empty() || h.contains(|c: char| c.is_whitespace() || c == '/') {
                    bad(
                        key,
                        format!(
                            "{h:?} is not a SCSI host driver name (proc_name, e.g. \"scsi_debug\", as in /sys/class/scsi_host/host*/proc_name)"
                        ),
                    );
                }
            }
        }
        errors
    }
}

/// The span of the value at `path` (table keys), if present.
fn span_of(doc: &DeTable<'_>, path: &[&str]) -> Option<Range<usize>> {
    let (first, rest) = path.split_first()?;
    let mut value = doc.get(*first)?;
    for key in rest {
        value = match value.get_ref() {
            DeValue::Table(t) => t.get(*key)?,
            _ => return Some(value.span()),
        };
    }
    Some(value.span())
}

#[cfg(test)]
mod tests;
