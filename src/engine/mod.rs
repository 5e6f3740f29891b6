//! One reconcile pass, end to end, shared by `plan`, `apply --once` and the daemon: reload the
//! desired state (all-or-nothing; a broken file keeps the last good state), observe the kernel,
//! gather what the planner needs beyond sysfs (first-seen times, targets we attached, open counts,
//! multipathd's path states), plan, and — only when asked — execute with the journal.
//!
//! The planner stays pure; this module owns the IO around it.

mod actuator;
mod cache;
mod document;
mod journal;
mod kernel_view;
pub mod kill_hook;
mod phases;
pub mod policy;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use tracing::{info, warn};

pub use actuator::actuator_for;
pub use cache::Fresh;
pub use document::{HealthDocument, PlanDocument, SnapshotDocument};
pub use journal::StoreJournal;
pub use phases::Phases;

use crate::act::{Actuator, Journal, JournalEvent, Report, TargetLocks, execute_plan};
use crate::config::{Config, Ownership};
use crate::desire::store::SledStore;
use crate::desire::{self, Reload, Store, StoreError};
use crate::model::DeviceKey;
use crate::model::Iqn;
use crate::model::Key;
use crate::observe::{Inspector, snapshot};
use crate::plan::{Action, Plan};
use crate::reconcile::{self, Context};
use crate::snapshot::ClaimState;
use crate::snapshot::Snapshot;
use cache::{Cache, Facts, Needs};
use std::sync::Arc;

/// Why a pass could not run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database could not be opened or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of preparing a pass.
#[derive(Debug)]
pub struct Pass {
    /// What happened to the desired state (replaced, or kept with errors).
    pub reload: Reload,
    /// The kernel's view (shared with the engine's cache: the next pass patches it).
    pub snapshot: Arc<Snapshot>,
    /// What the planner was given besides desired and observed state.
    pub ctx: Context,
    /// The plan; `None` when there has never been a good desired state, because an empty one
    /// would mean "detach everything".
    pub plan: Option<Plan>,
}

/// The store's journal and an observer: the observer sees every event, the store's answer
/// (an intent not on disk stops its step) is the executor's.
struct Tee<'a> {
    store: &'a dyn Journal,
    observer: &'a dyn Journal,
}

impl Journal for Tee<'_> {
    fn record(&self, event: &JournalEvent<'_>) -> Result<(), String> {
        let stored = self.store.record(event);
        // Observers (alerts, tests) cannot fail; their answer carries nothing.
        let _ = self.observer.record(event);
        stored
    }
}

/// Config + store + the tools that inspect and act.
pub struct Engine {
    config: Config,
    ownership: Ownership,
    store: Box<dyn Store>,
    inspector: Inspector,
    locks: TargetLocks,
    /// Keys whose identity a unit attention put in doubt, waiting for the next pass.
    reverify: std::sync::Mutex<Vec<Key>>,
    /// What the last pass read, for the next one to patch instead of re-reading.
    cache: std::sync::Mutex<Cache>,
    /// The quarantine list's writer: the daemon's only (see [`Engine::keep_quarantine`]).
    quarantine: Option<crate::quarantine::Writer>,
}

impl Engine {
    /// Opens the config's database (exclusive: a running daemon holds it).
    pub fn open(config: Config, ownership: Ownership) -> Result<Self, EngineError> {
        let store = SledStore::open(&config.database)?;
        let inspector =
            Inspector::discover(config.timeouts.multipath).with_dev_root(&config.roots.dev);
        Ok(Self::with_store(
            config,
            ownership,
            Box::new(store),
            inspector,
        ))
    }

    /// An engine over a given store and inspector (tests, the simulator).
    pub fn with_store(
        config: Config,
        ownership: Ownership,
        store: Box<dyn Store>,
        inspector: Inspector,
    ) -> Self {
        Self {
            config,
            ownership,
            store,
            inspector,
            locks: TargetLocks::default(),
            reverify: std::sync::Mutex::new(Vec::new()),
            cache: std::sync::Mutex::new(Cache::default()),
            quarantine: None,
        }
    }

    /// Keeps the quarantine list under `run_dir` (`/run/lunguard`) before every execution: the
    /// daemon does, `apply --once` does not (the list must not outlive the process that keeps
    /// it current).
    pub fn with_quarantine(mut self, run_dir: &std::path::Path) -> Self {
        self.quarantine = Some(crate::quarantine::Writer::new(run_dir));
        self
    }

