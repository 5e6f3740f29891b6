//! `plan()`: from desired state, a snapshot, the policy and the context to
//! an ordered `Plan` of steps plus findings. Pure: no IO, no clock (the time
//! is `Context::now`).
//!
//! Order of the steps: removals (one group per LUN), then logouts (each
//! needing the removals of its session's LUNs), then deletions of node records
//! left without a session, then removals of wwids-file entries lunguard added for LUNs that are
//! gone, then registrations of declared multipath WWIDs, logins, one-LUN scans
//! and multipath maps. Removing first means a LUN at a declared address
//! with the wrong WWID is gone before anything could scan its address again.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::model::{Attachment, Hctl, Iqn, Portal, Wwid};
use crate::snapshot::Snapshot;

use super::attach;
use super::context::Context;
use super::index::Index;
use super::policy::Policy;
use super::remove::{self, Candidate, Env};
use super::seen::KeyRef;
use super::sessions;
use crate::plan::Plan;
use crate::plan::{Action, GroupId, OnFailure, Step};
use crate::plan::{Finding, FindingKind, Subject};

#[derive(Default)]
struct Builder {
    steps: Vec<Step>,
    next: u32,
}

impl Builder {
    fn group(&mut self) -> GroupId {
        self.next += 1;
        GroupId(self.next)
    }

    fn push(
        &mut self,
        group: (GroupId, &[Iqn]),
        needs: &[GroupId],
        action: Action,
        reason: &str,
        on_failure: OnFailure,
    ) {
        self.steps.push(Step {
            action,
            reason: reason.to_owned(),
            on_failure,
            group: group.0,
            needs: needs.to_vec(),
            targets: group.1.to_vec(),
        });
    }
}

