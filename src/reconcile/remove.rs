//! Rules 3, 4 and 6: what to do with an in-scope LUN (or some of its paths)
//! that no attachment wants: wait for grace, alert if in use, or plan the
//! removal sequence. Pure; no IO.

use std::time::{Duration, SystemTime};

use crate::model::{Attachment, DeviceKey, Hctl, Iqn, OnUnexpected, ScsiDeviceState, rfc3339};
use crate::snapshot::{DmDevice, Snapshot};

use super::classify::{self, Intent, Lun, PathView};
use super::context::Context;
use super::index::Index;
use super::policy::Policy;
use crate::plan::{Action, MapRef, OnFailure, PathRef};
use crate::plan::{Finding, FindingKind, Subject};
use crate::snapshot::PathState;

/// A removal that passed every check; the planner emits it unless the blast
/// radius is exceeded.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// Ordered actions with their failure rule.
    pub steps: Vec<(Action, OnFailure)>,
    /// Why, for every step's line.
    pub reason: String,
    /// Paths this removal deletes.
    pub removes: Vec<Hctl>,
    /// Targets of those paths.
    pub targets: Vec<Iqn>,
}

/// Inputs shared by every LUN.
pub(crate) struct Env<'a> {
    pub desired: &'a [Attachment],
    pub observed: &'a Snapshot,
    pub policy: &'a Policy,
    pub ctx: &'a Context,
    /// Lookups over `desired` and `observed`, built once a plan.
    pub index: &'a Index<'a>,
}

fn subject(p: &PathView<'_>) -> Subject {
    Subject::Path { hctl: p.dev.hctl }
}

/// The attachment a path's address belongs to, if any.
fn att_name(env: &Env<'_>, p: &PathView<'_>) -> Option<String> {
    match p.intent {
        Intent::Intended(i) | Intent::WrongWwid { attachment: i, .. } => {
            env.desired.get(i).map(|a| a.name.clone())
        }
        Intent::Unwanted => None,
    }
}

/// Decides about the unwanted part of one in-scope LUN, pushing findings.
pub(crate) fn unwanted(
    env: &Env<'_>,
    lun: &Lun<'_>,
    findings: &mut Vec<Finding>,
) -> Option<Candidate> {
    let partial = lun.is_intended();
    let paths: Vec<&PathView<'_>> = lun
        .paths
        .iter()
        .filter(|p| !matches!(p.intent, Intent::Intended(_)))
        .collect();
    // The map goes only if nothing on it is wanted.
    let map = if partial { None } else { lun.map };
    if paths.is_empty() && map.is_none() {
        return None;
    }
    let targets = lun.targets();
    let intent_removed = !targets.is_empty()
        && targets
            .iter()
            .all(|t| env.ctx.known_targets.contains(*t) && !env.index.declares_target(t));
    let dead = !partial && lun.map_is_dead(env.ctx);
    let why = reason(env, lun, &paths, intent_removed, dead);
    let (on_unexpected, force) = classify::overrides(&targets, env.desired, env.index, env.policy);
    for p in &paths {
        if let Intent::WrongWwid {
            expected, found, ..
        } = &p.intent
        {
            findings.push(Finding {
                subject: subject(p),
                attachment: att_name(env, p),
                kind: FindingKind::WrongWwid {
                    expected: expected.clone(),
                    found: found.clone(),
                },
            });
        }
    }
    let mut note = |kind: FindingKind| {
        for p in &paths {
            findings.push(Finding {
                subject: subject(p),
                attachment: att_name(env, p),
                kind: kind.clone(),
            });
        }
        if let Some(name) = map.and_then(|m| m.name.clone()) {
            findings.push(Finding {
                subject: Subject::Map { name },
                attachment: None,
                kind: kind.clone(),
            });
        }
    };
    if let Some(p) = paths.iter().find(|p| p.dev.wwid.is_none()) {
        note(FindingKind::Refused {
            why: format!(
                "{} has no readable WWID, so its identity cannot be re-verified before delete",
                p.dev.hctl
            ),
        });
        return None;
    }
    let own_map = lun.map.map(|m| m.kernel_name.as_str());
    let uses = classify::uses(&paths, map, own_map, env.observed, env.ctx);
    if !uses.used.is_empty() {
        let release = force && dead && queueing_held_only_by_open(env, &paths, map, own_map);
        let mut all = uses.used;
        all.extend(uses.unknown);
        let all = all.join("; ");
        note(FindingKind::InUse {
            why: if release {
                format!(
                    "{all}; dead map queueing I/O under force: queueing disabled so the writers blocked on it fail (data loss)"
                )
            } else {
                all
            },
        });
        // Under force, a dead map whose only user is its open count may be held by writers
        // that are blocked on the queue itself (every path is gone): fail_if_no_path releases
        // them (their writes fail), and a later pass removes the map once it is closed.
        return match (release, map.and_then(map_ref)) {
            (true, Some(m)) => Some(Candidate {
                steps: vec![(Action::DisableQueueing { map: m }, OnFailure::Continue)],
                reason: why,
                removes: Vec::new(),
                targets: targets.into_iter().cloned().collect(),
            }),
            _ => None,
        };
    }
    // Fail closed: a use signal that could not be read means "maybe in use".
    if !uses.unknown.is_empty() {
        note(FindingKind::Refused {
            why: format!("in use or not is unknown: {}", uses.unknown.join("; ")),
        });
        return None;
    }
    if on_unexpected == OnUnexpected::Alert && !intent_removed {
        note(FindingKind::Unwanted {
            why: why.clone(),
            action: "alert only (on_unexpected = alert)".into(),
        });
        return None;
    }
    if !intent_removed && let Some((left, due)) = grace_left(env, lun) {
        note(FindingKind::WaitingForGrace {
            remaining_secs: left.as_secs().max(1),
            removes_at: rfc3339(due),
        });
        return None;
    }
    if let Some(p) = paths
        .iter()
        .find(|p| p.dev.state == Some(ScsiDeviceState::Blocked))
    {
        note(FindingKind::Refused {
            why: format!(
                "{} is blocked (transport recovering): a delete would hang until it unblocks",
                p.dev.hctl
            ),
        });
        return None;
    }
    if map.is_some() && lun.map_path_states_unknown(env.ctx) {
        let name = map
            .and_then(|m| m.name.as_ref())
            .map_or_else(String::new, ToString::to_string);
        note(FindingKind::Refused {
            why: format!(
                "the path states of map {name} are unknown (neither device-mapper status nor multipathd answered): with every path down a flush could block on queued I/O"
            ),
        });
        return None;
    }
    // Paths leaving a map that stays (a portal no longer declared) are taken out of it first;
    // only while the map keeps a path known to be active, or it would queue or fail I/O.
    if let Some(m) = lun.map.filter(|_| map.is_none()) {
        let leaving: Vec<&str> = paths.iter().filter_map(|p| p.block_name()).collect();
        let active_left = m.slaves.iter().any(|s| {
            !leaving.contains(&s.as_str()) && env.ctx.path_states.get(s) == Some(&PathState::Active)
        });
        if !active_left {
            note(FindingKind::Refused {
                why: format!(
                    "taking {} out of map {} would leave it no path known to be active",
                    leaving.join(", "),
                    m.name
                        .as_ref()
                        .map_or(m.kernel_name.clone(), ToString::to_string)
                ),
            });
            return None;
        }
    }
    note(FindingKind::Unwanted {
        why: why.clone(),
        action: env.policy.planned("remove"),
    });
    let steps = sequence(env, &paths, lun.map, map, dead, force);
    Some(Candidate {
        steps,
        reason: why,
        removes: paths.iter().map(|p| p.dev.hctl).collect(),
        targets: targets.into_iter().cloned().collect(),
    })
}

