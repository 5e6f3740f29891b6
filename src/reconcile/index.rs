//! `Index`: the lookups the planner makes once per path, attachment or session, built once per
//! plan, so a plan costs one pass over each input instead of a scan of the snapshot (or of the
//! desired state) per attachment and per path (issue 8, goal 3).
//!
//! Every lookup answers exactly what the scan it replaces answered: the *first* match in input
//! order (snapshot order for observed objects, file order for attachments). The maps are only
//! ever looked up, never iterated, so their order never reaches a plan. Pure; no IO.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use crate::model::{Attachment, Iqn, Portal};
use crate::snapshot::{DmDevice, DmKind, IscsiSession, ScsiDevice, ScsiHost, Snapshot};

use crate::snapshot::PathState;

/// FxHash's multiply-and-rotate (rustc's own table hasher). The keys here are numbers and names
/// the kernel assigns (session ids, block and dm names) and names from the root-owned state files
/// (targets, portals); LUN numbers are the only part a storage target chooses. std's SipHash
/// resists hash flooding by a remote party, which these keys do not need, and cost about a
/// tenth of planning a large host.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    /// The multiply leaves an input's high bits out of the product's low bits, and the table
    /// picks buckets by the low bits: names that differ only after a common first word (`sdab`,
    /// `sdac`, … share `sd`) fell into a few dozen buckets, quadratic at 100,000 paths. A
    /// final avalanche (murmur3's `fmix64`) spreads every input bit over the low ones.
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// A hash map with [`FxHasher`].
pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
type FxSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// Lookups over one `(desired, observed)` pair.
#[derive(Debug, Default)]
pub(crate) struct Index<'a> {
    observed_dm: &'a [DmDevice],
    /// For each multipath map (by position), the position of the first multipath map with its
    /// kernel name (itself, unless a name repeats): maps are grouped by name.
    dm_group: Vec<usize>,
    /// First session with each id.
    session_by_id: FxMap<u32, &'a IscsiSession>,
    /// First session with each (target, portal of its first connection that has one).
    session_at: FxMap<(&'a Iqn, Portal), &'a IscsiSession>,
    /// Ids of the sessions with each (target, portal, iface), in snapshot order.
    sessions_by_node: FxMap<(&'a Iqn, Portal, &'a str), Vec<u32>>,
    /// First host with each number.
    host: FxMap<u32, &'a ScsiHost>,
    /// The devices under each session, in snapshot order.
    devices_of_session: FxMap<u32, Vec<&'a ScsiDevice>>,
    /// First device under each (session, LUN number).
    device_at: FxMap<(u32, u64), &'a ScsiDevice>,
    /// Position in `observed.dm_devices` of the first multipath map with each block device among
    /// its slaves.
    multipath_over: FxMap<&'a str, usize>,
    /// A number for each target some attachment names (hashed once, not once a lookup).
    target_ids: FxMap<&'a Iqn, u32>,
    /// (target, portal) pairs some attachment names.
    declared_portals: FxSet<(u32, Portal)>,
    /// Attachments at each (target, LUN), their positions in file order: the first, then any
    /// others (an address is usually declared once, so no list is allocated).
    attachments_at: FxMap<(u32, u64), (usize, Vec<usize>)>,
    /// Block devices multipathd reports failed (`Context::path_states`): usually none, so most
    /// paths need no lookup in the (string-keyed, pointer-chasing) table of every path's state.
    failed_paths: FxSet<&'a str>,
    /// Per target, the position of the first attachment overriding `on_unexpected` and of the
    /// first overriding `force`.
    overrides: FxMap<u32, (Option<usize>, Option<usize>)>,
}

