//! Issue 8: a pass after a uevent reads what the event named, not the whole host, and plans
//! exactly what a full pass would. In-use facts (device-mapper, multipathd, `/proc`) are read
//! afresh before any removal is planned, and not at all for a pass with no removal work.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use lunguard::config::{Config, Ownership};
use lunguard::desire::store::MemoryStore;
use lunguard::engine::{Engine, Fresh, Pass};
use lunguard::observe::uevent::Uevent;
use lunguard::observe::{Inspector, Touched};
use lunguard::plan::{Action, Plan};
use lunguard::sim::{Lab, ScanMode, SimActuator, scratch_root};
use tokio::sync::mpsc::UnboundedReceiver;

struct World {
    _dir: tempfile::TempDir,
    lab: Lab,
    engine: Engine,
    act: SimActuator,
    /// How often the inspector was asked for open counts (one query of device-mapper).
    asked: Arc<AtomicUsize>,
    rx: UnboundedReceiver<Uevent>,
}

impl World {
    /// Four LUNs on two portals, nothing logged in; LUNs 0–2 declared.
    fn new() -> Self {
        let dir = tempfile::tempdir_in(scratch_root()).unwrap();
        let lab = Lab::new(dir.path().join("host"), 4).unwrap();
        let state = dir.path().join("state.d");
        fs::create_dir(&state).unwrap();
        fs::write(state.join("lab.toml"), lab.state_file(&[0, 1, 2])).unwrap();
        let mut config = Config::parse(
            Path::new("lunguard.toml"),
            "mode = \"enforce\"\n[policy]\ngrace = \"0s\"\n",
        )
        .unwrap();
        config.state_dir = state;
        config.database = dir.path().join("db");
        let roots = lab.sim.roots();
        config.roots.sys = roots.sys;
        config.roots.proc = roots.proc;
        config.roots.dev = roots.dev;
        config.roots.iscsi_nodes = roots.iscsi_nodes;
        config.roots.multipath_wwids = roots.multipath_wwids;
        config.roots.udev_data = roots.udev_data;
        let asked = Arc::new(AtomicUsize::new(0));
        let (open, paths, n) = (lab.sim.clone(), lab.sim.clone(), Arc::clone(&asked));
        let engine = Engine::with_store(
            config,
            Ownership::Trust,
            Box::new(MemoryStore::new()),
            Inspector::from_fn(
                move || {
                    n.fetch_add(1, Ordering::SeqCst);
                    open.open_counts()
                },
                move || paths.path_states(),
            ),
        );
        let act = SimActuator::new(lab.sim.clone());
        let rx = lab.sim.subscribe();
        Self {
            _dir: dir,
            lab,
            engine,
            act,
            asked,
            rx,
        }
    }

    /// [`World::new`] with both portals logged in, scanning automatically (maps built).
    fn logged_in() -> Self {
        let w = Self::new();
        for p in w.lab.portals.clone() {
            w.lab
                .sim
                .login(&w.lab.target, &p, ScanMode::Automatic)
                .unwrap();
        }
        w
    }

    fn touched(&mut self) -> Touched {
        let mut t = Touched::default();
        while let Ok(e) = self.rx.try_recv() {
            t.note(&e);
        }
        t
    }

    fn run(&self, pass: &Pass) {
        let now = SystemTime::now();
        let plan = pass.plan.as_ref().unwrap();
        self.engine.remember(plan, now).unwrap();
        let report = self.engine.execute(pass, &self.act).unwrap();
        assert!(report.ok(), "{plan}\n{report}");
    }

    /// A pass after the events since the last one, as the daemon runs it.
    fn after_events(&mut self) -> Pass {
        let touched = self.touched();
        self.engine
            .prepare_with(
                SystemTime::now(),
                &Fresh {
                    desired: false,
                    touched,
                },
            )
            .unwrap()
    }

    fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

fn steps(p: &Plan) -> Vec<String> {
    p.steps.iter().map(|s| s.action.to_string()).collect()
}

#[test]
fn a_pass_after_an_event_plans_what_a_full_pass_would_and_asks_only_what_removal_needs() {
    let mut w = World::logged_in();
    let host0 = w.lab.sim.sessions()[0].host;
    // The first pass reads everything; LUN 3 (not declared) goes.
    let _ = w.touched();
    let first = w.engine.prepare(SystemTime::now()).unwrap();
    assert!(w.asked() >= 1, "a full pass asks device-mapper");
    assert!(
        first
            .plan
            .as_ref()
            .unwrap()
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::FlushMap { .. })),
        "{}",
        first.plan.as_ref().unwrap()
    );
    w.run(&first);
    drop(first);
    // The removal's own events patch the cache; then the host is converged…
    let after = w.after_events();
    assert!(
        after.plan.as_ref().unwrap().is_empty(),
        "{}",
        after.plan.as_ref().unwrap()
    );
    drop(after);
    // …and an event-less pass (a timer) has no removal work: nothing is asked.
    let before = w.asked();
    let quiet = w
        .engine
        .prepare_with(SystemTime::now(), &Fresh::default())
        .unwrap();
    assert!(
        quiet.plan.as_ref().unwrap().is_empty(),
        "{}",
        quiet.plan.as_ref().unwrap()
    );
    assert_eq!(
        w.asked(),
        before,
        "no removal work: remembered facts suffice"
    );
    drop(quiet);

    // A broad rescan on one session brings LUN 3 back as a bare path (no map: one path only).
    w.lab.sim.broad_rescan(host0).unwrap();
    let before = w.asked();
    let incremental = w.after_events();
    assert!(
        incremental
            .snapshot
            .devices
            .iter()
            .any(|d| d.hctl.host == host0 && d.hctl.lun == 3),
        "the rescan's LUN is in the patched snapshot"
    );
    let inc_plan = incremental.plan.clone().unwrap();
    assert!(
        inc_plan
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::DeletePaths { .. })),
        "the rogue LUN is removed: {inc_plan}"
    );
    let inc_snapshot = incremental.snapshot.clone();
    drop(incremental);
    // The same plan and the same view as a full pass over the same host.
    let full = w.engine.prepare(SystemTime::now()).unwrap();
    assert_eq!(*inc_snapshot, *full.snapshot);
    assert_eq!(steps(&inc_plan), steps(full.plan.as_ref().unwrap()));
    assert_eq!(inc_plan.findings, full.plan.as_ref().unwrap().findings);
    assert!(
        w.asked() > before,
        "facts were read afresh before planning a removal"
    );
    w.run(&full);
}

#[test]
fn a_state_edit_is_read_only_when_the_state_directory_says_so() {
    let mut w = World::logged_in();
    let _ = w.touched();
    let first = w.engine.prepare(SystemTime::now()).unwrap();
    w.run(&first);
    drop(first);
    let _ = w.touched();
    // LUN 2 dropped from the file: a pass that was not told keeps the state it has…
    let f = w.engine.config().state_dir.join("lab.toml");
    fs::write(&f, w.lab.state_file(&[0, 1])).unwrap();
    let kept = w
        .engine
        .prepare_with(SystemTime::now(), &Fresh::default())
        .unwrap();
    assert!(kept.plan.as_ref().unwrap().is_empty());
    assert_eq!(kept.reload.state().unwrap().attachments.len(), 3);
    drop(kept);
    // …and the one the watch announces reads it and removes LUN 2.
    let told = w
        .engine
        .prepare_with(
            SystemTime::now(),
            &Fresh {
                desired: true,
                touched: Touched::default(),
            },
        )
        .unwrap();
    assert_eq!(told.reload.state().unwrap().attachments.len(), 2);
    assert!(
        told.plan
            .as_ref()
            .unwrap()
            .steps
            .iter()
            .any(|s| s.action.is_destructive()),
        "{}",
        told.plan.as_ref().unwrap()
    );
}
