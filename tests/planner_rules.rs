//! One table-style test per reconcile rule (DESIGN.md "Reconcile rules"),
//! each named after the bug it pins, over hand-built snapshots.

mod planner_support;

use std::collections::BTreeSet;
use std::time::Duration;

use lunguard::model::DeviceKey;
use lunguard::model::{DevT, OnUnexpected};
use lunguard::plan::{Action, FindingKind, OnFailure, Subject};
use lunguard::reconcile::{Policy, Scope, plan};
use lunguard::snapshot::PathState;
use planner_support::*;

#[test]
fn converged_host_yields_an_empty_plan() {
    let t = two_portal_mpath(3);
    let p = plan(&declared(&[0, 1, 2]), &t.snap, &no_grace(), &ctx());
    assert!(p.is_empty(), "{p}");
    for l in 0..3 {
        let subject = Subject::Attachment {
            name: format!("vol{l}"),
        };
        let f: Vec<_> = p.findings_for(&subject).collect();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::Converged);
    }
}

#[test]
fn missing_session_logs_in_with_manual_scan_and_no_scan_yet() {
    let mut t = Topo::new();
    t.session(1, 0, T1, P1)
        .disk("0:0:0:0", Some(1), "sda", &wwid(0));
    let desired = vec![att("vol0", T1, &[P1, P2], 0, Some(&wwid(0)), false)];
    let p = plan(&desired, &t.snap, &no_grace(), &ctx());
    assert_eq!(kinds(&p), ["login"]);
    assert_eq!(
        lines(&p)[0],
        format!("login {T1} at {P2} (node.session.scan=manual): declared by vol0")
    );
}

#[test]
fn missing_lun_is_scanned_by_exact_address_never_broadly() {
    let mut t = Topo::new();
    t.session(1, 3, T1, P1)
        .disk("3:0:0:0", Some(1), "sda", &wwid(0));
    let desired = vec![
        att("vol0", T1, &[P1], 0, None, false),
        att("vol2", T1, &[P1], 2, None, false),
    ];
    let p = plan(&desired, &t.snap, &no_grace(), &ctx());
    assert_eq!(p.steps.len(), 1, "{p}");
    match &p.steps[0].action {
        Action::ScanLun { hctl, .. } => assert_eq!(hctl.to_string(), "3:0:0:2"),
        other => panic!("expected a one-LUN scan, got {other}"),
    }
    let line = p.to_string();
    assert!(line.contains("\"0 0 2\" > host3/scan"), "{line}");
    assert!(!line.contains("- - -"), "{line}");
}

#[test]
fn multipath_intended_without_a_map_asks_multipath_to_build_it() {
    let mut t = Topo::new();
    t.session(1, 0, T1, P1)
        .session(2, 1, T1, P2)
        .disk("0:0:0:0", Some(1), "sda", &wwid(0))
        .disk("1:0:0:0", Some(2), "sdb", &wwid(0));
    let p = plan(&declared(&[0]), &t.snap, &no_grace(), &ctx());
    assert_eq!(kinds(&p), ["multipath_add"]);
    let vol0 = Subject::Attachment {
        name: "vol0".into(),
    };
    let f: Vec<_> = p.findings_for(&vol0).collect();
    assert_eq!(
        f[0].kind,
        FindingKind::Missing {
            what: "multipath map".into()
        }
    );
}

#[test]
fn rescan_readded_lun_is_removed_with_its_map() {
    // The os-brick race: a broad rescan brought LUN 2 back after its detach.
    let t = two_portal_mpath(3);
    let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &ctx());
    assert_eq!(
        kinds(&p),
        [
            "flush_buffers",
            "flush_buffers",
            "flush_buffers",
            "flush_map",
            "delete_paths",
            "wait_gone"
        ],
        "{p}"
    );
    assert_eq!(deleted(&p), [h("0:0:0:2"), h("1:0:0:2")]);
    assert_eq!(flushed(&p), [mpath_id(2).parse().unwrap()]);
    let all = lines(&p);
    assert_eq!(
        all[4],
        format!(
            "remove 0:0:0:2 (sde), 1:0:0:2 (sdf) of map {} ({}): unwanted, in scope (target {T1} is declared), no intent",
            mpath_id(2),
            wwid(2)
        )
    );
    // Compare-and-delete: the WWID and dev_t of each path travel with it.
    let Action::DeletePaths { paths, .. } = &p.steps[4].action else {
        panic!()
    };
    assert!(
        paths
            .iter()
            .all(|p| p.wwid.to_string() == wwid(2) && p.dev.is_some())
    );
    assert!(p.steps.iter().all(|s| s.on_failure == OnFailure::Stop));
}

#[test]
fn wrong_wwid_at_declared_address_is_not_ours_and_removed() {
    let mut t = Topo::new();
    t.session(1, 0, T1, P1)
        .disk("0:0:0:0", Some(1), "sda", &wwid(9));
    let desired = vec![att("vol0", T1, &[P1], 0, Some(&wwid(0)), false)];
    let p = plan(&desired, &t.snap, &no_grace(), &ctx());
    assert_eq!(deleted(&p), [h("0:0:0:0")]);
    assert!(!kinds(&p).contains(&"scan_lun"), "never scan over it: {p}");
    assert!(p.findings.iter().any(|f| matches!(
        &f.kind,
        FindingKind::WrongWwid { expected, found }
            if expected.to_string() == wwid(0) && found.to_string() == wwid(9)
    ) && f.attachment.as_deref() == Some("vol0")));
    assert!(lines(&p)[1].contains("not ours"), "{p}");
}

