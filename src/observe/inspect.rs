//! The facts the planner needs that sysfs does not show: a map's open count (device-mapper
//! keeps it in the kernel, `dmsetup info` reports it), each path's state in its map (the
//! kernel's own, `dmsetup status`, and multipathd's, `multipathd show paths`) and whether a map
//! queues I/O with no path left (`dmsetup table`). Device-mapper is asked through its control
//! node's ioctls (`observe::dm_ioctl`, under a deadline, no process per pass); `dmsetup` is the
//! fallback when that node cannot be used.
//!
//! A missing tool or a failed query leaves the fact unknown. An unknown path state is neither
//! "failed" (a map is not taken for dead) nor "active": a map with no slave known active is not
//! flushed (the planner refuses it). An unknown open count adds no "in use" finding; the
//! last line of defence is then the kernel: device-mapper refuses to remove an open map ("map in
//! use"), so the removal stops before any path is deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, warn};

use crate::bounded::cmd::{self, Program, SEARCH_DIRS};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use crate::model::{DevT, DmName};
use crate::observe::dm_ioctl::{self, DmError, Ioctl, TargetLines};
use crate::observe::exclusive::{self, Claim};
use crate::snapshot::{ClaimState, PathState};

type OpenCounts = Arc<dyn Fn() -> BTreeMap<DmName, u32> + Send + Sync>;
type PathStates = Arc<dyn Fn() -> BTreeMap<String, PathState> + Send + Sync>;

/// Queries `dmsetup` and `multipathd` (or, for the simulator, functions that know the answers).
#[derive(Clone)]
pub struct Inspector {
    dmsetup: Option<Program>,
    multipathd: Option<Program>,
    timeout: Duration,
    from_data: Option<(OpenCounts, PathStates)>,
    scan_proc: bool,
    /// The dev root whose `mapper/control` answers device-mapper queries (`None`: dmsetup only).
    dm_dev_root: Option<PathBuf>,
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
            scan_proc: true,
            dm_dev_root: None,
        }
    }

    /// Asks device-mapper through `<dev_root>/mapper/control` first (dmsetup stays the fallback).
    pub fn with_dev_root(mut self, dev_root: &Path) -> Self {
        self.dm_dev_root = Some(dev_root.to_path_buf());
        self
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
            scan_proc: false,
            dm_dev_root: None,
        }
    }

    /// Open count per dm device name.
    pub fn open_counts(&self) -> BTreeMap<DmName, u32> {
        if let Some((f, _)) = &self.from_data {
            return f();
        }
        match self.ask_dm("open counts", dm_ioctl::open_counts) {
            Dm::Answer(counts) => {
                return counts
                    .into_iter()
                    .filter_map(|(name, n)| Some((name.parse().ok()?, n)))
                    .collect();
            }
            Dm::Unknown => return BTreeMap::new(),
            Dm::Fallback => {}
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

/// Device-mapper's own view of its multipath maps: each path's state in the kernel (`A`/`F` in
/// `dmsetup status`) and which maps queue I/O when no path is left (`dmsetup table`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DmMultipath {
    /// Path (by `major:minor`) → state.
    pub paths: BTreeMap<DevT, PathState>,
    /// Maps with the `queue_if_no_path` feature.
    pub queueing: BTreeSet<DmName>,
}

impl Inspector {
    /// The kernel's multipath status, from `dmsetup status --target multipath` and `dmsetup
    /// table --target multipath`. `None` when dmsetup is missing or either query failed (then
    /// only multipathd's view is left).
    pub fn dm_multipath(&self) -> Option<DmMultipath> {
        if self.from_data.is_some() {
            return None;
        }
        match self.ask_dm("multipath status and table", |c| {
            dm_ioctl::target_lines(c, "multipath")
        }) {
            Dm::Answer(lines) => return Some(dm_multipath_of(&lines)),
            Dm::Unknown => return None,
            Dm::Fallback => {}
        }
        let p = self.dmsetup.as_ref()?;
        let run = |what: &str| match cmd::run(p, &[what, "--target", "multipath"], self.timeout) {
            Ok(out) => Some(out.stdout),
            Err(e) => {
                warn!(error = %e, "dmsetup {what} failed: kernel path states unknown");
                None
            }
        };
        let status = run("status")?;
        let table = run("table")?;
        Some(DmMultipath {
            paths: parse_dm_status(&status),
            queueing: parse_dm_queueing(&table),
        })
    }

    /// Runs `f` on device-mapper's control node on a worker thread within the inspector's
    /// timeout (a DM ioctl can wait behind a map being suspended). A deadline missed is
    /// [`Dm::Unknown`]: dmsetup would wait in the same place. Any other failure (no node, no
    /// permission, a malformed reply) is [`Dm::Fallback`] when dmsetup is there to ask instead.
    fn ask_dm<T, F>(&self, what: &str, f: F) -> Dm<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Ioctl) -> Result<T, DmError> + Send + 'static,
    {
        self.ask_dm_through(what, dm_ioctl::Control::open, f)
    }

    /// [`Inspector::ask_dm`] with the control node opened by `open` (tests: a kernel that blocks).
    fn ask_dm_through<T, C, O, F>(&self, what: &str, open: O, f: F) -> Dm<T>
    where
        T: Send + 'static,
        C: Ioctl,
        O: FnOnce(&Path) -> Result<C, DmError> + Send + 'static,
        F: FnOnce(&dyn Ioctl) -> Result<T, DmError> + Send + 'static,
    {
        let Some(dev) = self.dm_dev_root.clone() else {
            return Dm::Fallback;
        };
        let node = dm_ioctl::control_path(&dev);
        let started = std::time::Instant::now();
        let asked = crate::bounded::deadline::run::<_, crate::bounded::deadline::Expired, _>(
            &node.to_string_lossy(),
            &format!("ask device-mapper for {what} through {}", node.display()),
            self.timeout.max(Duration::from_secs(1)),
            move || Ok(open(&dev).and_then(|c| f(&c))),
        );
        match asked {
            Ok(Ok(v)) => {
                debug!(source = %"ioctl", what, micros = started.elapsed().as_micros() as u64, "device-mapper answered");
                Dm::Answer(v)
            }
            Ok(Err(e)) if self.dmsetup.is_some() => {
                debug!(error = %e, what, "device-mapper ioctl failed: asking dmsetup instead");
                Dm::Fallback
            }
            // No node and no dmsetup: a host without device-mapper, as quiet as a missing
            // dmsetup was.
            Ok(Err(e @ DmError::Open { .. })) if e.is_missing() => {
                debug!(error = %e, "no device-mapper control node and no dmsetup: {what} unknown");
                Dm::Unknown
            }
            Ok(Err(e)) => {
                warn!(error = %e, "device-mapper ioctl failed and no dmsetup: {what} unknown");
                Dm::Unknown
            }
            Err(e) => {
                warn!(error = %e, "device-mapper did not answer: {what} unknown");
                Dm::Unknown
            }
        }
    }
}

