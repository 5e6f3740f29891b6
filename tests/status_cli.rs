//! `lunguard status` run as a process against fake kernel trees.

use std::path::Path;
use std::process::{Command, Output};

use lunguard::testing::{EXAMPLE_TARGET, EXAMPLE_WWID, FakeTree, example};

fn lunguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(args)
        .output()
        .expect("run lunguard")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn fixture_arg(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_owned()
}

/// The line of `text` containing `needle`, whitespace-collapsed.
fn line_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
        .split_whitespace()
        .collect()
}

#[test]
fn text_groups_paths_by_target_then_wwid_and_shows_maps() {
    let t = tempfile::tempdir().unwrap();
    example(t.path()).unwrap();
    let o = lunguard(&["status", "--fixture", &fixture_arg(t.path())]);
    let text = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Target section first, with both sessions and their portals.
    let target_at = text
        .find(&format!("iSCSI target {EXAMPLE_TARGET}"))
        .expect("target header");
    let debug_at = text
        .find("SCSI hosts scsi_debug: host2")
        .expect("scsi_debug header");
    let maps_at = text.find("Multipath maps").expect("maps header");
    assert!(target_at < debug_at && debug_at < maps_at, "{text}");
    assert_eq!(
        line_with(&text, "session1"),
        [
            "session1",
            "host3",
            "192.0.2.10:3260",
            "LOGGED_IN",
            "default"
        ]
    );
    assert_eq!(line_with(&text, "session2")[2], "[2001:db8::10]:3260");

    // One LUN line for the multipathed WWID, two paths under it, each naming its map.
    let target_section = &text[target_at..debug_at];
    assert_eq!(
        target_section
            .matches(&format!("LUN {EXAMPLE_WWID}"))
            .count(),
        1,
        "{text}"
    );
    assert_eq!(
        line_with(&text, "3:0:0:1"),
        [
            "3:0:0:1", "sdb", "8:16", "running", "1.0", "GiB", "mpatha", "(dm-0)"
        ]
    );
    assert_eq!(line_with(&text, "4:0:0:1")[..3], ["4:0:0:1", "sdc", "8:32"]);
    // Columns are aligned: both path rows put DEV at the same offset.
    let col = |needle: &str, field: &str| {
        let l = text.lines().find(|l| l.contains(needle)).unwrap();
        l.find(field).unwrap()
    };
    assert_eq!(col("3:0:0:1", "sdb"), col("4:0:0:1", "sdc"));

    // scsi_debug LUN with WWID from VPD 0x83.
    assert!(
        text[debug_at..maps_at].contains("LUN t10.Linux   scsi_debug  2000"),
        "{text}"
    );
    assert_eq!(
        line_with(&text, "2:0:0:0")[..4],
        ["2:0:0:0", "sda", "8:0", "running"]
    );

    // The map: name, dm-N, uuid, 2 paths, the LV above it as holder.
    let map = line_with(&text[maps_at..], "mpatha");
    assert_eq!(
        map[..4],
        [
            "mpatha",
            "dm-0",
            "mpath-36001405abcdef0123456789abcdef012",
            "2"
        ]
    );
    assert!(
        map.contains(&"dm-1") && map.contains(&"(vg0-data)"),
        "{map:?}"
    );
    // In use through the LV on top of it.
    assert!(text[maps_at..].contains("/mnt/data (vg0-data)"), "{text}");
    assert!(!text.contains("Problems"), "{text}");
}

#[test]
fn json_has_schema_version_and_the_same_data() {
    let t = tempfile::tempdir().unwrap();
    example(t.path()).unwrap();
    let o = lunguard(&["status", "--json", "--fixture", &fixture_arg(t.path())]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(
        v["iscsi_sessions"][1]["connections"][0]["portal"],
        "[2001:db8::10]:3260"
    );
    assert_eq!(v["iscsi_sessions"][0]["target"], EXAMPLE_TARGET);
    let sdb = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["hctl"] == "3:0:0:1")
        .expect("3:0:0:1 present");
    assert_eq!(sdb["wwid"], EXAMPLE_WWID);
    assert_eq!(sdb["wwid_source"], "wwid");
    assert_eq!(sdb["state"], "running");
    assert_eq!(sdb["block"]["dev"], "8:16");
    assert_eq!(sdb["block"]["size_bytes"], 1u64 << 30);
    assert_eq!(v["dm_devices"][0]["kind"], "multipath");
    assert_eq!(
        v["dm_devices"][0]["slaves"],
        serde_json::json!(["sdb", "sdc"])
    );
    assert_eq!(v["mounts"][0]["mount_point"], "/mnt/data");
    assert_eq!(v["problems"], serde_json::json!([]));
    // The document parses back into the library's own type.
    let back: lunguard::snapshot::Snapshot = serde_json::from_value(v).expect("round-trips");
    assert_eq!(back.devices.len(), 3);
}

#[test]
fn problems_are_listed_and_exit_code_is_1() {
    let t = tempfile::tempdir().unwrap();
    let fake = example(t.path()).unwrap();
    fake.write(
        "devices/platform/host4/session2/target4:0:0/4:0:0:1/state",
        "",
    )
    .unwrap();
    fake.remove("devices/platform/host4/session2/target4:0:0/4:0:0:1/model")
        .unwrap();
    let o = lunguard(&["status", "--fixture", &fixture_arg(t.path())]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    let problems = &text[text.find("Problems (1)").expect("problems section")..];
    assert!(
        problems.contains("class/scsi_device/4:0:0:1/device/model: cannot read"),
        "{problems}"
    );
    // The device is still shown, with what could be read.
    assert_eq!(line_with(&text, "4:0:0:1")[..3], ["4:0:0:1", "sdc", "8:32"]);
}

#[test]
fn separate_roots_work_like_fixture() {
    let t = tempfile::tempdir().unwrap();
    example(t.path()).unwrap();
    let p = |d: &str| fixture_arg(&t.path().join(d));
    let o = lunguard(&[
        "status",
        "--json",
        "--sysfs-root",
        &p("sys"),
        "--proc-root",
        &p("proc"),
        "--dev-root",
        &p("dev"),
        // hermetic: not the host's records (unreadable to a non-root user)
        "--iscsi-nodes-root",
        &p("etc/iscsi/nodes"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["hosts"].as_array().unwrap().len(), 3);
}

#[test]
fn missing_root_is_a_runtime_error_naming_the_path() {
    let t = tempfile::tempdir().unwrap();
    let missing = t.path().join("nope");
    let o = lunguard(&["status", "--fixture", &fixture_arg(&missing)]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&fixture_arg(&missing)) && err.contains("--fixture"),
        "{err}"
    );

    FakeTree::new(t.path().join("ok")).unwrap();
    let o = lunguard(&[
        "status",
        "--sysfs-root",
        &fixture_arg(&missing),
        "--proc-root",
        &fixture_arg(&t.path().join("ok/proc")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("sysfs root"));
}

#[test]
fn empty_kernel_without_scsi_reports_it() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("sys")).unwrap();
    std::fs::create_dir_all(t.path().join("proc/self")).unwrap();
    std::fs::write(t.path().join("proc/self/mountinfo"), "").unwrap();
    let o = lunguard(&["status", "--fixture", &fixture_arg(t.path())]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("No SCSI hosts."), "{text}");
    assert!(text.contains("no SCSI support in this kernel"), "{text}");
}

#[test]
fn usage_errors_exit_2_and_help_documents_exit_codes() {
    assert_eq!(lunguard(&["status", "--bogus"]).status.code(), Some(2));
    let help = lunguard(&["status", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).contains("1  findings or validation failure"));
}
