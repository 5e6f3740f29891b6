//! `SledStore`: the `Store` in a sled database (one directory).
//!
//! Trees: `desired` (one JSON value under `current`), `first_seen` (key →
//! JSON time), `claimed` (target IQN → empty), `journal` (big-endian id →
//! JSON entry, so iteration is in id order). Durable writes are followed by
//! `flush()` (fsync) before returning.
//!
//! sled is single-process. Its own lock error is an opaque string, so an
//! exclusive `flock` on `lunguard.lock` in the directory is taken first: it
//! gives the clear "the daemon holds it" error, and is released by the kernel
//! when the process dies, even by SIGKILL.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{HISTORY_LIMIT, Intent, JournalEntry, JournalId, OutcomeRecord, Store, StoreError};
use crate::desire::DesiredState;
use crate::model::Iqn;

const SCHEMA: &str = "lunguard-1";
const CURRENT: &[u8] = b"current";

/// The sled-backed store. Dropping it releases the database.
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    desired: sled::Tree,
    seen: sled::Tree,
    claimed: sled::Tree,
    lost: sled::Tree,
    journal: sled::Tree,
    /// First-seen writes since the last [`Store::sync`]: a pass that noted nothing new costs no
    /// fsync.
    unsynced: AtomicBool,
    // Held for the store's lifetime; declared last so it is released after
    // sled has closed its files.
    _lock: Flock<File>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn sled_err(op: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
    move |source| StoreError::Sled { op, source }
}

fn encode<T: Serialize>(what: &str, v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|source| StoreError::Encode {
        what: what.to_owned(),
        source,
    })
}

fn decode<T: DeserializeOwned>(
    key: impl FnOnce() -> String,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Decode { key: key(), source })
}

impl SledStore {
    /// Opens (creating if needed) the database in directory `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        fs::create_dir_all(path).map_err(io)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.join("lunguard.lock"))
            .map_err(io)?;
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((_, Errno::EWOULDBLOCK)) => {
                return Err(StoreError::Locked {
                    path: path.to_owned(),
                });
            }
            Err((_, e)) => return Err(io(e.into())),
        };
        let db = open_sled(path)?;
        match db.get(b"schema").map_err(sled_err("read schema"))? {
            None => {
                db.insert(b"schema", SCHEMA)
                    .map_err(sled_err("write schema"))?;
            }
            Some(v) if v.as_ref() == SCHEMA.as_bytes() => {}
            Some(v) => {
                return Err(StoreError::Schema {
                    path: path.to_owned(),
                    found: String::from_utf8_lossy(&v).into_owned(),
                    expected: SCHEMA,
                });
            }
        }
        let tree = |name: &'static str| db.open_tree(name).map_err(sled_err("open tree"));
        let store = Self {
            desired: tree("desired")?,
            seen: tree("first_seen")?,
            claimed: tree("claimed")?,
            lost: tree("writeback_lost")?,
            journal: tree("journal")?,
            path: path.to_owned(),
            db,
            unsynced: AtomicBool::new(false),
            _lock: lock,
        };
        store.prune()?;
        Ok(store)
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(drop).map_err(sled_err("flush"))
    }

    fn entry(&self, id: JournalId) -> Result<Option<JournalEntry>, StoreError> {
        let v = self
            .journal
            .get(id.0.to_be_bytes())
            .map_err(sled_err("read journal"))?;
        v.map(|v| decode(|| format!("journal {id}"), &v))
            .transpose()
    }

    fn entries(&self, rev: bool) -> impl Iterator<Item = Result<JournalEntry, StoreError>> + '_ {
        let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = if rev {
            Box::new(self.journal.iter().rev())
        } else {
            Box::new(self.journal.iter())
        };
        iter.map(|kv| {
            let (k, v) = kv.map_err(sled_err("read journal"))?;
            decode(|| format!("journal key {k:?}"), &v)
        })
    }

    /// Drops the oldest finished entries beyond `HISTORY_LIMIT`.
    fn prune(&self) -> Result<(), StoreError> {
        let mut finished = Vec::new();
        for e in self.entries(false) {
            let e = e?;
            if e.outcome.is_some() {
                finished.push(e.id);
            }
        }
        let excess = finished.len().saturating_sub(HISTORY_LIMIT);
        for id in &finished[..excess] {
            self.journal
                .remove(id.0.to_be_bytes())
                .map_err(sled_err("prune journal"))?;
        }
        Ok(())
    }
}

impl Store for SledStore {
    fn desired(&self) -> Result<Option<DesiredState>, StoreError> {
        let v = self
            .desired
            .get(CURRENT)
            .map_err(sled_err("read desired state"))?;
        v.map(|v| decode(|| "desired state".into(), &v)).transpose()
    }

    fn set_desired(&self, state: &DesiredState) -> Result<(), StoreError> {
        self.desired
            .insert(CURRENT, encode("desired state", state)?)
            .map_err(sled_err("write desired state"))?;
        self.flush()
    }