#[test]
fn unwanted_lun_in_use_is_alerted_never_removed() {
    type Setup = fn(&mut Topo, &mut lunguard::reconcile::Context);
    let cases: [(&str, Setup); 4] = [
        ("mounted", |t, _| {
            t.mount(DevT::new(254, 2), "/srv");
        }),
        ("held", |t, _| t.map_mut("dm-2").holders.push("dm-9".into())),
        ("open", |_, c| {
            c.open_counts.insert(mpath_id(2).parse().unwrap(), 1);
        }),
        ("path mounted", |t, _| {
            let dev = t.device_mut("1:0:0:2").block.as_ref().unwrap().dev.unwrap();
            t.mount(dev, "/mnt");
        }),
    ];
    for (name, setup) in cases {
        let mut t = two_portal_mpath(3);
        let mut c = ctx();
        setup(&mut t, &mut c);
        let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &c);
        assert!(p.is_empty(), "{name}: {p}");
        assert!(
            p.findings
                .iter()
                .any(|f| matches!(f.kind, FindingKind::InUse { .. })),
            "{name}"
        );
    }
}

#[test]
fn multipathd_holding_every_sdx_is_not_a_use_signal() {
    // Paths are held by their own map only; an open count of 0 is reported.
    let t = two_portal_mpath(1);
    let mut c = ctx();
    c.open_counts.insert(mpath_id(0).parse().unwrap(), 0);
    let p = plan(&[], &t.snap, &no_grace(), &{
        c.known_targets.insert(T1.parse().unwrap());
        c
    });
    assert_eq!(deleted(&p).len(), 2, "{p}");
}

#[test]
fn fresh_unwanted_lun_waits_for_grace_and_is_reported_as_newly_seen() {
    let t = two_portal_mpath(3);
    let policy = Policy {
        grace: Duration::from_secs(60),
        ..Policy::default()
    };
    let p = plan(&declared(&[0, 1]), &t.snap, &policy, &ctx());
    assert!(p.is_empty(), "{p}");
    assert!(
        p.findings
            .iter()
            .any(|f| f.subject == Subject::Path { hctl: h("0:0:0:2") }
                && matches!(
                    f.kind,
                    FindingKind::WaitingForGrace {
                        remaining_secs: 60,
                        ..
                    }
                ))
    );
    let key = DeviceKey::Path {
        hctl: h("0:0:0:2"),
        wwid: Some(wwid(2).parse().unwrap()),
    };
    assert!(p.newly_seen.contains(&key));
    // 61 s later, with the keys persisted, it goes.
    let mut c = ctx();
    c.now += Duration::from_secs(61);
    for k in &p.newly_seen {
        c.first_seen.insert(k.clone(), ctx().now);
    }
    c.first_seen.insert(
        DeviceKey::Map {
            name: "gone".parse().unwrap(),
        },
        ctx().now,
    );
    let p2 = plan(&declared(&[0, 1]), &t.snap, &policy, &c);
    assert_eq!(deleted(&p2), [h("0:0:0:2"), h("1:0:0:2")]);
    assert!(p2.newly_seen.is_empty());
    assert_eq!(
        p2.forgotten,
        [DeviceKey::Map {
            name: "gone".parse().unwrap()
        }]
    );
}

#[test]
fn root_disk_out_of_scope_is_never_touched() {
    let mut t = two_portal_mpath(1);
    t.host(5, "ahci")
        .disk("5:0:0:0", None, "sdz", "t10.ATA     Samsung SSD");
    let root = t.device_mut("5:0:0:0").block.as_ref().unwrap().dev.unwrap();
    t.mount(root, "/");
    // A foreign target nobody declared, with a map over it.
    t.session(9, 9, OTHER, "192.0.2.9:3260")
        .disk("9:0:0:0", Some(9), "sdy", &wwid(7))
        .map(7, "mpathz", &mpath_id(7), &["sdy"]);
    let policy = Policy {
        grace: Duration::ZERO,
        scope: Scope {
            proc_names: vec!["scsi_debug".into()],
            ..Scope::default()
        },
        ..Policy::default()
    };
    let p = plan(&declared(&[0]), &t.snap, &policy, &ctx());
    assert!(p.is_empty(), "{p}");
    assert!(p.findings.iter().all(|f| match &f.subject {
        Subject::Path { hctl } => hctl.host < 5,
        Subject::Map { name } => name.as_str() != "mpathz",
        Subject::Session { target, .. } => target.as_str() != OTHER,
        _ => true,
    }));
}

#[test]
fn map_over_an_out_of_scope_path_is_never_touched() {
    // One path via a declared target, one via a foreign one: same WWID, one map.
    let mut t = Topo::new();
    t.session(1, 0, T1, P1)
        .session(9, 9, OTHER, "192.0.2.9:3260")
        .disk("0:0:0:4", Some(1), "sda", &wwid(4))
        .disk("9:0:0:4", Some(9), "sdb", &wwid(4))
        .map(4, "mpatha", &mpath_id(4), &["sda", "sdb"]);
    let desired = vec![att("vol0", T1, &[P1], 0, None, false)];
    let p = plan(&desired, &t.snap, &no_grace(), &ctx());
    assert!(deleted(&p).is_empty() && flushed(&p).is_empty(), "{p}");
}

