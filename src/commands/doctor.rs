//! `lunguard doctor`: gathers what the audit (`crate::doctor`) needs from this host — its files,
//! `multipath -t`, the state files, the database's health — runs it and prints each finding
//! with the failure it leads to and its fix. Changes nothing.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::{CommandError, EngineArgs, load_config};
use crate::bounded::cmd::{self, Program, SEARCH_DIRS};
use crate::cli::DoctorArgs;
use crate::config::Ownership;
use crate::control::{self, Request};
use crate::doctor::{self, Finding, Inputs, Severity};
use crate::exit::Exit;

/// `doctor --json`'s version.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    /// No warning or critical finding (notes do not count).
    healthy: bool,
    findings: &'a [Finding],
}

/// Runs `doctor`: exit 0 healthy (notes only), 1 findings, 2 could not run.
pub fn run(args: &DoctorArgs, out: &mut dyn Write) -> Result<Exit, CommandError> {
    let cfg = load_config(&EngineArgs {
        config: args.config.clone(),
        ..EngineArgs::default()
    })?;
    let root = args.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    let compiled = crate::desire::compile(&cfg, Ownership::for_this_process());
    let (multipath, multipath_error) = multipath_config(args);
    let inputs = Inputs {
        proc: match &args.root {
            Some(r) => r.join("proc"),
            None => cfg.roots.proc.clone(),
        },
        root,
        multipath,
        multipath_error,
        state_errors: compiled.errors.iter().map(ToString::to_string).collect(),
        attachments: compiled.attachments,
        database_error: database_error(&cfg),
        heartbeat_secs: args.heartbeat,
    };
    let findings = doctor::audit(&inputs);
    let healthy = findings.iter().all(|f| f.severity == Severity::Note);
    if args.json {
        serde_json::to_writer_pretty(
            &mut *out,
            &Document {
                schema_version: SCHEMA_VERSION,
                healthy,
                findings: &findings,
            },
        )?;
        writeln!(out)?;
    } else {
        for f in &findings {
            let level = match f.severity {
                Severity::Note => "note",
                Severity::Warning => "WARNING",
                Severity::Critical => "CRITICAL",
            };
            writeln!(out, "{level} {} ({})", f.id, f.source)?;
            writeln!(out, "  {}", f.what)?;
            writeln!(out, "  leads to: {}", f.leads_to)?;
            writeln!(out, "  fix: {}", f.fix)?;
        }
        let counted = findings
            .iter()
            .filter(|f| f.severity > Severity::Note)
            .count();
        if healthy {
            writeln!(out, "healthy: no finding ({} note(s))", findings.len())?;
        } else {
            writeln!(out, "{counted} finding(s); docs/doctor.md explains each")?;
        }
    }
    Ok(if healthy { Exit::Ok } else { Exit::Findings })
}

/// The effective multipath configuration: `multipath -t` on the host; under `--root`, that
/// tree's /etc/multipath.conf (multipath-tools' built-in defaults are then not known, and keys
/// absent from the file are judged by their documented defaults).
fn multipath_config(args: &DoctorArgs) -> (Option<doctor::MultipathConfig>, Option<String>) {
    if let Some(root) = &args.root {
        let path = root.join("etc/multipath.conf");
        return match std::fs::read_to_string(&path) {
            Ok(t) => (Some(doctor::parse_multipath_config(&t)), None),
            Err(e) => (None, Some(format!("{}: {e}", path.display()))),
        };
    }
    let program = match Program::find("multipath", SEARCH_DIRS) {
        Ok(p) => p,
        Err(e) => return (None, Some(e.to_string())),
    };
    match cmd::run(&program, &["-t"], Duration::from_secs(10)) {
        Ok(o) if o.status.success() => (Some(doctor::parse_multipath_config(&o.stdout)), None),
        Ok(o) => (None, Some(format!("multipath -t: {}", o.stderr.trim()))),
        Err(e) => (None, Some(e.to_string())),
    }
}

/// Why the database is not usable, if it is not: a running daemon answering means it opened it;
/// otherwise it is opened (only if it exists: a read-only command must not create it).
fn database_error(cfg: &crate::config::Config) -> Option<String> {
    if let Ok(Some(_)) = control::ask(&cfg.control_socket, &Request::Plan, Duration::from_secs(10))
    {
        return None;
    }
    if !cfg.database.is_dir() {
        return None;
    }
    match crate::desire::store::SledStore::open(&cfg.database) {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}
