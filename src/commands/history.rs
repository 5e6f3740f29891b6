//! `lunguard history`: the action journal, newest last: what was intended, when, and how it
//! ended. An intent without an outcome is an action that was in flight when lunguard stopped.

use std::io::Write;
use std::time::SystemTime;

use super::{CommandError, EngineArgs};
use crate::cli::Exit;
use crate::config::{self, Config, IfMissing, Ownership};
use crate::desire::Store;
use crate::desire::store::{JournalEntry, Outcome, SledStore};
use crate::engine::EngineError;

/// Runs `history`. Exit 0; 1 when an entry has no outcome or failed; 2 when the database cannot
/// be opened (for example while the daemon holds it).
pub fn run(
    args: &EngineArgs,
    limit: usize,
    json: bool,
    out: &mut dyn Write,
) -> Result<Exit, CommandError> {
    let ownership = Ownership::for_this_process();
    let (path, if_missing) = match &args.config {
        Some(p) => (p.clone(), IfMissing::Error),
        None => (config::DEFAULT_PATH.into(), IfMissing::Defaults),
    };
    let mut c = Config::load(&path, if_missing, ownership).map_err(CommandError::Config)?;
    if let Some(d) = &args.database {
        c.database = d.clone();
    }
    let store = SledStore::open(&c.database).map_err(EngineError::from)?;
    let entries = store.history(limit).map_err(EngineError::from)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &entries)?;
        writeln!(out)?;
    } else if entries.is_empty() {
        writeln!(out, "journal is empty")?;
    } else {
        for e in &entries {
            writeln!(out, "{}", line(e))?;
        }
    }
    let attention = entries.iter().any(|e| {
        !matches!(
            e.outcome.as_ref().map(|o| &o.outcome),
            Some(Outcome::Changed | Outcome::AlreadyConverged)
        )
    });
    Ok(if attention { Exit::Findings } else { Exit::Ok })
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn line(e: &JournalEntry) -> String {
    let outcome = match e.outcome.as_ref().map(|o| &o.outcome) {
        Some(Outcome::Changed) => "changed".to_owned(),
        Some(Outcome::AlreadyConverged) => "already converged".to_owned(),
        Some(Outcome::Failed { error }) => format!("FAILED: {error}"),
        Some(Outcome::Interrupted) => "interrupted".to_owned(),
        None => "NO OUTCOME (in flight when lunguard stopped)".to_owned(),
    };
    format!(
        "{} @{} {} -> {outcome}",
        e.id,
        secs(e.intent.at),
        e.intent.action
    )
}
