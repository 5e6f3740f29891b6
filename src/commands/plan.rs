//! `lunguard plan`: what a pass would do and why, without doing it. It records the desired state
//! (so a rejected edit is reported and the last good state kept, as the daemon would) and the
//! first-seen times of unwanted devices (bookkeeping, as the daemon's: the grace period starts
//! at the first look, so `plan` run twice shows the same "would remove at T"). While a daemon
//! runs, the plan of its latest pass is asked over the control socket.

use std::io::Write;
use std::time::{Duration, SystemTime};

use super::{CommandError, EngineArgs, engine, load_config, render};
use crate::control::{self, Request};
use crate::engine::PlanDocument;
use crate::exit::Exit;

/// How `plan` presents a [`PlanDocument`].
trait Present {
    fn exit(&self) -> Exit;
    fn print(&self, json: bool, out: &mut dyn Write) -> Result<(), CommandError>;
}

impl Present for PlanDocument {
    /// Exit 0 converged; 1 steps, findings or rejected state files.
    fn exit(&self) -> Exit {
        let attention = self.plan.as_ref().is_none_or(render::needs_attention);
        if attention || !self.desired_ok {
            Exit::Findings
        } else {
            Exit::Ok
        }
    }

    fn print(&self, json: bool, out: &mut dyn Write) -> Result<(), CommandError> {
        if json {
            serde_json::to_writer_pretty(&mut *out, self)?;
            writeln!(out)?;
            return Ok(());
        }
        if self.source == "daemon" {
            writeln!(out, "(the running daemon's latest pass)")?;
        }
        if self.desired_ok {
            writeln!(out, "desired: {} attachment(s)", self.attachments)?;
        } else {
            writeln!(
                out,
                "desired: state files REJECTED; in force: {} attachment(s) of the last good state",
                self.attachments
            )?;
            for e in &self.desired_errors {
                writeln!(out, "  {e}")?;
            }
        }
        match &self.plan {
            Some(p) => render::plan(out, p)?,
            None => writeln!(
                out,
                "no good desired state was ever loaded: nothing is planned"
            )?,
        }
        Ok(())
    }
}

/// Runs `plan`. Exit 0: converged, nothing to do; 1: steps or findings (or rejected state
/// files); 2: could not run.
pub fn run(args: &EngineArgs, json: bool, out: &mut dyn Write) -> Result<Exit, CommandError> {
    let plain = args.fixture.is_none() && args.database.is_none() && args.state_dir.is_none();
    if plain {
        let config = load_config(args)?;
        let timeout = Duration::from_secs(30);
        if let Some(reply) = control::ask(&config.control_socket, &Request::Plan, timeout)? {
            let doc: PlanDocument = serde_json::from_str(&reply)?;
            doc.print(json, out)?;
            return Ok(doc.exit());
        }
    }
    let engine = engine(args)?;
    let now = SystemTime::now();
    let pass = engine.prepare(now)?;
    // A recording's devices are not this host's: with `--fixture`, first-seen times go only to a
    // database named with `--database`, never to the host's (where a recorded key would start a
    // real device's grace period early).
    if let Some(plan) = &pass.plan
        && (args.fixture.is_none() || args.database.is_some())
    {
        engine.remember(plan, now)?;
    }
    let doc = PlanDocument::of(&pass, "plan").with_mode(engine.config().mode);
    if json {
        doc.print(true, out)?;
    } else {
        render::reload(out, &pass.reload)?;
        if let Some(plan) = &pass.plan {
            render::plan(out, plan)?;
        }
    }
    Ok(doc.exit())
}
