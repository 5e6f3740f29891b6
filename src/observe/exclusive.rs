//! Asking the kernel whether a block device is claimed. An exclusive open (`O_EXCL` on a block
//! device, without `O_CREAT`) fails with `EBUSY` while anything holds the device: a filesystem
//! mounted in *any* mount namespace, swap, device-mapper or md over it, a btrfs member (whose
//! mount shows an anonymous dev_t in mountinfo), another exclusive opener — and, for a whole
//! disk, any of those on one of its partitions. `/proc/self/mountinfo` sees none of the first
//! cases outside lunguard's own namespace; the kernel sees them all.
//!
//! The open is read-only: closing it does not make udev's inotify watch fire a `change` event.
//! The returned [`Claim::Held`] keeps the claim for as long as it lives, so the executor holds it
//! across the `delete` write (nothing can mount or assemble over the disk in between).
//!
//! An open that fails for any other reason (permission, a node that is not the planned device)
//! means the answer is unknown, which callers treat as "maybe in use".

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::model::DevT;

/// A successful probe.
#[derive(Debug)]
pub enum Claim {
    /// The device is ours exclusively until this is dropped.
    Held(File),
    /// There is no node `<dev_root>/<name>`.
    NoNode,
}

/// Why a block device could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// `EBUSY`: mounted, swap, or held by a holder in some namespace.
    #[error(
        "{} is claimed in the kernel (exclusive open: device or resource busy): mounted, swap, or held by a filesystem, dm or md, possibly in another mount namespace",
        path.display()
    )]
    Busy {
        /// The node.
        path: PathBuf,
    },
    /// The node is not the planned block device.
    #[error("{} is not block device {expected} (found {found})", path.display())]
    NotThatDevice {
        /// The node.
        path: PathBuf,
        /// Planned dev_t.
        expected: DevT,
        /// What the node is.
        found: String,
    },
    /// The open failed otherwise (permission, I/O): the answer is unknown.
    #[error("cannot open {} exclusively to ask the kernel whether it is in use: {source}{}", path.display(), device_policy_hint(source))]
    Io {
        /// The node.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
}

/// What to do about `EPERM` on a device node. Root gets it only from a device policy: under the
/// shipped unit (`DevicePolicy=closed`) systemd resolves `DeviceAllow=block-sd` to the majors
/// registered when the service starts, so a disk driver loaded later (sd_mod at the first iSCSI
/// login on a host without SCSI disks at boot) stays forbidden until a restart. Seen in the
/// systemd VM scenario; the package loads sd_mod and dm_mod at boot to prevent it.
pub fn device_policy_hint(e: &std::io::Error) -> &'static str {
    if e.raw_os_error() == Some(nix::libc::EPERM) {
        " (a device policy forbids it: sd_mod or dm_mod was loaded after lunguard started; \
         restart lunguard, and load them at boot: /usr/lib/modules-load.d/lunguard.conf)"
    } else {
        ""
    }
}

impl ClaimError {
    /// Whether the kernel said the device is in use (as opposed to "could not ask").
    pub fn is_busy(&self) -> bool {
        matches!(self, Self::Busy { .. })
    }
}

/// Claims `<dev_root>/<name>` exclusively after checking it is block device `dev`.
pub fn claim(dev_root: &Path, name: &str, dev: DevT) -> Result<Claim, ClaimError> {
    let path = dev_root.join(name);
    let file = match OpenOptions::new()
        .read(true)
        // O_NONBLOCK: no wait for media on open; O_EXCL on a block device is the claim.
        .custom_flags(libc_flags())
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Claim::NoNode),
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EBUSY as i32) => {
            return Err(ClaimError::Busy { path });
        }
        Err(source) => return Err(ClaimError::Io { path, source }),
    };
    let meta = file.metadata().map_err(|source| ClaimError::Io {
        path: path.clone(),
        source,
    })?;
    let found = DevT::new(
        nix::sys::stat::major(meta.rdev()) as u32,
        nix::sys::stat::minor(meta.rdev()) as u32,
    );
    if !meta.file_type().is_block_device() || found != dev {
        return Err(ClaimError::NotThatDevice {
            path,
            expected: dev,
            found: if meta.file_type().is_block_device() {
                found.to_string()
            } else {
                "not a block device".into()
            },
        });
    }
    Ok(Claim::Held(file))
}

fn libc_flags() -> i32 {
    use nix::fcntl::OFlag;
    (OFlag::O_EXCL | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eperm_names_the_device_policy_and_the_fix_other_errors_do_not() {
        let e = ClaimError::Io {
            path: "/dev/sdc".into(),
            source: std::io::Error::from_raw_os_error(nix::libc::EPERM),
        };
        let text = e.to_string();
        assert!(
            text.contains("device policy") && text.contains("restart lunguard"),
            "{text}"
        );
        let e = std::io::Error::from_raw_os_error(nix::libc::EACCES);
        assert_eq!(device_policy_hint(&e), "");
    }

    #[test]
    fn a_missing_node_is_reported_not_guessed() {
        let d = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            claim(d.path(), "sdz", DevT::new(8, 0)),
            Ok(Claim::NoNode)
        ));
    }

    #[test]
    fn a_regular_file_is_never_taken_for_the_disk() {
        // O_EXCL without O_CREAT is ignored on regular files: the open succeeds, so the type
        // check is what keeps a fake or replaced node from passing as "not in use".
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("sdc"), "").expect("write");
        let err = claim(d.path(), "sdc", DevT::new(8, 32)).expect_err("not a block device");
        assert!(!err.is_busy());
        assert!(err.to_string().contains("not a block device"), "{err}");
    }
}