#[test]
fn dead_map_is_flushed_without_blkflsbuf_and_force_disables_queueing() {
    let t = two_portal_mpath(3);
    let mut c = ctx();
    c.path_states.insert("sde".into(), PathState::Failed);
    c.path_states.insert("sdf".into(), PathState::Failed);
    let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &c);
    assert_eq!(kinds(&p), ["flush_map", "delete_paths", "wait_gone"], "{p}");
    assert!(lines(&p)[0].contains("all paths failed or gone"), "{p}");
    let forced = Policy {
        force: true,
        ..no_grace()
    };
    let p = plan(&declared(&[0, 1]), &t.snap, &forced, &c);
    assert_eq!(
        kinds(&p),
        ["disable_queueing", "flush_map", "delete_paths", "wait_gone"]
    );
    assert_eq!(p.steps[1].on_failure, OnFailure::Continue);
}

#[test]
fn map_with_all_slaves_gone_is_removed_only_if_first_seen_in_scope() {
    let mut t = two_portal_mpath(1);
    t.map(5, "mpathq", &mpath_id(5), &[]);
    let p = plan(&declared(&[0]), &t.snap, &no_grace(), &ctx());
    assert!(p.is_empty(), "unknown map: never touched: {p}");
    let mut c = ctx();
    c.first_seen.insert(
        DeviceKey::Map {
            name: "mpathq".parse().unwrap(),
        },
        now(),
    );
    let p = plan(&declared(&[0]), &t.snap, &no_grace(), &c);
    assert_eq!(kinds(&p), ["flush_map", "wait_gone"], "{p}");
}

#[test]
fn session_left_empty_is_logged_out_after_its_luns_go() {
    // P2 is no longer declared: its path of LUN 0 goes, then the session.
    let t = two_portal_mpath(1);
    let desired = vec![att("vol0", T1, &[P1], 0, Some(&wwid(0)), true)];
    // Issue 7, item 4: the path is first taken out of the live map (the delete of a map's leg
    // is refused), and only while the path that stays is known active.
    let p = plan(&desired, &t.snap, &no_grace(), &ctx());
    assert!(deleted(&p).is_empty(), "path states unknown: {p}");
    assert!(
        p.findings.iter().any(|f| matches!(&f.kind,
            FindingKind::Refused { why } if why.contains("no path known to be active"))),
        "{p}"
    );
    let mut c = ctx();
    c.path_states.insert("sda".into(), PathState::Active);
    c.path_states.insert("sdb".into(), PathState::Active);
    let p = plan(&desired, &t.snap, &no_grace(), &c);
    assert_eq!(
        kinds(&p),
        [
            "remove_from_map",
            "flush_buffers",
            "delete_paths",
            "wait_gone",
            "logout",
            "delete_node"
        ],
        "{p}"
    );
    assert_eq!(
        deleted(&p),
        [h("1:0:0:0")],
        "only the undeclared portal's path"
    );
    assert!(
        flushed(&p).is_empty(),
        "the map stays: LUN 0 is still declared"
    );
    let removal = p.steps[1].group;
    assert_eq!(p.steps[4].needs, [removal]);
    assert_eq!(
        lines(&p)[5],
        format!(
            "delete node record {T1} at {P2} iface default: unwanted, in scope (target {T1} is declared), no declared LUN and no device left"
        )
    );
}

#[test]
fn emptied_state_detaches_known_targets_without_grace() {
    let t = two_portal_mpath(2);
    let mut c = ctx();
    c.known_targets.insert(T1.parse().unwrap());
    let policy = Policy {
        grace: Duration::from_secs(3600),
        on_unexpected: OnUnexpected::Alert,
        ..Policy::default()
    };
    let p = plan(&[], &t.snap, &policy, &c);
    assert_eq!(deleted(&p).len(), 4, "{p}");
    assert_eq!(kinds(&p).iter().filter(|k| **k == "logout").count(), 2);
    assert!(lines(&p)[0].contains("intent removed"), "{p}");
}

#[test]
fn more_unwanted_than_blast_radius_removes_nothing() {
    let t = two_portal_mpath(4);
    let policy = Policy {
        blast_radius: 2,
        ..no_grace()
    };
    let p = plan(&declared(&[0]), &t.snap, &policy, &ctx());
    assert!(p.is_empty(), "{p}");
    assert!(
        p.findings
            .iter()
            .any(|f| f.kind == FindingKind::BlastRadius { count: 3, limit: 2 })
    );
    let policy = Policy {
        blast_radius: 3,
        ..no_grace()
    };
    let p = plan(&declared(&[0]), &t.snap, &policy, &ctx());
    assert_eq!(flushed(&p).len(), 3);
}

#[test]
fn blocked_path_is_refused_not_deleted() {
    let mut t = two_portal_mpath(3);
    t.device_mut("1:0:0:2").state = Some("blocked".parse().unwrap());
    let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &ctx());
    assert!(p.is_empty(), "{p}");
    assert!(
        p.findings
            .iter()
            .any(|f| matches!(&f.kind, FindingKind::Refused { why } if why.contains("blocked")))
    );
}

#[test]
fn on_unexpected_alert_only_reports() {
    let t = two_portal_mpath(3);
    let policy = Policy {
        on_unexpected: OnUnexpected::Alert,
        ..no_grace()
    };
    let p = plan(&declared(&[0, 1]), &t.snap, &policy, &ctx());
    assert!(p.is_empty(), "{p}");
    // A per-attachment override wins over the policy.
    let mut desired = declared(&[0, 1]);
    desired[0].policy.on_unexpected = Some(OnUnexpected::Remove);
    let p = plan(&desired, &t.snap, &policy, &ctx());
    assert_eq!(deleted(&p).len(), 2);
}

