//! Issue 7, item 5: a dry run (observe mode, `apply --once --dry-run`) changes nothing, so its
//! steps must not be journaled or summarised as `changed`: the journal, `history` (text and
//! JSON) and the summary line say "would change".

use std::process::Command;

use lunguard::act::{DryRun, TargetLocks, execute_plan};
use lunguard::desire::Store;
use lunguard::desire::store::{MemoryStore, SledStore};
use lunguard::engine::StoreJournal;
use lunguard::model::{Iqn, Portal};
use lunguard::plan::{Action, GroupId, OnFailure, Plan, Step};
use lunguard::testing::EXAMPLE_TARGET;

fn login_plan() -> Plan {
    let target: Iqn = EXAMPLE_TARGET.parse().expect("example IQN");
    let portal: Portal = "192.0.2.10:3260".parse().expect("portal");
    Plan {
        steps: vec![Step {
            targets: vec![target.clone()],
            action: Action::Login { target, portal },
            reason: "test".into(),
            on_failure: OnFailure::Stop,
            group: GroupId(1),
            needs: Vec::new(),
        }],
        ..Plan::default()
    }
}

/// Bug: `StepResult::WouldChange => Outcome::Changed` made a dry run's journal claim it had
/// logged in; and `Report::counts` lumped it with changed ("1 changed").
#[test]
fn a_dry_run_step_is_journaled_and_summarised_as_would_change() {
    let store = MemoryStore::default();
    let journal = StoreJournal::new(&store);
    let report = execute_plan(
        &login_plan(),
        &DryRun::new(),
        &journal,
        &TargetLocks::default(),
    );
    let h = store.history(10).unwrap();
    assert_eq!(h.len(), 1);
    let outcome = serde_json::to_value(&h[0].outcome.as_ref().unwrap().outcome).unwrap();
    assert_eq!(outcome["result"], "would_change", "{outcome}");
    assert_eq!(
        report.summary(),
        "0 changed, 1 would change, 0 already converged, 0 failed, 0 skipped"
    );
    assert!(
        report.ok(),
        "a dry run that would change something is not a failure"
    );
}

/// `history` tells a dry-run step from a real change, in text and in `--json`, and a would-change
/// entry needs no attention (exit 0).
#[test]
fn history_shows_would_change_apart_from_changed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    {
        let store = SledStore::open(&db).unwrap();
        let journal = StoreJournal::new(&store);
        execute_plan(
            &login_plan(),
            &DryRun::new(),
            &journal,
            &TargetLocks::default(),
        );
    }
    let run = |json: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lunguard"));
        c.args(["history", "--database"]).arg(&db);
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    let out = run(false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("-> would change (dry run)"), "{text}");
    assert!(!text.contains("-> changed"), "{text}");
    assert_eq!(out.status.code(), Some(0), "{text}");
    let out = run(true);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema_version"], 2, "{v}");
    assert_eq!(v["entries"][0]["outcome"]["result"], "would_change", "{v}");
}
