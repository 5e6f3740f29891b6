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
