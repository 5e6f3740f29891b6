//! Ties the planner resolves by input order, pinned: which map, attachment, override and login
//! wins when several match, and in what order LUNs are handled. The planner looks these up in
//! tables built once a plan (issue 8, goal 3); a table keeping the last match, or ordering by
//! position instead of by name, would change the answers below.

mod planner_support;

use lunguard::model::OnUnexpected;
use lunguard::plan::{Action, FindingKind, Subject};
use lunguard::reconcile::plan;
use planner_support::*;

#[test]
fn attachment_map_is_the_first_map_in_snapshot_order_over_any_of_its_paths() {
    // dm-0 holds only the second portal's path, dm-1 only the first's: the first map in the
    // snapshot wins, not the map of the first path.
    let mut t = Topo::new();
    t.session(1, 0, T1, P1).session(2, 1, T1, P2);
    t.disk("0:0:0:0", Some(1), "sda", &wwid(0))
        .disk("1:0:0:0", Some(2), "sdb", &wwid(0));
    t.map(0, "mpathzero", &mpath_id(0), &["sdb"])
        .map(1, "mpathone", &mpath_id(0), &["sda"]);
    let p = plan(&declared(&[0]), &t.snap, &no_grace(), &ctx());
    let maps: Vec<String> = p
        .findings
        .iter()
        .filter_map(|f| match (&f.subject, &f.kind) {
            (Subject::Map { name }, FindingKind::Converged) => Some(name.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(maps, ["mpathzero"], "{:#?}", p.findings);
}

#[test]
fn path_belongs_to_the_first_attachment_in_file_order_that_declares_its_portal() {
    // Two attachments at one address: "first" only through P2 and expecting another WWID,
    // "second" through both portals. The P2 path is "first"'s (so not ours: wrong WWID); the P1
    // path is "second"'s, which "first" does not declare.
    let mut t = Topo::new();
    t.session(1, 0, T1, P1).session(2, 1, T1, P2);
    t.disk("0:0:0:1", Some(1), "sda", &wwid(1))
        .disk("1:0:0:1", Some(2), "sdb", &wwid(1));
    let desired = [
        att("first", T1, &[P2], 1, Some(&wwid(7)), false),
        att("second", T1, &[P1, P2], 1, Some(&wwid(1)), false),
    ];
    let p = plan(&desired, &t.snap, &no_grace(), &ctx());
    let wrong: Vec<(String, Option<String>)> = p
        .findings
        .iter()
        .filter(|f| {
            matches!(f.kind, FindingKind::WrongWwid { .. })
                && matches!(f.subject, Subject::Path { .. })
        })
        .map(|f| (f.subject.to_string(), f.attachment.clone()))
        .collect();
    assert_eq!(wrong, [("1:0:0:1".to_owned(), Some("first".to_owned()))]);
    assert_eq!(deleted(&p), [h("1:0:0:1")], "{p}");
}

#[test]
fn overrides_come_from_the_first_attachment_on_the_target_in_file_order() {
    // LUN 2 is unwanted on T1; both attachments on T1 override on_unexpected, differently.
    let t = two_portal_mpath(3);
    let mut alert_first = declared(&[0, 1]);
    alert_first[0].policy.on_unexpected = Some(OnUnexpected::Alert);
    alert_first[1].policy.on_unexpected = Some(OnUnexpected::Remove);
    let p = plan(&alert_first, &t.snap, &no_grace(), &ctx());
    assert!(deleted(&p).is_empty(), "{p}");
    assert!(
        p.findings.iter().any(|f| matches!(&f.kind,
            FindingKind::Unwanted { action, .. } if action.contains("alert only"))),
        "{:#?}",
        p.findings
    );

    let mut remove_first = alert_first.clone();
    remove_first.swap(0, 1);
    let p = plan(&remove_first, &t.snap, &no_grace(), &ctx());
    assert_eq!(deleted(&p), [h("0:0:0:2"), h("1:0:0:2")], "{p}");
}

#[test]
fn one_login_per_target_and_portal_with_the_first_attachments_reason() {
    // No session yet: three attachments need the same two logins.
    let t = Topo::new();
    let p = plan(&declared(&[4, 5, 6]), &t.snap, &no_grace(), &ctx());
    let logins: Vec<(String, String)> = p
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::Login { .. }))
        .map(|s| (s.action.to_string(), s.reason.clone()))
        .collect();
    assert_eq!(logins.len(), 2, "{p}");
    assert!(
        logins.iter().all(|(_, r)| r == "declared by vol4"),
        "{logins:?}"
    );
    assert!(
        logins[0].0.contains(P1) && logins[1].0.contains(P2),
        "{logins:?}"
    );
}

#[test]
fn unwanted_luns_are_removed_in_map_kernel_name_order_as_text() {
    // Maps dm-2 and dm-10, both unwanted: LUNs are taken in the order of their maps' kernel
    // names as text ("dm-10" < "dm-2"), as they always were, not by number or snapshot position.
    let mut t = Topo::new();
    t.session(1, 0, T1, P1);
    t.disk("0:0:0:2", Some(1), "sda", &wwid(2))
        .disk("0:0:0:3", Some(1), "sdb", &wwid(3));
    t.map(2, &mpath_id(2), &mpath_id(2), &["sda"])
        .map(10, &mpath_id(3), &mpath_id(3), &["sdb"]);
    let p = plan(&declared(&[0]), &t.snap, &no_grace(), &ctx());
    let flushed: Vec<String> = flushed(&p).iter().map(ToString::to_string).collect();
    assert_eq!(flushed, [mpath_id(3), mpath_id(2)], "{p}");
}
