//! What one pass read, kept for the next: the desired state, the snapshot, first-seen times,
//! the targets lunguard holds and the inspector's facts. With it a pass costs what changed —
//! the devices a uevent named, the facts a removal needs — not the size of the host.
//!
//! The rules that keep it safe:
//! - The snapshot is patched only from what uevents named ([`crate::observe::refresh`]); a lost
//!   event (netlink overflow), a reload and the periodic resync read everything
//!   ([`Fresh::all`]).
//! - In-use facts (open counts, path states, `/proc` fds) are read afresh whenever the plan has
//!   removal work or finds an unwanted device, and the plan is made again with them: a removal
//!   is never planned on a remembered fact. Remembered facts only colour findings about declared
//!   devices between full passes, and any event about a map or one of its paths refreshes the
//!   map facts first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::desire::Reload;
use crate::model::{DeviceKey, DmName, Hctl, Iqn};
use crate::observe::{DmMultipath, Inspector, OpenFiles, Touched};
use crate::plan::{Action, FindingKind, Plan, Subject};
use crate::reconcile::Context;
use crate::snapshot::{PathState, Snapshot};

/// What a pass must read afresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fresh {
    /// Re-read the state files (a state-directory event, HUP, the first and periodic passes).
    pub desired: bool,
    /// What uevents named since the last pass (`everything`: a full read of sysfs and of every
    /// in-use fact).
    pub touched: Touched,
}

impl Fresh {
    /// Everything afresh.
    pub fn all() -> Self {
        Self {
            desired: true,
            touched: Touched {
                everything: true,
                ..Touched::default()
            },
        }
    }
}

/// The engine's memory of the last pass.
#[derive(Default)]
pub(super) struct Cache {
    pub(super) desired: Option<Reload>,
    pub(super) snapshot: Option<Arc<Snapshot>>,
    pub(super) seen: Option<BTreeMap<DeviceKey, SystemTime>>,
    pub(super) known_targets: Option<BTreeSet<Iqn>>,
    pub(super) owned_wwids: Option<BTreeSet<String>>,
    pub(super) facts: Option<Facts>,
}

/// Which in-use facts to read afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Needs {
    /// Device-mapper's open counts, path states and queueing, and multipathd's path states.
    pub(super) maps: bool,
    /// The open files of every process (`/proc/*/fd`): the use of bare disks.
    pub(super) disks: bool,
}

impl Needs {
    pub(super) const ALL: Self = Self {
        maps: true,
        disks: true,
    };

    pub(super) fn any(self) -> bool {
        self.maps || self.disks
    }

    /// What `self` asks that `done` did not.
    pub(super) fn without(self, done: Self) -> Self {
        Self {
            maps: self.maps && !done.maps,
            disks: self.disks && !done.disks,
        }
    }

    /// What the touched devices need before a plan: a touched map, or a touched disk under a
    /// map, may have changed the map facts (multipathd failing or reinstating a path sends a
    /// `change` of the map); a touched disk never seen before (the kernel's `add` of a LUN, rogue
    /// or declared) is likely removal work, so its facts are read now and the plan is made once
    /// instead of twice.
    pub(super) fn of_touched(
        touched: &Touched,
        snap: &Snapshot,
        seen: Option<&BTreeMap<DeviceKey, SystemTime>>,
    ) -> Self {
        let mut n = Self {
            maps: !touched.dm.is_empty(),
            disks: false,
        };
        for h in &touched.devices {
            let Some(d) = snap.devices.iter().find(|d| d.hctl == *h) else {
                continue;
            };
            let mapped = under_a_map(snap, *h).unwrap_or(false);
            n.maps |= mapped;
            let key = DeviceKey::Path {
                hctl: d.hctl,
                wwid: d.wwid.clone(),
            };
            if !seen.is_some_and(|s| s.contains_key(&key)) {
                if mapped {
                    n = Self::ALL;
                } else {
                    n.disks = true;
                }
            }
        }
        n
    }

