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
    #[serde(flatten)]
    snapshot: &'a Snapshot,
    /// Desired vs observed; `null` when no state files were given or found.
    desired: Option<&'a Desired>,
}

/// Pretty JSON with a trailing newline.
pub fn render_json(
    snap: &Snapshot,
    desired: Option<&Desired>,
) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(&Document {
        schema_version: SCHEMA_VERSION,
        snapshot: snap,
        desired,
    })?;
    s.push('\n');
    Ok(s)
}
