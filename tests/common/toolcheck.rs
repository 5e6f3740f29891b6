//! Compares a lunguard `Snapshot` with what the ecosystem's own tools printed for the same kernel
//! state: `lsscsi -t` / `lsscsi -u`, `multipath -ll` and `iscsiadm -m session -P 3`. Used on the
//! recorded fixtures (tests/recorded_fixtures.rs) and on the live VM kernel (tests/vm.rs).
//!
//! The comparison runs both ways where the tool lists everything: every device lsscsi lists is in
//! the snapshot with the same disk and WWN, and the snapshot has no disk lsscsi does not list;
//! every map multipath lists is in the snapshot with the same name, WWID and paths; every iSCSI
//! session iscsiadm lists has the same target and portal, and no other session exists.
//! A mismatch panics with the fixture name and what differs.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use lunguard::model::{Hctl, Portal};
use lunguard::snapshot::{DmKind, Snapshot};

/// The output of the first file in `dir/commands` whose name contains `tool`.
pub fn command_output(dir: &Path, tool: &str) -> Option<String> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("commands"))
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

/// Runs every check whose tool output is present in `dir/commands`; returns how many ran.
pub fn check_all(name: &str, snap: &Snapshot, dir: &Path) -> usize {
    let mut ran = 0;
    for (tool, check) in [
        ("lsscsi-t", check_lsscsi as fn(&str, &Snapshot, &str)),
        ("lsscsi-u", check_lsscsi),
        ("multipath", check_multipath),
        ("iscsiadm", check_iscsiadm),
    ] {
        if let Some(out) = command_output(dir, tool) {
            check(name, snap, &out);
            ran += 1;
        }
    }
    ran
}

/// `[3:0:0:1]  disk  <transport or vendor/model>  /dev/sdb  [<wwn>]`: same H:C:T:L, same disk,
/// and (with `lsscsi -u`) the same WWN. Both directions.
pub fn check_lsscsi(name: &str, snap: &Snapshot, out: &str) {
    let mut listed = BTreeSet::new();
    for line in out.lines() {
        let Some(rest) = line.trim_start().strip_prefix('[') else {
            continue;
        };
        let Some((hctl, tail)) = rest.split_once(']') else {
            continue;
        };
        let Ok(hctl) = hctl.parse::<Hctl>() else {
            continue;
        };
        listed.insert(hctl);
        let dev = snap
            .devices
            .iter()
            .find(|d| d.hctl == hctl)
            .unwrap_or_else(|| panic!("{name}: lsscsi shows {hctl}, snapshot does not"));
        let toks: Vec<&str> = tail.split_whitespace().collect();
        if let Some(at) = toks.iter().position(|t| t.starts_with("/dev/")) {
            let block = dev.block.as_ref().map(|b| format!("/dev/{}", b.name));
            assert_eq!(block.as_deref(), Some(toks[at]), "{name}: disk of {hctl}");
        }
        // `lsscsi -u` prints the WWN (NAA designator, hex) just before the device node.
        if let [.., wwn, node] = toks.as_slice()
            && node.starts_with("/dev/")
            && wwn.len() >= 16
            && wwn.chars().all(|c| c.is_ascii_hexdigit())
        {
            let ours = dev.wwid.as_ref().map(|w| w.as_str().to_owned());
            assert_eq!(
                ours.as_deref().and_then(|w| w.strip_prefix("naa.")),
                Some(*wwn),
                "{name}: WWN of {hctl}"
            );
        }
    }
    let ours: BTreeSet<Hctl> = snap.devices.iter().map(|d| d.hctl).collect();
    assert_eq!(ours, listed, "{name}: SCSI devices, snapshot vs lsscsi");
}

/// Map headers `mpatha (3600140…) dm-0 LIO-ORG,block1` or `3600140… dm-0 …`, then path lines
/// `|- 3:0:0:1 sdb 8:16 active ready running`: same map name, kind, WWID and paths; the
/// snapshot has no multipath map multipath does not list.
pub fn check_multipath(name: &str, snap: &Snapshot, out: &str) {
    let mut maps: Vec<(String, String, String, BTreeSet<String>)> = Vec::new();
    for line in out.lines() {
        let toks: Vec<&str> = line.split_whitespace().collect();
        let is_header = !line.starts_with(|c: char| c.is_whitespace() || "|`".contains(c));
        if is_header {
            let Some(dm_at) = toks.iter().position(|t| t.starts_with("dm-")) else {
                continue;
            };
            let map = toks[0].to_owned();
            let wwid = toks
                .get(1)
                .and_then(|t| t.strip_prefix('(')?.strip_suffix(')'))
                .unwrap_or(&map)
                .to_owned();
            maps.push((map, wwid, toks[dm_at].to_owned(), BTreeSet::new()));
        } else if let Some(at) = toks.iter().position(|t| t.parse::<Hctl>().is_ok())
            && let (Some(m), Some(disk)) = (maps.last_mut(), toks.get(at + 1))
        {
            m.3.insert((*disk).to_owned());
        }
    }
    for (map, wwid, dm, paths) in &maps {
        let d = snap
            .dm_devices
            .iter()
            .find(|d| &d.kernel_name == dm)
            .unwrap_or_else(|| panic!("{name}: multipath shows {dm}, snapshot does not"));
        assert_eq!(
            d.name.as_ref().map(|n| n.as_str()),
            Some(map.as_str()),
            "{name}"
        );
        assert_eq!(d.kind, DmKind::Multipath, "{name}: {map}");
        assert_eq!(d.multipath_id(), Some(wwid.as_str()), "{name}: {map}");
        let slaves: BTreeSet<String> = d.slaves.iter().cloned().collect();
        assert_eq!(&slaves, paths, "{name}: paths of {map}");
    }
    let ours: BTreeSet<&str> = snap
        .dm_devices
        .iter()
        .filter(|d| d.kind == DmKind::Multipath)
        .map(|d| d.kernel_name.as_str())
        .collect();
    let listed: BTreeSet<&str> = maps.iter().map(|m| m.2.as_str()).collect();
    assert_eq!(
        ours, listed,
        "{name}: multipath maps, snapshot vs multipath -ll"
    );
}

/// `Target: iqn… (non-flash)`, `Current Portal: 192.0.2.10:3260,1`, `SID: 1`: same target and
/// portal per session, and the same set of sessions.
pub fn check_iscsiadm(name: &str, snap: &Snapshot, out: &str) {
    let (mut target, mut portal) = (None, None);
    let mut listed = BTreeSet::new();
    for line in out.lines().map(str::trim) {
        if let Some(t) = line.strip_prefix("Target: ") {
            target = t.split_whitespace().next().map(str::to_owned);
        } else if let Some(p) = line.strip_prefix("Current Portal: ") {
            portal = p.split(',').next().map(str::to_owned);
        } else if let Some(sid) = line.strip_prefix("SID: ") {
            let sid: u32 = sid
                .parse()
                .unwrap_or_else(|_| panic!("{name}: SID {sid:?}"));
            listed.insert(sid);
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
                .and_then(|p| p.parse::<Portal>().ok())
                .map(|p| p.to_string());
            assert_eq!(s.portal().map(|p| p.to_string()), want, "{name}: sid {sid}");
        }
    }
    let ours: BTreeSet<u32> = snap.iscsi_sessions.iter().map(|s| s.id).collect();
    assert_eq!(ours, listed, "{name}: iSCSI sessions, snapshot vs iscsiadm");
}
