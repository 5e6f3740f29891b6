//! Incremental observation: re-read into a cached [`Snapshot`] only what uevents named, so the
//! cost of a pass follows the change, not the size of the host.
//!
//! A uevent names one object by its devpath: a SCSI device (`…/3:0:0:2`, also the parent of its
//! `block/sdc`, partitions, `bsg` and `scsi_generic` nodes), a device-mapper device
//! (`…/block/dm-3`), or a session, connection, target or host. [`Touched`] collects those names
//! from the events of one debounce window; [`refresh`] re-reads each named object, plus what is
//! stacked on or under it (a disk's holders, a map's slaves and holders: their `holders/` and
//! `slaves/` lists change when a map is built or flushed), drops what is gone, and re-reads the
//! mount and swap tables and open-iscsi's node records (a few lines or directories each, and
//! none sends a uevent). Hosts and sessions are
//! few, so any event about one re-reads them all.
//!
//! What it cannot place (an event on a device of an unknown kind) is left to the periodic resync
//! and to an overflow, which re-read everything: [`Touched::everything`] asks for that.

use std::collections::BTreeSet;

use super::super::procfs;
use super::super::tree::Tree;
use super::super::uevent::Uevent;
use super::attrs::numbered;
use super::{Roots, devices, dm, hosts};
use crate::model::Hctl;
use crate::snapshot::{DmDevice, Problem, ScsiDevice, Snapshot};

/// What the events since the last pass named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    /// SCSI devices by address.
    pub devices: BTreeSet<Hctl>,
    /// Device-mapper devices by kernel name (`dm-3`).
    pub dm: BTreeSet<String>,
    /// A host, session, connection or target changed: re-read hosts and sessions.
    pub hosts: bool,
    /// Something could not be placed: re-read everything.
    pub everything: bool,
}

impl Touched {
    /// Nothing touched.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty() && self.dm.is_empty() && !self.hosts && !self.everything
    }

    /// Notes what `ev` names.
    pub fn note(&mut self, ev: &Uevent) {
        if let Some(h) = ev
            .devpath
            .split('/')
            .rev()
            .find_map(|c| c.parse::<Hctl>().ok())
        {
            self.devices.insert(h);
            return;
        }
        let name = ev.sysname();
        match ev.subsystem.as_str() {
            "block" if numbered(name, "dm-").is_some() => {
                self.dm.insert(name.to_owned());
            }
            // A disk whose devpath names no H:C:T:L is not a SCSI disk (loop, nvme, …).
            "block" => {}
            "scsi" | "scsi_host" | "iscsi_host" | "iscsi_session" | "iscsi_connection" => {
                self.hosts = true;
            }
            // Other subsystems say nothing the snapshot holds.
            _ => {}
        }
    }

    /// Merges another window's names.
    pub fn extend(&mut self, other: Touched) {
        self.devices.extend(other.devices);
        self.dm.extend(other.dm);
        self.hosts |= other.hosts;
        self.everything |= other.everything;
    }
}