/// Plans one reconcile pass. See docs/planner.md for the rules.
pub fn plan(desired: &[Attachment], observed: &Snapshot, policy: &Policy, ctx: &Context) -> Plan {
    let index = Index::new(desired, observed, &ctx.path_states);
    let env = Env {
        desired,
        observed,
        policy,
        ctx,
        index: &index,
    };
    let mut findings = Vec::new();
    let mut seen: Vec<KeyRef<'_>> = Vec::new();
    let luns = super::classify::luns(desired, observed, &index, policy, ctx);

    let mut b = Builder::default();
    // Identities a unit attention put in doubt are re-read first where identity decides
    // anything: at a declared address (a remap would be taken for the declared LUN). At any other
    // address whatever LUN is there is unwanted, so its removal is not held back (holding it back
    // on every unit attention postponed it for as long as a burst of them lasted, seen in the VM).
    let mut rescans: Vec<Action> = Vec::new();
    for lun in luns.iter().filter(|l| l.in_scope) {
        for p in lun.paths.iter().filter(|p| {
            ctx.reverify.contains(&p.dev.hctl)
                && !matches!(p.intent, super::classify::Intent::Unwanted)
        }) {
            rescans.push(Action::RescanDevice {
                hctl: p.dev.hctl,
                wwid: p.dev.wwid.clone(),
            });
        }
    }
    for a in &rescans {
        let g = b.group();
        b.push(
            (g, &[]),
            &[],
            a.clone(),
            "a unit attention said its identity may have changed: re-read it before trusting the cached WWID",
            OnFailure::Continue,
        );
    }

    let rescanned: BTreeSet<Hctl> = rescans
        .iter()
        .filter_map(|a| match a {
            Action::RescanDevice { hctl, .. } => Some(*hctl),
            _ => None,
        })
        .collect();
    let mut candidates: Vec<Candidate> = Vec::new();
    for lun in luns.iter().filter(|l| l.in_scope) {
        seen.extend(super::seen::of_lun(lun));
        // A LUN at a declared address being re-read waits for its fresh identity.
        if lun.paths.iter().any(|p| rescanned.contains(&p.dev.hctl)) {
            continue;
        }
        if let Some(c) = remove::unwanted(&env, lun, &mut findings) {
            candidates.push(c);
        }
    }

    let mut removed: BTreeMap<Hctl, GroupId> = BTreeMap::new();
    let tripped = candidates.len() > policy.blast_radius;
    if tripped {
        findings.push(Finding {
            subject: Subject::Plan,
            attachment: None,
            kind: FindingKind::BlastRadius {
                count: candidates.len(),
                limit: policy.blast_radius,
            },
        });
    } else {
        for c in candidates {
            let g = b.group();
            for (action, rule) in c.steps {
                b.push((g, &c.targets), &[], action, &c.reason, rule);
            }
            removed.extend(c.removes.into_iter().map(|h| (h, g)));
        }
    }

    let logouts = sessions::logouts(&env, &removed, &mut seen, &mut findings);
    if !tripped {
        for l in logouts {
            let g = b.group();
            for a in l.actions {
                let t: Vec<Iqn> = a.target().cloned().into_iter().collect();
                b.push((g, &t), &l.needs, a, &l.reason, OnFailure::Stop);
            }
        }
    }
    let stale = super::nodes::stale_records(&env, &mut seen, &mut findings);
    if !tripped {
        for r in stale {
            let g = b.group();
            let t: Vec<Iqn> = r.action.target().cloned().into_iter().collect();
            b.push((g, &t), &[], r.action, &r.reason, OnFailure::Stop);
        }
    }

    // Not held back by the blast radius: no device is touched, and the entry is only ever one
    // lunguard added.
    for (a, r) in super::wwids::forget(desired, observed, &ctx.owned_wwids) {
        let g = b.group();
        b.push((g, &[]), &[], a, &r, OnFailure::Continue);
    }

    let mut attach_steps: Vec<(Action, String)> = Vec::new();
    let (mut registers, mut logins, mut scans, mut maps) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());

    for att in desired {
        let excluded = policy.scope.excludes_target(&att.target);
        let p = attach::attachment(&index, att, excluded, &mut findings);
        let why = |a: Action| (a, format!("declared by {}", att.name));
        if !excluded {
            let found = p.multipath.iter().find_map(|a| match a {
                Action::MultipathAdd { wwid, .. } => Some(wwid),
                _ => None,
            });
            if let Some(a) = super::wwids::register(att, found, ctx.wwids_file.as_ref()) {
                registers.push(why(a));
            }
        }
        logins.extend(p.logins.into_iter().map(why));
        scans.extend(p.scans.into_iter().map(why));
        maps.extend(p.multipath.into_iter().map(why));
    }
    // Two attachments on one target and portal need one login: the first one's is kept.
    let mut planned: HashSet<AttachKey> = HashSet::new();
    for (a, r) in registers.into_iter().chain(logins).chain(scans).chain(maps) {
        let new = match attach_key(&a) {
            Some(k) => planned.insert(k),
            None => !attach_steps.iter().any(|(x, _)| x == &a),
        };
        if new {
            attach_steps.push((a, r));
        }
    }
    for (a, r) in attach_steps {
        let g = b.group();
        let t: Vec<Iqn> = a.target().cloned().into_iter().collect();
        b.push((g, &t), &[], a, &r, OnFailure::Stop);
    }

    let (newly_seen, forgotten) = super::seen::split(seen, &ctx.first_seen);
    Plan {
        steps: b.steps,
        findings,
        newly_seen,
        forgotten,
    }
}

/// An attach action as a hashable value: equal keys exactly when the actions are equal, so
/// deduplicating thousands of scans on a large host is not a scan of the ones kept per action.
/// The patterns name every field, so a field added to one of these actions fails to compile
/// here instead of being left out of the comparison.
#[derive(PartialEq, Eq, Hash)]
enum AttachKey {
    Login(Iqn, Portal),
    Scan(Iqn, Hctl),
    Multipath(Wwid, String),
    Register(Wwid),
}

fn attach_key(a: &Action) -> Option<AttachKey> {
    match a {
        Action::Login { target, portal } => Some(AttachKey::Login(target.clone(), *portal)),
        Action::ScanLun { target, hctl } => Some(AttachKey::Scan(target.clone(), *hctl)),
        Action::MultipathAdd { wwid, path } => {
            Some(AttachKey::Multipath(wwid.clone(), path.clone()))
        }
        Action::RegisterWwid { wwid } => Some(AttachKey::Register(wwid.clone())),
        _ => None,
    }
}
