//! `lunguard check`: validate the config and the state files, change nothing.
//!
//! Prints a one-line summary or every problem as `file:line:column: message`;
//! `--json` prints `{schema_version, ok, files, attachments, errors, error_count}`. Exit 0 when valid,
//! 1 when not. The config is checked first; if it is broken, the state files
//! are still checked (against the default scope) so one run shows everything.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::CheckArgs;
use crate::config::{self, Config, Diagnostic, IfMissing, LoadErrors, Ownership};
use crate::exit::Exit;
use crate::model::Attachment;

/// Why `check` could not run (validation failures are not errors: they are
/// its output).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Writing the output failed.
    #[error("cannot write check output: {0}")]
    Write(#[from] io::Error),
    /// Serializing JSON failed.
    #[error("cannot serialize check result as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// `check --json`'s version; fields are only ever added within one.
pub const SCHEMA_VERSION: u32 = 1;

/// The `--json` document.
#[derive(Debug, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Whether everything is valid.
    pub ok: bool,
    /// The state files read.
    pub files: Vec<PathBuf>,
    /// The attachments that are valid on their own.
    pub attachments: Vec<Attachment>,
    /// Every problem, at most [`MAX_ERRORS_PER_FILE`](crate::desire::MAX_ERRORS_PER_FILE)
    /// of each file and then one line counting
    /// the rest of that file's.
    pub errors: Vec<Diagnostic>,
    /// How many problems were found, including those not listed.
    pub error_count: usize,
}

/// Loads and validates as `args` say, without printing.
pub fn report(args: &CheckArgs, ownership: Ownership) -> Report {
    let (path, if_missing) = match &args.config {
        Some(p) => (p.clone(), IfMissing::Error),
        None => (PathBuf::from(config::DEFAULT_PATH), IfMissing::Defaults),
    };
    let mut errors = LoadErrors::default();
    let mut cfg = Config::load(&path, if_missing, ownership).unwrap_or_else(|e| {
        errors.extend(e.0);
        Config::default()
    });
    if let Some(dir) = &args.state_dir {
        cfg.state_dir = dir.clone();
    }
    let compiled = crate::desire::compile(&cfg, ownership);
    let error_count = errors.0.len() + compiled.error_count;
    errors.extend(compiled.errors.0);
    Report {
        schema_version: SCHEMA_VERSION,
        ok: errors.is_empty(),
        files: compiled.files,
        attachments: compiled.attachments,
        errors: errors.0,
        error_count,
    }
}

/// Runs `check` and prints the result.
pub fn run(args: &CheckArgs, out: &mut dyn Write) -> Result<Exit, CheckError> {
    let r = report(args, Ownership::for_this_process());
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &r)?;
        writeln!(out)?;
    } else {
        render_text(&r, out)?;
    }
    Ok(if r.ok { Exit::Ok } else { Exit::Findings })
}

fn render_text(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    for e in &r.errors {
        writeln!(out, "{e}")?;
    }
    let targets: BTreeSet<_> = r.attachments.iter().map(|a| &a.target).collect();
    let files = plural(r.files.len(), "file");
    if r.ok {
        writeln!(
            out,
            "{files}, {} on {}: ok",
            plural(r.attachments.len(), "attachment"),
            plural(targets.len(), "target")
        )
    } else {
        let with_errors: BTreeSet<&Path> = r.errors.iter().map(|e| e.file.as_path()).collect();
        writeln!(
            out,
            "{} in {}: not valid; nothing would be applied (the last good state stays in force)",
            plural(r.error_count, "error"),
            plural(with_errors.len(), "file")
        )
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
