//! Issue 10, item 2: open-iscsi node records left without a session. A detach killed between
//! its logout and the deletion of the node record left the record behind, and the restarted
//! daemon never deleted it (the planner only deleted records together with a logout), so the
//! next `iscsiadm --loginall` would log in again to an undeclared target. Fail closed: never
//! an out-of-scope target's record, never one a session may use, never a declared portal's.

mod planner_support;

use std::time::Duration;

use lunguard::model::DeviceKey;
use lunguard::plan::{FindingKind, Subject};
use lunguard::reconcile::{Policy, plan};
use lunguard::snapshot::NodeRecord;
use planner_support::*;

fn record(t: &mut Topo, target: &str, portal: &str, iface: &str) {
    t.snap.node_records.push(NodeRecord {
        target: target.parse().expect("test IQN"),
        portal: portal.parse().expect("test portal"),
        tpgt: Some(1),
        iface: iface.into(),
    });
}

/// A context where lunguard attached `T1` (it holds the claim) and the intent is gone.
fn t1_was_ours() -> lunguard::reconcile::Context {
    let mut c = ctx();
    c.known_targets.insert(T1.parse().expect("T1"));
    c
}

fn graceful() -> Policy {
    Policy {
        grace: Duration::from_secs(3600),
        ..Policy::default()
    }
}

#[test]
fn interrupted_detach_node_record_is_deleted_without_waiting() {
    let mut t = Topo::new();
    record(&mut t, T1, P1, "default");
    record(&mut t, T1, P2, "default");
    let p = plan(&[], &t.snap, &graceful(), &t1_was_ours());
    assert_eq!(kinds(&p), ["delete_node", "delete_node"], "{p}");
    assert_eq!(
        lines(&p)[0],
        format!(
            "delete node record {T1} at {P1} iface default: intent removed: node record of {T1} left without a session"
        )
    );
    assert_ne!(p.steps[0].group, p.steps[1].group, "each record on its own");
    assert!(p.findings.iter().any(|f| matches!(&f.subject,
        Subject::NodeRecord { iface, .. } if iface == "default")));
}

#[test]
fn out_of_scope_node_record_is_never_deleted() {
    let mut t = Topo::new();
    record(&mut t, OTHER, P1, "default");
    let mut c = ctx();
    let key = DeviceKey::Session {
        target: OTHER.parse().unwrap(),
        portal: P1.parse().unwrap(),
        iface: Some("default".into()),
    };
    c.first_seen
        .insert(key, now() - Duration::from_secs(86_400));
    let p = plan(&[], &t.snap, &no_grace(), &c);
    assert!(p.is_empty(), "{p}");
    assert!(p.newly_seen.is_empty(), "out of scope is not even watched");
}

#[test]
fn node_record_in_use_by_a_session_is_left_to_the_session_rule() {
    // The session (iface default) is logged out by the session rule, which deletes its record
    // once; the record of another iface to the same portal has a session whose iface sysfs
    // did not name, so it may be in use: kept.
    let mut t = Topo::new();
    t.session(1, 3, T1, P1);
    record(&mut t, T1, P1, "default");
    let p = plan(&[], &t.snap, &no_grace(), &t1_was_ours());
    assert_eq!(kinds(&p), ["logout", "delete_node"], "{p}");

    let mut t = Topo::new();
    t.session(1, 3, T1, P1).iface(1, None);
    record(&mut t, T1, P1, "other");
    let p = plan(&[], &t.snap, &no_grace(), &t1_was_ours());
    assert!(!kinds(&p).contains(&"delete_node"), "{p}");
}

#[test]
fn declared_portals_node_record_is_kept_while_its_login_is_retried() {
    // A login that failed after creating its record: the portal is still declared.
    let mut t = Topo::new();
    record(&mut t, T1, P1, "default");
    let desired = vec![att("vol0", T1, &[P1], 0, Some(&wwid(0)), false)];
    let p = plan(&desired, &t.snap, &no_grace(), &t1_was_ours());
    assert_eq!(kinds(&p), ["login"], "{p}");
}

#[test]
fn undeclared_portal_of_a_declared_target_waits_for_grace() {
    let mut t = Topo::new();
    record(&mut t, T1, P2, "default");
    let desired = vec![att("vol0", T1, &[P1], 0, Some(&wwid(0)), false)];
    let p = plan(&desired, &t.snap, &graceful(), &t1_was_ours());
    assert_eq!(kinds(&p), ["login"], "{p}");
    assert!(
        p.findings
            .iter()
            .any(|f| matches!(f.kind, FindingKind::WaitingForGrace { .. })),
        "{p}"
    );
    let key = DeviceKey::Session {
        target: T1.parse().unwrap(),
        portal: P2.parse().unwrap(),
        iface: Some("default".into()),
    };
    assert_eq!(p.newly_seen, std::slice::from_ref(&key));
    let mut c = t1_was_ours();
    c.first_seen.insert(key, now() - Duration::from_secs(7200));
    let p = plan(&desired, &t.snap, &graceful(), &c);
    assert_eq!(kinds(&p), ["delete_node", "login"], "{p}");
}

#[test]
fn pattern_scoped_node_record_waits_for_grace() {
    let mut t = Topo::new();
    record(&mut t, T2, P1, "default");
    let mut policy = graceful();
    policy.scope.targets = vec!["iqn.2026-11.test.lunguard:*".into()];
    let p = plan(&[], &t.snap, &policy, &ctx());
    assert!(p.steps.is_empty(), "{p}");
    let mut c = ctx();
    c.first_seen
        .insert(p.newly_seen[0].clone(), now() - Duration::from_secs(7200));
    let p = plan(&[], &t.snap, &policy, &c);
    assert_eq!(kinds(&p), ["delete_node"], "{p}");
}
