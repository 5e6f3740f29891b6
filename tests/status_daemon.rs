//! `status` served by a running daemon: the latest pass's snapshot over the control socket, no
//! second walk of the host, and only for the roots the daemon observes. The daemon here is the
//! real binary in observe mode over a simulated host's tree.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use lunguard::model::parse_rfc3339;
use lunguard::sim::{Lab, ScanMode, scratch_root};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lunguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(args)
        .output()
        .unwrap()
}

fn status_json(config: &Path, roots: &[&str], extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["status", "--json", "--config", config.to_str().unwrap()];
    args.extend_from_slice(roots);
    args.extend_from_slice(extra);
    let out = lunguard(&args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json: {e}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn hctls(v: &serde_json::Value) -> Vec<String> {
    v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["hctl"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn status_shows_the_daemons_latest_snapshot_for_its_roots_and_fresh_walks() {
    let dir = tempfile::tempdir_in(scratch_root()).unwrap();
    let lab = Lab::new(dir.path().join("host"), 2).unwrap();
    for p in &lab.portals {
        lab.sim.login(&lab.target, p, ScanMode::Automatic).unwrap();
    }
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("lab.toml"), lab.state_file(&[0, 1])).unwrap();
    let roots = lab.sim.roots();
    let config = dir.path().join("lunguard.toml");
    std::fs::write(
        &config,
        format!(
            "mode = \"observe\"\nstate_dir = {:?}\ndatabase = {:?}\ncontrol_socket = {:?}\n[roots]\nsys = {:?}\nproc = {:?}\ndev = {:?}\n",
            state,
            dir.path().join("db"),
            dir.path().join("run/control.sock"),
            roots.sys,
            roots.proc,
            roots.dev
        ),
    )
    .unwrap();
    let (sys, proc, dev) = (
        roots.sys.to_str().unwrap(),
        roots.proc.to_str().unwrap(),
        roots.dev.to_str().unwrap(),
    );
    let same = ["--sysfs-root", sys, "--proc-root", proc, "--dev-root", dev];
    let before = status_json(&config, &same, &[]);
    assert_eq!(before["source"], "status", "no daemon yet: {before}");
    let walked = hctls(&before);
    assert_eq!(walked.len(), 4, "2 LUNs x 2 portals: {walked:?}");

    let _daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_lunguard"))
            .args(["daemon", "--config"])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    let served = loop {
        let v = status_json(&config, &same, &[]);
        if v["source"] == "daemon" {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the daemon never served its snapshot: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(hctls(&served), walked, "the same host");
    assert_eq!(served["schema_version"], 1);
    let taken = parse_rfc3339(served["taken_at"].as_str().unwrap()).unwrap();
    assert!(
        taken.elapsed().unwrap_or_default() < Duration::from_secs(60),
        "{served}"
    );
    assert_eq!(
        served["desired"]["attachments"].as_array().unwrap().len(),
        2,
        "desired is still evaluated: {served}"
    );

    // A LUN goes away behind the daemon's back (the simulator sends no kernel uevent): the
    // daemon's snapshot still has it, a fresh walk does not. That is the cached snapshot.
    for d in lab.sim.devices().into_iter().filter(|d| d.hctl.lun == 1) {
        assert!(lab.sim.delete(d.hctl).unwrap());
    }
    let cached = status_json(&config, &same, &[]);
    assert_eq!(cached["source"], "daemon");
    assert_eq!(hctls(&cached), walked);
    let fresh = status_json(&config, &same, &["--fresh"]);
    assert_eq!(fresh["source"], "status");
    assert_eq!(hctls(&fresh).len(), 2, "{fresh}");

    // Other roots than the daemon's: never its snapshot.
    let other = Lab::new(dir.path().join("other"), 1).unwrap();
    let o = other.sim.roots();
    let v = status_json(
        &config,
        &[
            "--sysfs-root",
            o.sys.to_str().unwrap(),
            "--proc-root",
            o.proc.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(v["source"], "status", "{v}");

    let text = lunguard(&[
        "status",
        "--config",
        config.to_str().unwrap(),
        "--sysfs-root",
        sys,
        "--proc-root",
        proc,
        "--dev-root",
        dev,
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.starts_with("(the running daemon's snapshot from its latest pass, taken at 20"),
        "{text}"
    );
}
