//! `lunguard demo` — the README's main job on a machine without SCSI — runs the real guard loop
//! against the simulated host and must show the whole story: attach by narrowed scans, detach,
//! a broad rescan by another process and the guard removing what it brought back.

use std::process::Command;

#[test]
fn demo_attaches_detaches_and_removes_what_a_broad_rescan_brought_back() {
    let out = Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .arg("demo")
        .output()
        .expect("run lunguard demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {}:\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "LUNs [1, 2], 2 maps",
        "detached: LUNs now [1]",
        "re-added 0:0:0:0, 0:0:0:2, 0:0:0:3",
        "the guard removed them: LUNs now [1]",
        "(node.session.scan=manual): changed MESSAGE_ID=",
        "scan 0:0:0:2 (\"0 0 2\" > host0/scan)",
        "LUNGUARD_KIND=device_removed",
        "LUNGUARD_KIND=daemon_ready",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let actions: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("lunguard: "))
        .collect();
    assert!(
        actions.iter().all(|l| !l.contains("- - -")),
        "a broad scan by lunguard itself"
    );
    assert!(text.contains(", 0 failed."), "{text}");
}
