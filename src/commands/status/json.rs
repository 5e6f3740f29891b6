//! `status --json`: the snapshot plus `schema_version` (docs/status-json.md).

use serde::Serialize;

use super::desired::Desired;
use crate::snapshot::Snapshot;

/// Version of the JSON document. Fields are only ever added; a rename or
/// removal would bump this.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    /// `"status"` (read now) or `"daemon"` (the running daemon's latest pass).
    source: &'a str,
    /// When the snapshot was taken, RFC 3339 UTC.
    taken_at: &'a str,
    #[serde(flatten)]
    snapshot: &'a Snapshot,
    /// Desired vs observed; `null` when no state files were given or found.
    desired: Option<&'a Desired>,
}

/// Where a snapshot came from and when it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// `"status"` or `"daemon"`.
    pub source: &'static str,
    /// RFC 3339 UTC.
    pub taken_at: String,
}

/// Pretty JSON with a trailing newline.
pub fn render_json(
    snap: &Snapshot,
    from: &Provenance,
    desired: Option<&Desired>,
) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(&Document {
        schema_version: SCHEMA_VERSION,
        source: from.source,
        taken_at: &from.taken_at,
        snapshot: snap,
        desired,
    })?;
    s.push('\n');
    Ok(s)
}
