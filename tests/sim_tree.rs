//! Tier 2: the simulated host's tree is read by the real observer exactly as
//! the sim describes it (zero problems), and each change is announced with
//! the uevents the kernel and udev send.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use lunguard::model::Hctl;
use lunguard::observe::snapshot;
use lunguard::observe::uevent::{Action, SDEV_UA_LUNS_CHANGED, Source, Uevent, keys};
use lunguard::sim::{FriendlyNames, Lab, ScanMode, SimError, SimHost, lio_wwid, scratch_root};
use lunguard::snapshot::PathState;
use lunguard::snapshot::{DmKind, Snapshot};
use tokio::sync::mpsc::UnboundedReceiver;

fn lab(luns: u64) -> (tempfile::TempDir, Lab) {
    let dir = tempfile::tempdir_in(scratch_root()).unwrap();
    let lab = Lab::new(dir.path(), luns).unwrap();
    (dir, lab)
}

fn drain(rx: &mut UnboundedReceiver<Uevent>) -> Vec<Uevent> {
    let mut v = Vec::new();
    while let Ok(e) = rx.try_recv() {
        v.push(e);
    }
    v
}

/// Everything the sim says it has, compared with what the observer reads.
fn assert_agrees(sim: &SimHost) -> Snapshot {
    let snap = snapshot(&sim.roots());
    assert!(
        snap.all_problems().is_empty(),
        "problems: {:#?}",
        snap.all_problems()
    );
    let sessions = sim.sessions();
    assert_eq!(snap.iscsi_sessions.len(), sessions.len());
    for s in &sessions {
        let o = snap
            .iscsi_sessions
            .iter()
            .find(|o| o.id == s.sid)
            .expect("session observed");
        assert_eq!(o.host, Some(s.host));
        assert_eq!(o.target.as_ref(), Some(&s.target));
        assert_eq!(o.portal(), Some(s.portal));
        assert_eq!(o.state.as_deref(), Some("LOGGED_IN"));
    }
    let devices = sim.devices();
    assert_eq!(
        snap.devices.iter().map(|d| d.hctl).collect::<Vec<_>>(),
        devices.iter().map(|d| d.hctl).collect::<Vec<_>>()
    );
    for (o, d) in snap.devices.iter().zip(&devices) {
        assert_eq!(o.wwid.as_ref(), Some(&d.wwid));
        assert_eq!(o.iscsi_session, Some(d.sid));
        assert_eq!(o.state.as_ref(), Some(&d.state));
        let b = o.block.as_ref().expect("disk");
        assert_eq!((b.name.as_str(), b.dev), (d.block.as_str(), Some(d.dev)));
        assert_eq!(b.size_bytes, Some(d.size_bytes));
    }
    let maps = sim.maps();
    let observed: Vec<_> = snap
        .dm_devices
        .iter()
        .filter(|m| m.kind == DmKind::Multipath)
        .collect();
    assert_eq!(observed.len(), maps.len());
    for (o, m) in observed.iter().zip(&maps) {
        assert_eq!(o.kernel_name, m.kernel_name());
        assert_eq!(o.name.as_ref(), Some(&m.name));
        assert_eq!(o.uuid.as_deref(), Some(m.uuid.as_str()));
        assert_eq!(o.dev, Some(m.dev));
        let slaves: BTreeSet<&String> = o.slaves.iter().collect();
        assert_eq!(slaves, m.slaves.iter().collect());
        for s in &m.slaves {
            let d = snap
                .devices
                .iter()
                .find(|d| d.block.as_ref().is_some_and(|b| &b.name == s))
                .expect("slave is a disk");
            assert_eq!(
                d.block.as_ref().map(|b| b.holders.clone()),
                Some(vec![m.kernel_name()])
            );
        }
    }
    snap
}

#[test]
fn manual_login_adds_no_lun_and_narrowed_scan_adds_exactly_one() {
    let (_d, lab) = lab(8);
    let s = lab
        .sim
        .login(&lab.target, &lab.portals[0], ScanMode::Manual)
        .unwrap();
    assert!(lab.sim.devices().is_empty());
    assert_agrees(&lab.sim);
    assert_eq!(
        lab.sim.scan(s.host, "0 0 5").unwrap(),
        [Hctl::new(s.host, 0, 0, 5)]
    );
    // Idempotent, like the kernel: a present LUN is not added twice.
    assert!(lab.sim.scan(s.host, "0 0 5").unwrap().is_empty());
    let snap = assert_agrees(&lab.sim);
    assert_eq!(snap.devices.len(), 1);
    assert_eq!(snap.devices[0].wwid.as_ref(), Some(&lab.wwid(5)));
}

