//! The event → key mapping: which controller keys a uevent makes the
//! controller look at again. Pure; see docs/events.md for the table.
//!
//! Only names are taken from the event (the address in `DEVPATH`, the map
//! name in `DM_NAME`); nothing else in the payload reaches a decision.

use crate::model::Key;
use crate::model::{DmName, Hctl};

use super::{Action, Uevent};

/// The `SDEV_UA` value of the unit attention the kernel turns into a
/// uevent when a target's LUN inventory changed (`SDEV_EVT_LUN_CHANGE_REPORTED`).
pub const SDEV_UA_LUNS_CHANGED: &str = "REPORTED_LUNS_DATA_HAS_CHANGED";

/// The `SDEV_UA` value of a unit attention saying a device's INQUIRY data (its identity among
/// it) changed (`SDEV_EVT_INQUIRY_CHANGE_REPORTED`).
pub const SDEV_UA_INQUIRY_CHANGED: &str = "INQUIRY_DATA_HAS_CHANGED";

/// The keys whose *identity* `ev` says may have changed: the kernel keeps a device's WWID from
/// its first scan, so after a LUN inventory change (a remap: another LUN behind the same
/// address — seen in the test VM: the cached `device/wwid` stays the old one and multipathd
/// keeps the path active) or an INQUIRY change, the cached identity must be re-read
/// (`device/rescan`) before it is trusted. Empty for every other event.
pub fn identity_keys(ev: &Uevent) -> Vec<Key> {
    if ev.subsystem != "scsi" || ev.action != Action::Change {
        return Vec::new();
    }
    match ev.get("SDEV_UA") {
        Some(SDEV_UA_LUNS_CHANGED | SDEV_UA_INQUIRY_CHANGED) => keys(ev)
            .into_iter()
            .filter(|k| {
                matches!(k, Key::TargetLuns { .. })
                    || (ev.get("SDEV_UA") == Some(SDEV_UA_INQUIRY_CHANGED)
                        && matches!(k, Key::Device(_)))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The keys `ev` concerns; empty for events lunguard never governs (a loop
/// device, an NVMe disk, a `bdi` or `bsg` node).
pub fn keys(ev: &Uevent) -> Vec<Key> {
    let name = ev.sysname();
    match ev.subsystem.as_str() {
        "scsi" => scsi_keys(ev, name),
        "scsi_device" | "scsi_disk" => hctl(name).map(Key::Device).into_iter().collect(),
        "block" => block_keys(ev, name),
        "iscsi_session" => number_after(name, "session")
            .map(Key::Session)
            .into_iter()
            .collect(),
        // `connectionN:C` belongs to session N.
        "iscsi_connection" => name
            .strip_prefix("connection")
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.parse().ok())
            .map(Key::Session)
            .into_iter()
            .collect(),
        "scsi_host" | "iscsi_host" => number_after(name, "host")
            .map(Key::Host)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// `SUBSYSTEM=scsi` covers devices, targets and hosts; `DEVTYPE` says which.
fn scsi_keys(ev: &Uevent, name: &str) -> Vec<Key> {
    match ev.devtype.as_deref() {
        Some("scsi_target") => {
            // targetH:C:T — under an iSCSI session the session is the unit
            // that owns it; otherwise its host.
            if let Some(s) = session_in(&ev.devpath) {
                return vec![Key::Session(s)];
            }
            name.strip_prefix("target")
                .and_then(|r| r.split(':').next())
                .and_then(|h| h.parse().ok())
                .map(Key::Host)
                .into_iter()
                .collect()
        }
        Some("scsi_host") => number_after(name, "host")
            .map(Key::Host)
            .into_iter()
            .collect(),
        // scsi_device, or no DEVTYPE (older kernels): the name decides.
        _ => {
            let Some(h) = hctl(name) else {
                return Vec::new();
            };
            let mut keys = vec![Key::Device(h)];
            if ev.action == Action::Change && ev.get("SDEV_UA") == Some(SDEV_UA_LUNS_CHANGED) {
                keys.push(Key::TargetLuns {
                    host: h.host,
                    channel: h.channel,
                    target: h.target,
                });
            }
            keys
        }
    }
}

/// Disks and partitions under a SCSI device key by that device's address
/// (it is in the devpath: `…/0:0:0:2/block/sdc[/sdc1]`); dm devices by map
/// name when the event names a multipath map, else by kernel name.
fn block_keys(ev: &Uevent, name: &str) -> Vec<Key> {
    if let Some(h) = ev.devpath.split('/').rev().find_map(hctl) {
        return vec![Key::Device(h)];
    }
    if !name.starts_with("dm-") {
        return Vec::new();
    }
    let map = ev
        .get("DM_UUID")
        .filter(|u| u.starts_with("mpath-"))
        .and(ev.get("DM_NAME"))
        .and_then(|n| n.parse::<DmName>().ok());
    match map {
        Some(m) => vec![Key::Map(m)],
        // The kernel source has no DM_NAME on add/remove, and kpartx
        // partitions or LVs stacked on a map have other uuids: the reconcile
        // resolves the name against the snapshot.
        None => vec![Key::Block(name.to_owned())],
    }
}

fn hctl(s: &str) -> Option<Hctl> {
    s.parse().ok()
}

fn number_after(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?.parse().ok()
}

fn session_in(devpath: &str) -> Option<u32> {
    devpath.split('/').find_map(|c| number_after(c, "session"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::observe::uevent::Source;

    fn ev(action: &str, devpath: &str, subsystem: &str, extra: &[(&str, &str)]) -> Uevent {
        let mut p: BTreeMap<String, String> = [
            ("ACTION", action),
            ("DEVPATH", devpath),
            ("SUBSYSTEM", subsystem),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        p.entry("SEQNUM".into()).or_insert_with(|| "1".into());
        Uevent::from_properties(Source::Kernel, p).unwrap()
    }

    const DEV: &str = "/devices/platform/host0/session1/target0:0:0/0:0:0:2";

    #[test]
    fn scsi_device_events_key_by_address() {
        let h = Hctl::new(0, 0, 0, 2);
        for e in [
            ev("add", DEV, "scsi", &[("DEVTYPE", "scsi_device")]),
            ev(
                "remove",
                &format!("{DEV}/scsi_device/0:0:0:2"),
                "scsi_device",
                &[],
            ),
            ev("add", &format!("{DEV}/scsi_disk/0:0:0:2"), "scsi_disk", &[]),
            ev(
                "add",
                &format!("{DEV}/block/sdc"),
                "block",
                &[("DEVTYPE", "disk")],
            ),
            ev(
                "add",
                &format!("{DEV}/block/sdc/sdc1"),
                "block",
                &[("DEVTYPE", "partition")],
            ),
        ] {
            assert_eq!(keys(&e), [Key::Device(h)], "{e}");
        }
    }

    #[test]
    fn reported_luns_changed_adds_the_target_key() {
        let e = ev(
            "change",
            DEV,
            "scsi",
            &[
                ("DEVTYPE", "scsi_device"),
                ("SDEV_UA", SDEV_UA_LUNS_CHANGED),
            ],
        );
        assert_eq!(
            keys(&e),
            [
                Key::Device(Hctl::new(0, 0, 0, 2)),
                Key::TargetLuns {
                    host: 0,
                    channel: 0,
                    target: 0
                }
            ]
        );
        // Other unit attentions are only a look at the device itself.
        let reset = ev(
            "change",
            DEV,
            "scsi",
            &[
                ("DEVTYPE", "scsi_device"),
                ("SDEV_UA", "POWER_ON_RESET_OCCURRED"),
            ],
        );
        assert_eq!(keys(&reset), [Key::Device(Hctl::new(0, 0, 0, 2))]);
    }

    /// Issue 7, item 4: seen in the test VM, a LUN remapped behind the same address keeps its
    /// cached WWID and multipathd keeps the path active; the unit attention is the only sign.
    #[test]
    fn identity_is_in_doubt_only_after_lun_inventory_or_inquiry_changes() {
        let ua = |v: &str| {
            ev(
                "change",
                DEV,
                "scsi",
                &[("DEVTYPE", "scsi_device"), ("SDEV_UA", v)],
            )
        };
        assert_eq!(
            identity_keys(&ua(SDEV_UA_LUNS_CHANGED)),
            [Key::TargetLuns {
                host: 0,
                channel: 0,
                target: 0
            }]
        );
        assert_eq!(
            identity_keys(&ua(SDEV_UA_INQUIRY_CHANGED)),
            [Key::Device(Hctl::new(0, 0, 0, 2))]
        );
        assert!(identity_keys(&ua("POWER_ON_RESET_OCCURRED")).is_empty());
        assert!(identity_keys(&ev("add", DEV, "scsi", &[("DEVTYPE", "scsi_device")])).is_empty());
    }

    #[test]
    fn dm_events_key_by_map_name_when_known() {
        let named = ev(
            "change",
            "/devices/virtual/block/dm-2",
            "block",
            &[
                ("DM_NAME", "mpatha"),
                ("DM_UUID", "mpath-3600140500291fe600020000feed00000"),
            ],
        );
        assert_eq!(keys(&named), [Key::Map("mpatha".parse().unwrap())]);
        let bare = ev("add", "/devices/virtual/block/dm-2", "block", &[]);
        assert_eq!(keys(&bare), [Key::Block("dm-2".into())]);
        let lv = ev(
            "change",
            "/devices/virtual/block/dm-3",
            "block",
            &[("DM_NAME", "vg-lv"), ("DM_UUID", "LVM-abc")],
        );
        assert_eq!(keys(&lv), [Key::Block("dm-3".into())]);
    }

    #[test]
    fn out_of_scope_block_devices_give_no_key() {
        for p in [
            "/devices/virtual/block/loop0",
            "/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1",
            "/devices/pci0000:00/0000:00:05.0/virtio1/block/vda",
        ] {
            assert!(keys(&ev("add", p, "block", &[])).is_empty(), "{p}");
        }
        assert!(keys(&ev("add", "/devices/virtual/bdi/8:32", "bdi", &[])).is_empty());
    }

    #[test]
    fn sessions_connections_hosts_and_targets() {
        let s = ev(
            "add",
            "/devices/platform/host0/session1/iscsi_session/session1",
            "iscsi_session",
            &[],
        );
        assert_eq!(keys(&s), [Key::Session(1)]);
        let c = ev(
            "add",
            "/devices/platform/host0/session1/connection1:0/iscsi_connection/connection1:0",
            "iscsi_connection",
            &[],
        );
        assert_eq!(keys(&c), [Key::Session(1)]);
        let h = ev(
            "add",
            "/devices/platform/host0/scsi_host/host0",
            "scsi_host",
            &[],
        );
        assert_eq!(keys(&h), [Key::Host(0)]);
        let t = ev(
            "add",
            "/devices/platform/host0/session1/target0:0:0",
            "scsi",
            &[("DEVTYPE", "scsi_target")],
        );
        assert_eq!(keys(&t), [Key::Session(1)]);
        let fc_target = ev(
            "add",
            "/devices/pci0000:00/host4/rport-4:0-0/target4:0:0",
            "scsi",
            &[("DEVTYPE", "scsi_target")],
        );
        assert_eq!(keys(&fc_target), [Key::Host(4)]);
        let scsi_host = ev(
            "add",
            "/devices/platform/host0",
            "scsi",
            &[("DEVTYPE", "scsi_host")],
        );
        assert_eq!(keys(&scsi_host), [Key::Host(0)]);
    }
}