impl<'a> Index<'a> {
    /// One pass over each input.
    pub(crate) fn new(
        desired: &'a [Attachment],
        observed: &'a Snapshot,
        path_states: &'a BTreeMap<String, PathState>,
    ) -> Self {
        let mut ix = Self {
            observed_dm: &observed.dm_devices,
            failed_paths: path_states
                .iter()
                .filter(|(_, s)| **s == PathState::Failed)
                .map(|(b, _)| b.as_str())
                .collect(),
            ..Self::default()
        };
        for s in &observed.iscsi_sessions {
            ix.session_by_id.entry(s.id).or_insert(s);
            if let (Some(t), Some(p)) = (s.target.as_ref(), s.portal()) {
                ix.session_at.entry((t, p)).or_insert(s);
                if let Some(i) = s.ifacename.as_deref() {
                    ix.sessions_by_node.entry((t, p, i)).or_default().push(s.id);
                }
            }
        }
        for h in &observed.hosts {
            ix.host.entry(h.host).or_insert(h);
        }
        ix.device_at.reserve(observed.devices.len());
        ix.multipath_over.reserve(2 * observed.dm_devices.len());
        ix.attachments_at.reserve(desired.len());
        for d in &observed.devices {
            if let Some(sid) = d.iscsi_session {
                ix.devices_of_session.entry(sid).or_default().push(d);
                ix.device_at.entry((sid, d.hctl.lun)).or_insert(d);
            }
        }
        let mut first_named: FxMap<&str, usize> = FxMap::default();
        first_named.reserve(observed.dm_devices.len());
        ix.dm_group = (0..observed.dm_devices.len()).collect();
        for (i, m) in observed.dm_devices.iter().enumerate() {
            if m.kind == DmKind::Multipath {
                for s in &m.slaves {
                    ix.multipath_over.entry(s.as_str()).or_insert(i);
                }
                ix.dm_group[i] = *first_named.entry(m.kernel_name.as_str()).or_insert(i);
            }
        }
        // Attachments on one target usually follow each other: its number is looked up again
        // only when the target changes.
        let mut last: Option<(&Iqn, u32)> = None;
        for (i, a) in desired.iter().enumerate() {
            let tid = match last {
                Some((t, id)) if *t == a.target => id,
                _ => {
                    let next = u32::try_from(ix.target_ids.len()).unwrap_or(u32::MAX);
                    let id = *ix.target_ids.entry(&a.target).or_insert(next);
                    last = Some((&a.target, id));
                    id
                }
            };
            for p in &a.portals {
                ix.declared_portals.insert((tid, *p));
            }
            match ix.attachments_at.entry((tid, a.lun)) {
                Entry::Occupied(mut e) => e.get_mut().1.push(i),
                Entry::Vacant(e) => {
                    e.insert((i, Vec::new()));
                }
            }
            if a.policy.on_unexpected.is_some() || a.policy.force.is_some() {
                let o = ix.overrides.entry(tid).or_default();
                if a.policy.on_unexpected.is_some() {
                    o.0.get_or_insert(i);
                }
                if a.policy.force.is_some() {
                    o.1.get_or_insert(i);
                }
            }
        }
        ix
    }

