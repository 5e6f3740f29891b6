//! `lunguard history`: the action journal, newest last: what was intended, when, and how it
//! ended. An intent without an outcome is an action that was in flight when lunguard stopped.
//! While a daemon runs (it holds the database), the journal is asked over its control socket.

use std::io::Write;
use std::time::SystemTime;

use std::time::Duration;

use super::{CommandError, EngineArgs, load_config};
use crate::control::{self, Request};
use crate::desire::Store;
use crate::desire::store::{JournalEntry, Outcome, SledStore};
use crate::engine::EngineError;
use crate::exit::Exit;

/// Runs `history`. Exit 0; 1 when an entry has no outcome or failed; 2 when the database cannot
/// be opened (for example while the daemon holds it).
pub fn run(
    args: &EngineArgs,
    limit: usize,
    json: bool,
    out: &mut dyn Write,
) -> Result<Exit, CommandError> {
    let c = load_config(args)?;
    let from_daemon = if args.database.is_none() {
        control::ask(
            &c.control_socket,
            &Request::History(limit),
            Duration::from_secs(30),
        )?
    } else {
        None
    };
    let entries: Vec<JournalEntry> = match from_daemon {
        Some(reply) => serde_json::from_str(&reply)?,
        None => {
            let store = SledStore::open(&c.database).map_err(EngineError::from)?;
            store.history(limit).map_err(EngineError::from)?
        }
    };
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
            Some(Outcome::Changed | Outcome::WouldChange | Outcome::AlreadyConverged)
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
        Some(Outcome::WouldChange) => "would change (dry run)".to_owned(),
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
