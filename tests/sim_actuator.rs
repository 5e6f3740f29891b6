//! Tier 2: `SimActuator` answers like the real actuator — the same error
//! variants (so the executor's "map in use" retry and stop rules apply),
//! compare-and-delete, idempotent outcomes, and injected failures.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lunguard::act::{ActError, Actuator, Outcome};
use lunguard::model::Hctl;
use lunguard::plan::{Action, FlushPolicy, MapRef, PathRef};
use lunguard::sim::{Lab, ScanMode, SimActuator, lio_wwid, scratch_root};

fn setup() -> (tempfile::TempDir, Lab, SimActuator) {
    let dir = tempfile::tempdir_in(scratch_root()).unwrap();
    let lab = Lab::new(dir.path(), 4).unwrap();
    let act = SimActuator::new(lab.sim.clone());
    (dir, lab, act)
}

fn login(lab: &Lab, act: &SimActuator) -> u32 {
    let out = act
        .execute(&Action::Login {
            target: lab.target.clone(),
            portal: lab.portals[0],
        })
        .unwrap();
    assert_eq!(out, Outcome::Changed);
    lab.sim.sessions()[0].host
}

fn scan(lab: &Lab, host: u32, lun: u64) -> Action {
    Action::ScanLun {
        target: lab.target.clone(),
        hctl: lunguard::model::Hctl::new(host, 0, 0, lun),
    }
}

fn map_ref(lab: &Lab) -> MapRef {
    let m = lab.sim.maps()[0].clone();
    MapRef {
        kernel_name: m.kernel_name(),
        name: m.name,
        uuid: Some(m.uuid),
        dev: Some(m.dev),
    }
}

#[test]
fn login_is_manual_and_idempotent() {
    let (_d, lab, act) = setup();
    let host = login(&lab, &act);
    assert!(lab.sim.devices().is_empty(), "a manual login scans nothing");
    assert_eq!(lab.sim.nodes()[0].scan, ScanMode::Manual);
    let again = Action::Login {
        target: lab.target.clone(),
        portal: lab.portals[0],
    };
    assert_eq!(act.execute(&again).unwrap(), Outcome::AlreadyConverged);
    assert_eq!(act.execute(&scan(&lab, host, 2)).unwrap(), Outcome::Changed);
    assert_eq!(
        act.execute(&scan(&lab, host, 2)).unwrap(),
        Outcome::AlreadyConverged
    );
    assert_eq!(lab.sim.devices().len(), 1);
}

#[test]
fn a_scan_on_a_host_now_serving_another_target_is_refused() {
    let (_d, lab, act) = setup();
    let host = login(&lab, &act);
    let other: lunguard::model::Iqn = "iqn.2003-01.org.example:other".parse().unwrap();
    let mut a = scan(&lab, host, 1);
    if let Action::ScanLun { target, .. } = &mut a {
        *target = other;
    }
    let err = act.execute(&a).unwrap_err();
    assert!(
        matches!(
            err,
            ActError::Changed {
                field: "host's target",
                ..
            }
        ),
        "{err}"
    );
    assert!(lab.sim.devices().is_empty());
}

#[test]
fn flushing_a_mounted_map_fails_as_map_in_use() {
    let (_d, lab, act) = setup();
    let host = login(&lab, &act);
    act.execute(&scan(&lab, host, 1)).unwrap();
    let map = map_ref(&lab);
    lab.sim.mount(map.name.as_str(), "/srv").unwrap();
    let flush = Action::FlushMap {
        map: map.clone(),
        retry: FlushPolicy {
            retries: 0,
            backoff: Duration::from_millis(1),
            timeout: Duration::from_millis(10),
            ..FlushPolicy::default()
        },
    };
    let err = act.execute(&flush).unwrap_err();
    assert!(err.is_in_use(), "{err}");
    assert!(matches!(err, ActError::Command { .. }));
    assert!(
        err.to_string().starts_with(&format!(
            "failed to flush multipath map {} (dm-0): ",
            map.name
        )),
        "{err}"
    );
    lab.sim.unmount("/srv").unwrap();
    assert_eq!(act.execute(&flush).unwrap(), Outcome::Changed);
    assert_eq!(act.execute(&flush).unwrap(), Outcome::AlreadyConverged);
}

