use super::*;
use crate::model::DevT;
use std::time::Duration;

fn list(hosts: &[u32], declared: &[&str]) -> QuarantineList {
    QuarantineList {
        hosts: hosts.iter().copied().collect(),
        declared: declared.iter().map(|h| h.parse().unwrap()).collect(),
    }
}

fn entries(dir: &Path, sub: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir.join(sub))
        .map(|r| {
            r.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn the_directory_follows_the_list_and_reports_new_declarations() {
    let run = tempfile::tempdir().unwrap();
    // A previous run's stale entry is gone after the first sync.
    fs::create_dir_all(run.path().join("quarantine/hosts")).unwrap();
    fs::write(run.path().join("quarantine/hosts/host9"), b"").unwrap();
    let w = Writer::new(run.path());
    let added = w.sync(&list(&[3, 4], &["3:0:0:1", "4:0:0:1"])).unwrap();
    assert_eq!(
        added.len(),
        2,
        "the first sync reports every declared address"
    );
    assert_eq!(entries(w.dir(), "hosts"), ["host3", "host4"]);
    assert_eq!(entries(w.dir(), "declared"), ["3:0:0:1", "4:0:0:1"]);

    let added = w
        .sync(&list(&[3, 5], &["3:0:0:1", "3:0:0:2", "5:0:0:0"]))
        .unwrap();
    let added: Vec<String> = added.iter().map(ToString::to_string).collect();
    assert_eq!(added, ["3:0:0:2", "5:0:0:0"]);
    assert_eq!(entries(w.dir(), "hosts"), ["host3", "host5"]);
    assert_eq!(
        entries(w.dir(), "declared"),
        ["3:0:0:1", "3:0:0:2", "5:0:0:0"]
    );

    // A quiet pass changes nothing and reports nothing.
    assert!(
        w.sync(&list(&[3, 5], &["3:0:0:1", "3:0:0:2", "5:0:0:0"]))
            .unwrap()
            .is_empty()
    );

    w.clear().unwrap();
    assert!(!w.dir().exists(), "cleared: the rule quarantines nothing");
    // After a clear the next sync rebuilds everything.
    assert_eq!(w.sync(&list(&[3], &["3:0:0:1"])).unwrap().len(), 1);
    assert_eq!(entries(w.dir(), "hosts"), ["host3"]);
}

#[test]
fn a_quarantined_declared_disk_and_its_partitions_get_a_change_event_and_nothing_else_does() {
    use crate::testing::{FakeDisk, FakeSession, FakeTree};
    let dir = tempfile::tempdir().unwrap();
    let t = FakeTree::new(dir.path()).unwrap();
    t.add_iscsi_session(&FakeSession {
        sid: 1,
        host: 3,
        target: "iqn.2026-11.test:t".into(),
        address: "127.0.0.1".into(),
        port: 3260,
        state: "LOGGED_IN".into(),
    })
    .unwrap();
    for (h, name, minor) in [("3:0:0:1", "sdb", 16), ("3:0:0:2", "sdc", 32)] {
        t.add_disk(&FakeDisk::new(h.parse().unwrap(), name, DevT::new(8, minor)).wwid("naa.1"))
            .unwrap();
    }
    t.add_partition("sdb", "sdb1", DevT::new(8, 17), 1 << 20)
        .unwrap();
    let snap = crate::observe::snapshot(&t.roots());
    for name in ["sdb", "sdb1", "sdc"] {
        fs::write(t.sys_path(&format!("class/block/{name}/uevent")), b"").unwrap();
    }
    let db = tempfile::tempdir().unwrap();
    fs::write(
        db.path().join("b8:16"),
        "S:disk/by-x\nE:LUNGUARD_QUARANTINE=1\n",
    )
    .unwrap();
    fs::write(db.path().join("b8:17"), "E:LUNGUARD_QUARANTINE=1\n").unwrap();
    fs::write(db.path().join("b8:32"), "E:LUNGUARD_QUARANTINE=1\n").unwrap();
    let added: Vec<Hctl> = vec!["3:0:0:1".parse().unwrap()];
    let sys = Sysfs::new(t.roots().sys).with_deadline(Duration::from_secs(5));
    let out = release(&sys, db.path(), &snap, &added);
    let mut released: Vec<String> = out.into_iter().map(Result::unwrap).collect();
    released.sort();
    assert_eq!(released, ["sdb", "sdb1"]);
    let ev = |n: &str| fs::read_to_string(t.sys_path(&format!("class/block/{n}/uevent"))).unwrap();
    assert_eq!(ev("sdb"), "change");
    assert_eq!(ev("sdb1"), "change");
    assert_eq!(
        ev("sdc"),
        "",
        "3:0:0:2 is not declared: it stays quarantined"
    );
}

#[test]
fn only_the_exact_property_line_counts_as_quarantined() {
    let db = tempfile::tempdir().unwrap();
    fs::write(
        db.path().join("b8:16"),
        "E:LUNGUARD_QUARANTINE=0\nE:X=LUNGUARD_QUARANTINE=1\n",
    )
    .unwrap();
    assert!(!is_quarantined(db.path(), DevT::new(8, 16)));
    assert!(!is_quarantined(db.path(), DevT::new(8, 99)), "no entry");
}
