//! `status` served by a running daemon: the latest pass's snapshot over the control socket, no
//! second walk of the host, and only for the roots the daemon observes. The daemon here is the
//! real binary in observe mode over a simulated host's tree.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::sim_daemon::SimHost;
use lunguard::model::parse_rfc3339;
use lunguard::sim::Lab;

fn status_json(host: &SimHost, roots: &[String], extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["status", "--json"];
    args.extend(roots.iter().map(String::as_str));
    args.extend_from_slice(extra);
    let out = host.lunguard(&args);
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
    let host = SimHost::new(2, &[0, 1], "mode = \"observe\"", "");
    let same = host.root_args();
    let before = status_json(&host, &same, &[]);
    assert_eq!(before["source"], "status", "no daemon yet: {before}");
    let walked = hctls(&before);
    assert_eq!(walked.len(), 4, "2 LUNs x 2 portals: {walked:?}");

    let _daemon = host.daemon();
    let start = Instant::now();
    let served = loop {
        let v = status_json(&host, &same, &[]);
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
    let lab = &host.lab;
    for d in lab.sim.devices().into_iter().filter(|d| d.hctl.lun == 1) {
        assert!(lab.sim.delete(d.hctl).unwrap());
    }
    let cached = status_json(&host, &same, &[]);
    assert_eq!(cached["source"], "daemon");
    assert_eq!(hctls(&cached), walked);
    let fresh = status_json(&host, &same, &["--fresh"]);
    assert_eq!(fresh["source"], "status");
    assert_eq!(hctls(&fresh).len(), 2, "{fresh}");

    // Other roots than the daemon's: never its snapshot.
    let other = Lab::new(host.dir.path().join("other"), 1).unwrap();
    let o = other.sim.roots();
    let v = status_json(
        &host,
        &[
            "--sysfs-root".to_owned(),
            o.sys.to_string_lossy().into_owned(),
            "--proc-root".to_owned(),
            o.proc.to_string_lossy().into_owned(),
            "--iscsi-nodes-root".to_owned(),
            o.iscsi_nodes.to_string_lossy().into_owned(),
        ],
        &[],
    );
    assert_eq!(v["source"], "status", "{v}");

    let mut args = vec!["status"];
    args.extend(same.iter().map(String::as_str));
    let text = host.lunguard(&args);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.starts_with("(the running daemon's snapshot from its latest pass, taken at 20"),
        "{text}"
    );
}

/// `health` for liveness probes: no daemon is exit 2, a daemon whose latest pass is recent is
/// alive (0), one whose latest pass is older than `--max-age` is stale (1).
#[test]
fn health_tells_a_running_loop_from_a_stale_one_and_from_none() {
    let host = SimHost::new(1, &[0], "mode = \"observe\"", "");
    let out = host.lunguard(&["health"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no daemon answers"),
        "{out:?}"
    );
    let _daemon = host.daemon_ready();
    let out = host.lunguard(&["health"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("alive: last pass at 20"), "{text}");
    assert!(text.contains("mode observe"), "{text}");
    std::thread::sleep(Duration::from_millis(1100));
    let out = host.lunguard(&["health", "--max-age", "1s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("stale:"), "{text}");
}