#[test]
fn delete_path_compares_wwid_and_dev_before_deleting() {
    let (_d, lab, act) = setup();
    let host = login(&lab, &act);
    act.execute(&scan(&lab, host, 3)).unwrap();
    let d = lab.sim.devices()[0].clone();
    let mut p = PathRef {
        hctl: d.hctl,
        wwid: lio_wwid(77),
        block: Some(d.block.clone()),
        dev: Some(d.dev),
    };
    let err = act.delete_path(&p).unwrap_err();
    assert!(
        matches!(err, ActError::Changed { field: "WWID", .. }),
        "{err}"
    );
    p.wwid = d.wwid.clone();
    p.dev = Some(lunguard::model::DevT::new(8, 240));
    let err = act.delete_path(&p).unwrap_err();
    assert!(
        matches!(err, ActError::Changed { field: "dev_t", .. }),
        "{err}"
    );
    p.dev = Some(d.dev);
    lab.sim
        .set_device_state(d.hctl, lunguard::model::ScsiDeviceState::Blocked)
        .unwrap();
    assert!(matches!(act.delete_path(&p), Err(ActError::Blocked(_))));
    lab.sim
        .set_device_state(d.hctl, lunguard::model::ScsiDeviceState::Running)
        .unwrap();
    // Still the leg of multipathd's map: refused like the real actuator (issue 7), until the
    // map is flushed.
    let err = act.delete_path(&p).unwrap_err();
    assert!(
        matches!(
            err,
            ActError::Changed {
                field: "holders",
                ..
            }
        ),
        "{err}"
    );
    let map = lab.sim.maps()[0].name.clone();
    assert!(lab.sim.flush(map.as_str()).unwrap());
    assert_eq!(act.delete_path(&p).unwrap(), Outcome::Changed);
    assert_eq!(act.delete_path(&p).unwrap(), Outcome::AlreadyConverged);
    assert!(lab.sim.devices().is_empty() && lab.sim.maps().is_empty());
    let wait = Action::WaitGone {
        paths: vec![d.hctl],
        map: Some("dm-0".into()),
        timeout: Duration::from_millis(50),
    };
    assert_eq!(act.execute(&wait).unwrap(), Outcome::AlreadyConverged);
}

#[test]
fn injected_failures_fail_n_times_then_act() {
    let (_d, lab, act) = setup();
    let host = login(&lab, &act);
    act.fail("scan_lun", 2);
    for _ in 0..2 {
        let err = act.execute(&scan(&lab, host, 0)).unwrap_err();
        assert_eq!(err.to_string(), "simulated failure of scan_lun");
    }
    assert_eq!(act.execute(&scan(&lab, host, 0)).unwrap(), Outcome::Changed);
    assert_eq!(act.actions().len(), 4);
}

#[test]
fn logout_and_node_deletion_are_idempotent() {
    let (_d, lab, act) = setup();
    let host = login(&lab, &act);
    act.execute(&scan(&lab, host, 0)).unwrap();
    let sid = lab.sim.sessions()[0].sid;
    let logout = Action::Logout {
        target: lab.target.clone(),
        portal: lab.portals[0],
        iface: "default".into(),
        sid,
    };
    let delete = Action::DeleteNode {
        target: lab.target.clone(),
        portal: lab.portals[0],
        iface: "default".into(),
    };
    for expect in [Outcome::Changed, Outcome::AlreadyConverged] {
        assert_eq!(act.execute(&logout).unwrap(), expect);
        assert_eq!(act.execute(&delete).unwrap(), expect);
    }
    assert!(lab.sim.sessions().is_empty() && lab.sim.devices().is_empty());
    assert!(
        lab.sim
            .delete(Hctl::new(host, 0, 0, 0))
            .is_ok_and(|gone| !gone)
    );
}

