//! `PlanDocument`: one pass as `plan --json` prints it and as the daemon serves its latest pass
//! over the control socket; `SnapshotDocument`: the snapshot that pass planned from, which
//! `status` shows instead of walking sysfs again. Here, beside the pass they describe, so the
//! daemon and the commands both use them without importing each other.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Pass;
use crate::desire::Reload;
use crate::plan::Plan;

/// `plan --json`, and what the daemon answers on its control socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanDocument {
    /// 2 (1 until `ScanLun` named its address as one `hctl` string instead of `host`, `channel`,
    /// `target_id` and `lun`); otherwise fields are only ever added.
    pub schema_version: u32,
    /// Whether the state files loaded.
    pub desired_ok: bool,
    /// Their errors, `file:line:column: message`.
    pub desired_errors: Vec<String>,
    /// Attachments in force (the last good state's when the files were rejected).
    pub attachments: usize,
    /// The plan; `null` when no good desired state was ever loaded.
    pub plan: Option<Plan>,
    /// Who planned: `"plan"` (this command) or `"daemon"` (its latest pass).
    #[serde(default)]
    pub source: String,
    /// The mode in force: in `observe` nothing planned is done (`attach --wait` says so
    /// instead of waiting). `null` from an older daemon.
    #[serde(default)]
    pub mode: Option<crate::config::Mode>,
}

impl PlanDocument {
    /// The document of a prepared pass.
    pub fn of(pass: &Pass, source: &str) -> Self {
        let errors: Vec<String> = match &pass.reload {
            Reload::Kept { errors, .. } => errors.iter().map(ToString::to_string).collect(),
            Reload::Replaced { .. } => Vec::new(),
        };
        Self {
            schema_version: 2,
            desired_ok: errors.is_empty(),
            desired_errors: errors,
            attachments: pass.reload.state().map_or(0, |s| s.attachments.len()),
            plan: pass.plan.clone(),
            source: source.to_owned(),
            mode: None,
        }
    }

    /// The same document, saying which mode was in force.
    pub fn with_mode(self, mode: crate::config::Mode) -> Self {
        Self {
            mode: Some(mode),
            ..self
        }
    }
}

/// The daemon's latest snapshot, as it answers `snapshot` on its control socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotDocument {
    /// When the pass took it (RFC 3339 UTC): `status` says how old it is.
    pub taken_at: String,
    /// The roots it was read from: `status` uses it only for the same roots.
    pub sys: PathBuf,
    /// procfs root.
    pub proc: PathBuf,
    /// devtmpfs root.
    pub dev: PathBuf,
    /// open-iscsi's node records.
    #[serde(default)]
    pub iscsi_nodes: PathBuf,
    /// The snapshot.
    pub snapshot: crate::snapshot::Snapshot,
}

/// The daemon's answer to `health`: enough for a liveness probe to tell a loop that still runs
/// passes from one that is stuck.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthDocument {
    /// 1.
    pub schema_version: u32,
    /// When the latest pass started (RFC 3339 UTC).
    pub last_pass_at: String,
    /// The mode in force.
    pub mode: crate::config::Mode,
}
