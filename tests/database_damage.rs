//! A damaged database is refused by every command that opens it: exit 3 and a message naming
//! the directory and what the operator can do, never a run on a partial memory (issue 10).

use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Command, Output};
use std::time::SystemTime;

use lunguard::desire::Store;
use lunguard::desire::store::{Intent, SledStore};
use lunguard::testing::example;

/// A database with a few journal entries and a writeback-loss mark, closed.
fn used_db(db: &Path) {
    let store = SledStore::open(db).expect("open store");
    for i in 0..20 {
        store
            .record_intent(&Intent {
                key: format!("3:0:0:{i}"),
                action: format!("remove 3:0:0:{i} (sd{i})"),
                at: SystemTime::now(),
            })
            .expect("intent");
    }
    store
        .mark_writeback_lost("3:0:0:7 naa.7", "EIO")
        .expect("mark");
}

fn lunguard(args: &[&str], db: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(args)
        .arg("--database")
        .arg(db)
        .output()
        .expect("run lunguard")
}

fn assert_refused(out: &Output, db: &Path, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{what}: {err}");
    assert!(
        err.contains(&db.display().to_string()),
        "{what}: names the path: {err}"
    );
    assert!(err.contains("is damaged"), "{what}: {err}");
    assert!(err.contains("will not act"), "{what}: {err}");
    assert!(
        err.contains(&format!("mv {} {}.damaged", db.display(), db.display())),
        "{what}: the operator's command: {err}"
    );
    assert!(
        err.contains("state files are the source of truth"),
        "{what}: {err}"
    );
}

#[test]
fn truncated_database_makes_history_and_plan_exit_3_with_instructions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    used_db(&db);
    // Half of what sled wrote (a later open may grow the file to a whole, mostly empty,
    // segment: cutting that in half loses nothing, and is rightly not called damage).
    let len = std::fs::metadata(db.join("db")).expect("sled file").len();
    OpenOptions::new()
        .write(true)
        .open(db.join("db"))
        .expect("open sled file")
        .set_len(len / 2)
        .expect("truncate");
    assert_refused(&lunguard(&["history"], &db), &db, "history");

    let fx = dir.path().join("fixture");
    example(&fx).expect("fixture");
    let state = dir.path().join("state.d");
    std::fs::create_dir(&state).expect("state dir");
    let fx = fx.to_str().expect("utf-8");
    let state = state.to_str().expect("utf-8");
    assert_refused(
        &lunguard(&["plan", "--fixture", fx, "--state-dir", state], &db),
        &db,
        "plan",
    );
}

#[test]
fn garbage_in_the_database_file_makes_history_exit_3() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    used_db(&db);
    let mut f = OpenOptions::new()
        .write(true)
        .open(db.join("db"))
        .expect("open sled file");
    f.write_all(&[0x5a; 8192]).expect("garbage");
    drop(f);
    assert_refused(&lunguard(&["history"], &db), &db, "history");
}

/// Moving the directory aside, as the message says, is enough to run again.
#[test]
fn a_database_moved_aside_is_replaced_by_a_fresh_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    used_db(&db);
    std::fs::write(db.join("db"), b"").expect("empty sled file");
    assert_refused(&lunguard(&["history"], &db), &db, "history");
    std::fs::rename(&db, dir.path().join("db.damaged")).expect("mv");
    let out = lunguard(&["history"], &db);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