fn reason(
    env: &Env<'_>,
    lun: &Lun<'_>,
    paths: &[&PathView<'_>],
    intent_removed: bool,
    dead: bool,
) -> String {
    let targets: Vec<String> = lun.targets().iter().map(ToString::to_string).collect();
    if intent_removed {
        return format!(
            "intent removed: no attachment left for {} (detach without grace)",
            targets.join(", ")
        );
    }
    if let Some((name, expected)) = paths.iter().find_map(|p| match &p.intent {
        Intent::WrongWwid {
            attachment,
            expected,
            ..
        } => env.desired.get(*attachment).map(|a| (&a.name, expected)),
        _ => None,
    }) {
        return format!("not ours: at the address declared for {name}, which expects {expected}");
    }
    let scope = paths
        .first()
        .and_then(|p| p.scope.as_deref())
        .unwrap_or("map first seen in scope");
    if dead {
        format!("unwanted, in scope ({scope}), all paths failed or gone, no intent")
    } else {
        format!("unwanted, in scope ({scope}), no intent")
    }
}

/// Time left before `lun` may be removed and when that is, or `None` when the
/// grace period has passed for every part of it. A key never seen before is
/// seen now.
fn grace_left(env: &Env<'_>, lun: &Lun<'_>) -> Option<(Duration, SystemTime)> {
    grace_left_of(env, lun.keys().iter())
}

/// [`grace_left`] for any keys (a session, a node record): the newest first-seen time counts.
pub(super) fn grace_left_of<'k>(
    env: &Env<'_>,
    keys: impl Iterator<Item = &'k DeviceKey>,
) -> Option<(Duration, SystemTime)> {
    let grace = env.policy.grace;
    let newest = keys
        .map(|k| env.ctx.first_seen.get(k).copied().unwrap_or(env.ctx.now))
        .max()?;
    // A clock that went backwards counts as "just seen": waiting is safe.
    let elapsed = env.ctx.now.duration_since(newest).unwrap_or(Duration::ZERO);
    (elapsed < grace).then(|| (grace - elapsed, env.ctx.now + (grace - elapsed)))
}

