//! The planner over the recorded fixtures in tests/fixtures/ (real kernels'
//! sysfs, read by `observe::snapshot`).

mod planner_support;

use std::path::Path;

use lunguard::model::{Attachment, Iqn, PolicyOverrides, Transport};
use lunguard::observe::{Roots, snapshot};
use lunguard::plan::Action;
use lunguard::reconcile::{Policy, Scope, plan};
use lunguard::snapshot::PathState;
use lunguard::snapshot::Snapshot;
use planner_support::{ctx, deleted, flushed, h, kinds, no_grace};

const TARGET: &str = "iqn.2026-11.test.lunguard:target1";

fn fixture(name: &str) -> Option<Snapshot> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    if !dir.join("sys").is_dir() {
        eprintln!("fixture {name} not recorded; skipping");
        return None;
    }
    Some(snapshot(&Roots::fixture(dir)))
}

/// Declares every LUN of every session as observed, except `omit`.
fn declare_all(snap: &Snapshot, omit: &[u64], multipath: bool) -> Vec<Attachment> {
    let mut luns: Vec<u64> = snap.devices.iter().map(|d| d.hctl.lun).collect();
    luns.sort();
    luns.dedup();
    let portals: Vec<_> = snap
        .iscsi_sessions
        .iter()
        .filter_map(|s| s.portal())
        .collect();
    let target: Iqn = snap
        .iscsi_sessions
        .iter()
        .find_map(|s| s.target.clone())
        .expect("an iSCSI fixture has a session");
    assert_eq!(target.as_str(), TARGET);
    luns.into_iter()
        .filter(|l| !omit.contains(l))
        .map(|lun| {
            let wwid = snap
                .devices
                .iter()
                .find(|d| d.hctl.lun == lun)
                .and_then(|d| d.wwid.clone());
            Attachment {
                name: format!("lun{lun}"),
                transport: Transport::Iscsi,
                target: target.clone(),
                portals: portals.clone(),
                lun,
                wwid,
                multipath,
                policy: PolicyOverrides::default(),
            }
        })
        .collect()
}

#[test]
fn iscsi_leftover_without_lun_2_removes_exactly_lun_2_and_dm_2() {
    let Some(snap) = fixture("iscsi-leftover") else {
        return;
    };
    let desired = declare_all(&snap, &[2], true);
    assert_eq!(desired.len(), 3);
    let p = plan(&desired, &snap, &no_grace(), &ctx());
    assert_eq!(deleted(&p), [h("0:0:0:2"), h("1:0:0:2")], "{p}");
    assert_eq!(
        flushed(&p),
        ["3600140500291fe600020000feed00000".parse().unwrap()]
    );
    let Action::FlushMap { map, .. } = &p.steps[3].action else {
        panic!("{p}")
    };
    assert_eq!(map.kernel_name, "dm-2");
    let flushes: Vec<String> = p
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::FlushBuffers { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(flushes, ["dm-2", "sdc", "sdg"]);
    assert_eq!(kinds(&p).last(), Some(&"wait_gone"));
}

#[test]
fn recorded_iscsi_fixtures_declared_as_observed_are_converged() {
    for (name, multipath) in [
        ("iscsi-leftover", true),
        ("iscsi-mpath", true),
        ("iscsi-2portals", false),
    ] {
        let Some(snap) = fixture(name) else { continue };
        let p = plan(
            &declare_all(&snap, &[], multipath),
            &snap,
            &no_grace(),
            &ctx(),
        );
        assert!(p.is_empty(), "{name}: {p}");
    }
}

#[test]
fn all_failed_map_of_an_undeclared_lun_is_flushed_without_blkflsbuf() {
    let Some(snap) = fixture("iscsi-mpath-all-failed") else {
        return;
    };
    let mut c = ctx();
    c.path_states.insert("sdc".into(), PathState::Failed);
    c.path_states.insert("sdg".into(), PathState::Failed);
    let p = plan(&declare_all(&snap, &[2], true), &snap, &no_grace(), &c);
    assert_eq!(kinds(&p), ["flush_map", "delete_paths", "wait_gone"], "{p}");
    assert_eq!(deleted(&p), [h("0:0:0:2"), h("1:0:0:2")]);
}

/// Issue 7 item 4 on the recorded kernel state: LUN 2 declared while the array has taken it
/// away (both paths `failed faulty` in the recorded `multipath -ll`, SCSI devices `running`):
/// the attachment is degraded with no usable path, never converged, and nothing is removed.
#[test]
fn all_failed_map_of_a_declared_lun_is_degraded_never_converged() {
    let Some(snap) = fixture("iscsi-mpath-all-failed") else {
        return;
    };
    let mut c = ctx();
    c.path_states.insert("sdc".into(), PathState::Failed);
    c.path_states.insert("sdg".into(), PathState::Failed);
    let p = plan(&declare_all(&snap, &[], true), &snap, &no_grace(), &c);
    assert!(p.steps.is_empty(), "{p}");
    let subject = lunguard::plan::Subject::Attachment {
        name: "lun2".into(),
    };
    let kinds: Vec<_> = p.findings_for(&subject).map(|f| f.kind.clone()).collect();
    assert!(
        matches!(&kinds[..], [lunguard::plan::FindingKind::Degraded { why }] if why.contains("no usable path")),
        "{kinds:?}"
    );
}

#[test]
fn scsi_debug_fixtures_are_out_of_scope_unless_configured() {
    for name in ["scsi-debug-mpath", "scsi-debug-mpath-friendly"] {
        let Some(snap) = fixture(name) else { continue };
        let p = plan(&[], &snap, &no_grace(), &ctx());
        assert!(p.is_empty(), "{name}: not in scope by default: {p}");
        let scoped = Policy {
            scope: Scope {
                proc_names: vec!["scsi_debug".into()],
                ..Scope::default()
            },
            ..no_grace()
        };
        let p = plan(&[], &snap, &scoped, &ctx());
        assert_eq!(deleted(&p).len(), 8, "{name}: {p}");
        let names: Vec<String> = flushed(&p).iter().map(ToString::to_string).collect();
        if name.ends_with("friendly") {
            // The real map name, never the WWID.
            assert_eq!(names, ["mpatha", "mpathb", "mpathc", "mpathd"]);
        }
        let tight = Policy {
            blast_radius: 3,
            ..scoped
        };
        assert!(plan(&[], &snap, &tight, &ctx()).is_empty(), "{name}");
    }
}
