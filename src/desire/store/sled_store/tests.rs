use std::time::{Duration, SystemTime};

use super::*;
use crate::desire::store::{MemoryStore, Outcome};

fn intent(key: &str) -> Intent {
    Intent {
        key: key.to_owned(),
        action: format!("delete SCSI device {key}"),
        at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    }
}

fn done(outcome: Outcome) -> OutcomeRecord {
    OutcomeRecord {
        at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_001),
        outcome,
    }
}

/// The same script against both implementations: they must agree.
fn exercise(store: &dyn Store) {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
    let t1 = t0 + Duration::from_secs(60);
    assert_eq!(store.first_seen("3:0:0:1 naa.1", t0).unwrap(), t0);
    assert_eq!(
        store.first_seen("3:0:0:1 naa.1", t1).unwrap(),
        t0,
        "first time wins"
    );
    assert_eq!(
        store.seen().unwrap(),
        vec![("3:0:0:1 naa.1".to_owned(), t0)]
    );
    store.forget_seen("3:0:0:1 naa.1").unwrap();
    assert_eq!(store.first_seen("3:0:0:1 naa.1", t1).unwrap(), t1);

    let iqn: Iqn = "iqn.2001-04.com.example:t1".parse().unwrap();
    store.claim_target(&iqn).unwrap();
    assert_eq!(store.claimed_targets().unwrap(), vec![iqn.clone()]);
    store.release_target(&iqn).unwrap();
    assert!(store.claimed_targets().unwrap().is_empty());

    let a = store.record_intent(&intent("3:0:0:1")).unwrap();
    let b = store.record_intent(&intent("3:0:0:2")).unwrap();
    assert!(b > a, "ids increase");
    store.record_outcome(a, &done(Outcome::Changed)).unwrap();
    let open = store.intents_without_outcome().unwrap();
    assert_eq!(open.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b]);
    let h = store.history(10).unwrap();
    assert_eq!(
        h.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![b, a],
        "newest first"
    );
    assert_eq!(h[1].outcome.as_ref().unwrap().outcome, Outcome::Changed);
    assert!(matches!(
        store.record_outcome(JournalId(u64::MAX), &done(Outcome::Changed)),
        Err(StoreError::NoSuchEntry(_))
    ));
}

#[test]
fn sled_store_behaves() {
    let dir = tempfile::tempdir().unwrap();
    exercise(&SledStore::open(&dir.path().join("db")).unwrap());
}

#[test]
fn memory_store_behaves() {
    exercise(&MemoryStore::new());
}

#[test]
fn journal_and_claims_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let iqn: Iqn = "iqn.2001-04.com.example:t1".parse().unwrap();
    let id = {
        let s = SledStore::open(&path).unwrap();
        s.claim_target(&iqn).unwrap();
        s.record_intent(&intent("3:0:0:1")).unwrap()
    };
    let s = SledStore::open(&path).unwrap();
    assert_eq!(s.claimed_targets().unwrap(), vec![iqn]);
    assert_eq!(s.intents_without_outcome().unwrap()[0].id, id);
    let next = s.record_intent(&intent("3:0:0:2")).unwrap();
    assert!(next > id, "ids stay monotonic across reopen");
}

#[test]
fn second_open_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let _held = SledStore::open(&path).unwrap();
    let e = SledStore::open(&path).unwrap_err();
    assert!(matches!(e, StoreError::Locked { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("the daemon holds it; use the control socket"),
        "{e}"
    );
}

#[test]
fn foreign_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = sled::open(&path).unwrap();
        db.insert(b"schema", "other-9").unwrap();
        db.flush().unwrap();
    }
    let e = SledStore::open(&path).unwrap_err();
    assert!(matches!(e, StoreError::Schema { .. }), "{e}");
}

/// A database with some history (50 journal entries, a writeback-loss mark), closed.
fn used_db(path: &Path) {
    let s = SledStore::open(path).unwrap();
    for i in 0..50 {
        s.record_intent(&intent(&format!("3:0:0:{i}"))).unwrap();
    }
    s.mark_writeback_lost("3:0:0:7 naa.7", "EIO").unwrap();
}

