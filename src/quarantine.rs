//! The quarantine list on disk: `<run_dir>/quarantine/hosts/host<H>` and
//! `<run_dir>/quarantine/declared/<H:C:T:L>`, empty files that
//! rules/59-lunguard-quarantine.rules tests (`TEST==`) when the kernel adds a SCSI disk. A disk on
//! a listed host whose address is not declared is marked not ready from its `add` on, so blkid,
//! LVM, multipathd, udisks and systemd leave it alone until lunguard removes it (docs/events.md).
//!
//! Why files, one per entry: a udev rule can only test for a file, and creating or removing one
//! name is atomic. The order keeps every intermediate state safe: declared addresses are added
//! before the hosts they are on, and hosts are removed before their addresses, so no moment
//! lists a host without its declared LUNs (a declared LUN is never quarantined). Only the daemon
//! in enforce mode keeps the list; it removes the directory when it stops or switches to observe
//! mode, and systemd empties `/run/lunguard` when the unit stops, so the rule does nothing
//! while lunguard is not running.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::act::{ActError, Sysfs};
use crate::model::{DevT, Hctl};
use crate::reconcile::QuarantineList;
use crate::snapshot::Snapshot;

/// Subdirectory of the runtime directory (`/run/lunguard`) holding the list.
pub const QUARANTINE_DIR: &str = "quarantine";

/// The udev property the rule sets on a quarantined device (kept in udev's database, which is
/// how a later event of the device and lunguard tell it was quarantined at its `add`).
pub const PROPERTY: &str = "LUNGUARD_QUARANTINE";

/// Keeps `<run_dir>/quarantine` equal to the planner's list, with as few file operations as
/// the difference needs (a host of thousands of paths rewrites nothing in a quiet pass).
#[derive(Debug)]
pub struct Writer {
    dir: PathBuf,
    /// What is on disk, as this writer left it; `None` before the first write (then the
    /// directory is rebuilt from scratch: a previous run's entries may be stale).
    written: Mutex<Option<QuarantineList>>,
}

impl Writer {
    /// A writer for `<run_dir>/quarantine`.
    pub fn new(run_dir: &Path) -> Self {
        Self {
            dir: run_dir.join(QUARANTINE_DIR),
            written: Mutex::new(None),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Brings the directory to `list`. Returns the addresses declared now that were not before
    /// (all of them on the first call): a device already there may have been quarantined at its
    /// `add`, and needs a `change` event to be seen again ([`release`]).
    pub fn sync(&self, list: &QuarantineList) -> io::Result<Vec<Hctl>> {
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = match written.take() {
            Some(old) => old,
            None => {
                remove_dir(&self.dir)?;
                QuarantineList::default()
            }
        };
        let hosts = self.dir.join("hosts");
        let declared = self.dir.join("declared");
        fs::create_dir_all(&hosts)?;
        fs::create_dir_all(&declared)?;
        // Removals of hosts first, additions of hosts last (see the module docs).
        for h in old.hosts.difference(&list.hosts) {
            remove_file(&hosts.join(format!("host{h}")))?;
        }
        let added: Vec<Hctl> = list.declared.difference(&old.declared).copied().collect();
        for a in &added {
            fs::File::create(declared.join(a.to_string()))?;
        }
        for a in old.declared.difference(&list.declared) {
            // Only once its host is no longer listed or the address is no longer declared:
            // the host's removal above came first, and an undeclared address is quarantined
            // by design.
            remove_file(&declared.join(a.to_string()))?;
        }
        for h in list.hosts.difference(&old.hosts) {
            fs::File::create(hosts.join(format!("host{h}")))?;
        }
        *written = Some(list.clone());
        Ok(added)
    }

    /// Removes the list: the rule then quarantines nothing (observe mode, quarantine off, stop).
    pub fn clear(&self) -> io::Result<()> {
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Hosts first, for the same reason as in `sync`.
        remove_dir(&self.dir.join("hosts"))?;
        remove_dir(&self.dir)?;
        *written = None;
        Ok(())
    }
}

fn remove_file(p: &Path) -> io::Result<()> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn remove_dir(p: &Path) -> io::Result<()> {
    match fs::remove_dir_all(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether udev's database entry for `dev` (`<udev_db>/b<major>:<minor>`) says the device was
/// quarantined. An unreadable or missing entry says no.
pub fn is_quarantined(udev_db: &Path, dev: DevT) -> bool {
    fs::read_to_string(udev_db.join(format!("b{}:{}", dev.major, dev.minor)))
        .is_ok_and(|t| t.lines().any(|l| l == format!("E:{PROPERTY}=1")))
}

/// For each newly declared address whose disk (or a partition of it) udev's database says is
/// quarantined, sends a `change` uevent (`Sysfs::send_change`, under its write deadline) so the
/// rule runs again, finds it declared and lets blkid, LVM and multipathd see it. Returns the
/// block devices released.
pub fn release(
    sys: &Sysfs,
    udev_db: &Path,
    snapshot: &Snapshot,
    added: &[Hctl],
) -> Vec<Result<String, ActError>> {
    let added: BTreeSet<&Hctl> = added.iter().collect();
    let mut out = Vec::new();
    for d in snapshot.devices.iter().filter(|d| added.contains(&d.hctl)) {
        let Some(b) = &d.block else { continue };
        let mut names: Vec<(&str, Option<DevT>)> = vec![(&b.name, b.dev)];
        names.extend(b.partitions.iter().map(|p| (p.name.as_str(), p.dev)));
        for (name, dev) in names {
            if dev.is_some_and(|dev| is_quarantined(udev_db, dev)) {
                out.push(sys.send_change(name).map(|()| name.to_owned()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
