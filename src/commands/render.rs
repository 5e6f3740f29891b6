//! Text shared by `plan` and `apply`: the desired-state line, findings and steps.

use std::io::{self, Write};

use crate::desire::Reload;
use crate::plan::{FindingKind, Plan, Subject};

/// One line on the desired state, then every load error (file:line:column: message).
pub fn reload(out: &mut dyn Write, reload: &Reload) -> io::Result<()> {
    match reload {
        Reload::Replaced { state, .. } => writeln!(
            out,
            "desired: {} attachment(s) from {} file(s)",
            state.attachments.len(),
            state.files.len()
        ),
        Reload::Kept { last_good, errors } => {
            match last_good {
                Some(s) => writeln!(
                    out,
                    "desired: state files REJECTED; keeping the last good state ({} attachment(s))",
                    s.attachments.len()
                )?,
                None => writeln!(
                    out,
                    "desired: state files REJECTED and no good state was ever loaded: nothing will be planned"
                )?,
            }
            for e in errors.iter() {
                writeln!(out, "  {e}")?;
            }
            Ok(())
        }
    }
}

/// Per-attachment status, then the other findings, then the steps.
pub fn plan(out: &mut dyn Write, plan: &Plan) -> io::Result<()> {
    let (att, other): (Vec<_>, Vec<_>) = plan
        .findings
        .iter()
        .partition(|f| matches!(f.subject, Subject::Attachment { .. }));
    if !att.is_empty() {
        writeln!(out, "attachments:")?;
        for f in att {
            if let Subject::Attachment { name } = &f.subject {
                writeln!(out, "  {name:<24} {}", f.kind)?;
            }
        }
    }
    let other: Vec<_> = other
        .into_iter()
        .filter(|f| f.kind != FindingKind::Converged)
        .collect();
    if !other.is_empty() {
        writeln!(out, "findings:")?;
        for f in other {
            writeln!(out, "  {f}")?;
        }
    }
    if plan.steps.is_empty() {
        writeln!(out, "plan: nothing to do")?;
    } else {
        writeln!(out, "plan: {} step(s)", plan.steps.len())?;
        for (i, s) in plan.steps.iter().enumerate() {
            writeln!(out, "  {:>2}. {s}", i + 1)?;
        }
    }
    Ok(())
}

/// Whether the plan leaves something for an operator: steps, or findings other than converged.
pub fn needs_attention(plan: &Plan) -> bool {
    !plan.steps.is_empty()
        || plan
            .findings
            .iter()
            .any(|f| f.kind != FindingKind::Converged)
}