#[test]
fn excluded_target_and_wwid_are_never_touched() {
    let t = two_portal_mpath(3);
    let policy = Policy {
        scope: Scope {
            exclude_wwids: vec![wwid(2).parse().unwrap()],
            ..Scope::default()
        },
        ..no_grace()
    };
    let p = plan(&declared(&[0, 1]), &t.snap, &policy, &ctx());
    assert!(p.is_empty(), "{p}");
    let policy = Policy {
        scope: Scope {
            exclude_targets: vec!["iqn.2026-11.test.lunguard:*".into()],
            ..Scope::default()
        },
        ..no_grace()
    };
    let p = plan(&declared(&[0, 1]), &t.snap, &policy, &ctx());
    assert!(p.is_empty(), "{p}");
}

#[test]
fn scsi_debug_hosts_are_in_scope_only_by_proc_name() {
    let mut t = Topo::new();
    t.host(2, "scsi_debug")
        .disk("2:0:0:0", None, "sda", "t10.Linux   scsi_debug  2000");
    assert!(plan(&[], &t.snap, &no_grace(), &ctx()).is_empty());
    let policy = Policy {
        scope: Scope {
            proc_names: vec!["scsi_debug".into()],
            ..Scope::default()
        },
        ..no_grace()
    };
    let p = plan(&[], &t.snap, &policy, &ctx());
    assert_eq!(kinds(&p), ["flush_buffers", "delete_paths", "wait_gone"]);
}

#[test]
fn pattern_scoped_empty_session_waits_for_grace_before_logout() {
    let mut t = Topo::new();
    t.session(1, 0, T2, P1);
    let mut policy = Policy::default();
    policy.scope.targets = vec!["iqn.2026-11.test.lunguard:*".into()];
    let p = plan(&[], &t.snap, &policy, &ctx());
    assert!(p.is_empty(), "{p}");
    let key = DeviceKey::Session {
        target: T2.parse().unwrap(),
        portal: P1.parse().unwrap(),
        iface: Some("default".into()),
    };
    assert_eq!(p.newly_seen, std::slice::from_ref(&key));
    let mut c = ctx();
    c.first_seen.insert(key, now() - Duration::from_secs(3600));
    let p = plan(&[], &t.snap, &policy, &c);
    assert_eq!(kinds(&p), ["logout", "delete_node"]);
    let seen: BTreeSet<_> = p.steps.iter().map(|s| s.group).collect();
    assert_eq!(seen.len(), 1);
}

#[test]
fn unwanted_bare_disk_open_by_a_process_is_alerted_never_removed() {
    // A VM or a database may use /dev/sdX directly: no mount, no holder, only an open fd.
    let mut t = Topo::new();
    t.session(1, 3, T1, P1)
        .disk("3:0:0:0", Some(1), "sda", &wwid(0))
        .disk("3:0:0:1", Some(1), "sdb", &wwid(1));
    let desired = vec![att("vol0", T1, &[P1], 0, Some(&wwid(0)), false)];
    let mut c = ctx();
    c.open_blocks
        .insert("sdb".into(), "pid 812 (qemu-system-x86)".into());
    let p = plan(&desired, &t.snap, &no_grace(), &c);
    assert!(deleted(&p).is_empty(), "{p}");
    let why = p
        .findings
        .iter()
        .find_map(|f| match &f.kind {
            FindingKind::InUse { why } => Some(why.clone()),
            _ => None,
        })
        .unwrap_or_default();
    assert!(
        why.contains("sdb is open by pid 812 (qemu-system-x86)"),
        "{why}"
    );
    // Without the open fd the same disk is removed: the finding is what kept it.
    let p = plan(&desired, &t.snap, &no_grace(), &ctx());
    assert_eq!(deleted(&p), [h("3:0:0:1")], "{p}");
}

/// A bare, unwanted disk `sdb` (3:0:0:1) next to a declared one, and the plan's verdict on it:
/// `Ok(())` when removed, else the finding that kept it.
fn bare_disk_verdict(t: &Topo, c: &lunguard::reconcile::Context) -> Result<(), FindingKind> {
    let desired = vec![att("vol0", T1, &[P1], 0, Some(&wwid(0)), false)];
    let p = plan(&desired, &t.snap, &no_grace(), c);
    if deleted(&p) == [h("3:0:0:1")] {
        return Ok(());
    }
    assert!(deleted(&p).is_empty(), "{p}");
    Err(p
        .findings
        .iter()
        .find(|f| f.subject == Subject::Path { hctl: h("3:0:0:1") })
        .map(|f| f.kind.clone())
        .unwrap_or_else(|| panic!("no finding for 3:0:0:1: {p}")))
}

fn bare_pair() -> Topo {
    let mut t = Topo::new();
    t.session(1, 3, T1, P1)
        .disk("3:0:0:0", Some(1), "sda", &wwid(0))
        .disk("3:0:0:1", Some(1), "sdb", &wwid(1));
    t
}

