//! `Index`: the lookups the planner makes once per path, attachment or session, built once per
//! plan, so a plan costs one pass over each input instead of a scan of the snapshot (or of the
//! desired state) per attachment and per path (issue 8, goal 3).
//!
//! Every lookup answers exactly what the scan it replaces answered: the *first* match in input
//! order (snapshot order for observed objects, file order for attachments). The maps are only
//! ever looked up, never iterated, so their order never reaches a plan. Pure; no IO.

use std::collections::{HashMap, HashSet};

use crate::model::{Attachment, Iqn, Portal};
use crate::observe::{DmDevice, DmKind, IscsiSession, ScsiDevice, ScsiHost, Snapshot};

/// Lookups over one `(desired, observed)` pair.
#[derive(Debug, Default)]
pub(crate) struct Index<'a> {
    observed_dm: &'a [DmDevice],
    /// First session with each id.
    session_by_id: HashMap<u32, &'a IscsiSession>,
    /// First session with each (target, portal of its first connection that has one).
    session_at: HashMap<(&'a Iqn, Portal), &'a IscsiSession>,
    /// Ids of the sessions with each (target, portal, iface), in snapshot order.
    sessions_by_node: HashMap<(&'a Iqn, Portal, &'a str), Vec<u32>>,
    /// First host with each number.
    host: HashMap<u32, &'a ScsiHost>,
    /// The devices under each session, in snapshot order.
    devices_of_session: HashMap<u32, Vec<&'a ScsiDevice>>,
    /// First device under each (session, LUN number).
    device_at: HashMap<(u32, u64), &'a ScsiDevice>,
    /// Position in `observed.dm_devices` of the first multipath map with each block device among
    /// its slaves.
    multipath_over: HashMap<&'a str, usize>,
    /// Targets some attachment names.
    declared_targets: HashSet<&'a Iqn>,
    /// (target, portal) pairs some attachment names.
    declared_portals: HashSet<(&'a Iqn, Portal)>,
    /// Attachments at each target and LUN, their positions in file order. Nested rather than
    /// keyed by the pair so a lookup can borrow the answer with any target reference.
    attachments_at: HashMap<&'a Iqn, HashMap<u64, Vec<usize>>>,
    /// Per target, the position of the first attachment overriding `on_unexpected` and of the
    /// first overriding `force`.
    overrides: HashMap<&'a Iqn, (Option<usize>, Option<usize>)>,
}

impl<'a> Index<'a> {
    /// One pass over each input.
    pub(crate) fn new(desired: &'a [Attachment], observed: &'a Snapshot) -> Self {
        let mut ix = Self {
            observed_dm: &observed.dm_devices,
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
        for d in &observed.devices {
            if let Some(sid) = d.iscsi_session {
                ix.devices_of_session.entry(sid).or_default().push(d);
                ix.device_at.entry((sid, d.hctl.lun)).or_insert(d);
            }
        }
        for (i, m) in observed.dm_devices.iter().enumerate() {
            if m.kind == DmKind::Multipath {
                for s in &m.slaves {
                    ix.multipath_over.entry(s.as_str()).or_insert(i);
                }
            }
        }
        for (i, a) in desired.iter().enumerate() {
            ix.declared_targets.insert(&a.target);
            for p in &a.portals {
                ix.declared_portals.insert((&a.target, *p));
            }
            ix.attachments_at
                .entry(&a.target)
                .or_default()
                .entry(a.lun)
                .or_default()
                .push(i);
            let o = ix.overrides.entry(&a.target).or_default();
            if a.policy.on_unexpected.is_some() {
                o.0.get_or_insert(i);
            }
            if a.policy.force.is_some() {
                o.1.get_or_insert(i);
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

    /// The multipath map with `block` among its slaves.
    pub(crate) fn multipath_over(&self, block: &str) -> Option<&'a DmDevice> {
        self.multipath_over
            .get(block)
            .and_then(|&i| self.observed_dm.get(i))
    }

    /// The first multipath map (in snapshot order) with any of `blocks` among its slaves.
    pub(crate) fn multipath_over_any(&self, blocks: &[&str]) -> Option<&'a DmDevice> {
        blocks
            .iter()
            .filter_map(|b| self.multipath_over.get(b).copied())
            .min()
            .and_then(|i| self.observed_dm.get(i))
    }

    /// Whether some attachment names `target`.
    pub(crate) fn declares_target(&self, target: &Iqn) -> bool {
        self.declared_targets.contains(target)
    }

    /// Whether some attachment names `target` with `portal` among its portals.
    pub(crate) fn declares_portal(&self, target: &Iqn, portal: Portal) -> bool {
        self.declared_portals.contains(&(target, portal))
    }

    /// Positions of the attachments at (`target`, `lun`), in file order.
    pub(crate) fn attachments_at(&self, target: &Iqn, lun: u64) -> &[usize] {
        self.attachments_at
            .get(target)
            .and_then(|at| at.get(&lun))
            .map_or(&[], Vec::as_slice)
    }

    /// Positions of the first attachment on one of `targets` overriding `on_unexpected`, and of
    /// the first overriding `force`.
    pub(crate) fn first_overrides(&self, targets: &[&Iqn]) -> (Option<usize>, Option<usize>) {
        let firsts = targets.iter().filter_map(|t| self.overrides.get(*t));
        let on = firsts.clone().filter_map(|o| o.0).min();
        let force = firsts.filter_map(|o| o.1).min();
        (on, force)
    }
}
