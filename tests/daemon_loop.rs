//! The guard loop itself (`daemon::Daemon::run`) against the simulated host, with inputs injected
//! through its channel: an overflow forces a resync pass, a destructive step that keeps failing is
//! degraded once and then left alone, TERM ends the loop cleanly. Timing is shortened; nothing
//! here sleeps for long.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lunguard::act::{Actuator, Recorded};
use lunguard::alert::{AlertKind, MemorySink};
use lunguard::config::{Config, Mode, Ownership};
use lunguard::daemon::schedule::Timing;
use lunguard::daemon::{ActuatorFor, Daemon, Input, Latest, Options, Summary};
use lunguard::desire::store::MemoryStore;
use lunguard::engine::Engine;
use lunguard::notify::Notifier;
use lunguard::observe::Inspector;
use lunguard::observe::uevent::{Source, Uevent};
use lunguard::plan::{Action, FindingKind, Subject};
use lunguard::sim::{Lab, ScanMode, SimActuator, SimHost, scratch_root};
use tokio::sync::mpsc;

struct Rig {
    dir: tempfile::TempDir,
    lab: Lab,
    act: Arc<SimActuator>,
    alerts: Arc<MemorySink>,
    tx: mpsc::Sender<Input>,
    guard: tokio::task::JoinHandle<Summary>,
}

/// LUN 0 of a 2-LUN lab is declared; both LUNs are attached, so LUN 1 is a leftover.
async fn rig(prepare: impl FnOnce(&Lab, &SimActuator)) -> Rig {
    rig_with(
        "mode = \"enforce\"\n[policy]\ngrace = \"0s\"\n[policy.flush]\nretries = 0\n",
        prepare,
    )
    .await
    .0
}

/// [`rig`] with another config; in observe mode the daemon acts through the constructor the
/// real daemon uses (`engine::actuator_for`: a dry run). Also returns the latest plan document.
async fn rig_with(config: &str, prepare: impl FnOnce(&Lab, &SimActuator)) -> (Rig, Latest) {
    let short = Timing {
        debounce: Duration::from_millis(5),
        debounce_cap: Duration::from_millis(20),
        resync: Duration::from_secs(3600),
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_millis(20),
        in_use_recheck: Duration::from_millis(50),
    };
    rig_timed(config, short, prepare).await
}

