//! The command-line grammar (clap); the exit codes are [`crate::exit`].
//!
//! Parsing only: commands live in their own modules (`status`, …) and the
//! binary (`main.rs`) dispatches.

use std::path::PathBuf;
use std::time::SystemTime;

use clap::builder::PossibleValuesParser;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::config::duration;
use crate::model::parse_rfc3339;
use crate::plan::Action;

const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  findings or validation failure (e.g. status reported problems)
  2  usage or runtime error
  3  the database is damaged or its filesystem full: nothing done (see the message)";

/// Examples at the end of each subcommand's `--help` (and man page), then the exit codes. Every
/// line starting with `lunguard` parses with this grammar (a test checks it).
macro_rules! examples {
    ($($line:literal),+ $(,)?) => {
        concat!("Examples:\n", $("  ", $line, "\n",)+ "\n", "Exit codes:\n",
            "  0  ok\n",
            "  1  findings or validation failure (e.g. status reported problems)\n",
            "  2  usage or runtime error\n",
            "  3  the database is damaged or its filesystem full: nothing done (see the message)")
    };
}

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
    #[command(after_help = examples!("lunguard status", "lunguard status --json | jq '.dm_devices[] | .name'", "lunguard status --state-dir /etc/lunguard/state.d"))]
    Status(StatusArgs),

    /// Validate the config file and the state files without changing anything:
    /// print a summary, or every problem as file:line:column: message.
    #[command(after_help = examples!("lunguard check", "lunguard check --state-dir ./state.d --json"))]
    Check(CheckArgs),

    /// Show what one reconcile pass would do and why: each attachment's state (converged,
    /// missing, wrong WWID, degraded), each unwanted device (waiting for grace, in use, to be
    /// removed) and the ordered steps. Changes nothing but the stored desired state.
    #[command(after_help = examples!("lunguard plan", "lunguard plan --json | jq '.plan.steps'", "lunguard plan --fixture ./recorded-host --state-dir ./state.d"))]
    Plan(PlanArgs),

    /// Bring the host to the declared state once: attach missing LUNs (narrowed scans only),
    /// flush and remove unwanted ones, log out of sessions nobody needs, then print a summary.
    /// In `mode = "observe"` nothing is changed. The guard loop is `lunguard daemon`.
    #[command(after_help = examples!("lunguard apply --once --dry-run", "lunguard apply --once -v", "lunguard apply --once --json | jq '.summary'"))]
    Apply(ApplyArgs),

    /// Declare one LUN: write NAME.toml in the state directory (checked with every other state
    /// file first, written atomically, root-owned, mode 0644), which a running daemon picks up
    /// and attaches with narrowed scans. With --wait, block until the daemon reports it
    /// converged, or exit 1 with the reason.
    #[command(after_help = examples!(
        "lunguard attach vol-1 --target iqn.2003-01.org.example:a --portal 192.0.2.10 --portal 198.51.100.10 --lun 1",
        "lunguard attach vol-2 --target iqn.2003-01.org.example:a --portal 192.0.2.10:3260 --lun 2 --no-multipath --wait",
        "lunguard attach db-3 --target iqn.2003-01.org.example:db --portal 192.0.2.20 --lun 3 --wwid naa.6001405aa1f1c7e1c2a74b0b8d51e4c1 --wait --timeout 5m"
    ))]
    Attach(AttachArgs),

    /// Remove one declaration that `attach` wrote (NAME.toml, atomically); a running daemon then
    /// flushes and removes the LUN and logs out of a session nobody needs. With --wait, block
    /// until the daemon reports it gone, or exit 1 with the reason (e.g. still in use).
    #[command(after_help = examples!(
        "lunguard detach vol-1",
        "lunguard detach vol-1 --wait --timeout 10m"
    ))]
    Detach(DetachArgs),

    /// Audit this host against the field reports lunguard was built for: open-iscsi's scans and
    /// timeouts, multipath's map handling, the services the guard needs, lunguard's own unit,
    /// state files and database. Each finding says what is wrong, which failure it leads to and
    /// the exact fix (docs/doctor.md). Changes nothing.
    #[command(after_help = examples!(
        "lunguard doctor",
        "lunguard doctor --json | jq '.findings[] | .id'",
        "lunguard doctor --heartbeat 30"
    ))]
    Doctor(DoctorArgs),

    /// Is the daemon alive: it answers on its control socket and its latest pass is recent.
    /// For liveness probes (exit 0 alive, 1 stale or before its first pass, 2 no daemon).
    #[command(after_help = examples!(
        "lunguard health",
        "lunguard health --max-age 15m"
    ))]
    Health(HealthArgs),

    /// Show the action journal: every intent recorded before acting and its outcome
    /// (changed, already converged, failed, or none when lunguard stopped mid-action).
    #[command(after_help = examples!("lunguard history --limit 20", "lunguard history --since 2h --kind flush_map --kind delete_paths", "lunguard history --since 2026-12-01T00:00:00Z --json"))]
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
    #[command(after_help = examples!("systemctl start lunguard      # how it normally runs (lunguard.service)", "lunguard daemon --config /etc/lunguard/lunguard.toml -vv", "systemctl reload lunguard     # re-read config and state (SIGHUP)"))]
    Daemon(DaemonArgs),

    /// Watch the guard work on a machine without SCSI: the real daemon loop against a built-in
    /// simulated host (an iSCSI array with 4 LUNs on 2 portals, multipathd) — a declared attach
    /// by narrowed scans, a detach, then another process's broad rescan bringing LUNs back and
    /// the guard removing them, with the alert lines journald would get. Under a minute; touches
    /// nothing outside a scratch directory.
    #[command(after_help = examples!("lunguard demo", "lunguard demo --keep"))]
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

