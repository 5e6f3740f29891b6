//! Classification of observed devices: in scope or not, intended or not,
//! grouped into LUNs (a multipath map with its paths, or a lone path), and
//! the use signals that forbid removing one. Pure functions of the inputs;
//! no IO.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::model::{Attachment, DevT, Iqn, OnUnexpected, Portal, Wwid};
use crate::snapshot::{DmDevice, DmKind, HostTransport, IscsiSession, ScsiDevice, Snapshot};

use super::context::Context;
use super::index::{FxMap, Index};
use super::policy::Policy;
use crate::model::DeviceKey;
use crate::snapshot::{ClaimState, PathState};

/// What the desired state says about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Intent {
    /// Declared by attachment `attachments[.0]`.
    Intended(usize),
    /// At a declared address but with another WWID: not ours.
    WrongWwid {
        /// Index of the attachment whose address it occupies.
        attachment: usize,
        /// Declared WWID.
        expected: Wwid,
        /// Found WWID.
        found: Wwid,
    },
    /// Nothing declares it.
    Unwanted,
}

/// One observed path with what the planner concluded about it.
#[derive(Debug, Clone)]
pub(crate) struct PathView<'a> {
    pub dev: &'a ScsiDevice,
    pub target: Option<&'a Iqn>,
    /// `Some(why)` when in scope (shared by every path of a target: one allocation a target).
    pub scope: Option<Rc<str>>,
    pub intent: Intent,
}

impl PathView<'_> {
    pub(crate) fn key(&self) -> DeviceKey {
        DeviceKey::Path {
            hctl: self.dev.hctl,
            wwid: self.dev.wwid.clone(),
        }
    }

    pub(crate) fn block_name(&self) -> Option<&str> {
        self.dev.block.as_ref().map(|b| b.name.as_str())
    }
}

/// A LUN as observed: a multipath map and the paths below it, a lone path,
/// or a map whose paths are all gone.
#[derive(Debug, Clone)]
pub(crate) struct Lun<'a> {
    pub paths: Vec<PathView<'a>>,
    pub map: Option<&'a DmDevice>,
    /// Whether the whole LUN is in scope: every path in scope and every slave
    /// of the map a known in-scope path; a path-less map only if it was first
    /// seen while in scope.
    pub in_scope: bool,
}

impl Lun<'_> {
    pub(crate) fn keys(&self) -> Vec<DeviceKey> {
        let mut keys: Vec<DeviceKey> = self.paths.iter().map(PathView::key).collect();
        if let Some(name) = self.map.and_then(|m| m.name.clone()) {
            keys.push(DeviceKey::Map { name });
        }
        keys
    }

    pub(crate) fn is_intended(&self) -> bool {
        self.paths
            .iter()
            .any(|p| matches!(p.intent, Intent::Intended(_)))
    }

    /// The targets of the paths (deduplicated, sorted).
    pub(crate) fn targets(&self) -> Vec<&Iqn> {
        let mut t: Vec<&Iqn> = self.paths.iter().filter_map(|p| p.target).collect();
        t.sort();
        t.dedup();
        t
    }

    /// A map none of whose slaves is known to be active while at least one has an unknown
    /// state: neither dead nor alive as far as anyone can tell, so not safe to flush.
    pub(crate) fn map_path_states_unknown(&self, ctx: &Context) -> bool {
        self.map.is_some_and(|m| {
            m.slaves.iter().any(|s| ctx.unknown_path_states.contains(s))
                && !m
                    .slaves
                    .iter()
                    .any(|s| ctx.path_states.get(s) == Some(&PathState::Active))
        })
    }

    /// A map whose slaves are all failed or missing (rule 4).
    pub(crate) fn map_is_dead(&self, ctx: &Context) -> bool {
        self.map.is_some_and(|m| {
            m.slaves
                .iter()
                .all(|s| ctx.path_states.get(s) == Some(&PathState::Failed))
        })
    }
}

/// Why `target` is in scope, or `None` (exclusions win).
pub(crate) fn target_scope(
    target: &Iqn,
    index: &Index<'_>,
    policy: &Policy,
    ctx: &Context,
) -> Option<String> {
    target_scope_declared(target, index.declares_target(target), policy, ctx)
}

/// [`target_scope`] when whether an attachment names `target` is already known (`declared`).
pub(crate) fn target_scope_declared(
    target: &Iqn,
    declared: bool,
    policy: &Policy,
    ctx: &Context,
) -> Option<String> {
    if policy.scope.excludes_target(target) {
        None
    } else if declared {
        Some(format!("target {target} is declared"))
    } else if ctx.known_targets.contains(target) {
        Some(format!("target {target} was attached by lunguard"))
    } else if policy.scope.includes_target(target) {
        Some(format!("target {target} matches the configured scope"))
    } else {
        None
    }
}