/// [`rig_with`] with the loop's timing given.
async fn rig_timed(
    config: &str,
    timing: Timing,
    prepare: impl FnOnce(&Lab, &SimActuator),
) -> (Rig, Latest) {
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
    let config_text = config;
    let mut config = Config::parse(Path::new("lunguard.toml"), config).expect("config");
    config.state_dir = state;
    let roots = lab.sim.roots();
    config.roots.sys = roots.sys;
    config.roots.proc = roots.proc;
    config.roots.dev = roots.dev;
    config.roots.iscsi_nodes = roots.iscsi_nodes;
    config.roots.multipath_wwids = roots.multipath_wwids;
    config.roots.udev_data = roots.udev_data;
    // The sim's multipathd answers path states: a map whose path states nobody reports is
    // refused removal (fail closed), so the rig needs them as a real host has them.
    let (open, paths) = (lab.sim.clone(), lab.sim.clone());
    let engine = Engine::with_store(
        config.clone(),
        Ownership::Trust,
        Box::new(MemoryStore::new()),
        Inspector::from_fn(move || open.open_counts(), move || paths.path_states()),
    );
    let act = Arc::new(SimActuator::new(lab.sim.clone()));
    prepare(&lab, &act);
    // As the real daemon: the mode picks the actuator, at start and again on every SIGHUP that
    // re-reads the config file (written here with the rig's paths, so a reload keeps them).
    let sim_act = act.clone();
    let actuator_for = ActuatorFor(Arc::new(move |c: &Config| {
        if c.mode == Mode::Observe {
            lunguard::engine::actuator_for(c, false)
        } else {
            sim_act.clone() as Arc<dyn Actuator + Send>
        }
    }));
    let config_path = dir.path().join("lunguard.toml");
    std::fs::write(&config_path, rig_config(config_text, dir.path(), &config)).expect("config");
    let alerts = Arc::new(MemorySink::new());
    let daemon = Daemon::new(
        engine,
        (actuator_for.0)(&config),
        alerts.clone(),
        Notifier::disabled(),
        Options {
            timing,
            destructive_retry_limit: 3,
            config_path: Some(config_path),
            actuator_for: Some(actuator_for),
            ..Options::default()
        },
    );
    let latest = daemon.latest();
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
    (
        Rig {
            dir,
            lab,
            act,
            alerts,
            tx,
            guard,
        },
        latest,
    )
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

/// The rig's config as a file: `text` with the paths the rig set in code, so a SIGHUP re-reads
/// the same host.
fn rig_config(text: &str, dir: &Path, config: &Config) -> String {
    // Top-level keys must precede the first table.
    format!(
        "state_dir = {:?}\ncontrol_socket = {:?}\n{text}\n[roots]\nsys = {:?}\nproc = {:?}\ndev = {:?}\niscsi_nodes = {:?}\nmultipath_wwids = {:?}\nudev_data = {:?}\n",
        config.state_dir,
        dir.join("run").join("control.sock"),
        config.roots.sys,
        config.roots.proc,
        config.roots.dev,
        config.roots.iscsi_nodes,
        config.roots.multipath_wwids,
        config.roots.udev_data,
    )
}

/// Bug (found by the systemd VM scenario): the daemon chose its actuator once at start, so
/// `mode = "enforce"` followed by `systemctl reload` (what docs/operations.md tells operators to
/// do) kept the dry run: the leftover was only ever "would remove". The actuator now follows the
/// mode on every reload, both ways.
#[tokio::test]
async fn a_reload_that_switches_the_mode_switches_between_dry_run_and_acting() {
    let (r, _) = rig_with("mode = \"observe\"\n[policy]\ngrace = \"0s\"\n", |_, _| {}).await;
    let alerts = r.alerts.clone();
    assert!(
        until(|| alerts.kinds().contains(&AlertKind::WouldAct)).await,
        "observe: previews the removal: {:?}",
        alerts.kinds()
    );
    assert!(r.lab.sim.devices().iter().any(|d| d.hctl.lun == 1));
    let path = r.dir.path().join("lunguard.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("mode = \"observe\"", "mode = \"enforce\""),
    )
    .unwrap();
    r.tx.send(Input::Reload).await.unwrap();
    let sim = r.lab.sim.clone();
    assert!(
        until(|| !sim.devices().iter().any(|d| d.hctl.lun == 1)).await,
        "enforce after the reload: the leftover is removed"
    );
    // And back: in observe mode again nothing is removed, only previewed.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("mode = \"enforce\"", "mode = \"observe\""),
    )
    .unwrap();
    r.tx.send(Input::Reload).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = r.act.calls().len();
    let hosts: std::collections::BTreeSet<u32> =
        r.lab.sim.devices().iter().map(|d| d.hctl.host).collect();
    for h in hosts {
        r.lab.sim.broad_rescan(h).unwrap();
    }
    let sim = r.lab.sim.clone();
    assert!(
        until(|| sim.devices().iter().any(|d| d.hctl.lun == 1)).await,
        "the rescan re-adds LUN 1"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        r.lab.sim.devices().iter().any(|d| d.hctl.lun == 1),
        "observe again: the re-added leftover is kept"
    );
    assert_eq!(r.act.calls().len(), before, "nothing acted in observe mode");
    let (summary, _) = stop(r).await;
    assert!(
        summary.changed > 0 && summary.would_change > 0,
        "{summary:?}"
    );
}

