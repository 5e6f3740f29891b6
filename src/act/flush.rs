//! BLKFLSBUF: write back and drop a block device's buffers before it is
//! removed. The only `unsafe` in lunguard: one ioctl with no arguments.
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
    // SAFETY: BLKFLSBUF takes no argument and only reads the fd, which is
    // open and owned by `file` for the duration of the call; the kernel
    // checks the fd refers to a block device (and we checked it above).
    unsafe { blkflsbuf(file.as_raw_fd()) }.map_err(|e| err(e.into()))?;
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
