//! The "about to remove" marker: before lunguard flushes and deletes a
//! device it creates `<run_dir>/removing/<major>:<minor>`, and
//! rules/40-lunguard-removing.rules tags any uevent of that device with
//! `LUNGUARD_REMOVING=1` (plus `SYSTEMD_READY=0`, `UDISKS_IGNORE=1` and,
//! for dm devices, `DM_UDEV_DISABLE_OTHER_RULES_FLAG=1`) so other consumers
//! leave it alone while it goes away. A file, not a udev property written
//! with `udevadm`, because udev rules can test for a file (`TEST==`) at no
//! cost and it works without udevadm in the daemon's sandbox.
//!
//! The rules are optional: without them the markers are just files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::model::DevT;

/// Subdirectory of the runtime directory (`/run/lunguard`) holding markers.
pub const REMOVING_DIR: &str = "removing";

/// The marker path for device `dev`: `<run_dir>/removing/<major>:<minor>`,
/// the same pattern the udev rule tests (`%M:%m`).
pub fn removing_marker(run_dir: &Path, dev: DevT) -> PathBuf {
    run_dir
        .join(REMOVING_DIR)
        .join(format!("{}:{}", dev.major, dev.minor))
}

/// A created marker; removes the file when dropped, so a failed removal
/// does not leave the device hidden from other consumers.
#[derive(Debug)]
pub struct Marker {
    path: PathBuf,
}

impl Marker {
    /// Creates the marker for `dev` (and the `removing` directory).
    pub fn create(run_dir: &Path, dev: DevT) -> io::Result<Self> {
        let path = removing_marker(run_dir, dev);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, b"")?;
        Ok(Self { path })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        // Already gone is fine; anything else leaves a stale marker that the
        // next start's cleanup of the runtime directory removes.
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_path_is_major_colon_minor() {
        assert_eq!(
            removing_marker(Path::new("/run/lunguard"), DevT::new(8, 32)),
            PathBuf::from("/run/lunguard/removing/8:32")
        );
    }

    #[test]
    fn marker_is_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let m = Marker::create(dir.path(), DevT::new(253, 2)).unwrap();
        let p = m.path().to_path_buf();
        assert!(p.exists());
        drop(m);
        assert!(!p.exists());
    }
}