    /// Removes the quarantine list (the daemon stops): the rule quarantines nothing any more.
    pub fn clear_quarantine(&self) {
        if let Some(w) = &self.quarantine
            && let Err(e) = w.clear()
        {
            warn!(dir = %w.dir().display(), error = %e, "cannot remove the quarantine list");
        }
    }

    /// Brings the quarantine list to this pass's desired state and snapshot, before any step
    /// runs (so a narrowed scan of this plan finds its address declared), and sends a `change`
    /// event to each newly declared device udev had quarantined. In observe mode, with
    /// `policy.quarantine = false` or without a good desired state the list is removed. A
    /// failure is logged and never stops the pass: the rule then quarantines less, never more.
    fn keep_quarantine(&self, pass: &Pass, actuator: &dyn Actuator) {
        let Some(w) = &self.quarantine else {
            return;
        };
        let state = pass.reload.state();
        let (Some(state), false, true) =
            (state, actuator.is_dry_run(), self.config.policy.quarantine)
        else {
            self.clear_quarantine();
            return;
        };
        let policy = policy::from_config(&self.config);
        let list =
            reconcile::quarantine_list(&state.attachments, &pass.snapshot, &policy, &pass.ctx);
        let added = match w.sync(&list) {
            Ok(added) => added,
            Err(e) => {
                warn!(dir = %w.dir().display(), error = %e, "cannot update the quarantine list");
                return;
            }
        };
        if added.is_empty() {
            return;
        }
        let sys = crate::act::Sysfs::new(&self.config.roots.sys)
            .with_deadline(self.config.timeouts.multipath);
        for r in
            crate::quarantine::release(&sys, &self.config.roots.udev_data, &pass.snapshot, &added)
        {
            match r {
                Ok(name) => {
                    info!(device = %name, "declared now: released from quarantine (change event)")
                }
                Err(e) => {
                    warn!(error = %e, "a declared device stays quarantined until its next event")
                }
            }
        }
    }