/// The finding of something kept for the rest of its grace period (`None`: the period is over).
pub(super) fn waiting_for_grace(env: &Env<'_>, key: &DeviceKey) -> Option<FindingKind> {
    grace_left_of(env, std::iter::once(key)).map(|(left, due)| FindingKind::WaitingForGrace {
        remaining_secs: left.as_secs().max(1),
        removes_at: rfc3339(due),
    })
}

/// Whether `map` queues I/O (`queue_if_no_path`) and its open count is the only use found:
/// the same checks without the open count find nothing.
fn queueing_held_only_by_open(
    env: &Env<'_>,
    paths: &[&PathView<'_>],
    map: Option<&DmDevice>,
    own_map: Option<&str>,
) -> bool {
    let Some(name) = map.and_then(|m| m.name.as_ref()) else {
        return false;
    };
    if !env.ctx.queue_if_no_path.contains(name) {
        return false;
    }
    let mut without = env.ctx.clone();
    without.open_counts.remove(name);
    let u = classify::uses(paths, map, own_map, env.observed, &without);
    u.used.is_empty() && u.unknown.is_empty()
}

fn map_ref(m: &DmDevice) -> Option<MapRef> {
    Some(MapRef {
        name: m.name.clone()?,
        kernel_name: m.kernel_name.clone(),
        uuid: m.uuid.clone(),
        dev: m.dev,
    })
}

/// The removal sequence: [fail_if_no_path (dead map, force)], BLKFLSBUF on
/// the map and each path (skipped on a dead map: it would block on queued
/// I/O), `multipath -f`, delete the paths in parallel, wait for them to go.
fn sequence(
    env: &Env<'_>,
    paths: &[&PathView<'_>],
    lun_map: Option<&DmDevice>,
    map: Option<&DmDevice>,
    dead: bool,
    force: bool,
) -> Vec<(Action, OnFailure)> {
    let flush_rule = if force {
        OnFailure::Continue
    } else {
        OnFailure::Stop
    };
    let mut steps = Vec::new();
    let mref = map.and_then(map_ref);
    // The map stays: each leaving path is taken out of it before its delete.
    if map.is_none()
        && let Some(live) = lun_map.and_then(map_ref)
        && let Some(m) = lun_map
    {
        for p in paths {
            if let (Some(b), Some(wwid)) = (p.block_name(), &p.dev.wwid)
                && m.slaves.iter().any(|s| s == b)
            {
                steps.push((
                    Action::RemoveFromMap {
                        map: live.clone(),
                        path: PathRef {
                            hctl: p.dev.hctl,
                            wwid: wwid.clone(),
                            block: Some(b.to_owned()),
                            dev: p.dev.block.as_ref().and_then(|b| b.dev),
                        },
                    },
                    OnFailure::Stop,
                ));
            }
        }
    }
    if let Some(m) = &mref
        && dead
        && force
    {
        steps.push((
            Action::DisableQueueing { map: m.clone() },
            OnFailure::Continue,
        ));
    }
    if !dead {
        // Partition maps first: data written through mpathXp1 sits in that device's cache.
        for p in map
            .map(|m| classify::partition_maps(m, env.observed))
            .unwrap_or_default()
        {
            if let Some(dev) = p.dev {
                steps.push((
                    Action::FlushBuffers {
                        name: p.kernel_name.clone(),
                        dev,
                    },
                    flush_rule,
                ));
            }
        }
        if let (Some(m), Some(dev)) = (&mref, map.and_then(|m| m.dev)) {
            steps.push((
                Action::FlushBuffers {
                    name: m.kernel_name.clone(),
                    dev,
                },
                flush_rule,
            ));
        }
        for p in paths {
            if let Some(b) = &p.dev.block
                && let Some(dev) = b.dev
            {
                steps.push((
                    Action::FlushBuffers {
                        name: b.name.clone(),
                        dev,
                    },
                    flush_rule,
                ));
            }
        }
    }
    if let Some(m) = &mref {
        steps.push((
            Action::FlushMap {
                map: m.clone(),
                retry: env.policy.flush,
            },
            flush_rule,
        ));
    }
    let refs: Vec<PathRef> = paths
        .iter()
        .filter_map(|p| {
            Some(PathRef {
                hctl: p.dev.hctl,
                wwid: p.dev.wwid.clone()?,
                block: p.dev.block.as_ref().map(|b| b.name.clone()),
                dev: p.dev.block.as_ref().and_then(|b| b.dev),
            })
        })
        .collect();
    if !refs.is_empty() {
        steps.push((
            Action::DeletePaths {
                map: lun_map.and_then(|m| m.name.clone()),
                paths: refs,
            },
            OnFailure::Stop,
        ));
    }
    steps.push((
        Action::WaitGone {
            paths: paths.iter().map(|p| p.dev.hctl).collect(),
            map: mref.map(|m| m.kernel_name),
            timeout: env.policy.wait_gone,
        },
        OnFailure::Stop,
    ));
    steps
}
