//! `lunguard status`: take one snapshot and print it, as tables or JSON.
//!
//! Read-only. Owns the choice of roots from the flags and the exit code;
//! rendering is in `text` and `json`, both pure functions of a `Snapshot`.

mod json;
mod text;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::{Exit, StatusArgs};
use crate::observe::{Roots, Snapshot, snapshot};

pub use json::{SCHEMA_VERSION, render_json};
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
    };
    must_exist("sysfs root", &roots.sys, "--sysfs-root")?;
    must_exist("procfs root", &roots.proc, "--proc-root")?;
    if args.dev_root.is_some() {
        must_exist("dev root", &roots.dev, "--dev-root")?;
    }
    Ok(roots)
}

/// Runs `status`: snapshot, print, and `Exit::Findings` if there were problems.
pub fn run(args: &StatusArgs, out: &mut dyn Write) -> Result<Exit, StatusError> {
    let roots = roots_from_args(args)?;
    tracing::debug!(?roots, "taking snapshot");
    let snap = snapshot(&roots);
    print(&snap, args.json, out)?;
    let problems = snap.all_problems().len();
    if problems > 0 {
        tracing::info!(problems, "snapshot has problems");
        Ok(Exit::Findings)
    } else {
        Ok(Exit::Ok)
    }
}

fn print(snap: &Snapshot, json: bool, out: &mut dyn Write) -> Result<(), StatusError> {
    if json {
        out.write_all(render_json(snap)?.as_bytes())?;
    } else {
        out.write_all(render_text(snap).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}
