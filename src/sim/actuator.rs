//! `SimActuator`: carries out every `Action` against a [`SimHost`] the way
//! `act::Real` does against a machine — same identity checks before
//! destructive steps (compare-and-delete), same idempotence
//! (`AlreadyConverged` when nothing is left to do) and the same error
//! variants, so the executor's retry of "map in use" and its stop rules
//! behave exactly as in production. Failures can be injected per action
//! kind to exercise retries.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::act::{ActError, Actuator, Outcome, Recorded, delete_sequentially};
use crate::bounded::cmd::{Argv, CmdError};
use crate::model::{Hctl, Iqn, Portal, ScsiDeviceState};
use crate::plan::{Action, MapRef, PathRef};

use super::error::SimError;
use super::model::{DEFAULT_IFACE, ScanMode, SimMap};
use super::{SimHost, sysfs};

/// How often `WaitGone` looks again (the sim removes synchronously, so
/// this only matters when something else holds the change back).
const POLL: Duration = Duration::from_millis(10);

struct Failure {
    kind: String,
    times: usize,
    message: String,
}

/// The actuator over a simulated host.
pub struct SimActuator {
    sim: SimHost,
    failures: Mutex<Vec<Failure>>,
    calls: Mutex<Vec<Recorded>>,
}

impl std::fmt::Debug for SimActuator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimActuator")
            .field("calls", &self.calls().len())
            .finish_non_exhaustive()
    }
}

impl SimActuator {
    /// Acts on `sim`.
    pub fn new(sim: SimHost) -> Self {
        Self {
            sim,
            failures: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
        }
    }

    /// The host acted on.
    pub fn host(&self) -> &SimHost {
        &self.sim
    }

    /// Fails the next `times` actions of `kind` (`Action::kind()`, or
    /// `"delete_path"`) with `ActError::Injected`, before touching the sim.
    pub fn fail(&self, kind: &str, times: usize) {
        self.fail_with(kind, times, &format!("simulated failure of {kind}"));
    }

