//! Issue 12, part 1: multipathd's wwids file follows the intents. A declared multipath LUN's
//! WWID is registered (`multipath -a`) before its narrowed scan; an entry lunguard added is
//! removed (`multipath -w`) once nothing declares it and no device or map of it is left; an
//! entry lunguard did not add is never touched. Part 2's quarantine list is tested here too:
//! it is the planner's view of which hosts are managed and which addresses declared.

mod planner_support;

use std::collections::BTreeSet;

use lunguard::plan::Action;
use lunguard::reconcile::{Policy, Scope, plan, quarantine_list};
use planner_support::*;

fn file(ids: &[String]) -> Option<BTreeSet<String>> {
    Some(ids.iter().cloned().collect())
}

#[test]
fn a_declared_multipath_wwid_is_registered_before_the_login_and_the_narrowed_scan() {
    // Session on P1 only: P2 needs a login, P1 a scan of LUN 0.
    let mut t = Topo::new();
    t.session(1, 0, T1, P1);
    let mut c = ctx();
    c.wwids_file = file(&[]);
    let p = plan(&declared(&[0]), &t.snap, &no_grace(), &c);
    assert_eq!(kinds(&p), ["register_wwid", "login", "scan_lun"], "{p}");
    assert_eq!(
        lines(&p)[0],
        format!(
            "register {} in multipathd's wwids file (multipath -a): declared by vol0",
            mpath_id(0)
        )
    );
}

#[test]
fn nothing_is_registered_when_the_file_lists_it_or_cannot_be_read_or_for_a_bare_disk() {
    let t = two_portal_mpath(1);
    let mut c = ctx();
    c.wwids_file = file(&[mpath_id(0)]);
    let p = plan(&declared(&[0]), &t.snap, &no_grace(), &c);
    assert!(p.is_empty(), "already listed: {p}");
    c.wwids_file = None;
    let p = plan(&declared(&[0]), &t.snap, &no_grace(), &c);
    assert!(
        p.is_empty(),
        "unreadable file: nothing planned on a guess: {p}"
    );
    // A single-path (multipath = false) attachment is not multipathd's business.
    let mut t = Topo::new();
    t.session(1, 0, T1, P1)
        .disk("0:0:0:0", Some(1), "sda", &wwid(0));
    let bare = vec![att("bare", T1, &[P1], 0, Some(&wwid(0)), false)];
    c.wwids_file = file(&[]);
    let p = plan(&bare, &t.snap, &no_grace(), &c);
    assert!(p.is_empty(), "{p}");
}

#[test]
fn an_undeclared_wwid_is_registered_from_the_lun_found_at_the_declared_address() {
    let mut t = Topo::new();
    t.session(1, 0, T1, P1)
        .disk("0:0:0:0", Some(1), "sda", &wwid(0));
    let no_wwid = vec![att("vol", T1, &[P1], 0, None, true)];
    let mut c = ctx();
    c.wwids_file = file(&[]);
    let p = plan(&no_wwid, &t.snap, &no_grace(), &c);
    assert_eq!(kinds(&p), ["register_wwid", "multipath_add"], "{p}");
}

#[test]
fn an_excluded_target_gets_no_registration() {
    let mut t = Topo::new();
    t.session(1, 0, T1, P1);
    let mut c = ctx();
    c.wwids_file = file(&[]);
    let policy = Policy {
        scope: Scope {
            exclude_targets: vec![T1.into()],
            ..Scope::default()
        },
        ..no_grace()
    };
    let p = plan(&declared(&[0]), &t.snap, &policy, &c);
    assert!(p.steps.is_empty(), "{p}");
}

#[test]
fn lunguards_entry_is_forgotten_only_when_undeclared_and_gone() {
    let mut c = ctx();
    c.wwids_file = file(&[mpath_id(0), mpath_id(1)]);
    c.owned_wwids = [mpath_id(0)].into_iter().collect();
    // lunguard attached T1: its undeclared LUNs are detached.
    c.known_targets.insert(T1.parse().unwrap());
    // Still declared: kept.
    let t = two_portal_mpath(1);
    let p = plan(&declared(&[0]), &t.snap, &no_grace(), &c);
    assert!(p.is_empty(), "{p}");
    // Undeclared but its map and paths are still there (the detach is under way): kept.
    let p = plan(&[], &t.snap, &no_grace(), &c);
    assert!(
        !kinds(&p).contains(&"forget_wwid"),
        "forgotten before the LUN is gone: {p}"
    );
    assert!(kinds(&p).contains(&"flush_map"), "{p}");
    // Undeclared and gone: forgotten. mpath_id(1) is in the file but not lunguard's: never.
    let empty = Topo::new();
    let p = plan(&[], &empty.snap, &no_grace(), &c);
    assert_eq!(kinds(&p), ["forget_wwid"], "{p}");
    assert_eq!(p.steps[0].action, Action::ForgetWwid { id: mpath_id(0) });
    assert_eq!(
        lines(&p)[0],
        format!(
            "remove {} from multipathd's wwids file (multipath -w): lunguard registered it for an attachment that is gone, and no device or map of it is left",
            mpath_id(0)
        )
    );
    // A map alone (no path left, e.g. queueing) also keeps it.
    let mut m = Topo::new();
    m.map(0, &mpath_id(0), &mpath_id(0), &[]);
    let p = plan(&[], &m.snap, &no_grace(), &c);
    assert!(!kinds(&p).contains(&"forget_wwid"), "{p}");
}

#[test]
fn the_quarantine_list_names_managed_sessions_hosts_and_exactly_the_scanned_addresses() {
    // T1 declared on two sessions (hosts 0, 1), T2 in scope by pattern on host 2, OTHER out of
    // scope on host 3, and T2 excluded in a second policy.
    let mut t = Topo::new();
    t.session(1, 0, T1, P1)
        .session(2, 1, T1, P2)
        .session(3, 2, T2, P1)
        .session(4, 3, OTHER, P1);
    let policy = Policy {
        scope: Scope {
            targets: vec!["iqn.2026-11.test.lunguard:*".into()],
            ..Scope::default()
        },
        ..no_grace()
    };
    let c = ctx();
    let desired = declared(&[0, 2]);
    let l = quarantine_list(&desired, &t.snap, &policy, &c);
    assert_eq!(l.hosts.iter().copied().collect::<Vec<_>>(), [0, 1, 2]);
    let d: Vec<String> = l.declared.iter().map(ToString::to_string).collect();
    assert_eq!(d, ["0:0:0:0", "0:0:0:2", "1:0:0:0", "1:0:0:2"]);
    // The addresses the planner scans are exactly the declared ones.
    let p = plan(&desired, &t.snap, &policy, &c);
    for s in &p.steps {
        if let Action::ScanLun { hctl, .. } = &s.action {
            assert!(l.declared.contains(hctl), "{hctl} scanned but not declared");
        }
    }
    assert_eq!(
        kinds(&p).iter().filter(|k| **k == "scan_lun").count(),
        4,
        "{p}"
    );
    // An excluded target's session is never listed, even when declared.
    let excluded = Policy {
        scope: Scope {
            exclude_targets: vec![T1.into()],
            ..policy.scope.clone()
        },
        ..no_grace()
    };
    let l = quarantine_list(&desired, &t.snap, &excluded, &c);
    assert_eq!(l.hosts.iter().copied().collect::<Vec<_>>(), [2]);
    assert!(l.declared.is_empty());
}
