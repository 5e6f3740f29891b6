use std::path::Path;

use super::*;

const TARGET: &str = "iqn.2003-01.org.example:array";

fn write(root: &Path, abs: &str, text: &str) {
    let p = root.join(abs.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn attachment(multipath: bool) -> Attachment {
    let portals = if multipath {
        "\"192.0.2.10\", \"198.51.100.10\""
    } else {
        "\"192.0.2.10\""
    };
    let text = format!(
        "[[attachment]]\nname = \"vol-1\"\ntransport = \"iscsi\"\ntarget = \"{TARGET}\"\nportals = [{portals}]\nlun = 1\nwwid = \"naa.6001405aa1f1c7e1c2a74b0b8d51e4c1\"\nmultipath = {multipath}\n"
    );
    let c = crate::desire::check_text(Path::new("a.toml"), &text, &Default::default());
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    c.attachments.into_iter().next().expect("one")
}

const GOOD_MULTIPATH: &str = "defaults {\n\tfind_multipaths \"strict\"\n\tuser_friendly_names \"no\"\n\tflush_on_last_del \"yes\"\n\tno_path_retry 12\n\tpolling_interval 5\n}\nblacklist {\n\twwid \"^3600508b1001c0000000000000000beef$\"\n\tdevnode \"^(ram|zram)[0-9]*\"\n}\ndevices {\n\tdevice {\n\t\tvendor \"LIO-ORG\"\n\t\tno_path_retry queue\n\t}\n}\n";

/// A host configured as docs/doctor.md advises: the root disk blacklisted, the declared WWID
/// in the wwids file, the daemons running, the unit installed as shipped.
fn good_host(root: &Path) -> Inputs {
    write(
        root,
        "/etc/iscsi/iscsid.conf",
        "# comment\nnode.startup = manual\nnode.session.scan = manual\nnode.session.timeo.replacement_timeout = 15\nnode.conn[0].timeo.noop_out_interval = 5\nnode.conn[0].timeo.noop_out_timeout = 5\n",
    );
    write(
        root,
        &format!("/etc/iscsi/nodes/{TARGET}/192.0.2.10,3260,1/default"),
        "node.name = x\nnode.session.scan = manual\nnode.conn[0].address = 192.0.2.10\n",
    );
    write(
        root,
        "/etc/multipath/wwids",
        "# Multipath wwids, Version : 1.0\n/36001405aa1f1c7e1c2a74b0b8d51e4c1/\n",
    );
    write(
        root,
        "/usr/lib/systemd/system/lunguard.service",
        "[Service]\n",
    );
    write(
        root,
        "/usr/lib/udev/rules.d/59-lunguard-quarantine.rules",
        "# rule\n",
    );
    for (pid, comm) in [
        (1, "systemd"),
        (200, "systemd-udevd"),
        (300, "iscsid"),
        (400, "multipathd"),
    ] {
        write(root, &format!("/proc/{pid}/comm"), &format!("{comm}\n"));
    }
    write(
        root,
        "/proc/self/mountinfo",
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n",
    );
    write(
        root,
        "/sys/dev/block/8:1/../device/wwid",
        "naa.600508b1001c0000000000000000beef\n",
    );
    Inputs {
        root: root.to_owned(),
        proc: root.join("proc"),
        multipath: Some(parse_multipath_config(GOOD_MULTIPATH)),
        multipath_error: None,
        attachments: vec![attachment(true)],
        state_errors: Vec::new(),
        database_error: None,
        heartbeat_secs: Some(60),
    }
}

fn ids(f: &[Finding]) -> Vec<&'static str> {
    f.iter()
        .filter(|f| f.severity > Severity::Note)
        .map(|f| f.id)
        .collect()
}

#[test]
fn a_well_configured_host_has_no_findings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = audit(&good_host(dir.path()));
    assert_eq!(ids(&f), Vec::<&str>::new(), "{f:#?}");
}

#[test]
fn multipath_config_sections_quotes_and_comments() {
    let c = parse_multipath_config(
        "# c\ndefaults {\n  user_friendly_names yes ! bang comment\n  features \"1 queue_if_no_path\"\n}\noverrides {\n  no_path_retry fail\n}\nblacklist {\n  wwid 36001\n}\n",
    );
    assert_eq!(c.get("user_friendly_names"), Some("yes"));
    assert_eq!(c.get("features"), Some("1 queue_if_no_path"));
    assert_eq!(c.get("no_path_retry"), Some("fail"), "overrides win");
    assert_eq!(c.blacklist_wwids, ["36001"]);
}

