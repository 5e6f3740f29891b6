//! Snapshot tests on fake trees built by `crate::testing`.

use std::fs;
use std::os::unix::fs::symlink;

use super::*;
use crate::model::{DevT, Hctl, ScsiDeviceState};
use crate::snapshot::{DmKind, HostTransport, WwidSource};
use crate::testing::{EXAMPLE_TARGET, EXAMPLE_WWID, FakeDisk, FakeTree, example};

fn dev<'a>(s: &'a Snapshot, hctl: &str) -> &'a crate::snapshot::ScsiDevice {
    let h: Hctl = hctl.parse().unwrap();
    s.devices.iter().find(|d| d.hctl == h).unwrap()
}

#[test]
fn example_machine_is_read_completely_and_without_problems() {
    let t = tempfile::tempdir().unwrap();
    let fake = example(t.path()).unwrap();
    let s = snapshot(&fake.roots());
    assert!(s.all_problems().is_empty(), "{:#?}", s.all_problems());

    let hosts: Vec<(u32, Option<&str>, HostTransport)> = s
        .hosts
        .iter()
        .map(|h| (h.host, h.proc_name.as_deref(), h.transport))
        .collect();
    assert_eq!(
        hosts,
        [
            (2, Some("scsi_debug"), HostTransport::Other),
            (3, Some("iscsi_tcp"), HostTransport::Iscsi),
            (4, Some("iscsi_tcp"), HostTransport::Iscsi),
        ]
    );

    assert_eq!(s.iscsi_sessions.len(), 2);
    let s1 = &s.iscsi_sessions[0];
    assert_eq!((s1.id, s1.host), (1, Some(3)));
    assert_eq!(s1.target.as_ref().unwrap().as_str(), EXAMPLE_TARGET);
    assert_eq!(s1.state.as_deref(), Some("LOGGED_IN"));
    assert_eq!(s1.tpgt, Some(1));
    assert_eq!(s1.portal().unwrap().to_string(), "192.0.2.10:3260");
    assert_eq!(
        s.iscsi_sessions[1].portal().unwrap().to_string(),
        "[2001:db8::10]:3260"
    );
    assert_eq!(s.iscsi_sessions[1].host, Some(4));

    let sda = dev(&s, "2:0:0:0");
    assert_eq!(sda.vendor.as_deref(), Some("Linux"));
    assert_eq!(sda.model.as_deref(), Some("scsi_debug"));
    assert_eq!(
        sda.wwid.as_ref().unwrap().as_str(),
        "t10.Linux   scsi_debug  2000"
    );
    assert_eq!(sda.wwid_source, Some(WwidSource::VpdPg83));
    assert_eq!(sda.iscsi_session, None);

    let sdb = dev(&s, "3:0:0:1");
    assert_eq!(sdb.wwid.as_ref().unwrap().as_str(), EXAMPLE_WWID);
    assert_eq!(sdb.wwid_source, Some(WwidSource::Wwid));
    assert_eq!(sdb.state, Some(ScsiDeviceState::Running));
    assert_eq!(sdb.iscsi_session, Some(1));
    assert_eq!(sdb.iorequest_cnt, Some(0x2a));
    let b = sdb.block.as_ref().unwrap();
    assert_eq!(
        (b.name.as_str(), b.dev, b.size_bytes),
        ("sdb", Some(DevT::new(8, 16)), Some(1 << 30))
    );
    assert_eq!(b.holders, ["dm-0"]);
    assert_eq!(dev(&s, "4:0:0:1").iscsi_session, Some(2));

    assert_eq!(s.dm_devices.len(), 2);
    let m = &s.dm_devices[0];
    assert_eq!(m.name.as_ref().unwrap().as_str(), "mpatha");
    assert_eq!(m.kind, DmKind::Multipath);
    assert_eq!(m.slaves, ["sdb", "sdc"]);
    assert_eq!(m.holders, ["dm-1"]);
    assert_eq!(
        m.multipath_id(),
        sdb.wwid.as_ref().unwrap().multipath_id().as_deref()
    );
    assert_eq!(s.dm_devices[1].kind, DmKind::Lvm);
    assert_eq!(
        s.dm_over("sdc").map(|d| d.kernel_name.as_str()),
        Some("dm-0")
    );

    assert_eq!(
        s.mounts_of(DevT::new(253, 1))
            .map(|m| m.mount_point.as_str())
            .collect::<Vec<_>>(),
        ["/mnt/data"]
    );
    assert_eq!(s.swaps.len(), 1);
    assert_eq!(s.swaps[0].dev, None);
}

#[test]
fn missing_scsi_host_class_is_an_empty_snapshot_with_one_problem() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir_all(t.path().join("sys/block")).unwrap();
    fs::create_dir_all(t.path().join("proc/self")).unwrap();
    fs::write(t.path().join("proc/self/mountinfo"), "").unwrap();
    let s = snapshot(&Roots::fixture(t.path()));
    assert!(s.hosts.is_empty() && s.devices.is_empty());
    let problems = s.all_problems();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].what, NO_SCSI);
}

