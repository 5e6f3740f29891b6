//! The two facts the planner needs that sysfs does not show: a map's open count (device-mapper
//! keeps it in the kernel, `dmsetup info` reports it) and each path's state in its map
//! (multipathd's, `multipathd show paths`). Both tools are the ecosystem's contract for them.
//!
//! A missing tool or a failed query leaves the fact unknown. An unknown path state is never
//! "failed" (a map is not taken for dead). An unknown open count adds no "in use" finding; the
//! last line of defence is then the kernel: device-mapper refuses to remove an open map ("map in
//! use"), so the removal stops before any path is deleted.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use crate::act::cmd::{self, Program, SEARCH_DIRS};
use crate::model::DmName;
use crate::reconcile::PathState;

type OpenCounts = Arc<dyn Fn() -> BTreeMap<DmName, u32> + Send + Sync>;
type PathStates = Arc<dyn Fn() -> BTreeMap<String, PathState> + Send + Sync>;

/// Queries `dmsetup` and `multipathd` (or, for the simulator, functions that know the answers).
#[derive(Clone)]
pub struct Inspector {
    dmsetup: Option<Program>,
    multipathd: Option<Program>,
    timeout: Duration,
    from_data: Option<(OpenCounts, PathStates)>,
}

impl fmt::Debug for Inspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inspector")
            .field("dmsetup", &self.dmsetup)
            .field("multipathd", &self.multipathd)
            .field("from_data", &self.from_data.is_some())
            .finish()
    }
}

impl Inspector {
    /// Looks the tools up in the usual sbin/bin directories.
    pub fn discover(timeout: Duration) -> Self {
        Self {
            dmsetup: Program::find("dmsetup", SEARCH_DIRS).ok(),
            multipathd: Program::find("multipathd", SEARCH_DIRS).ok(),
            timeout,
            from_data: None,
        }
    }

    /// An inspector answering from functions (the simulated host knows its open counts and path
    /// states without any tool).
    pub fn from_fn(
        open_counts: impl Fn() -> BTreeMap<DmName, u32> + Send + Sync + 'static,
        path_states: impl Fn() -> BTreeMap<String, PathState> + Send + Sync + 'static,
    ) -> Self {
        Self {
            from_data: Some((Arc::new(open_counts), Arc::new(path_states))),
            ..Self::none()
        }
    }

    /// An inspector that knows nothing (tests, fixtures).
    pub fn none() -> Self {
        Self {
            dmsetup: None,
            multipathd: None,
            timeout: Duration::ZERO,
            from_data: None,
        }
    }

    /// Open count per dm device name.
    pub fn open_counts(&self) -> BTreeMap<DmName, u32> {
        if let Some((f, _)) = &self.from_data {
            return f();
        }
        let Some(p) = &self.dmsetup else {
            return BTreeMap::new();
        };
        let args = [
            "info",
            "-c",
            "--noheadings",
            "--separator",
            "\t",
            "-o",
            "name,open",
        ];
        match cmd::run(p, &args, self.timeout) {
            Ok(out) => parse_open_counts(&out.stdout),
            Err(e) => {
                warn!(error = %e, "dmsetup info failed: open counts unknown");
                BTreeMap::new()
            }
        }
    }

    /// multipathd's view of each path (by block device name).
    pub fn path_states(&self) -> BTreeMap<String, PathState> {
        if let Some((_, f)) = &self.from_data {
            return f();
        }
        let Some(p) = &self.multipathd else {
            return BTreeMap::new();
        };
        match cmd::run(
            p,
            &["show", "paths", "raw", "format", "%d %t"],
            self.timeout,
        ) {
            Ok(out) => parse_path_states(&out.stdout),
            Err(e) => {
                warn!(error = %e, "multipathd show paths failed: path states unknown");
                BTreeMap::new()
            }
        }
    }
}

/// `name<TAB>open` lines from `dmsetup info -c --noheadings --separator '\t' -o name,open`.
pub fn parse_open_counts(text: &str) -> BTreeMap<DmName, u32> {
    text.lines()
        .filter_map(|l| {
            let (name, open) = l.rsplit_once('\t')?;
            Some((name.trim().parse().ok()?, open.trim().parse().ok()?))
        })
        .collect()
}

/// `sdc failed` / `sda active` lines from `multipathd show paths raw format "%d %t"`; `%t` is
/// the path's state in the device-mapper table. Anything but `failed` counts as active, so an
/// unexpected word never makes a map look dead.
pub fn parse_path_states(text: &str) -> BTreeMap<String, PathState> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let dev = w.next()?;
            let st = w.next()?;
            let state = if st == "failed" {
                PathState::Failed
            } else {
                PathState::Active
            };
            Some((dev.to_owned(), state))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_counts_parse_dmsetup_columns() {
        let m = parse_open_counts("mpatha\t1\n3600140500291fe600020000feed00000\t0\nbogus line\n");
        assert_eq!(m.len(), 2);
        let a: DmName = "mpatha".parse().expect("name");
        assert_eq!(m.get(&a), Some(&1));
    }

    #[test]
    fn only_failed_paths_count_as_failed() {
        let m = parse_path_states("sdc failed\nsdg failed\nsda active\nsde undef\n\n");
        assert_eq!(m.get("sdc"), Some(&PathState::Failed));
        assert_eq!(m.get("sda"), Some(&PathState::Active));
        assert_eq!(m.get("sde"), Some(&PathState::Active));
        assert_eq!(m.len(), 4);
    }
}