/// Issue 7: under the shipped unit's old bounding set (no CAP_SYS_PTRACE) another user's
/// `/proc/PID/fd` is unreadable, and "not listed as open" was read as "not open": a disk qemu held
/// as its own user was deleted. An unreadable process now makes the answer unknown.
#[test]
fn bare_disk_is_kept_when_a_process_fds_cannot_be_read() {
    let t = bare_pair();
    let mut c = ctx();
    c.unreadable_procs = vec!["pid 4242 (qemu-system-x86): Permission denied (os error 13)".into()];
    match bare_disk_verdict(&t, &c) {
        Err(FindingKind::Refused { why }) => {
            assert!(why.contains("pid 4242 (qemu-system-x86)"), "{why}");
            assert!(why.contains("CAP_SYS_PTRACE"), "{why}");
        }
        other => panic!("expected a refusal naming the pid, got {other:?}"),
    }
    // The same facts about a multipathed LUN say nothing: its map's open count is the signal.
    let m = two_portal_mpath(2);
    let p = plan(&declared(&[0]), &m.snap, &no_grace(), &c);
    assert!(
        !deleted(&p).is_empty(),
        "multipathed leftover still removed: {p}"
    );
    // And with nothing unreadable the bare disk goes.
    assert_eq!(bare_disk_verdict(&t, &ctx()), Ok(()));
}

/// Issue 7: a disk mounted only in another mount namespace (or a btrfs member) is invisible in
/// our mountinfo; the kernel's exclusive-open answer keeps it.
#[test]
fn bare_disk_the_kernel_says_is_claimed_is_in_use() {
    let t = bare_pair();
    let mut c = ctx();
    c.claims
        .insert("sdb".into(), lunguard::snapshot::ClaimState::Busy);
    match bare_disk_verdict(&t, &c) {
        Err(FindingKind::InUse { why }) => assert!(why.contains("sdb is claimed"), "{why}"),
        other => panic!("expected in use, got {other:?}"),
    }
    c.claims.insert(
        "sdb".into(),
        lunguard::snapshot::ClaimState::Unknown("Permission denied".into()),
    );
    match bare_disk_verdict(&t, &c) {
        Err(FindingKind::Refused { why }) => assert!(why.contains("Permission denied"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    c.claims
        .insert("sdb".into(), lunguard::snapshot::ClaimState::Free);
    assert_eq!(bare_disk_verdict(&t, &c), Ok(()));
}

/// Issue 7: swap on a bare disk, a used partition of a bare disk, and a process holding a
/// partition (seen by device number, whatever its node is called) each count as use.
#[test]
fn swap_partitions_and_partition_openers_of_a_bare_disk_are_uses() {
    use lunguard::snapshot::{Partition, Swap};
    let base = bare_pair();
    let sdb = base.snap.devices[1].block.clone().unwrap();
    let disk_dev = sdb.dev.unwrap();
    let part_dev = DevT::new(disk_dev.major, disk_dev.minor + 1);
    let with_part = |t: &mut Topo| {
        t.device_mut("3:0:0:1")
            .block
            .as_mut()
            .unwrap()
            .partitions
            .push(Partition {
                name: "sdb1".into(),
                dev: Some(part_dev),
                size_bytes: Some(4 << 20),
                holders: vec![],
            });
    };
    let in_use =
        |t: &Topo, c: &lunguard::reconcile::Context, needle: &str| match bare_disk_verdict(t, c) {
            Err(FindingKind::InUse { why }) => assert!(why.contains(needle), "{why}"),
            other => panic!("expected in use ({needle}), got {other:?}"),
        };
    // Swap on the whole disk.
    let mut t = base.clone();
    t.snap.swaps.push(Swap {
        filename: "/dev/sdb".into(),
        kind: "partition".into(),
        dev: Some(disk_dev),
    });
    in_use(&t, &ctx(), "sdb is swap");
    // A mounted partition.
    let mut t = base.clone();
    with_part(&mut t);
    t.mount(part_dev, "/srv/data");
    in_use(&t, &ctx(), "sdb1 is mounted at /srv/data");
    // A partition held open by a process through a node of another name (a container's /dev).
    let mut t = base.clone();
    with_part(&mut t);
    let mut c = ctx();
    c.open_devs.insert(part_dev, "pid 77 (postgres)".into());
    in_use(&t, &c, "sdb1 is open by pid 77 (postgres)");
    // The partition alone, unused, is no use.
    let mut t = base;
    with_part(&mut t);
    assert_eq!(bare_disk_verdict(&t, &ctx()), Ok(()));
}

/// `two_portal_mpath(3)` with a kpartx partition map `dm-9` (`<map>p1`) over LUN 2's map.
fn with_partition_map() -> Topo {
    use lunguard::snapshot::{DmDevice, DmKind};
    let mut t = two_portal_mpath(3);
    t.map_mut("dm-2").holders.push("dm-9".into());
    t.snap.dm_devices.push(DmDevice {
        kernel_name: "dm-9".into(),
        name: Some(format!("{}p1", mpath_id(2)).parse().expect("a dm name")),
        uuid: Some(format!("part1-mpath-{}", mpath_id(2))),
        kind: DmKind::MultipathPartition,
        suspended: Some(false),
        dev: Some(DevT::new(254, 9)),
        size_bytes: Some(4 << 20),
        read_only: Some(false),
        slaves: vec!["dm-2".into()],
        holders: vec![],
        problems: vec![],
    });
    t
}

/// Issue 7, item 4: an unwanted map carrying kpartx partition maps was "held by dm-9" forever.
/// Unused partition maps are not a use: they go with the map (their buffers flushed first); a
/// used one is a use.
#[test]
fn unused_kpartx_partition_maps_go_with_their_map_used_ones_keep_it() {
    let t = with_partition_map();
    let mut c = ctx();
    // The partition map holds its map open once; nothing else does.
    c.open_counts.insert(mpath_id(2).parse().unwrap(), 1);
    c.open_counts
        .insert(format!("{}p1", mpath_id(2)).parse().unwrap(), 0);
    let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &c);
    assert_eq!(flushed(&p), [mpath_id(2).parse().unwrap()], "{p}");
    let all = lines(&p);
    assert!(
        all[0].starts_with("flush buffers of dm-9 (254:9)"),
        "partition map's buffers first: {all:#?}"
    );
    assert!(all[1].starts_with("flush buffers of dm-2 "), "{all:#?}");
    // Mounted partition map: in use, nothing planned.
    let mut m = t.clone();
    m.mount(DevT::new(254, 9), "/var/lib/glance");
    let p = plan(&declared(&[0, 1]), &m.snap, &no_grace(), &c);
    assert!(flushed(&p).is_empty(), "{p}");
    let why = p
        .findings
        .iter()
        .find_map(|f| match &f.kind {
            FindingKind::InUse { why } => Some(why.clone()),
            _ => None,
        })
        .unwrap_or_default();
    assert!(why.contains("is mounted at /var/lib/glance"), "{why}");
    // Someone else has the map open besides its partition map: in use.
    let mut c2 = c.clone();
    c2.open_counts.insert(mpath_id(2).parse().unwrap(), 2);
    let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &c2);
    assert!(flushed(&p).is_empty(), "{p}");
    // The partition map itself open: in use.
    let mut c3 = c;
    c3.open_counts
        .insert(format!("{}p1", mpath_id(2)).parse().unwrap(), 1);
    let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &c3);
    assert!(flushed(&p).is_empty(), "{p}");
}