fn assert_corrupt(path: &Path, why: &str) {
    let e = SledStore::open(path).expect_err(why);
    assert!(matches!(e, StoreError::Corrupt { .. }), "{why}: {e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "{why}: names the path: {msg}"
    );
    assert!(msg.contains("will not act"), "{why}: {msg}");
    assert!(
        msg.contains("move the directory aside"),
        "{why}: the operator's option: {msg}"
    );
}

fn damage(path: &Path, f: impl FnOnce(&Path, u64)) {
    let db = path.join("db");
    let len = fs::metadata(&db).unwrap().len();
    f(&db, len);
}

/// sled recovers a truncated log by dropping its tail and opens without complaint (measured:
/// half the journal gone): the seal must catch it.
#[test]
fn truncated_database_is_refused_not_silently_shortened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    used_db(&path);
    damage(&path, |db, len| {
        OpenOptions::new()
            .write(true)
            .open(db)
            .unwrap()
            .set_len(len / 2)
            .unwrap()
    });
    assert_corrupt(&path, "truncated to half");
}

#[test]
fn emptied_or_deleted_database_file_is_refused() {
    for how in ["truncate to 0", "delete sled's file"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        used_db(&path);
        damage(&path, |db, _| match how {
            "truncate to 0" => OpenOptions::new()
                .write(true)
                .open(db)
                .unwrap()
                .set_len(0)
                .unwrap(),
            _ => fs::remove_file(db).unwrap(),
        });
        assert_corrupt(&path, how);
    }
}

#[test]
fn garbage_bytes_in_the_database_are_refused() {
    use std::io::{Seek, SeekFrom, Write};
    for at in ["start", "middle"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        used_db(&path);
        damage(&path, |db, len| {
            let mut f = OpenOptions::new().write(true).open(db).unwrap();
            f.seek(SeekFrom::Start(if at == "start" { 0 } else { len / 2 }))
                .unwrap();
            f.write_all(&[0xa5; 4096]).unwrap();
        });
        assert_corrupt(&path, at);
    }
}

#[test]
fn garbage_in_sleds_config_or_the_seal_is_refused() {
    for file in ["conf", seal::FILE] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        used_db(&path);
        fs::write(path.join(file), b"\xff\xfe garbage").unwrap();
        assert_corrupt(&path, file);
    }
}

/// A SIGKILL between sled's fsync and the seal's leaves the seal one behind: that is not damage.
#[test]
fn seal_behind_the_database_is_a_crash_not_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    used_db(&path);
    let seal::Found::Generation(g) = seal::read(&path).unwrap() else {
        panic!("no seal")
    };
    assert!(g > 50, "one generation per durable write: {g}");
    seal::Seal::open(&path).unwrap().write(g - 1).unwrap();
    let s = SledStore::open(&path).unwrap();
    assert_eq!(s.history(100).unwrap().len(), 50);
    assert_eq!(s.writeback_lost().unwrap().len(), 1);
}

/// A database from before seals (no seal file, no generation) opens and is sealed.
#[test]
fn database_without_a_seal_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    used_db(&path);
    fs::remove_file(seal::path(&path)).unwrap();
    {
        let db = open_sled(&path).unwrap();
        db.remove(GENERATION).unwrap();
        db.flush().unwrap();
    }
    drop(SledStore::open(&path).unwrap());
    assert!(matches!(
        seal::read(&path).unwrap(),
        seal::Found::Generation(1)
    ));
    // and from then on a truncation is caught
    damage(&path, |db, _| {
        OpenOptions::new()
            .write(true)
            .open(db)
            .unwrap()
            .set_len(0)
            .unwrap()
    });
    assert_corrupt(&path, "truncated after adoption");
}

/// A stored value that does not decode is damage, found at open rather than mid-pass.
#[test]
fn undecodable_value_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    used_db(&path);
    {
        let db = open_sled(&path).unwrap();
        db.open_tree("journal")
            .unwrap()
            .insert(7u64.to_be_bytes(), &b"{not json"[..])
            .unwrap();
        db.flush().unwrap();
    }
    assert_corrupt(&path, "undecodable value");
}
