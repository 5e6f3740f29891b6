//! open-iscsi's node records (`/etc/iscsi/nodes`, under an injectable root): which (target,
//! portal, iface) a later `iscsiadm --loginall` or `iscsiadm -m node --login` would log in to.
//!
//! Read, never written (deleting one is `Action::DeleteNode`, through `iscsiadm`). The layout,
//! as open-iscsi's `idbm.c` writes and reads it:
//! - `<nodes>/<target>/<address>,<port>,<tpgt>/<iface>`: one file per iface (open-iscsi since
//!   2.0-870);
//! - `<nodes>/<target>/<address>,<port>` or `<nodes>/<target>/<address>,<port>,<tpgt>` as a
//!   file: an older open-iscsi's record, the `default` iface's (iscsiadm still reads it).
//!
//! IPv6 addresses are written without brackets (`fd00::1,3260,1`): the port and tag are the
//! last comma-separated fields. A missing nodes directory is no problem (open-iscsi not
//! installed, or nothing discovered); a name that is not a record becomes a `Problem` and the
//! rest is still read.

use std::io;
use std::path::Path;

use super::tree::Tree;
use crate::model::{Iqn, Portal};
use crate::snapshot::{NodeRecord, Problem};

/// Where Debian's (and upstream's default) open-iscsi keeps its node records.
pub const NODES_DIR: &str = "/etc/iscsi/nodes";

/// The iface of a record written before ifaces existed (open-iscsi's `DEFAULT_IFACENAME`).
const DEFAULT_IFACE: &str = "default";

/// Every node record under `root`, sorted by target, portal, iface.
pub(crate) fn read_node_records(root: &Path, problems: &mut Vec<Problem>) -> Vec<NodeRecord> {
    let tree = Tree::new(root);
    let mut out = Vec::new();
    if !tree.root_is_dir() {
        if root.exists() {
            problems.push(Problem {
                path: tree.display(""),
                what: "the iSCSI node record directory is not a directory".into(),
            });
        }
        return out;
    }
    let targets = match tree.list("") {
        Ok(t) => t,
        Err(e) => {
            problems.push(problem(&tree, "", &e));
            return out;
        }
    };
    for t in targets {
        let Ok(target) = t.parse::<Iqn>() else {
            problems.push(Problem {
                path: tree.display(&t),
                what: "not an iSCSI name: not read as a node record".into(),
            });
            continue;
        };
        let portals = match tree.list(&t) {
            Ok(p) => p,
            Err(e) => {
                problems.push(problem(&tree, &t, &e));
                continue;
            }
        };
        for p in portals {
            let rel = format!("{t}/{p}");
            let Some((portal, tpgt)) = parse_portal_dir(&p) else {
                problems.push(Problem {
                    path: tree.display(&rel),
                    what: "not <address>,<port>[,<tpgt>]: not read as a node record".into(),
                });
                continue;
            };
            let record = |iface: &str| NodeRecord {
                target: target.clone(),
                portal,
                tpgt,
                iface: iface.to_owned(),
            };
            match tree.list(&rel) {
                Ok(ifaces) => out.extend(ifaces.iter().map(|i| record(i))),
                // The older file-per-portal form.
                Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                    out.push(record(DEFAULT_IFACE));
                }
                Err(e) => problems.push(problem(&tree, &rel, &e)),
            }
        }
    }
    out.sort();
    out
}

fn problem(tree: &Tree, rel: &str, e: &io::Error) -> Problem {
    Problem {
        path: tree.display(rel),
        what: format!("cannot read the iSCSI node records: {e}"),
    }
}