/// Issue 7 item 5: "waiting 60s more" never said when, and without the first-seen time recorded
/// it never got closer. The finding carries the moment the removal is due (RFC 3339, UTC) and
/// says "would remove at T (in N s)".
#[test]
fn waiting_for_grace_says_when_it_would_remove() {
    let t = two_portal_mpath(3);
    let policy = Policy {
        grace: Duration::from_secs(60),
        ..Policy::default()
    };
    // First seen 20 s before this plan: 40 s left.
    let mut c = ctx();
    let first = plan(&declared(&[0, 1]), &t.snap, &policy, &c);
    for k in &first.newly_seen {
        c.first_seen.insert(k.clone(), ctx().now);
    }
    c.now += Duration::from_secs(20);
    let p = plan(&declared(&[0, 1]), &t.snap, &policy, &c);
    let f = p
        .findings
        .iter()
        .find(|f| f.subject == Subject::Path { hctl: h("0:0:0:2") })
        .expect("a finding for the unwanted path");
    assert_eq!(
        f.kind,
        FindingKind::WaitingForGrace {
            remaining_secs: 40,
            removes_at: "2027-01-15T08:01:00Z".into(),
        }
    );
    assert_eq!(
        f.to_string(),
        "0:0:0:2: unwanted: would remove at 2027-01-15T08:01:00Z (in 40 s; grace period)"
    );
}

/// Issue 7 item 5: in observe mode a device past its grace period is a removal the plan would
/// carry out, and its finding says so ("would remove"), rather than "remove".
#[test]
fn observe_mode_past_grace_shows_the_removal_as_would_remove() {
    let t = two_portal_mpath(3);
    let policy = Policy {
        grace: Duration::ZERO,
        observe: true,
        ..Policy::default()
    };
    let p = plan(&declared(&[0, 1]), &t.snap, &policy, &ctx());
    assert_eq!(deleted(&p), [h("0:0:0:2"), h("1:0:0:2")], "{p}");
    let f = p
        .findings
        .iter()
        .find(|f| f.subject == Subject::Path { hctl: h("0:0:0:2") })
        .expect("a finding for the unwanted path");
    match &f.kind {
        FindingKind::Unwanted { action, .. } => {
            assert_eq!(action, "would remove (observe mode)")
        }
        k => panic!("{k:?}"),
    }
}

/// Issue 7 item 4: a declared LUN whose paths multipathd reports all `failed` (the array took
/// it away; the SCSI devices stay `running`, as on real hosts) was reported `converged`: the
/// attachment's verdict ignored `ctx.path_states`. It is `degraded`, saying why, and nothing is
/// removed or re-attached for it.
#[test]
fn declared_lun_whose_paths_all_failed_is_degraded_never_converged() {
    let t = two_portal_mpath(3);
    let mut c = ctx();
    c.path_states.insert("sde".into(), PathState::Failed);
    c.path_states.insert("sdf".into(), PathState::Failed);
    let p = plan(&declared(&[0, 1, 2]), &t.snap, &no_grace(), &c);
    assert!(p.steps.is_empty(), "a declared LUN is never removed: {p}");
    let vol2 = att_kinds(&p, "vol2");
    assert_eq!(vol2.len(), 1);
    match &vol2[0] {
        FindingKind::Degraded { why } => {
            assert!(why.contains("no usable path"), "{why}");
            assert!(why.contains("sde") && why.contains("sdf"), "{why}");
        }
        k => panic!("vol2 must be degraded, is {k:?}"),
    }
    for l in [0, 1] {
        let f = att_kinds(&p, format!("vol{l}"));
        assert_eq!(f[0], FindingKind::Converged, "vol{l}");
    }
}

