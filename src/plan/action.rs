//! `Action` and `Step`: the plan as data. `Display` of a step is exactly the
//! line `lunguard plan` prints.
//!
//! There is deliberately no action that can express a broad scan (`- - -`)
//! or `iscsiadm --rescan`: a wildcard rescan is how a detached LUN comes
//! back as a faulty device (see docs/planner.md). No IO here.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{DevT, DmName, Hctl, Iqn, Portal, Wwid};

use super::FlushPolicy;

/// One path to delete, with everything the executor re-verifies right
/// before writing `delete` (compare-and-delete): the address must still be
/// this WWID, and the block device this `dev_t`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRef {
    /// Address.
    pub hctl: Hctl,
    /// The WWID it had when planned.
    pub wwid: Wwid,
    /// Block device name (`sdc`), if it had one.
    pub block: Option<String>,
    /// Block device number, if it had one.
    pub dev: Option<DevT>,
}

impl fmt::Display for PathRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.block {
            Some(b) => write!(f, "{} ({b})", self.hctl),
            None => write!(f, "{}", self.hctl),
        }
    }
}

/// A multipath map, identified as the executor re-verifies it before a flush.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapRef {
    /// The real name from `dm/name` (never a WWID guessed from config).
    pub name: DmName,
    /// Kernel name, `dm-N`.
    pub kernel_name: String,
    /// `dm/uuid` (`mpath-…`).
    pub uuid: Option<String>,
    /// Device number.
    pub dev: Option<DevT>,
}

/// One thing to do. Every destructive variant carries the identity to
/// re-verify (H:C:T:L, WWID, dev_t, dm uuid) just before it acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create the node record with `node.session.scan=manual` and log in, so
    /// the login scans nothing; LUNs are then added one by one with `ScanLun`.
    Login {
        /// Target.
        target: Iqn,
        /// Portal.
        portal: Portal,
    },
    /// `echo "C T L" > <sys>/class/scsi_host/hostH/scan`: exactly one LUN.
    ScanLun {
        /// The target whose session owns `hctl.host` (re-verified before writing).
        target: Iqn,
        /// The one address to scan: the session's SCSI host, its channel and target id, and
        /// the declared LUN.
        hctl: Hctl,
    },
    /// `echo 1 > <sys>/class/scsi_device/H:C:T:L/device/rescan`: the kernel re-reads the
    /// device's INQUIRY and VPD pages, so a LUN remapped behind the same address shows its new
    /// WWID instead of the cached one. Planned for an in-scope device after a unit attention said
    /// its identity may have changed. Not destructive.
    RescanDevice {
        /// Address.
        hctl: Hctl,
        /// The WWID cached before the rescan, if any.
        wwid: Option<Wwid>,
    },
    /// `multipath -a <id>`: add a declared multipath LUN's WWID to multipathd's wwids file
    /// before its narrowed scan, so that with `find_multipaths strict` (or `yes`) multipathd maps
    /// the declared LUN and nothing else. Planned only while the file lacks the WWID; the
    /// executor re-reads the file and reports `Changed` only when it added the entry, which is
    /// then remembered as lunguard's (and only such an entry is ever removed).
    RegisterWwid {
        /// The LUN's WWID (kernel form; the file holds its multipath form).
        wwid: Wwid,
    },
    /// `multipath -w <id>`: remove a WWID lunguard added from the wwids file, once no
    /// attachment declares it and no device or map of it is left (after its detach), so a
    /// rogue return of the LUN stays a bare path that is deleted without any map flush.
    ForgetWwid {
        /// The multipath form (`36001405…`), as the file and lunguard's record hold it.
        id: String,
    },
    /// Ask multipath to build the map for a LUN whose paths are present.
    MultipathAdd {
        /// The LUN.
        wwid: Wwid,
        /// A present path (block name) to build it from.
        path: String,
    },
    /// `fail_if_no_path` on a dead map that queues, so the flush cannot
    /// hang on queued I/O. Only with `force` (queued writes are lost).
    DisableQueueing {
        /// The map.
        map: MapRef,
    },
    /// BLKFLSBUF on `/dev/<name>`: write back and drop its page cache.
    FlushBuffers {
        /// Block device name (`sdc`, `dm-2`).
        name: String,
        /// Expected device number (re-verified with fstat before the ioctl).
        dev: DevT,
    },
    /// `multipath -f <name>`, retrying "map in use" with backoff.
    FlushMap {
        /// The map.
        map: MapRef,
        /// Retry timing.
        retry: FlushPolicy,
    },
    /// `multipathd del path <block>`: take one path out of a map that stays (its portal is no
    /// longer declared), so the path can be deleted without pulling a live map's leg. Planned
    /// only while another path of the map is known active.
    RemoveFromMap {
        /// The map that keeps serving the LUN.
        map: MapRef,
        /// The path leaving it.
        path: PathRef,
    },
    /// `echo 1 > .../device/delete` for each path, in parallel.
    DeletePaths {
        /// The map these were paths of, for display.
        map: Option<DmName>,
        /// The paths.
        paths: Vec<PathRef>,
    },
    /// Wait for the remove uevents: the paths and map gone from sysfs.
    WaitGone {
        /// Addresses that must disappear.
        paths: Vec<Hctl>,
        /// Kernel name of a map that must disappear.
        map: Option<String>,
        /// How long to wait.
        timeout: Duration,
    },
    /// `iscsiadm -m session -r SID --logout`: exactly one session. A session
    /// is (target, portal, iface); `-m node -T -p` without `-I` would end
    /// every iface's session to the portal. The executor re-reads
    /// `sessionSID`'s target, portal and iface first (sids are reused).
    Logout {
        /// Target.
        target: Iqn,
        /// Portal.
        portal: Portal,
        /// open-iscsi iface (`ifacename` in sysfs).
        iface: String,
        /// Session id (N of `sessionN`).
        sid: u32,
    },
    /// `iscsiadm -m node -T -p -I IFACE -o delete`, so no boot-time or
    /// `-L all` login brings the session back. Node records are per
    /// (target, portal, iface): the other ifaces' records stay.
    DeleteNode {
        /// Target.
        target: Iqn,
        /// Portal.
        portal: Portal,
        /// open-iscsi iface.
        iface: String,
    },
}

