//! Where `status` gets first-seen times, so "would remove at T" is the daemon's T and not a
//! fresh grace period: from the database when no daemon holds it (read only), else — for this
//! host's own roots — the running daemon's latest findings over its control socket. Either may
//! be missing (not root, no database yet): then status plans as if everything were seen now,
//! which only ever shows a removal later than it is, never earlier.

use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::control::{self, Request};
use crate::desire::Store;
use crate::desire::store::SledStore;
use crate::engine::PlanDocument;
use crate::model::DeviceKey;
use crate::plan::{FindingKind, Subject};
use crate::reconcile::Context;

/// A planner context at now with the database's first-seen times, if it can be read.
pub fn context(config: &Config) -> Context {
    let mut ctx = Context::at(SystemTime::now());
    // Opening creates a missing database: a read-only command must not.
    if !config.database.is_dir() {
        return ctx;
    }
    let seen = SledStore::open(&config.database).and_then(|s| s.seen());
    match seen {
        Ok(seen) => {
            for (key, at) in seen {
                if let Ok(k) = key.parse::<DeviceKey>() {
                    ctx.first_seen.insert(k, at);
                }
            }
        }
        Err(e) => tracing::debug!(error = %e, "status: no first-seen times from the database"),
    }
    ctx
}

/// The running daemon's unwanted findings (as `Desired::unwanted` lists them), or `None` when
/// no daemon answers.
pub fn from_daemon(config: &Config) -> Option<Vec<String>> {
    let reply = match control::ask(
        &config.control_socket,
        &Request::Plan,
        Duration::from_secs(5),
    ) {
        Ok(r) => r?,
        Err(e) => {
            tracing::debug!(error = %e, "status: the daemon's findings are not available");
            return None;
        }
    };
    let doc: PlanDocument = serde_json::from_str(&reply).ok()?;
    Some(
        doc.plan?
            .findings
            .iter()
            .filter(|f| f.attachment.is_none() && f.kind != FindingKind::Converged)
            .filter(|f| !matches!(f.subject, Subject::Attachment { .. }))
            .map(ToString::to_string)
            .collect(),
    )
}
