//! `status --state-dir`: each attachment's verdict on a recorded kernel state, and the LUNs in
//! scope that nobody declared.

use std::path::Path;
use std::process::Command;

const T: &str = "iqn.2026-11.test.lunguard:target1";

fn attachment(name: &str, lun: u64, wwid: &str, portals: &str) -> String {
    format!(
        "[[attachment]]\nname = \"{name}\"\ntransport = \"iscsi\"\ntarget = \"{T}\"\n\
         portals = [{portals}]\nlun = {lun}\nwwid = \"{wwid}\"\nmultipath = true\n\n"
    )
}

fn status(fixture: &str, state: &Path, json: bool) -> (i32, String) {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lunguard"));
    cmd.args(["status", "--fixture"])
        .arg(fx)
        .arg("--state-dir")
        .arg(state);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("run lunguard");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf-8"),
    )
}

#[test]
fn leftover_lun_is_listed_and_declared_luns_get_their_verdicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let both = "\"127.0.0.1:3260\", \"127.0.0.2:3260\"";
    let mut text = String::new();
    text += &attachment("vol-0", 0, "naa.600140500291fe600000000feed00000", both);
    // Declared with LUN 0's WWID: what sits at LUN 1 is not this volume.
    text += &attachment("vol-1", 1, "naa.600140500291fe600000000feed00099", both);
    // A LUN the target does not export.
    text += &attachment("vol-7", 7, "naa.600140500291fe600070000feed00000", both);
    std::fs::write(dir.path().join("vols.toml"), text).expect("write state");

    let (code, out) = status("iscsi-leftover", dir.path(), false);
    assert_eq!(code, 1, "not converged means exit 1:\n{out}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}:\n{out}"))
            .to_owned()
    };
    assert!(line("vol-0").contains("converged"), "{out}");
    assert!(line("vol-1").contains("wrong_wwid"), "{out}");
    assert!(line("vol-7").contains("missing"), "{out}");
    let undeclared = out
        .split("Not declared (in scope)")
        .nth(1)
        .unwrap_or_else(|| panic!("no undeclared section:\n{out}"));
    assert!(undeclared.contains("0:0:0:2"), "{out}");
    assert!(
        undeclared.contains("map 3600140500291fe600020000feed00000"),
        "{out}"
    );

    let (_, json) = status("iscsi-leftover", dir.path(), true);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let states: Vec<(&str, &str)> = v["desired"]["attachments"]
        .as_array()
        .expect("attachments")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap_or(""),
                a["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("vol-0", "converged"),
            ("vol-1", "wrong_wwid"),
            ("vol-7", "missing")
        ]
    );
    // The same conclusions, structured: no prose to parse.
    let findings = v["desired"]["findings"].as_array().expect("findings");
    let has = |kind: &str, subject: &str, field: &str, value: &str| {
        findings.iter().any(|f| {
            f["kind"]["kind"] == kind
                && f["subject"]["type"] == subject
                && f["subject"][field] == value
        })
    };
    assert!(
        findings
            .iter()
            .any(|f| f["kind"]["kind"] == "wrong_wwid" && f["attachment"] == "vol-1"),
        "{findings:#?}"
    );
    assert!(
        has("missing", "attachment", "name", "vol-7"),
        "{findings:#?}"
    );
    // Nothing was seen before (no database): the leftover waits out its grace period.
    assert!(
        has("waiting_for_grace", "path", "hctl", "0:0:0:2"),
        "{findings:#?}"
    );
    assert!(
        findings.iter().all(|f| f["kind"]["kind"] != "converged"),
        "{findings:#?}"
    );
    let wrong = findings
        .iter()
        .find(|f| f["kind"]["kind"] == "wrong_wwid")
        .expect("wrong_wwid");
    assert_eq!(
        wrong["kind"]["expected"], "naa.600140500291fe600000000feed00099",
        "{wrong}"
    );
}

#[test]
fn rejected_state_files_are_shown_with_their_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[attachment]]\nname = \"x\"\nlun = \"one\"\n",
    )
    .expect("write state");
    let (code, out) = status("iscsi-mpath", dir.path(), false);
    assert_eq!(code, 1);
    assert!(out.contains("State files REJECTED"), "{out}");
    assert!(out.contains("bad.toml:3:"), "{out}");
}

#[test]
fn without_state_files_status_is_observation_only() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/iscsi-mpath");
    let out = Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(["status", "--json", "--fixture"])
        .arg(fx)
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["desired"].is_null(), "{v}");
}
