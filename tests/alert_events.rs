//! What gets alerted: findings and executor outcomes map to the right kinds
//! and fields; repeated findings alert once; a flapping device is rate
//! limited (fake clock) and the suppressed count is reported.

// Helpers outside #[test] fns unwrap fixed test data too.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lunguard::act::{JournalEvent, StepResult};
use lunguard::alert::{
    Alert, AlertKind, Alerter, Clock, FindingChanges, MemorySink, Priority, RateLimit, RateLimited,
    field,
};
use lunguard::model::{DevT, Hctl, Wwid};
use lunguard::plan::{
    Action, Finding, FindingKind, FlushPolicy, GroupId, MapRef, OnFailure, PathRef, Step, Subject,
};

fn hctl(s: &str) -> Hctl {
    s.parse().unwrap()
}

fn wwid() -> Wwid {
    "naa.6001405aabbccdd0000000000000002".parse().unwrap()
}

fn step(action: Action) -> Step {
    Step {
        action,
        reason: "not declared".into(),
        on_failure: OnFailure::Stop,
        group: GroupId(1),
        needs: vec![],
        targets: vec![],
    }
}

fn delete_paths() -> Action {
    Action::DeletePaths {
        map: Some("mpatha".parse().unwrap()),
        paths: vec![
            PathRef {
                hctl: hctl("3:0:0:2"),
                wwid: wwid(),
                block: Some("sdc".into()),
                dev: Some(DevT::new(8, 32)),
            },
            PathRef {
                hctl: hctl("4:0:0:2"),
                wwid: wwid(),
                block: Some("sdg".into()),
                dev: Some(DevT::new(8, 96)),
            },
        ],
    }
}

fn flush_map() -> Action {
    Action::FlushMap {
        map: MapRef {
            name: "mpatha".parse().unwrap(),
            kernel_name: "dm-2".into(),
            uuid: Some("mpath-36001405aabbccdd0000000000000002".into()),
            dev: Some(DevT::new(253, 2)),
        },
        retry: FlushPolicy::default(),
    }
}

fn outcome(action: Action, result: StepResult) -> Alert {
    let s = step(action);
    Alert::from_journal_event(&JournalEvent::Outcome {
        index: 4,
        step: &s,
        result: &result,
    })
}