/// What asking device-mapper's control node gave.
enum Dm<T> {
    /// The kernel's answer.
    Answer(T),
    /// No answer: ask dmsetup (if there is none, the fact is unknown).
    Fallback,
    /// No answer and none to be had this pass: the fact is unknown.
    Unknown,
}

/// The kernel's multipath view from the ioctl replies, through the same parsers as dmsetup's
/// text (a status or table string is what `dmsetup` prints after `name: start len multipath`).
fn dm_multipath_of(lines: &TargetLines) -> DmMultipath {
    fn words(l: &[(String, String)]) -> impl Iterator<Item = (&str, Vec<&str>)> {
        l.iter()
            .map(|(name, s)| (name.as_str(), s.split_whitespace().collect()))
    }
    DmMultipath {
        paths: status_paths(words(&lines.status)),
        queueing: queueing_maps(words(&lines.table)),
    }
}

/// Splits `name: start len multipath args…` (the form `dmsetup status|table` prints for every
/// device) into the name and the target's words.
fn multipath_lines(text: &str) -> impl Iterator<Item = (&str, Vec<&str>)> {
    text.lines().filter_map(|l| {
        let (name, rest) = l.split_once(": ")?;
        let mut w = rest.split_whitespace();
        let (_start, _len, target) = (w.next()?, w.next()?, w.next()?);
        (target == "multipath").then(|| (name.trim(), w.collect()))
    })
}

/// Path states from `dmsetup status --target multipath`. The multipath status line is
/// `<#features> <features…> <#hw args> <hw args…> <#groups> <next group>`, then per group
/// `<A|E|D> <#group args> <args…> <#paths> <#selector args>` and per path
/// `<major:minor> <A|F> <fail count> <selector args…>` (Documentation/admin-guide/
/// device-mapper/dm-multipath). A line that does not parse adds nothing (unknown).
pub fn parse_dm_status(text: &str) -> BTreeMap<DevT, PathState> {
    status_paths(multipath_lines(text))
}