/// Arguments of `lunguard health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Config file (default /etc/lunguard/lunguard.toml, which may be absent): its control socket.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A latest pass older than this is a stuck loop (passes run at least every
    /// daemon.resync_interval, 5m by default).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub max_age: std::time::Duration,
}

/// Arguments of `lunguard doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Config file (default /etc/lunguard/lunguard.toml, which may be absent): the state files,
    /// database and control socket to check.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The cluster's heartbeat timeout in seconds (OCFS2, Pacemaker): a path failure must reach
    /// multipath well within it.
    #[arg(long, value_name = "SECS")]
    pub heartbeat: Option<u64>,

    /// Read the host's files under DIR (DIR/etc/iscsi, DIR/proc, …) instead of /, and multipath's
    /// configuration from DIR/etc/multipath.conf instead of `multipath -t`.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Print JSON: {schema_version, healthy, findings: [{id, severity, source, what, leads_to,
    /// fix}]}.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `lunguard attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The attachment's name, unique across the state files; the file is NAME.toml. Letters,
    /// digits, '.', '_' and '-', not starting with '.'.
    pub name: String,

    /// The target's iSCSI name (iqn.…, eui.… or naa.…).
    #[arg(long, value_name = "IQN")]
    pub target: String,

    /// A portal, an IP address with an optional :port (IPv6 in brackets); repeat for each path.
    /// One session per portal.
    #[arg(long = "portal", value_name = "PORTAL", required = true)]
    pub portals: Vec<String>,

    /// The LUN number on the target.
    #[arg(long)]
    pub lun: u64,

    /// The WWID the LUN must have, in the kernel's form (naa.…, eui.…, t10.…): a device at this
    /// address with another WWID is not attached as this one.
    #[arg(long)]
    pub wwid: Option<String>,

    /// Use the bare SCSI disk instead of a dm-multipath map (one portal only).
    #[arg(long)]
    pub no_multipath: bool,

    /// Config and state directory; how long to wait.
    #[command(flatten)]
    pub common: DeclareOpts,
}

/// Arguments of `lunguard detach`.
#[derive(Debug, Args)]
pub struct DetachArgs {
    /// The attachment's name (its file NAME.toml, as `attach` wrote it).
    pub name: String,

    /// Config and state directory; how long to wait.
    #[command(flatten)]
    pub common: DeclareOpts,
}

/// What `attach` and `detach` share.
#[derive(Debug, Args)]
pub struct DeclareOpts {
    /// Config file (default /etc/lunguard/lunguard.toml, which may be absent): its state_dir,
    /// scope and control socket.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// State directory instead of the config's state_dir.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Block until the running daemon reports the change done (attach: converged; detach:
    /// the LUN gone); exit 1 with the reason if it is not by --timeout.
    #[arg(long)]
    pub wait: bool,

    /// How long --wait waits (30s, 5m, 1h30m).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration, requires = "wait")]
    pub timeout: std::time::Duration,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    duration::parse(s).map_err(|e| e.to_string())
}

/// Arguments of `lunguard history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Config and database overrides.
    #[command(flatten)]
    pub engine: EngineOpts,

    /// How many of the newest entries to show (after the filters below).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,

    /// Only entries decided at or after WHEN: an RFC 3339 time (2026-12-01T08:00:00Z, any
    /// offset) or a duration ago (90m, 2h, 1h30m).
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub since: Option<SystemTime>,

    /// Only entries decided before WHEN (the same forms as --since).
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub until: Option<SystemTime>,

    /// Only actions of this kind; repeat for several.
    #[arg(long, value_name = "KIND", value_parser = PossibleValuesParser::new(Action::KINDS))]
    pub kind: Vec<String>,

    /// Print JSON: {schema_version, entries: [{id, kind, key, action, at, outcome}]} with
    /// RFC 3339 times (docs/cli.md).
    #[arg(long)]
    pub json: bool,
}

