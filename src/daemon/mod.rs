//! `lunguard daemon`: the guard loop.
//!
//! Order at start, no exceptions: the caller opens the uevent monitor and the state-directory
//! watch first (their events wait in the input channel), then [`Daemon::run`] enumerates sysfs in
//! its first pass, and only that pass — complete — may act. Every later input only says *when*
//! to look again: a pass re-reads the kernel and the state files and plans from them
//! (level-triggered), so lost, duplicated or reordered uevents are harmless, and a netlink
//! overflow just forces a pass. Passes are debounced and backed off ([`schedule`]); destructive
//! steps that keep failing are capped ([`retries`]); every finding change and every action
//! becomes a journald alert; systemd hears READY after the first full pass, STATUS after each,
//! WATCHDOG from the loop, STOPPING at the end. TERM/INT let the pass in flight finish.

pub mod inputs;
pub mod retries;
pub mod schedule;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tracing::{debug, error, info, info_span, warn};

use crate::act::{Actuator, JournalEvent};
use crate::alert::{Alert, Alerter, FindingChanges};
use crate::config::{Config, IfMissing, LoadErrors, Ownership};
use crate::desire::Reload;
use crate::desire::store::{Outcome, OutcomeRecord};
use crate::engine::PlanDocument;
use crate::engine::{Engine, Fresh};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::observe::uevent::{self, Uevent};
use crate::plan::FindingKind;
use retries::Retries;
use schedule::{Schedule, Timing};

/// What wakes the loop.
#[derive(Debug, Clone)]
pub enum Input {
    /// A uevent (already an owned value).
    Uevent(Uevent),
    /// The uevent socket overflowed (ENOBUFS): events were lost; resync.
    Overflow {
        /// Which monitor.
        source: String,
    },
    /// The state directory changed (inotify).
    StateChanged {
        /// What was seen, for the log.
        why: String,
    },
    /// SIGHUP: reload the config and the state files.
    Reload,
    /// SIGUSR1: write a status dump to the log.
    Dump,
    /// SIGTERM/SIGINT: finish the pass in flight and exit.
    Stop {
        /// Which signal.
        signal: String,
    },
}

/// Loop knobs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Debounce, cap, resync, backoff.
    pub timing: Timing,
    /// Destructive failures in a row before a step is degraded.
    pub destructive_retry_limit: u32,
    /// Config file to re-read on SIGHUP (`None`: keep the config; `lunguard daemon` passes
    /// `--config` or the default path).
    pub config_path: Option<PathBuf>,
    /// Ownership rule for files re-read on SIGHUP.
    pub ownership: Ownership,
    /// Builds the actuator for a config (`lunguard daemon`: `engine::actuator_for`). When set,
    /// a SIGHUP that changes `mode` swaps the actuator, so `observe` → `enforce` followed by
    /// `systemctl reload` starts acting (and back). `None`: the actuator given to
    /// [`Daemon::new`] stays, whatever the config says (tests that inject one).
    pub actuator_for: Option<ActuatorFor>,
}

/// Builds the actuator for a config: [`Options::actuator_for`].
#[derive(Clone)]
pub struct ActuatorFor(pub Arc<BuildActuator>);

/// The function behind [`ActuatorFor`].
pub type BuildActuator = dyn Fn(&Config) -> Arc<dyn Actuator + Send> + Send + Sync;

impl std::fmt::Debug for ActuatorFor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ActuatorFor(..)")
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            timing: Timing::default(),
            destructive_retry_limit: 5,
            config_path: None,
            ownership: Ownership::Trust,
            actuator_for: None,
        }
    }
}

/// What the loop did, for tests and the demo's last line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Passes run.
    pub passes: u64,
    /// Steps that changed something.
    pub changed: u64,
    /// Dry-run steps (observe mode) that would have changed something.
    pub would_change: u64,
    /// Steps that failed.
    pub failed: u64,
    /// Uevents taken from the input channel (a storm test counts that none was lost).
    pub uevents: u64,
    /// Overflow resyncs. Kept last: the VM's flood scenario reads it from the `Debug` line.
    pub overflows: u64,
}

/// How long writing the metrics file may take before the loop goes on without it.
const METRICS_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// The latest pass, shared with the control socket.
pub type Latest = Arc<Mutex<Option<PlanDocument>>>;

