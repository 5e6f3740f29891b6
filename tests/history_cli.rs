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

/// `--since`, `--until` and `--kind` select by when an intent was decided and by its action
/// kind, before `--limit`; text and JSON print RFC 3339 UTC times; JSON carries its
/// schema_version and the outcome flat beside its own time.
#[test]
fn history_filters_by_time_and_kind_and_prints_rfc3339() {
    use std::time::{Duration, UNIX_EPOCH};
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    let t0 = UNIX_EPOCH + Duration::from_secs(1_796_083_200); // 2026-12-01T00:00:00Z
    {
        let store = SledStore::open(&db).expect("open store");
        for (i, (key, action)) in [
            (
                "login iqn.2003-01.org.example:a",
                "login iqn.2003-01.org.example:a",
            ),
            ("flush_map dm-0", "flush map mpatha (dm-0)"),
            ("delete_paths 3:0:0:2", "remove 3:0:0:2 (sdc)"),
            ("flush_map dm-1", "flush map mpathb (dm-1)"),
        ]
        .into_iter()
        .enumerate()
        {
            let at = t0 + Duration::from_secs(3600 * i as u64);
            let id = store
                .record_intent(&Intent {
                    key: key.into(),
                    action: action.into(),
                    at,
                })
                .expect("intent");
            store
                .record_outcome(
                    id,
                    &OutcomeRecord {
                        at: at + Duration::from_secs(2),
                        outcome: if i == 3 {
                            Outcome::Failed {
                                error: "map in use".into(),
                            }
                        } else {
                            Outcome::Changed
                        },
                    },
                )
                .expect("outcome");
        }
    }
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lunguard"))
            .args(["history", "--database"])
            .arg(&db)
            .args(args)
            .output()
            .expect("run lunguard history");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, text, err) = run(&[]);
    assert_eq!(code, Some(1), "a failed entry needs attention: {text}{err}");
    assert!(
        text.contains("2026-12-01T01:00:00Z flush map mpatha (dm-0) -> changed"),
        "{text}"
    );
    assert!(
        text.lines().next().is_some_and(|l| l.contains("mpathb")),
        "newest first: {text}"
    );
    let (_, text, _) = run(&["--kind", "flush_map"]);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("mpatha") && text.contains("mpathb"), "{text}");
    let (_, text, _) = run(&["--kind", "flush_map", "--limit", "1"]);
    assert_eq!(text.lines().count(), 1, "the newest matching one: {text}");
    assert!(text.contains("mpathb"), "{text}");
    let (code, text, _) = run(&[
        "--since",
        "2026-12-01T01:00:00Z",
        "--until",
        "2026-12-01T04:00:00+01:00",
    ]);
    assert_eq!(code, Some(0), "the failed one is outside: {text}");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains("mpatha") && text.contains("3:0:0:2"),
        "{text}"
    );
    let (_, text, _) = run(&["--kind", "logout"]);
    assert_eq!(text.trim(), "no journal entry matches");
    let (_, json, _) = run(&["--kind", "flush_map", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["schema_version"], 2, "{v}");
    let e = &v["entries"];
    assert_eq!(e.as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(e[1]["kind"], "flush_map");
    assert_eq!(e[1]["at"], "2026-12-01T01:00:00Z");
    assert_eq!(e[1]["outcome"]["at"], "2026-12-01T01:00:02Z");
    assert_eq!(e[1]["outcome"]["result"], "changed");
    assert_eq!(e[0]["outcome"]["result"], "failed");
    assert_eq!(e[0]["outcome"]["error"], "map in use");
}