/// [`parse_dm_status`] on `(map, words of its status string)`.
fn status_paths<'a>(
    lines: impl Iterator<Item = (&'a str, Vec<&'a str>)>,
) -> BTreeMap<DevT, PathState> {
    let mut out = BTreeMap::new();
    for (_, words) in lines {
        if let Some(paths) = parse_status_words(&words) {
            out.extend(paths);
        }
    }
    out
}

fn parse_status_words(w: &[&str]) -> Option<Vec<(DevT, PathState)>> {
    let mut i = 0;
    let count = |i: &mut usize| -> Option<usize> {
        let n = w.get(*i)?.parse::<usize>().ok()?;
        *i += 1;
        Some(n)
    };
    let features = count(&mut i)?;
    i = i.saturating_add(features);
    let hw = count(&mut i)?;
    i = i.saturating_add(hw);
    let groups = count(&mut i)?;
    i += 1; // next group
    let mut paths = Vec::new();
    for _ in 0..groups {
        i += 1; // group state
        let group_args = count(&mut i)?;
        i = i.saturating_add(group_args);
        let n = count(&mut i)?;
        let selector_args = count(&mut i)?;
        for _ in 0..n {
            let dev: DevT = w.get(i)?.parse().ok()?;
            let state = match *w.get(i + 1)? {
                "A" => PathState::Active,
                "F" => PathState::Failed,
                _ => return None,
            };
            paths.push((dev, state));
            i = i.saturating_add(3).saturating_add(selector_args);
        }
    }
    Some(paths)
}

/// Maps whose `dmsetup table --target multipath` line has the `queue_if_no_path` feature.
pub fn parse_dm_queueing(text: &str) -> BTreeSet<DmName> {
    queueing_maps(multipath_lines(text))
}

/// [`parse_dm_queueing`] on `(map, words of its table string)`.
fn queueing_maps<'a>(lines: impl Iterator<Item = (&'a str, Vec<&'a str>)>) -> BTreeSet<DmName> {
    lines
        .filter_map(|(name, words)| {
            let n = words.first()?.parse::<usize>().ok()?;
            words
                .iter()
                .skip(1)
                .take(n)
                .any(|f| *f == "queue_if_no_path")
                .then(|| name.parse().ok())?
        })
        .collect()
}

impl Inspector {
    /// Block devices open by some process, from `<proc>/[0-9]*/fd/*` (what `fuser` does).
    /// multipathd (its checker holds every path open), udev workers (they open a device for a
    /// moment after each event) and lunguard itself are left out. Only for a real host: a
    /// recording or the simulator has no processes to ask.
    pub fn open_blocks(&self, proc_root: &Path) -> OpenFiles {
        if !self.scan_proc {
            return OpenFiles::default();
        }
        scan_open_blocks(proc_root, std::process::id())
    }

    /// Asks the kernel to claim each bare disk a plan would remove (`O_EXCL` open under
    /// `dev_root`, closed at once), each within the inspector's timeout: an open can wait while
    /// the SCSI host recovers. Only for a real host; the simulator's nodes are plain files.
    pub fn claims(
        &self,
        dev_root: &Path,
        disks: &[(String, DevT)],
    ) -> BTreeMap<String, ClaimState> {
        if !self.scan_proc {
            return BTreeMap::new();
        }
        let timeout = self.timeout.max(Duration::from_secs(1));
        disks
            .iter()
            .map(|(name, dev)| (name.clone(), probe_claim(dev_root, name, *dev, timeout)))
            .collect()
    }
}

/// One exclusive-open probe on a worker thread, answered within `timeout` (else unknown; the
/// thread is left to finish in the kernel).
fn probe_claim(dev_root: &Path, name: &str, dev: DevT, timeout: Duration) -> ClaimState {
    let (root, n) = (dev_root.to_path_buf(), name.to_owned());
    let node = dev_root.join(name);
    // The same worker-with-deadline as every blocking kernel call (`bounded::deadline`), keyed by
    // the node: a flush of this device still blocked makes the answer unknown at once.
    let answer = crate::bounded::deadline::run::<_, crate::bounded::deadline::Expired, _>(
        &node.to_string_lossy(),
        &format!("ask whether {} is claimed (exclusive open)", node.display()),
        timeout,
        move || {
            Ok(match exclusive::claim(&root, &n, dev) {
                Ok(Claim::Held(_)) => ClaimState::Free,
                Ok(Claim::NoNode) => {
                    ClaimState::Unknown(format!("no node {} to open", root.join(&n).display()))
                }
                Err(e) if e.is_busy() => ClaimState::Busy,
                Err(e) => ClaimState::Unknown(e.to_string()),
            })
        },
    );
    answer.unwrap_or_else(|e| ClaimState::Unknown(e.to_string()))
}

