//! `Real`: the actuator that changes the system, through the injectable
//! roots and the command runner.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::{DevT, Iqn, Portal};
use crate::observe::Roots;
use crate::observe::exclusive::{self, Claim, ClaimError};
use crate::observe::tree::Tree;
use crate::plan::{Action, PathRef};

use super::error::ActError;
use super::iscsi::Iscsiadm;
use super::multipath::Multipath;
use super::session;
use super::sysfs::Sysfs;
use super::{Actuator, Outcome, delete_sequentially, flush};
use crate::bounded::cmd::{CmdError, Program, SEARCH_DIRS};
use crate::bounded::deadline;

/// The external programs, resolved once. A missing one only fails the
/// actions that need it (a host without open-iscsi can still remove
/// scsi_debug or FC LUNs).
#[derive(Debug, Clone)]
pub struct Tools {
    /// `iscsiadm`, if installed.
    pub iscsiadm: Option<Program>,
    /// `multipath`, if installed.
    pub multipath: Option<Program>,
    /// `dmsetup`, if installed.
    pub dmsetup: Option<Program>,
    /// `multipathd` (its client mode: `multipathd del path`), if installed.
    pub multipathd: Option<Program>,
    /// Per-command timeout; also the deadline of each blocking kernel call (a flush, a sysfs
    /// write), which runs on a worker thread (`bounded::deadline`).
    pub timeout: Duration,
}

impl Tools {
    /// Looks each program up in `cmd::SEARCH_DIRS`.
    pub fn discover(timeout: Duration) -> Self {
        let find = |n: &str| Program::find(n, SEARCH_DIRS).ok();
        Self {
            iscsiadm: find("iscsiadm"),
            multipath: find("multipath"),
            dmsetup: find("dmsetup"),
            multipathd: find("multipathd"),
            timeout,
        }
    }
}

/// How a disk is claimed exclusively before its delete (a seam: unit tests on fake trees, whose
/// nodes are plain files, substitute an answer; the real kernel's is proven in the VM).
pub(crate) type ClaimFn = fn(&Path, &str, DevT) -> Result<Claim, ClaimError>;

/// The real actuator.
#[derive(Debug, Clone)]
pub struct Real {
    sys: Sysfs,
    /// The same sysfs root, for re-reading iSCSI sessions before a logout.
    sys_tree: Tree,
    dev_root: PathBuf,
    /// multipathd's wwids file (`roots.multipath_wwids`), re-read before `multipath -a` / `-w`.
    wwids_file: PathBuf,
    tools: Tools,
    run_dir: Option<PathBuf>,
    claim: ClaimFn,
}

impl Real {
    /// Acts on the system under `roots` with `tools`.
    pub fn new(roots: &Roots, tools: Tools) -> Self {
        Self {
            sys: Sysfs::new(&roots.sys).with_deadline(tools.timeout),
            sys_tree: Tree::new(&roots.sys),
            dev_root: roots.dev.clone(),
            wwids_file: roots.multipath_wwids.clone(),
            tools,
            run_dir: None,
            claim: exclusive::claim,
        }
    }

    /// Replaces the exclusive claim (tests on fake trees).
    #[cfg(test)]
    pub(crate) fn with_claim(mut self, claim: ClaimFn) -> Self {
        self.claim = claim;
        self
    }

    /// Claims `path`'s disk exclusively (`O_EXCL`), for as long as the returned file lives: the
    /// kernel refuses while anything has it mounted or claimed, in any mount namespace, and
    /// nothing can mount or assemble over it while lunguard holds it. A path without a block
    /// device has nothing to claim.
    fn hold_exclusive(&self, path: &PathRef) -> Result<Option<std::fs::File>, ActError> {
        let (Some(name), Some(dev)) = (&path.block, path.dev) else {
            return Ok(None);
        };
        let what = format!("delete SCSI device {} ({name})", path.hctl);
        // An open can wait while the SCSI host recovers: on a worker with the command deadline.
        let (claim, root, owned) = (self.claim, self.dev_root.clone(), name.clone());
        let node = self.dev_root.join(name);
        let answer = deadline::run(
            &node.to_string_lossy(),
            &format!("claim {} exclusively", node.display()),
            self.tools.timeout,
            move || Ok::<_, ActError>(claim(&root, &owned, dev)),
        )?;
        match answer {
            Ok(Claim::Held(f)) => Ok(Some(f)),
            Ok(Claim::NoNode) => Err(ActError::NotExclusive {
                what,
                source: ClaimError::Io {
                    path: self.dev_root.join(name),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                },
            }),
            Err(ClaimError::NotThatDevice {
                expected, found, ..
            }) => Err(ActError::Changed {
                what,
                field: "dev_t",
                expected: format!("{name} {expected}"),
                found: format!("{name} {found}"),
            }),
            Err(source) => Err(ActError::NotExclusive { what, source }),
        }
    }

    /// The actuator for `config`, the same for the daemon and `apply --once`: its roots, the
    /// tools found on the search path with the longer of the iscsiadm and multipath timeouts,
    /// and removal markers in the runtime directory (the control socket's, `/run/lunguard`),
    /// so the udev rule hides a device from other consumers whichever command removes it.
    pub fn for_config(config: &crate::config::Config) -> Self {
        let timeout = config.timeouts.iscsiadm.max(config.timeouts.multipath);
        Self::new(&config.roots.to_roots(), Tools::discover(timeout)).with_markers(
            config
                .control_socket
                .parent()
                .unwrap_or(std::path::Path::new("/run/lunguard")),
        )
    }