#[tokio::test]
async fn leftover_is_removed_and_term_stops_the_loop_cleanly() {
    let r = rig(|_, _| {}).await;
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
    let r = rig(|_, _| {}).await;
    let sim = r.lab.sim.clone();
    assert!(until(|| sim.devices().iter().all(|d| d.hctl.lun == 0)).await);
    // The first pass ends with waiting for the removed devices to be gone: re-adding them at the
    // same addresses before that wait has seen them go would keep it waiting for its whole
    // timeout (seen on a loaded machine). Let the first pass finish first.
    let alerts = Arc::clone(&r.alerts);
    assert!(
        until(|| alerts
            .alerts()
            .iter()
            .any(|a| a.message.starts_with("wait up to")))
        .await,
        "the first pass's removal did not finish"
    );
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
    let r = rig(|_, act| act.fail_with("flush_map", 1000, "flush failed: I/O error on dm-1")).await;
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
    let r = rig(|_, _| {}).await;
    let sim = r.lab.sim.clone();
    assert!(until(|| sim.devices().iter().all(|d| d.hctl.lun == 0)).await);
    let file = r.dir.path().join("state/lab.toml");
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

/// Issue 7 item 5: in observe mode the daemon never recorded first-seen times (only enforce
/// called `Engine::remember`), so with any grace an unwanted LUN stayed "waiting 1s more" on
/// every pass and the removal was never previewed. Now the grace period runs in observe mode too:
/// first the finding says when the removal would happen, then — the grace elapsed — the plan
/// carries the removal as "would remove" and the dry run reports it, and nothing is removed.
#[tokio::test]
async fn observe_mode_previews_the_removal_once_the_grace_period_has_elapsed() {
    let (r, latest) = rig_with("mode = \"observe\"\n[policy]\ngrace = \"1s\"\n", |_, _| {}).await;
    let leftover = |l: &Latest| {
        let doc = l.lock().unwrap().clone()?;
        let plan = doc.plan?;
        let kind = plan
            .findings
            .iter()
            .find(|f| matches!(&f.subject, Subject::Path { hctl } if hctl.lun == 1))?
            .kind
            .clone();
        // Observe mode also previews registering the declared LUN's WWID in multipathd's wwids
        // file on every pass (the sim's multipathd does not add the WWIDs of the maps it builds
        // to the file, as the real one does): only the other steps count here.
        let n = plan
            .steps
            .iter()
            .filter(|s| !matches!(s.action, Action::RegisterWwid { .. }))
            .count();
        Some((kind, n))
    };
    let waiting = latest.clone();
    assert!(
        until(|| matches!(
            leftover(&waiting),
            Some((FindingKind::WaitingForGrace { .. }, 0))
        ))
        .await,
        "first pass: waiting for grace, {:?}",
        leftover(&latest)
    );
    let first_due = match leftover(&latest) {
        Some((FindingKind::WaitingForGrace { removes_at, .. }, _)) => removes_at,
        k => panic!("{k:?}"),
    };
    assert!(first_due.ends_with('Z'), "RFC 3339: {first_due}");
    // The loop wakes when the grace period ends; no input is needed.
    let preview = latest.clone();
    let previewed = until_long(|| {
        matches!(
            leftover(&preview),
            Some((FindingKind::Unwanted { ref action, .. }, n)) if action.starts_with("would remove") && n > 0
        )
    })
    .await;
    assert!(
        previewed,
        "after the grace period the removal is previewed: {:?}",
        leftover(&latest)
    );
    let alerts = r.alerts.clone();
    assert!(
        until(|| alerts.kinds().contains(&AlertKind::WouldAct)).await,
        "the dry run reports what it would do: {:?}",
        alerts.kinds()
    );
    assert!(
        r.lab.sim.devices().iter().any(|d| d.hctl.lun == 1),
        "observe mode removes nothing"
    );
    let (summary, _) = stop(r).await;
    assert_eq!(summary.changed, 0, "{summary:?}");
    assert!(summary.would_change > 0, "{summary:?}");
}

/// [`until`] for about 4 s (a grace period of 1 s plus the pass).
async fn until_long(cond: impl Fn() -> bool) -> bool {
    for _ in 0..400 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// Issue 7, item 6 (seen in the VM's daemon-grace scenario): an unwanted LUN kept because it is in
/// use was never looked at again once released — an unmount or closing a read-only fd sends no
/// uevent — so it stayed until the next full resync (5 minutes). While a device is kept only for
/// being in use, the loop re-plans every `in_use_recheck`.
#[tokio::test]
async fn an_unwanted_lun_released_without_any_uevent_is_removed_without_waiting_for_the_resync() {
    let r = rig(|lab, _| {
        let m = lab
            .sim
            .maps()
            .into_iter()
            .find(|m| m.wwid == lab.wwid(1))
            .expect("map of LUN 1");
        lab.sim.mount(m.name.as_str(), "/srv/lun1").expect("mount");
    })
    .await;
    let sim = r.lab.sim.clone();
    assert!(
        until(|| r.alerts.kinds().contains(&AlertKind::RemovalRefusedInUse)).await,
        "LUN 1 is kept while mounted"
    );
    assert!(sim.devices().iter().any(|d| d.hctl.lun == 1));
    assert!(
        sim.unmount("/srv/lun1").expect("unmount"),
        "no uevent for this"
    );
    assert!(
        until(|| sim.devices().iter().all(|d| d.hctl.lun == 0)).await,
        "the released LUN was removed without an event (resync is an hour away)"
    );
    let (summary, _) = stop(r).await;
    assert!(
        summary.passes >= 2,
        "a pass with no event did it: {summary:?}"
    );
}

#[tokio::test]
async fn a_repeated_state_change_event_with_the_same_state_keeps_a_degraded_step_degraded() {
    // Issue 7, seen in the VM: the state watch reported one edit twice; the second report came
    // after the pass that had degraded a removal (a writeback error), cleared the mark, and the
    // next pass deleted the disk with its lost data. Only a desired state that differs clears it.
    let r = rig(|_, act| act.fail_with("flush_map", 1000, "flush failed: I/O error on dm-1")).await;
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

/// `change` uevents, kernel then udev with one `SEQNUM` each (as the simulator announces them),
/// for every SCSI device, disk and multipath map of the lab: the declared LUN's and the rogue's.
/// `DEVPATH`s are read from the lab's `class/` links, as the kernel names its objects.
fn storm_templates(lab: &Lab) -> Vec<(Source, BTreeMap<String, String>)> {
    let sys = lab.sim.roots().sys;
    let devpath = |class: &str, up: usize| {
        let mut p = std::fs::canonicalize(sys.join(class)).expect("class link");
        for _ in 0..up {
            p.pop();
        }
        format!(
            "/{}",
            p.strip_prefix(std::fs::canonicalize(&sys).expect("sys"))
                .expect("under sys")
                .display()
        )
    };
    let mut kinds: Vec<(String, &str, &str, Option<String>)> = Vec::new();
    for d in lab.sim.devices() {
        // class/scsi_device/H:C:T:L is DEVPATH/scsi_device/H:C:T:L.
        let scsi = devpath(&format!("class/scsi_device/{}", d.hctl), 2);
        kinds.push((scsi, "scsi", "scsi_device", None));
        let disk = devpath(&format!("class/block/{}", d.block), 0);
        kinds.push((disk, "block", "disk", Some(d.block.clone())));
    }
    for m in lab.sim.maps() {
        let dm = devpath(&format!("class/block/dm-{}", m.n), 0);
        kinds.push((dm, "block", "disk", Some(format!("dm-{}", m.n))));
    }
    let mut out = Vec::new();
    for (path, subsystem, devtype, devname) in kinds {
        for source in [Source::Kernel, Source::Udev] {
            let mut p = BTreeMap::new();
            p.insert("ACTION".to_owned(), "change".to_owned());
            p.insert("DEVPATH".to_owned(), path.clone());
            p.insert("SUBSYSTEM".to_owned(), subsystem.to_owned());
            p.insert("DEVTYPE".to_owned(), devtype.to_owned());
            if let Some(n) = &devname {
                let name = match source {
                    Source::Kernel => n.clone(),
                    Source::Udev => format!("/dev/{n}"),
                };
                p.insert("DEVNAME".to_owned(), name);
            }
            out.push((source, p));
        }
    }
    out
}

/// `VmRSS` of this process, KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Issue 8, goal 5: 100,000 uevents pushed into the loop as fast as it takes them — `change`
/// events of the declared LUN's and of a rogue LUN's devices, maps included, and half-way a
/// rescan by another tool that brings the rogue LUN back — run at most one pass per debounce cap
/// (500 ms, the daemon's default), end with the rogue removed and the declared LUN kept, lose no
/// event, and leave the resident set where it was.
///
/// Why the pass bound can fail: a pass per event would be ~100,000 passes; the bound
/// `elapsed / 500 ms + 2` stays below that unless the run took 50,000 s, and this test takes a
/// few seconds (a pass a window of the 50 ms debounce instead of the cap would already break it:
/// at 2.5 s that is ~50 passes against a bound of ~7). Seen failing with `Schedule::event`
/// changed to make every event due at once and 2,000 events: 2,073 passes in 2.4 s, bound 6.8;
/// as written, 4 passes for the 100,000 in 1.6 s (release) to 2.8 s (debug).
#[tokio::test]
async fn a_storm_of_100k_uevents_runs_at_most_one_pass_per_debounce_window_and_loses_nothing() {
    const EVENTS: u64 = 100_000;
    let timing = Timing {
        resync: Duration::from_secs(3600),
        ..Timing::default()
    };
    let started = std::time::Instant::now();
    let mut templates = Vec::new();
    let mut sim_base = 0;
    let (r, _) = rig_timed(
        "mode = \"enforce\"\n[policy]\ngrace = \"0s\"\n[policy.flush]\nretries = 0\n",
        timing,
        |lab, _| {
            templates = storm_templates(lab);
            sim_base = lab.sim.events_sent();
        },
    )
    .await;
    assert_eq!(
        templates.len(),
        2 * (2 * 2 * 2 + 2),
        "2 LUNs × 2 paths × (scsi, disk) + 2 maps"
    );
    let sim = r.lab.sim.clone();
    assert!(
        until(|| sim.devices().iter().all(|d| d.hctl.lun == 0)).await,
        "the first pass removes the rogue LUN 1"
    );
    let alerts = Arc::clone(&r.alerts);
    assert!(
        until(|| alerts
            .alerts()
            .iter()
            .any(|a| a.message.starts_with("wait up to")))
        .await,
        "the first pass's removal did not finish"
    );
    // The removal's own uevents make one more pass: let it run before the storm, so the window
    // counted below holds it (the bound's "+ 2" is for the first pass and the storm's last one,
    // made after the debounce's quiet time rather than the cap).
    settle(&sim).await;
    tokio::time::sleep(timing.debounce_cap).await;
    let rss_before = rss_kib();
    let storm_start = std::time::Instant::now();
    let mut rss_mid = 0;
    for i in 0..EVENTS {
        let (source, props) = &templates[(i as usize) % templates.len()];
        let mut props = props.clone();
        // One SEQNUM for a kernel + udev pair, counting on from the simulator's.
        props.insert("SEQNUM".to_owned(), (1_000_000 + i / 2).to_string());
        let ev = Uevent::from_properties(*source, props).expect("uevent");
        r.tx.send(Input::Uevent(ev))
            .await
            .expect("loop takes input");
        if i == EVENTS / 2 {
            rss_mid = rss_kib();
            // Another tool rescans: the rogue LUN is back, with its own add uevents.
            for s in sim.sessions() {
                sim.broad_rescan(s.host).expect("rescan");
            }
            assert!(sim.devices().iter().any(|d| d.hctl.lun == 1));
        }
    }
    let storm = storm_start.elapsed();
    assert!(
        until(|| sim.devices().iter().all(|d| d.hctl.lun == 0)).await,
        "the rogue LUN that came back during the storm was removed"
    );
    // Let the simulator's last uevents (the removal's) reach the loop, and their pass run,
    // before TERM: as before the storm, the window holds the pass they make.
    let sent = settle(&sim).await;
    tokio::time::sleep(timing.debounce_cap).await;
    let rss_after = rss_kib();
    let (summary, _) = stop(r).await;
    let elapsed = started.elapsed();
    let forwarded = 2 * (sent - sim_base);
    let bound = elapsed.as_secs_f64() / timing.debounce_cap.as_secs_f64() + 2.0;
    println!(
        "storm: {EVENTS} uevents in {storm:.2?} ({:.0}/s), {} passes in {elapsed:.2?} \
         (bound {bound:.1}); VmRSS {rss_before} KiB before, {rss_mid} KiB half-way, \
         {rss_after} KiB after; {summary:?}",
        EVENTS as f64 / storm.as_secs_f64(),
        summary.passes
    );
    assert!(
        summary.passes as f64 <= bound,
        "{} passes in {elapsed:?}: more than one a debounce cap ({:?})",
        summary.passes,
        timing.debounce_cap
    );
    assert_eq!(
        summary.uevents,
        EVENTS + forwarded,
        "every uevent reached the loop: the storm's and the simulator's {forwarded}"
    );
    assert_eq!((summary.failed, summary.overflows), (0, 0), "{summary:?}");
    assert!(
        summary.changed >= 2,
        "the rogue LUN was removed twice: {summary:?}"
    );
    let kept = sim.devices();
    assert_eq!(
        kept.len(),
        2,
        "the declared LUN's two paths are kept: {kept:?}"
    );
    assert!(kept.iter().all(|d| d.hctl.lun == 0));
    // Flat: keeping the events (each ≥ 6 strings in a map, several hundred bytes) would add tens
    // of MiB; a loop that only notes which devices they name adds nothing that grows with them.
    // Other tests of this file run in the same process, hence the slack.
    assert!(
        rss_after.saturating_sub(rss_before) < 16 * 1024,
        "VmRSS grew from {rss_before} KiB to {rss_after} KiB over the storm"
    );
}

/// Waits until the simulator has sent no uevent for 200 ms; returns how many it has sent.
async fn settle(sim: &SimHost) -> u64 {
    let mut sent = sim.events_sent();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = sim.events_sent();
        if now == sent {
            return sent;
        }
        sent = now;
    }
}
