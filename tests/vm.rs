//! Real-kernel scenarios: each test boots the QEMU guest (tests/vm/run.sh, TCG) with one scenario
//! script from tests/vm/scenarios/ and the lunguard binary under test, then asserts on what the
//! guest wrote back. Built only with `--features vm` (tests/run-all.sh turns it on); a machine
//! without QEMU fails these tests rather than skipping them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use common::toolcheck;
use lunguard::observe::{DmKind, Snapshot};

/// Serializes image builds: two tests starting on a fresh cache must not both build it.
static IMAGE: Mutex<()> = Mutex::new(());

fn vm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vm")
}

/// Boots the guest with `scenario` and returns the directory holding what it wrote to /share/out.
/// Panics (failing the test) with the guest's console when the scenario fails.
fn run_scenario(scenario: &str) -> tempfile::TempDir {
    {
        let _guard = IMAGE.lock().unwrap_or_else(|p| p.into_inner());
        let st = Command::new(vm_dir().join("build-image.sh"))
            .status()
            .expect("run tests/vm/build-image.sh");
        assert!(st.success(), "building the VM image failed: {st}");
    }
    let out = tempfile::tempdir().expect("tempdir");
    let st = Command::new(vm_dir().join("run.sh"))
        .arg(vm_dir().join("scenarios").join(scenario))
        .arg(out.path())
        .env("LUNGUARD_BIN", env!("CARGO_BIN_EXE_lunguard"))
        .status()
        .expect("run tests/vm/run.sh");
    assert!(
        st.success(),
        "VM scenario {scenario} failed: {st} (console above)"
    );
    out
}

fn read_status_json(out: &Path) -> Snapshot {
    let text =
        std::fs::read_to_string(out.join("status.json")).expect("status.json from the guest");
    let v: serde_json::Value = serde_json::from_str(&text).expect("status --json is JSON");
    assert_eq!(v["schema_version"], 1, "schema_version");
    serde_json::from_value(v).expect("status --json matches the snapshot schema")
}

#[test]
fn live_status_agrees_with_lsscsi_multipath_and_iscsiadm() {
    let out = run_scenario("status-live.sh");
    let snap = read_status_json(out.path());
    let problems = snap.all_problems();
    assert!(
        problems.is_empty(),
        "problems on the live kernel: {problems:#?}"
    );
    // The scenario built 4 scsi_debug LUNs x 2 hosts and 4 iSCSI LUNs x 2 sessions.
    assert_eq!(snap.devices.len(), 16, "SCSI paths");
    assert_eq!(snap.iscsi_sessions.len(), 2, "iSCSI sessions");
    let maps = snap
        .dm_devices
        .iter()
        .filter(|d| d.kind == DmKind::Multipath)
        .count();
    assert_eq!(maps, 8, "multipath maps");
    assert!(
        snap.dm_devices
            .iter()
            .filter_map(|d| d.name.as_ref())
            .all(|n| n.as_str().starts_with("mpath")),
        "friendly names expected"
    );
    assert!(
        snap.mounts.iter().any(|m| m.mount_point == "/mnt/a"),
        "the mounted map is seen"
    );
    let ran = toolcheck::check_all("live VM", &snap, out.path());
    assert_eq!(ran, 4, "all four tools' outputs came back from the guest");
    let text = std::fs::read_to_string(out.path().join("status.txt")).expect("status.txt");
    assert!(text.contains("iqn.2026-11.test.lunguard:target1"), "{text}");
    assert!(
        text.contains("/mnt/a"),
        "status table shows the mount:\n{text}"
    );
}
