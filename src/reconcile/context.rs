//! `Context`: what the planner needs besides desired and observed state —
//! the clock, first-seen times, known targets, and the two facts sysfs does
//! not show (a map's open count, multipathd's path states).
//!
//! Plain data; the caller gathers it (store, `dmsetup info`, `multipathd
//! show paths`). No IO here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use crate::model::{DevT, DmName, Hctl, Iqn, Portal, Wwid};

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
        }
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

/// What a first-seen time is kept for. Printed and parsed as one line
/// (`path 3:0:0:2 naa.6001…`, `map mpatha`, `session iqn… 192.0.2.1:3260`)
/// so it can be a key in JSON and in the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviceKey {
    /// A SCSI device; a new WWID at the same address is a new device.
    Path {
        /// Address.
        hctl: Hctl,
        /// WWID, if readable.
        wwid: Option<Wwid>,
    },
    /// A multipath map, by its real name.
    Map {
        /// `dm/name`.
        name: DmName,
    },
    /// An iSCSI session, by target, portal and iface (two ifaces' sessions
    /// to one portal are two sessions).
    Session {
        /// Target.
        target: Iqn,
        /// Portal.
        portal: Portal,
        /// open-iscsi iface; `None` when sysfs did not say, and for keys
        /// stored before ifaces were part of the key (`session IQN PORTAL`).
        iface: Option<String>,
    },
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path {
                hctl,
                wwid: Some(w),
            } => write!(f, "path {hctl} {w}"),
            Self::Path { hctl, wwid: None } => write!(f, "path {hctl} -"),
            Self::Map { name } => write!(f, "map {name}"),
            Self::Session {
                target,
                portal,
                iface: None,
            } => write!(f, "session {target} {portal}"),
            Self::Session {
                target,
                portal,
                iface: Some(i),
            } => write!(f, "session {target} {portal} {i}"),
        }
    }
}

/// Why a string is not a device key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid device key {0:?}: expected `path H:C:T:L WWID|-`, `map NAME` or `session IQN PORTAL`"
)]
pub struct DeviceKeyError(pub String);

impl FromStr for DeviceKey {
    type Err = DeviceKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DeviceKeyError(s.to_owned());
        let (kind, rest) = s.split_once(' ').ok_or_else(err)?;
        match kind {
            "path" => {
                let (hctl, wwid) = rest.split_once(' ').ok_or_else(err)?;
                let hctl = hctl.parse().map_err(|_| err())?;
                let wwid = match wwid {
                    "-" => None,
                    w => Some(w.parse().map_err(|_| err())?),
                };
                Ok(Self::Path { hctl, wwid })
            }
            "map" => Ok(Self::Map {
                name: rest.parse().map_err(|_| err())?,
            }),
            "session" => {
                let (t, p) = rest.split_once(' ').ok_or_else(err)?;
                let (p, iface) = match p.split_once(' ') {
                    Some((p, i)) if !i.is_empty() => (p, Some(i.to_owned())),
                    Some(_) => return Err(err()),
                    None => (p, None),
                };
                Ok(Self::Session {
                    target: t.parse().map_err(|_| err())?,
                    portal: p.parse().map_err(|_| err())?,
                    iface,
                })
            }
            _ => Err(err()),
        }
    }
}

impl serde::Serialize for DeviceKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DeviceKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_roundtrip_through_text() {
        for s in [
            "path 3:0:0:2 naa.6001405abc",
            "path 3:0:0:2 t10.Linux   scsi_debug  2000",
            "path 0:0:0:0 -",
            "map mpatha",
            "session iqn.2003-01.org.example:t1 [2001:db8::1]:3260",
            "session iqn.2003-01.org.example:t1 192.0.2.1:3260 if2",
        ] {
            let k: DeviceKey = s.parse().unwrap();
            assert_eq!(k.to_string(), s);
        }
        assert!("disk sda".parse::<DeviceKey>().is_err());
    }

    #[test]
    fn session_keys_stored_before_ifaces_still_parse_as_iface_unknown() {
        let old: DeviceKey = "session iqn.2003-01.org.example:t1 192.0.2.1:3260"
            .parse()
            .unwrap();
        assert!(matches!(old, DeviceKey::Session { iface: None, .. }));
        let new: DeviceKey = "session iqn.2003-01.org.example:t1 192.0.2.1:3260 default"
            .parse()
            .unwrap();
        assert!(matches!(&new, DeviceKey::Session { iface: Some(i), .. } if i == "default"));
        assert_ne!(old, new);
    }
}
