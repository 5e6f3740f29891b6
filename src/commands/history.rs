//! `lunguard history`: the action journal, newest first: what was intended, when, and how it
//! ended. An intent without an outcome is an action that was in flight when lunguard stopped.
//! While a daemon runs (it holds the database), the journal is asked over its control socket.

use std::io::Write;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{CommandError, EngineArgs, load_config};
use crate::control::{self, Request};
use crate::desire::Store;
use crate::desire::store::{JournalEntry, Outcome, SledStore};
use crate::engine::EngineError;
use crate::exit::Exit;
use crate::model::Utc;

/// Runs `history`. Exit 0; 1 when an entry has no outcome or failed; 2 when the database cannot
/// be opened (for example while the daemon holds it).
pub fn run(
    args: &EngineArgs,
    limit: usize,
    filter: &Filter,
    json: bool,
    out: &mut dyn Write,
) -> Result<Exit, CommandError> {
    let c = load_config(args)?;
    // Filters apply before the limit ("the newest 20 flushes"), so a filtered query reads the
    // whole journal (at most HISTORY_LIMIT finished entries plus the unfinished ones).
    let fetch = if filter.is_empty() { limit } else { usize::MAX };
    let from_daemon = if args.database.is_none() {
        control::ask(
            &c.control_socket,
            &Request::History(fetch),
            Duration::from_secs(30),
        )?
    } else {
        None
    };
    let mut entries: Vec<JournalEntry> = match from_daemon {
        Some(reply) => serde_json::from_str(&reply)?,
        None => {
            let store = SledStore::open(&c.database).map_err(EngineError::from)?;
            store.history(fetch).map_err(EngineError::from)?
        }
    };
    // Newest first, as the store returns them.
    entries.retain(|e| filter.keeps(e));
    entries.truncate(limit);
    if json {
        let doc = HistoryDocument {
            schema_version: SCHEMA_VERSION,
            entries: entries.iter().map(EntryView::from).collect(),
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    } else if entries.is_empty() && filter.is_empty() {
        writeln!(out, "journal is empty")?;
    } else if entries.is_empty() {
        writeln!(out, "no journal entry matches")?;
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

/// `history --json`'s version: 2 since times became RFC 3339 strings and the document an
/// object (1 was a bare array of stored entries with `{secs_since_epoch, nanos_since_epoch}`).
pub const SCHEMA_VERSION: u32 = 2;

/// Which entries `history` shows: intents decided in `[since, until)` of one of `kinds` (all
/// kinds when empty).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Decided at or after.
    pub since: Option<SystemTime>,
    /// Decided before.
    pub until: Option<SystemTime>,
    /// Action kinds ([`crate::plan::Action::KINDS`]).
    pub kinds: Vec<String>,
}

impl Filter {
    fn is_empty(&self) -> bool {
        self.since.is_none() && self.until.is_none() && self.kinds.is_empty()
    }

    fn keeps(&self, e: &JournalEntry) -> bool {
        self.since.is_none_or(|t| e.intent.at >= t)
            && self.until.is_none_or(|t| e.intent.at < t)
            && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind(e)))
    }
}

/// The action kind of an entry: the journal key starts with it (`engine::journal`).
fn kind(e: &JournalEntry) -> &str {
    e.intent.key.split_whitespace().next().unwrap_or("")
}

#[derive(Serialize)]
struct HistoryDocument<'a> {
    schema_version: u32,
    entries: Vec<EntryView<'a>>,
}

/// One entry as scripts read it: flat, RFC 3339 times. The stored form stays as it is (the
/// database must keep decoding).
#[derive(Serialize)]
struct EntryView<'a> {
    id: u64,
    kind: &'a str,
    key: &'a str,
    action: &'a str,
    at: Utc,
    /// `null` for an intent without an outcome (in flight when lunguard stopped).
    outcome: Option<OutcomeView<'a>>,
}

#[derive(Serialize)]
struct OutcomeView<'a> {
    at: Utc,
    #[serde(flatten)]
    outcome: &'a Outcome,
}

impl<'a> From<&'a JournalEntry> for EntryView<'a> {
    fn from(e: &'a JournalEntry) -> Self {
        Self {
            id: e.id.0,
            kind: kind(e),
            key: &e.intent.key,
            action: &e.intent.action,
            at: Utc(e.intent.at),
            outcome: e.outcome.as_ref().map(|o| OutcomeView {
                at: Utc(o.at),
                outcome: &o.outcome,
            }),
        }
    }
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
        "{} {} {} -> {outcome}",
        e.id,
        Utc(e.intent.at),
        e.intent.action
    )
}
