//! The guard loop itself (`daemon::Daemon::run`) against the simulated host, with inputs injected
//! through its channel: an overflow forces a resync pass, a destructive step that keeps failing is
//! degraded once and then left alone, TERM ends the loop cleanly. Timing is shortened; nothing
//! here sleeps for long.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lunguard::act::Recorded;
use lunguard::alert::{AlertKind, MemorySink};
use lunguard::config::{Config, Ownership};
use lunguard::daemon::schedule::Timing;
use lunguard::daemon::{Daemon, Input, Options, Summary};
use lunguard::desire::store::MemoryStore;
use lunguard::engine::{Engine, Inspector};
use lunguard::notify::Notifier;
use lunguard::reconcile::Action;
use lunguard::sim::{Lab, ScanMode, SimActuator, scratch_root};
use tokio::sync::mpsc;

struct Rig {
    _dir: tempfile::TempDir,
    lab: Lab,
    act: Arc<SimActuator>,
    alerts: Arc<MemorySink>,
    tx: mpsc::Sender<Input>,
    guard: tokio::task::JoinHandle<Summary>,
}

/// LUN 0 of a 2-LUN lab is declared; both LUNs are attached, so LUN 1 is a leftover.
async fn rig(prepare: impl FnOnce(&SimActuator)) -> Rig {
    let dir = tempfile::tempdir_in(scratch_root()).expect("tempdir");
    let lab = Lab::new(dir.path().join("host"), 2).expect("lab");
    lab.sim.set_multipathd(true);
    for p in &lab.portals {
        let s = lab
            .sim
            .login(&lab.target, p, ScanMode::Automatic)
            .expect("login");
        assert!(s.host < 100);
    }
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    std::fs::write(state.join("lab.toml"), lab.state_file(&[0])).expect("state file");
    let mut config = Config::parse(
        Path::new("lunguard.toml"),
        "mode = \"enforce\"\n[policy]\ngrace = \"0s\"\n[policy.flush]\nretries = 0\n",
    )
    .expect("config");
    config.state_dir = state;
    let roots = lab.sim.roots();
    config.roots.sys = roots.sys;
    config.roots.proc = roots.proc;
    config.roots.dev = roots.dev;
    // The sim's multipathd answers path states: a map whose path states nobody reports is
    // refused removal (fail closed), so the rig needs them as a real host has them.
    let (open, paths) = (lab.sim.clone(), lab.sim.clone());
    let engine = Engine::with_store(
        config,
        Ownership::Trust,
        Box::new(MemoryStore::new()),
        Inspector::from_fn(move || open.open_counts(), move || paths.path_states()),
    );
    let act = Arc::new(SimActuator::new(lab.sim.clone()));
    prepare(&act);
    let alerts = Arc::new(MemorySink::new());
    let daemon = Daemon::new(
        engine,
        act.clone(),
        alerts.clone(),
        Notifier::disabled(),
        Options {
            timing: Timing {
                debounce: Duration::from_millis(5),
                debounce_cap: Duration::from_millis(20),
                resync: Duration::from_secs(3600),
                backoff_initial: Duration::from_millis(10),
                backoff_max: Duration::from_millis(20),
            },
            destructive_retry_limit: 3,
            ..Options::default()
        },
    );
    let (tx, rx) = mpsc::channel(64);
    let mut uevents = lab.sim.subscribe();
    let fwd = tx.clone();
    tokio::spawn(async move {
        while let Some(u) = uevents.recv().await {
            if fwd.send(Input::Uevent(u)).await.is_err() {
                return;
            }
        }
    });
    let guard = tokio::spawn(async move { daemon.run(rx).await.expect("loop runs") });
    Rig {
        _dir: dir,
        lab,
        act,
        alerts,
        tx,
        guard,
    }
}

