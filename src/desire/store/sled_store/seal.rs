//! The seal: a file beside sled's (`lunguard.seal`) holding the generation of the last write
//! sled confirmed durable. sled recovers a damaged or truncated log by silently dropping
//! everything after the first bad record (measured: half the file truncated → half the journal
//! gone and `open` succeeds), which would forget, among others, which disks lost their writeback
//! and must be kept. Every durable write bumps a `generation` key *before* sled's flush and the
//! seal is rewritten *after* it, so on disk the database's generation is never below the seal's
//! — whatever instant a SIGKILL or power cut hits. A database below its seal has lost writes
//! that were on disk: it is damaged, and `open` says so instead of acting on a partial memory.
//!
//! The seal is one fixed-width line rewritten in place (21 bytes at offset 0, within one
//! sector) and fdatasync'ed: no rename, no directory sync, one fsync per durable write.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// File name of the seal in the database directory.
pub const FILE: &str = "lunguard.seal";

/// The open seal file.
#[derive(Debug)]
pub struct Seal {
    file: File,
}

/// What the seal file says at open.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// No seal file: a new database, or one from a lunguard before seals.
    Absent,
    /// The generation it records.
    Generation(u64),
    /// Unparsable contents (the text, lossily).
    Garbage(String),
}

/// The seal's path in `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Reads the seal in `dir` without creating it.
pub fn read(dir: &Path) -> io::Result<Found> {
    match std::fs::read(path(dir)) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            Ok(match text.trim().parse::<u64>() {
                Ok(g) if text.ends_with('\n') => Found::Generation(g),
                _ => Found::Garbage(text.chars().take(64).collect()),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Found::Absent),
        Err(e) => Err(e),
    }
}

impl Seal {
    /// Opens (creating) the seal in `dir`.
    pub fn open(dir: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path(dir))?;
        Ok(Self { file })
    }

    /// Records `generation` durably.
    pub fn write(&self, generation: u64) -> io::Result<()> {
        self.file
            .write_all_at(format!("{generation:020}\n").as_bytes(), 0)?;
        self.file.sync_data()
    }
}