/// Issue 7, item 3: two ifaces' sessions to one portal are two sessions. The simulated initiator
/// models what open-iscsi does: a logout without `-I` ends both, the logout by sid exactly one,
/// and a node record is deleted per iface (refused while its session is up).
#[test]
fn logout_of_one_iface_session_leaves_the_other_iface_session_and_its_lun() {
    let (_d, lab, act) = setup();
    let host = login(&lab, &act);
    act.execute(&scan(&lab, host, 0)).unwrap();
    let if2 = lab
        .sim
        .login_via(&lab.target, &lab.portals[0], "if2", ScanMode::Manual)
        .unwrap();
    assert_ne!(if2.host, host, "a second session, on its own host");
    act.execute(&scan(&lab, if2.host, 1)).unwrap();
    let delete = Action::DeleteNode {
        target: lab.target.clone(),
        portal: lab.portals[0],
        iface: "if2".into(),
    };
    let err = act.execute(&delete).unwrap_err().to_string();
    assert!(err.contains("used by a session"), "{err}");
    let logout = Action::Logout {
        target: lab.target.clone(),
        portal: lab.portals[0],
        iface: "if2".into(),
        sid: if2.sid,
    };
    assert_eq!(act.execute(&logout).unwrap(), Outcome::Changed);
    assert_eq!(act.execute(&delete).unwrap(), Outcome::Changed);
    let left: Vec<(String, u32)> = lab
        .sim
        .sessions()
        .iter()
        .map(|s| (s.iface.clone(), s.host))
        .collect();
    assert_eq!(left, [("default".to_owned(), host)]);
    let devices: Vec<Hctl> = lab.sim.devices().iter().map(|d| d.hctl).collect();
    assert_eq!(
        devices,
        [Hctl::new(host, 0, 0, 0)],
        "the default iface's LUN stays"
    );
    let ifaces: Vec<String> = lab.sim.nodes().iter().map(|n| n.iface.clone()).collect();
    assert_eq!(ifaces, ["default"]);
    // A sid now naming another iface's session is refused, nothing logged out.
    let stale = Action::Logout {
        target: lab.target.clone(),
        portal: lab.portals[0],
        iface: "if2".into(),
        sid: lab.sim.sessions()[0].sid,
    };
    let err = act.execute(&stale).unwrap_err().to_string();
    assert!(
        err.contains("iface is now default, planned for if2"),
        "{err}"
    );
    assert_eq!(lab.sim.sessions().len(), 1);
    // Without -I, open-iscsi ends every iface's session to the portal.
    lab.sim
        .login_via(&lab.target, &lab.portals[0], "if2", ScanMode::Manual)
        .unwrap();
    assert!(lab.sim.logout(&lab.target, &lab.portals[0]).unwrap());
    assert!(lab.sim.sessions().is_empty());
}

#[test]
fn multipath_add_builds_the_map_when_multipathd_does_not() {
    let (_d, lab, act) = setup();
    lab.sim.set_multipathd(false);
    let host = login(&lab, &act);
    act.execute(&scan(&lab, host, 1)).unwrap();
    assert!(lab.sim.maps().is_empty());
    let d = lab.sim.devices()[0].clone();
    let add = Action::MultipathAdd {
        wwid: d.wwid.clone(),
        path: d.block.clone(),
    };
    assert_eq!(act.execute(&add).unwrap(), Outcome::Changed);
    assert_eq!(act.execute(&add).unwrap(), Outcome::AlreadyConverged);
    let queueing = Action::DisableQueueing { map: map_ref(&lab) };
    assert_eq!(act.execute(&queueing).unwrap(), Outcome::Changed);
    assert_eq!(act.execute(&queueing).unwrap(), Outcome::AlreadyConverged);
    assert!(!lab.sim.maps()[0].queueing);
    let flush = Action::FlushBuffers {
        name: d.block.clone(),
        dev: d.dev,
    };
    assert_eq!(act.execute(&flush).unwrap(), Outcome::Changed);
}
