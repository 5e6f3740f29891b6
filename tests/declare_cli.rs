//! `lunguard attach` / `detach`: one state file per attachment, checked with the rest of the
//! directory before it is written or removed, written whole with the mode and owner the loader
//! trusts; `--wait` asks the running daemon and says why not when it cannot be done.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::sim_daemon::{SimHost, lunguard_in};

const TARGET: &str = "iqn.2003-01.org.example:array";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A config whose state directory is `dir/state` (created), control socket `dir/ctl.sock`.
fn setup(dir: &Path) -> std::path::PathBuf {
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let config = dir.join("lunguard.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = {state:?}\ncontrol_socket = {:?}\n",
            dir.join("ctl.sock")
        ),
    )
    .unwrap();
    config
}

fn attach(config: &Path, name: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "attach",
        name,
        "--target",
        TARGET,
        "--portal",
        "192.0.2.10",
        "--portal",
        "198.51.100.10:3260",
        "--lun",
        "3",
    ];
    args.extend_from_slice(extra);
    lunguard_in(&args, config)
}

#[test]
fn attach_writes_one_checked_file_and_detach_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let state = dir.path().join("state");

    let out = attach(
        &config,
        "vol-1",
        &["--wwid", "naa.6001405AA1F1C7E1C2A74B0B8D51E4C1"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let file = state.join("vol-1.toml");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o644, "mode");
    assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw(), "owner");
    let names: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["vol-1.toml"], "no temporary file left");
    // What the daemon would load: `check` accepts it, with the values given.
    let out = lunguard_in(&["check", "--json"], &config);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = &v["attachments"][0];
    assert_eq!(a["name"], "vol-1");
    assert_eq!(a["target"], TARGET);
    assert_eq!(a["lun"], 3);
    assert_eq!(a["portals"][1], "198.51.100.10:3260");
    assert_eq!(a["wwid"], "naa.6001405aa1f1c7e1c2a74b0b8d51e4c1");
    assert_eq!(a["multipath"], true);

    // The same again: nothing to do. Something else under the name: refused.
    let again = attach(
        &config,
        "vol-1",
        &["--wwid", "naa.6001405aa1f1c7e1c2a74b0b8d51e4c1"],
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        text(&again).contains("already declares vol-1"),
        "{}",
        text(&again)
    );
    let before = std::fs::read_to_string(&file).unwrap();
    let other = attach(&config, "vol-1", &["--no-multipath"]);
    assert_eq!(other.status.code(), Some(1), "{}", text(&other));
    assert!(
        text(&other).contains("declares something else"),
        "{}",
        text(&other)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before, "untouched");

    let out = lunguard_in(&["detach", "vol-1"], &config);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!file.exists());
    let out = lunguard_in(&["detach", "vol-1"], &config);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("not declared"), "{}", text(&out));
}

#[test]
fn nothing_is_written_that_the_daemon_would_reject() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let state = dir.path().join("state");

    // A bad value: the loader's error, with the file and position, and no file.
    let out = lunguard_in(
        &[
            "attach",
            "v",
            "--target",
            "iqn.2003-13.org.x",
            "--portal",
            "192.0.2.1",
            "--lun",
            "0",
        ],
        &config,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not written"), "{}", text(&out));
    assert!(text(&out).contains("v.toml:"), "{}", text(&out));
    assert!(text(&out).contains("iqn.2003-13.org.x"), "{}", text(&out));
    assert!(!state.join("v.toml").exists());

    // Several portals without multipath: the loader's rule, refused.
    let out = attach(&config, "bare", &["--no-multipath"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!state.join("bare.toml").exists());

    // The same (target, LUN) as a hand-written file's attachment: a rule across files.
    std::fs::write(
        state.join("hand.toml"),
        format!(
            "[[attachment]]\nname = \"db\"\ntransport = \"iscsi\"\ntarget = \"{TARGET}\"\nportals = [\"192.0.2.10\"]\nlun = 3\n\n[[attachment]]\nname = \"logs\"\ntransport = \"iscsi\"\ntarget = \"{TARGET}\"\nportals = [\"192.0.2.10\"]\nlun = 4\n"
        ),
    )
    .unwrap();
    let out = attach(&config, "vol-3", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("hand.toml"), "{}", text(&out));
    assert!(!state.join("vol-3.toml").exists());
    // Its attachments are not detach's to remove.
    let out = lunguard_in(&["detach", "db"], &config);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("did not write"), "{}", text(&out));
    assert!(state.join("hand.toml").exists());

    // A directory that is already broken: refused too (the daemon would keep the last good
    // state, and the attach would silently not happen).
    std::fs::write(state.join("broken.toml"), "[[attachment]]\nname = 1\n").unwrap();
    let out = attach(&config, "vol-5", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("broken.toml:2"), "{}", text(&out));
    assert!(!state.join("vol-5.toml").exists());

    // A name that cannot be a file name.
    let out = attach(&config, "../etc/x", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("must be letters"), "{}", text(&out));
}

#[test]
fn wait_without_a_daemon_says_so_after_writing() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let out = attach(&config, "vol-1", &["--wait", "--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no daemon answers"), "{}", text(&out));
    assert!(
        dir.path().join("state/vol-1.toml").exists(),
        "the change stands"
    );
}

/// Against the real daemon (observe mode, a simulated host): an attach cannot converge and
/// `--wait` says why at once; a detach waits for a pass after the removal that no longer sees
/// the LUN, and a LUN still there is reported by its paths at the timeout.
#[test]
fn wait_reports_what_the_running_daemon_sees() {
    // The simulator sends no kernel uevents: a 1 s resync makes the daemon see its changes.
    let host = SimHost::new(
        3,
        &[0],
        "mode = \"observe\"",
        "[daemon]\nresync_interval = \"1s\"",
    );
    let _daemon = host.daemon_ready();
    let lab = &host.lab;
    let portals: Vec<String> = lab.portals.iter().map(ToString::to_string).collect();
    let attach = |name: &str, lun: &str, extra: &[&str]| {
        let mut args = vec![
            "attach",
            name,
            "--target",
            lab.target.as_str(),
            "--lun",
            lun,
        ];
        for p in &portals {
            args.extend(["--portal", p.as_str()]);
        }
        args.extend_from_slice(extra);
        host.lunguard(&args)
    };
    let start = Instant::now();
    let out = attach("vol-1", "1", &["--wait", "--timeout", "30s"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("observe mode"), "{}", text(&out));
    assert!(start.elapsed() < Duration::from_secs(20), "failed fast");

    let out = attach("vol-2", "2", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Still attached (observe mode removes nothing): the timeout names its paths.
    let out = host.lunguard(&["detach", "vol-2", "--wait", "--timeout", "3s"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not done after 3 s"), "{}", text(&out));
    assert!(
        text(&out).contains(":0:0:2"),
        "names the paths: {}",
        text(&out)
    );

    // Gone: the LUN leaves the host (as a detach by an enforcing daemon would make it).
    let out = attach("vol-2", "2", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for d in lab.sim.devices().into_iter().filter(|d| d.hctl.lun == 2) {
        assert!(lab.sim.delete(d.hctl).unwrap());
    }
    let out = host.lunguard(&["detach", "vol-2", "--wait", "--timeout", "30s"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("vol-2: detached"), "{}", text(&out));
}