    /// The config in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Replaces the config (SIGHUP). The next pass reads everything afresh.
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
        *self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Cache::default();
    }

    /// Notes keys whose identity may have changed (`uevent::identity_keys`): the next pass
    /// rescans their in-scope devices before planning anything destructive for them.
    pub fn reverify(&self, keys: impl IntoIterator<Item = Key>) {
        self.reverify
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(keys);
    }

    /// The devices of the noted keys present in `snapshot` (the notes are taken).
    fn take_reverify(&self, snapshot: &Snapshot) -> std::collections::BTreeSet<crate::model::Hctl> {
        let keys = std::mem::take(
            &mut *self
                .reverify
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        snapshot
            .devices
            .iter()
            .map(|d| d.hctl)
            .filter(|h| {
                keys.iter().any(|k| match k {
                    Key::Device(d) => d == h,
                    Key::TargetLuns {
                        host,
                        channel,
                        target,
                    } => h.host == *host && h.channel == *channel && h.target == *target,
                    _ => false,
                })
            })
            .collect()
    }

    /// Reloads desired state, observes and plans, reading everything afresh (`plan`,
    /// `apply --once`, the daemon's first, periodic and overflow passes). Writes only the desired
    /// state (when the load is good); first-seen times are persisted by [`Engine::remember`].
    pub fn prepare(&self, now: SystemTime) -> Result<Pass, EngineError> {
        self.prepare_with(now, &Fresh::all())
    }

    /// [`Engine::prepare`], re-reading only what `fresh` names and taking the rest from the last
    /// pass: the state files only after a state-directory event; sysfs only for the devices the
    /// uevents named ([`crate::observe::refresh`]); device-mapper, multipathd and `/proc` only
    /// when the plan has removal work (destructive steps, or findings about unwanted devices)
    /// or a map changed — then afresh, and the plan is made again with them, so nothing is ever
    /// removed on a remembered in-use fact.
    pub fn prepare_with(&self, now: SystemTime, fresh: &Fresh) -> Result<Pass, EngineError> {
        let mut phases = Phases::start();
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let reload = match (&cache.desired, fresh.desired) {
            (Some(last), false) => last.unchanged(),
            _ => {
                let loaded = desire::load_desired(&self.config, self.ownership);
                let reload = desire::apply_load(self.store(), loaded)?;
                cache.desired = Some(reload.clone());
                reload
            }
        };
        phases.mark(if fresh.desired {
            "load"
        } else {
            "desired_cached"
        });
        let roots = self.config.roots.to_roots();
        let snapshot = match cache.snapshot.take() {
            Some(mut snap) if !fresh.touched.everything => {
                if crate::observe::refresh(&roots, Arc::make_mut(&mut snap), &fresh.touched) {
                    snap
                } else {
                    Arc::new(snapshot(&roots))
                }
            }
            _ => Arc::new(snapshot(&roots)),
        };
        cache.snapshot = Some(Arc::clone(&snapshot));
        phases.mark(if fresh.touched.everything {
            "snapshot"
        } else {
            "refresh"
        });
        let mut base = self.context(now, &mut cache)?;
        phases.mark("store");
        base.reverify = self.take_reverify(&snapshot);
        let Some(state) = reload.state() else {
            let ctx = cache
                .facts
                .get_or_insert_with(Facts::default)
                .apply(&snapshot, base);
            return Ok(Pass {
                reload,
                snapshot,
                ctx,
                plan: None,
            });
        };
        let policy = policy::from_config(&self.config);
        let needs = if fresh.touched.everything || cache.facts.is_none() {
            Needs::ALL
        } else {
            Needs::of_touched(&fresh.touched, &snapshot, cache.seen.as_ref())
        };
        let facts = cache.facts.get_or_insert_with(Facts::default);
        facts.gather(&self.inspector, &self.config.roots.proc, needs, &mut phases);
        let mut ctx = facts.apply(&snapshot, base.clone());
        let mut first = reconcile::plan(&state.attachments, &snapshot, &policy, &ctx);
        phases.mark("plan");
        // Removal work planned on remembered facts is planned again on fresh ones: nothing is
        // removed on a remembered "not in use".
        let missing = Needs::of_plan(&first, &snapshot).without(needs);
        if missing.any() {
            facts.gather(
                &self.inspector,
                &self.config.roots.proc,
                missing,
                &mut phases,
            );
            ctx = facts.apply(&snapshot, base);
            first = reconcile::plan(&state.attachments, &snapshot, &policy, &ctx);
            phases.mark("plan_fresh_facts");
        }
        // Ask the kernel about the bare disks this plan would delete (it sees mounts in every
        // namespace and every claim); plan again if any is not free.
        ctx.claims = self
            .inspector
            .claims(&self.config.roots.dev, &bare_disks_removed(&first));
        phases.mark("claims");
        let plan = if ctx.claims.values().all(|c| *c == ClaimState::Free) {
            first
        } else {
            let again = reconcile::plan(&state.attachments, &snapshot, &policy, &ctx);
            phases.mark("replan");
            again
        };
        tracing::debug!(
            total_ms = phases.total().as_secs_f64() * 1000.0,
            "pass prepared: {phases}"
        );
        Ok(Pass {
            reload,
            snapshot,
            ctx,
            plan: Some(plan),
        })
    }

    /// The context without the inspector's facts: the clock, first-seen times and the targets
    /// lunguard attached, from the store once and then from the cache (this engine is the
    /// store's only writer).
    fn context(&self, now: SystemTime, cache: &mut Cache) -> Result<Context, EngineError> {
        let mut ctx = Context::at(now);
        if cache.seen.is_none() {
            let mut seen = std::collections::BTreeMap::new();
            for (key, at) in self.store.seen()? {
                match key.parse::<DeviceKey>() {
                    Ok(k) => {
                        seen.insert(k, at);
                    }
                    Err(e) => warn!(error = %e, "ignoring a first-seen record"),
                }
            }
            cache.seen = Some(seen);
        }
        if cache.known_targets.is_none() {
            cache.known_targets = Some(self.store.claimed_targets()?.into_iter().collect());
        }
        if cache.owned_wwids.is_none() {
            cache.owned_wwids = Some(self.store.owned_wwids()?.into_iter().collect());
        }
        ctx.first_seen = cache.seen.clone().unwrap_or_default();
        ctx.known_targets = cache.known_targets.clone().unwrap_or_default();
        ctx.owned_wwids = cache.owned_wwids.clone().unwrap_or_default();
        // One small file, read every pass: multipath-tools and other tools change it too.
        let file = &self.config.roots.multipath_wwids;
        ctx.wwids_file = match crate::observe::wwids::read_wwids(file) {
            Ok(w) => Some(w),
            Err(e) => {
                warn!(file = %file.display(), error = %e, "cannot read multipathd's wwids file: no WWID is registered until it can be read");
                None
            }
        };
        Ok(ctx)
    }

    /// Persists the plan's first-seen bookkeeping: grace periods start at the first pass that
    /// saw a device, and end when it is gone or wanted again.
    pub fn remember(&self, plan: &Plan, now: SystemTime) -> Result<(), EngineError> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for k in &plan.newly_seen {
            self.store.first_seen(&k.to_string(), now)?;
            if let Some(seen) = cache.seen.as_mut() {
                seen.entry(k.clone()).or_insert(now);
            }
        }
        for k in &plan.forgotten {
            self.store.forget_seen(&k.to_string())?;
            if let Some(seen) = cache.seen.as_mut() {
                seen.remove(k);
            }
        }
        // Durable before anything acts on them (the store has no background flusher; one fsync
        // a pass, none when nothing changed): `plan` and `apply --once` as much as the daemon.
        self.store.sync()?;
        Ok(())
    }

    /// Runs the pass's plan through `actuator`, journaling every step, and updates which targets
    /// lunguard is responsible for: every desired target is claimed before acting (so deleting
    /// its last attachment still detaches it), and a claimed target that is no longer desired is
    /// released once no session to it is left.
    pub fn execute(&self, pass: &Pass, actuator: &dyn Actuator) -> Result<Report, EngineError> {
        self.execute_observed(pass, actuator, &crate::act::NoJournal)
    }

    /// [`Engine::execute`], also handing every journal event to `observer` after the store has
    /// it (the daemon turns them into alerts).
    pub fn execute_observed(
        &self,
        pass: &Pass,
        actuator: &dyn Actuator,
        observer: &dyn Journal,
    ) -> Result<Report, EngineError> {
        let Some(plan) = &pass.plan else {
            return Ok(Report::default());
        };
        let desired: BTreeSet<&Iqn> = pass.reload.state().map(|s| s.targets()).unwrap_or_default();
        if !actuator.is_dry_run() {
            for t in &desired {
                self.store.claim_target(t)?;
            }
        }
        let store = StoreJournal::new(self.store());
        let tee = Tee {
            store: &store,
            observer,
        };
        let mut phases = Phases::start();
        self.keep_quarantine(pass, actuator);
        phases.mark("quarantine");
        let report = execute_plan(plan, actuator, &tee, &self.locks);
        phases.mark("steps");
        if !actuator.is_dry_run() {
            self.reread_owned_wwids_after(plan);
            self.cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .known_targets = None;
            // Only targets we hold and no longer want can be released: their sessions and node
            // records are read afresh (a handful of directories), not the whole host.
            let undesired: Vec<&Iqn> = pass
                .ctx
                .known_targets
                .iter()
                .filter(|t| !desired.contains(t))
                .collect();
            if !undesired.is_empty() {
                let roots = self.config.roots.to_roots();
                let sessions = crate::observe::sessions(&roots);
                // A node record left behind keeps the target ours, so the next pass still
                // deletes it as an interrupted detach's (an out-of-scope record is never touched).
                let records = crate::observe::node_records(&roots);
                for t in undesired {
                    if !sessions.iter().any(|s| s.target.as_ref() == Some(t))
                        && !records.iter().any(|r| &r.target == t)
                    {
                        info!(target = %t, "target fully detached: no longer ours");
                        self.store.release_target(t)?;
                    }
                }
            }
            phases.mark("release_targets");
        }
        tracing::debug!(
            total_ms = phases.total().as_secs_f64() * 1000.0,
            "pass executed: {phases}"
        );
        Ok(report)
    }
}

impl Engine {
    /// After a pass whose plan registered or forgot wwids-file entries (the journal recorded
    /// whose they are with each outcome), the next pass reads them from the store again.
    fn reread_owned_wwids_after(&self, plan: &Plan) {
        if plan.steps.iter().any(|s| {
            matches!(
                s.action,
                Action::RegisterWwid { .. } | Action::ForgetWwid { .. }
            )
        }) {
            self.cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .owned_wwids = None;
        }
    }
}

/// The bare disks (no multipath map over them) that `plan` deletes, with their dev_t.
fn bare_disks_removed(plan: &Plan) -> Vec<(String, crate::model::DevT)> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::DeletePaths { map: None, paths } => Some(paths),
            _ => None,
        })
        .flatten()
        .filter_map(|p| Some((p.block.clone()?, p.dev?)))
        .collect()
}

/// How long `apply --once` lets passes continue: a login is observed by the next pass, whose plan
/// then scans the LUN, so convergence can take more than one pass.
pub const MAX_PASSES: usize = 4;

/// Pause between passes, for the kernel and udev to settle what the last pass changed.
pub const PASS_PAUSE: Duration = Duration::from_millis(500);
