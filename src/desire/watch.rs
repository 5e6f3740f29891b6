//! Watching the state directory: inotify events → debounced [`Trigger`]s
//! to reload the desired state.
//!
//! A trigger says only "read the directory again"; the reload itself
//! (`desire::load_desired` + `apply_load`) decides from the files, so a
//! missed or extra trigger is harmless — but a reload *during* an editor's
//! save is not (a half-written file can parse as fewer attachments), hence
//! the quiet period and the wait for writers (`watch/decide.rs` and
//! docs/events.md have the table of editor patterns). Open the watch before
//! the initial load, so a change between the two is not lost.

mod decide;

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use inotify::{Inotify, WatchDescriptor, WatchMask};
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

pub use decide::CONFIGMAP_DATA;
use decide::{Effect, Origin, decide};

/// Timing of the watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    /// Quiet period after the last relevant event before a reload.
    pub debounce: Duration,
    /// Longest a burst postpones the reload, from its first event.
    pub debounce_cap: Duration,
    /// Longest the reload waits for a state file being written to be closed.
    pub write_grace: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(100),
            debounce_cap: Duration::from_secs(1),
            write_grace: Duration::from_secs(5),
        }
    }
}

/// Why a reload is due; ordered by weight (the strongest of a burst wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// State files (or the ConfigMap generation, or permissions) changed.
    Changed,
    /// The directory itself was deleted, moved or (re)created.
    DirectoryReplaced,
    /// inotify's queue overflowed: changes may have been missed.
    Overflow,
}

/// "Reload the state directory now."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// Why.
    pub cause: Cause,
    /// The state files (and `..data`) the burst touched, for the log.
    pub files: BTreeSet<OsString>,
    /// Files still open for writing when `write_grace` ran out (normally
    /// empty); the reload may see them half-written.
    pub unfinished: BTreeSet<OsString>,
}

/// Why the watch cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// `inotify_init1` failed (out of instances: `fs.inotify.max_user_instances`).
    #[error("cannot create an inotify instance: {0} (raise fs.inotify.max_user_instances?)")]
    Init(#[source] std::io::Error),
    /// A directory cannot be watched.
    #[error("cannot watch {}: {source} (does it exist and is it a directory?)", path.display())]
    Watch {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading events failed.
    #[error("reading inotify events failed: {0}")]
    Read(#[source] std::io::Error),
}

#[derive(Debug)]
struct Pending {
    first: Instant,
    last: Instant,
    cause: Cause,
    files: BTreeSet<OsString>,
    writers: BTreeSet<OsString>,
}

impl Pending {
    fn deadline(&self, c: &WatchConfig) -> Instant {
        if self.writers.is_empty() {
            (self.last + c.debounce).min(self.first + c.debounce_cap)
        } else {
            self.first + c.write_grace
        }
    }
}

#[derive(Debug)]
struct RawEvent {
    wd: WatchDescriptor,
    mask: inotify::EventMask,
    name: Option<OsString>,
}

const DIR_MASK: WatchMask = WatchMask::CLOSE_WRITE
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::CREATE)
    .union(WatchMask::DELETE)
    .union(WatchMask::ATTRIB)
    .union(WatchMask::MODIFY)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF)
    .union(WatchMask::ONLYDIR);

const PARENT_MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::ONLYDIR);

/// The watch on one state directory (and its parent, to notice the
/// directory being replaced).
#[derive(Debug)]
pub struct StateDirWatch {
    dir: PathBuf,
    dir_name: OsString,
    fd: AsyncFd<Inotify>,
    dir_wd: Option<WatchDescriptor>,
    parent_wd: WatchDescriptor,
    config: WatchConfig,
    buf: Vec<u8>,
    pending: Option<Pending>,
}