/// Each setting the seeds warn about, broken one at a time on the good host, raises exactly
/// its finding, with the file and line where it is set and a fix line.
#[test]
fn each_misconfiguration_raises_its_finding() {
    type Break = Box<dyn Fn(&Path, &mut Inputs)>;
    let set_iscsi = |line: &'static str| -> Break {
        Box::new(move |root: &Path, _: &mut Inputs| {
            let p = root.join("etc/iscsi/iscsid.conf");
            let mut t = std::fs::read_to_string(&p).expect("read");
            t.push_str(line);
            t.push('\n');
            std::fs::write(p, t).expect("write");
        })
    };
    let set_mp2 = |edits: &'static [(&'static str, &'static str)]| -> Break {
        Box::new(move |_: &Path, i: &mut Inputs| {
            let mut text = GOOD_MULTIPATH.to_owned();
            for (from, to) in edits {
                assert!(text.contains(from), "{from}");
                text = text.replace(from, to);
            }
            i.multipath = Some(parse_multipath_config(&text));
        })
    };
    let set_mp = |from: &'static str, to: &'static str| -> Break {
        Box::new(move |_: &Path, i: &mut Inputs| {
            assert!(GOOD_MULTIPATH.contains(from), "{from}");
            i.multipath = Some(parse_multipath_config(&GOOD_MULTIPATH.replace(from, to)));
        })
    };
    let mut cases: Vec<(&str, Break, &str)> = vec![
        (
            "iscsi.session_scan",
            set_iscsi("node.session.scan = auto"),
            "node.session.scan = manual",
        ),
        (
            "iscsi.node_startup",
            set_iscsi("node.startup = automatic"),
            "node.startup = manual",
        ),
        (
            "iscsi.replacement_timeout",
            set_iscsi("node.session.timeo.replacement_timeout = 120"),
            "replacement_timeout = 15",
        ),
        (
            "iscsi.noop_disabled",
            set_iscsi("node.conn[0].timeo.noop_out_interval = 0"),
            "noop_out_interval = 5",
        ),
        (
            "iscsi.heartbeat",
            Box::new(|_: &Path, i: &mut Inputs| i.heartbeat_secs = Some(12)),
            "raise the heartbeat above 30",
        ),
        (
            "iscsi.node_record_scan",
            Box::new(|root: &Path, _: &mut Inputs| {
                write(
                    root,
                    &format!("/etc/iscsi/nodes/{TARGET}/198.51.100.10,3260,1/default"),
                    "node.session.scan = auto\nnode.conn[0].address = 198.51.100.10\n",
                );
            }),
            "-p 198.51.100.10 -o update -n node.session.scan -v manual",
        ),
        (
            "multipath.find_multipaths",
            set_mp("\"strict\"", "\"off\""),
            "find_multipaths strict",
        ),
        (
            "multipath.flush_on_last_del",
            set_mp("flush_on_last_del \"yes\"", "flush_on_last_del \"no\""),
            "flush_on_last_del yes",
        ),
        (
            "multipath.no_path_retry",
            set_mp(
                "no_path_retry 12\n\tpolling",
                "no_path_retry queue\n\tpolling",
            ),
            "no_path_retry 12",
        ),
        (
            "multipath.wwids_missing",
            Box::new(|root: &Path, _: &mut Inputs| write(root, "/etc/multipath/wwids", "")),
            "multipath -a 36001405aa1f1c7e1c2a74b0b8d51e4c1",
        ),
        (
            "multipath.unavailable",
            Box::new(|_: &Path, i: &mut Inputs| {
                i.multipath = None;
                i.multipath_error = Some("multipath not found".into());
            }),
            "apt-get install multipath-tools",
        ),
        (
            "service.multipathd",
            Box::new(|root: &Path, _: &mut Inputs| {
                std::fs::remove_dir_all(root.join("proc/400")).expect("rm");
            }),
            "systemctl enable --now multipathd",
        ),
        (
            "lunguard.unit_missing",
            Box::new(|root: &Path, _: &mut Inputs| {
                std::fs::remove_file(root.join("usr/lib/systemd/system/lunguard.service"))
                    .expect("rm");
            }),
            "install the lunguard package",
        ),
        (
            "lunguard.unit_weakened",
            Box::new(|root: &Path, _: &mut Inputs| {
                write(
                    root,
                    "/etc/systemd/system/lunguard.service.d/override.conf",
                    "[Service]\nProtectSystem=no\n",
                );
            }),
            "remove the line from /etc/systemd/system/lunguard.service.d/override.conf",
        ),
        (
            "lunguard.state_rejected",
            Box::new(|_: &Path, i: &mut Inputs| {
                i.state_errors = vec!["state.d/a.toml:3:1: bad".into()];
            }),
            "lunguard check",
        ),
        (
            "lunguard.database",
            Box::new(|_: &Path, i: &mut Inputs| {
                i.database_error = Some("the database is damaged".into());
            }),
            "move the database aside",
        ),
        (
            "target.write_cache",
            Box::new(|root: &Path, _: &mut Inputs| {
                write(
                    root,
                    "/etc/tgt/conf.d/vol.conf",
                    "<target iqn.2010-10.org.example:vol>\n  backing-store /dev/vg/vol\n</target>\n<target iqn.2010-10.org.example:ok>\n  write-cache off\n</target>\n",
                );
            }),
            "write-cache off",
        ),
    ];
    // The root disk is at risk only when multipathd may claim it: find_multipaths is not
    // strict (its own finding) and no blacklist entry names the disk.
    cases.push((
        "multipath.root_disk",
        set_mp2(&[
            ("\"strict\"", "\"greedy\""),
            ("^3600508b1001c0000000000000000beef$", "^nothing$"),
        ]),
        "blacklist { wwid \"3600508b1001c0000000000000000beef\" }",
    ));
    for (id, broken, fix) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut inputs = good_host(dir.path());
        broken(dir.path(), &mut inputs);
        let f = audit(&inputs);
        let mut got = ids(&f);
        if id == "multipath.root_disk" {
            got.retain(|i| *i != "multipath.find_multipaths");
        }
        assert_eq!(got, [id], "{f:#?}");
        let found = f.iter().find(|f| f.id == id).expect("finding");
        assert!(found.fix.contains(fix), "{id}: fix {:?}", found.fix);
        assert!(
            !found.leads_to.is_empty() && !found.source.is_empty(),
            "{found:?}"
        );
    }
}

