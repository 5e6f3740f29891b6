//! `lunguard plan`: what a pass would do and why, without doing it. It records nothing but the
//! desired state (so a rejected edit is reported and the last good state kept, as the daemon
//! would).

use std::io::Write;
use std::time::SystemTime;

use serde::Serialize;

use super::{CommandError, EngineArgs, engine, render};
use crate::cli::Exit;
use crate::config::Diagnostic;
use crate::reconcile::Plan;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    desired_ok: bool,
    desired_errors: Vec<String>,
    attachments: usize,
    plan: Option<&'a Plan>,
}

/// Runs `plan`. Exit 0: converged, nothing to do; 1: steps or findings (or rejected state
/// files); 2: could not run.
pub fn run(args: &EngineArgs, json: bool, out: &mut dyn Write) -> Result<Exit, CommandError> {
    let engine = engine(args)?;
    let pass = engine.prepare(SystemTime::now())?;
    let errors: Vec<String> = match &pass.reload {
        crate::desire::Reload::Kept { errors, .. } => {
            errors.iter().map(Diagnostic::to_string).collect()
        }
        crate::desire::Reload::Replaced { .. } => Vec::new(),
    };
    if json {
        let doc = Document {
            schema_version: 1,
            desired_ok: errors.is_empty(),
            desired_errors: errors.clone(),
            attachments: pass.reload.state().map_or(0, |s| s.attachments.len()),
            plan: pass.plan.as_ref(),
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    } else {
        render::reload(out, &pass.reload)?;
        if let Some(plan) = &pass.plan {
            render::plan(out, plan)?;
        }
    }
    let attention = pass.plan.as_ref().is_none_or(render::needs_attention);
    Ok(if attention || !errors.is_empty() {
        Exit::Findings
    } else {
        Exit::Ok
    })
}
