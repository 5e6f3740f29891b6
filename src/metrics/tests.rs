use super::*;
use crate::act::StepReport;
use crate::plan::{Finding, GroupId, OnFailure, Step};

fn finding(subject: Subject, attachment: Option<&str>, kind: FindingKind) -> Finding {
    Finding {
        subject,
        attachment: attachment.map(str::to_owned),
        kind,
    }
}

fn att(name: &str) -> Subject {
    Subject::Attachment { name: name.into() }
}

fn path(s: &str) -> Subject {
    Subject::Path {
        hctl: s.parse().expect("hctl"),
    }
}

/// The value of the sample `name{labels}` in the rendered text.
fn sample(text: &str, series: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .to_owned()
}

#[test]
fn gauges_describe_the_latest_plan_only() {
    let mut m = Metrics::new(Mode::Enforce);
    let plan = Plan {
        findings: vec![
            finding(att("a"), Some("a"), FindingKind::Converged),
            finding(
                att("b"),
                Some("b"),
                FindingKind::Missing {
                    what: "session".into(),
                },
            ),
            // A wrong WWID on b's path outranks b's "missing".
            finding(
                path("3:0:0:1"),
                Some("b"),
                FindingKind::WrongWwid {
                    expected: "naa.600140500000000000000000000000aa"
                        .parse()
                        .expect("wwid"),
                    found: "naa.600140500000000000000000000000bb"
                        .parse()
                        .expect("wwid"),
                },
            ),
            finding(
                path("3:0:0:2"),
                None,
                FindingKind::WaitingForGrace {
                    remaining_secs: 5,
                    removes_at: String::new(),
                },
            ),
            finding(
                path("3:0:0:3"),
                None,
                FindingKind::InUse {
                    why: "mounted".into(),
                },
            ),
            finding(
                path("3:0:0:4"),
                None,
                FindingKind::Unwanted {
                    why: "no intent".into(),
                    action: "remove".into(),
                },
            ),
            finding(
                path("3:0:0:5"),
                None,
                FindingKind::Unwanted {
                    why: "no intent".into(),
                    action: "alert only (on_unexpected = alert)".into(),
                },
            ),
        ],
        ..Plan::default()
    };
    m.observe_plan(Some(&plan), &["a".into(), "b".into(), "c".into()]);
    let t = m.render();
    assert_eq!(sample(&t, "lunguard_attachments{state=\"converged\"}"), "1");
    assert_eq!(
        sample(&t, "lunguard_attachments{state=\"wrong_wwid\"}"),
        "1"
    );
    // c has no finding at all: missing.
    assert_eq!(sample(&t, "lunguard_attachments{state=\"missing\"}"), "1");
    assert_eq!(sample(&t, "lunguard_attachments{state=\"degraded\"}"), "0");
    for (state, n) in [
        ("waiting_for_grace", "1"),
        ("in_use", "1"),
        ("to_remove", "1"),
        ("alert_only", "1"),
        ("refused", "0"),
    ] {
        assert_eq!(
            sample(&t, &format!("lunguard_unwanted{{state=\"{state}\"}}")),
            n,
            "{state}"
        );
    }
    assert_eq!(sample(&t, "lunguard_findings{kind=\"unwanted\"}"), "2");
    // The next pass replaces them; no good desired state: all zero.
    m.observe_plan(None, &[]);
    let t = m.render();
    assert_eq!(sample(&t, "lunguard_attachments{state=\"converged\"}"), "0");
    assert_eq!(sample(&t, "lunguard_unwanted{state=\"in_use\"}"), "0");
}

#[test]
fn counters_and_the_histogram_accumulate() {
    let mut m = Metrics::new(Mode::Observe);
    let step = |action: Action| Step {
        action,
        reason: String::new(),
        on_failure: OnFailure::Stop,
        group: GroupId(0),
        needs: Vec::new(),
        targets: Vec::new(),
    };
    let plan = Plan {
        steps: vec![
            step(Action::DeletePaths {
                map: None,
                paths: Vec::new(),
            }),
            step(Action::WaitGone {
                paths: Vec::new(),
                map: None,
                timeout: Duration::from_secs(1),
            }),
        ],
        ..Plan::default()
    };
    let report = Report {
        steps: vec![
            StepReport {
                index: 0,
                line: String::new(),
                result: StepResult::WouldChange,
            },
            StepReport {
                index: 1,
                line: String::new(),
                result: StepResult::Failed {
                    error: "timeout".into(),
                    stopped: true,
                },
            },
        ],
    };
    m.record_report(&plan, &report);
    m.record_report(&plan, &report);
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    m.pass_done(Duration::from_millis(30), true, true, at);
    m.pass_done(
        Duration::from_secs(3),
        false,
        false,
        at + Duration::from_secs(9),
    );
    m.overflow();
    m.set_state_rejected(true, true);
    m.set_degraded(2);
    let t = m.render();
    assert_eq!(
        sample(
            &t,
            "lunguard_actions_total{kind=\"delete_paths\",outcome=\"would_change\"}"
        ),
        "2"
    );
    assert_eq!(
        sample(
            &t,
            "lunguard_actions_total{kind=\"wait_gone\",outcome=\"failed\"}"
        ),
        "2"
    );
    assert_eq!(
        sample(
            &t,
            "lunguard_actions_total{kind=\"login\",outcome=\"changed\"}"
        ),
        "0"
    );
    assert_eq!(
        sample(&t, "lunguard_pass_duration_seconds_bucket{le=\"0.025\"}"),
        "0"
    );
    assert_eq!(
        sample(&t, "lunguard_pass_duration_seconds_bucket{le=\"0.05\"}"),
        "1"
    );
    assert_eq!(
        sample(&t, "lunguard_pass_duration_seconds_bucket{le=\"2.5\"}"),
        "1"
    );
    assert_eq!(
        sample(&t, "lunguard_pass_duration_seconds_bucket{le=\"5\"}"),
        "2"
    );
    assert_eq!(
        sample(&t, "lunguard_pass_duration_seconds_bucket{le=\"+Inf\"}"),
        "2"
    );
    assert_eq!(sample(&t, "lunguard_pass_duration_seconds_count"), "2");
    assert_eq!(sample(&t, "lunguard_passes_total{result=\"failed\"}"), "1");
    assert_eq!(sample(&t, "lunguard_resyncs_total"), "1");
    assert_eq!(sample(&t, "lunguard_uevent_overflows_total"), "1");
    assert_eq!(sample(&t, "lunguard_state_rejected"), "1");
    assert_eq!(sample(&t, "lunguard_state_rejections_total"), "1");
    assert_eq!(sample(&t, "lunguard_degraded_keys"), "2");
    // The last *successful* pass, not the last one.
    assert_eq!(
        sample(&t, "lunguard_last_successful_pass_timestamp_seconds"),
        "1800000000"
    );
    assert!(t.contains("lunguard_info{version=\""), "{t}");
    assert!(t.contains("mode=\"observe\"} 1"), "{t}");
}

#[test]
fn the_file_is_replaced_whole_and_a_missing_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lunguard.prom");
    write_textfile(&path, "a 1\n".into(), Duration::from_secs(5)).expect("write");
    write_textfile(&path, "a 2\n".into(), Duration::from_secs(5)).expect("rewrite");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "a 2\n");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["lunguard.prom"], "no temporary file left");
    let missing = dir.path().join("nope/lunguard.prom");
    let err =
        write_textfile(&missing, "a 1\n".into(), Duration::from_secs(5)).expect_err("no directory");
    assert!(err.to_string().contains("nope"), "{err}");
}
