//! `lunguard status`: take one snapshot and print it, as tables or JSON.
//!
//! Read-only. Owns the choice of roots from the flags and the exit code;
//! rendering is in `text` and `json`, both pure functions of a `Snapshot`.

pub mod desired;
mod grace;
mod json;
mod text;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::StatusArgs;
use crate::control::{self, Request};
use crate::engine::SnapshotDocument;
use crate::exit::Exit;
use crate::observe::{Roots, snapshot};
use crate::snapshot::Snapshot;

pub use json::{Provenance, SCHEMA_VERSION, render_json};
pub use text::render_text;

/// Why `status` could not run.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// A root directory to read from does not exist.
    #[error("{what} {path} does not exist or is not a directory (check {flag})")]
    RootMissing {
        /// Which root.
        what: &'static str,
        /// The path given or defaulted.
        path: PathBuf,
        /// The flag that sets it.
        flag: &'static str,
    },
    /// Writing the output failed.
    #[error("cannot write status output: {0}")]
    Write(#[from] io::Error),
    /// The config file is invalid (each error names file:line:column).
    #[error("invalid config:\n{0}")]
    Config(String),
    /// Serializing JSON failed.
    #[error("cannot serialize status as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Works out the roots from the flags and checks they exist. A fixture may
/// lack `dev/` (nothing but swap resolution uses it); every other root must
/// exist, so a typo is an error rather than an empty report.
pub fn roots_from_args(args: &StatusArgs) -> Result<Roots, StatusError> {
    let must_exist = |what, path: &Path, flag| {
        if path.is_dir() {
            Ok(())
        } else {
            Err(StatusError::RootMissing {
                what,
                path: path.to_owned(),
                flag,
            })
        }
    };
    if let Some(dir) = &args.fixture {
        must_exist("fixture directory", dir, "--fixture")?;
        let roots = Roots::fixture(dir);
        must_exist("fixture sysfs root", &roots.sys, "--fixture")?;
        must_exist("fixture procfs root", &roots.proc, "--fixture")?;
        return Ok(roots);
    }
    let d = Roots::default();
    let roots = Roots {
        sys: args.sysfs_root.clone().unwrap_or(d.sys),
        proc: args.proc_root.clone().unwrap_or(d.proc),
        dev: args.dev_root.clone().unwrap_or(d.dev),
        iscsi_nodes: args.iscsi_nodes_root.clone().unwrap_or(d.iscsi_nodes),
        multipath_wwids: d.multipath_wwids,
        udev_data: d.udev_data,
    };
    must_exist("sysfs root", &roots.sys, "--sysfs-root")?;
    must_exist("procfs root", &roots.proc, "--proc-root")?;
    if args.dev_root.is_some() {
        must_exist("dev root", &roots.dev, "--dev-root")?;
    }
    Ok(roots)
}

/// Runs `status`: snapshot, desired vs observed when state files are given (or the default
/// state directory exists), print; `Exit::Findings` if there were problems or an attachment is
/// not converged.
pub fn run(args: &StatusArgs, out: &mut dyn Write) -> Result<Exit, StatusError> {
    let roots = roots_from_args(args)?;
    let cached = if args.fresh || args.fixture.is_some() {
        None
    } else {
        from_daemon(args, &roots)
    };
    let (snap, from) = match cached {
        Some(doc) => (
            doc.snapshot,
            Provenance {
                source: "daemon",
                taken_at: doc.taken_at,
            },
        ),
        None => {
            tracing::debug!(?roots, "taking snapshot");
            let at = std::time::SystemTime::now();
            (
                snapshot(&roots),
                Provenance {
                    source: "status",
                    taken_at: crate::model::rfc3339(at),
                },
            )
        }
    };
    let host = args.fixture.is_none() && args.sysfs_root.is_none() && args.proc_root.is_none();
    let desired = desired_config(args)?.map(|c| {
        let ctx = grace::context(&c);
        let mut d = desired::evaluate_in(
            &c,
            crate::config::Ownership::for_this_process(),
            &snap,
            &ctx,
        );
        if host && let Some(unwanted) = grace::from_daemon(&c) {
            d.unwanted = unwanted;
        }
        d
    });
    print(&snap, &from, desired.as_ref(), args.json, out)?;
    let problems = snap.all_problems().len();
    let unconverged = desired.as_ref().is_some_and(|d| {
        !d.errors.is_empty()
            || !d.unwanted.is_empty()
            || d.attachments.iter().any(|a| a.state != "converged")
    });
    if problems > 0 || unconverged {
        tracing::info!(problems, unconverged, "status has findings");
        Ok(Exit::Findings)
    } else {
        Ok(Exit::Ok)
    }
}

/// The config whose state files `status` compares with, if any: `--config`, `--state-dir`, or
/// the default config when the default state directory exists.
fn desired_config(args: &StatusArgs) -> Result<Option<crate::config::Config>, StatusError> {
    use crate::config::{self, Config, IfMissing, Ownership};
    let explicit = args.config.is_some() || args.state_dir.is_some();
    let (path, if_missing) = match &args.config {
        Some(p) => (p.clone(), IfMissing::Error),
        None => (PathBuf::from(config::DEFAULT_PATH), IfMissing::Defaults),
    };
    let mut c = Config::load(&path, if_missing, Ownership::for_this_process())
        .map_err(|e| StatusError::Config(e.to_string()))?;
    if let Some(d) = &args.state_dir {
        c.state_dir = d.clone();
    }
    Ok((explicit || c.state_dir.is_dir()).then_some(c))
}

/// The running daemon's latest snapshot, when a daemon answers on the control socket of the
/// config (`--config`, else the default) and observes the same roots as this command would.
/// Any failure (no daemon, not root, another daemon's roots) means "read sysfs now".
fn from_daemon(args: &StatusArgs, roots: &crate::observe::Roots) -> Option<SnapshotDocument> {
    use crate::config::{self, Config, IfMissing, Ownership};
    let (path, if_missing) = match &args.config {
        Some(p) => (p.clone(), IfMissing::Error),
        None => (PathBuf::from(config::DEFAULT_PATH), IfMissing::Defaults),
    };
    let c = Config::load(&path, if_missing, Ownership::for_this_process()).ok()?;
    let reply = match control::ask(
        &c.control_socket,
        &Request::Snapshot,
        std::time::Duration::from_secs(30),
    ) {
        Ok(r) => r?,
        Err(e) => {
            tracing::debug!(error = %e, "status: no snapshot from the daemon; reading sysfs");
            return None;
        }
    };
    let doc: SnapshotDocument = match serde_json::from_str(&reply) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "status: the daemon's snapshot does not parse; reading sysfs");
            return None;
        }
    };
    let theirs = (&doc.sys, &doc.proc, &doc.dev, &doc.iscsi_nodes);
    if theirs != (&roots.sys, &roots.proc, &roots.dev, &roots.iscsi_nodes) {
        tracing::debug!(
            daemon = %doc.sys.display(),
            "status: the daemon observes other roots; reading sysfs"
        );
        return None;
    }
    Some(doc)
}

fn print(
    snap: &Snapshot,
    from: &Provenance,
    desired: Option<&desired::Desired>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), StatusError> {
    if json {
        out.write_all(render_json(snap, from, desired)?.as_bytes())?;
    } else {
        if from.source == "daemon" {
            writeln!(
                out,
                "(the running daemon's snapshot from its latest pass, taken at {}; --fresh reads sysfs now)\n",
                from.taken_at
            )?;
        }
        if let Some(d) = desired {
            out.write_all(desired::render(d).as_bytes())?;
        }
        out.write_all(render_text(snap).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}
