//! `snapshot()`: one read-only pass over sysfs and procfs under injectable
//! roots, into the owned types of `observe::snapshot`.
//!
//! This is the only module that reads `/sys` (and, for mounts and swaps,
//! `/proc` and `/dev`). It never writes, never panics on what it finds and
//! never fails as a whole: whatever is missing or malformed becomes a
//! `Problem` on the object concerned (or on the snapshot), and the rest is
//! still reported.

mod attrs;
mod devices;
mod dm;
mod fan_out;
mod hosts;
mod refresh;

use std::path::PathBuf;

use super::procfs;
use super::tree::Tree;
use crate::snapshot::{Problem, Snapshot};

pub use refresh::{Touched, refresh};

/// Where the kernel's trees are. Tests point these at a fake tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// sysfs mount, normally `/sys`.
    pub sys: PathBuf,
    /// procfs mount, normally `/proc`.
    pub proc: PathBuf,
    /// devtmpfs mount, normally `/dev` (used to resolve swap device paths).
    pub dev: PathBuf,
    /// open-iscsi's node records, normally `/etc/iscsi/nodes`.
    pub iscsi_nodes: PathBuf,
    /// multipathd's wwids file, normally `/etc/multipath/wwids` (read to plan
    /// `Action::RegisterWwid`; written only by `multipath -a` / `-w`).
    pub multipath_wwids: PathBuf,
    /// udev's database, normally `/run/udev/data` (read to tell a quarantined device).
    pub udev_data: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Self {
            sys: PathBuf::from("/sys"),
            proc: PathBuf::from("/proc"),
            dev: PathBuf::from("/dev"),
            iscsi_nodes: PathBuf::from(super::nodes::NODES_DIR),
            multipath_wwids: PathBuf::from(super::wwids::WWIDS_FILE),
            udev_data: PathBuf::from("/run/udev/data"),
        }
    }
}

impl Roots {
    /// The roots of a recorded fixture directory: `D/sys`, `D/proc`, `D/dev`,
    /// `D/etc/iscsi/nodes`, `D/etc/multipath/wwids`, `D/run/udev/data`.
    pub fn fixture(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            sys: dir.join("sys"),
            proc: dir.join("proc"),
            dev: dir.join("dev"),
            iscsi_nodes: dir.join("etc/iscsi/nodes"),
            multipath_wwids: dir.join("etc/multipath/wwids"),
            udev_data: dir.join("run/udev/data"),
        }
    }
}

/// Problem text for a kernel without the SCSI midlayer's sysfs class.
pub const NO_SCSI: &str = "no SCSI support in this kernel (class/scsi_host missing)";

/// Takes a snapshot. Never fails; see the module docs.
pub fn snapshot(roots: &Roots) -> Snapshot {
    let sys_tree = Tree::new(&roots.sys);
    let sys = sys_tree.scan();
    let proc = Tree::new(&roots.proc);
    let dev = Tree::new(&roots.dev);
    let mut snap = Snapshot::default();

    if !sys_tree.root_is_dir() {
        snap.problems.push(Problem {
            path: sys.display(""),
            what: "sysfs root is not a directory".into(),
        });
    } else if let Some(hosts) = hosts::read_hosts(&sys, &mut snap.problems) {
        snap.iscsi_sessions = hosts::read_sessions(&sys, &hosts, &mut snap.problems);
        snap.hosts = hosts;
        snap.devices = devices::read_devices(&sys, &mut snap.problems);
    } else {
        snap.problems.push(Problem {
            path: sys.display("class/scsi_host"),
            what: NO_SCSI.into(),
        });
    }
    if sys_tree.root_is_dir() {
        snap.dm_devices = dm::read_dm(&sys, &mut snap.problems);
    }

    snap.mounts = procfs::read_mounts(&proc, &mut snap.problems);
    snap.swaps = procfs::read_swaps(&proc, &mut snap.problems);
    procfs::resolve_swap_devs(&mut snap.swaps, &sys_tree, &dev, &snap.dm_devices);
    snap.node_records = super::nodes::read_node_records(&roots.iscsi_nodes, &mut snap.problems);
    snap
}

/// The node records alone (a few directories), for a caller that needs nothing else.
pub fn node_records(roots: &Roots) -> Vec<crate::snapshot::NodeRecord> {
    super::nodes::read_node_records(&roots.iscsi_nodes, &mut Vec::new())
}

/// The iSCSI sessions alone (hosts and sessions: a few directories, whatever the number of
/// LUNs), for a caller that needs nothing else.
pub fn sessions(roots: &Roots) -> Vec<crate::snapshot::IscsiSession> {
    let sys_tree = Tree::new(&roots.sys);
    let sys = sys_tree.scan();
    let mut problems = Vec::new();
    hosts::read_hosts(&sys, &mut problems)
        .map(|h| hosts::read_sessions(&sys, &h, &mut problems))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