#[test]
fn missing_and_malformed_attributes_become_per_device_problems() {
    let t = tempfile::tempdir().unwrap();
    let fake = example(t.path()).unwrap();
    let d = "devices/platform/host3/session1/target3:0:0/3:0:0:1";
    fake.remove(&format!("{d}/vendor")).unwrap();
    fake.write(&format!("{d}/block/sdb/dev"), "eight:sixteen\n")
        .unwrap();
    fake.write("devices/virtual/block/dm-0/size", "lots\n")
        .unwrap();
    let s = snapshot(&fake.roots());

    let sdb = dev(&s, "3:0:0:1");
    assert_eq!(sdb.vendor, None);
    assert_eq!(
        sdb.model.as_deref(),
        Some("block1"),
        "rest of the device still read"
    );
    assert_eq!(sdb.block.as_ref().unwrap().dev, None);
    let whats: Vec<(&str, &str)> = sdb
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.what.as_str()))
        .collect();
    assert_eq!(whats.len(), 2, "{whats:#?}");
    assert!(
        whats[0]
            .0
            .ends_with("class/scsi_device/3:0:0:1/device/vendor"),
        "{whats:?}"
    );
    assert!(whats[0].1.starts_with("cannot read"), "{whats:?}");
    assert!(whats[1].1.contains("eight:sixteen"), "{whats:?}");

    assert_eq!(s.dm_devices[0].size_bytes, None);
    assert_eq!(s.dm_devices[0].problems.len(), 1);
    assert!(
        dev(&s, "4:0:0:1").problems.is_empty(),
        "other paths unaffected"
    );
    assert_eq!(s.all_problems().len(), 3);
}

#[test]
fn absolute_symlink_is_confined_to_the_root() {
    // A fixture whose link points at "/devices/..." must read the fixture's
    // devices/, never the host's /sys/devices.
    let t = tempfile::tempdir().unwrap();
    let fake = FakeTree::new(t.path()).unwrap();
    fake.add_scsi_debug_host(7).unwrap();
    fs::remove_file(fake.sys_path("class/scsi_host/host7")).unwrap();
    symlink(
        "/devices/pseudo_0/adapter0/host7/scsi_host/host7",
        fake.sys_path("class/scsi_host/host7"),
    )
    .unwrap();
    let s = snapshot(&fake.roots());
    assert_eq!(s.hosts[0].proc_name.as_deref(), Some("scsi_debug"));
}

#[test]
fn device_without_wwid_or_vpd_has_none_and_no_problem() {
    let t = tempfile::tempdir().unwrap();
    let fake = FakeTree::new(t.path()).unwrap();
    fake.add_scsi_debug_host(2).unwrap();
    let mut d = FakeDisk::new(Hctl::new(2, 0, 0, 0), "sda", DevT::new(8, 0));
    d.block = None;
    d.state = "offline".into();
    fake.add_disk(&d).unwrap();
    let s = snapshot(&fake.roots());
    let sda = dev(&s, "2:0:0:0");
    assert_eq!(sda.wwid, None);
    assert_eq!(sda.block, None);
    assert_eq!(sda.state, Some(ScsiDeviceState::Offline));
    assert!(s.all_problems().is_empty(), "{:#?}", s.all_problems());
}

#[test]
fn session_host_found_via_scsi_host_device_when_path_has_no_host() {
    let t = tempfile::tempdir().unwrap();
    let fake = example(t.path()).unwrap();
    // Re-home session1's class link somewhere without a hostN component.
    let is = "devices/platform/host3/session1/iscsi_session/session1";
    fake.remove("class/iscsi_session/session1").unwrap();
    fs::create_dir_all(fake.sys_path("devices/elsewhere")).unwrap();
    fs::rename(
        fake.sys_path(is),
        fake.sys_path("devices/elsewhere/session1"),
    )
    .unwrap();
    fake.link("class/iscsi_session/session1", "devices/elsewhere/session1")
        .unwrap();
    let s = snapshot(&fake.roots());
    assert_eq!(s.iscsi_sessions[0].host, Some(3));
}

#[test]
fn swap_on_mapper_path_maps_to_the_dm_device() {
    let t = tempfile::tempdir().unwrap();
    let fake = example(t.path()).unwrap();
    fake.add_swap("/dev/mapper/vg0-data", "partition").unwrap();
    fake.add_swap("/dev/sdc", "partition").unwrap();
    let s = snapshot(&fake.roots());
    let devs: Vec<Option<DevT>> = s.swaps.iter().map(|w| w.dev).collect();
    assert_eq!(
        devs,
        [None, Some(DevT::new(253, 1)), Some(DevT::new(8, 32))]
    );
}

#[test]
fn partitions_are_listed_with_holders() {
    let t = tempfile::tempdir().unwrap();
    let fake = example(t.path()).unwrap();
    fake.add_partition("sda", "sda1", DevT::new(8, 1), 4 << 20)
        .unwrap();
    let s = snapshot(&fake.roots());
    let parts = &dev(&s, "2:0:0:0").block.as_ref().unwrap().partitions;
    assert_eq!(parts.len(), 1);
    assert_eq!(
        (parts[0].name.as_str(), parts[0].dev, parts[0].size_bytes),
        ("sda1", Some(DevT::new(8, 1)), Some(4 << 20))
    );
}

#[test]
fn unparseable_target_name_is_a_problem_on_the_session() {
    let t = tempfile::tempdir().unwrap();
    let fake = example(t.path()).unwrap();
    fake.write(
        "devices/platform/host4/session2/iscsi_session/session2/targetname",
        "not-an-iqn\n",
    )
    .unwrap();
    let s = snapshot(&fake.roots());
    let s2 = &s.iscsi_sessions[1];
    assert_eq!(s2.target, None);
    assert_eq!(s2.problems.len(), 1);
    assert!(
        s2.problems[0].what.contains("not-an-iqn"),
        "{:?}",
        s2.problems
    );
}