    /// Like [`SimActuator::fail`] with a message; one containing "in use"
    /// is retried by the executor like device-mapper's "map in use".
    pub fn fail_with(&self, kind: &str, times: usize, message: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Failure {
                kind: kind.to_owned(),
                times,
                message: message.to_owned(),
            });
    }

    /// Every call so far, in order (injected failures included).
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The actions executed so far (without the per-path deletes).
    pub fn actions(&self) -> Vec<Action> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Recorded::Action(a) => Some(a),
                Recorded::DeletePath(_) => None,
            })
            .collect()
    }

    fn record(&self, call: Recorded, kind: &str) -> Result<(), ActError> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        match failures.iter_mut().find(|f| f.times > 0 && f.kind == kind) {
            Some(f) => {
                f.times -= 1;
                Err(ActError::Injected(f.message.clone()))
            }
            None => Ok(()),
        }
    }

    fn run(&self, action: &Action) -> Result<Outcome, ActError> {
        match action {
            Action::Login { target, portal } => self.login(target, portal),
            Action::Logout {
                target,
                portal,
                iface,
                sid,
            } => self.logout(target, portal, iface, *sid),
            Action::DeleteNode {
                target,
                portal,
                iface,
            } => {
                // iscsiadm refuses to delete a record a session still uses.
                if self.sim.session_via(target, portal, iface).is_some() {
                    return Err(iscsi_error(
                        "delete the node record of",
                        target,
                        portal,
                        &SimError::SessionUsesRecord(iface.clone()),
                    ));
                }
                Ok(changed(self.sim.delete_node(target, portal, iface)))
            }
            Action::ScanLun { target, hctl } => self.scan_lun(target, *hctl),
            // The simulated kernel's identities do not go stale: a rescan changes nothing.
            Action::RescanDevice { hctl, .. } => {
                let present = self.sim.lock().devices.contains_key(hctl);
                Ok(changed(present))
            }
            Action::MultipathAdd { wwid, path } => {
                let done = self.sim.multipath_add(path).map_err(|e| {
                    command_error(
                        format!("create the multipath map for {wwid} from {path}"),
                        &["multipath", &format!("/dev/{path}")],
                        &e,
                    )
                })?;
                Ok(changed(done))
            }
            Action::RegisterWwid { wwid } => {
                let id = wwid.multipath_id().unwrap_or_else(|| wwid.to_string());
                let done = self
                    .sim
                    .wwids_edit(&id, true)
                    .map_err(|source| ActError::Write {
                        what: format!("register {wwid}"),
                        path: self.sim.roots().multipath_wwids,
                        source,
                    })?;
                Ok(changed(done))
            }
            Action::ForgetWwid { id } => {
                let done = self
                    .sim
                    .wwids_edit(id, false)
                    .map_err(|source| ActError::Write {
                        what: format!("remove {id}"),
                        path: self.sim.roots().multipath_wwids,
                        source,
                    })?;
                Ok(changed(done))
            }
            Action::DisableQueueing { map } => {
                if self.verify_map(map, "disable queueing on")?.is_none() {
                    return Ok(Outcome::AlreadyConverged);
                }
                let done = self.sim.lock().disable_queueing(map.name.as_str());
                let done = done.map_err(|e| {
                    command_error(
                        format!("disable queueing on map {}", map.name),
                        &[
                            "dmsetup",
                            "message",
                            map.name.as_str(),
                            "0",
                            "fail_if_no_path",
                        ],
                        &e,
                    )
                })?;
                Ok(changed(done))
            }
            Action::FlushBuffers { name, dev } => self.flush_buffers(name, *dev),
            Action::FlushMap { map, .. } => self.flush_map(map),
            Action::DeletePaths { paths, .. } => delete_sequentially(self, paths),
            Action::RemoveFromMap { map, path } => {
                let Some(block) = &path.block else {
                    return Ok(Outcome::AlreadyConverged);
                };
                if self.verify_map(map, "take a path out of")?.is_none() {
                    return Ok(Outcome::AlreadyConverged);
                }
                let done = self.sim.remove_from_map(block).map_err(|e| {
                    command_error(
                        format!("take {path} out of multipath map {}", map.name),
                        &["multipathd", "del", "path", block],
                        &e,
                    )
                })?;
                Ok(changed(done))
            }
            Action::WaitGone {
                paths,
                map,
                timeout,
            } => self.wait_gone(paths, map.as_deref(), *timeout),
        }
    }

    /// Exactly session `sid`, after re-verifying it is still (target,
    /// portal, iface): sids are reused after a logout.
    fn logout(
        &self,
        target: &Iqn,
        portal: &Portal,
        iface: &str,
        sid: u32,
    ) -> Result<Outcome, ActError> {
        let Some(s) = self.sim.sessions().into_iter().find(|s| s.sid == sid) else {
            return Ok(Outcome::AlreadyConverged);
        };
        let what = format!("log out session{sid}");
        let checks = [
            ("target", target.to_string(), s.target.to_string()),
            ("portal", portal.to_string(), s.portal.to_string()),
            ("iface", iface.to_owned(), s.iface.clone()),
        ];
        for (field, expected, found) in checks {
            if expected != found {
                return Err(ActError::Changed {
                    what,
                    field,
                    expected,
                    found,
                });
            }
        }
        let done = self
            .sim
            .logout_session(sid)
            .map_err(|e| iscsi_error("log out of", target, portal, &e))?;
        Ok(changed(done))
    }

    /// Node record of the default iface with `node.session.scan = manual`,
    /// then login through it.
    fn login(&self, target: &Iqn, portal: &Portal) -> Result<Outcome, ActError> {
        let before = self
            .sim
            .session_via(target, portal, DEFAULT_IFACE)
            .is_some();
        self.sim
            .login(target, portal, ScanMode::Manual)
            .map_err(|e| iscsi_error("log in to", target, portal, &e))?;
        Ok(changed(!before))
    }

    fn scan_lun(&self, target: &Iqn, hctl: Hctl) -> Result<Outcome, ActError> {
        let what = format!("scan LUN {} of {target} on host{}", hctl.lun, hctl.host);
        let st = self.sim.lock();
        if st.devices.contains_key(&hctl) {
            return Ok(Outcome::AlreadyConverged);
        }
        // Host numbers are reused after a logout: re-verify whose host it is.
        let owner = st.session_on_host(hctl.host).map(|s| s.target.clone());
        drop(st);
        if owner.as_ref() != Some(target) {
            return Err(ActError::Changed {
                what,
                field: "host's target",
                expected: target.to_string(),
                found: owner.map_or("no iSCSI session".into(), |t| t.to_string()),
            });
        }
        let spec = format!("{} {} {}", hctl.channel, hctl.target, hctl.lun);
        self.sim
            .scan(hctl.host, &spec)
            .map_err(|e| ActError::Write {
                what,
                path: self
                    .sim
                    .roots()
                    .sys
                    .join(format!("class/scsi_host/host{}/scan", hctl.host)),
                source: std::io::Error::other(e),
            })?;
        // Like the real write: success even if the target had no such LUN.
        Ok(Outcome::Changed)
    }

    fn flush_buffers(&self, name: &str, dev: crate::model::DevT) -> Result<Outcome, ActError> {
        let st = self.sim.lock();
        let found = st.device_by_block(name).map(|d| d.dev).or_else(|| {
            st.maps
                .values()
                .find(|m| m.kernel_name() == name)
                .map(|m| m.dev)
        });
        drop(st);
        match found {
            None => Ok(Outcome::AlreadyConverged),
            Some(f) if f != dev => Err(ActError::Changed {
                what: format!("flush buffers of /dev/{name}"),
                field: "dev_t",
                expected: dev.to_string(),
                found: f.to_string(),
            }),
            // Nothing is buffered in a simulation: the flush is a no-op.
            Some(_) => Ok(Outcome::Changed),
        }
    }

    /// `Some(map)` if `dm-N` is still `map`; `None` if gone; `Changed` error
    /// if it is another map now.
    fn verify_map(&self, map: &MapRef, what: &str) -> Result<Option<SimMap>, ActError> {
        let st = self.sim.lock();
        let Some(m) = st
            .maps
            .values()
            .find(|m| m.kernel_name() == map.kernel_name)
            .cloned()
        else {
            return Ok(None);
        };
        if m.name != map.name || Some(&m.uuid) != map.uuid.as_ref() {
            return Err(ActError::Changed {
                what: format!("{what} multipath map {} ({})", map.name, map.kernel_name),
                field: "dm name/uuid",
                expected: format!("{} {}", map.name, map.uuid.as_deref().unwrap_or("-")),
                found: "another map".into(),
            });
        }
        Ok(Some(m))
    }

    fn flush_map(&self, map: &MapRef) -> Result<Outcome, ActError> {
        if self.verify_map(map, "flush")?.is_none() {
            return Ok(Outcome::AlreadyConverged);
        }
        let done = self.sim.flush(map.name.as_str()).map_err(|e| {
            command_error(
                format!("flush multipath map {} ({})", map.name, map.kernel_name),
                &["multipath", "-f", map.name.as_str()],
                &e,
            )
        })?;
        Ok(changed(done))
    }

    fn wait_gone(
        &self,
        paths: &[Hctl],
        map: Option<&str>,
        timeout: Duration,
    ) -> Result<Outcome, ActError> {
        let start = Instant::now();
        let present = || -> Vec<String> {
            let st = self.sim.lock();
            let mut v: Vec<String> = paths
                .iter()
                .filter(|h| st.devices.contains_key(h))
                .map(ToString::to_string)
                .collect();
            if let Some(m) = map
                && st.maps.values().any(|x| x.kernel_name() == m)
            {
                v.push(m.to_owned());
            }
            v
        };
        crate::act::poll_gone(present, start, timeout, POLL)
    }

    /// Compare-and-delete, as `act::Sysfs::delete_path`.
    fn delete_one(&self, p: &PathRef) -> Result<Outcome, ActError> {
        let what = format!("delete SCSI device {}", p.hctl);
        let st = self.sim.lock();
        let Some(d) = st.devices.get(&p.hctl).cloned() else {
            return Ok(Outcome::AlreadyConverged);
        };
        let session = st.sessions.get(&d.sid).cloned();
        drop(st);
        let mismatch = |field, expected: String, found: String| ActError::Changed {
            what: what.clone(),
            field,
            expected,
            found,
        };
        if d.wwid != p.wwid {
            return Err(mismatch("WWID", p.wwid.to_string(), d.wwid.to_string()));
        }
        if d.state == ScsiDeviceState::Blocked {
            return Err(ActError::Blocked(p.hctl));
        }
        if let Some(name) = &p.block {
            let found = (&d.block == name).then_some(d.dev);
            if found != p.dev {
                let show =
                    |x: Option<crate::model::DevT>| x.map_or("none".into(), |x| x.to_string());
                return Err(mismatch(
                    "dev_t",
                    format!("{name} {}", show(p.dev)),
                    format!("{name} {}", show(found)),
                ));
            }
        }
        // As the real actuator: a path still under a map is a live map's leg; the plan takes it
        // out of the map first (`RemoveFromMap`) or flushes the map.
        if let Some(m) = self.sim.lock().map_with_slave(&d.block) {
            return Err(mismatch("holders", "none".into(), m.kernel_name()));
        }
        let done = self.sim.delete(p.hctl).map_err(|e| ActError::Write {
            what,
            path: match &session {
                Some(s) => self
                    .sim
                    .roots()
                    .sys
                    .join(sysfs::device_dir(s, p.hctl))
                    .join("delete"),
                None => self.sim.roots().sys,
            },
            source: std::io::Error::other(e),
        })?;
        Ok(changed(done))
    }
}