#[test]
fn the_setting_names_its_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut inputs = good_host(dir.path());
    write(
        dir.path(),
        "/etc/iscsi/iscsid.conf",
        "node.startup = manual\n\n# scan on login\nnode.session.scan = auto\n",
    );
    inputs.attachments = vec![attachment(false)];
    let f = audit(&inputs);
    let scan = f
        .iter()
        .find(|f| f.id == "iscsi.session_scan")
        .expect("scan");
    assert_eq!(scan.source, "/etc/iscsi/iscsid.conf:4");
    // Without multipath attachments, multipath's timeouts are not judged.
    assert!(!ids(&f).contains(&"iscsi.replacement_timeout"), "{f:#?}");
}

/// Issue 12: without the quarantine rule, a note (not a finding: the guard works without it)
/// says what other claimants may do during the grace, and how to install it.
#[test]
fn a_missing_quarantine_rule_is_a_note_with_its_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = good_host(dir.path());
    let f = audit(&inputs);
    assert!(
        !f.iter().any(|f| f.id == "lunguard.quarantine_rule"),
        "{f:#?}"
    );
    std::fs::remove_file(
        dir.path()
            .join("usr/lib/udev/rules.d/59-lunguard-quarantine.rules"),
    )
    .expect("rm");
    let f = audit(&inputs);
    let note = f
        .iter()
        .find(|f| f.id == "lunguard.quarantine_rule")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(note.severity, Severity::Note);
    assert!(
        note.fix.contains("udevadm control --reload"),
        "{}",
        note.fix
    );
    assert!(ids(&f).is_empty(), "a note only: {f:#?}");
    // A copy in /etc counts.
    write(
        dir.path(),
        "/etc/udev/rules.d/59-lunguard-quarantine.rules",
        "# rule\n",
    );
    assert!(
        !audit(&inputs)
            .iter()
            .any(|f| f.id == "lunguard.quarantine_rule")
    );
}