/// The latest pass's snapshot, shared with the control socket (`status` reads it instead of
/// walking sysfs a second time). The snapshot is shared, not copied, until a client asks.
pub type LatestSnapshot = Arc<Mutex<Option<SnapshotAt>>>;

/// A pass's snapshot, when it was taken and from which roots.
#[derive(Debug, Clone)]
pub struct SnapshotAt {
    /// When the pass started (its planning time).
    pub at: SystemTime,
    /// The roots it read.
    pub roots: crate::observe::Roots,
    /// The snapshot itself, shared with the engine's cache.
    pub snapshot: Arc<crate::snapshot::Snapshot>,
}

/// The guard.
pub struct Daemon {
    engine: Arc<Mutex<Engine>>,
    /// Swapped by a SIGHUP that changes the mode (see [`Options::actuator_for`]).
    actuator: Mutex<Arc<dyn Actuator + Send>>,
    alerter: Arc<dyn Alerter>,
    notifier: Arc<Notifier>,
    opts: Options,
    latest: Latest,
    latest_snapshot: LatestSnapshot,
    /// Prometheus metrics, written to `daemon.metrics_textfile` after every pass.
    metrics: Mutex<Metrics>,
    metrics_file: Option<std::path::PathBuf>,
    /// The last error writing it, logged once until it changes.
    metrics_error: Mutex<Option<String>>,
    /// The state files' errors last alerted (cleared by a good load).
    last_rejection: Mutex<Option<LoadErrors>>,
}

