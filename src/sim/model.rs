//! The plain data the simulated host is made of: the array's targets and
//! LUNs, the initiator's node records and sessions, SCSI devices, multipath
//! maps and uses. Public so tests and the demo can compare what the sim says
//! it has with what `observe::snapshot` reads back. No IO here.

use crate::model::{DevT, DmName, Hctl, Iqn, Portal, ScsiDeviceState, Wwid};

/// open-iscsi's built-in software iface, the one a login without `-I`
/// creates its record for (and the one lunguard logs in through).
pub const DEFAULT_IFACE: &str = "default";

/// open-iscsi's `node.session.scan`: whether a login scans the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanMode {
    /// `auto` (the default): iscsid scans at login and adds every LUN the
    /// target exports — the autoscan problem lunguard avoids.
    Automatic,
    /// `manual`: the login adds no LUN; each is added by a narrowed scan.
    Manual,
}

/// How the simulated multipathd names new maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FriendlyNames {
    /// `user_friendly_names no`: the map is named after the WWID (`3600140…`).
    Wwid,
    /// `user_friendly_names yes`: `mpatha`, `mpathb`, … (bindings kept per WWID).
    Mpath,
}

/// One LUN on the simulated array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLun {
    /// LUN number.
    pub lun: u64,
    /// Its WWID (what `device/wwid` shows).
    pub wwid: Wwid,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Whether it is mapped to our initiator (REPORT LUNS lists it, I/O works).
    pub exported: bool,
}

/// One target on the simulated array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTarget {
    /// Target name.
    pub iqn: Iqn,
    /// Portals it listens on.
    pub portals: Vec<Portal>,
    /// Its LUNs, by number.
    pub luns: Vec<SimLun>,
}

impl SimTarget {
    pub(super) fn lun(&self, lun: u64) -> Option<&SimLun> {
        self.luns.iter().find(|l| l.lun == lun)
    }

    pub(super) fn lun_mut(&mut self, lun: u64) -> Option<&mut SimLun> {
        self.luns.iter_mut().find(|l| l.lun == lun)
    }
}

/// An open-iscsi node record (`/etc/iscsi/nodes/<target>/<portal>/<iface>`):
/// one per (target, portal, iface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimNode {
    /// Target.
    pub target: Iqn,
    /// Portal.
    pub portal: Portal,
    /// open-iscsi iface (`default` unless another was named).
    pub iface: String,
    /// `node.session.scan`.
    pub scan: ScanMode,
}

/// A logged-in iSCSI session (one connection, one SCSI host, target id 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSession {
    /// Session id (N of `sessionN`).
    pub sid: u32,
    /// SCSI host number the session's LUNs appear on.
    pub host: u32,
    /// Target.
    pub target: Iqn,
    /// Portal.
    pub portal: Portal,
    /// open-iscsi iface the session went through (sysfs `ifacename`).
    pub iface: String,
}

/// One SCSI disk (one path to a LUN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDevice {
    /// Address.
    pub hctl: Hctl,
    /// The session it is under.
    pub sid: u32,
    /// The target it belongs to.
    pub target: Iqn,
    /// Block device name (`sdc`).
    pub block: String,
    /// Block device number.
    pub dev: DevT,
    /// WWID.
    pub wwid: Wwid,
    /// Size in bytes.
    pub size_bytes: u64,
    /// `device/state`.
    pub state: ScsiDeviceState,
    /// I/O fails (the LUN was unexported): multipathd reports the path failed.
    pub failed: bool,
}

/// A multipath map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMap {
    /// The real map name (`dm/name`).
    pub name: DmName,
    /// N of `dm-N`.
    pub n: u32,
    /// Device number.
    pub dev: DevT,
    /// The LUN's WWID.
    pub wwid: Wwid,
    /// `dm/uuid`: `mpath-<multipath id>`.
    pub uuid: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Kernel names of its paths, in the order they joined.
    pub slaves: Vec<String>,
    /// `queue_if_no_path` is on (until `DisableQueueing`).
    pub queueing: bool,
}

impl SimMap {
    /// `dm-N`.
    pub fn kernel_name(&self) -> String {
        format!("dm-{}", self.n)
    }
}

/// A mount in `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMount {
    /// The mounted block device.
    pub dev: DevT,
    /// Its kernel name (`dm-0`, `sdc`).
    pub kernel_name: String,
    /// Where.
    pub mount_point: String,
    /// The source as mount(8) shows it (`/dev/mapper/mpatha`).
    pub source: String,
}