/// The same with the SCSI devices offline (error handling gave up) or transport-offline: every
/// path unusable → degraded "no usable path".
#[test]
fn declared_lun_whose_paths_are_all_offline_is_degraded() {
    use lunguard::model::ScsiDeviceState;
    for st in [ScsiDeviceState::Offline, ScsiDeviceState::TransportOffline] {
        let mut t = two_portal_mpath(1);
        t.device_mut("0:0:0:0").state = Some(st.clone());
        t.device_mut("1:0:0:0").state = Some(st.clone());
        let p = plan(&declared(&[0]), &t.snap, &no_grace(), &ctx());
        let f = att_kinds(&p, "vol0");
        assert!(
            matches!(&f[0], FindingKind::Degraded { why } if why.contains("no usable path")),
            "{st}: {:?}",
            f[0]
        );
    }
}

/// Issue 7 item 4: a remap (another LUN at the declared address) made the attachment itself
/// `missing: … holds another LUN`; it is `wrong_wwid`, expected vs found, alerted as such.
#[test]
fn remapped_wwid_at_declared_address_makes_the_attachment_wrong_wwid() {
    let mut t = Topo::new();
    t.session(1, 0, T1, P1)
        .disk("0:0:0:0", Some(1), "sda", &wwid(9));
    let desired = vec![att("vol0", T1, &[P1], 0, Some(&wwid(0)), false)];
    let p = plan(&desired, &t.snap, &no_grace(), &ctx());
    let f = att_kinds(&p, "vol0");
    assert_eq!(f.len(), 1);
    assert!(
        matches!(
            &f[0],
            FindingKind::WrongWwid { expected, found }
                if expected.to_string() == wwid(0) && found.to_string() == wwid(9)
        ),
        "{:?}",
        f[0]
    );
}

/// The kinds of the findings on attachment `name` itself.
fn att_kinds(p: &lunguard::plan::Plan, name: impl Into<String>) -> Vec<FindingKind> {
    let subject = Subject::Attachment { name: name.into() };
    p.findings_for(&subject).map(|f| f.kind.clone()).collect()
}

/// Issue 7, item 4: after a unit attention put identities in doubt (a remap behind the same
/// address keeps the old cached WWID), the devices at declared addresses are rescanned first and
/// not judged on their cached WWID in that pass; out-of-scope devices are not touched.
#[test]
fn identities_in_doubt_are_rescanned_before_any_removal() {
    let mut t = two_portal_mpath(3);
    t.host(5, "ahci").disk("5:0:0:0", None, "sdz", &wwid(9));
    let mut c = ctx();
    for h in ["0:0:0:1", "0:0:0:2", "5:0:0:0"] {
        c.reverify.insert(h.parse().expect("hctl"));
    }
    let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &c);
    let rescanned: Vec<String> = p
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::RescanDevice { hctl, .. } => Some(hctl.to_string()),
            _ => None,
        })
        .collect();
    // Only where identity decides anything: LUN 1 is declared at that address. LUN 2's address is
    // undeclared, so whatever LUN is there goes, without waiting (a burst of unit attentions would
    // otherwise hold its removal back for as long as it lasts, seen in the VM).
    assert_eq!(rescanned, ["0:0:0:1"], "{p}");
    assert_eq!(deleted(&p), [h("0:0:0:2"), h("1:0:0:2")], "{p}");
    // A declared LUN in doubt is not judged on its cached WWID before the rescan.
    let mut c = ctx();
    c.reverify.insert(h("0:0:0:2"));
    let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &c);
    assert_eq!(
        deleted(&p),
        [h("0:0:0:2"), h("1:0:0:2")],
        "undeclared: not held back"
    );
}

/// Issue 7, item 3: two ifaces (default, if2) have sessions to the same undeclared portal; the
/// default one carries a mounted LUN. `iscsiadm -m node -T -p --logout` (no `-I`) would end both
/// sessions and pull the mounted LUN: the plan must log out exactly the if2 session (by its sid,
/// through its iface) and delete only the if2 node record.
#[test]
fn logout_of_one_iface_session_never_ends_another_iface_session_to_the_same_portal() {
    let mut t = Topo::new();
    t.session(1, 3, T1, P1)
        .disk("3:0:0:0", Some(1), "sda", &wwid(0))
        .session(2, 4, T1, P2)
        .disk("4:0:0:1", Some(2), "sdb", &wwid(1))
        .session(3, 5, T1, P2)
        .iface(3, Some("if2"))
        .disk("5:0:0:2", Some(3), "sdc", &wwid(2));
    let mounted = t.device_mut("4:0:0:1").block.as_ref().unwrap().dev.unwrap();
    t.mount(mounted, "/srv/data");
    let desired = vec![att("vol0", T1, &[P1], 0, Some(&wwid(0)), false)];
    let p = plan(&desired, &t.snap, &no_grace(), &ctx());
    assert_eq!(deleted(&p), [h("5:0:0:2")], "{p}");
    let session_lines: Vec<String> = lines(&p)
        .into_iter()
        .filter(|l| l.starts_with("logout") || l.starts_with("delete node"))
        .collect();
    assert_eq!(session_lines.len(), 2, "{p}");
    assert!(
        session_lines[0].starts_with(&format!("logout session3 ({T1} at {P2} via iface if2)")),
        "{session_lines:?}"
    );
    assert!(
        session_lines[1].starts_with(&format!("delete node record {T1} at {P2} iface if2")),
        "{session_lines:?}"
    );
    assert!(
        p.findings
            .iter()
            .any(|f| matches!(&f.kind, FindingKind::InUse { .. })),
        "the mounted LUN is reported in use: {:?}",
        p.findings
    );
}