/// `target_scope` of each target met so far: the answer (and its text) is the same for every
/// path on a target, and formatting it once a path was most of a large host's planning.
type ScopeCache<'a> = FxMap<&'a Iqn, Option<Rc<str>>>;

fn path_scope<'a>(
    dev: &ScsiDevice,
    session: Option<&'a IscsiSession>,
    index: &Index<'_>,
    cache: &mut ScopeCache<'a>,
    policy: &Policy,
    ctx: &Context,
) -> Option<Rc<str>> {
    if dev
        .wwid
        .as_ref()
        .is_some_and(|w| policy.scope.excludes_wwid(w))
    {
        return None;
    }
    if dev.iscsi_session.is_some() {
        // Under an iSCSI session: scope is by target only.
        let target = session?.target.as_ref()?;
        return cache
            .entry(target)
            .or_insert_with(|| target_scope(target, index, policy, ctx).map(Rc::from))
            .clone();
    }
    let host = index.host(dev.hctl.host)?;
    if host.transport == HostTransport::Iscsi {
        return None; // an iSCSI host device we cannot tie to a session
    }
    let proc_name = host.proc_name.as_deref()?;
    policy
        .scope
        .includes_proc_name(proc_name)
        .then(|| Rc::from(format!("host{} ({proc_name}) is in scope", dev.hctl.host)))
}

fn intent(
    dev: &ScsiDevice,
    target: Option<&Iqn>,
    portal: Option<Portal>,
    desired: &[Attachment],
    index: &Index<'_>,
) -> Intent {
    let Some(target) = target else {
        return Intent::Unwanted;
    };
    // The first attachment (file order) at this address whose portals include the path's.
    let found = index.attachments_at(target, dev.hctl.lun).find(|&i| {
        // A session whose portal could not be read matches any portal:
        // missing information must never make a device look unwanted.
        portal.is_none_or(|p| desired[i].portals.contains(&p))
    });
    let Some(i) = found else {
        return Intent::Unwanted;
    };
    match (&desired[i].wwid, &dev.wwid) {
        (Some(expected), Some(found)) if expected != found => Intent::WrongWwid {
            attachment: i,
            expected: expected.clone(),
            found: found.clone(),
        },
        _ => Intent::Intended(i),
    }
}

/// Every observed SCSI device and multipath map, grouped into LUNs.
pub(crate) fn luns<'a>(
    desired: &[Attachment],
    observed: &'a Snapshot,
    index: &Index<'a>,
    policy: &Policy,
    ctx: &Context,
) -> Vec<Lun<'a>> {
    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Key<'k> {
        Map(&'k str),
        Wwid(&'k Wwid),
        Alone(crate::model::Hctl),
    }
    // A LUN is found by its map's group (a position, no string comparison a path) or, without a
    // map, by its key; the LUNs are put in key order at the end.
    let mut by_map: Vec<Option<usize>> = vec![None; observed.dm_devices.len()];
    let mut by_key: BTreeMap<Key<'a>, usize> = BTreeMap::new();
    let mut groups: Vec<(Key<'a>, Lun<'a>)> = Vec::new();
    let new_lun = |map| Lun {
        paths: Vec::new(),
        map,
        in_scope: true,
    };
    let mut scopes = ScopeCache::default();
    for dev in &observed.devices {
        let session = dev.iscsi_session.and_then(|id| index.session(id));
        let target = session.and_then(|s| s.target.as_ref());
        let portal = session.and_then(IscsiSession::portal);
        let view = PathView {
            dev,
            target,
            scope: path_scope(dev, session, index, &mut scopes, policy, ctx),
            intent: intent(dev, target, portal, desired, index),
        };
        let slot = match (
            view.block_name().and_then(|b| index.multipath_over(b)),
            &dev.wwid,
        ) {
            (Some((m, g)), _) => *by_map[g].get_or_insert_with(|| {
                groups.push((Key::Map(m.kernel_name.as_str()), new_lun(Some(m))));
                groups.len() - 1
            }),
            (None, w) => {
                let key = w.as_ref().map_or(Key::Alone(dev.hctl), Key::Wwid);
                *by_key.entry(key).or_insert_with(|| {
                    groups.push((key, new_lun(None)));
                    groups.len() - 1
                })
            }
        };
        groups[slot].1.paths.push(view);
    }
    for (i, m) in observed.dm_devices.iter().enumerate() {
        if m.kind == DmKind::Multipath {
            by_map[index.group_of(i)].get_or_insert_with(|| {
                groups.push((Key::Map(&m.kernel_name), new_lun(Some(m))));
                groups.len() - 1
            });
        }
    }
    // In key order (keys are distinct: one LUN a map name, WWID or lone address). Compared on
    // the variant and an inline prefix of the name first, so sorting does not follow a pointer
    // to every name at every comparison; equal prefixes fall back to the whole key.
    let mut order: Vec<(u8, [u8; 16], usize)> = groups
        .iter()
        .enumerate()
        .map(|(i, (key, _))| match key {
            Key::Map(name) => (0, prefix(name), i),
            Key::Wwid(w) => (1, prefix(w.as_str()), i),
            Key::Alone(_) => (2, [0; 16], i),
        })
        .collect();
    order.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| groups[a.2].0.cmp(&groups[b.2].0))
    });
    let mut taken: Vec<Option<Lun<'a>>> = groups.into_iter().map(|(_, lun)| Some(lun)).collect();
    let mut out: Vec<Lun<'a>> = order
        .iter()
        .filter_map(|&(_, _, i)| taken[i].take())
        .collect();
    for lun in &mut out {
        lun.in_scope = lun_in_scope(lun, ctx);
    }
    out
}

