//! Desired vs observed, per attachment, for `status`: runs the (pure) planner over the state
//! files and the snapshot and keeps only its verdict on each attachment. Read-only: the caller
//! may hand it the first-seen times from the database (so a device waiting for its grace period
//! shows when it would be removed), but nothing is written; `lunguard plan` shows the steps.

use std::time::SystemTime;

use serde::Serialize;

use crate::config::Config;
use crate::model::{Attachment, Iqn};
use crate::plan::{Finding, FindingKind, Plan, Subject, attachment_state};
use crate::reconcile::{self, Context};
use crate::snapshot::Snapshot;

/// One attachment's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentStatus {
    /// The attachment's name.
    pub name: String,
    /// Its target.
    pub target: Iqn,
    /// Its LUN.
    pub lun: u64,
    /// `converged`, `missing`, `wrong_wwid`, `degraded`, `in_use` or `unwanted`.
    pub state: &'static str,
    /// The planner's words.
    pub detail: String,
}

/// The desired state as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Desired {
    /// Per attachment, in name order; empty when the state files were rejected.
    pub attachments: Vec<AttachmentStatus>,
    /// Devices, maps and sessions in scope that no attachment wants, in the planner's words
    /// (unwanted, in use, waiting for the grace period, blast radius).
    pub unwanted: Vec<String>,
    /// Every finding that is not "converged", structured as `plan --json` gives them
    /// (`{subject: {type…}, attachment, kind: {kind…}}`): what scripts read instead of prose.
    pub findings: Vec<Finding>,
    /// Errors in the state files (file:line:column: message); the attachments are then not
    /// evaluated, since no good state is at hand without the database.
    pub errors: Vec<String>,
}

/// Evaluates the config's state files against `snap`, with no first-seen times (every unwanted
/// device is seen for the first time now).
pub fn evaluate(config: &Config, ownership: crate::config::Ownership, snap: &Snapshot) -> Desired {
    evaluate_in(config, ownership, snap, &Context::at(SystemTime::now()))
}

/// [`evaluate`] in a given context (first-seen times read from the database).
pub fn evaluate_in(
    config: &Config,
    ownership: crate::config::Ownership,
    snap: &Snapshot,
    ctx: &Context,
) -> Desired {
    match crate::desire::load_desired(config, ownership) {
        Ok(state) => {
            let policy = crate::engine::policy::from_config(config);
            let plan = reconcile::plan(&state.attachments, snap, &policy, ctx);
            let unwanted = plan
                .findings
                .iter()
                .filter(|f| f.attachment.is_none() && f.kind != FindingKind::Converged)
                .filter(|f| !matches!(f.subject, Subject::Attachment { .. }))
                .map(ToString::to_string)
                .collect();
            Desired {
                attachments: state
                    .attachments
                    .iter()
                    .map(|a| verdict(a, &plan))
                    .collect(),
                unwanted,
                findings: plan
                    .findings
                    .iter()
                    .filter(|f| f.kind != FindingKind::Converged)
                    .cloned()
                    .collect(),
                errors: Vec::new(),
            }
        }
        Err(errors) => Desired {
            attachments: Vec::new(),
            unwanted: Vec::new(),
            findings: Vec::new(),
            errors: errors.iter().map(ToString::to_string).collect(),
        },
    }
}

fn verdict(a: &Attachment, plan: &Plan) -> AttachmentStatus {
    let subject = Subject::Attachment {
        name: a.name.clone(),
    };
    let mine = plan
        .findings
        .iter()
        .filter(|f| f.subject == subject || f.attachment.as_deref() == Some(a.name.as_str()));
    let (state, worst) = attachment_state(mine);
    let detail = match worst {
        None => "no finding".to_owned(),
        Some(FindingKind::Converged) => String::new(),
        Some(FindingKind::Missing { what }) => what.clone(),
        Some(FindingKind::Degraded { why }) => why.clone(),
        Some(k) => k.to_string(),
    };
    AttachmentStatus {
        name: a.name.clone(),
        target: a.target.clone(),
        lun: a.lun,
        state,
        detail,
    }
}

/// The table printed above the topology.
pub fn render(d: &Desired) -> String {
    let mut s = String::new();
    if !d.errors.is_empty() {
        s.push_str("State files REJECTED (fix them; `lunguard check` shows the same):\n");
        for e in &d.errors {
            s.push_str(&format!("  {e}\n"));
        }
        s.push('\n');
        return s;
    }
    s.push_str("Attachments (desired vs observed)\n");
    let w = d
        .attachments
        .iter()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    s.push_str(&format!(
        "  {:<w$}  {:<10}  TARGET / LUN\n",
        "NAME", "STATE"
    ));
    for a in &d.attachments {
        s.push_str(&format!(
            "  {:<w$}  {:<10}  {} / {}",
            a.name, a.state, a.target, a.lun
        ));
        if !a.detail.is_empty() {
            s.push_str(&format!("  ({})", a.detail));
        }
        s.push('\n');
    }
    if !d.unwanted.is_empty() {
        s.push_str("Not declared (in scope)\n");
        for u in &d.unwanted {
            s.push_str(&format!("  {u}\n"));
        }
    }
    s.push('\n');
    s
}