    /// The session with id `sid`.
    pub(crate) fn session(&self, sid: u32) -> Option<&'a IscsiSession> {
        self.session_by_id.get(&sid).copied()
    }

    /// The session to `target` at `portal`.
    pub(crate) fn session_at(&self, target: &Iqn, portal: Portal) -> Option<&'a IscsiSession> {
        self.session_at.get(&(target, portal)).copied()
    }

    /// Whether a session other than `sid` has the same (target, portal, iface).
    pub(crate) fn node_shared(&self, sid: u32, target: &Iqn, portal: Portal, iface: &str) -> bool {
        self.sessions_by_node
            .get(&(target, portal, iface))
            .is_some_and(|ids| ids.iter().any(|&o| o != sid))
    }

    /// The host with number `n`.
    pub(crate) fn host(&self, n: u32) -> Option<&'a ScsiHost> {
        self.host.get(&n).copied()
    }

    /// The devices under session `sid`, in snapshot order.
    pub(crate) fn devices_of_session(&self, sid: u32) -> &[&'a ScsiDevice] {
        self.devices_of_session.get(&sid).map_or(&[], Vec::as_slice)
    }

    /// The device under session `sid` with LUN number `lun`.
    pub(crate) fn device_at(&self, sid: u32, lun: u64) -> Option<&'a ScsiDevice> {
        self.device_at.get(&(sid, lun)).copied()
    }

    /// The multipath map with `block` among its slaves, and its group: the position of the first
    /// multipath map with its kernel name.
    pub(crate) fn multipath_over(&self, block: &str) -> Option<(&'a DmDevice, usize)> {
        let i = *self.multipath_over.get(block)?;
        Some((self.observed_dm.get(i)?, self.group_of(i)))
    }

    /// The group of the dm device at position `i`: the position of the first multipath map with
    /// its kernel name (itself for any other device).
    pub(crate) fn group_of(&self, i: usize) -> usize {
        self.dm_group.get(i).copied().unwrap_or(i)
    }

    /// The first multipath map (in snapshot order) with any of `blocks` among its slaves.
    pub(crate) fn multipath_over_any<'b>(
        &self,
        blocks: impl IntoIterator<Item = &'b str>,
    ) -> Option<&'a DmDevice> {
        blocks
            .into_iter()
            .filter_map(|b| self.multipath_over.get(b).copied())
            .min()
            .and_then(|i| self.observed_dm.get(i))
    }

    /// Whether multipathd reports block device `block` failed.
    pub(crate) fn path_failed(&self, block: &str) -> bool {
        !self.failed_paths.is_empty() && self.failed_paths.contains(block)
    }

    /// Whether some attachment names `target`.
    pub(crate) fn declares_target(&self, target: &Iqn) -> bool {
        self.target_ids.contains_key(target)
    }

    /// Whether some attachment names `target` with `portal` among its portals.
    pub(crate) fn declares_portal(&self, target: &Iqn, portal: Portal) -> bool {
        self.target_ids
            .get(target)
            .is_some_and(|t| self.declared_portals.contains(&(*t, portal)))
    }

    /// Positions of the attachments at (`target`, `lun`), in file order.
    pub(crate) fn attachments_at(&self, target: &Iqn, lun: u64) -> impl Iterator<Item = usize> {
        self.target_ids
            .get(target)
            .and_then(|t| self.attachments_at.get(&(*t, lun)))
            .into_iter()
            .flat_map(|(first, rest)| std::iter::once(*first).chain(rest.iter().copied()))
    }

    /// Positions of the first attachment on one of `targets` overriding `on_unexpected`, and of
    /// the first overriding `force`.
    pub(crate) fn first_overrides(&self, targets: &[&Iqn]) -> (Option<usize>, Option<usize>) {
        let firsts = targets
            .iter()
            .filter_map(|t| self.overrides.get(self.target_ids.get(*t)?));
        let on = firsts.clone().filter_map(|o| o.0).min();
        let force = firsts.filter_map(|o| o.1).min();
        (on, force)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, BuildHasherDefault};

    use super::FxHasher;

    /// `sda`, `sdb`, … `sdaa`, … as the kernel names disks.
    fn sd_name(mut i: usize) -> String {
        let mut letters = Vec::new();
        i += 1;
        while i > 0 {
            i -= 1;
            letters.push(b'a' + (i % 26) as u8);
            i /= 26;
        }
        letters.reverse();
        format!("sd{}", String::from_utf8_lossy(&letters))
    }

    #[test]
    fn names_sharing_a_prefix_spread_over_the_low_bits() {
        // The table picks a bucket by the hash's low bits; without the final avalanche, 4,096
        // disk names landed in 32 buckets (planning 100,000 paths took seconds).
        let build = BuildHasherDefault::<FxHasher>::default();
        let buckets: HashSet<u64> = (0..4096)
            .map(|i| build.hash_one(sd_name(i).as_str()) & 4095)
            .collect();
        assert!(buckets.len() > 2000, "{} buckets", buckets.len());
        let luns: HashSet<u64> = (0..4096u64)
            .map(|l| build.hash_one((2u32, l)) & 4095)
            .collect();
        assert!(luns.len() > 2000, "{} buckets", luns.len());
    }
}