/// The first 16 bytes of `s`, zero-padded: ordered like `s` itself wherever two prefixes differ
/// (a shorter string's padding sorts before any byte but NUL; equal prefixes decide nothing).
fn prefix(s: &str) -> [u8; 16] {
    let mut p = [0u8; 16];
    let n = s.len().min(16);
    p[..n].copy_from_slice(&s.as_bytes()[..n]);
    p
}

fn lun_in_scope(lun: &Lun<'_>, ctx: &Context) -> bool {
    let paths_ok = lun.paths.iter().all(|p| p.scope.is_some());
    match lun.map {
        None => !lun.paths.is_empty() && paths_ok,
        Some(m) if m.slaves.is_empty() && lun.paths.is_empty() => {
            m.name.as_ref().is_some_and(|n| {
                ctx.first_seen
                    .contains_key(&DeviceKey::Map { name: n.clone() })
            })
        }
        Some(m) => {
            paths_ok
                && !lun.paths.is_empty()
                && m.slaves
                    .iter()
                    .all(|s| lun.paths.iter().any(|p| p.block_name() == Some(s)))
        }
    }
}

/// What the use signals say about a removal: `used` lists every signal of use; `unknown` every
/// signal that could not be read, which for removal purposes means "maybe in use" (fail closed).
#[derive(Debug, Default)]
pub(crate) struct Uses {
    pub used: Vec<String>,
    pub unknown: Vec<String>,
}

/// How many unreadable processes a finding names before "and N more".
const NAMED_PROCS: usize = 3;