/// Why the loop stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A pass could not run (the database failed).
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// A pass panicked or was cancelled.
    #[error("pass task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl Daemon {
    /// A daemon over `engine`, acting through `actuator` (`DryRun` in observe mode).
    pub fn new(
        engine: Engine,
        actuator: Arc<dyn Actuator + Send>,
        alerter: Arc<dyn Alerter>,
        notifier: Notifier,
        opts: Options,
    ) -> Self {
        let (mode, metrics_file) = (
            engine.config().mode,
            engine.config().daemon.metrics_textfile.clone(),
        );
        Self {
            metrics: Mutex::new(Metrics::new(mode)),
            metrics_file,
            metrics_error: Mutex::new(None),
            engine: Arc::new(Mutex::new(engine)),
            actuator: Mutex::new(actuator),
            alerter,
            notifier: Arc::new(notifier),
            opts,
            latest: Arc::new(Mutex::new(None)),
            latest_snapshot: Arc::new(Mutex::new(None)),
            last_rejection: Mutex::new(None),
        }
    }

    /// The engine (the control socket reads the journal through it).
    pub fn engine(&self) -> Arc<Mutex<Engine>> {
        Arc::clone(&self.engine)
    }

    /// The latest pass's plan document (the control socket serves it).
    pub fn latest(&self) -> Latest {
        Arc::clone(&self.latest)
    }

    /// The latest pass's snapshot and when it was taken (the control socket serves it).
    pub fn latest_snapshot(&self) -> LatestSnapshot {
        Arc::clone(&self.latest_snapshot)
    }

    /// Runs until `Stop` or the input channel closes.
    pub async fn run(self, mut inputs: mpsc::Receiver<Input>) -> Result<Summary, DaemonError> {
        let mode = {
            let e = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
            format!("{:?}", e.config().mode).to_lowercase()
        };
        self.alerter
            .emit(&Alert::daemon_started(env!("CARGO_PKG_VERSION"), &mode));
        self.recover_interrupted();
        let mut sched = Schedule::new(self.opts.timing, Instant::now());
        let mut retries = Retries::new(self.opts.destructive_retry_limit);
        self.restore_writeback_lost(&mut retries);
        let mut changes = FindingChanges::new();
        let mut summary = Summary::default();
        let mut ready = false;
        let mut reloading = false;
        // What the next pass must read afresh: everything at first, then what the inputs named.
        let mut fresh = Fresh::all();
        let mut last_full = Instant::now();
        let watchdog = crate::notify::watchdog_interval();
        let mut next_watchdog = watchdog.map(|w| Instant::now() + w);
        let stop_reason = loop {
            let now = Instant::now();
            if sched.take_due(now) {
                // The periodic resync reads everything: the safety net for what sends no uevent
                // (a device's state, an iSCSI recovery).
                if now.duration_since(last_full) >= self.opts.timing.resync {
                    fresh = Fresh::all();
                }
                let this = std::mem::take(&mut fresh);
                if this.touched.everything {
                    last_full = now;
                }
                // A pass that cannot run (database error, a panic in a pass) is reported and
                // retried with backoff: errors never stop the guard.
                let started = Instant::now();
                let ok = match self
                    .pass(&this, &mut retries, &mut changes, &mut summary, &mut sched)
                    .await
                {
                    Ok(ok) => ok,
                    Err(e) => {
                        // What it would have read is not lost: the retry reads everything.
                        fresh = Fresh::all();
                        error!(error = %e, "pass failed; retrying with backoff");
                        self.alerter
                            .emit(&Alert::pass_failed(sched.failures() + 1, &e.to_string()));
                        false
                    }
                };
                self.alerter.flush();
                self.metrics_pass_done(started.elapsed(), ok, this.touched.everything);
                sched.pass_done(Instant::now(), ok, schedule::jitter());
                if !ready || reloading {
                    sd(self.notifier.ready());
                    if !ready {
                        self.alerter
                            .emit(&Alert::daemon_ready("first full observation and pass done"));
                    }
                    ready = true;
                    reloading = false;
                }
                continue;
            }
            let mut wake = sched.next_wake();
            if let Some(w) = next_watchdog {
                wake = wake.min(w);
            }
            tokio::select! {
                input = inputs.recv() => {
                    let Some(input) = input else { break "input closed".to_owned() };
                    match input {
                        Input::Uevent(ev) => {
                            summary.uevents += 1;
                            let keys = uevent::keys(&ev);
                            let doubt = uevent::identity_keys(&ev);
                            if !doubt.is_empty() {
                                info!(devpath = %ev.devpath, keys = ?doubt, "unit attention: identities to re-read");
                                self.engine
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .reverify(doubt);
                            }
                            debug!(action = ev.action.as_str(), devpath = %ev.devpath, keys = ?keys, "uevent");
                            // A uevent does not clear degraded steps: a failing flush or delete
                            // makes uevents itself, which would defeat the retry cap.
                            if !keys.is_empty() {
                                fresh.touched.note(&ev);
                                sched.event(Instant::now());
                            }
                        }
                        Input::Overflow { source } => {
                            summary.overflows += 1;
                            self.metrics.lock().unwrap_or_else(PoisonError::into_inner).overflow();
                            fresh = Fresh::all();
                            self.alerter.emit(&Alert::resync_after_overflow(&source));
                            retries.clear();
                            sched.now(Instant::now());
                        }
                        Input::StateChanged { why } => {
                            info!(why, "state directory changed");
                            fresh.desired = true;
                            // Marks are cleared by the pass if the desired state really changed:
                            // the watch can report one edit twice, the second after a pass that
                            // already failed on the new state (seen in the VM: a writeback error
                            // marked degraded, then cleared, and the disk deleted 5 s later).
                            sched.event(Instant::now());
                        }
                        Input::Reload => {
                            sd(self.notifier.reloading());
                            self.reload_config();
                            fresh = Fresh::all();
                            retries.clear();
                            reloading = true;
                            sched.now(Instant::now());
                        }
                        Input::Dump => self.dump(&retries, &summary),
                        Input::Stop { signal } => break format!("signal {signal}"),
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => {
                    if let (Some(w), Some(every)) = (next_watchdog, watchdog)
                        && Instant::now() >= w
                    {
                        sd(self.notifier.watchdog());
                        self.alerter.flush();
                        next_watchdog = Some(Instant::now() + every);
                    }
                }
            }
        };
        sd(self.notifier.stopping());
        self.alerter.emit(&Alert::daemon_stopping(&stop_reason));
        info!(reason = stop_reason, ?summary, "stopping");
        Ok(summary)
    }

    /// One pass on the blocking pool: prepare, remember, filter degraded, execute, alert.
    /// Returns whether every step succeeded.
    async fn pass(
        &self,
        fresh: &Fresh,
        retries: &mut Retries,
        changes: &mut FindingChanges,
        summary: &mut Summary,
        sched: &mut Schedule,
    ) -> Result<bool, DaemonError> {
        let engine = Arc::clone(&self.engine);
        let filter = retries.clone();
        let fresh = fresh.clone();
        let span = info_span!(
            "pass",
            n = summary.passes + 1,
            full = fresh.touched.everything
        );
        // Observe and plan; findings are alerted before anything is done about them.
        let pass = tokio::task::spawn_blocking(move || {
            let _g = span.enter();
            let engine = engine.lock().unwrap_or_else(PoisonError::into_inner);
            let now = SystemTime::now();
            let mut pass = engine.prepare_with(now, &fresh)?;
            if let Some(plan) = pass.plan.as_mut() {
                // In observe mode too: first-seen times are bookkeeping, not action, and without
                // them the grace period never ends and observe never previews a removal.
                engine.remember(plan, now)?;
                // A desired state that differs from the last one clears the degraded marks
                // (below); one that does not keeps them, however often the watch fires.
                if matches!(pass.reload, Reload::Replaced { changed: true, .. }) {
                    // Lost writes stay kept whatever changed.
                    filter.filter_lost(plan);
                } else {
                    filter.filter(plan);
                }
            }
            Ok::<_, crate::engine::EngineError>(pass)
        })
        .await??;
        if matches!(pass.reload, Reload::Replaced { changed: true, .. }) {
            retries.clear();
        }
        match &pass.reload {
            // Alerted when the rejection is new or different, not on every pass it stays: a
            // pass per uevent would repeat it until the rate limit drops the next, different
            // rejection (the one the user must see after editing the file again).
            Reload::Kept { errors, .. } => {
                let mut last = self
                    .last_rejection
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let newly = last.as_ref() != Some(errors);
                self.metrics
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .set_state_rejected(true, newly);
                if newly {
                    warn!(errors = %errors, "state files rejected; the last good state stays in force");
                    self.alerter.emit(&Alert::state_rejected(errors));
                    *last = Some(errors.clone());
                }
            }
            Reload::Replaced { state, changed } => {
                *self
                    .last_rejection
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                self.metrics
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .set_state_rejected(false, false);
                if *changed {
                    self.alerter
                        .emit(&Alert::state_reloaded(state.attachments.len()));
                }
            }
        }
        if let Some(plan) = &pass.plan {
            for f in &plan.findings {
                if let Some(a) = changes.observe(f) {
                    self.alerter.emit(&a);
                }
            }
            changes.retain(&plan.findings);
        }
        let engine = Arc::clone(&self.engine);
        let actuator = Arc::clone(&self.actuator.lock().unwrap_or_else(PoisonError::into_inner));
        let alerter = Arc::clone(&self.alerter);
        let notifier = Arc::clone(&self.notifier);
        let watchdog = crate::notify::watchdog_interval().is_some();
        let span = info_span!("act", n = summary.passes + 1);
        let (mut pass, report) = tokio::task::spawn_blocking(move || {
            let _g = span.enter();
            let engine = engine.lock().unwrap_or_else(PoisonError::into_inner);
            let observer = |e: &JournalEvent<'_>| {
                if let JournalEvent::Outcome { .. } = e {
                    alerter.emit(&Alert::from_journal_event(e));
                }
                // Every step is bounded by its own timeout, so a step finishing is progress: the
                // watchdog is fed here too, not only between passes (a long removal would
                // otherwise starve it). A hung step still starves it, as it should.
                if watchdog {
                    sd(notifier.watchdog());
                }
            };
            let report = engine.execute_observed(&pass, actuator.as_ref(), &observer)?;
            Ok::<_, crate::engine::EngineError>((pass, report))
        })
        .await??;
        summary.passes += 1;
        let counts = report.counts();
        summary.changed += counts.changed as u64;
        summary.would_change += counts.would_change as u64;
        summary.failed += counts.failed as u64;
        let mut grace: Option<Duration> = None;
        if let Some(plan) = pass.plan.as_mut() {
            grace = wake_after(&plan.findings, self.opts.timing.in_use_recheck);
            for d in retries.record(plan, &report) {
                warn!(
                    step = d.step,
                    attempts = d.attempts,
                    "destructive step degraded"
                );
                self.alerter
                    .emit(&Alert::key_degraded(&d.step, d.attempts, &d.error));
            }
        }
        self.persist_writeback_lost(retries, &pass.snapshot);
        {
            let mut m = self.metrics.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(plan) = &pass.plan {
                m.record_report(plan, &report);
            }
            let names: Vec<String> = pass
                .reload
                .state()
                .map(|s| s.attachments.iter().map(|a| a.name.clone()).collect())
                .unwrap_or_default();
            m.observe_plan(pass.plan.as_ref(), &names);
            m.set_degraded(retries.degraded().len());
        }
        sched.grace_ends_in(Instant::now(), grace);
        let mode = self
            .engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .config()
            .mode;
        let doc = PlanDocument::of(&pass, "daemon").with_mode(mode);
        let status = match &pass.plan {
            None => "no good desired state: not acting".to_owned(),
            Some(p) => format!(
                "{} attachments; last pass: {}; {} degraded",
                doc.attachments,
                if p.steps.is_empty() {
                    "nothing to do".to_owned()
                } else {
                    report.summary()
                },
                retries.degraded().len()
            ),
        };
        sd(self.notifier.status(&status));
        // The snapshot first: a client that sees this pass's plan (`detach --wait`) then gets
        // this pass's snapshot or a later one, never an earlier one.
        *self
            .latest_snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(SnapshotAt {
            at: pass.ctx.now,
            roots: self
                .engine
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .config()
                .roots
                .to_roots(),
            snapshot: Arc::clone(&pass.snapshot),
        });
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = Some(doc);
        // Identities were re-read: judge them now, not at the next event (a rescan need not
        // make one).
        if pass.plan.as_ref().is_some_and(|p| {
            p.steps
                .iter()
                .any(|s| matches!(s.action, crate::plan::Action::RescanDevice { .. }))
        }) {
            sched.event(Instant::now());
        }
        Ok(report.ok() || {
            if report.only_stale_failures() {
                // The kernel moved since the plan; nothing was written. Plan again now.
                sched.event(Instant::now());
                info!("plan was stale (compare-and-delete refused); re-planning");
            }
            report.only_stale_failures()
        })
    }

    /// Writeback-loss marks from the last run: those devices stay kept after a restart.
    fn restore_writeback_lost(&self, retries: &mut Retries) {
        let engine = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
        match engine.store().writeback_lost() {
            Ok(marks) => {
                for (dev, error) in &marks {
                    warn!(device = %dev, error = %error, "kept: its writes were lost before the last stop");
                }
                retries.restore_lost(marks);
            }
            Err(e) => error!(error = %e, "cannot read the writeback-loss marks"),
        }
    }

    /// Stores new writeback-loss marks and forgets those of devices that are gone.
    fn persist_writeback_lost(&self, retries: &mut Retries, snapshot: &crate::snapshot::Snapshot) {
        let gone = retries.prune_lost(snapshot);
        let engine = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
        let store = engine.store();
        let stored: BTreeMap<String, String> = store
            .writeback_lost()
            .unwrap_or_default()
            .into_iter()
            .collect();
        for (dev, error) in retries.lost() {
            if !stored.contains_key(dev)
                && let Err(e) = store.mark_writeback_lost(dev, error)
            {
                error!(device = %dev, error = %e, "cannot persist a writeback-loss mark");
            }
        }
        for dev in gone {
            info!(device = %dev, "device with lost writes is gone: mark dropped");
            if let Err(e) = store.forget_writeback_lost(&dev) {
                error!(device = %dev, error = %e, "cannot drop a writeback-loss mark");
            }
        }
    }

    /// Intents with no outcome were in flight when the last run died. They are marked
    /// interrupted and alerted; the first pass re-plans from the kernel's state, which finishes
    /// what is still needed and nothing else.
    fn recover_interrupted(&self) {
        let engine = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
        let pending = match engine.store().intents_without_outcome() {
            Ok(p) => p,
            Err(e) => {
                error!(error = %e, "cannot read the journal");
                return;
            }
        };
        for entry in pending {
            warn!(id = %entry.id, action = entry.intent.action, "action interrupted by the last stop; re-planning");
            self.alerter.emit(&Alert::action_interrupted(
                &entry.id.to_string(),
                &entry.intent.action,
            ));
            let rec = OutcomeRecord {
                at: SystemTime::now(),
                outcome: Outcome::Interrupted,
            };
            if let Err(e) = engine.store().record_outcome(entry.id, &rec) {
                error!(error = %e, "cannot record the interruption");
            }
        }
    }

    fn reload_config(&self) {
        let Some(path) = &self.opts.config_path else {
            info!("SIGHUP: re-reading the state files");
            return;
        };
        match Config::load(path, IfMissing::Defaults, self.opts.ownership) {
            Ok(c) => {
                let mode = format!("{:?}", c.mode).to_lowercase();
                info!(config = %path.display(), mode, "SIGHUP: config reloaded");
                if let Some(ActuatorFor(actuator_for)) = &self.opts.actuator_for {
                    // Between passes: the pass in flight (if any) keeps the actuator it took.
                    *self.actuator.lock().unwrap_or_else(PoisonError::into_inner) =
                        actuator_for(&c);
                }
                self.engine
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .set_config(c);
            }
            Err(errors) => {
                error!(config = %path.display(), "SIGHUP: config rejected, keeping the old one");
                self.alerter.emit(&Alert::state_rejected(&errors));
            }
        }
    }

    /// Counts the pass in the metrics and writes the textfile, if one is configured. A write
    /// that fails is logged once per distinct error; it never fails the pass.
    fn metrics_pass_done(&self, took: Duration, ok: bool, full: bool) {
        let text = {
            let mut m = self.metrics.lock().unwrap_or_else(PoisonError::into_inner);
            m.set_mode(
                self.engine
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .config()
                    .mode,
            );
            m.pass_done(took, ok, full, SystemTime::now());
            m.render()
        };
        let Some(path) = &self.metrics_file else {
            return;
        };
        let result = crate::metrics::write_textfile(path, text, METRICS_WRITE_TIMEOUT);
        let mut last = self
            .metrics_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(()) => *last = None,
            Err(e) => {
                let e = e.to_string();
                if last.as_ref() != Some(&e) {
                    warn!(error = %e, "metrics textfile not written");
                    *last = Some(e);
                }
            }
        }
    }

    fn dump(&self, retries: &Retries, summary: &Summary) {
        let latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let plan = latest
            .as_ref()
            .and_then(|d| serde_json::to_string(d).ok())
            .unwrap_or_default();
        // Warn level: the operator asked for it, and the default log level is warn.
        warn!(?summary, degraded = ?retries.degraded(), plan, "status dump (SIGUSR1)");
    }
}

