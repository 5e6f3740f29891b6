//! Rule 7 (docs/planner.md): multipathd's wwids file follows the intents. With `find_multipaths strict` (or
//! `yes`) multipathd builds a map only for a WWID listed in `/etc/multipath/wwids`, so a LUN a
//! broad rescan brings back stays a bare path, deleted without a map flush that "map in use"
//! could refuse. A declared multipath LUN's WWID is registered (`multipath -a`) before its
//! narrowed scan; an entry lunguard added is removed (`multipath -w`) once nothing declares it
//! and no device or map of it is left. Entries lunguard did not add (a SAN boot disk, another
//! tool's maps) are never touched: only `Context::owned_wwids` is ever forgotten. Pure.

use std::collections::BTreeSet;

use crate::model::{Attachment, Wwid};
use crate::plan::Action;
use crate::snapshot::Snapshot;

/// The WWID to register for a multipath attachment: the declared one, else the one found at
/// its address (`found`, from the attach plan), when the file does not list it already.
/// An unread file (`None`) plans nothing: whether the entry is there, and so whose it would
/// be, is unknown.
pub(crate) fn register(
    att: &Attachment,
    found: Option<&Wwid>,
    file: Option<&BTreeSet<String>>,
) -> Option<Action> {
    if !att.multipath {
        return None;
    }
    let file = file?;
    let wwid = att.wwid.as_ref().or(found)?;
    let id = wwid.multipath_id()?;
    if file.contains(&id) {
        return None;
    }
    Some(Action::RegisterWwid { wwid: wwid.clone() })
}

/// `ForgetWwid` for each entry lunguard added that no multipath attachment declares and that no
/// observed device or map still carries (a detach in progress finishes first), with its reason.
pub(crate) fn forget(
    desired: &[Attachment],
    observed: &Snapshot,
    owned: &BTreeSet<String>,
) -> Vec<(Action, String)> {
    let declared: BTreeSet<String> = desired
        .iter()
        .filter(|a| a.multipath)
        .filter_map(|a| a.wwid.as_ref()?.multipath_id())
        .collect();
    let undeclared: Vec<&String> = owned.iter().filter(|id| !declared.contains(*id)).collect();
    if undeclared.is_empty() {
        return Vec::new();
    }
    // Only now the per-device conversion (a large host's thousands of paths, once a pass).
    let present: BTreeSet<String> = observed
        .devices
        .iter()
        .filter_map(|d| d.wwid.as_ref()?.multipath_id())
        .chain(
            observed
                .dm_devices
                .iter()
                .filter_map(|m| m.multipath_id().map(str::to_owned)),
        )
        .collect();
    undeclared
        .into_iter()
        .filter(|id| !present.contains(*id))
        .map(|id| {
            (
                Action::ForgetWwid { id: id.clone() },
                "lunguard registered it for an attachment that is gone, and no device or map of it is left".to_owned(),
            )
        })
        .collect()
}
