//! lunguard keeps SCSI, iSCSI and multipath devices exactly as declared.
//!
//! # Layout
//!
//! - [`model`]: pure domain types (`Hctl`, `Wwid`, `Iqn`, `Portal`, `DmName`, …); no IO.
//! - [`observe`]: reads the kernel's view (sysfs, procfs) under injectable roots into
//!   owned snapshot types, and receives uevents (netlink monitor, owned `Uevent`s).
//! - [`config`]: `/etc/lunguard/lunguard.toml` (roots, paths, scope, policy,
//!   timeouts, mode) and the `file:line:column` diagnostics shared with the state files.
//! - [`desire`]: state files → validated `DesiredState` (all-or-nothing), the
//!   `Store` (sled) of the last good state, first-seen times and the journal, and
//!   `lunguard check`.
//! - [`status`]: the `lunguard status` command: renders a snapshot as a table or JSON.
//! - [`reconcile`]: the pure planner: desired + observed + policy → `Plan` of
//!   `Action`s and findings; no IO.
//! - [`controller`]: the keyed work queue between events and reconciles: `Key`,
//!   dedupe, debounce, single flight, per-key backoff, degraded marking.
//! - [`act`]: carries out actions: the `Actuator` trait (real, dry-run,
//!   recording), the command runner, and the plan executor.
//! - [`engine`]: one reconcile pass end to end (reload desired state, observe, inspect,
//!   plan, execute with the journal), shared by `plan`, `apply --once` and the daemon.
//! - [`alert`]: findings and action outcomes as journald records with fixed
//!   `MESSAGE_ID`s (native protocol, stderr fallback, rate limit).
//! - [`notify`]: `sd_notify` (READY, STATUS, WATCHDOG, STOPPING) and the watchdog interval.
//! - [`marker`]: the "about to remove" marker file the udev rule tests for.
//! - [`control`]: the daemon's root-only control socket, through which `plan` and `history`
//!   reach a running daemon's data.
//! - [`daemon`]: the guard loop: inputs (uevents, inotify, signals) → debounced passes →
//!   alerts, sd_notify; capped destructive retries.
//! - [`commands`]: the `plan` and `apply` commands (output and exit codes).
//! - [`cli`]: the command-line grammar (clap) and the documented exit codes.
//! - [`sim`]: a simulated host (kernel, open-iscsi, multipathd, array) writing a
//!   kernel-like tree and uevents, with an `Actuator` over it: tier-2 tests and `lunguard demo`.
//! - [`testing`]: builds fake sysfs/procfs trees laid out like the kernel's, for tests
//!   (here and, later, the simulated kernel); never used by the daemon itself.

pub mod act;
pub mod alert;
pub mod cli;
pub mod commands;
pub mod config;
pub mod control;
pub mod controller;
pub mod daemon;
pub mod desire;
pub mod engine;
pub mod marker;
pub mod model;
pub mod notify;
pub mod observe;
pub mod reconcile;
pub mod sim;
pub mod status;
pub mod testing;
