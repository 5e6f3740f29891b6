use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::model::OnUnexpected;

fn parse(text: &str) -> Result<Config, LoadErrors> {
    Config::parse(Path::new("lunguard.toml"), text)
}

fn only_error(text: &str) -> Diagnostic {
    let e = parse(text).unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    e.0.into_iter().next().unwrap()
}

#[test]
fn empty_file_is_all_defaults() {
    let c = parse("").unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.mode, Mode::Observe);
    assert_eq!(c.policy.grace, Duration::from_secs(30));
    assert_eq!(c.policy.max_removals_per_pass, 4);
    assert_eq!(c.database, Path::new("/var/lib/lunguard/db"));
    assert_eq!(c.control_socket, Path::new("/run/lunguard/control.sock"));
}

#[test]
fn example_file_parses_and_documents_every_knob() {
    let text = include_str!("../../state/lunguard.toml.example");
    let c = parse(text).unwrap();
    assert_eq!(c.scope.iscsi_targets.len(), 1);
    // Every key the config serializes appears in the example and in docs/config.md.
    let docs = include_str!("../../docs/config.md");
    let json = serde_json::to_value(Config::default()).unwrap();
    let mut keys = Vec::new();
    collect_keys(&json, "", &mut keys);
    for key in keys {
        let leaf = key.rsplit('.').next().unwrap();
        assert!(text.contains(&format!("{leaf} =")), "example lacks {key}");
        assert!(
            docs.contains(&format!("`{key}`")),
            "docs/config.md lacks `{key}`"
        );
    }
}

fn collect_keys(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    if let serde_json::Value::Object(m) = v {
        for (k, v) in m {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if v.is_object() {
                collect_keys(v, &key, out);
            } else {
                out.push(key);
            }
        }
    }
}

#[test]
fn durations_accept_strings_and_seconds() {
    let c = parse("[policy]\ngrace = \"5m\"\n[timeouts]\niscsiadm = 90\n").unwrap();
    assert_eq!(c.policy.grace, Duration::from_secs(300));
    assert_eq!(c.timeouts.iscsiadm, Duration::from_secs(90));
    let d = only_error("[policy]\ngrace = \"5 minutes\"\n");
    assert_eq!((d.line, d.column), (Some(2), Some(9)));
    assert!(d.message.contains("1m30s"), "{d}");
}

#[test]
fn unknown_field_is_an_error_with_position() {
    let d = only_error("mode = \"enforce\"\n[policy]\ngrace_period = \"30s\"\n");
    assert_eq!(d.line, Some(3), "{d}");
    assert!(d.message.contains("grace_period"), "{d}");
}

#[test]
fn bad_mode_and_on_unexpected() {
    assert!(only_error("mode = \"auto\"\n").message.contains("observe"));
    assert!(
        only_error("[policy]\non_unexpected = \"delete\"\n")
            .message
            .contains("alert")
    );
    let c = parse("mode = \"enforce\"\n[policy]\non_unexpected = \"alert\"\n").unwrap();
    assert_eq!(
        (c.mode, c.policy.on_unexpected),
        (Mode::Enforce, OnUnexpected::Alert)
    );
}

#[test]
fn syntax_error_has_position() {
    let d = only_error("mode = \n");
    assert_eq!(d.line, Some(1), "{d}");
}

