//! The command-line grammar (clap); the exit codes are [`crate::exit`].
//!
//! Parsing only: commands live in their own modules (`status`, …) and the
//! binary (`main.rs`) dispatches.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  findings or validation failure (e.g. status reported problems)
  2  usage or runtime error
  3  the database is damaged or its filesystem full: nothing done (see the message)";

/// What `lunguard --version` prints after the name: the version and the commit it was built
/// from (build.rs; "unknown" outside a git checkout unless `LUNGUARD_COMMIT` is set), so a bug
/// report names the exact source. `-V` prints the plain version, and so do the man pages
/// (they must not change at every commit).
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("LUNGUARD_COMMIT"),
    ")"
);

/// lunguard keeps SCSI, iSCSI and multipath devices exactly as declared.
#[derive(Debug, Parser)]
#[command(name = "lunguard", version, long_version = LONG_VERSION, after_help = EXIT_CODES)]
pub struct Cli {
    /// More logging on stderr: -v info, -vv debug, -vvv trace (default: warnings).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the kernel's view: iSCSI targets and sessions, SCSI paths grouped by WWID,
    /// multipath maps with their holders and mounts, and any problems reading them.
    #[command(after_help = EXIT_CODES)]
    Status(StatusArgs),

    /// Validate the config file and the state files without changing anything:
    /// print a summary, or every problem as file:line:column: message.
    #[command(after_help = EXIT_CODES)]
    Check(CheckArgs),

    /// Show what one reconcile pass would do and why: each attachment's state (converged,
    /// missing, wrong WWID, degraded), each unwanted device (waiting for grace, in use, to be
    /// removed) and the ordered steps. Changes nothing but the stored desired state.
    #[command(after_help = EXIT_CODES)]
    Plan(PlanArgs),

    /// Bring the host to the declared state once: attach missing LUNs (narrowed scans only),
    /// flush and remove unwanted ones, log out of sessions nobody needs, then print a summary.
    /// In `mode = "observe"` nothing is changed. The guard loop is `lunguard daemon`.
    #[command(after_help = EXIT_CODES)]
    Apply(ApplyArgs),

    /// Show the action journal: every intent recorded before acting and its outcome
    /// (changed, already converged, failed, or none when lunguard stopped mid-action).
    #[command(after_help = EXIT_CODES)]
    History(HistoryArgs),

    /// Run the guard: subscribe to uevents, watch the state directory, then keep the host as
    /// declared — a debounced pass after every relevant kernel event or state edit, a full
    /// resync on netlink overflow and periodically. Findings and actions go to journald.
    /// Signals: TERM/INT finish the action in flight and exit 0; HUP reloads config and state;
    /// USR1 writes a status dump to the log. Runs under systemd as Type=notify (READY after the
    /// first full pass, WATCHDOG, STATUS, STOPPING).
    ///
    /// A damaged database, or a full filesystem under it, is refused (exit 3).
    /// Test aid, not for production: LUNGUARD_TEST_KILL_AFTER_INTENT=N SIGKILLs the process
    /// right after its N-th journal intent is on disk.
    #[command(after_help = EXIT_CODES)]
    Daemon(DaemonArgs),

    /// Watch the guard work on a machine without SCSI: the real daemon loop against a built-in
    /// simulated host (an iSCSI array with 4 LUNs on 2 portals, multipathd) — a declared attach
    /// by narrowed scans, a detach, then another process's broad rescan bringing LUNs back and
    /// the guard removing them, with the alert lines journald would get. Under a minute; touches
    /// nothing outside a scratch directory.
    #[command(after_help = EXIT_CODES)]
    Demo(DemoArgs),
}

/// Arguments of `lunguard demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the scratch directory (simulated sysfs, state files, database) and print its path.
    #[arg(long)]
    pub keep: bool,
}

/// Arguments of `lunguard daemon`.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Config file (default /etc/lunguard/lunguard.toml, which may be absent); re-read on HUP.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Arguments of `lunguard history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Config and database overrides.
    #[command(flatten)]
    pub engine: EngineOpts,

    /// How many of the newest entries to show.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,

    /// Print JSON (an array of journal entries).
    #[arg(long)]
    pub json: bool,
}

/// Overrides shared by `plan` and `apply`.
#[derive(Debug, Args)]
pub struct EngineOpts {
    /// Config file (default /etc/lunguard/lunguard.toml, which may be absent).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// State directory instead of the config's state_dir.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Database directory instead of the config's database (it is single-process: a
    /// running daemon holds it).
    #[arg(long, value_name = "DIR")]
    pub database: Option<PathBuf>,
}

/// Arguments of `lunguard plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Config, state and database overrides.
    #[command(flatten)]
    pub engine: EngineOpts,

    /// Plan against a recorded fixture (DIR/sys, DIR/proc) instead of this host.
    #[arg(long, value_name = "DIR")]
    pub fixture: Option<PathBuf>,

    /// Print JSON (the plan's steps and findings) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `lunguard apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Config, state and database overrides.
    #[command(flatten)]
    pub engine: EngineOpts,

    /// Run until converged (at most a few passes) and exit. Required: the continuous guard
    /// is `lunguard daemon`.
    #[arg(long, required = true)]
    pub once: bool,

    /// Print what would be done; change nothing (the same as `plan`, in apply's format).
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `lunguard check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Config file (default /etc/lunguard/lunguard.toml, which may be absent; a
    /// file given here must exist).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// State directory to check instead of the config's state_dir.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Print JSON {ok, files, attachments, errors} (docs/state-files.md).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `lunguard status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON (schema in docs/status-json.md) instead of tables.
    #[arg(long)]
    pub json: bool,

    /// Read sysfs from DIR instead of /sys.
    #[arg(long, value_name = "DIR", conflicts_with = "fixture")]
    pub sysfs_root: Option<PathBuf>,

    /// Read procfs from DIR instead of /proc.
    #[arg(long, value_name = "DIR", conflicts_with = "fixture")]
    pub proc_root: Option<PathBuf>,

    /// Resolve /dev paths (swap devices) under DIR instead of /dev.
    #[arg(long, value_name = "DIR", conflicts_with = "fixture")]
    pub dev_root: Option<PathBuf>,

    /// Read open-iscsi's node records from DIR instead of /etc/iscsi/nodes (missing: none).
    #[arg(long, value_name = "DIR", conflicts_with = "fixture")]
    pub iscsi_nodes_root: Option<PathBuf>,

    /// Read a recorded fixture: DIR/sys, DIR/proc and (if present) DIR/dev and
    /// DIR/etc/iscsi/nodes.
    #[arg(long, value_name = "DIR")]
    pub fixture: Option<PathBuf>,

    /// Compare with the state files of this config (default /etc/lunguard/lunguard.toml;
    /// its state directory is used when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Compare with the state files in DIR: each attachment is shown as converged, missing,
    /// wrong_wwid, degraded (fewer paths than portals), in_use or unwanted.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fixture_conflicts_with_explicit_roots() {
        let r = Cli::try_parse_from(["lunguard", "status", "--fixture", "d", "--sysfs-root", "s"]);
        assert!(r.is_err());
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("2  usage or runtime error"), "{help}");
    }
}
