//! The benchmark generator's trees are kernel-shaped (docs/benchmarks.md, issue 8's benchmark
//! set): lsscsi, which knows nothing of lunguard, prints on a generated tree what it printed on
//! the real kernel the fixture was recorded from, modulo names and numbers; and lunguard reads
//! generated trees without problems, with the counts the generator was asked for.
//!
//! lsscsi comes from Debian (`tests/host-deps.sh` installs it). It is run with `-y ROOT`
//! (`--sysfsroot`) on temp trees only, and `-k` (kernel names), so it never looks at this
//! host's `/dev` or `/sys`.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

#[path = "../benches/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{state_files, sysfs_tree};

fn fixture() -> PathBuf {
    PathBuf::from(sysfs_tree::DEFAULT_FIXTURE)
}

fn recorded(opt: &str) -> String {
    let p = fixture().join(format!("commands/lsscsi-{opt}.txt"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `lsscsi -k -y SYS -<opt>`; a missing lsscsi fails the test with how to install it.
fn lsscsi(sys: &Path, opts: &[&str]) -> String {
    let out = Command::new("lsscsi")
        .arg("-k")
        .arg("-y")
        .arg(sys)
        .args(opts)
        .output()
        .unwrap_or_else(|e| {
            panic!("lsscsi cannot run ({e}): install it with `bash tests/host-deps.sh` (Debian package lsscsi)")
        });
    assert!(out.status.success(), "lsscsi {opts:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// One lsscsi line with names and numbers taken out: WWIDs (32 hex digits) → `W`, `/dev/sdX` →
/// `/dev/sd*`, digit runs → `N`; whitespace (column padding grows with the names) collapsed.
fn shape(line: &str) -> String {
    line.split_whitespace()
        .map(|tok| {
            if tok.len() == 32 && tok.bytes().all(|b| b.is_ascii_hexdigit()) {
                return "W".to_string();
            }
            if tok.starts_with("/dev/sd") {
                return "/dev/sd*".to_string();
            }
            let mut out = String::new();
            let mut in_digits = false;
            for c in tok.chars() {
                if c.is_ascii_digit() {
                    if !in_digits {
                        out.push('N');
                    }
                    in_digits = true;
                } else {
                    out.push(c);
                    in_digits = false;
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn shapes(text: &str) -> Vec<String> {
    text.lines().map(shape).collect()
}

fn generate(sessions: u32, luns: u32, partitions: u32) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("tree");
    let spec = sysfs_tree::Spec {
        sessions,
        luns,
        partitions,
    };
    sysfs_tree::generate(&fixture(), spec, &out).unwrap();
    (t, out)
}

#[test]
fn lsscsi_on_the_recorded_fixture_with_bus_links_prints_what_the_kernel_host_printed() {
    // The recording left out bus/scsi/devices, which lsscsi walks; with the generator's links
    // added to a copy, lsscsi under a sysfs root must reproduce its own output on the real kernel
    // byte for byte. This is what makes lsscsi a fair witness for the generated trees below.
    let t = tempfile::tempdir().unwrap();
    let sys = t.path().join("sys");
    sysfs_tree::copy_tree(&fixture().join("sys"), &sys).unwrap();
    assert_eq!(
        lsscsi(&sys, &["-t"]),
        "",
        "without bus/scsi/devices lsscsi must see nothing (else the links below prove nothing)"
    );
    sysfs_tree::add_bus_links(&sys).unwrap();
    for opt in ["t", "u", "s"] {
        assert_eq!(
            lsscsi(&sys, &[&format!("-{opt}")]),
            recorded(opt),
            "lsscsi -{opt}"
        );
    }
}

#[test]
fn lsscsi_on_a_generated_tree_prints_the_fixture_modulo_names_and_numbers() {
    // Same size as the fixture: line for line the same shapes, and the same WWIDs and addresses
    // (only the sd names differ: the kernel probed the recording's disks in parallel).
    let (_t, tree) = generate(2, 4, 0);
    let sys = tree.join("sys");
    for opt in ["t", "u", "s"] {
        let got = lsscsi(&sys, &[&format!("-{opt}")]);
        let want = recorded(opt);
        assert_eq!(shapes(&got), shapes(&want), "lsscsi -{opt}:\n{got}");
        let strip = |s: &str| -> Vec<String> {
            s.lines()
                .map(|l| {
                    l.split_whitespace()
                        .filter(|t| !t.starts_with("/dev/sd"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        };
        assert_eq!(strip(&got), strip(&want), "lsscsi -{opt} beyond sd names");
    }
    // Another size, with partitions: every line has the fixture's one shape, one per path.
    let (_t, tree) = generate(3, 27, 2);
    let sys = tree.join("sys");
    for opt in ["t", "u", "s"] {
        let got = lsscsi(&sys, &[&format!("-{opt}")]);
        let want = shapes(&recorded(opt));
        assert_eq!(got.lines().count(), 3 * 27, "lsscsi -{opt}:\n{got}");
        for line in got.lines() {
            assert_eq!(shape(line), want[0], "lsscsi -{opt}: {line}");
        }
    }
    // The benchmark's reference commands work on it too (no sg driver in the recording: `-`).
    for opts in [["-t", "-g"], ["-u", "-g"]] {
        assert_eq!(
            lsscsi(&sys, &opts).lines().count(),
            3 * 27,
            "lsscsi {opts:?}"
        );
    }
}

fn status_json(tree: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(["status", "--json", "--sysfs-root"])
        .arg(tree.join("sys"))
        .arg("--proc-root")
        .arg(tree.join("proc"))
        // hermetic: not the host's node records (unreadable to a non-root user)
        .arg("--iscsi-nodes-root")
        .arg(tree.join("etc/iscsi/nodes"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "status exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn problems(v: &Value) -> Vec<Value> {
    let mut all: Vec<Value> = v["problems"].as_array().unwrap().clone();
    for list in ["hosts", "iscsi_sessions", "devices", "dm_devices"] {
        for obj in v[list].as_array().unwrap() {
            all.extend(obj["problems"].as_array().unwrap().iter().cloned());
        }
    }
    all
}

#[test]
fn lunguard_reads_generated_trees_without_problems_and_with_the_expected_counts() {
    for (sessions, luns, parts) in [(2, 4, 0), (3, 27, 2)] {
        let (_t, tree) = generate(sessions, luns, parts);
        let v = status_json(&tree);
        let ctx = format!("{sessions} sessions x {luns} LUNs, {parts} partitions");
        assert_eq!(problems(&v), Vec::<Value>::new(), "{ctx}");
        let n = |k: &str| v[k].as_array().unwrap().len();
        assert_eq!(n("hosts"), sessions as usize, "{ctx}");
        assert_eq!(n("iscsi_sessions"), sessions as usize, "{ctx}");
        assert_eq!(n("devices"), (sessions * luns) as usize, "{ctx}");
        assert_eq!(n("dm_devices"), (luns * (1 + parts)) as usize, "{ctx}");
        for s in v["iscsi_sessions"].as_array().unwrap() {
            assert_eq!(s["target"], sysfs_tree::TARGET_IQN, "{ctx}");
            assert_eq!(s["connections"].as_array().unwrap().len(), 1, "{ctx}");
        }
        let mut wwids = std::collections::BTreeSet::new();
        for d in v["devices"].as_array().unwrap() {
            assert!(d["iscsi_session"].is_u64(), "{ctx}: {d}");
            assert_eq!(d["wwid_source"], "wwid", "{ctx}: {d}");
            wwids.insert(d["wwid"].as_str().unwrap().to_string());
            let block = &d["block"];
            assert_eq!(block["holders"].as_array().unwrap().len(), 1, "{ctx}: {d}");
            assert_eq!(
                block["partitions"].as_array().unwrap().len(),
                parts as usize
            );
        }
        assert_eq!(wwids.len(), luns as usize, "{ctx}: one WWID a LUN");
        let dms = v["dm_devices"].as_array().unwrap();
        let maps: Vec<&Value> = dms.iter().filter(|d| d["kind"] == "multipath").collect();
        assert_eq!(maps.len(), luns as usize, "{ctx}");
        for m in &maps {
            assert_eq!(
                m["slaves"].as_array().unwrap().len(),
                sessions as usize,
                "{ctx}"
            );
            assert_eq!(
                m["holders"].as_array().unwrap().len(),
                parts as usize,
                "{ctx}"
            );
        }
        let kpartx = dms.iter().filter(|d| d["kind"] == "multipath_partition");
        assert_eq!(kpartx.count(), (luns * parts) as usize, "{ctx}");
    }
}

#[test]
fn generated_state_checks_clean_and_plans_converged_on_the_generated_tree() {
    let (t, tree) = generate(2, 6, 0);
    let state = t.path().join("state.d");
    // LUNs 0-3 declared, 4 and 5 left over: the planner must find exactly those as unwanted.
    state_files::write_state_dir(&state, 2, 6, 2).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(["check", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "check: {text}{check:?}");
    assert!(text.contains("4 attachments on 1 target: ok"), "{text}");

    let config = t.path().join("lunguard.toml");
    std::fs::write(&config, "").unwrap();
    let plan = Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(["plan", "--json", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(&state)
        .arg("--database")
        .arg(t.path().join("db"))
        .arg("--fixture")
        .arg(&tree)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&plan.stdout)
        .unwrap_or_else(|e| panic!("plan --json: {e}: {plan:?}"));
    assert_eq!(v["desired_ok"], true, "{v}");
    assert_eq!(v["attachments"], 4, "{v}");
    let findings = v["plan"]["findings"].as_array().unwrap();
    let mut undeclared: Vec<String> = Vec::new();
    for f in findings {
        if f["attachment"].is_null() {
            assert_ne!(f["kind"]["kind"], "converged", "{f}");
            if let Some(h) = f["subject"]["hctl"].as_str() {
                undeclared.push(h.to_string());
            }
        } else {
            assert_eq!(f["kind"]["kind"], "converged", "a declared LUN: {f}");
        }
    }
    undeclared.sort();
    assert_eq!(
        undeclared,
        ["0:0:0:4", "0:0:0:5", "1:0:0:4", "1:0:0:5"],
        "{v}"
    );
    let converged_attachments = findings
        .iter()
        .filter(|f| f["subject"]["type"] == "attachment" && f["kind"]["kind"] == "converged")
        .count();
    assert_eq!(converged_attachments, 4, "{v}");
}