#[test]
fn semantic_rules_each_fail_and_all_are_reported() {
    let text = "\
state_dir = \"relative/state.d\"
[policy]
max_removals_per_pass = 0
[policy.flush]
backoff_multiplier = 0.5
backoff_initial = \"1m\"
backoff_max = \"10s\"
timeout = 0
[timeouts]
multipath = \"0s\"
[scope]
scsi_hosts = [\"scsi debug\"]
[scope.exclude]
iscsi_targets = [\"\"]
";
    let e = parse(text).unwrap_err();
    // The bad pattern is a deserialize error and stops the rest; fix it and
    // every semantic rule reports at once.
    assert_eq!(e.0.len(), 1, "{e}");
    assert!(e.0[0].message.contains("empty"), "{e}");
    let e = parse(&text.replace("[\"\"]", "[]")).unwrap_err();
    let msgs: Vec<String> =
        e.0.iter()
            .map(|d| format!("{}:{}", d.line.unwrap(), d.message))
            .collect();
    for (line, needle) in [
        (1, "state_dir must be an absolute path"),
        (3, "max_removals_per_pass must be at least 1"),
        (5, "backoff_multiplier must be a number >= 1.0"),
        (
            6,
            "backoff_initial must be more than 0 and at most backoff_max",
        ),
        (8, "policy.flush.timeout must be more than 0"),
        (10, "timeouts.multipath must be more than 0"),
        (12, "not a SCSI host driver name"),
    ] {
        assert!(
            msgs.iter()
                .any(|m| m.starts_with(&format!("{line}:")) && m.contains(needle)),
            "{needle} at line {line} missing from {msgs:#?}"
        );
    }
    assert_eq!(msgs.len(), 7, "{msgs:#?}");
}

#[test]
fn missing_file_defaults_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lunguard.toml");
    assert_eq!(
        Config::load(&path, IfMissing::Defaults, Ownership::Trust),
        Ok(Config::default())
    );
    let e = Config::load(&path, IfMissing::Error, Ownership::Trust).unwrap_err();
    assert!(e.to_string().contains("cannot read the config file"), "{e}");
}

#[test]
fn root_refuses_a_config_file_others_can_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lunguard.toml");
    fs::write(&path, "mode = \"enforce\"\n").unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let me = fs::metadata(&path).unwrap().uid();
    let strict = Ownership::Enforce { owner: me };
    assert_eq!(
        Config::load(&path, IfMissing::Error, strict).unwrap().mode,
        Mode::Enforce
    );
    fs::set_permissions(&path, fs::Permissions::from_mode(0o664)).unwrap();
    let e = Config::load(&path, IfMissing::Error, strict).unwrap_err();
    assert!(e.to_string().contains("writable by group or others"), "{e}");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let other = Ownership::Enforce {
        owner: me.wrapping_add(1),
    };
    let e = Config::load(&path, IfMissing::Error, other).unwrap_err();
    assert!(e.to_string().contains("owned by uid"), "{e}");
}

#[test]
fn roots_convert_for_the_observer() {
    let c = parse("[roots]\nsys = \"/tmp/x/sys\"\n").unwrap();
    let r = c.roots.to_roots();
    assert_eq!(
        (r.sys.as_path(), r.proc.as_path()),
        (Path::new("/tmp/x/sys"), Path::new("/proc"))
    );
}

#[test]
fn daemon_section_defaults_values_and_limits() {
    let c = parse("").unwrap();
    assert_eq!(
        c.daemon.uevent_receive_buffer,
        crate::observe::monitor::DEFAULT_RECEIVE_BUFFER as u64
    );
    assert_eq!(c.daemon.debounce, Duration::from_millis(50));
    assert_eq!(c.daemon.resync_interval, Duration::from_secs(300));
    assert_eq!(c.daemon.metrics_textfile, None);
    let c =
        parse("[daemon]\nmetrics_textfile = \"/var/lib/prometheus/node-exporter/lunguard.prom\"\n")
            .unwrap();
    assert_eq!(
        c.daemon.metrics_textfile.as_deref(),
        Some(std::path::Path::new(
            "/var/lib/prometheus/node-exporter/lunguard.prom"
        ))
    );
    let c = parse(
        "[daemon]\nuevent_receive_buffer = 4096\ndebounce = \"200ms\"\nresync_interval = \"30s\"\n",
    )
    .unwrap();
    assert_eq!(c.daemon.receive_buffer(), 4096);
    assert_eq!(c.daemon.debounce, Duration::from_millis(200));
    assert_eq!(c.daemon.resync_interval, Duration::from_secs(30));
    for (text, line, needle) in [
        (
            "[daemon]\nuevent_receive_buffer = 100\n",
            2,
            "daemon.uevent_receive_buffer must be between 4096",
        ),
        (
            "[daemon]\nuevent_receive_buffer = 2147483648\n",
            2,
            "daemon.uevent_receive_buffer must be between",
        ),
        (
            "[daemon]\ndebounce = \"11s\"\n",
            2,
            "daemon.debounce must be at most 10s",
        ),
        (
            "[daemon]\nresync_interval = \"500ms\"\n",
            2,
            "daemon.resync_interval must be at least 1s",
        ),
        (
            "[daemon]\nmetrics_textfile = \"lunguard.prom\"\n",
            2,
            "daemon.metrics_textfile must be an absolute path ending in .prom",
        ),
        (
            "[daemon]\nmetrics_textfile = \"/var/lib/prometheus/node-exporter/lunguard.txt\"\n",
            2,
            "daemon.metrics_textfile must be an absolute path ending in .prom",
        ),
    ] {
        let d = only_error(text);
        assert_eq!(d.line, Some(line), "{d}");
        assert!(d.message.contains(needle), "{d}");
    }
    let d = only_error("[daemon]\nuevent_buffer = 4096\n");
    assert!(d.message.contains("uevent_buffer"), "{d}");
    let d = only_error("[daemon]\nuevent_receive_buffer = -1\n");
    assert_eq!(d.line, Some(2), "{d}");
}