/// Every signal that `paths` (and `map`, if it goes too) are in use. For a
/// multipathed path, an open `sdX` is not a signal (multipathd's checker
/// holds every path open); holders other than the map, mounts and swaps are.
///
/// `map` is the map that goes with the paths (its own uses count); `own_map`
/// is the kernel name of the paths' map, whose hold on them is expected even
/// when the map stays (one path of a declared LUN is removed).
///
/// A bare disk (no map over it) has no open count in the kernel and the kernel does not refuse
/// deleting it while open, so its signals are the `/proc/*/fd` scan and the kernel's answer to an
/// exclusive open ([`Context::claims`]); a process whose fds could not be read makes the scan's
/// answer unknown.
pub(crate) fn uses(
    paths: &[&PathView<'_>],
    map: Option<&DmDevice>,
    own_map: Option<&str>,
    observed: &Snapshot,
    ctx: &Context,
) -> Uses {
    let mut u = Uses::default();
    let why = &mut u.used;
    let map_kname = own_map;
    if let Some(m) = map {
        let name = m
            .name
            .as_ref()
            .map_or(m.kernel_name.clone(), ToString::to_string);
        let parts = partition_maps(m, observed);
        for h in &m.holders {
            if !parts.iter().any(|p| &p.kernel_name == h) {
                why.push(format!("map {name} is held by {h}"));
            }
        }
        // kpartx's partition maps (volumes made from images carry partition tables) go with the
        // map (`multipath -f` removes them first); only their own uses count.
        for p in &parts {
            dm_uses(p, observed, ctx, why);
        }
        if let Some(dev) = m.dev {
            for mnt in observed.mounts_of(dev) {
                why.push(format!("map {name} is mounted at {}", mnt.mount_point));
            }
            for s in observed.swaps_of(dev) {
                why.push(format!("map {name} is swap ({})", s.filename));
            }
        }
        // Each partition map holds its map open once.
        if let Some(n) = m.name.as_ref().and_then(|n| ctx.open_counts.get(n))
            && *n as usize > parts.len()
        {
            if parts.is_empty() {
                why.push(format!("map {name} has open count {n}"));
            } else {
                why.push(format!(
                    "map {name} has open count {n}, {} of them its partition maps",
                    parts.len()
                ));
            }
        }
    }
    let bare = map_kname.is_none() && map.is_none();
    let mut bare_disks = 0;
    for p in paths {
        let Some(b) = &p.dev.block else { continue };
        for h in b.holders.iter().filter(|h| Some(h.as_str()) != map_kname) {
            why.push(format!("{} is held by {h}", b.name));
        }
        let devs: Vec<(&str, DevT, &[String])> = b
            .dev
            .iter()
            .map(|d| (b.name.as_str(), *d, b.holders.as_slice()))
            .chain(b.partitions.iter().filter_map(|part| {
                part.dev
                    .map(|d| (part.name.as_str(), d, part.holders.as_slice()))
            }))
            .collect();
        // An open bare disk (no map over it) is in use: a VM or a database may use /dev/sdX
        // directly. Under a map, multipathd's checker holds every path open, so it says nothing.
        if bare {
            bare_disks += 1;
            if let Some(who) = ctx.open_blocks.get(&b.name) {
                why.push(format!("{} is open by {who}", b.name));
            } else if let Some((name, who)) = devs
                .iter()
                .find_map(|(n, d, _)| ctx.open_devs.get(d).map(|w| (n, w)))
            {
                why.push(format!("{name} is open by {who}"));
            }
            match ctx.claims.get(&b.name) {
                Some(ClaimState::Busy) => why.push(format!(
                    "{} is claimed in the kernel (exclusive open busy: mounted, swap or held, possibly in another mount namespace)",
                    b.name
                )),
                Some(ClaimState::Unknown(e)) => u.unknown.push(format!(
                    "the kernel could not be asked whether {} is claimed: {e}",
                    b.name
                )),
                Some(ClaimState::Free) | None => {}
            }
        }
        for (name, dev, holders) in devs {
            if name != b.name {
                for h in holders {
                    why.push(format!("{name} is held by {h}"));
                }
            }
            for mnt in observed.mounts_of(dev) {
                why.push(format!("{name} is mounted at {}", mnt.mount_point));
            }
            for s in observed.swaps_of(dev) {
                why.push(format!("{name} is swap ({})", s.filename));
            }
        }
    }
    if bare_disks > 0 && !ctx.unreadable_procs.is_empty() {
        let n = ctx.unreadable_procs.len();
        let mut named = ctx.unreadable_procs[..n.min(NAMED_PROCS)].join("; ");
        if n > NAMED_PROCS {
            named.push_str(&format!("; and {} more", n - NAMED_PROCS));
        }
        u.unknown.push(format!(
            "whether a process holds the disk open is unknown: cannot read the open files of {named} (lunguard needs CAP_SYS_PTRACE to read other users' /proc/PID/fd)"
        ));
    }
    u
}

/// The kpartx partition maps over `map` (its holders whose dm uuid is `partN-mpath-…`).
pub(crate) fn partition_maps<'a>(map: &DmDevice, observed: &'a Snapshot) -> Vec<&'a DmDevice> {
    map.holders
        .iter()
        .filter_map(|h| {
            observed
                .dm_devices
                .iter()
                .find(|d| &d.kernel_name == h && d.kind == DmKind::MultipathPartition)
        })
        .collect()
}

/// The use signals of one partition map: its holders, mounts, swaps and open count.
fn dm_uses(p: &DmDevice, observed: &Snapshot, ctx: &Context, why: &mut Vec<String>) {
    let name = p
        .name
        .as_ref()
        .map_or(p.kernel_name.clone(), ToString::to_string);
    for h in &p.holders {
        why.push(format!("partition map {name} is held by {h}"));
    }
    if let Some(dev) = p.dev {
        for mnt in observed.mounts_of(dev) {
            why.push(format!(
                "partition map {name} is mounted at {}",
                mnt.mount_point
            ));
        }
        for s in observed.swaps_of(dev) {
            why.push(format!("partition map {name} is swap ({})", s.filename));
        }
    }
    if let Some(n) = p.name.as_ref().and_then(|n| ctx.open_counts.get(n))
        && *n > 0
    {
        why.push(format!("partition map {name} has open count {n}"));
    }
}

/// The effective `on_unexpected` and `force` for devices on `targets`: the
/// first attachment on one of them that overrides wins, else the policy.
pub(crate) fn overrides(
    targets: &[&Iqn],
    desired: &[Attachment],
    index: &Index<'_>,
    policy: &Policy,
) -> (OnUnexpected, bool) {
    let (on, force) = index.first_overrides(targets);
    let on_unexpected = on
        .and_then(|i| desired.get(i)?.policy.on_unexpected)
        .unwrap_or(policy.on_unexpected);
    let force = force
        .and_then(|i| desired.get(i)?.policy.force)
        .unwrap_or(policy.force);
    (on_unexpected, force)
}
