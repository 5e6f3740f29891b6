//! `lunguard apply --once`: run passes until the host converges (or stops making progress), with
//! a line per action and a summary. In `observe` mode, or with `--dry-run`, nothing is changed.

use std::io::Write;
use std::time::SystemTime;

use serde::Serialize;

use super::{CommandError, EngineArgs, engine, render};
use crate::act::{Counts, Report, StepReport};
use crate::config::Mode;
use crate::engine::{Engine, EngineError, MAX_PASSES, PASS_PAUSE};
use crate::exit::Exit;
use crate::plan::Plan;

/// `apply --json`'s version; fields are only ever added within one.
pub const SCHEMA_VERSION: u32 = 1;

/// `apply --json`: what the text says, for scripts (docs/cli.md).
#[derive(Debug, Serialize)]
pub struct ApplyDocument {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `"observe"` or `"enforce"`.
    pub mode: Mode,
    /// Nothing was changed (`--dry-run` or observe mode).
    pub dry_run: bool,
    /// Whether the state files loaded; when not, the last good state was used (or, if there
    /// never was one, nothing was planned).
    pub desired_ok: bool,
    /// Their errors, `file:line:column: message`.
    pub desired_errors: Vec<String>,
    /// Each pass: its plan (as `plan --json`'s) and what each step did.
    pub passes: Vec<PassDocument>,
    /// Step results over all passes.
    pub summary: Counts,
    /// Whether the host converged without failures, refusals or findings (exit 0).
    pub ok: bool,
}

/// One pass of `apply --json`.
#[derive(Debug, Serialize)]
pub struct PassDocument {
    /// 1, 2, …
    pub pass: usize,
    /// The plan that was executed.
    pub plan: Plan,
    /// What each step did, in order.
    pub steps: Vec<StepReport>,
}

/// Runs `apply --once`. Exit 0: converged with no failures; 1: failures, refusals or findings
/// left (in use, blast radius, rejected state files); 2: could not run.
pub fn run(
    args: &EngineArgs,
    dry_run: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<Exit, CommandError> {
    let engine = engine(args)?;
    if !json {
        return run_engine(&engine, dry_run, out).map(|(exit, _)| exit);
    }
    let (exit, doc) = run_engine(&engine, dry_run, &mut std::io::sink())?;
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(exit)
}

/// [`run`] over an engine already built (tests: the simulated host and an in-memory store):
/// writes the text to `out` and returns the JSON document as well.
pub fn run_engine(
    engine: &Engine,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<(Exit, ApplyDocument), CommandError> {
    let observe_only = engine.config().mode == Mode::Observe;
    let dry_run = dry_run || observe_only;
    // The daemon's constructor: removal markers included, so the udev rule sees them.
    let actuator = crate::engine::actuator_for(engine.config(), dry_run);
    let actuator = actuator.as_ref();
    if observe_only {
        writeln!(
            out,
            "mode = \"observe\": nothing will be changed (set mode = \"enforce\" in the config to act)"
        )?;
    }
    let mut total = Report::default();
    let mut doc = ApplyDocument {
        schema_version: SCHEMA_VERSION,
        mode: engine.config().mode,
        dry_run: dry_run || observe_only,
        desired_ok: true,
        desired_errors: Vec::new(),
        passes: Vec::new(),
        summary: Counts::default(),
        ok: false,
    };
    let mut rejected = false;
    let mut attention = false;
    for pass_no in 1..=MAX_PASSES {
        let now = SystemTime::now();
        let mut pass = engine.prepare(now)?;
        // Devices whose writes were lost (marked by the daemon or an earlier apply) stay kept.
        let mut marks = crate::daemon::retries::Retries::new(1);
        marks.restore_lost(engine.store().writeback_lost().map_err(EngineError::from)?);
        for gone in marks.prune_lost(&pass.snapshot) {
            engine
                .store()
                .forget_writeback_lost(&gone)
                .map_err(EngineError::from)?;
        }
        if let Some(p) = pass.plan.as_mut() {
            marks.filter(p);
        }
        if pass_no == 1 || matches!(pass.reload, crate::desire::Reload::Kept { .. }) {
            render::reload(out, &pass.reload)?;
        }
        if let crate::desire::Reload::Kept { errors, .. } = &pass.reload {
            rejected = true;
            doc.desired_ok = false;
            doc.desired_errors = errors.iter().map(ToString::to_string).collect();
        }
        let Some(plan) = &pass.plan else {
            attention = true;
            break;
        };
        // Dry run too: first-seen times are bookkeeping, not action; without them a dry run
        // could never show a removal past its grace period.
        engine.remember(plan, now)?;
        attention = render::needs_attention(plan);
        if plan.steps.is_empty() {
            if !dry_run {
                // Nothing to do, but the declared targets become lunguard's all the same (found
                // converged after another tool attached them): removing their intents later
                // must detach them.
                engine.execute(&pass, actuator)?;
            }
            if pass_no == 1 {
                render::plan(out, plan)?;
                doc.passes.push(PassDocument {
                    pass: pass_no,
                    plan: plan.clone(),
                    steps: Vec::new(),
                });
            }
            break;
        }
        writeln!(out, "pass {pass_no}:")?;
        render::plan(out, plan)?;
        let report = engine.execute(&pass, actuator)?;
        marks.record(plan, &report);
        for (dev, error) in marks.lost() {
            engine
                .store()
                .mark_writeback_lost(dev, error)
                .map_err(EngineError::from)?;
        }
        for s in &report.steps {
            writeln!(out, "  [{}] {}", s.result, s.line)?;
        }
        let progressed = report.counts().changed > 0;
        doc.passes.push(PassDocument {
            pass: pass_no,
            plan: plan.clone(),
            steps: report.steps.clone(),
        });
        total.steps.extend(report.steps);
        if dry_run || !progressed || !total.ok() {
            break;
        }
        std::thread::sleep(PASS_PAUSE);
    }
    writeln!(out, "summary: {}", total.summary())?;
    doc.summary = total.counts();
    doc.ok = total.ok() && !attention && !rejected;
    Ok((if doc.ok { Exit::Ok } else { Exit::Findings }, doc))
}