impl Actuator for SimActuator {
    fn execute(&self, action: &Action) -> Result<Outcome, ActError> {
        self.record(Recorded::Action(action.clone()), action.kind())?;
        self.run(action)
    }

    fn delete_path(&self, path: &PathRef) -> Result<Outcome, ActError> {
        self.record(Recorded::DeletePath(path.clone()), "delete_path")?;
        self.delete_one(path)
    }
}

/// `Changed` if the sim did something, else `AlreadyConverged`.
fn changed(done: bool) -> Outcome {
    if done {
        Outcome::Changed
    } else {
        Outcome::AlreadyConverged
    }
}

/// What the real tool would have exited with: `multipath -f` prints
/// "<name>: map in use" and exits 1, which `ActError::is_in_use` recognizes.
fn tool_failure(argv: &[&str], code: i32, e: &SimError) -> CmdError {
    CmdError::Failed {
        argv: Argv(
            std::iter::once(format!(
                "/usr/sbin/{}",
                argv.first().copied().unwrap_or("sim")
            ))
            .chain(argv.iter().skip(1).map(|a| (*a).to_owned()))
            .collect(),
        ),
        status: ExitStatus::from_raw(code << 8),
        stderr: format!("{e}\n"),
        stdout: String::new(),
    }
}

fn command_error(what: String, argv: &[&str], e: &SimError) -> ActError {
    ActError::Command {
        what,
        source: Box::new(tool_failure(argv, 1, e)),
    }
}

/// iscsiadm's failure: exit 8 (`ISCSI_ERR_TRANS`, the target is unreachable)
/// for a login; 21 is "no session", which the sim reports as `false` instead.
fn iscsi_error(what: &'static str, target: &Iqn, portal: &Portal, e: &SimError) -> ActError {
    let p = portal.to_string();
    ActError::Iscsi {
        what,
        target: target.clone(),
        portal: *portal,
        source: Box::new(tool_failure(
            &["iscsiadm", "-m", "node", "-T", target.as_str(), "-p", &p],
            8,
            e,
        )),
    }
}