async fn until(cond: impl Fn() -> bool) -> bool {
    for _ in 0..400 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

async fn stop(r: Rig) -> (Summary, Arc<MemorySink>) {
    r.tx.send(Input::Stop {
        signal: "TERM".into(),
    })
    .await
    .expect("send stop");
    let s = r.guard.await.expect("loop task");
    (s, r.alerts)
}

#[tokio::test]
async fn leftover_is_removed_and_term_stops_the_loop_cleanly() {
    let r = rig(|_| {}).await;
    let sim = r.lab.sim.clone();
    assert!(
        until(|| sim.devices().iter().all(|d| d.hctl.lun == 0)).await,
        "leftover LUN 1 removed by the first pass"
    );
    let (summary, alerts) = stop(r).await;
    assert!(summary.passes >= 1);
    let kinds = alerts.kinds();
    assert_eq!(kinds.first(), Some(&AlertKind::DaemonStarted));
    assert_eq!(kinds.last(), Some(&AlertKind::DaemonStopping));
    assert!(kinds.contains(&AlertKind::DaemonReady));
}

#[tokio::test]
async fn overflow_forces_a_resync_pass_and_is_alerted() {
    let r = rig(|_| {}).await;
    let sim = r.lab.sim.clone();
    assert!(until(|| sim.devices().iter().all(|d| d.hctl.lun == 0)).await);
    // Another tool re-adds LUN 1; its uevents are "lost" (never sent to the loop): only the
    // overflow report tells the guard to look again.
    for s in sim.sessions() {
        sim.broad_rescan(s.host).expect("rescan");
    }
    assert!(sim.devices().iter().any(|d| d.hctl.lun == 1));
    r.tx.send(Input::Overflow {
        source: "test".into(),
    })
    .await
    .expect("send");
    assert!(
        until(|| sim.devices().iter().all(|d| d.hctl.lun == 0)).await,
        "the resync pass removed what the lost events would have shown"
    );
    let (summary, alerts) = stop(r).await;
    assert_eq!(summary.overflows, 1);
    assert!(alerts.kinds().contains(&AlertKind::ResyncAfterOverflow));
}

#[tokio::test]
async fn a_flush_that_keeps_failing_is_degraded_once_and_then_left_alone() {
    let r = rig(|act| act.fail_with("flush_map", 1000, "flush failed: I/O error on dm-1")).await;
    let act = r.act.clone();
    let flushes = move || {
        act.calls()
            .iter()
            .filter(|c| matches!(c, Recorded::Action(Action::FlushMap { .. })))
            .count()
    };
    let alerts = r.alerts.clone();
    assert!(
        until(|| alerts.kinds().contains(&AlertKind::KeyDegraded)).await,
        "degraded after 3 failures: {:?}",
        alerts.kinds()
    );
    let at_degrade = flushes();
    // The kernel keeps talking (here: the array adds LUNs, each a REPORTED LUNS DATA HAS CHANGED
    // uevent, each a pass); uevents must not restart a degraded step's retries.
    let passes_before = r.lab.sim.events_sent();
    for lun in 10..15 {
        r.lab
            .sim
            .add_lun(&r.lab.target, lun, r.lab.wwid(lun))
            .expect("add lun");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(r.lab.sim.events_sent() > passes_before, "uevents were sent");
    let after = flushes();
    let (_, alerts) = stop(r).await;
    assert_eq!(at_degrade, 3, "exactly the retry limit");
    assert_eq!(after, 3, "no flush after the step was degraded");
    let degraded = alerts
        .kinds()
        .iter()
        .filter(|k| **k == AlertKind::KeyDegraded)
        .count();
    assert_eq!(degraded, 1, "one alert for the degradation");
}

#[tokio::test]
async fn a_broken_state_file_is_alerted_once_per_distinct_error_and_keeps_the_last_good_state() {
    let r = rig(|_| {}).await;
    let sim = r.lab.sim.clone();
    assert!(until(|| sim.devices().iter().all(|d| d.hctl.lun == 0)).await);
    let file = r._dir.path().join("state/lab.toml");
    let rejected = |a: &MemorySink| {
        a.kinds()
            .iter()
            .filter(|k| **k == AlertKind::StateRejected)
            .count()
    };
    std::fs::write(&file, "[[attachment]]\nname = \"x\"\nlun = \"one\"\n").expect("write");
    for _ in 0..3 {
        r.tx.send(Input::StateChanged { why: "test".into() })
            .await
            .expect("send");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alerts = r.alerts.clone();
    assert!(until(|| rejected(&alerts) == 1).await);
    assert_eq!(
        rejected(&alerts),
        1,
        "the same errors are alerted once, not every pass"
    );
    std::fs::write(&file, "[[attachment]]\nnmae = \"x\"\n").expect("write");
    r.tx.send(Input::StateChanged { why: "test".into() })
        .await
        .expect("send");
    assert!(
        until(|| rejected(&alerts) == 2).await,
        "a different error is alerted"
    );
    assert!(
        sim.devices().iter().any(|d| d.hctl.lun == 0),
        "the last good state (LUN 0 declared) stays in force: nothing detached"
    );
    let (_, alerts) = stop(r).await;
    assert_eq!(rejected(&alerts), 2);
}

#[tokio::test]
async fn a_repeated_state_change_event_with_the_same_state_keeps_a_degraded_step_degraded() {
    // Issue 7, seen in the VM: the state watch reported one edit twice; the second report came
    // after the pass that had degraded a removal (a writeback error), cleared the mark, and the
    // next pass deleted the disk with its lost data. Only a desired state that differs clears it.
    let r = rig(|act| act.fail_with("flush_map", 1000, "flush failed: I/O error on dm-1")).await;
    let act = r.act.clone();
    let flushes = move || {
        act.calls()
            .iter()
            .filter(|c| matches!(c, Recorded::Action(Action::FlushMap { .. })))
            .count()
    };
    let alerts = r.alerts.clone();
    assert!(until(|| alerts.kinds().contains(&AlertKind::KeyDegraded)).await);
    let at_degrade = flushes();
    for _ in 0..3 {
        r.tx.send(Input::StateChanged {
            why: "the same file again".into(),
        })
        .await
        .expect("send");
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let after = flushes();
    let (_, _) = stop(r).await;
    assert_eq!(after, at_degrade, "no flush after an unchanged state");
}