/// systemd notification failures are logged, never fatal: the guard matters more than the
/// service manager hearing about it.
fn sd<E: std::fmt::Display>(r: Result<(), E>) {
    if let Err(e) = r {
        warn!(error = %e, "sd_notify failed");
    }
}

/// How soon the findings ask for another pass when no event comes: when the nearest grace period
/// ends, and within `in_use_recheck` while an unwanted device is kept only because it is in use
/// (its release — an unmount, a closed read-only fd, in any namespace — sends no uevent, so
/// without this it would stay until the next full resync).
fn wake_after(findings: &[crate::plan::Finding], in_use_recheck: Duration) -> Option<Duration> {
    findings
        .iter()
        .filter_map(|f| match f.kind {
            FindingKind::WaitingForGrace { remaining_secs, .. } => {
                Some(Duration::from_secs(remaining_secs.max(1)))
            }
            FindingKind::InUse { .. } => Some(in_use_recheck),
            _ => None,
        })
        .min()
}

#[cfg(test)]
mod wake_tests {
    use super::*;
    use crate::plan::{Finding, Subject};

    fn finding(kind: FindingKind) -> Finding {
        Finding {
            subject: Subject::Plan,
            attachment: None,
            kind,
        }
    }

    #[test]
    fn an_in_use_device_is_rechecked_soon_and_the_nearest_grace_end_wins() {
        let recheck = Duration::from_secs(15);
        assert_eq!(
            wake_after(&[finding(FindingKind::Converged)], recheck),
            None
        );
        let in_use = finding(FindingKind::InUse {
            why: "mounted at /srv".into(),
        });
        assert_eq!(
            wake_after(std::slice::from_ref(&in_use), recheck),
            Some(recheck)
        );
        let grace = |s| {
            finding(FindingKind::WaitingForGrace {
                remaining_secs: s,
                removes_at: String::new(),
            })
        };
        assert_eq!(
            wake_after(&[in_use.clone(), grace(7)], recheck),
            Some(Duration::from_secs(7))
        );
        assert_eq!(wake_after(&[grace(40), in_use], recheck), Some(recheck));
    }
}
