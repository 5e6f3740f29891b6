//! `lunguard doctor` as a command: a host tree under `--root` with the seeds' misconfigurations
//! gets each finding with its fix and exit 1; the same tree fixed as the findings say is healthy
//! (exit 0). And `lunguard … --json | head` is not an error.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A host tree: iscsid.conf and multipath.conf as given, the daemons running, the unit
/// installed; a config whose state declares one multipath LUN.
fn host(dir: &Path, iscsid: &str, multipath: &str) -> std::path::PathBuf {
    let root = dir.join("root");
    write(&root, "etc/iscsi/iscsid.conf", iscsid);
    write(&root, "etc/multipath.conf", multipath);
    write(
        &root,
        "etc/multipath/wwids",
        "/36001405aa1f1c7e1c2a74b0b8d51e4c1/\n",
    );
    write(
        &root,
        "usr/lib/systemd/system/lunguard.service",
        "[Service]\n",
    );
    // The package's quarantine rule (its absence is a note, docs/doctor.md).
    write(
        &root,
        "usr/lib/udev/rules.d/59-lunguard-quarantine.rules",
        "# rule\n",
    );
    for (pid, comm) in [(200, "systemd-udevd"), (300, "iscsid"), (400, "multipathd")] {
        write(&root, &format!("proc/{pid}/comm"), &format!("{comm}\n"));
    }
    write(
        dir,
        "state/vol.toml",
        "[[attachment]]\nname = \"vol-1\"\ntransport = \"iscsi\"\ntarget = \"iqn.2003-01.org.example:a\"\nportals = [\"192.0.2.10\", \"198.51.100.10\"]\nlun = 1\nwwid = \"naa.6001405aa1f1c7e1c2a74b0b8d51e4c1\"\n",
    );
    let config = dir.join("lunguard.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = {:?}\ndatabase = {:?}\ncontrol_socket = {:?}\n",
            dir.join("state"),
            dir.join("db"),
            dir.join("ctl.sock")
        ),
    )
    .unwrap();
    config
}

fn doctor(config: &Path, root: &Path, json: bool) -> (Option<i32>, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lunguard"));
    c.args(["doctor", "--config"])
        .arg(config)
        .arg("--root")
        .arg(root);
    if json {
        c.arg("--json");
    }
    let out = c.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_misconfigured_host_gets_each_finding_and_the_fixed_one_none() {
    let dir = tempfile::tempdir().unwrap();
    let config = host(
        dir.path(),
        "node.startup = automatic\nnode.session.scan = auto\nnode.session.timeo.replacement_timeout = 120\n",
        "defaults {\n\tfind_multipaths no\n\tno_path_retry queue\n\tflush_on_last_del no\n}\n",
    );
    let root = dir.path().join("root");
    let (code, out) = doctor(&config, &root, true);
    assert_eq!(code, Some(1), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["healthy"], false);
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "iscsi.node_startup",
            "iscsi.replacement_timeout",
            "iscsi.session_scan",
            "multipath.find_multipaths",
            "multipath.flush_on_last_del",
            "multipath.no_path_retry",
        ]
    );
    let (_, text) = doctor(&config, &root, false);
    assert!(
        text.contains("WARNING iscsi.session_scan (/etc/iscsi/iscsid.conf:2)"),
        "{text}"
    );
    assert!(text.contains("  fix: node.session.scan = manual"), "{text}");

    // Fixed as the findings say.
    write(
        &root,
        "etc/iscsi/iscsid.conf",
        "node.startup = manual\nnode.session.scan = manual\nnode.session.timeo.replacement_timeout = 15\n",
    );
    write(
        &root,
        "etc/multipath.conf",
        "defaults {\n\tfind_multipaths strict\n\tno_path_retry 12\n\tflush_on_last_del yes\n}\n",
    );
    let (code, out) = doctor(&config, &root, false);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("healthy"), "{out}");
}

/// Bug: a JSON command piped into `head` exited 2 ("JSON: Broken pipe"); only status's text
/// output was treated as the reader having gone.
#[test]
fn a_closed_stdout_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = host(dir.path(), "", "");
    let (read, write_end) = nix::unistd::pipe().unwrap();
    drop(read);
    let out = Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(["doctor", "--json", "--config"])
        .arg(&config)
        .arg("--root")
        .arg(dir.path().join("root"))
        .stdout(Stdio::from(write_end))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}