impl StateDirWatch {
    /// Starts watching `dir`; its parent must exist, `dir` itself need not
    /// yet (its creation triggers). Call inside a tokio runtime.
    pub fn open(dir: &Path, config: WatchConfig) -> Result<Self, WatchError> {
        let dir_name = dir
            .file_name()
            .map_or_else(|| OsString::from("."), OsStr::to_os_string);
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut inotify = Inotify::init().map_err(WatchError::Init)?;
        let parent_wd = inotify
            .watches()
            .add(&parent, PARENT_MASK)
            .map_err(|source| WatchError::Watch {
                path: parent.clone(),
                source,
            })?;
        let dir_wd = add_dir_watch(&mut inotify, dir);
        // Sound with a plain owned `Inotify` (its fd never changes); see
        // observe::monitor's socket for why not `unsafe register`.
        #[allow(deprecated)]
        let fd = AsyncFd::new(inotify).map_err(WatchError::Init)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            dir_name,
            fd,
            dir_wd,
            parent_wd,
            config,
            buf: vec![0; 64 << 10],
            pending: None,
        })
    }

    /// The directory watched.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Waits for the next reload trigger. Cancel-safe: events already read
    /// stay pending in `self`.
    pub async fn next(&mut self) -> Result<Trigger, WatchError> {
        loop {
            let deadline = self.pending.as_ref().map(|p| p.deadline(&self.config));
            tokio::select! {
                events = read_batch(&mut self.fd, &mut self.buf) => {
                    for e in events? {
                        self.apply(e);
                    }
                }
                () = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    if let Some(t) = self.fire() {
                        return Ok(t);
                    }
                }
            }
        }
    }

    fn fire(&mut self) -> Option<Trigger> {
        let p = self.pending.take()?;
        if !p.writers.is_empty() {
            tracing::warn!(
                dir = %self.dir.display(),
                files = ?p.writers,
                "state files still open for writing after the grace period; reloading anyway"
            );
        }
        tracing::info!(dir = %self.dir.display(), cause = ?p.cause, files = ?p.files, "state directory changed");
        Some(Trigger {
            cause: p.cause,
            files: p.files,
            unfinished: p.writers,
        })
    }

    fn apply(&mut self, e: RawEvent) {
        let origin = if Some(&e.wd) == self.dir_wd.as_ref() {
            Origin::Dir
        } else if e.wd == self.parent_wd {
            Origin::Parent
        } else if e.mask.contains(inotify::EventMask::Q_OVERFLOW) {
            Origin::Dir
        } else {
            return; // a watch we already replaced
        };
        let effect = decide(origin, e.mask, e.name.as_deref(), &self.dir_name);
        tracing::debug!(mask = ?e.mask, name = ?e.name, ?effect, "state directory event");
        match effect {
            Effect::Ignore => {}
            Effect::Changed(name) => self.note(Cause::Changed, name),
            Effect::Created(name) => {
                // Symlinks (ConfigMap keys, `ln -s`) are complete when
                // created; regular files are complete when closed.
                let regular = fs::symlink_metadata(self.dir.join(&name))
                    .is_ok_and(|m| m.file_type().is_file());
                self.note(Cause::Changed, Some(name.clone()));
                if regular && let Some(p) = &mut self.pending {
                    p.writers.insert(name);
                }
            }
            Effect::Writing(name) => {
                self.note(Cause::Changed, Some(name.clone()));
                if let Some(p) = &mut self.pending {
                    p.writers.insert(name);
                }
            }
            Effect::Finished(name) => {
                self.note(Cause::Changed, Some(name.clone()));
                if let Some(p) = &mut self.pending {
                    p.writers.remove(&name);
                }
            }
            Effect::Rewatch => {
                self.rewatch();
                self.note(Cause::DirectoryReplaced, None);
            }
            Effect::Overflow => self.note(Cause::Overflow, None),
        }
    }

    fn note(&mut self, cause: Cause, name: Option<OsString>) {
        let now = Instant::now();
        let p = self.pending.get_or_insert_with(|| Pending {
            first: now,
            last: now,
            cause,
            files: BTreeSet::new(),
            writers: BTreeSet::new(),
        });
        p.last = now;
        p.cause = p.cause.max(cause);
        p.files.extend(name);
    }

    fn rewatch(&mut self) {
        let inotify = self.fd.get_mut();
        if let Some(old) = self.dir_wd.take() {
            // Fails harmlessly if the kernel already dropped it (IGNORED).
            let _ = inotify.watches().remove(old);
        }
        self.dir_wd = add_dir_watch(inotify, &self.dir);
    }
}

fn add_dir_watch(inotify: &mut Inotify, dir: &Path) -> Option<WatchDescriptor> {
    match inotify.watches().add(dir, DIR_MASK) {
        Ok(wd) => Some(wd),
        Err(e) => {
            tracing::warn!(
                dir = %dir.display(),
                error = %e,
                "cannot watch the state directory; waiting for it to appear"
            );
            None
        }
    }
}

async fn read_batch(
    fd: &mut AsyncFd<Inotify>,
    buf: &mut [u8],
) -> Result<Vec<RawEvent>, WatchError> {
    loop {
        let mut guard = fd.readable_mut().await.map_err(WatchError::Read)?;
        let read = guard.try_io(|inner| {
            inner.get_mut().read_events(buf).map(|events| {
                events
                    .map(|e| RawEvent {
                        wd: e.wd,
                        mask: e.mask,
                        name: e.name.map(OsStr::to_os_string),
                    })
                    .collect::<Vec<_>>()
            })
        });
        match read {
            Ok(Ok(events)) => return Ok(events),
            Ok(Err(e)) => return Err(WatchError::Read(e)),
            Err(_would_block) => {}
        }
    }
}
