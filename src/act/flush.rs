//! Write back and drop a block device's buffers before it is removed: `fsync`, then BLKFLSBUF.
//! The only `unsafe` in lunguard: one ioctl with no arguments.
//!
//! BLKFLSBUF returns 0 even when writeback failed: the error is recorded on the device's page
//! cache (an `errseq_t`) and only `fsync` reports it. An `fsync` on a freshly opened descriptor
//! reports a writeback error that no one has seen yet (the writer's `close` did not look), and
//! it also writes out what is still dirty. So `fsync` goes first, and an error from it is
//! [`ActError::Writeback`]: the device is kept. Both calls can sleep in the kernel for as long
//! as a map queues I/O; the caller runs them with a deadline (`bounded::deadline`).
#![allow(unsafe_code)]

use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::model::DevT;

use super::Outcome;
use super::error::ActError;

// BLKFLSBUF = _IO(0x12, 97) in <linux/fs.h>.
nix::ioctl_none!(blkflsbuf, 0x12, 97);

/// Flushes `<dev_root>/<name>` after checking that it is the block device
/// `dev` (a reused name must not be flushed, though flushing is harmless,
/// because the check is also what tells "gone" from "replaced").
pub fn flush_buffers(dev_root: &Path, name: &str, dev: DevT) -> Result<Outcome, ActError> {
    let path = dev_root.join(name);
    let err = |source| ActError::FlushBuffers {
        path: path.clone(),
        source,
    };
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Outcome::AlreadyConverged),
        Err(e) => return Err(err(e)),
    };
    let meta = file.metadata().map_err(err)?;
    let found = DevT::new(
        nix::sys::stat::major(meta.rdev()) as u32,
        nix::sys::stat::minor(meta.rdev()) as u32,
    );
    if !meta.file_type().is_block_device() || found != dev {
        return Err(ActError::Changed {
            what: format!("flush buffers of {}", path.display()),
            field: "dev_t",
            expected: dev.to_string(),
            found: if meta.file_type().is_block_device() {
                found.to_string()
            } else {
                "not a block device".into()
            },
        });
    }
    flush_file(&file, &path, &Kernel)
}

/// The two kernel calls of a flush: a seam, since no test can make a real device fail writeback.
pub(crate) trait FlushOps {
    /// `fsync(2)`.
    fn fsync(&self, file: &File) -> std::io::Result<()>;
    /// `ioctl(BLKFLSBUF)`.
    fn blkflsbuf(&self, file: &File) -> std::io::Result<()>;
}

/// The real calls.
struct Kernel;

impl FlushOps for Kernel {
    fn fsync(&self, file: &File) -> std::io::Result<()> {
        file.sync_all()
    }

    fn blkflsbuf(&self, file: &File) -> std::io::Result<()> {
        // SAFETY: BLKFLSBUF takes no argument and only reads the fd, which is
        // open and owned by `file` for the duration of the call; the kernel
        // checks the fd refers to a block device (and the caller checked it).
        unsafe { blkflsbuf(file.as_raw_fd()) }
            .map(drop)
            .map_err(Into::into)
    }
}

/// `fsync` (writeback errors fail the flush, and BLKFLSBUF is not reached), then BLKFLSBUF.
pub(crate) fn flush_file(
    file: &File,
    path: &Path,
    ops: &dyn FlushOps,
) -> Result<Outcome, ActError> {
    ops.fsync(file).map_err(|source| ActError::Writeback {
        path: path.to_owned(),
        source,
    })?;
    ops.blkflsbuf(file)
        .map_err(|source| ActError::FlushBuffers {
            path: path.to_owned(),
            source,
        })?;
    Ok(Outcome::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_device_is_already_converged() {
        let t = tempfile::tempdir().unwrap();
        let out = flush_buffers(t.path(), "sdz", DevT::new(8, 0)).unwrap();
        assert_eq!(out, Outcome::AlreadyConverged);
    }

    /// Records the calls; `fsync` fails the way the kernel reports a lost write.
    struct LostWrite {
        calls: std::sync::Mutex<Vec<&'static str>>,
    }

    impl FlushOps for LostWrite {
        fn fsync(&self, _: &File) -> std::io::Result<()> {
            self.calls.lock().unwrap().push("fsync");
            Err(std::io::Error::from_raw_os_error(nix::libc::EIO))
        }
        fn blkflsbuf(&self, _: &File) -> std::io::Result<()> {
            self.calls.lock().unwrap().push("blkflsbuf");
            Ok(())
        }
    }

    #[test]
    fn a_writeback_error_fails_the_flush_although_blkflsbuf_would_succeed() {
        // Issue 7: BLKFLSBUF returned 0 after writeback had failed, the flush counted as done,
        // and the device was deleted with its data lost, silently.
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("sdc");
        std::fs::write(&path, "").unwrap();
        let file = File::open(&path).unwrap();
        let ops = LostWrite {
            calls: std::sync::Mutex::new(Vec::new()),
        };
        let err = flush_file(&file, &path, &ops).unwrap_err();
        assert!(matches!(err, ActError::Writeback { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("writeback to"), "{msg}");
        assert!(msg.contains("Input/output error"), "{msg}");
        assert!(msg.contains("keeping it"), "{msg}");
        assert_eq!(
            *ops.calls.lock().unwrap(),
            ["fsync"],
            "fsync first, then stop"
        );
    }

    #[test]
    fn a_clean_flush_fsyncs_then_drops_the_buffers() {
        struct Ok2(std::sync::Mutex<Vec<&'static str>>);
        impl FlushOps for Ok2 {
            fn fsync(&self, _: &File) -> std::io::Result<()> {
                self.0.lock().unwrap().push("fsync");
                Ok(())
            }
            fn blkflsbuf(&self, _: &File) -> std::io::Result<()> {
                self.0.lock().unwrap().push("blkflsbuf");
                Ok(())
            }
        }
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("sdc");
        std::fs::write(&path, "").unwrap();
        let ops = Ok2(std::sync::Mutex::new(Vec::new()));
        let out = flush_file(&File::open(&path).unwrap(), &path, &ops).unwrap();
        assert_eq!(out, Outcome::Changed);
        assert_eq!(*ops.0.lock().unwrap(), ["fsync", "blkflsbuf"]);
    }

    #[test]
    fn a_regular_file_is_never_ioctled() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("sdc"), "").unwrap();
        let err = flush_buffers(t.path(), "sdc", DevT::new(8, 32)).unwrap_err();
        assert!(
            err.to_string().contains("dev_t is now not a block device"),
            "{err}"
        );
    }
}