    fn first_seen(&self, key: &str, now: SystemTime) -> Result<SystemTime, StoreError> {
        let new = encode("first-seen time", &now)?;
        match self
            .seen
            .compare_and_swap(key, None as Option<&[u8]>, Some(new))
            .map_err(sled_err("write first-seen"))?
        {
            Ok(()) => {
                self.unsynced.store(true, Ordering::Release);
                Ok(now)
            }
            Err(cas) => match cas.current {
                Some(v) => decode(|| format!("first-seen {key}"), &v),
                None => Ok(now),
            },
        }
    }

    fn sync(&self) -> Result<(), StoreError> {
        if self.unsynced.swap(false, Ordering::AcqRel)
            && let Err(e) = self.flush()
        {
            // Still unsynced: the next pass tries again.
            self.unsynced.store(true, Ordering::Release);
            return Err(e);
        }
        Ok(())
    }

    fn forget_seen(&self, key: &str) -> Result<(), StoreError> {
        let removed = self
            .seen
            .remove(key)
            .map_err(sled_err("forget first-seen"))?;
        if removed.is_some() {
            self.unsynced.store(true, Ordering::Release);
        }
        Ok(())
    }

    fn seen(&self) -> Result<Vec<(String, SystemTime)>, StoreError> {
        self.seen
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(sled_err("read first-seen"))?;
                let key = String::from_utf8_lossy(&k).into_owned();
                let t = decode(|| format!("first-seen {key}"), &v)?;
                Ok((key, t))
            })
            .collect()
    }

    fn claim_target(&self, target: &Iqn) -> Result<(), StoreError> {
        self.claimed
            .insert(target.as_str(), &[])
            .map_err(sled_err("claim target"))?;
        self.flush()
    }

    fn release_target(&self, target: &Iqn) -> Result<(), StoreError> {
        self.claimed
            .remove(target.as_str())
            .map_err(sled_err("release target"))?;
        self.flush()
    }

    fn mark_writeback_lost(&self, key: &str, error: &str) -> Result<(), StoreError> {
        self.lost
            .insert(key, error.as_bytes())
            .map_err(sled_err("mark writeback lost"))?;
        self.flush()
    }

    fn forget_writeback_lost(&self, key: &str) -> Result<(), StoreError> {
        self.lost
            .remove(key)
            .map_err(sled_err("forget writeback lost"))?;
        self.flush()
    }

    fn writeback_lost(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.lost
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(sled_err("read writeback-loss marks"))?;
                Ok((
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ))
            })
            .collect()
    }

    fn claimed_targets(&self) -> Result<Vec<Iqn>, StoreError> {
        self.claimed
            .iter()
            .keys()
            .map(|k| {
                let k = k.map_err(sled_err("read claimed targets"))?;
                let s = String::from_utf8_lossy(&k).into_owned();
                s.parse::<Iqn>().map_err(|e| StoreError::Decode {
                    key: format!("claimed target {s:?}"),
                    source: serde::de::Error::custom(e),
                })
            })
            .collect()
    }

    fn record_intent(&self, intent: &Intent) -> Result<JournalId, StoreError> {
        // generate_id is monotonic across crashes (it may skip, never repeat).
        let id = JournalId(
            self.db
                .generate_id()
                .map_err(sled_err("generate journal id"))?,
        );
        let entry = JournalEntry {
            id,
            intent: intent.clone(),
            outcome: None,
        };
        self.journal
            .insert(id.0.to_be_bytes(), encode("journal entry", &entry)?)
            .map_err(sled_err("write intent"))?;
        self.flush()?;
        Ok(id)
    }

    fn record_outcome(&self, id: JournalId, outcome: &OutcomeRecord) -> Result<(), StoreError> {
        let mut entry = self.entry(id)?.ok_or(StoreError::NoSuchEntry(id))?;
        entry.outcome = Some(outcome.clone());
        self.journal
            .insert(id.0.to_be_bytes(), encode("journal entry", &entry)?)
            .map_err(sled_err("write outcome"))?;
        self.flush()?;
        // Counting is a full scan; doing it now and then keeps the bound
        // within a few hundred entries of HISTORY_LIMIT at little cost.
        if id.0.is_multiple_of(256) {
            self.prune()?;
        }
        Ok(())
    }

    fn intents_without_outcome(&self) -> Result<Vec<JournalEntry>, StoreError> {
        self.entries(false)
            .filter(|e| !matches!(e, Ok(e) if e.outcome.is_some()))
            .collect()
    }

    fn history(&self, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        self.entries(true).take(limit).collect()
    }
}

#[cfg(test)]
mod tests;

/// How long [`open_sled`] waits for sled's own file lock.
const SLED_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens sled at `path`. Our `flock` is already held, so no other lunguard process has the
/// database; sled's own lock may still be held for a moment by the flusher thread of a store this
/// process just dropped (a restart in tests, `apply --once` passes), so a lock refusal is retried
/// briefly instead of failing the open.
fn open_sled(path: &Path) -> Result<sled::Db, StoreError> {
    let start = std::time::Instant::now();
    loop {
        // No background flusher: every durable write flushes itself and first-seen times are
        // synced once a pass (`Store::sync`); sled's default (every 500 ms) woke an idle daemon
        // 4 times a second and fsynced twice a second with nothing to write.
        match sled::Config::new().path(path).flush_every_ms(None).open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && start.elapsed() < SLED_LOCK_WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(sled_err("open")(e)),
        }
    }
}
