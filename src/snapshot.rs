//! The owned, plain types a snapshot of the kernel's view is made of.
//!
//! Nothing here reads anything; these are what `observe::sysfs` hands out and
//! what tests build by hand. Field names are part of the `status --json`
//! schema (docs/status-json.md): add fields, never rename or remove.

use serde::{Deserialize, Serialize};

use crate::model::{DevT, DmName, Hctl, Iqn, Portal, ScsiDeviceState, Wwid};

/// Everything observed in one pass over sysfs and procfs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// SCSI hosts (`/sys/class/scsi_host/hostN`), by host number.
    pub hosts: Vec<ScsiHost>,
    /// iSCSI sessions (`/sys/class/iscsi_session/sessionN`), by id.
    pub iscsi_sessions: Vec<IscsiSession>,
    /// SCSI devices (`/sys/class/scsi_device/H:C:T:L`), by address.
    pub devices: Vec<ScsiDevice>,
    /// Device-mapper devices (`/sys/block/dm-N`), by N.
    pub dm_devices: Vec<DmDevice>,
    /// Mounts from `/proc/self/mountinfo`, in file order.
    pub mounts: Vec<Mount>,
    /// Active swap areas from `/proc/swaps`.
    pub swaps: Vec<Swap>,
    /// open-iscsi node records (`/etc/iscsi/nodes`), by target, portal and iface. Not the
    /// kernel's, but what a later `iscsiadm --loginall` would log in to: a detach interrupted
    /// after its logout leaves one behind.
    #[serde(default)]
    pub node_records: Vec<NodeRecord>,
    /// Problems not tied to one object (a missing directory, a bad mountinfo line).
    pub problems: Vec<Problem>,
}

/// Something that could not be read or made sense of. Never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The file or directory concerned, as a host path under the root.
    pub path: String,
    /// What was wrong.
    pub what: String,
}

/// How a SCSI host reaches its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostTransport {
    /// Has `/sys/class/iscsi_host/hostN`.
    Iscsi,
    /// Has `/sys/class/fc_host/hostN`.
    Fc,
    /// Anything else (scsi_debug, SAS, USB, virtio, …).
    Other,
}

/// A SCSI host adapter (HBA or software initiator instance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScsiHost {
    /// N in `hostN`.
    pub host: u32,
    /// Driver name (`proc_name`), e.g. `iscsi_tcp`, `scsi_debug`.
    pub proc_name: Option<String>,
    /// Host state (`state`), e.g. `running`, if the kernel exposes it.
    pub state: Option<String>,
    /// Transport class of the host.
    pub transport: HostTransport,
    /// Problems reading this host.
    pub problems: Vec<Problem>,
}

/// An iSCSI session and its connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IscsiSession {
    /// N in `sessionN` (the `sid` of `iscsiadm -m session`).
    pub id: u32,
    /// The SCSI host the session's LUNs appear on.
    pub host: Option<u32>,
    /// `targetname`.
    pub target: Option<Iqn>,
    /// `state`: `LOGGED_IN`, `FAILED` or `FREE`.
    pub state: Option<String>,
    /// `target_state` (newer kernels: `ALLOCATED`, `SCANNED`, `UNBINDING`,
    /// `UNBOUND`), if present.
    pub target_state: Option<String>,
    /// `tpgt` (target portal group tag), if present.
    pub tpgt: Option<i32>,
    /// `ifacename` (open-iscsi iface), if present.
    pub ifacename: Option<String>,
    /// `initiatorname`, if present.
    pub initiatorname: Option<String>,
    /// Connections `connectionN:C`, by C.
    pub connections: Vec<IscsiConnection>,
    /// Problems reading this session.
    pub problems: Vec<Problem>,
}

impl IscsiSession {
    /// The portal of the session's first connection (there is one per
    /// session with open-iscsi).
    pub fn portal(&self) -> Option<Portal> {
        self.connections.iter().find_map(|c| c.portal)
    }
}