    /// Creates removal markers under `run_dir` (`/run/lunguard` for the daemon) around each
    /// removal, for the udev rule in rules/40-lunguard-removing.rules.
    pub fn with_markers(mut self, run_dir: impl Into<PathBuf>) -> Self {
        self.run_dir = Some(run_dir.into());
        self
    }

    fn need(p: &Option<Program>, name: &str, what: &str) -> Result<Program, ActError> {
        p.clone().ok_or_else(|| ActError::Command {
            what: what.to_owned(),
            source: Box::new(CmdError::NotFound {
                program: name.to_owned(),
                searched: SEARCH_DIRS.join(":"),
            }),
        })
    }

    fn iscsiadm(&self, what: &str) -> Result<Iscsiadm, ActError> {
        Ok(Iscsiadm {
            program: Self::need(&self.tools.iscsiadm, "iscsiadm", what)?,
            timeout: self.tools.timeout,
        })
    }

    /// Logs out exactly session `sid` after re-reading that it is still
    /// (target, portal, iface); a session already gone is converged.
    fn logout(
        &self,
        what: &str,
        target: &Iqn,
        portal: &Portal,
        iface: &str,
        sid: u32,
    ) -> Result<Outcome, ActError> {
        if session::verify(&self.sys_tree, sid, target, portal, iface)? == session::Now::Gone {
            return Ok(Outcome::AlreadyConverged);
        }
        match self.iscsiadm(what)?.logout_session(sid, target, portal) {
            Ok(()) => Ok(Outcome::Changed),
            // It went away between the check and the command (iscsiadm then
            // says "could not get session info" or "no sessions").
            Err(_)
                if !self
                    .sys_tree
                    .exists(format!("class/iscsi_session/session{sid}")) =>
            {
                Ok(Outcome::AlreadyConverged)
            }
            Err(e) => Err(e),
        }
    }

    fn multipath(&self, what: &str) -> Result<Multipath, ActError> {
        Ok(Multipath {
            multipath: Self::need(&self.tools.multipath, "multipath", what)?,
            dmsetup: Self::need(&self.tools.dmsetup, "dmsetup", what)?,
            timeout: self.tools.timeout,
        })
    }
}

impl Actuator for Real {
    fn execute(&self, action: &Action) -> Result<Outcome, ActError> {
        let what = action.to_string();
        match action {
            Action::Login { target, portal } => self.iscsiadm(&what)?.login(target, portal),
            Action::Logout {
                target,
                portal,
                iface,
                sid,
            } => self.logout(&what, target, portal, iface, *sid),
            Action::DeleteNode {
                target,
                portal,
                iface,
            } => self.iscsiadm(&what)?.delete_node(target, portal, iface),
            Action::ScanLun { target, hctl } => self.sys.scan_lun(target, *hctl),
            Action::RescanDevice { hctl, .. } => self.sys.rescan_device(*hctl),
            Action::MultipathAdd { wwid, path } => {
                self.multipath(&what)?
                    .add(&self.sys, &self.dev_root, wwid, path)
            }
            Action::RegisterWwid { wwid } => {
                self.multipath(&what)?.register_wwid(&self.wwids_file, wwid)
            }
            Action::ForgetWwid { id } => self.multipath(&what)?.forget_wwid(&self.wwids_file, id),
            Action::DisableQueueing { map } => {
                self.multipath(&what)?.disable_queueing(&self.sys, map)
            }
            Action::FlushBuffers { name, dev } => {
                let (root, name2, dev) = (self.dev_root.clone(), name.clone(), *dev);
                let node = self.dev_root.join(name);
                deadline::run(
                    &node.to_string_lossy(),
                    &format!("flush buffers of {}", node.display()),
                    self.tools.timeout,
                    move || flush::flush_buffers(&root, &name2, dev),
                )
            }
            Action::FlushMap { map, .. } => self.multipath(&what)?.flush(&self.sys, map),
            Action::RemoveFromMap { map, path } => {
                let multipathd = Self::need(&self.tools.multipathd, "multipathd", &what)?;
                self.multipath(&what)?
                    .del_path(&multipathd, &self.sys, map, path)
            }
            Action::DeletePaths { paths, .. } => delete_sequentially(self, paths),
            Action::WaitGone {
                paths,
                map,
                timeout,
            } => self.sys.wait_gone(paths, map.as_deref(), *timeout),
        }
    }

    fn delete_path(&self, path: &PathRef) -> Result<Outcome, ActError> {
        // Held across the write: compare-and-delete for use, not only for identity.
        self.sys
            .delete_path_guarded(path, || self.hold_exclusive(path))
    }

    fn mark_removing(&self, devs: &[crate::model::DevT]) -> Vec<crate::marker::Marker> {
        let Some(run) = &self.run_dir else {
            return Vec::new();
        };
        devs.iter()
            .filter_map(|d| {
                crate::marker::Marker::create(run, *d)
                    .map_err(|e| tracing::warn!(error = %e, dev = %d, "removal marker not created"))
                    .ok()
            })
            .collect()
    }
}
