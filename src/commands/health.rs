//! `lunguard health`: is a daemon running here, and is its loop still running passes? For
//! liveness probes (the Kubernetes DaemonSet's, a monitoring check): a daemon that answers but
//! whose latest pass is older than `--max-age` is stuck (the periodic resync runs a pass at
//! least every `daemon.resync_interval`, 5 minutes by default).

use std::io::Write;
use std::time::{Duration, SystemTime};

use super::{CommandError, EngineArgs, load_config};
use crate::cli::HealthArgs;
use crate::control::{self, ControlError, Request};
use crate::engine::HealthDocument;
use crate::exit::Exit;
use crate::model::parse_rfc3339;

/// Runs `health`: exit 0 alive, 1 answering but stale (or before its first pass), 2 no daemon.
pub fn run(args: &HealthArgs, out: &mut dyn Write) -> Result<Exit, CommandError> {
    let cfg = load_config(&EngineArgs {
        config: args.config.clone(),
        ..EngineArgs::default()
    })?;
    let reply = match control::ask(
        &cfg.control_socket,
        &Request::Health,
        Duration::from_secs(10),
    ) {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Err(CommandError::NoDaemon(format!(
                "no daemon answers on {}",
                cfg.control_socket.display()
            )));
        }
        Err(ControlError::Refused(why)) => {
            writeln!(out, "not ready: {why}")?;
            return Ok(Exit::Findings);
        }
        Err(e) => return Err(e.into()),
    };
    let doc: HealthDocument = serde_json::from_str(&reply)?;
    let age = parse_rfc3339(&doc.last_pass_at)
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default();
    let stale = age > args.max_age;
    writeln!(
        out,
        "{}: last pass at {} ({} s ago; limit {} s), mode {}",
        if stale { "stale" } else { "alive" },
        doc.last_pass_at,
        age.as_secs(),
        args.max_age.as_secs(),
        serde_json::to_value(doc.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    )?;
    Ok(if stale { Exit::Findings } else { Exit::Ok })
}
