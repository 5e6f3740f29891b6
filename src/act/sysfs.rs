//! The sysfs writes: delete one SCSI device, scan one LUN, and wait for
//! devices to disappear — all under the injectable sysfs root.
//!
//! Every write is compare-and-write: right before it, the identity the plan
//! recorded (WWID, dev_t, the host's target) is read again, and a mismatch
//! is an error with nothing written. A small window between the check and
//! the write remains (the kernel offers no atomic "delete if WWID is X");
//! it is microseconds, against the seconds-to-minutes window of a stale plan.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::model::{DevT, Hctl, Iqn, Wwid};
use crate::observe::tree::Tree;
use crate::plan::{MapRef, PathRef};

use super::Outcome;
use super::error::ActError;

/// How often `wait_gone` looks again.
const POLL: Duration = Duration::from_millis(100);

/// sysfs under a root.
#[derive(Debug, Clone)]
pub struct Sysfs {
    root: PathBuf,
    tree: Tree,
    /// Deadline of each write (`bounded::deadline`): a write to `delete` or `scan` can sleep in
    /// the kernel (SCSI error handling, a hung transport) for as long as the device is stuck.
    write_deadline: Duration,
}

/// Default deadline of a sysfs write.
const WRITE_DEADLINE: Duration = Duration::from_secs(60);

