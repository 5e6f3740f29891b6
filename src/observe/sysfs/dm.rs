//! Device-mapper devices (`block/dm-N`).

use super::super::tree::Scan;
use super::attrs::{Attrs, list_class, numbered};
use super::fan_out::fan_out;
use crate::model::{DevT, DmName};
use crate::snapshot::{DmDevice, DmKind, Problem};

/// Reads every `dm-N` in `block/` (or `class/block/` if `block/` is absent).
pub(super) fn read_dm(tree: &Scan<'_>, problems: &mut Vec<Problem>) -> Vec<DmDevice> {
    let (dir, names) = match list_class(tree, "block", problems) {
        Some(n) => ("block", n),
        None => match list_class(tree, "class/block", problems) {
            Some(n) => ("class/block", n),
            None => {
                problems.push(Problem {
                    path: tree.display("block"),
                    what: "neither block/ nor class/block/ exists: device-mapper devices unknown"
                        .into(),
                });
                return Vec::new();
            }
        },
    };
    let found: Vec<(u32, String)> = names
        .into_iter()
        .filter_map(|n| Some((numbered(&n, "dm-")?, n)))
        .collect();
    let mut devs = fan_out(tree, found, |scan, (num, n)| (num, read_one(scan, dir, n)));
    devs.sort_by_key(|(n, _)| *n);
    devs.into_iter().map(|(_, d)| d).collect()
}

pub(super) fn read_one(tree: &Scan<'_>, dir: &str, kernel_name: String) -> DmDevice {
    let mut a = Attrs::new(tree, format!("{dir}/{kernel_name}"));
    let name = a.parsed::<DmName>("dm/name", true);
    let uuid = a.optional("dm/uuid").filter(|u| !u.is_empty());
    let suspended = a.flag("dm/suspended", false);
    let dev = a.parsed::<DevT>("dev", true);
    let size_bytes = a.size_bytes("size");
    let read_only = a.flag("ro", false);
    let slaves = a.names("slaves");
    let holders = a.names("holders");
    DmDevice {
        kind: DmKind::from_uuid(uuid.as_deref()),
        kernel_name,
        name,
        uuid,
        suspended,
        dev,
        size_bytes,
        read_only,
        slaves,
        holders,
        problems: a.problems,
    }
}