/// An open-iscsi node record: `<nodes>/<target>/<address>,<port>,<tpgt>/<iface>`, or an older
/// open-iscsi's file per portal, `<nodes>/<target>/<address>,<port>[,<tpgt>]`, which is the
/// `default` iface's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The target's iSCSI name (the directory's name).
    pub target: Iqn,
    /// The portal (address and port of the portal's name).
    pub portal: Portal,
    /// The target portal group tag, if the name has one.
    pub tpgt: Option<i32>,
    /// The open-iscsi iface (`iscsiadm -I`).
    pub iface: String,
}

/// One connection of an iSCSI session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IscsiConnection {
    /// `N:C` of `connectionN:C`.
    pub id: String,
    /// From `persistent_address`/`persistent_port`, else `address`/`port`.
    pub portal: Option<Portal>,
    /// Connection `state`, if the kernel exposes it.
    pub state: Option<String>,
}

/// Where a device's WWID was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WwidSource {
    /// The kernel's `device/wwid` attribute.
    Wwid,
    /// Derived from the raw `device/vpd_pg83` page.
    VpdPg83,
}

/// A SCSI device (one path to a LUN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScsiDevice {
    /// Its address.
    pub hctl: Hctl,
    /// `vendor`, trimmed.
    pub vendor: Option<String>,
    /// `model`, trimmed.
    pub model: Option<String>,
    /// `rev`, trimmed.
    pub rev: Option<String>,
    /// `state`.
    pub state: Option<ScsiDeviceState>,
    /// The LUN's WWID in the kernel's form.
    pub wwid: Option<Wwid>,
    /// Where `wwid` came from.
    pub wwid_source: Option<WwidSource>,
    /// `device_blocked` (queue blocked count), if present.
    pub device_blocked: Option<u32>,
    /// `iorequest_cnt`, if present.
    pub iorequest_cnt: Option<u64>,
    /// The iSCSI session this device is under, from its sysfs path.
    pub iscsi_session: Option<u32>,
    /// The disk's block device, if it has one (sd bound).
    pub block: Option<BlockDevice>,
    /// Problems reading this device.
    pub problems: Vec<Problem>,
}

/// A whole-disk block device (e.g. `sdb`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockDevice {
    /// Kernel name, e.g. `sdb`.
    pub name: String,
    /// `dev`, e.g. `8:16`.
    pub dev: Option<DevT>,
    /// `size` × 512.
    pub size_bytes: Option<u64>,
    /// `ro` = 1.
    pub read_only: Option<bool>,
    /// Names in `holders/` (e.g. `dm-0`).
    pub holders: Vec<String>,
    /// Partitions (`sdb1`, …).
    pub partitions: Vec<Partition>,
}

/// A partition of a block device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    /// Kernel name, e.g. `sdb1`.
    pub name: String,
    /// `dev`.
    pub dev: Option<DevT>,
    /// `size` × 512.
    pub size_bytes: Option<u64>,
    /// Names in `holders/`.
    pub holders: Vec<String>,
}

/// What a device-mapper device is, from its dm uuid prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DmKind {
    /// `mpath-…`: a multipath map.
    Multipath,
    /// `partN-mpath-…`: a kpartx partition on a multipath map.
    MultipathPartition,
    /// `LVM-…`: an LVM logical volume.
    Lvm,
    /// `CRYPT-…`: dm-crypt.
    Crypt,
    /// No uuid or another prefix.
    Other,
}

impl DmKind {
    /// Classifies a dm uuid.
    pub fn from_uuid(uuid: Option<&str>) -> Self {
        let Some(u) = uuid else { return Self::Other };
        if u.starts_with("mpath-") {
            return Self::Multipath;
        }
        if let Some(rest) = u.strip_prefix("part") {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 && rest[digits..].starts_with("-mpath-") {
                return Self::MultipathPartition;
            }
        }
        if u.starts_with("LVM-") {
            Self::Lvm
        } else if u.starts_with("CRYPT-") {
            Self::Crypt
        } else {
            Self::Other
        }
    }
}