impl Sysfs {
    /// sysfs mounted at `root` (normally `/sys`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            tree: Tree::new(&root),
            root,
            write_deadline: WRITE_DEADLINE,
        }
    }

    /// Gives every write `deadline` (the actuator's command timeout).
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.write_deadline = deadline;
        self
    }

    fn host_path(&self, rel: &str) -> Result<PathBuf, std::io::Error> {
        Ok(self.root.join(self.tree.resolve(rel)?))
    }

    fn read_trimmed(&self, rel: &str, what: &str) -> Result<Option<String>, ActError> {
        match self.tree.read_string(rel) {
            Ok(s) => Ok(Some(s.trim().to_owned())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ActError::Read {
                what: what.to_owned(),
                path: self.root.join(rel),
                source,
            }),
        }
    }

    /// Writes `value` to an existing attribute (never creates one).
    fn write_attr(&self, rel: &str, value: &str, what: String) -> Result<(), ActError> {
        let err = |path: PathBuf, source| ActError::Write {
            what: what.clone(),
            path,
            source,
        };
        let path = self
            .host_path(rel)
            .map_err(|e| err(self.root.join(rel), e))?;
        let (p, v, w) = (path.clone(), value.to_owned(), what.clone());
        let err = move |path: PathBuf, source| ActError::Write {
            what: w.clone(),
            path,
            source,
        };
        crate::bounded::deadline::run(
            &path.to_string_lossy(),
            &format!("{what} via {}", path.display()),
            self.write_deadline,
            move || {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .map_err(|e| err(p.clone(), e))?;
                f.write_all(v.as_bytes()).map_err(|e| err(p, e))
            },
        )
    }

    /// Whether `class/scsi_device/<hctl>` exists.
    pub fn device_exists(&self, hctl: Hctl) -> bool {
        self.tree.exists(format!("class/scsi_device/{hctl}"))
    }

    /// The current WWID at `hctl`: `device/wwid`, else derived from `vpd_pg83`.
    fn current_wwid(&self, dev: &str) -> Option<Wwid> {
        if let Ok(s) = self.tree.read_string(format!("{dev}/wwid"))
            && let Ok(w) = s.parse()
        {
            return Some(w);
        }
        let page = self.tree.read_bytes(format!("{dev}/vpd_pg83")).ok()?;
        Wwid::from_vpd_pg83(&page)
    }

    /// `echo 1 > class/scsi_device/H:C:T:L/device/delete`, after re-verifying
    /// WWID, state and dev_t. Already gone is `AlreadyConverged`.
    pub fn delete_path(&self, p: &PathRef) -> Result<Outcome, ActError> {
        self.delete_path_guarded(p, || Ok(()))
    }

    /// [`Sysfs::delete_path`], calling `guard` after every identity check and right before the
    /// write, and holding what it returns across the write (the real actuator's exclusive claim
    /// of the disk). A guard that fails stops the delete with nothing written.
    pub fn delete_path_guarded<G>(
        &self,
        p: &PathRef,
        guard: impl FnOnce() -> Result<G, ActError>,
    ) -> Result<Outcome, ActError> {
        let dev = format!("class/scsi_device/{}/device", p.hctl);
        let what = format!("delete SCSI device {}", p.hctl);
        if !self.tree.exists(&dev) {
            return Ok(Outcome::AlreadyConverged);
        }
        let changed = |field, expected: String, found: String| ActError::Changed {
            what: what.clone(),
            field,
            expected,
            found,
        };
        let wwid = self.current_wwid(&dev);
        if wwid.as_ref() != Some(&p.wwid) {
            let found = wwid.map_or("unreadable".into(), |w| w.to_string());
            return Err(changed("WWID", p.wwid.to_string(), found));
        }
        if self
            .read_trimmed(&format!("{dev}/state"), &what)?
            .as_deref()
            == Some("blocked")
        {
            return Err(ActError::Blocked(p.hctl));
        }
        if let Some(name) = &p.block {
            let found = self.read_trimmed(&format!("{dev}/block/{name}/dev"), &what)?;
            let found_dev = found.as_deref().and_then(|s| s.parse::<DevT>().ok());
            if found_dev != p.dev {
                let show = |d: Option<DevT>| d.map_or("none".into(), |d| d.to_string());
                return Err(changed(
                    "dev_t",
                    format!("{name} {}", show(p.dev)),
                    format!("{name} {}", show(found_dev)),
                ));
            }
        }
        // A holder that appeared since the plan (multipathd building a map over a path we saw
        // bare, an LV activated on it) means the path is in use now: deleting it would pull a
        // live device's leg. The plan flushes its own map first, so none is expected here.
        if let Some(name) = &p.block {
            let holders = self
                .tree
                .list(format!("class/block/{name}/holders"))
                .unwrap_or_default();
            if !holders.is_empty() {
                return Err(changed("holders", "none".into(), holders.join(",")));
            }
        }
        let _held = guard()?;
        match self.write_attr(&format!("{dev}/delete"), "1", what) {
            // Removed between the check and the write: the goal is reached.
            Err(ActError::Write { source, .. }) if source.kind() == ErrorKind::NotFound => {
                Ok(Outcome::AlreadyConverged)
            }
            Err(e) => Err(e),
            Ok(()) => Ok(Outcome::Changed),
        }
    }

    /// `echo 1 > class/scsi_device/H:C:T:L/device/rescan`: the kernel re-reads INQUIRY and the
    /// VPD pages (the WWID among them). A device that is gone has nothing to rescan.
    pub fn rescan_device(&self, hctl: Hctl) -> Result<Outcome, ActError> {
        let dev = format!("class/scsi_device/{hctl}/device");
        if !self.tree.exists(&dev) {
            return Ok(Outcome::AlreadyConverged);
        }
        match self.write_attr(
            &format!("{dev}/rescan"),
            "1",
            format!("rescan SCSI device {hctl}"),
        ) {
            Err(ActError::Write { source, .. }) if source.kind() == ErrorKind::NotFound => {
                Ok(Outcome::AlreadyConverged)
            }
            Err(e) => Err(e),
            Ok(()) => Ok(Outcome::Changed),
        }
    }

    /// `echo change > class/block/<name>/uevent`: the kernel replays the device's uevent, so
    /// udev runs its rules again (how a device quarantined at its `add` is let through once
    /// declared: `crate::quarantine::release`).
    pub fn send_change(&self, name: &str) -> Result<(), ActError> {
        self.write_attr(
            &format!("class/block/{name}/uevent"),
            "change",
            format!("send a change uevent for {name}"),
        )
    }

    /// The targets of the iSCSI sessions under SCSI host `host`.
    fn host_targets(&self, host: u32) -> Vec<String> {
        let Ok(sh) = self.tree.resolve(format!("class/scsi_host/host{host}")) else {
            return Vec::new();
        };
        // class/scsi_host/hostH -> devices/…/hostH/scsi_host/hostH
        let Some(dir) = sh.parent().and_then(Path::parent) else {
            return Vec::new();
        };
        let names = self.tree.list(dir).unwrap_or_default();
        names
            .iter()
            .filter(|n| n.starts_with("session"))
            .filter_map(|n| {
                let rel = dir.join(n).join("iscsi_session").join(n).join("targetname");
                self.tree.read_string(rel).ok().map(|s| s.trim().to_owned())
            })
            .collect()
    }

    /// `echo "C T L" > class/scsi_host/hostH/scan` — exactly one LUN — after
    /// checking that `hostH` still belongs to a session of `target` (host
    /// numbers are reused after a logout). Already present is `AlreadyConverged`.
    pub fn scan_lun(&self, target: &Iqn, hctl: Hctl) -> Result<Outcome, ActError> {
        let what = format!("scan LUN {} of {target} on host{}", hctl.lun, hctl.host);
        if self.device_exists(hctl) {
            return Ok(Outcome::AlreadyConverged);
        }
        let targets = self.host_targets(hctl.host);
        if !targets.iter().any(|t| t == target.as_str()) {
            return Err(ActError::Changed {
                what,
                field: "host's target",
                expected: target.to_string(),
                found: if targets.is_empty() {
                    "no iSCSI session".into()
                } else {
                    targets.join(", ")
                },
            });
        }
        let value = format!("{} {} {}", hctl.channel, hctl.target, hctl.lun);
        self.write_attr(
            &format!("class/scsi_host/host{}/scan", hctl.host),
            &value,
            what,
        )?;
        Ok(Outcome::Changed)
    }

    /// Whether a map is still `map` (name and uuid): `None` if `dm-N` is gone.
    pub fn map_matches(&self, map: &MapRef) -> Result<Option<bool>, ActError> {
        let base = format!("block/{}", map.kernel_name);
        if !self.tree.exists(&base) {
            return Ok(None);
        }
        let what = format!("map {}", map.name);
        let name = self.read_trimmed(&format!("{base}/dm/name"), &what)?;
        let uuid = self.read_trimmed(&format!("{base}/dm/uuid"), &what)?;
        let uuid = uuid.filter(|u| !u.is_empty());
        Ok(Some(
            name.as_deref() == Some(map.name.as_str()) && uuid == map.uuid,
        ))
    }

    /// Polls until the paths and the map are gone from sysfs, or `timeout`.
    pub fn wait_gone(
        &self,
        paths: &[Hctl],
        map: Option<&str>,
        timeout: Duration,
    ) -> Result<Outcome, ActError> {
        let start = Instant::now();
        let present = || -> Vec<String> {
            let mut v: Vec<String> = paths
                .iter()
                .filter(|h| self.device_exists(**h))
                .map(ToString::to_string)
                .collect();
            if let Some(m) = map
                && self.tree.exists(format!("block/{m}"))
            {
                v.push(m.to_owned());
            }
            v
        };
        poll_gone(present, start, timeout, POLL)
    }
}

