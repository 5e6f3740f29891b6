//! One reconcile pass, end to end, shared by `plan`, `apply --once` and the daemon: reload the
//! desired state (all-or-nothing; a broken file keeps the last good state), observe the kernel,
//! gather what the planner needs beyond sysfs (first-seen times, targets we attached, open counts,
//! multipathd's path states), plan, and — only when asked — execute with the journal.
//!
//! The planner stays pure; this module owns the IO around it.

mod actuator;
mod inspect;
mod journal;
pub mod policy;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use tracing::{info, warn};

pub use actuator::actuator_for;
pub use inspect::{
    DmMultipath, Inspector, OpenFiles, merge_kernel_view, parse_dm_queueing, parse_dm_status,
    parse_open_counts, parse_path_states, scan_open_blocks,
};
pub use journal::StoreJournal;

use crate::act::{Actuator, Journal, JournalEvent, Report, TargetLocks, execute_plan};
use crate::config::{Config, Ownership};
use crate::controller::Key;
use crate::desire::store::SledStore;
use crate::desire::{self, Reload, Store, StoreError};
use crate::model::Iqn;
use crate::observe::{Snapshot, snapshot};
use crate::reconcile::{self, Action, ClaimState, Context, DeviceKey, Plan};

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
    /// The kernel's view.
    pub snapshot: Snapshot,
    /// What the planner was given besides desired and observed state.
    pub ctx: Context,
    /// The plan; `None` when there has never been a good desired state, because an empty one
    /// would mean "detach everything".
    pub plan: Option<Plan>,
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

    /// Replaces the config (SIGHUP).
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
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

    /// Reloads desired state, observes and plans. Writes only the desired state (when the load
    /// is good); first-seen times are persisted by [`Engine::remember`].
    pub fn prepare(&self, now: SystemTime) -> Result<Pass, EngineError> {
        let loaded = desire::load_desired(&self.config, self.ownership);
        let reload = desire::apply_load(self.store(), loaded)?;
        let snapshot = snapshot(&self.config.roots.to_roots());
        let mut ctx = self.context(now)?;
        inspect::merge_kernel_view(&snapshot, self.inspector.dm_multipath().as_ref(), &mut ctx);
        ctx.reverify = self.take_reverify(&snapshot);
        let plan = reload.state().map(|state| {
            let policy = policy::from_config(&self.config);
            let first = reconcile::plan(&state.attachments, &snapshot, &policy, &ctx);
            // Ask the kernel about the bare disks this plan would delete (it sees mounts in
            // every namespace and every claim); plan again if any is not free.
            ctx.claims = self
                .inspector
                .claims(&self.config.roots.dev, &bare_disks_removed(&first));
            if ctx.claims.values().all(|c| *c == ClaimState::Free) {
                first
            } else {
                reconcile::plan(&state.attachments, &snapshot, &policy, &ctx)
            }
        });
        Ok(Pass {
            reload,
            snapshot,
            ctx,
            plan,
        })
    }

    fn context(&self, now: SystemTime) -> Result<Context, EngineError> {
        let mut ctx = Context::at(now);
        for (key, at) in self.store.seen()? {
            match key.parse::<DeviceKey>() {
                Ok(k) => {
                    ctx.first_seen.insert(k, at);
                }
                Err(e) => warn!(error = %e, "ignoring a first-seen record"),
            }
        }
        ctx.known_targets = self.store.claimed_targets()?.into_iter().collect();
        ctx.open_counts = self.inspector.open_counts();
        ctx.path_states = self.inspector.path_states();
        let open = self.inspector.open_blocks(&self.config.roots.proc);
        for who in &open.unreadable {
            tracing::debug!(process = %who, "cannot read a process's open files: bare disks count as maybe in use");
        }
        ctx.open_blocks = open.by_name;
        ctx.open_devs = open.by_dev;
        ctx.unreadable_procs = open.unreadable;
        Ok(ctx)
    }

    /// Persists the plan's first-seen bookkeeping: grace periods start at the first pass that
    /// saw a device, and end when it is gone or wanted again.
    pub fn remember(&self, plan: &Plan, now: SystemTime) -> Result<(), EngineError> {
        for k in &plan.newly_seen {
            self.store.first_seen(&k.to_string(), now)?;
        }
        for k in &plan.forgotten {
            self.store.forget_seen(&k.to_string())?;
        }
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
        let tee = |e: &JournalEvent<'_>| {
            store.record(e);
            observer.record(e);
        };
        let report = execute_plan(plan, actuator, &tee, &self.locks);
        if !actuator.is_dry_run() {
            let after = snapshot(&self.config.roots.to_roots());
            for t in &pass.ctx.known_targets {
                let has_session = after
                    .iscsi_sessions
                    .iter()
                    .any(|s| s.target.as_ref() == Some(t));
                if !desired.contains(t) && !has_session {
                    info!(target = %t, "target fully detached: no longer ours");
                    self.store.release_target(t)?;
                }
            }
        }
        Ok(report)
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
