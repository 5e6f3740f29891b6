//! Rule 5: an in-scope session with no declared LUN and no device left
//! after this plan's removals is logged out and its node record deleted.
//! A session is (target, portal, iface): each is judged on its own devices,
//! logged out by its sid and its node record deleted with its iface, so a
//! logout never ends another iface's session to the same portal. A session
//! whose iface cannot be read is refused (fail closed). Pure; no IO.

use std::collections::BTreeMap;

use crate::model::Hctl;

use super::classify;
use super::remove::Env;
use super::seen::KeyRef;
use crate::model::DeviceKey;
use crate::plan::{Action, GroupId};
use crate::plan::{Finding, FindingKind, Subject};

/// A planned logout: actions, reason and the removal groups it waits for.
#[derive(Debug)]
pub(crate) struct Logout {
    pub actions: Vec<Action>,
    pub reason: String,
    pub needs: Vec<GroupId>,
}

/// Logouts for every unwanted in-scope session whose devices all go in this
/// plan. `removed` maps each path being deleted to its removal's group.
pub(crate) fn logouts<'a>(
    env: &Env<'a>,
    removed: &BTreeMap<Hctl, GroupId>,
    seen: &mut Vec<KeyRef<'a>>,
    findings: &mut Vec<Finding>,
) -> Vec<Logout> {
    let mut out = Vec::new();
    for s in &env.observed.iscsi_sessions {
        let (Some(target), Some(portal)) = (s.target.as_ref(), s.portal()) else {
            continue;
        };
        let Some(scope) = classify::target_scope(target, env.index, env.policy, env.ctx) else {
            continue;
        };
        let iface = s.ifacename.clone();
        let key = DeviceKey::Session {
            target: target.clone(),
            portal,
            iface: iface.clone(),
        };
        seen.push(KeyRef::Session {
            target,
            portal,
            iface: s.ifacename.as_deref(),
        });
        if env.index.declares_portal(target, portal) {
            continue;
        }
        let subject = Subject::Session {
            target: target.clone(),
            portal,
            iface: iface.clone(),
        };
        let devices: Vec<Hctl> = env
            .index
            .devices_of_session(s.id)
            .iter()
            .map(|d| d.hctl)
            .collect();
        if let Some(kept) = devices.iter().find(|h| !removed.contains_key(h)) {
            findings.push(Finding {
                subject,
                attachment: None,
                kind: FindingKind::Unwanted {
                    why: format!("{scope}, no declared LUN on this portal"),
                    action: format!("logout once its LUNs are gone ({kept} remains)"),
                },
            });
            continue;
        }
        let intent_removed =
            env.ctx.known_targets.contains(target) && !env.index.declares_target(target);
        // An empty session may be another tool's attach in flight (login
        // done, scan next): give it the grace period unless its intent was removed.
        if devices.is_empty()
            && !intent_removed
            && let Some(kind) = super::remove::waiting_for_grace(env, &key)
        {
            findings.push(Finding {
                subject,
                attachment: None,
                kind,
            });
            continue;
        }
        let Some(iface) = iface else {
            findings.push(Finding {
                subject,
                attachment: None,
                kind: FindingKind::Refused {
                    why: format!(
                        "session{} has no readable iface (sysfs ifacename): not logged out, since a logout that cannot name its iface may end another iface's session to {portal}",
                        s.id
                    ),
                },
            });
            continue;
        };
        let reason = if intent_removed {
            format!("intent removed: no attachment left for {target}")
        } else {
            format!("unwanted, in scope ({scope}), no declared LUN and no device left")
        };
        findings.push(Finding {
            subject,
            attachment: None,
            kind: FindingKind::Unwanted {
                why: reason.clone(),
                action: env.policy.planned("logout and delete node record"),
            },
        });
        let mut needs: Vec<GroupId> = devices
            .iter()
            .filter_map(|h| removed.get(h).copied())
            .collect();
        needs.sort();
        needs.dedup();
        let mut actions = vec![Action::Logout {
            target: target.clone(),
            portal,
            iface: iface.clone(),
            sid: s.id,
        }];
        // Another session on the same node record (node.session.nr_sessions > 1)
        // keeps the record: iscsiadm refuses to delete a record in use.
        let shared = env.index.node_shared(s.id, target, portal, &iface);
        if !shared {
            actions.push(Action::DeleteNode {
                target: target.clone(),
                portal,
                iface,
            });
        }
        out.push(Logout {
            actions,
            reason,
            needs,
        });
    }
    out
}
