//! The quarantine list: what rules/59-lunguard-quarantine.rules reads to tell a LUN nobody
//! declared from a declared one at its kernel `add`, before blkid, LVM, multipathd, udisks or
//! systemd claim it. Pure: the daemon writes it (`crate::quarantine`).
//!
//! A udev rule can test whether a file exists and substitute the kernel name of a parent it
//! matched, nothing more; so the list names SCSI hosts and addresses, both visible in a new
//! device's parent chain (`hostH`, `H:C:T:L`), instead of targets or WWIDs. Each iSCSI session
//! has its own SCSI host, so "the sessions of managed targets" is a set of hosts.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::model::{Attachment, Hctl, Iqn, Portal};
use crate::snapshot::{IscsiSession, Snapshot};

use super::classify::target_scope_declared;
use super::context::Context;
use super::policy::Policy;

/// The hosts whose new devices are quarantined unless declared, and the declared addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuarantineList {
    /// SCSI hosts of sessions to in-scope targets (declared, attached by lunguard, or matching
    /// the configured scope; never an excluded one).
    pub hosts: BTreeSet<u32>,
    /// Declared LUNs' addresses on those sessions: exactly what `Action::ScanLun` scans.
    pub declared: BTreeSet<Hctl>,
}

/// The list for this desired state and snapshot. It runs every pass, so it builds no planner
/// index (a large host's thousands of paths): only maps over the sessions, and one pass over the
/// devices for the channel and target id of the sessions declared LUNs are on. It answers as
/// the planner does: the session at (target, portal) and the first device of a session are the
/// first in snapshot order, as `Index` takes them, and a missing device means 0:0, as
/// `attach::channel_target` says.
pub fn quarantine_list(
    desired: &[Attachment],
    observed: &Snapshot,
    policy: &Policy,
    ctx: &Context,
) -> QuarantineList {
    let named: HashSet<&Iqn> = desired.iter().map(|a| &a.target).collect();
    let mut at: HashMap<(&Iqn, Portal), &IscsiSession> = HashMap::new();
    let mut out = QuarantineList::default();
    for s in &observed.iscsi_sessions {
        let Some(target) = s.target.as_ref() else {
            continue;
        };
        if let Some(p) = s.portal() {
            at.entry((target, p)).or_insert(s);
        }
        if let Some(host) = s.host
            && target_scope_declared(target, named.contains(target), policy, ctx).is_some()
        {
            out.hosts.insert(host);
        }
    }
    // (session, host, LUN) of each declared address whose session exists.
    let mut wanted: Vec<(u32, u32, u64)> = Vec::new();
    for att in desired {
        if policy.scope.excludes_target(&att.target) {
            continue;
        }
        for portal in &att.portals {
            if let Some(s) = at.get(&(&att.target, *portal))
                && let Some(host) = s.host
            {
                wanted.push((s.id, host, att.lun));
            }
        }
    }
    if wanted.is_empty() {
        return out;
    }
    let sids: HashSet<u32> = wanted.iter().map(|w| w.0).collect();
    let mut first: HashMap<u32, (u32, u32)> = HashMap::new();
    for d in &observed.devices {
        if let Some(sid) = d.iscsi_session
            && sids.contains(&sid)
        {
            first.entry(sid).or_insert((d.hctl.channel, d.hctl.target));
        }
    }
    for (sid, host, lun) in wanted {
        let (channel, target_id) = first.get(&sid).copied().unwrap_or((0, 0));
        out.declared
            .insert(Hctl::new(host, channel, target_id, lun));
    }
    out
}