/// A device-mapper device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DmDevice {
    /// Kernel name, `dm-N`.
    pub kernel_name: String,
    /// `dm/name`: the map name to use with `multipath -f` / `dmsetup`.
    pub name: Option<DmName>,
    /// `dm/uuid`, `None` if empty.
    pub uuid: Option<String>,
    /// Kind, from the uuid.
    pub kind: DmKind,
    /// `dm/suspended` = 1.
    pub suspended: Option<bool>,
    /// `dev`.
    pub dev: Option<DevT>,
    /// `size` × 512.
    pub size_bytes: Option<u64>,
    /// `ro` = 1.
    pub read_only: Option<bool>,
    /// Names in `slaves/` (the paths, e.g. `sdb`, `sdc`).
    pub slaves: Vec<String>,
    /// Names in `holders/` (e.g. an LV `dm-3` on top).
    pub holders: Vec<String>,
    /// Problems reading this device.
    pub problems: Vec<Problem>,
}

impl DmDevice {
    /// For a multipath map, the multipath id after `mpath-` in the uuid.
    pub fn multipath_id(&self) -> Option<&str> {
        match self.kind {
            DmKind::Multipath => self.uuid.as_deref().and_then(|u| u.strip_prefix("mpath-")),
            _ => None,
        }
    }
}

/// One mount from `mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Field 3, `major:minor` of the mounted device.
    pub dev: DevT,
    /// Mount point, unescaped.
    pub mount_point: String,
    /// Mount source (e.g. `/dev/mapper/mpatha`), unescaped.
    pub source: String,
    /// Filesystem type.
    pub fstype: String,
}

/// One active swap area from `/proc/swaps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Swap {
    /// As listed, e.g. `/dev/dm-3` or `/swapfile`.
    pub filename: String,
    /// `partition` or `file`.
    pub kind: String,
    /// The block device, when `filename` names one that could be found.
    pub dev: Option<DevT>,
}

impl Snapshot {
    /// Every problem: global ones first, then per object.
    pub fn all_problems(&self) -> Vec<&Problem> {
        let mut all: Vec<&Problem> = self.problems.iter().collect();
        all.extend(self.hosts.iter().flat_map(|h| &h.problems));
        all.extend(self.iscsi_sessions.iter().flat_map(|s| &s.problems));
        all.extend(self.devices.iter().flat_map(|d| &d.problems));
        all.extend(self.dm_devices.iter().flat_map(|d| &d.problems));
        all
    }

    /// The dm device that has block device `name` among its slaves.
    pub fn dm_over(&self, name: &str) -> Option<&DmDevice> {
        self.dm_devices
            .iter()
            .find(|d| d.slaves.iter().any(|s| s == name))
    }

    /// The host with number `n`.
    pub fn host(&self, n: u32) -> Option<&ScsiHost> {
        self.hosts.iter().find(|h| h.host == n)
    }

    /// Mount points of device `dev`.
    pub fn mounts_of(&self, dev: DevT) -> impl Iterator<Item = &Mount> {
        self.mounts.iter().filter(move |m| m.dev == dev)
    }

    /// Swap areas on device `dev`.
    pub fn swaps_of(&self, dev: DevT) -> impl Iterator<Item = &Swap> {
        self.swaps.iter().filter(move |s| s.dev == Some(dev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_kind_from_uuid() {
        assert_eq!(
            DmKind::from_uuid(Some("mpath-36001405abc")),
            DmKind::Multipath
        );
        assert_eq!(
            DmKind::from_uuid(Some("part1-mpath-36001405abc")),
            DmKind::MultipathPartition
        );
        assert_eq!(DmKind::from_uuid(Some("part-mpath-3")), DmKind::Other);
        assert_eq!(DmKind::from_uuid(Some("LVM-abcdef")), DmKind::Lvm);
        assert_eq!(DmKind::from_uuid(Some("CRYPT-LUKS2-x")), DmKind::Crypt);
        assert_eq!(DmKind::from_uuid(None), DmKind::Other);
    }
}

/// A path's state as multipathd reports it (dm state `%t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathState {
    /// `active`: usable.
    Active,
    /// `failed` (checker says faulty, or the path is gone below).
    Failed,
}

/// The kernel's answer to an exclusive open of a block device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimState {
    /// The open succeeded: nothing holds the device (in any mount namespace).
    Free,
    /// `EBUSY`: mounted, swap, or held, possibly in another mount namespace.
    Busy,
    /// The kernel could not be asked (permission, wrong node, no answer): maybe in use.
    Unknown(String),
}