/// Issue 7, item 3: a session whose iface cannot be read cannot be logged out exactly (a logout
/// without `-I` hits every iface's session to the portal): refused with a finding, fail closed.
#[test]
fn session_with_unreadable_iface_is_refused_not_logged_out_blindly() {
    let mut t = Topo::new();
    t.session(1, 3, T1, P1)
        .disk("3:0:0:0", Some(1), "sda", &wwid(0))
        .session(2, 4, T1, P2)
        .iface(2, None);
    let desired = vec![att("vol0", T1, &[P1], 0, Some(&wwid(0)), false)];
    let mut c = ctx();
    c.first_seen.insert(
        DeviceKey::Session {
            target: T1.parse().unwrap(),
            portal: P2.parse().unwrap(),
            iface: None,
        },
        now() - Duration::from_secs(3600),
    );
    let p = plan(&desired, &t.snap, &Policy::default(), &c);
    assert!(p.is_empty(), "{p}");
    let why = p
        .findings
        .iter()
        .find_map(|f| match &f.kind {
            FindingKind::Refused { why } => Some(why.clone()),
            _ => None,
        })
        .unwrap_or_default();
    assert!(why.contains("iface"), "{:?}", p.findings);
}

/// Issue 7, item 3: with `node.session.nr_sessions` > 1 two sessions share one node record
/// (same target, portal and iface). Logging out the idle one must not delete the record the other
/// (carrying a mounted LUN) still uses.
#[test]
fn node_record_shared_by_a_session_that_stays_is_not_deleted() {
    let mut t = Topo::new();
    t.session(1, 3, T1, P1)
        .disk("3:0:0:0", Some(1), "sda", &wwid(0))
        .session(2, 4, T1, P2)
        .disk("4:0:0:1", Some(2), "sdb", &wwid(1))
        .session(3, 5, T1, P2)
        .disk("5:0:0:2", Some(3), "sdc", &wwid(2));
    let mounted = t.device_mut("4:0:0:1").block.as_ref().unwrap().dev.unwrap();
    t.mount(mounted, "/srv/data");
    let desired = vec![att("vol0", T1, &[P1], 0, Some(&wwid(0)), false)];
    let p = plan(&desired, &t.snap, &no_grace(), &ctx());
    assert_eq!(deleted(&p), [h("5:0:0:2")], "{p}");
    let k = kinds(&p);
    assert_eq!(k.iter().filter(|k| **k == "logout").count(), 1, "{p}");
    assert!(!k.contains(&"delete_node"), "{p}");
    assert!(
        lines(&p).iter().any(|l| l.starts_with("logout session3 (")),
        "{p}"
    );
}

#[test]
fn map_whose_path_states_nobody_reported_is_refused_not_flushed() {
    // Issue 7: a path state neither device-mapper nor multipathd reported counted as active, so
    // a map with every path down (and I/O queued) got BLKFLSBUF, which blocks in the kernel.
    let t = two_portal_mpath(3);
    let mut c = ctx();
    c.unknown_path_states.insert("sde".into());
    c.unknown_path_states.insert("sdf".into());
    let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &c);
    assert!(p.steps.is_empty(), "{p}");
    let refused = p
        .findings
        .iter()
        .find(|f| matches!(f.subject, Subject::Map { .. }))
        .expect("a finding for the map");
    match &refused.kind {
        FindingKind::Refused { why } => {
            assert!(why.contains("path states of map"), "{why}");
            assert!(why.contains("unknown"), "{why}");
        }
        k => panic!("expected Refused, got {k:?}"),
    }
    // One failed, one unknown: still not known to have a live path.
    c.unknown_path_states.remove("sde");
    c.path_states.insert("sde".into(), PathState::Failed);
    let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &c);
    assert!(p.steps.is_empty(), "{p}");
    // One known active path: a flush can complete through it.
    c.path_states.insert("sde".into(), PathState::Active);
    let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &c);
    assert_eq!(kinds(&p)[0], "flush_buffers", "{p}");
}

#[test]
fn dead_queueing_map_held_open_is_kept_and_only_force_disables_its_queue() {
    // Issue 7: writers blocked on a dead map that queues I/O hold it open. Without force it is
    // in use and kept (never flushed); with force queueing is disabled (their writes fail) and
    // nothing else is done in that pass: the map goes once it is closed.
    let t = two_portal_mpath(3);
    let mut c = ctx();
    c.path_states.insert("sde".into(), PathState::Failed);
    c.path_states.insert("sdf".into(), PathState::Failed);
    let m2: lunguard::model::DmName = mpath_id(2).parse().unwrap();
    c.open_counts.insert(m2.clone(), 1);
    c.queue_if_no_path.insert(m2.clone());
    let p = plan(&declared(&[0, 1]), &t.snap, &no_grace(), &c);
    assert!(p.steps.is_empty(), "{p}");
    assert!(
        p.findings
            .iter()
            .any(|f| matches!(&f.kind, FindingKind::InUse { why } if why.contains("open count 1"))),
        "{p}"
    );
    let forced = Policy {
        force: true,
        ..no_grace()
    };
    let p = plan(&declared(&[0, 1]), &t.snap, &forced, &c);
    assert_eq!(kinds(&p), ["disable_queueing"], "{p}");
    // Not queueing, or in use by more than the open count: force does not touch it.
    let mut c2 = c.clone();
    c2.queue_if_no_path.clear();
    assert!(
        plan(&declared(&[0, 1]), &t.snap, &forced, &c2)
            .steps
            .is_empty()
    );
    let mut t3 = two_portal_mpath(3);
    t3.mount(DevT::new(254, 2), "/srv");
    assert!(
        plan(&declared(&[0, 1]), &t3.snap, &forced, &c)
            .steps
            .is_empty()
    );
}
