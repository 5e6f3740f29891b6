//! Rule 5, continued: a node record of an in-scope target left without a session — a detach
//! stopped between its logout and the record's deletion (a crash, SIGKILL), or a login that
//! failed after creating its record — is deleted, so no later `iscsiadm --loginall` (open-iscsi's
//! boot service) logs in again to what is not declared. Pure; no IO.
//!
//! Fail closed: never for an out-of-scope target; never while any session of the target at
//! that portal exists on the record's iface or on an iface sysfs did not name (a record in use
//! is the session rule's, which logs out first); never for a declared (target, portal). A
//! record lunguard did not leave (its target's intent was not removed) waits for the grace
//! period, from when it was first seen: it may be another tool's attach between creating the
//! record and logging in.

use super::classify;
use super::remove::Env;
use super::seen::KeyRef;
use crate::model::DeviceKey;
use crate::plan::Action;
use crate::plan::{Finding, FindingKind, Subject};

/// A planned deletion of a node record, and why.
#[derive(Debug)]
pub(crate) struct StaleRecord {
    pub action: Action,
    pub reason: String,
}

/// The node records to delete (see the module docs).
pub(crate) fn stale_records<'a>(
    env: &Env<'a>,
    seen: &mut Vec<KeyRef<'a>>,
    findings: &mut Vec<Finding>,
) -> Vec<StaleRecord> {
    let mut out = Vec::new();
    for r in &env.observed.node_records {
        let Some(scope) = classify::target_scope(&r.target, env.index, env.policy, env.ctx) else {
            continue;
        };
        let in_use = env.observed.iscsi_sessions.iter().any(|s| {
            s.target.as_ref() == Some(&r.target)
                && s.portal().is_none_or(|p| p == r.portal)
                && s.ifacename.as_deref().is_none_or(|i| i == r.iface)
        });
        if in_use {
            continue;
        }
        seen.push(KeyRef::Session {
            target: &r.target,
            portal: r.portal,
            iface: Some(&r.iface),
        });
        if env.index.declares_portal(&r.target, r.portal) {
            continue;
        }
        let subject = Subject::NodeRecord {
            target: r.target.clone(),
            portal: r.portal,
            iface: r.iface.clone(),
        };
        let intent_removed =
            env.ctx.known_targets.contains(&r.target) && !env.index.declares_target(&r.target);
        if !intent_removed {
            let key = DeviceKey::Session {
                target: r.target.clone(),
                portal: r.portal,
                iface: Some(r.iface.clone()),
            };
            if let Some(kind) = super::remove::waiting_for_grace(env, &key) {
                findings.push(Finding {
                    subject,
                    attachment: None,
                    kind,
                });
                continue;
            }
        }
        let reason = if intent_removed {
            format!(
                "intent removed: node record of {} left without a session",
                r.target
            )
        } else {
            format!("unwanted, in scope ({scope}), no declared LUN on this portal and no session")
        };
        findings.push(Finding {
            subject,
            attachment: None,
            kind: FindingKind::Unwanted {
                why: reason.clone(),
                action: env.policy.planned("delete node record"),
            },
        });
        out.push(StaleRecord {
            action: Action::DeleteNode {
                target: r.target.clone(),
                portal: r.portal,
                iface: r.iface.clone(),
            },
            reason,
        });
    }
    out
}