/// `--since`/`--until`: an RFC 3339 time, or a duration before now.
fn parse_when(s: &str) -> Result<SystemTime, String> {
    if s.len() >= 20 && s.as_bytes().first().is_some_and(u8::is_ascii_digit) && s.contains('-') {
        return parse_rfc3339(s).map_err(|e| e.to_string());
    }
    let ago = duration::parse(s).map_err(|_| {
        format!(
            "invalid time {s:?}: expected an RFC 3339 time like 2026-12-01T08:00:00Z or a duration ago like 90m, 2h, 1h30m"
        )
    })?;
    SystemTime::now()
        .checked_sub(ago)
        .ok_or_else(|| format!("{s} ago is before the clock's epoch"))
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

    /// Print JSON instead of text: {schema_version, mode, dry_run, desired_ok, passes: [{plan,
    /// steps}], summary, ok} (docs/cli.md).
    #[arg(long)]
    pub json: bool,
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

    /// Print JSON {schema_version, ok, files, attachments, errors, error_count}
    /// (docs/state-files.md).
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

    /// Read sysfs and procfs now. Without it, a running daemon that observes the same roots
    /// answers with its latest pass's snapshot (no second walk of the host), and the output
    /// says when that was taken.
    #[arg(long, conflicts_with = "fixture")]
    pub fresh: bool,
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

    /// Every subcommand's help ends with examples, then the exit codes; every example that runs
    /// lunguard parses (up to a pipe or a comment), so a renamed flag cannot leave a stale one.
    #[test]
    fn every_subcommand_help_ends_with_examples_that_parse() {
        let mut cli = Cli::command();
        for sub in cli.get_subcommands_mut() {
            let name = sub.get_name().to_owned();
            let help = sub.render_long_help().to_string();
            let examples = help
                .split_once("Examples:\n")
                .and_then(|(_, rest)| rest.split_once("\nExit codes:"))
                .map(|(ex, _)| ex)
                .unwrap_or_else(|| panic!("{name}: no Examples section before the exit codes"));
            let lines: Vec<&str> = examples.lines().filter(|l| !l.trim().is_empty()).collect();
            assert!(
                (2..=3).contains(&lines.len()),
                "{name}: {} examples",
                lines.len()
            );
            let ours: Vec<&str> = lines
                .iter()
                .map(|l| l.trim())
                .filter(|l| l.starts_with("lunguard "))
                .collect();
            assert!(!ours.is_empty(), "{name}: no example runs lunguard");
            for line in ours {
                let cmd = line.split(['|', '#']).next().unwrap_or(line);
                let argv: Vec<&str> = cmd.split_whitespace().collect();
                assert_eq!(argv.get(1), Some(&name.as_str()), "{line}");
                if let Err(e) = Cli::try_parse_from(&argv) {
                    panic!("{name}: example {line:?} does not parse: {e}");
                }
            }
        }
    }

    #[test]
    fn a_mistyped_subcommand_or_flag_gets_a_suggestion() {
        let e = Cli::try_parse_from(["lunguard", "histroy"]).unwrap_err();
        assert!(e.to_string().contains("'history'"), "{e}");
        let e = Cli::try_parse_from(["lunguard", "history", "--sinse", "2h"]).unwrap_err();
        assert!(e.to_string().contains("'--since'"), "{e}");
    }

    #[test]
    fn history_times_are_rfc3339_or_a_duration_ago_and_kinds_are_checked() {
        let parsed = |args: &[&str]| match Cli::try_parse_from(args) {
            Ok(Cli {
                command: Command::History(h),
                ..
            }) => Ok(h),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        };
        let h = parsed(&[
            "lunguard",
            "history",
            "--since",
            "2026-12-01T00:00:00+01:00",
        ])
        .unwrap();
        assert_eq!(h.since, parse_rfc3339("2026-11-30T23:00:00Z").ok());
        let h = parsed(&["lunguard", "history", "--since", "2h", "--until", "1h"]).unwrap();
        let (since, until) = (h.since.unwrap(), h.until.unwrap());
        assert_eq!(
            until.duration_since(since).unwrap().as_secs(),
            3600,
            "2h ago is an hour before 1h ago"
        );
        let e = parsed(&["lunguard", "history", "--since", "yesterday"]).unwrap_err();
        assert!(e.contains("RFC 3339"), "{e}");
        let e = parsed(&["lunguard", "history", "--kind", "flush"]).unwrap_err();
        assert!(e.contains("flush_map"), "the error lists the kinds: {e}");
        let h = parsed(&[
            "lunguard",
            "history",
            "--kind",
            "logout",
            "--kind",
            "delete_node",
        ])
        .unwrap();
        assert_eq!(h.kind, ["logout", "delete_node"]);
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("2  usage or runtime error"), "{help}");
    }
}