/// Re-reads into `snap` what `touched` names (see the module docs). Returns `false`, leaving
/// `snap` as it was, when only a full [`snapshot`](super::snapshot) can answer: `everything` was
/// asked, the sysfs root is gone, or `snap` was not a complete read of a SCSI-capable host.
pub fn refresh(roots: &Roots, snap: &mut Snapshot, touched: &Touched) -> bool {
    let sys_tree = Tree::new(&roots.sys);
    if touched.everything
        || !sys_tree.root_is_dir()
        || snap.problems.iter().any(|p| p.what == super::NO_SCSI)
    {
        return false;
    }
    let sys = sys_tree.scan();
    let proc = Tree::new(&roots.proc);
    let dev = Tree::new(&roots.dev);
    let proc_prefix = proc.display("");
    let nodes_prefix = roots.iscsi_nodes.to_string_lossy().into_owned();
    // Snapshot-wide problems of the last read stay, except the mount and swap tables' and the
    // node records' (re-read below) and the host listing's when hosts are re-read.
    let mut problems: Vec<Problem> = std::mem::take(&mut snap.problems)
        .into_iter()
        .filter(|p| !p.path.starts_with(&proc_prefix) && !p.path.starts_with(&nodes_prefix))
        .collect();

    if touched.hosts {
        let host_paths = [
            sys.display("class/scsi_host"),
            sys.display("class/iscsi_session"),
            sys.display("class/iscsi_connection"),
        ];
        problems.retain(|p| !host_paths.iter().any(|h| p.path.starts_with(h.as_str())));
        match hosts::read_hosts(&sys, &mut problems) {
            Some(h) => {
                snap.iscsi_sessions = hosts::read_sessions(&sys, &h, &mut problems);
                snap.hosts = h;
            }
            None => {
                snap.problems = problems;
                return false;
            }
        }
    }

    // What is stacked on a touched disk, and under or on a touched map, changed with it.
    let mut devs: BTreeSet<Hctl> = touched.devices.clone();
    let mut maps: BTreeSet<String> = touched.dm.clone();
    for h in &touched.devices {
        if let Some(d) = snap.devices.iter().find(|d| d.hctl == *h) {
            maps.extend(dm_holders(d));
        }
    }
    for m in &touched.dm {
        if let Some(d) = snap.dm_devices.iter().find(|d| d.kernel_name == *m) {
            stacked(d, &snap.devices, &mut devs, &mut maps);
        }
    }

    for h in &devs {
        let fresh = reread_device(&sys, *h);
        if let Some(d) = &fresh {
            maps.extend(dm_holders(d));
        }
        replace_device(&mut snap.devices, *h, fresh);
    }
    let dm_dir = if sys.exists("block") {
        "block"
    } else {
        "class/block"
    };
    let mut more_devs = BTreeSet::new();
    for m in &maps {
        let fresh = sys
            .exists(format!("{dm_dir}/{m}"))
            .then(|| dm::read_one(&sys, dm_dir, m.clone()));
        if let Some(d) = &fresh {
            let mut extra_maps = BTreeSet::new();
            stacked(d, &snap.devices, &mut more_devs, &mut extra_maps);
        }
        replace_dm(&mut snap.dm_devices, m, fresh);
    }
    // A map built over a disk no event named: the disk's `holders/` changed too.
    for h in more_devs.difference(&devs) {
        let fresh = reread_device(&sys, *h);
        replace_device(&mut snap.devices, *h, fresh);
    }

    snap.mounts = procfs::read_mounts(&proc, &mut problems);
    snap.swaps = procfs::read_swaps(&proc, &mut problems);
    procfs::resolve_swap_devs(&mut snap.swaps, &sys_tree, &dev, &snap.dm_devices);
    snap.node_records = super::super::nodes::read_node_records(&roots.iscsi_nodes, &mut problems);
    snap.problems = problems;
    true
}

fn reread_device(sys: &super::super::tree::Scan<'_>, h: Hctl) -> Option<ScsiDevice> {
    let name = h.to_string();
    sys.exists(format!("class/scsi_device/{name}"))
        .then(|| devices::read_device(sys, &name, h))
}

/// The device-mapper devices holding a disk or one of its partitions.
fn dm_holders(d: &ScsiDevice) -> impl Iterator<Item = String> + '_ {
    d.block
        .iter()
        .flat_map(|b| {
            b.holders
                .iter()
                .chain(b.partitions.iter().flat_map(|p| p.holders.iter()))
        })
        .filter(|n| numbered(n, "dm-").is_some())
        .cloned()
}

/// A map's slaves (as disks, by address) and its stacked dm neighbours (slaves and holders).
fn stacked(
    d: &DmDevice,
    disks: &[ScsiDevice],
    devs: &mut BTreeSet<Hctl>,
    maps: &mut BTreeSet<String>,
) {
    for s in d.slaves.iter().chain(&d.holders) {
        if numbered(s, "dm-").is_some() {
            maps.insert(s.clone());
        } else if let Some(disk) = disks.iter().find(|x| {
            x.block
                .as_ref()
                .is_some_and(|b| b.name == *s || b.partitions.iter().any(|p| p.name == *s))
        }) {
            devs.insert(disk.hctl);
        }
    }
}

fn replace_device(list: &mut Vec<ScsiDevice>, h: Hctl, fresh: Option<ScsiDevice>) {
    match (list.binary_search_by_key(&h, |d| d.hctl), fresh) {
        (Ok(i), Some(d)) => list[i] = d,
        (Ok(i), None) => {
            list.remove(i);
        }
        (Err(i), Some(d)) => list.insert(i, d),
        (Err(_), None) => {}
    }
}

fn replace_dm(list: &mut Vec<DmDevice>, kernel_name: &str, fresh: Option<DmDevice>) {
    let num = |n: &str| numbered(n, "dm-").unwrap_or(u32::MAX);
    let key = num(kernel_name);
    match (
        list.binary_search_by_key(&key, |d| num(&d.kernel_name)),
        fresh,
    ) {
        (Ok(i), Some(d)) => list[i] = d,
        (Ok(i), None) => {
            list.remove(i);
        }
        (Err(i), Some(d)) => list.insert(i, d),
        (Err(_), None) => {}
    }
}
