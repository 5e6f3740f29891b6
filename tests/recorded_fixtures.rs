//! Every recorded fixture in `tests/fixtures/<name>/` (taken on a real kernel
//! by tests/vm) must read without problems and agree with the tools' own view
//! recorded next to it in `commands/`: `lsscsi` (H:C:T:L → /dev/sdX),
//! `multipath -ll` (map name, WWID, dm-N) and `iscsiadm -m session -P 3`
//! (SID → target, portal). Files are found by name containing `lsscsi`,
//! `multipath` or `iscsiadm`; a fixture without one skips that check.
//! With no fixtures recorded yet this test checks nothing and says so.

use std::fs;
use std::path::{Path, PathBuf};

use lunguard::observe::{DmKind, Roots, Snapshot, snapshot};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("sys").is_dir())
        .collect();
    v.sort();
    v
}

fn command_output(fixture: &Path, tool: &str) -> Option<String> {
    let mut files: Vec<PathBuf> = fs::read_dir(fixture.join("commands"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(tool))
        })
        .collect();
    files.sort();
    fs::read_to_string(files.first()?).ok()
}

#[test]
fn recorded_fixtures_read_cleanly_and_match_the_tools() {
    let all = fixtures();
    if all.is_empty() {
        eprintln!("no recorded fixtures under tests/fixtures yet; nothing to check");
        return;
    }
    for fx in all {
        check_fixture(&fx);
    }
}

fn check_fixture(fx: &Path) {
    let name = fx.display().to_string();
    let snap = snapshot(&Roots::fixture(fx));
    let problems = snap.all_problems();
    assert!(problems.is_empty(), "{name}: problems: {problems:#?}");
    if let Some(out) = command_output(fx, "lsscsi") {
        check_lsscsi(&name, &snap, &out);
    }
    if let Some(out) = command_output(fx, "multipath") {
        check_multipath(&name, &snap, &out);
    }
    if let Some(out) = command_output(fx, "iscsiadm") {
        check_iscsiadm(&name, &snap, &out);
    }
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
        ("lsscsi-t-u.txt", lsscsi),
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

/// `[3:0:0:1]  disk  <transport>  /dev/sdb  <wwn>`: same H:C:T:L, same disk.
fn check_lsscsi(name: &str, snap: &Snapshot, out: &str) {
    for line in out.lines() {
        let Some(rest) = line.trim_start().strip_prefix('[') else {
            continue;
        };
        let Some((hctl, tail)) = rest.split_once(']') else {
            continue;
        };
        let Ok(hctl) = hctl.parse::<lunguard::model::Hctl>() else {
            continue;
        };
        let dev = snap
            .devices
            .iter()
            .find(|d| d.hctl == hctl)
            .unwrap_or_else(|| panic!("{name}: lsscsi shows {hctl}, snapshot does not"));
        if let Some(node) = tail
            .split_whitespace()
            .find_map(|t| t.strip_prefix("/dev/sd"))
        {
            let block = dev.block.as_ref().map(|b| b.name.as_str());
            assert_eq!(block, Some(format!("sd{node}").as_str()), "{name}: {hctl}");
        }
    }
}

/// Header lines `mpatha (3600140…) dm-0 LIO-ORG,block1` or `3600140… dm-0 …`.
fn check_multipath(name: &str, snap: &Snapshot, out: &str) {
    for line in out
        .lines()
        .filter(|l| !l.starts_with(|c: char| c.is_whitespace() || "|`".contains(c)))
    {
        let toks: Vec<&str> = line.split_whitespace().collect();
        let Some(dm_at) = toks.iter().position(|t| t.starts_with("dm-")) else {
            continue;
        };
        let map = toks[0];
        let wwid = toks
            .get(1)
            .and_then(|t| t.strip_prefix('(')?.strip_suffix(')'))
            .unwrap_or(map);
        let d = snap
            .dm_devices
            .iter()
            .find(|d| d.kernel_name == toks[dm_at])
            .unwrap_or_else(|| {
                panic!("{name}: multipath shows {}, snapshot does not", toks[dm_at])
            });
        assert_eq!(d.name.as_ref().map(|n| n.as_str()), Some(map), "{name}");
        assert_eq!(d.kind, DmKind::Multipath, "{name}: {map}");
        assert_eq!(d.multipath_id(), Some(wwid), "{name}: {map}");
    }
}

/// `Target: iqn… (non-flash)`, `Current Portal: 192.0.2.10:3260,1`, `SID: 1`.
fn check_iscsiadm(name: &str, snap: &Snapshot, out: &str) {
    let (mut target, mut portal) = (None, None);
    for line in out.lines().map(str::trim) {
        if let Some(t) = line.strip_prefix("Target: ") {
            target = t.split_whitespace().next().map(str::to_owned);
        } else if let Some(p) = line.strip_prefix("Current Portal: ") {
            portal = p.split(',').next().map(str::to_owned);
        } else if let Some(sid) = line.strip_prefix("SID: ") {
            let sid: u32 = sid
                .parse()
                .unwrap_or_else(|_| panic!("{name}: SID {sid:?}"));
            let s = snap
                .iscsi_sessions
                .iter()
                .find(|s| s.id == sid)
                .unwrap_or_else(|| {
                    panic!("{name}: iscsiadm shows session {sid}, snapshot does not")
                });
            assert_eq!(
                s.target.as_ref().map(|t| t.to_string()),
                target,
                "{name}: sid {sid}"
            );
            let want = portal
                .as_deref()
                .map(|p| p.parse::<lunguard::model::Portal>().map(|p| p.to_string()));
            assert_eq!(
                s.portal().map(|p| p.to_string()),
                want.and_then(Result::ok),
                "{name}: sid {sid}"
            );
        }
    }
}