impl Action {
    /// The iSCSI target this action belongs to, for the per-target lock.
    pub fn target(&self) -> Option<&Iqn> {
        match self {
            Self::Login { target, .. }
            | Self::ScanLun { target, .. }
            | Self::Logout { target, .. }
            | Self::DeleteNode { target, .. } => Some(target),
            _ => None,
        }
    }

    /// Whether the action can lose data or make a device disappear.
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            Self::DisableQueueing { .. }
                | Self::FlushMap { .. }
                | Self::RemoveFromMap { .. }
                | Self::DeletePaths { .. }
                | Self::Logout { .. }
                | Self::DeleteNode { .. }
        )
    }

    /// Every name [`Action::kind`] returns, in plan order: what `history --kind` accepts.
    pub const KINDS: [&'static str; 14] = [
        "login",
        "register_wwid",
        "scan_lun",
        "rescan_device",
        "multipath_add",
        "disable_queueing",
        "flush_buffers",
        "flush_map",
        "remove_from_map",
        "delete_paths",
        "wait_gone",
        "logout",
        "delete_node",
        "forget_wwid",
    ];

    /// Short name of the variant, for logs and spans.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Login { .. } => "login",
            Self::ScanLun { .. } => "scan_lun",
            Self::RescanDevice { .. } => "rescan_device",
            Self::MultipathAdd { .. } => "multipath_add",
            Self::RegisterWwid { .. } => "register_wwid",
            Self::ForgetWwid { .. } => "forget_wwid",
            Self::DisableQueueing { .. } => "disable_queueing",
            Self::FlushBuffers { .. } => "flush_buffers",
            Self::FlushMap { .. } => "flush_map",
            Self::RemoveFromMap { .. } => "remove_from_map",
            Self::DeletePaths { .. } => "delete_paths",
            Self::WaitGone { .. } => "wait_gone",
            Self::Logout { .. } => "logout",
            Self::DeleteNode { .. } => "delete_node",
        }
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Login { target, portal } => {
                write!(f, "login {target} at {portal} (node.session.scan=manual)")
            }
            Self::ScanLun { target, hctl } => write!(
                f,
                "scan {hctl} (\"{} {} {}\" > host{}/scan) of {target}",
                hctl.channel, hctl.target, hctl.lun, hctl.host
            ),
            Self::MultipathAdd { wwid, path } => {
                write!(f, "add multipath map for {wwid} from {path}")
            }
            Self::RegisterWwid { wwid } => write!(
                f,
                "register {} in multipathd's wwids file (multipath -a)",
                wwid.multipath_id().as_deref().unwrap_or(wwid.as_str())
            ),
            Self::ForgetWwid { id } => {
                write!(f, "remove {id} from multipathd's wwids file (multipath -w)")
            }
            Self::RescanDevice { hctl, wwid } => write!(
                f,
                "rescan {hctl} (1 > device/rescan): re-read its identity, cached {}",
                wwid.as_ref().map_or("none", Wwid::as_str)
            ),
            Self::DisableQueueing { map } => write!(
                f,
                "disable queueing on map {} ({}): fail_if_no_path",
                map.name, map.kernel_name
            ),
            Self::FlushBuffers { name, dev } => write!(f, "flush buffers of {name} ({dev})"),
            Self::FlushMap { map, .. } => {
                write!(f, "flush map {} ({})", map.name, map.kernel_name)
            }
            Self::RemoveFromMap { map, path } => write!(
                f,
                "take {path} out of map {} ({}) (multipathd del path)",
                map.name, map.kernel_name
            ),
            Self::DeletePaths { map, paths } => {
                let wwids: Vec<&Wwid> = paths.iter().map(|p| &p.wwid).collect();
                let wwid = wwids.first().map(|w| w.as_str()).unwrap_or("?");
                match map {
                    Some(m) => write!(f, "remove {} of map {m} ({wwid})", join(paths)),
                    None => write!(f, "remove {} ({wwid})", join(paths)),
                }
            }
            Self::WaitGone {
                paths,
                map,
                timeout,
            } => {
                let mut what: Vec<String> = paths.iter().map(ToString::to_string).collect();
                what.extend(map.iter().cloned());
                write!(
                    f,
                    "wait up to {}s for {} to disappear",
                    timeout.as_secs(),
                    what.join(", ")
                )
            }
            Self::Logout {
                target,
                portal,
                iface,
                sid,
            } => write!(
                f,
                "logout session{sid} ({target} at {portal} via iface {iface})"
            ),
            Self::DeleteNode {
                target,
                portal,
                iface,
            } => write!(f, "delete node record {target} at {portal} iface {iface}"),
        }
    }
}

/// What the executor does when a step fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Skip the rest of this step's group and every step that needs it (a
    /// failed flush keeps the device: no data loss).
    Stop,
    /// Record the failure and go on (only with `force`, or for steps whose
    /// failure leaves nothing worse behind).
    Continue,
}

/// A set of steps that succeed or stop together (one LUN's removal, one
/// session's logout, one attach).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupId(pub u32);

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What to do.
    pub action: Action,
    /// Why, for the operator.
    pub reason: String,
    /// What a failure of this step means for the rest.
    pub on_failure: OnFailure,
    /// The group this step belongs to.
    pub group: GroupId,
    /// Groups that must have completed without a `Stop` failure first
    /// (a logout needs the removals of the session's LUNs).
    pub needs: Vec<GroupId>,
    /// The iSCSI targets this step's group touches: the executor holds their
    /// locks for the whole group, so our own scan never races our own detach.
    pub targets: Vec<Iqn>,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.action, self.reason)
    }
}
