//! lunguard keeps SCSI, iSCSI and multipath devices exactly as declared.
//!
//! # Layout
//!
//! From the ground up; each module imports only modules listed above it (tests aside), so there
//! is no import cycle.
//!
//! - [`model`]: pure domain types (`Hctl`, `Wwid`, `Iqn`, `Portal`, `DmName`, `DeviceKey`, the
//!   reconcile `Key`, …); no IO.
//! - [`snapshot`]: the observed state as owned data (`Snapshot`, its devices, maps, sessions,
//!   mounts; path and claim states), filled by `observe`, read by everything above it.
//! - [`plan`]: the plan vocabulary (`Plan`, `Step`, `Action`, `OnFailure`, `Finding`) that
//!   `reconcile` produces and `act`, `alert` and the commands consume.
//! - [`exit`]: the documented exit codes.
//! - [`bounded`]: everything that can block, with a limit: programs with a timeout, kernel calls
//!   on a worker with a deadline.
//! - [`observe`]: reads the kernel's view (sysfs, procfs, device-mapper, multipathd, the
//!   exclusive-open check) under injectable roots, and receives uevents (netlink monitor).
//! - [`config`]: `/etc/lunguard/lunguard.toml` (roots, paths, scope, policy,
//!   timeouts, mode) and the `file:line:column` diagnostics shared with the state files.
//! - [`desire`]: state files → validated `DesiredState` (all-or-nothing), and the
//!   `Store` (sled) of the last good state, first-seen times and the journal.
//! - [`reconcile`]: the pure planner: desired + snapshot + policy + context → `Plan`; no IO.
//! - [`act`]: carries out a plan: the `Actuator` trait (real, dry-run), the executor.
//! - [`engine`]: one reconcile pass end to end (reload desired state, observe, inspect,
//!   plan, execute with the journal), shared by `plan`, `apply --once` and the daemon.
//! - [`alert`]: findings and action outcomes as journald records with fixed
//!   `MESSAGE_ID`s (native protocol, stderr fallback, rate limit).
//! - [`notify`]: `sd_notify` (READY, STATUS, WATCHDOG, STOPPING) and the watchdog interval.
//! - [`marker`]: the "about to remove" marker file the udev rule tests for.
//! - [`control`]: the daemon's root-only control socket, through which `plan` and `history`
//!   reach a running daemon's data.
//! - [`daemon`]: the guard loop: inputs (uevents, inotify, signals) → debounced passes
//!   ([`daemon::schedule`]: debounce, backoff, jitter, once) → alerts, sd_notify; capped
//!   destructive retries ([`daemon::retries`]).
//! - [`cli`]: the command-line grammar (clap).
//! - [`commands`]: every subcommand's entry point (`status`, `check`, `plan`, `apply`,
//!   `history`, `daemon`, `demo`): output and exit codes.
//! - [`sim`]: a simulated host (kernel, open-iscsi, multipathd, array) writing a
//!   kernel-like tree and uevents, with an `Actuator` over it: tier-2 tests and `lunguard demo`.
//! - [`testing`]: builds fake sysfs/procfs trees laid out like the kernel's (tests and the
//!   simulator); never used by the daemon itself.
//!
//! Test doubles (`act::Recording`, `desire::store::MemoryStore`, `alert::MemorySink`,
//! `observe::monitor::ChannelSource`, the udevadm replay, the uevent wire encoders) are compiled
//! only into tests (`cfg(test)` or the `test-support` feature, which the crate's dev-dependency
//! on itself turns on for the integration tests); the shipped binary has none of them.

pub mod act;
pub mod alert;
pub mod bounded;
pub mod cli;
pub mod commands;
pub mod config;
pub mod control;
pub mod daemon;
pub mod desire;
pub mod doctor;
pub mod engine;
pub mod exit;
pub mod marker;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod observe;
pub mod plan;
pub mod quarantine;
pub mod reconcile;
pub mod sim;
pub mod snapshot;
pub mod testing;