/// Polls `present` (what is still there) every `poll` until it is empty or `timeout` since
/// `start` has passed: `AlreadyConverged` if nothing was there at first, `Changed` once all is
/// gone, else `NotGone` naming what is left. Shared by the real and the simulated actuator.
pub(crate) fn poll_gone(
    present: impl Fn() -> Vec<String>,
    start: Instant,
    timeout: Duration,
    poll: Duration,
) -> Result<Outcome, ActError> {
    let mut left = present();
    if left.is_empty() {
        return Ok(Outcome::AlreadyConverged);
    }
    while start.elapsed() < timeout {
        std::thread::sleep(poll.min(timeout));
        left = present();
        if left.is_empty() {
            return Ok(Outcome::Changed);
        }
    }
    Err(ActError::NotGone {
        what: left.join(", "),
        waited: start.elapsed(),
    })
}

impl Sysfs {
    /// Whether block device `block` is a slave of `dm-N` (`block/dm-N/slaves/<block>`).
    pub fn is_slave(&self, kernel_name: &str, block: &str) -> bool {
        self.tree
            .exists(format!("block/{kernel_name}/slaves/{block}"))
    }

    /// Whether block device `name` is held by a multipath map (`mpath-` uuid).
    pub fn has_multipath_holder(&self, name: &str) -> bool {
        let holders = self
            .tree
            .list(format!("class/block/{name}/holders"))
            .unwrap_or_default();
        holders.iter().any(|h| {
            self.tree
                .read_string(format!("block/{h}/dm/uuid"))
                .is_ok_and(|u| u.starts_with("mpath-"))
        })
    }
}