#[test]
fn automatic_login_scans_every_exported_lun() {
    let (_d, lab) = lab(8);
    lab.sim.unexport(&lab.target, 7).unwrap();
    for p in &lab.portals {
        lab.sim.login(&lab.target, p, ScanMode::Automatic).unwrap();
    }
    assert_eq!(lab.sim.devices().len(), 14);
    // multipathd built one map per LUN over both paths, named mpatha….
    let maps = lab.sim.maps();
    assert_eq!(maps.len(), 7);
    assert!(maps.iter().all(|m| m.slaves.len() == 2));
    assert_eq!(maps[0].name.as_str(), "mpatha");
    assert_agrees(&lab.sim);
}

#[test]
fn broad_rescan_brings_back_deleted_luns_and_the_last_path_takes_its_map() {
    let (_d, lab) = lab(4);
    lab.sim.set_friendly_names(FriendlyNames::Wwid);
    let s = lab
        .sim
        .login(&lab.target, &lab.portals[0], ScanMode::Manual)
        .unwrap();
    lab.sim.scan(s.host, "0 0 1").unwrap();
    let map = lab.sim.maps()[0].clone();
    assert_eq!(
        map.name.as_str(),
        lab.wwid(1).multipath_id().unwrap().as_str()
    );
    // The last path gone and nothing open: multipathd removes the map.
    assert!(lab.sim.delete(Hctl::new(s.host, 0, 0, 1)).unwrap());
    assert!(lab.sim.maps().is_empty());
    assert!(!lab.sim.delete(Hctl::new(s.host, 0, 0, 1)).unwrap());
    assert_eq!(lab.sim.broad_rescan(s.host).unwrap().len(), 4);
    assert_agrees(&lab.sim);
    assert!(lab.sim.logout(&lab.target, &lab.portals[0]).unwrap());
    let snap = assert_agrees(&lab.sim);
    assert!(snap.devices.is_empty() && snap.hosts.is_empty());
    assert!(snap.dm_devices.is_empty());
}

#[test]
fn a_mounted_or_open_map_cannot_be_flushed() {
    let (_d, lab) = lab(2);
    for p in &lab.portals {
        lab.sim.login(&lab.target, p, ScanMode::Automatic).unwrap();
    }
    lab.sim.mount("mpatha", "/srv/data").unwrap();
    let err = lab.sim.flush("mpatha").unwrap_err();
    assert!(matches!(err, SimError::MapInUse(_)), "{err}");
    assert_eq!(err.to_string(), "mpatha: map in use");
    let snap = assert_agrees(&lab.sim);
    let dev = lab.sim.maps()[0].dev;
    assert_eq!(snap.mounts_of(dev).count(), 1);
    assert_eq!(lab.sim.open_counts().get(&lab.sim.maps()[0].name), Some(&1));
    assert!(lab.sim.unmount("/srv/data").unwrap());
    lab.sim.set_open_count("mpathb", 2).unwrap();
    assert!(matches!(
        lab.sim.flush("mpathb"),
        Err(SimError::MapInUse(_))
    ));
    assert!(lab.sim.flush("mpatha").unwrap());
    assert!(!lab.sim.flush("mpatha").unwrap());
    assert_agrees(&lab.sim);
}

#[test]
fn login_announces_host_session_and_disks_like_the_kernel() {
    let (_d, lab) = lab(3);
    let mut rx = lab.sim.subscribe();
    let mut other = lab.sim.subscribe();
    let s = lab
        .sim
        .login(&lab.target, &lab.portals[0], ScanMode::Manual)
        .unwrap();
    lab.sim.scan(s.host, "0 0 2").unwrap();
    let evs = drain(&mut rx);
    assert_eq!(evs, drain(&mut other), "every subscriber gets every event");
    // Kernel then udev for each change, SEQNUMs increasing.
    let seqs: Vec<u64> = evs.iter().filter_map(|e| e.seqnum).collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        evs.chunks(2)
            .all(|p| p[0].source == Source::Kernel && p[1].source == Source::Udev)
    );
    let kernel: Vec<(String, &str)> = evs
        .iter()
        .filter(|e| e.source == Source::Kernel)
        .map(|e| (e.action.to_string(), e.subsystem.as_str()))
        .collect();
    let subsystems: Vec<&str> = kernel.iter().map(|(_, s)| *s).collect();
    for want in ["scsi_host", "iscsi_session", "scsi", "scsi_device", "block"] {
        assert!(subsystems.contains(&want), "{want} in {subsystems:?}");
    }
    let disk = evs
        .iter()
        .find(|e| {
            e.source == Source::Udev
                && e.subsystem == "block"
                && e.devtype.as_deref() == Some("disk")
                && e.action == Action::Add
                && !e.devpath.contains("dm-")
        })
        .expect("udev add of the disk");
    let serial = lab.wwid(2).multipath_id().unwrap();
    assert_eq!(disk.get("ID_SERIAL"), Some(serial.as_str()));
    assert!(disk.get("ID_WWN").is_some());
    assert_eq!(disk.devname.as_deref(), Some("/dev/sda"));
    // multipathd's map: udev's change names it; every event keys somewhere.
    let dm = evs
        .iter()
        .find(|e| {
            e.source == Source::Udev && e.devpath.ends_with("/dm-0") && e.action == Action::Change
        })
        .expect("dm change");
    assert_eq!(dm.get("DM_NAME"), Some("mpatha"));
    assert_eq!(dm.get("DM_UUID"), Some(format!("mpath-{serial}").as_str()));
    assert!(evs.iter().all(|e| !keys(e).is_empty()), "unkeyed event");
}