/// `<address>,<port>[,<tpgt>]` (IPv6 without brackets) as portal and tag.
fn parse_portal_dir(name: &str) -> Option<(Portal, Option<i32>)> {
    let mut fields = name.rsplitn(3, ',');
    let (last, middle, first) = (fields.next()?, fields.next()?, fields.next());
    let (address, port, tpgt) = match first {
        Some(address) => (address, middle, Some(last.parse::<i32>().ok()?)),
        None => (middle, last, None),
    };
    let portal = Portal::from_parts(address, port).ok()?;
    Some((portal, tpgt))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    const T: &str = "iqn.2003-01.org.linux-iscsi.target.x8664:sn.0123456789ab";

    fn rec(portal: &str, tpgt: Option<i32>, iface: &str) -> NodeRecord {
        NodeRecord {
            target: T.parse().unwrap(),
            portal: portal.parse().unwrap(),
            tpgt,
            iface: iface.into(),
        }
    }

    #[test]
    fn reads_the_directory_per_portal_layout_with_one_file_per_iface() {
        let d = tempfile::tempdir().unwrap();
        let portal = d.path().join(T).join("192.0.2.10,3260,1");
        fs::create_dir_all(&portal).unwrap();
        fs::write(portal.join("default"), "node.name = x\n").unwrap();
        fs::write(portal.join("lunguard"), "node.name = x\n").unwrap();
        let v6 = d.path().join(T).join("2001:db8::10,3260,2");
        fs::create_dir_all(&v6).unwrap();
        fs::write(v6.join("lunguard"), "").unwrap();
        let mut problems = Vec::new();
        let got = read_node_records(d.path(), &mut problems);
        assert_eq!(problems, []);
        assert_eq!(
            got,
            [
                rec("192.0.2.10:3260", Some(1), "default"),
                rec("192.0.2.10:3260", Some(1), "lunguard"),
                rec("[2001:db8::10]:3260", Some(2), "lunguard"),
            ]
        );
    }

    #[test]
    fn reads_an_older_open_iscsis_file_per_portal_as_the_default_iface() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join(T)).unwrap();
        fs::write(d.path().join(T).join("192.0.2.10,3260"), "").unwrap();
        fs::write(d.path().join(T).join("192.0.2.11,3260,1"), "").unwrap();
        let mut problems = Vec::new();
        let got = read_node_records(d.path(), &mut problems);
        assert_eq!(problems, []);
        assert_eq!(
            got,
            [
                rec("192.0.2.10:3260", None, "default"),
                rec("192.0.2.11:3260", Some(1), "default"),
            ]
        );
    }

    #[test]
    fn no_nodes_directory_is_no_record_and_no_problem() {
        let d = tempfile::tempdir().unwrap();
        let mut problems = Vec::new();
        assert_eq!(
            read_node_records(&d.path().join("nodes"), &mut problems),
            []
        );
        assert_eq!(problems, []);
    }

    #[test]
    fn a_name_that_is_not_a_record_is_a_problem_and_the_rest_is_read() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("not an iqn")).unwrap();
        fs::create_dir_all(d.path().join(T).join("somewhere,x")).unwrap();
        fs::create_dir_all(d.path().join(T).join("192.0.2.10,3260,1")).unwrap();
        fs::write(d.path().join(T).join("192.0.2.10,3260,1/default"), "").unwrap();
        let mut problems = Vec::new();
        let got = read_node_records(d.path(), &mut problems);
        assert_eq!(got, [rec("192.0.2.10:3260", Some(1), "default")]);
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    /// The snapshot reads them through the fixture's root (`D/etc/iscsi/nodes`), never the
    /// host's, and so does the incremental refresh (no uevent says a record changed).
    #[test]
    fn snapshot_and_refresh_read_the_records_under_the_injected_root() {
        let d = tempfile::tempdir().unwrap();
        let roots = crate::observe::Roots::fixture(d.path());
        fs::create_dir_all(d.path().join("sys/class/scsi_host")).unwrap();
        let portal = roots.iscsi_nodes.join(T).join("192.0.2.10,3260,1");
        fs::create_dir_all(&portal).unwrap();
        fs::write(portal.join("default"), "").unwrap();
        let mut snap = crate::observe::snapshot(&roots);
        assert_eq!(
            snap.node_records,
            [rec("192.0.2.10:3260", Some(1), "default")]
        );
        fs::remove_file(portal.join("default")).unwrap();
        assert!(crate::observe::refresh(
            &roots,
            &mut snap,
            &Default::default()
        ));
        assert_eq!(snap.node_records, []);
    }

    #[test]
    fn portal_names_parse_with_and_without_tag() {
        let p = |s: &str| parse_portal_dir(s).map(|(p, t)| (p.to_string(), t));
        assert_eq!(
            p("192.0.2.10,3260,1"),
            Some(("192.0.2.10:3260".into(), Some(1)))
        );
        assert_eq!(p("192.0.2.10,3260"), Some(("192.0.2.10:3260".into(), None)));
        assert_eq!(
            p("fd00::1,3260,-1"),
            Some(("[fd00::1]:3260".into(), Some(-1)))
        );
        assert_eq!(p("192.0.2.10"), None);
        assert_eq!(p("192.0.2.10,0,1"), None);
        assert_eq!(p("192.0.2.10,3260,x"), None);
    }
}
