//! Every recorded fixture in `tests/fixtures/<name>/` (taken on a real kernel by tests/vm, see
//! docs/testing.md) must read without problems and agree with the tools' own view recorded next to
//! it in `commands/` (tests/common/toolcheck.rs says what is compared).

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::toolcheck;
use lunguard::observe::{Roots, snapshot};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut v: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("sys").is_dir())
        .collect();
    v.sort();
    v
}

#[test]
fn recorded_fixtures_read_cleanly_and_match_the_tools() {
    let all = fixtures();
    assert!(
        all.len() >= 6,
        "expected the recorded fixtures under tests/fixtures (see docs/testing.md), found {all:?}"
    );
    for fx in all {
        let checks = check_fixture(&fx);
        assert_eq!(
            checks,
            4,
            "{}: every fixture records all four tools",
            fx.display()
        );
    }
}

/// Reads a fixture and compares it with its recorded tool output; returns how many tools.
fn check_fixture(fx: &Path) -> usize {
    let name = fx.display().to_string();
    let snap = snapshot(&Roots::fixture(fx));
    let problems = snap.all_problems();
    assert!(problems.is_empty(), "{name}: problems: {problems:#?}");
    toolcheck::check_all(&name, &snap, fx)
}

const LSSCSI: &str = "\
[2:0:0:0]    disk    Linux    scsi_debug       0191  /dev/sda   t10.Linux   scsi_debug  2000
[3:0:0:1]    disk    iqn.2003-01.org.linux-iscsi.target.x8664:sn.0123456789ab,t,0x1  /dev/sdb   naa.6001405abcdef0123456789abcdef012
[4:0:0:1]    disk    iqn.2003-01.org.linux-iscsi.target.x8664:sn.0123456789ab,t,0x1  /dev/sdc   naa.6001405abcdef0123456789abcdef012
";
const MULTIPATH: &str = "\
mpatha (36001405abcdef0123456789abcdef012) dm-0 LIO-ORG,block1
size=1.0G features='0' hwhandler='1 alua' wp=rw
`-+- policy='service-time 0' prio=50 status=active
  |- 3:0:0:1 sdb 8:16 active ready running
  `- 4:0:0:1 sdc 8:32 active ready running
";
const ISCSIADM: &str = "\
iSCSI Transport Class version 2.0-870
Target: iqn.2003-01.org.linux-iscsi.target.x8664:sn.0123456789ab (non-flash)
\tCurrent Portal: 192.0.2.10:3260,1
\tPersistent Portal: 192.0.2.10:3260,1
\t\tSID: 1
\t\tiSCSI Session State: LOGGED_IN
\tCurrent Portal: [2001:db8::10]:3260,1
\tPersistent Portal: [2001:db8::10]:3260,1
\t\tSID: 2
";

fn example_with_commands(lsscsi: &str, multipath: &str, iscsiadm: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().expect("tempdir");
    lunguard::testing::example(t.path()).expect("build example tree");
    let c = t.path().join("commands");
    fs::create_dir_all(&c).expect("mkdir commands");
    for (file, text) in [
        ("lsscsi-t.txt", lsscsi),
        ("multipath-ll.txt", multipath),
        ("iscsiadm-session-P3.txt", iscsiadm),
    ] {
        fs::write(c.join(file), text).expect("write command output");
    }
    t
}

#[test]
fn checker_accepts_a_fixture_that_agrees_with_the_tools() {
    let t = example_with_commands(LSSCSI, MULTIPATH, ISCSIADM);
    check_fixture(t.path());
}

#[test]
fn checker_catches_disagreement() {
    for (l, m, i) in [
        (
            LSSCSI.replace("/dev/sdc", "/dev/sdd"),
            MULTIPATH.to_owned(),
            ISCSIADM.to_owned(),
        ),
        (
            LSSCSI.to_owned(),
            MULTIPATH.replace("dm-0", "dm-1"),
            ISCSIADM.to_owned(),
        ),
        (
            LSSCSI.to_owned(),
            MULTIPATH.to_owned(),
            ISCSIADM.replace("192.0.2.10", "192.0.2.11"),
        ),
    ] {
        let t = example_with_commands(&l, &m, &i);
        let caught = std::panic::catch_unwind(|| check_fixture(t.path())).is_err();
        assert!(caught, "disagreement not caught:\n{l}\n{m}\n{i}");
    }
}

/// `lunguard status` on each fixture, as an operator runs it: JSON equal to the library's
/// snapshot, and a table naming every path, disk and map.
#[test]
fn status_command_on_each_fixture_shows_every_path_and_map() {
    for fx in fixtures() {
        let name = fx.display().to_string();
        let snap = snapshot(&Roots::fixture(&fx));
        let run = |json: bool| {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lunguard"));
            cmd.arg("status").arg("--fixture").arg(&fx);
            if json {
                cmd.arg("--json");
            }
            let out = cmd.output().expect("run lunguard status");
            assert!(out.status.success(), "{name}: status exit {}", out.status);
            String::from_utf8(out.stdout).expect("UTF-8 output")
        };
        let v: serde_json::Value = serde_json::from_str(&run(true)).expect("JSON");
        let from_cli: lunguard::snapshot::Snapshot =
            serde_json::from_value(v).expect("schema matches the snapshot type");
        assert_eq!(from_cli, snap, "{name}: status --json vs snapshot");
        let table = run(false);
        for d in &snap.devices {
            assert!(
                table.contains(&d.hctl.to_string()),
                "{name}: {} missing",
                d.hctl
            );
            let disk = d.block.as_ref().map(|b| b.name.clone()).unwrap_or_default();
            assert!(table.contains(&disk), "{name}: {disk} missing");
        }
        for m in snap.dm_devices.iter().filter_map(|d| d.name.as_ref()) {
            assert!(table.contains(m.as_str()), "{name}: map {m} missing");
        }
    }
}

/// The uevents recorded with each fixture come from both sources and carry sequence numbers:
/// the daemon's replay tests depend on that.
#[test]
fn recorded_uevents_have_kernel_and_udev_sources_with_seqnum() {
    for fx in fixtures() {
        let text = fs::read_to_string(fx.join("uevents.txt"))
            .unwrap_or_else(|e| panic!("{}: uevents.txt: {e}", fx.display()));
        assert!(
            text.contains("\nKERNEL["),
            "{}: no kernel uevents",
            fx.display()
        );
        assert!(
            text.contains("\nUDEV  ["),
            "{}: no udev uevents",
            fx.display()
        );
        assert!(text.contains("\nSEQNUM="), "{}: no SEQNUM", fx.display());
    }
}
