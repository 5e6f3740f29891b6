//! `lunguard history` shows the journal, including an intent that never got its outcome (an
//! action in flight when lunguard was killed), and exits 1 for it.

use std::process::Command;
use std::time::SystemTime;

use lunguard::desire::Store;
use lunguard::desire::store::{Intent, Outcome, OutcomeRecord, SledStore};

#[test]
fn history_lists_outcomes_and_flags_an_interrupted_action() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    {
        let store = SledStore::open(&db).expect("open store");
        let intent = |action: &str| Intent {
            key: "k".into(),
            action: action.into(),
            at: SystemTime::now(),
        };
        let done = store
            .record_intent(&intent("flush map mpatha (dm-0)"))
            .expect("intent");
        store
            .record_outcome(
                done,
                &OutcomeRecord {
                    at: SystemTime::now(),
                    outcome: Outcome::Changed,
                },
            )
            .expect("outcome");
        store
            .record_intent(&intent("remove 3:0:0:2 (sdc)"))
            .expect("intent");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(["history", "--database"])
        .arg(&db)
        .output()
        .expect("run lunguard history");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("flush map mpatha (dm-0) -> changed"),
        "{text}"
    );
    assert!(
        text.contains("remove 3:0:0:2 (sdc) -> NO OUTCOME"),
        "{text}"
    );
}

#[test]
fn history_while_another_process_holds_the_database_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    let _held = SledStore::open(&db).expect("open store");
    let out = Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(["history", "--database"])
        .arg(&db)
        .output()
        .expect("run lunguard history");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("daemon"),
        "the error names who holds it: {err}"
    );
}