#[test]
fn a_new_lun_is_a_unit_attention_not_a_scan() {
    let (_d, lab) = lab(2);
    let s = lab
        .sim
        .login(&lab.target, &lab.portals[0], ScanMode::Manual)
        .unwrap();
    lab.sim.scan(s.host, "0 0 1").unwrap();
    let mut rx = lab.sim.subscribe();
    lab.sim.add_lun(&lab.target, 9, lio_wwid(99)).unwrap();
    let evs = drain(&mut rx);
    assert_eq!(evs.len(), 2);
    let e = &evs[0];
    assert_eq!(e.action, Action::Change);
    assert_eq!(e.get("SDEV_UA"), Some(SDEV_UA_LUNS_CHANGED));
    assert!(
        e.devpath
            .ends_with(&format!("/{}", Hctl::new(s.host, 0, 0, 1)))
    );
    assert_eq!(
        lab.sim.devices().len(),
        1,
        "the kernel does not scan by itself"
    );
    assert_eq!(lab.sim.scan(s.host, "- - 9").unwrap().len(), 1);
}

#[test]
fn an_unexported_lun_fails_its_paths() {
    let (_d, lab) = lab(2);
    for p in &lab.portals {
        lab.sim.login(&lab.target, p, ScanMode::Automatic).unwrap();
    }
    let mut rx = lab.sim.subscribe();
    lab.sim.unexport(&lab.target, 0).unwrap();
    let m = lab.sim.maps()[0].clone();
    let states = lab.sim.path_states();
    assert!(
        m.slaves
            .iter()
            .all(|s| states.get(s) == Some(&PathState::Failed))
    );
    assert_eq!(
        states.values().filter(|s| **s == PathState::Active).count(),
        2
    );
    let failed: Vec<Uevent> = drain(&mut rx)
        .into_iter()
        .filter(|e| e.source == Source::Kernel && e.get("DM_ACTION") == Some("PATH_FAILED"))
        .collect();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[1].get("DM_NR_VALID_PATHS"), Some("0"));
    // The next scan does not find it.
    let h = lab.sim.sessions()[0].host;
    lab.sim.delete(Hctl::new(h, 0, 0, 0)).unwrap();
    assert!(lab.sim.scan(h, "0 0 0").unwrap().is_empty());
    lab.sim.export(&lab.target, 0).unwrap();
    assert!(
        lab.sim
            .path_states()
            .values()
            .all(|s| *s == PathState::Active)
    );
    assert_agrees(&lab.sim);
}

#[test]
fn host_numbers_are_reused_and_session_ids_are_not() {
    let (_d, lab) = lab(1);
    let a = lab
        .sim
        .login(&lab.target, &lab.portals[0], ScanMode::Manual)
        .unwrap();
    lab.sim.logout(&lab.target, &lab.portals[0]).unwrap();
    let b = lab
        .sim
        .login(&lab.target, &lab.portals[1], ScanMode::Manual)
        .unwrap();
    assert_eq!(a.host, b.host);
    assert_ne!(a.sid, b.sid);
    assert_agrees(&lab.sim);
}

#[test]
fn the_host_is_shareable_across_threads() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<SimHost>();
    let (_d, lab) = lab(4);
    let s = lab
        .sim
        .login(&lab.target, &lab.portals[0], ScanMode::Manual)
        .unwrap();
    std::thread::scope(|t| {
        for lun in 0..4 {
            let sim = lab.sim.clone();
            t.spawn(move || sim.scan(s.host, &format!("0 0 {lun}")).unwrap());
        }
    });
    assert_eq!(lab.sim.devices().len(), 4);
    assert_agrees(&lab.sim);
}
