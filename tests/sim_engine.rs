//! Tier 2: the real planner, engine and executor against the simulated host
//! (`sim::SimActuator`): a declared attach converges with narrowed scans
//! only; a broad rescan's leftovers are removed and nothing else; a mounted
//! leftover stays; an emptied state file detaches and logs out.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use lunguard::act::Report;
use lunguard::config::{Config, Ownership};
use lunguard::desire::store::MemoryStore;
use lunguard::engine::Engine;
use lunguard::model::Hctl;
use lunguard::observe::Inspector;
use lunguard::observe::snapshot;
use lunguard::plan::{Action, FindingKind, Plan, Subject};
use lunguard::sim::{Lab, SimActuator, scratch_root};

const DECLARED: [u64; 2] = [2, 5];

struct World {
    _dir: tempfile::TempDir,
    lab: Lab,
    engine: Engine,
    act: SimActuator,
}

impl World {
    /// Eight exported LUNs on two portals; the state file declares 2 and 5.
    fn new() -> Self {
        let dir = tempfile::tempdir_in(scratch_root()).unwrap();
        let lab = Lab::new(dir.path().join("host"), 8).unwrap();
        let state = dir.path().join("state.d");
        fs::create_dir(&state).unwrap();
        fs::write(state.join("lab.toml"), lab.state_file(&DECLARED)).unwrap();
        let mut config = Config::parse(
            Path::new("lunguard.toml"),
            r#"
mode = "enforce"
[policy]
grace = "0s"
max_removals_per_pass = 16
[policy.flush]
retries = 3
backoff_initial = "10ms"
backoff_max = "40ms"
timeout = "1s"
"#,
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
        // The simulator answers open counts and multipathd's path states, as the demo does.
        let (open, paths) = (lab.sim.clone(), lab.sim.clone());
        let engine = Engine::with_store(
            config,
            Ownership::Trust,
            Box::new(MemoryStore::new()),
            Inspector::from_fn(move || open.open_counts(), move || paths.path_states()),
        );
        let act = SimActuator::new(lab.sim.clone());
        Self {
            _dir: dir,
            lab,
            engine,
            act,
        }
    }

    fn declare(&self, luns: &[u64]) {
        let p = self.engine.config().state_dir.join("lab.toml");
        fs::write(p, self.lab.state_file(luns)).unwrap();
    }

    /// One pass: prepare, remember first-seen times, execute.
    fn pass(&self) -> (Plan, Report) {
        let now = SystemTime::now();
        let pass = self.engine.prepare(now).unwrap();
        let plan = pass.plan.clone().expect("a good desired state");
        self.engine.remember(&plan, now).unwrap();
        let report = self.engine.execute(&pass, &self.act).unwrap();
        assert!(report.ok(), "{plan}\n{report}");
        (plan, report)
    }

    /// Passes until a plan is empty; the number of passes that acted.
    fn converge(&self) -> usize {
        for n in 0..=lunguard::engine::MAX_PASSES {
            if self.pass().0.is_empty() {
                return n;
            }
        }
        panic!("not converged in {} passes", lunguard::engine::MAX_PASSES);
    }

    fn luns_present(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.lab.sim.devices().iter().map(|d| d.hctl.lun).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn hosts(&self) -> Vec<u32> {
        self.lab.sim.sessions().iter().map(|s| s.host).collect()
    }
}

fn attached() -> (World, Instant) {
    let t0 = Instant::now();
    let w = World::new();
    let passes = w.converge();
    assert!(passes <= 4, "{passes} passes");
    (w, t0)
}

#[test]
fn declared_attach_converges_with_narrowed_scans_only() {
    let (w, t0) = attached();
    assert_eq!(w.luns_present(), DECLARED);
    assert_eq!(w.lab.sim.devices().len(), 4, "both paths of each LUN");
    let maps = w.lab.sim.maps();
    assert_eq!(maps.len(), 2);
    assert!(maps.iter().all(|m| m.slaves.len() == 2));
    let wwids: Vec<_> = maps.iter().map(|m| m.wwid.clone()).collect();
    assert!(wwids.contains(&w.lab.wwid(2)) && wwids.contains(&w.lab.wwid(5)));
    // Logins were manual, and every scan named exactly one declared LUN.
    assert!(
        w.lab
            .sim
            .nodes()
            .iter()
            .all(|n| n.scan == lunguard::sim::ScanMode::Manual)
    );
    let scans: Vec<u64> = w
        .act
        .actions()
        .iter()
        .filter_map(|a| match a {
            Action::ScanLun { hctl, .. } => Some(hctl.lun),
            _ => None,
        })
        .collect();
    assert_eq!(scans.len(), 4);
    assert!(scans.iter().all(|l| DECLARED.contains(l)));
    assert!(w.act.actions().iter().all(|a| !a.is_destructive()));
    let snap = snapshot(&w.lab.sim.roots());
    assert!(snap.all_problems().is_empty());
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
}

#[test]
fn broad_rescan_leftovers_are_removed_and_nothing_else() {
    let (w, _) = attached();
    let t0 = Instant::now();
    let kept: Vec<_> = w.lab.sim.devices();
    for h in w.hosts() {
        assert_eq!(w.lab.sim.broad_rescan(h).unwrap().len(), 6);
    }
    assert_eq!(w.lab.sim.devices().len(), 16);
    assert_eq!(w.lab.sim.maps().len(), 8);
    let (plan, report) = w.pass();
    assert!(!plan.is_empty(), "{plan}");
    assert!(report.steps.iter().all(|s| !s.line.contains("login")));
    assert_eq!(w.lab.sim.devices(), kept, "exactly the leftovers went");
    assert_eq!(w.lab.sim.maps().len(), 2);
    assert_eq!(w.lab.sim.sessions().len(), 2, "sessions stay");
    // Compare-and-delete went path by path through the actuator.
    let deleted = w
        .act
        .calls()
        .iter()
        .filter(|c| matches!(c, lunguard::act::Recorded::DeletePath(_)))
        .count();
    assert_eq!(deleted, 12);
    assert_eq!(w.converge(), 0);
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
}

#[test]
fn a_mounted_leftover_is_kept_and_reported_in_use() {
    let (w, _) = attached();
    for h in w.hosts() {
        w.lab.sim.broad_rescan(h).unwrap();
    }
    let busy = w
        .lab
        .sim
        .maps()
        .into_iter()
        .find(|m| m.wwid == w.lab.wwid(3))
        .unwrap();
    w.lab.sim.mount(busy.name.as_str(), "/srv/db").unwrap();
    let (plan, _) = w.pass();
    assert_eq!(w.luns_present(), [2, 3, 5]);
    assert!(w.lab.sim.maps().iter().any(|m| m.name == busy.name));
    let why = plan
        .findings_for(&Subject::Map {
            name: busy.name.clone(),
        })
        .find_map(|f| match &f.kind {
            FindingKind::InUse { why } => Some(why.clone()),
            _ => None,
        })
        .expect("an in-use finding");
    assert!(why.contains("mounted at /srv/db"), "{why}");
    // It is never planned for removal, pass after pass.
    let (plan, _) = w.pass();
    assert!(
        plan.steps.iter().all(|s| !s.action.is_destructive()),
        "{plan}"
    );
    // Unmounted, it goes.
    w.lab.sim.unmount("/srv/db").unwrap();
    w.pass();
    assert_eq!(w.luns_present(), DECLARED);
}

#[test]
fn emptied_state_file_detaches_and_logs_out() {
    let (w, _) = attached();
    let t0 = Instant::now();
    w.declare(&[]);
    let passes = w.converge();
    assert!(passes <= 2, "{passes} passes");
    assert!(w.lab.sim.devices().is_empty());
    assert!(w.lab.sim.maps().is_empty());
    assert!(w.lab.sim.sessions().is_empty());
    assert!(w.lab.sim.nodes().is_empty(), "node records deleted");
    let snap = snapshot(&w.lab.sim.roots());
    assert!(snap.all_problems().is_empty() && snap.iscsi_sessions.is_empty());
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
}

#[test]
fn a_flush_that_reports_in_use_is_retried_then_succeeds() {
    let (w, _) = attached();
    let h = w.hosts()[0];
    w.lab.sim.scan(h, "0 0 7").unwrap();
    w.act.fail_with("flush_map", 2, "mpathc: map in use");
    let (plan, report) = w.pass();
    assert!(report.ok(), "{plan}\n{report}");
    let flushes = w
        .act
        .actions()
        .iter()
        .filter(|a| matches!(a, Action::FlushMap { .. }))
        .count();
    assert_eq!(flushes, 3, "two refusals, then the flush");
    assert!(
        !w.lab
            .sim
            .devices()
            .iter()
            .any(|d| d.hctl == Hctl::new(h, 0, 0, 7))
    );
}

#[test]
fn a_stale_plan_never_touches_the_lun_now_behind_the_same_names() {
    let (w, _) = attached();
    let h = w.hosts()[0];
    w.lab.sim.scan(h, "0 0 6").unwrap();
    let pass = w.engine.prepare(SystemTime::now()).unwrap();
    // Before the plan runs, LUN 6 goes and LUN 1 arrives: the kernel reuses
    // the freed sd name and dev_t, device-mapper the freed dm-N.
    w.lab.sim.delete(Hctl::new(h, 0, 0, 6)).unwrap();
    w.lab.sim.scan(h, "0 0 1").unwrap();
    let report = w.engine.execute(&pass, &w.act).unwrap();
    let failed: Vec<String> = report
        .steps
        .iter()
        .filter(|s| matches!(s.result, lunguard::act::StepResult::Failed { .. }))
        .map(|s| s.result.to_string())
        .collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert!(failed[0].contains("is now another map"), "{report}");
    assert!(w.luns_present().contains(&1), "LUN 1 untouched");
    assert!(w.lab.sim.maps().iter().any(|m| m.wwid == w.lab.wwid(1)));
}

/// Issue 7, item 4: a portal dropped from a still-declared multipath attachment. Its paths are
/// taken out of the live maps (`multipathd del path`), then deleted, and its session logged out;
/// the maps stay with the other portal's path. The simulator now refuses to delete a map's leg,
/// as the real actuator always did (it used to let the delete through while the real one refused
/// forever).
#[test]
fn a_dropped_portal_leaves_the_maps_then_its_session_goes() {
    let (w, _) = attached();
    let p1 = w.lab.portals[0];
    let text = w.lab.state_file(&DECLARED).replace(
        &format!("portals = [\"{p1}\", \"{}\"]", w.lab.portals[1]),
        &format!("portals = [\"{p1}\"]"),
    );
    assert!(!text.contains(&w.lab.portals[1].to_string()), "{text}");
    fs::write(w.engine.config().state_dir.join("lab.toml"), text).unwrap();
    let (plan, _) = w.pass();
    let kinds: Vec<&str> = plan.steps.iter().map(|s| s.action.kind()).collect();
    let first_delete = kinds.iter().position(|k| *k == "delete_paths").unwrap();
    assert!(
        kinds[..first_delete].contains(&"remove_from_map"),
        "out of the map before the delete: {plan}"
    );
    assert!(!kinds.contains(&"flush_map"), "the maps stay: {plan}");
    w.converge();
    let maps = w.lab.sim.maps();
    assert_eq!(maps.len(), 2, "both declared LUNs keep their map");
    assert!(maps.iter().all(|m| m.slaves.len() == 1), "{maps:?}");
    assert_eq!(
        w.lab.sim.sessions().len(),
        1,
        "the dropped portal's session is gone"
    );
    assert_eq!(w.lab.sim.devices().len(), 2);
}

/// The simulated kernel agrees with the real actuator: deleting a path that is still a leg of a
/// map is refused as a stale plan, nothing removed.
#[test]
fn the_simulator_refuses_to_delete_a_live_maps_leg() {
    use lunguard::act::Actuator;
    let (w, _) = attached();
    let d = w.lab.sim.devices().into_iter().next().unwrap();
    let path = lunguard::plan::PathRef {
        hctl: d.hctl,
        wwid: d.wwid.clone(),
        block: Some(d.block.clone()),
        dev: Some(d.dev),
    };
    let err = w.act.delete_path(&path).unwrap_err();
    assert!(err.to_string().contains(lunguard::act::STALE_PLAN), "{err}");
    assert_eq!(w.lab.sim.devices().len(), 4);
}

/// Issue 12 end to end on the simulated host: the engine registers the declared LUNs' WWIDs in
/// the wwids file (and remembers them as its own), keeps the quarantine list equal to the
/// sessions' hosts and the declared addresses before acting, removes exactly its entries after
/// the detach, and removes the list in observe mode (a dry run).
#[test]
fn wwids_entries_and_quarantine_list_follow_the_intents() {
    let World {
        _dir,
        lab,
        engine,
        act,
    } = World::new();
    let run = _dir.path().join("run");
    let w = World {
        engine: engine.with_quarantine(&run),
        _dir,
        lab,
        act,
    };
    let file = || lunguard::observe::wwids::read_wwids(&w.lab.sim.roots().multipath_wwids).unwrap();
    // Another tool's entry, there before lunguard.
    w.lab
        .sim
        .wwids_edit("3600000000000000000000000000000aa", true)
        .unwrap();
    w.converge();
    let ids: Vec<String> = DECLARED
        .iter()
        .map(|l| w.lab.wwid(*l).multipath_id().unwrap())
        .collect();
    for id in &ids {
        assert!(file().contains(id), "{id} not registered: {:?}", file());
    }
    let mut owned = w.engine.store().owned_wwids().unwrap();
    owned.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(
        owned, expected,
        "exactly the entries it added are lunguard's"
    );

    let q = run.join("quarantine");
    let names = |sub: &str| {
        let mut v: Vec<String> = fs::read_dir(q.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let mut hosts: Vec<String> = w.hosts().iter().map(|h| format!("host{h}")).collect();
    hosts.sort();
    assert_eq!(names("hosts"), hosts);
    let mut declared: Vec<String> = w
        .lab
        .sim
        .devices()
        .iter()
        .map(|d| d.hctl.to_string())
        .collect();
    declared.sort();
    assert_eq!(
        names("declared"),
        declared,
        "the declared LUNs' addresses, on every session"
    );

    // Detach everything: lunguard's entries go, the other tool's stays.
    w.declare(&[]);
    w.converge();
    assert_eq!(
        file().into_iter().collect::<Vec<_>>(),
        ["3600000000000000000000000000000aa"]
    );
    assert!(w.engine.store().owned_wwids().unwrap().is_empty());

    // Observe mode: no list at all.
    w.declare(&DECLARED);
    let pass = w.engine.prepare(SystemTime::now()).unwrap();
    w.engine
        .execute(&pass, &lunguard::act::DryRun::new())
        .unwrap();
    assert!(!q.exists(), "a dry run keeps no quarantine list");
}
