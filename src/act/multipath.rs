//! multipath operations: flush (remove) a map by its real name, build a map
//! for a LUN, and switch a dead map to `fail_if_no_path`.
//!
//! No `multipathd del map` fallback after the flush retries give up: both end
//! in the same device-mapper remove, which fails the same way while the map
//! is open, and a fallback would only hide the real error. A map multipathd
//! re-creates after a successful flush is seen in the next pass.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::Wwid;
use crate::plan::{MapRef, PathRef};

use super::Outcome;
use super::error::ActError;
use super::sysfs::Sysfs;
use crate::bounded::cmd::{self, Program};

/// `multipath` and `dmsetup`, resolved.
#[derive(Debug, Clone)]
pub struct Multipath {
    /// `multipath`.
    pub multipath: Program,
    /// `dmsetup`.
    pub dmsetup: Program,
    /// Per command.
    pub timeout: Duration,
}

/// Whether the wwids file at `file` lists `id` (a missing file lists nothing).
fn listed(file: &std::path::Path, id: &str, what: &str) -> Result<bool, ActError> {
    crate::observe::wwids::read_wwids(file)
        .map(|w| w.contains(id))
        .map_err(|source| ActError::Read {
            what: what.to_owned(),
            path: file.to_owned(),
            source,
        })
}

impl Multipath {
    /// One `multipath -f <name>`, after checking `dm-N` is still this map
    /// (name and uuid). The executor retries "map in use" (see
    /// `act::executor`), so the retry policy is one piece of code that the
    /// recording actuator can exercise.
    pub fn flush(&self, sys: &Sysfs, map: &MapRef) -> Result<Outcome, ActError> {
        match sys.map_matches(map)? {
            None => return Ok(Outcome::AlreadyConverged),
            Some(false) => return Err(changed_map("flush", map)),
            Some(true) => {}
        }
        cmd::run(&self.multipath, &["-f", map.name.as_str()], self.timeout).map_err(|source| {
            ActError::Command {
                what: format!("flush multipath map {} ({})", map.name, map.kernel_name),
                source: Box::new(source),
            }
        })?;
        Ok(Outcome::Changed)
    }

    /// `multipath <dev>/<path>`: build (or update) the map for the LUN behind
    /// `path`. Already under a multipath map is `AlreadyConverged`.
    pub fn add(
        &self,
        sys: &Sysfs,
        dev_root: &std::path::Path,
        wwid: &Wwid,
        path: &str,
    ) -> Result<Outcome, ActError> {
        if sys.has_multipath_holder(path) {
            return Ok(Outcome::AlreadyConverged);
        }
        let node: PathBuf = dev_root.join(path);
        cmd::run(&self.multipath, &[&node.to_string_lossy()], self.timeout).map_err(|source| {
            ActError::Command {
                what: format!("create the multipath map for {wwid} from {path}"),
                source: Box::new(source),
            }
        })?;
        Ok(Outcome::Changed)
    }

    /// `multipath -a <id>` after reading the wwids file at `file` again: an entry already there
    /// is `AlreadyConverged` (whoever added it, it is not lunguard's to remove later); `Changed`
    /// means this call added it. The file is never written here: multipath-tools owns it.
    pub fn register_wwid(&self, file: &std::path::Path, wwid: &Wwid) -> Result<Outcome, ActError> {
        let what = format!("register {wwid} in multipathd's wwids file");
        let id = wwid.multipath_id().ok_or_else(|| ActError::Invalid {
            what: what.clone(),
            why: "the WWID has no multipath form (not an NAA, EUI-64, T10 or SCSI name designator)"
                .into(),
        })?;
        if listed(file, &id, &what)? {
            return Ok(Outcome::AlreadyConverged);
        }
        cmd::run(&self.multipath, &["-a", &id], self.timeout).map_err(|source| {
            ActError::Command {
                what,
                source: Box::new(source),
            }
        })?;
        Ok(Outcome::Changed)
    }

    /// `multipath -w <id>`: remove an entry lunguard added; one already gone is
    /// `AlreadyConverged`.
    pub fn forget_wwid(&self, file: &std::path::Path, id: &str) -> Result<Outcome, ActError> {
        let what = format!("remove {id} from multipathd's wwids file");
        if !listed(file, id, &what)? {
            return Ok(Outcome::AlreadyConverged);
        }
        cmd::run(&self.multipath, &["-w", id], self.timeout).map_err(|source| {
            ActError::Command {
                what,
                source: Box::new(source),
            }
        })?;
        Ok(Outcome::Changed)
    }

    /// `multipathd del path <block>`: take a path out of a map that stays, after checking the
    /// map is still `map` and the path still one of its slaves (already out is
    /// `AlreadyConverged`).
    pub fn del_path(
        &self,
        multipathd: &Program,
        sys: &Sysfs,
        map: &MapRef,
        path: &PathRef,
    ) -> Result<Outcome, ActError> {
        let Some(block) = &path.block else {
            return Ok(Outcome::AlreadyConverged);
        };
        match sys.map_matches(map)? {
            None => return Ok(Outcome::AlreadyConverged),
            Some(false) => return Err(changed_map("take a path out of", map)),
            Some(true) => {}
        }
        if !sys.is_slave(&map.kernel_name, block) {
            return Ok(Outcome::AlreadyConverged);
        }
        cmd::run(multipathd, &["del", "path", block], self.timeout).map_err(|source| {
            ActError::Command {
                what: format!("take {path} out of multipath map {}", map.name),
                source: Box::new(source),
            }
        })?;
        Ok(Outcome::Changed)
    }

    /// `dmsetup message <name> 0 fail_if_no_path`: queued I/O fails instead
    /// of hanging the flush. Data in the queue is lost (hence `force` only).
    /// A map whose table no longer has `queue_if_no_path` is already so: no
    /// second data-loss alert for a queue that is already off.
    pub fn disable_queueing(&self, sys: &Sysfs, map: &MapRef) -> Result<Outcome, ActError> {
        match sys.map_matches(map)? {
            None => return Ok(Outcome::AlreadyConverged),
            Some(false) => return Err(changed_map("disable queueing on", map)),
            Some(true) => {}
        }
        // If the table cannot be read, send the message anyway (it is idempotent).
        if let Ok(out) = cmd::run(&self.dmsetup, &["table", map.name.as_str()], self.timeout)
            && out.stdout.contains(" multipath ")
            && !out.stdout.contains("queue_if_no_path")
        {
            return Ok(Outcome::AlreadyConverged);
        }
        cmd::run(
            &self.dmsetup,
            &["message", map.name.as_str(), "0", "fail_if_no_path"],
            self.timeout,
        )
        .map_err(|source| ActError::Command {
            what: format!("disable queueing on map {}", map.name),
            source: Box::new(source),
        })?;
        Ok(Outcome::Changed)
    }
}

fn changed_map(what: &str, map: &MapRef) -> ActError {
    ActError::Changed {
        what: format!("{what} multipath map {} ({})", map.name, map.kernel_name),
        field: "dm name/uuid",
        expected: format!("{} {}", map.name, map.uuid.as_deref().unwrap_or("-")),
        found: "another map".into(),
    }
}
