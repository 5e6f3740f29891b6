//! `Context`: what the planner needs besides desired and observed state —
//! the clock, first-seen times, known targets, and the two facts sysfs does
//! not show (a map's open count, multipathd's path states).
//!
//! Plain data; the caller gathers it (store, `dmsetup info`, `multipathd
//! show paths`). No IO here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use crate::model::{DevT, DeviceKey, DmName, Hctl, Iqn};
use crate::snapshot::{ClaimState, PathState};

/// Inputs to `plan()` other than desired state, snapshot and policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The time the plan is made for (a parameter, so `plan` stays pure).
    pub now: SystemTime,
    /// When each in-scope device, map and session was first seen (persisted
    /// by the caller from `Plan::newly_seen` / `Plan::forgotten`).
    pub first_seen: BTreeMap<DeviceKey, SystemTime>,
    /// Targets lunguard attached and has not fully detached: still in scope
    /// when no attachment names them, and then detached without grace.
    pub known_targets: BTreeSet<Iqn>,
    /// Device-mapper open count per map (`dmsetup info -c -o name,open`);
    /// not in sysfs. A map missing here has an unknown count, which is not
    /// treated as a use (the flush itself refuses a map in use).
    pub open_counts: BTreeMap<DmName, u32>,
    /// multipathd's view of each path by block name (`multipathd show paths
    /// format "%d %t"`); not in sysfs. Used only to tell a dead map.
    pub path_states: BTreeMap<String, PathState>,
    /// Block devices (`sdc`) some process holds open, with who (`pid 812 (qemu-system-x86)`):
    /// the only signal of use a bare, unmultipathed disk has (sysfs has no open count for `sd`
    /// and the kernel does not refuse deleting an open disk). Filled from `/proc/*/fd`, leaving
    /// out multipathd (its checker holds every path open) and udev workers (a moment each).
    pub open_blocks: BTreeMap<String, String>,
    /// Multipath maps whose table has the `queue_if_no_path` feature (`dmsetup table`): with
    /// every path down they queue I/O, and a flush of them sleeps in the kernel until a path
    /// returns.
    pub queue_if_no_path: BTreeSet<DmName>,
    /// Slaves of multipath maps (block names) whose state neither device-mapper's status nor
    /// multipathd reported. Unknown is not active: a map with no slave known active and one
    /// unknown is not flushed (the flush could block), it is refused with a finding.
    pub unknown_path_states: BTreeSet<String>,
    /// The same, by the device number the open file refers to (`stat` of `/proc/PID/fd/N`): a
    /// process in a container may hold the disk through a node of another name.
    pub open_devs: BTreeMap<DevT, String>,
    /// Processes whose open files could not be read (`pid 812 (qemu-system-x86): Permission
    /// denied`): for a bare disk, "not listed as open" then means "unknown", never "not open".
    pub unreadable_procs: Vec<String>,
    /// What the kernel said when asked to claim a bare disk exclusively (`O_EXCL`), by block
    /// name; absent means not asked (then the other signals decide). Gathered by the caller for
    /// the disks a first plan would remove, and the plan made again.
    pub claims: BTreeMap<String, ClaimState>,
    /// Devices whose identity a unit attention said may have changed (a LUN inventory or INQUIRY
    /// change): their cached WWID is re-read (`RescanDevice`) before any removal of them is
    /// planned. Filled by the daemon from uevents; empty for the one-shot commands.
    pub reverify: BTreeSet<Hctl>,
    /// multipathd's wwids file (`roots.multipath_wwids`) as read for this pass, multipath form
    /// (a missing file lists nothing); `None` when it was not read or could not be (the caller
    /// warns): then no registration is planned, since the plan could not tell whether an entry
    /// is already there and, if so, whose it is.
    pub wwids_file: Option<BTreeSet<String>>,
    /// The entries of that file lunguard added (`multipath -a` that found it absent), from the
    /// store: the only ones it ever removes (`multipath -w`).
    pub owned_wwids: BTreeSet<String>,
}

impl Context {
    /// A context at `now` with nothing else known.
    pub fn at(now: SystemTime) -> Self {
        Self {
            now,
            first_seen: BTreeMap::new(),
            known_targets: BTreeSet::new(),
            open_counts: BTreeMap::new(),
            path_states: BTreeMap::new(),
            open_blocks: BTreeMap::new(),
            queue_if_no_path: BTreeSet::new(),
            unknown_path_states: BTreeSet::new(),
            open_devs: BTreeMap::new(),
            unreadable_procs: Vec::new(),
            claims: BTreeMap::new(),
            reverify: BTreeSet::new(),
            wwids_file: None,
            owned_wwids: BTreeSet::new(),
        }
    }
}