#[test]
fn removed_paths_carry_every_hctl_and_device() {
    let a = outcome(delete_paths(), StepResult::Changed);
    assert_eq!(a.kind, AlertKind::DeviceRemoved);
    let all = |n: &str| -> Vec<&str> {
        a.fields
            .iter()
            .filter(|(k, _)| *k == n)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(all(field::HCTL), ["3:0:0:2", "4:0:0:2"]);
    assert_eq!(all(field::DEVICE), ["sdc", "sdg"]);
    assert_eq!(all(field::WWID).len(), 1);
    assert_eq!(a.field(field::DM_NAME), Some("mpatha"));
    assert_eq!(a.field(field::ACTION), Some("delete_paths"));
    assert_eq!(a.field(field::OUTCOME), Some("changed"));
    assert_eq!(a.field(field::STEP), Some("4"));
}

#[test]
fn outcomes_map_to_kinds() {
    let failed = StepResult::Failed {
        error: "map mpatha in use after 6 attempts".into(),
        stopped: true,
    };
    let flush = outcome(flush_map(), failed.clone());
    assert_eq!(flush.kind, AlertKind::FlushFailed);
    assert_eq!(flush.priority, Priority::Err);
    assert_eq!(
        flush.field(field::ERROR),
        Some("map mpatha in use after 6 attempts")
    );
    assert_eq!(flush.field(field::DEVICE), Some("dm-2"));

    let scan = Action::ScanLun {
        target: "iqn.2003-01.org.example:t1".parse().unwrap(),
        hctl: "3:0:0:2".parse().unwrap(),
    };
    assert_eq!(
        outcome(scan.clone(), StepResult::Changed).kind,
        AlertKind::AttachDone
    );
    assert_eq!(
        outcome(scan.clone(), failed.clone()).kind,
        AlertKind::AttachFailed
    );
    assert_eq!(
        outcome(scan.clone(), StepResult::WouldChange).kind,
        AlertKind::WouldAct
    );
    let converged = outcome(scan, StepResult::AlreadyConverged);
    assert_eq!(
        (converged.kind, converged.priority),
        (AlertKind::ActionDone, Priority::Debug)
    );
    assert_eq!(
        outcome(delete_paths(), failed).kind,
        AlertKind::ActionFailed
    );
    assert_eq!(
        outcome(
            delete_paths(),
            StepResult::Skipped {
                why: "needs group 1".into()
            }
        )
        .kind,
        AlertKind::ActionSkipped
    );
    assert_eq!(
        outcome(flush_map(), StepResult::Changed).kind,
        AlertKind::DeviceRemoved
    );

    let s = step(delete_paths());
    let intent = Alert::from_journal_event(&JournalEvent::Intent { index: 4, step: &s });
    assert_eq!(
        (intent.kind, intent.priority),
        (AlertKind::ActionStarted, Priority::Info)
    );
}

#[test]
fn a_persistent_finding_alerts_once_and_again_after_it_changes() {
    let path = Subject::Path {
        hctl: hctl("3:0:0:2"),
    };
    let f = |kind| Finding {
        subject: path.clone(),
        attachment: Some("db".into()),
        kind,
    };
    let mut changes = FindingChanges::new();
    let grace = f(FindingKind::WaitingForGrace {
        remaining_secs: 30,
        removes_at: "2027-01-15T08:01:00Z".into(),
    });
    let a = changes.observe(&grace).expect("first sight alerts");
    assert_eq!(a.kind, AlertKind::UnwantedDevice);
    assert_eq!(a.field(field::ATTACHMENT), Some("db"));
    assert!(
        changes
            .observe(&f(FindingKind::WaitingForGrace {
                remaining_secs: 10,
                removes_at: "2027-01-15T08:01:00Z".into(),
            }))
            .is_none()
    );
    let unwanted = FindingKind::Unwanted {
        why: "x".into(),
        action: "remove".into(),
    };
    assert!(
        changes.observe(&f(unwanted)).is_none(),
        "same kind: no repeat"
    );
    let in_use = f(FindingKind::InUse {
        why: "mounted on /srv".into(),
    });
    assert_eq!(
        changes.observe(&in_use).unwrap().kind,
        AlertKind::RemovalRefusedInUse
    );
    changes.forget(&path);
    assert!(
        changes.observe(&f(FindingKind::Converged)).is_none(),
        "first converged is no news"
    );
}

/// A clock the test moves by hand.
#[derive(Clone)]
struct FakeClock(Arc<Mutex<Instant>>);

impl FakeClock {
    fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

#[test]
fn flapping_device_is_rate_limited_then_summarised() {
    let clock = FakeClock(Arc::new(Mutex::new(Instant::now())));
    let sink = Arc::new(MemorySink::new());
    let limit = RateLimit {
        burst: 3,
        interval: Duration::from_secs(60),
    };
    let alerter = RateLimited::with_clock(Arc::clone(&sink), limit, clock.clone());
    let degraded = |h: &str| {
        Alert::from_finding(&Finding {
            subject: Subject::Path { hctl: hctl(h) },
            attachment: None,
            kind: FindingKind::Degraded {
                why: "transport-offline".into(),
            },
        })
    };
    for _ in 0..10 {
        alerter.emit(&degraded("3:0:0:2"));
        clock.advance(Duration::from_secs(1));
    }
    // Another subject has its own budget; lifecycle alerts are never limited.
    alerter.emit(&degraded("3:0:0:3"));
    for _ in 0..5 {
        alerter.emit(&Alert::daemon_ready("1 host"));
    }
    let got = sink.take();
    let per = |k| got.iter().filter(|a| a.kind == k).count();
    assert_eq!(per(AlertKind::Degraded), 4);
    assert_eq!(per(AlertKind::DaemonReady), 5);
    assert_eq!(per(AlertKind::AlertsSuppressed), 0);

    clock.advance(Duration::from_secs(60));
    alerter.emit(&degraded("3:0:0:2"));
    let got = sink.take();
    assert_eq!(got.len(), 2, "{got:#?}");
    let summary = &got[0];
    assert_eq!(summary.kind, AlertKind::AlertsSuppressed);
    assert_eq!(
        summary.priority,
        Priority::Warning,
        "keeps the suppressed alerts' priority"
    );
    assert_eq!(summary.field(field::SUPPRESSED_COUNT), Some("7"));
    assert_eq!(summary.field(field::SUPPRESSED_KIND), Some("degraded"));
    assert_eq!(summary.field(field::HCTL), Some("3:0:0:2"));
    assert!(
        summary
            .message
            .starts_with("suppressed 7 more degraded alerts for 3:0:0:2")
    );
    assert_eq!(got[1].kind, AlertKind::Degraded);

    // A summary is also sent by flush() once the window is over, without a
    // new alert for that subject.
    for _ in 0..5 {
        alerter.emit(&degraded("3:0:0:2"));
    }
    alerter.flush();
    assert_eq!(sink.take().len(), 2, "two more pass, no summary yet");
    clock.advance(Duration::from_secs(61));
    alerter.flush();
    let got = sink.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].field(field::SUPPRESSED_COUNT), Some("3"));
}

#[test]
fn a_flush_that_force_went_past_and_disabled_queueing_alert_data_loss() {
    // Issue 7: under force a failed flush was reported like any failed flush, and switching a
    // dead map to fail_if_no_path (queued writes fail) as a plain "action done".
    let forced = StepResult::Failed {
        error: "writeback to /dev/sdc failed (Input/output error)".into(),
        stopped: false,
    };
    let buffers = Action::FlushBuffers {
        name: "sdc".into(),
        dev: DevT::new(8, 32),
    };
    let a = outcome(buffers.clone(), forced);
    assert_eq!(a.kind, AlertKind::DataLossForced);
    assert_eq!(a.priority, Priority::Crit);
    assert!(a.field(field::ERROR).unwrap().contains("writeback"));
    let kept = StepResult::Failed {
        error: "writeback to /dev/sdc failed (Input/output error)".into(),
        stopped: true,
    };
    assert_eq!(outcome(buffers, kept).kind, AlertKind::FlushFailed);
    let disable = Action::DisableQueueing {
        map: MapRef {
            name: "mpatha".parse().unwrap(),
            kernel_name: "dm-2".into(),
            uuid: None,
            dev: Some(DevT::new(253, 2)),
        },
    };
    assert_eq!(
        outcome(disable, StepResult::Changed).kind,
        AlertKind::DataLossForced
    );
}
