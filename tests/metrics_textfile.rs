//! The metrics textfile of a running daemon, read back with the Prometheus project's own
//! text-format parser (the Python client's `text_string_to_metric_families`, Debian's
//! python3-prometheus-client, which tests/host-deps.sh installs): it parses, every family has
//! its type, and the values describe the simulated host the daemon guards.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use common::sim_daemon::SimHost;

/// The parser's view: family name -> (type, [(sample name, labels, value)]).
type Families = BTreeMap<String, (String, Vec<(String, BTreeMap<String, String>, f64)>)>;

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    out[f.name] = [f.type, [[s.name, s.labels, s.value] for s in f.samples]]
print(json.dumps(out))
"#;

/// Parses with Debian's python3 (not whatever `python3` is first on PATH: the module is
/// installed for the system interpreter).
fn parse(path: &Path) -> Families {
    let out = Command::new("/usr/bin/python3")
        .args(["-c", PARSE])
        .arg(path)
        .output()
        .expect("/usr/bin/python3 (tests/host-deps.sh installs python3-prometheus-client)");
    assert!(
        out.status.success(),
        "the Prometheus parser rejected {}: {}\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(path).unwrap_or_default()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn value(f: &Families, family: &str, sample: &str, labels: &[(&str, &str)]) -> f64 {
    let (_, samples) = f
        .get(family)
        .unwrap_or_else(|| panic!("no family {family}"));
    samples
        .iter()
        .find(|(n, l, _)| {
            n == sample
                && labels.len() == l.len()
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .unwrap_or_else(|| panic!("no {sample}{labels:?} in {family}: {samples:?}"))
        .2
}

/// Waits until the file satisfies `ok`, re-parsing it as the daemon rewrites it.
fn until(path: &Path, ok: impl Fn(&Families) -> bool) -> Families {
    let start = Instant::now();
    loop {
        if path.exists() {
            let f = parse(path);
            if ok(&f) {
                return f;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "metrics never got there: {}",
            std::fs::read_to_string(path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_daemon_writes_metrics_prometheus_parses_and_they_describe_the_host() {
    let host = SimHost::new(3, &[0, 1], "mode = \"observe\"", "");
    let prom = host.dir.path().join("textfile/lunguard.prom");
    std::fs::create_dir_all(prom.parent().unwrap()).unwrap();
    let text = std::fs::read_to_string(&host.config).unwrap();
    std::fs::write(
        &host.config,
        format!(
            "{text}\n[daemon]\nresync_interval = \"1s\"\nmetrics_textfile = {:?}\n",
            prom
        ),
    )
    .unwrap();
    let _daemon = host.daemon();
    let f = until(&prom, |f| {
        f.contains_key("lunguard_attachments")
            && value(
                f,
                "lunguard_attachments",
                "lunguard_attachments",
                &[("state", "converged")],
            ) == 2.0
    });
    for (family, kind) in [
        ("lunguard_info", "gauge"),
        ("lunguard_attachments", "gauge"),
        ("lunguard_unwanted", "gauge"),
        ("lunguard_findings", "gauge"),
        ("lunguard_degraded_keys", "gauge"),
        ("lunguard_state_rejected", "gauge"),
        ("lunguard_state_rejections", "counter"),
        ("lunguard_actions", "counter"),
        ("lunguard_unwanted_removed", "counter"),
        ("lunguard_passes", "counter"),
        ("lunguard_pass_duration_seconds", "histogram"),
        ("lunguard_resyncs", "counter"),
        ("lunguard_uevent_overflows", "counter"),
        ("lunguard_last_successful_pass_timestamp_seconds", "gauge"),
    ] {
        assert_eq!(
            f.get(family).map(|(t, _)| t.as_str()),
            Some(kind),
            "{family}"
        );
    }
    // LUN 2 is nobody's: its 2 paths and its map wait for the grace period (observe mode).
    assert_eq!(
        value(
            &f,
            "lunguard_unwanted",
            "lunguard_unwanted",
            &[("state", "waiting_for_grace")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &f,
            "lunguard_info",
            "lunguard_info",
            &[("version", env!("CARGO_PKG_VERSION")), ("mode", "observe")]
        ),
        1.0
    );
    let passes = value(
        &f,
        "lunguard_passes",
        "lunguard_passes_total",
        &[("result", "ok")],
    ) + value(
        &f,
        "lunguard_passes",
        "lunguard_passes_total",
        &[("result", "failed")],
    );
    assert!(passes >= 1.0);
    assert_eq!(
        value(
            &f,
            "lunguard_pass_duration_seconds",
            "lunguard_pass_duration_seconds_count",
            &[]
        ),
        passes,
        "one observation per pass"
    );
    let last = value(
        &f,
        "lunguard_last_successful_pass_timestamp_seconds",
        "lunguard_last_successful_pass_timestamp_seconds",
        &[],
    );
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - last).abs() < 60.0, "last pass {last}, now {now}");
    assert!(value(&f, "lunguard_resyncs", "lunguard_resyncs_total", &[]) >= 1.0);
    if let Some(keep) = std::env::var_os("LUNGUARD_KEEP_METRICS") {
        std::fs::copy(&prom, keep).unwrap();
    }

    // A broken state file: rejected (gauge 1, one rejection counted), the last good state in
    // force (still 2 converged).
    std::fs::write(
        host.state.join("zz-broken.toml"),
        "[[attachment]]\nname = 1\n",
    )
    .unwrap();
    let f = until(&prom, |f| {
        value(f, "lunguard_state_rejected", "lunguard_state_rejected", &[]) == 1.0
    });
    assert_eq!(
        value(
            &f,
            "lunguard_state_rejections",
            "lunguard_state_rejections_total",
            &[]
        ),
        1.0
    );
    assert_eq!(
        value(
            &f,
            "lunguard_attachments",
            "lunguard_attachments",
            &[("state", "converged")]
        ),
        2.0
    );
    std::fs::remove_file(host.state.join("zz-broken.toml")).unwrap();
    let f = until(&prom, |f| {
        value(f, "lunguard_state_rejected", "lunguard_state_rejected", &[]) == 0.0
    });
    assert_eq!(
        value(
            &f,
            "lunguard_state_rejections",
            "lunguard_state_rejections_total",
            &[]
        ),
        1.0,
        "counted once"
    );
}
