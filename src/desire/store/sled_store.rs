//! `SledStore`: the `Store` in a sled database (one directory).
//!
//! Trees: `desired` (one JSON value under `current`), `first_seen` (key →
//! JSON time), `claimed` (target IQN → empty), `wwids` (multipath-form WWID lunguard added to
//! multipathd's wwids file → empty), `journal` (big-endian id →
//! JSON entry, so iteration is in id order). Durable writes are followed by
//! `flush()` (fsync) before returning.
//!
//! sled is single-process. Its own lock error is an opaque string, so an
//! exclusive `flock` on `lunguard.lock` in the directory is taken first: it
//! gives the clear "the daemon holds it" error, and is released by the kernel
//! when the process dies, even by SIGKILL.
//!
//! Damage is detected at open, never acted on: sled's own errors, a seal that is ahead of the
//! database (`seal`: sled silently drops a damaged log's tail), and any stored value that does
//! not decode are [`StoreError::Corrupt`], whose message names the directory and the operator's
//! options.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{HISTORY_LIMIT, Intent, JournalEntry, JournalId, OutcomeRecord, Store, StoreError};
use crate::desire::DesiredState;
use crate::model::Iqn;

mod seal;

const SCHEMA: &str = "lunguard-1";
const CURRENT: &[u8] = b"current";
/// Key (default tree) of the durable-write counter the seal is compared with.
const GENERATION: &[u8] = b"generation";

/// The sled-backed store. Dropping it releases the database.
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    desired: sled::Tree,
    seen: sled::Tree,
    claimed: sled::Tree,
    wwids: sled::Tree,
    lost: sled::Tree,
    journal: sled::Tree,
    /// First-seen writes since the last [`Store::sync`]: a pass that noted nothing new costs no
    /// fsync.
    unsynced: AtomicBool,
    /// The seal and the generation it was last written with; the lock also orders concurrent
    /// flushes so that the seal only ever grows.
    seal: Mutex<(seal::Seal, u64)>,
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
    /// Opens (creating if needed) the database in directory `path`. A full filesystem at any
    /// point of the open is [`StoreError::NoSpace`]; damage is [`StoreError::Corrupt`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_unmapped(path).map_err(|e| match e.no_space() {
            Some(source) if !matches!(e, StoreError::NoSpace { .. }) => StoreError::NoSpace {
                path: path.to_owned(),
                source,
            },
            _ => e,
        })
    }

    fn open_unmapped(path: &Path) -> Result<Self, StoreError> {
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
        let corrupt = |detail: String| StoreError::Corrupt {
            path: path.to_owned(),
            detail,
        };
        let sealed = match seal::read(path).map_err(io)? {
            seal::Found::Absent => None,
            seal::Found::Generation(g) => Some(g),
            seal::Found::Garbage(text) => {
                return Err(corrupt(format!(
                    "its seal {} is unreadable ({text:?})",
                    seal::FILE
                )));
            }
        };
        let db = open_sled(path)?;
        let generation = match db.get(GENERATION).map_err(sled_err("read generation"))? {
            None => 0,
            Some(v) => <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| corrupt(format!("its generation is {} bytes long", v.len())))?,
        };
        match db.get(b"schema").map_err(sled_err("read schema"))? {
            None if sealed.is_some() => {
                return Err(corrupt(format!(
                    "it is empty but its seal says {} durable writes were made: sled's files were lost or damaged",
                    sealed.unwrap_or_default()
                )));
            }
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
        if let Some(sealed) = sealed
            && generation < sealed
        {
            return Err(corrupt(format!(
                "it holds write generation {generation} but its seal says {sealed} was on disk: writes were lost (a truncated or damaged file)"
            )));
        }
        let tree = |name: &'static str| db.open_tree(name).map_err(sled_err("open tree"));
        let seal = seal::Seal::open(path).map_err(io)?;
        let store = Self {
            desired: tree("desired")?,
            seen: tree("first_seen")?,
            claimed: tree("claimed")?,
            wwids: tree("wwids")?,
            lost: tree("writeback_lost")?,
            journal: tree("journal")?,
            path: path.to_owned(),
            db,
            unsynced: AtomicBool::new(false),
            seal: Mutex::new((seal, generation)),
            _lock: lock,
        };
        store.verify().map_err(|e| match e {
            e @ StoreError::Corrupt { .. } => e,
            e => corrupt(e.to_string()),
        })?;
        // Seals a new database (and one from before seals) at once; on a full filesystem this
        // is where a start fails (if sled's own open did not), before anything could act.
        store.flush()?;
        store.prune()?;
        Ok(store)
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes every write so far durable: bump the generation, let sled fsync, then the seal.
    fn flush(&self) -> Result<(), StoreError> {
        let mut seal = self
            .seal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = seal.1 + 1;
        self.db
            .insert(GENERATION, &next.to_be_bytes())
            .map_err(sled_err("write generation"))?;
        self.db.flush().map_err(sled_err("flush"))?;
        seal.1 = next;
        seal.0.write(next).map_err(|source| StoreError::Io {
            path: seal::path(&self.path),
            source,
        })
    }

    /// Reads and decodes every stored value: sled checks each record it reads, and a value
    /// that does not decode is damage too. The database is small (the journal is pruned to
    /// `HISTORY_LIMIT` finished entries), so this costs little at start.
    fn verify(&self) -> Result<(), StoreError> {
        self.desired()?;
        self.seen()?;
        self.claimed_targets()?;
        self.owned_wwids()?;
        self.writeback_lost()?;
        for e in self.entries(false) {
            e?;
        }
        Ok(())
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

    fn own_wwid(&self, id: &str) -> Result<(), StoreError> {
        self.wwids
            .insert(id, &[])
            .map_err(sled_err("remember a wwids-file entry"))?;
        self.flush()
    }

    fn disown_wwid(&self, id: &str) -> Result<(), StoreError> {
        self.wwids
            .remove(id)
            .map_err(sled_err("forget a wwids-file entry"))?;
        self.flush()
    }

    fn owned_wwids(&self) -> Result<Vec<String>, StoreError> {
        self.wwids
            .iter()
            .keys()
            .map(|k| {
                let k = k.map_err(sled_err("read wwids-file entries"))?;
                String::from_utf8(k.to_vec()).map_err(|e| StoreError::Decode {
                    key: "wwids-file entry".into(),
                    source: serde::de::Error::custom(e),
                })
            })
            .collect()
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
            // What sled itself recognizes as damage (a checksum, an unreadable config) is damage.
            Err(
                e @ (sled::Error::Corruption { .. }
                | sled::Error::Unsupported(_)
                | sled::Error::ReportableBug(_)),
            ) => {
                return Err(StoreError::Corrupt {
                    path: path.to_owned(),
                    detail: format!("sled cannot open it: {e}"),
                });
            }
            Err(e) => return Err(sled_err("open")(e)),
        }
    }
}
