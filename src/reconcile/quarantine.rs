//! The quarantine list: what rules/59-lunguard-quarantine.rules reads to tell a LUN nobody
//! declared from a declared one at its kernel `add`, before blkid, LVM, multipathd, udisks or
//! systemd claim it. Pure: the daemon writes it (`crate::quarantine`).
//!
//! A udev rule can test whether a file exists and substitute the kernel name of a parent it
//! matched, nothing more; so the list names SCSI hosts and addresses, both visible in a new
//! device's parent chain (`hostH`, `H:C:T:L`), instead of targets or WWIDs. Each iSCSI session
//! has its own SCSI host, so "the sessions of managed targets" is a set of hosts.

use std::collections::BTreeSet;

use crate::model::{Attachment, Hctl};
use crate::snapshot::Snapshot;

use super::attach::channel_target;
use super::classify::target_scope;
use super::context::Context;
use super::index::Index;
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

/// The list for this desired state and snapshot.
pub fn quarantine_list(
    desired: &[Attachment],
    observed: &Snapshot,
    policy: &Policy,
    ctx: &Context,
) -> QuarantineList {
    let index = Index::new(desired, observed, &ctx.path_states);
    let mut out = QuarantineList::default();
    for s in &observed.iscsi_sessions {
        let (Some(host), Some(target)) = (s.host, s.target.as_ref()) else {
            continue;
        };
        if target_scope(target, &index, policy, ctx).is_some() {
            out.hosts.insert(host);
        }
    }
    for att in desired {
        if policy.scope.excludes_target(&att.target) {
            continue;
        }
        for portal in &att.portals {
            let Some(s) = index.session_at(&att.target, *portal) else {
                continue;
            };
            let Some(host) = s.host else { continue };
            let (channel, target_id) = channel_target(&index, s.id);
            out.declared
                .insert(Hctl::new(host, channel, target_id, att.lun));
        }
    }
    out
}