    /// What the removal work of `plan` needs: a bare disk's use is in `/proc`; a map's (and a
    /// path's under a map) in device-mapper and multipathd. Findings about unwanted devices
    /// count as removal work (one made on a remembered "in use" must be re-judged).
    pub(super) fn of_plan(plan: &Plan, snap: &Snapshot) -> Self {
        let mut n = Self {
            maps: false,
            disks: false,
        };
        for s in &plan.steps {
            match &s.action {
                Action::DeletePaths { map: None, .. } => n.disks = true,
                a if a.is_destructive() => n.maps = true,
                _ => {}
            }
        }
        for f in &plan.findings {
            let removal = matches!(
                f.kind,
                FindingKind::Unwanted { .. }
                    | FindingKind::InUse { .. }
                    | FindingKind::Refused { .. }
                    | FindingKind::BlastRadius { .. }
                    | FindingKind::WaitingForGrace { .. }
            );
            if !removal {
                continue;
            }
            match &f.subject {
                Subject::Map { .. } => n.maps = true,
                Subject::Path { hctl } => match under_a_map(snap, *hctl) {
                    Some(false) => n.disks = true,
                    _ => n = Self::ALL,
                },
                _ => n = Self::ALL,
            }
        }
        n
    }
}

/// Whether the disk at `h` (or a partition of it) is held by a device-mapper device; `None`
/// when it is not in the snapshot.
fn under_a_map(snap: &Snapshot, h: Hctl) -> Option<bool> {
    let d = snap.devices.iter().find(|d| d.hctl == h)?;
    Some(d.block.as_ref().is_some_and(|b| {
        b.holders
            .iter()
            .chain(b.partitions.iter().flat_map(|p| p.holders.iter()))
            .any(|x| x.starts_with("dm-"))
    }))
}

/// The inspector's answers, as last read.
#[derive(Debug, Clone, Default)]
pub(super) struct Facts {
    open_counts: BTreeMap<DmName, u32>,
    path_states: BTreeMap<String, PathState>,
    dm: Option<DmMultipath>,
    open: OpenFiles,
}

impl Facts {
    /// Reads what `needs` names afresh.
    pub(super) fn gather(
        &mut self,
        inspector: &Inspector,
        proc_root: &Path,
        needs: Needs,
        phases: &mut super::Phases,
    ) {
        if needs.maps {
            self.open_counts = inspector.open_counts();
            phases.mark("dm_open_counts");
            self.dm = inspector.dm_multipath();
            phases.mark("dm_status_table");
            // The kernel's own path states win over multipathd's wherever both exist, and the
            // kernel's status lists every path of every multipath map; multipathd is asked (a
            // process spawn, most of a pass's time in the VM) only when the kernel could not be.
            // A slave neither names stays unknown, which refuses its map's removal.
            self.path_states = if self.dm.is_some() {
                BTreeMap::new()
            } else {
                let states = inspector.path_states();
                phases.mark("multipathd_paths");
                states
            };
        }
        if needs.disks {
            self.open = inspector.open_blocks(proc_root);
            phases.mark("proc_fds");
            for who in &self.open.unreadable {
                tracing::debug!(process = %who, "cannot read a process's open files: bare disks count as maybe in use");
            }
        }
    }

    /// `base` with these facts, device-mapper's view folded in.
    pub(super) fn apply(&self, snap: &Snapshot, mut ctx: Context) -> Context {
        ctx.open_counts = self.open_counts.clone();
        ctx.path_states = self.path_states.clone();
        ctx.open_blocks = self.open.by_name.clone();
        ctx.open_devs = self.open.by_dev.clone();
        ctx.unreadable_procs = self.open.unreadable.clone();
        super::kernel_view::merge_kernel_view(snap, self.dm.as_ref(), &mut ctx);
        ctx
    }
}