/// What the `/proc/*/fd` scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenFiles {
    /// `sdc` → `pid 812 (qemu-system-x86)`: by the name the link shows (a partition counts for
    /// its disk).
    pub by_name: BTreeMap<String, String>,
    /// The same by the device number of the open file (a node of another name, in a container).
    pub by_dev: BTreeMap<DevT, String>,
    /// Processes whose fds could not be read: `pid 812 (qemu-system-x86): Permission denied`.
    pub unreadable: Vec<String>,
}

/// Processes whose open block devices say nothing about use.
const NOT_USERS: &[&str] = &["multipathd", "systemd-udevd", "(udev-worker)", "lunguard"];

/// Whether an error reading a process's fds means the process is gone (not a secret).
fn vanished(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
        || e.raw_os_error() == Some(nix::errno::Errno::ESRCH as i32)
}

/// The scan behind [`Inspector::open_blocks`], under any proc root (tests use a fake one).
/// Fails closed: a process whose fd directory or fd links cannot be read (another user's process
/// without CAP_SYS_PTRACE) is listed in `unreadable`, never skipped; one that exited meanwhile is
/// skipped.
pub fn scan_open_blocks(proc_root: &Path, own_pid: u32) -> OpenFiles {
    let mut open = OpenFiles::default();
    let procs = match fs::read_dir(proc_root) {
        Ok(p) => p,
        Err(e) => {
            open.unreadable
                .push(format!("{}: {e}", proc_root.display()));
            return open;
        }
    };
    for p in procs.filter_map(Result::ok) {
        let name = p.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == own_pid {
            continue;
        }
        let comm = fs::read_to_string(p.path().join("comm")).unwrap_or_default();
        let comm = comm.trim();
        if NOT_USERS.contains(&comm) {
            continue;
        }
        let who = format!("pid {pid} ({comm})");
        let fds = match fs::read_dir(p.path().join("fd")) {
            Ok(fds) => fds,
            Err(e) if vanished(&e) => continue,
            Err(e) => {
                open.unreadable.push(format!("{who}: {e}"));
                continue;
            }
        };
        for fd in fds.filter_map(Result::ok) {
            let target = match fs::read_link(fd.path()) {
                Ok(t) => t,
                Err(e) if vanished(&e) => continue,
                Err(e) => {
                    open.unreadable.push(format!("{who}: {e}"));
                    break;
                }
            };
            // The device number first: it names the disk whatever the node is called.
            if let Ok(meta) = fs::metadata(fd.path())
                && meta.file_type().is_block_device()
            {
                let dev = DevT::new(
                    nix::sys::stat::major(meta.rdev()) as u32,
                    nix::sys::stat::minor(meta.rdev()) as u32,
                );
                open.by_dev.entry(dev).or_insert_with(|| who.clone());
            }
            let Some(dev) = target.to_str().and_then(|t| t.strip_prefix("/dev/")) else {
                continue;
            };
            // Whole disks and partitions (`sdc`, `sdc1`); maps are device-mapper's open count.
            if dev.starts_with("sd") && !dev.contains('/') {
                let disk = dev.trim_end_matches(|c: char| c.is_ascii_digit());
                open.by_name
                    .entry(disk.to_owned())
                    .or_insert_with(|| who.clone());
            }
        }
    }
    open
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
    fn open_bare_disks_are_found_in_proc_fds_but_not_multipathds() {
        let d = tempfile::tempdir().expect("tempdir");
        let proc = d.path();
        let fake = |pid: &str, comm: &str, fds: &[&str]| {
            let fd = proc.join(pid).join("fd");
            fs::create_dir_all(&fd).expect("mkdir");
            fs::write(proc.join(pid).join("comm"), format!("{comm}\n")).expect("comm");
            for (i, t) in fds.iter().enumerate() {
                std::os::unix::fs::symlink(t, fd.join(i.to_string())).expect("link");
            }
        };
        fake(
            "812",
            "qemu-system-x86",
            &["/dev/null", "/dev/sdc1", "/dev/sdq"],
        );
        fake("90", "multipathd", &["/dev/sdd"]);
        fake("77", "lunguard", &["/dev/sde"]);
        fake("self", "bash", &["/dev/sdf"]);
        let open = scan_open_blocks(proc, 77).by_name;
        assert_eq!(
            open.get("sdc").map(String::as_str),
            Some("pid 812 (qemu-system-x86)")
        );
        assert!(open.contains_key("sdq"));
        assert!(
            !open.contains_key("sdd"),
            "multipathd's checker is not a user"
        );
        assert!(!open.contains_key("sde"), "nor are we");
        assert!(
            !open.contains_key("sdf"),
            "non-numeric entries are not processes"
        );
        assert_eq!(open.len(), 2);
    }

    #[test]
    fn open_counts_parse_dmsetup_columns() {
        let m = parse_open_counts("mpatha\t1\n3600140500291fe600020000feed00000\t0\nbogus line\n");
        assert_eq!(m.len(), 2);
        let a: DmName = "mpatha".parse().expect("name");
        assert_eq!(m.get(&a), Some(&1));
    }

    #[test]
    fn dm_status_gives_each_paths_kernel_state() {
        // Two maps as `dmsetup status --target multipath` prints them: service-time (2 selector
        // args per path) with both paths failed, round-robin (1) with one active.
        let text = "\
mpatha: 0 2097152 multipath 2 0 0 0 1 1 A 0 2 2 8:16 F 1 0 1 8:32 F 2 0 1
3600140512345: 0 2048 multipath 2 0 0 0 2 1 A 0 1 1 8:48 A 0 0 E 0 1 1 8:64 F 3 0
not-mpath: 0 2048 linear 8:80 0
";
        let m = parse_dm_status(text);
        assert_eq!(m.get(&DevT::new(8, 16)), Some(&PathState::Failed));
        assert_eq!(m.get(&DevT::new(8, 32)), Some(&PathState::Failed));
        assert_eq!(m.get(&DevT::new(8, 48)), Some(&PathState::Active));
        assert_eq!(m.get(&DevT::new(8, 64)), Some(&PathState::Failed));
        assert_eq!(m.len(), 4);
        assert!(parse_dm_status("No devices found\n").is_empty());
        // Truncated: nothing from that line rather than a guess.
        assert!(parse_dm_status("mpathb: 0 2048 multipath 2 0 0 0 1 1 A 0 2 2 8:16\n").is_empty());
    }

    #[test]
    fn dm_table_tells_which_maps_queue_with_no_path() {
        let text = "\
mpatha: 0 2097152 multipath 1 queue_if_no_path 1 alua 1 1 service-time 0 2 1 8:16 1 8:32 1
mpathb: 0 2097152 multipath 0 0 1 1 service-time 0 1 1 8:48 1
";
        let q = parse_dm_queueing(text);
        let a: DmName = "mpatha".parse().expect("name");
        assert_eq!(q.into_iter().collect::<Vec<_>>(), [a]);
    }

    #[test]
    fn the_kernel_view_from_the_ioctls_equals_the_one_from_dmsetups_text() {
        use crate::observe::dm_ioctl::fake::{Kernel, Map, encode_dev};
        // (name, minor, type, status string, table string), as `dmsetup status|table` would
        // print them after `name: 0 2048 TYPE`.
        let maps = [
            (
                "mpatha",
                0,
                "multipath",
                "2 0 0 0 1 1 A 0 2 2 8:16 F 1 0 1 8:32 F 2 0 1",
                "1 queue_if_no_path 1 alua 1 1 service-time 0 2 1 8:16 1 8:32 1",
            ),
            (
                "3600140512345",
                1,
                "multipath",
                "2 0 0 0 2 1 A 0 1 1 8:48 A 0 0 E 0 1 1 8:64 F 3 0",
                "0 0 2 1 round-robin 0 1 1 8:48 1 round-robin 0 1 1 8:64 1",
            ),
            ("vg-root", 2, "linear", "", "8:80 0"),
        ];
        let text = |table: bool| {
            maps.iter()
                .map(|m| {
                    format!(
                        "{}: 0 2048 {} {}\n",
                        m.0,
                        m.2,
                        if table { m.4 } else { m.3 }
                    )
                })
                .collect::<String>()
        };
        let kernel = Kernel {
            maps: maps
                .iter()
                .map(|m| Map {
                    name: m.0.into(),
                    dev: encode_dev(253, m.1),
                    open: 0,
                    targets: vec![(0, 2048, m.2.into(), m.3.into(), m.4.into())],
                })
                .collect(),
            version: 4,
            ..Kernel::default()
        };
        let lines = dm_ioctl::target_lines(&kernel, "multipath").expect("replies");
        let from_ioctl = dm_multipath_of(&lines);
        assert_eq!(from_ioctl.paths, parse_dm_status(&text(false)));
        assert_eq!(from_ioctl.queueing, parse_dm_queueing(&text(true)));
        assert_eq!(from_ioctl.paths.len(), 4);
        assert_eq!(from_ioctl.queueing.len(), 1);
    }

    #[test]
    fn no_control_node_and_no_dmsetup_leave_open_counts_and_kernel_states_unknown() {
        // Fail closed exactly as a missing or failing dmsetup does: no open count (the kernel
        // refuses to remove an open map), no kernel path state (no map taken for dead).
        let d = tempfile::tempdir().expect("tempdir");
        let i = Inspector {
            scan_proc: false,
            ..Inspector::none().with_dev_root(d.path())
        };
        assert!(i.open_counts().is_empty());
        assert_eq!(i.dm_multipath(), None);
    }

    #[test]
    fn a_control_node_that_cannot_be_used_falls_back_to_dmsetup() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().expect("tempdir");
        // A plain file where the control node should be: never ioctled, dmsetup asked instead.
        fs::create_dir(d.path().join("mapper")).expect("mkdir");
        fs::write(d.path().join("mapper/control"), "").expect("node");
        let script = d.path().join("dmsetup");
        fs::write(
            &script,
            "#!/bin/sh\ncase \"$1\" in\n\
             info) printf 'mpatha\\t2\\n' ;;\n\
             status) echo 'mpatha: 0 2048 multipath 2 0 0 0 1 1 A 0 1 2 8:16 F 1 0 1' ;;\n\
             table) echo 'mpatha: 0 2048 multipath 1 queue_if_no_path 0 1 1 service-time 0 1 1 8:16 1' ;;\n\
             esac\n",
        )
        .expect("script");
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
        let i = Inspector {
            dmsetup: Some(Program::at(&script)),
            timeout: Duration::from_secs(10),
            ..Inspector::none().with_dev_root(d.path())
        };
        let a: DmName = "mpatha".parse().expect("name");
        assert_eq!(i.open_counts().get(&a), Some(&2));
        let dm = i.dm_multipath().expect("dmsetup answered");
        assert_eq!(dm.paths.get(&DevT::new(8, 16)), Some(&PathState::Failed));
        assert!(dm.queueing.contains(&a));
    }

    #[test]
    fn a_device_mapper_query_past_its_deadline_is_unknown_and_dmsetup_is_not_asked() {
        use std::os::unix::fs::PermissionsExt;
        use std::sync::mpsc;
        use std::time::Instant;
        // A DM ioctl can wait behind a map being suspended; dmsetup would wait in the same place.
        struct Stuck(mpsc::Receiver<()>);
        impl Ioctl for Stuck {
            fn call(&self, _: dm_ioctl::Cmd, _: &mut [u8]) -> Result<(), nix::errno::Errno> {
                let _ = self.0.recv();
                Err(nix::errno::Errno::EIO)
            }
        }
        let d = tempfile::tempdir().expect("tempdir");
        let marker = d.path().join("dmsetup-ran");
        let script = d.path().join("dmsetup");
        fs::write(
            &script,
            format!(
                "#!/bin/sh\ntouch '{}'\nprintf 'mpatha\\t0\\n'\n",
                marker.display()
            ),
        )
        .expect("script");
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
        let i = Inspector {
            dmsetup: Some(Program::at(&script)),
            timeout: Duration::from_millis(100),
            ..Inspector::none().with_dev_root(d.path())
        };
        let (release, wait) = mpsc::channel();
        let t0 = Instant::now();
        let r = i.ask_dm_through(
            "open counts",
            move |_: &Path| Ok(Stuck(wait)),
            dm_ioctl::open_counts,
        );
        assert!(matches!(r, Dm::Unknown));
        assert!(t0.elapsed() < Duration::from_secs(5));
        // While that worker is still in the kernel, the next pass knows nothing at once.
        let t1 = Instant::now();
        assert!(i.open_counts().is_empty());
        assert!(t1.elapsed() < Duration::from_millis(500));
        assert!(
            !marker.exists(),
            "dmsetup was asked while device-mapper blocked"
        );
        // Once it lets go, the (missing) control node sends the next pass to dmsetup.
        release.send(()).expect("worker waiting");
        let deadline = Instant::now() + Duration::from_secs(5);
        while i.open_counts().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(marker.exists());
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
