//! `lunguard demo`: the real guard loop — the same [`Daemon`], engine, planner, executor, state
//! watch (inotify) and alerts as `lunguard daemon` — against the built-in simulated host
//! ([`crate::sim`]), so a machine with no SCSI at all can watch the guard work: a declared attach
//! done by narrowed scans, a detach, then another process's broad rescan bringing LUNs back and
//! the guard removing them. Alert lines are printed exactly as they would go to the journal.
//! Nothing outside a scratch directory is touched.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::mpsc;

use crate::alert::LineWriter;
use crate::commands::status::render_text;
use crate::config::{Config, Ownership};
use crate::daemon::{Daemon, Input, Options, inputs};
use crate::desire::store::SledStore;
use crate::desire::watch::{StateDirWatch, WatchConfig};
use crate::engine::Engine;
use crate::exit::Exit;
use crate::notify::Notifier;
use crate::observe::Inspector;
use crate::observe::snapshot;
use crate::sim::{Lab, SimActuator, SimHost, scratch_root};

/// Runs the demo; `keep` leaves the scratch directory (the simulated sysfs tree, the state
/// files and the database) for inspection.
pub fn run(keep: bool) -> anyhow::Result<Exit> {
    let dir = scratch_root().join(format!("lunguard-demo-{}", std::process::id()));
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(demo(&dir));
    if keep {
        println!("scratch directory kept: {}", dir.display());
    } else {
        let _ = fs::remove_dir_all(&dir);
    }
    result
}

/// Between steps, so a reader can follow (the guard itself needs no pause).
const PAUSE: Duration = Duration::from_millis(700);

fn say(text: &str) {
    println!("\n== {text}");
}

/// Polls `cond` every 50 ms for up to `within`.
async fn until(within: Duration, cond: impl Fn() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

/// LUN numbers present on every session of the lab target.
fn luns(sim: &SimHost) -> Vec<u64> {
    let mut l: Vec<u64> = sim.devices().iter().map(|d| d.hctl.lun).collect();
    l.sort_unstable();
    l.dedup();
    l
}

/// Writes a state file the way editors do: a temporary file, then a rename over the old one.
fn write_state(dir: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = dir.join(".volumes.toml.tmp");
    fs::write(&tmp, text)?;
    fs::rename(&tmp, dir.join("volumes.toml"))?;
    Ok(())
}

async fn demo(dir: &Path) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let lab = Lab::new(dir.join("host"), 4)?;
    let sim = lab.sim.clone();
    sim.set_multipathd(true);
    let state = dir.join("state.d");
    fs::create_dir_all(&state)?;
    let roots = sim.roots();
    let config = Config::parse(
        &dir.join("lunguard.toml"),
        &format!(
            "mode = \"enforce\"\nstate_dir = \"{}\"\ndatabase = \"{}\"\ncontrol_socket = \"{}\"\n\
             [roots]\nsys = \"{}\"\nproc = \"{}\"\ndev = \"{}\"\n\
             multipath_wwids = \"{}\"\nudev_data = \"{}\"\n[policy]\ngrace = \"0s\"\n",
            state.display(),
            dir.join("db").display(),
            dir.join("control.sock").display(),
            roots.sys.display(),
            roots.proc.display(),
            roots.dev.display(),
            roots.multipath_wwids.display(),
            roots.udev_data.display(),
        ),
    )
    .map_err(|e| anyhow::anyhow!("demo config: {e}"))?;
    let store = SledStore::open(&config.database)?;
    let (open, paths) = (sim.clone(), sim.clone());
    let inspector = Inspector::from_fn(move || open.open_counts(), move || paths.path_states());
    let engine = Engine::with_store(config, Ownership::Trust, Box::new(store), inspector);

    println!(
        "lunguard demo: the real guard loop against a simulated host.\n\
         The array exports LUNs 0-3 of {} on {} and {};\n\
         multipathd runs; nothing is declared yet. Lines starting with `lunguard:` are the\n\
         alerts journald would receive.",
        lab.target, lab.portals[0], lab.portals[1]
    );

    // Subscribe first, as the daemon does: the simulated kernel's uevents and the state watch.
    let (tx, rx) = mpsc::channel::<Input>(4096);
    let mut uevents = sim.subscribe();
    let fwd = tx.clone();
    tokio::spawn(async move {
        while let Some(u) = uevents.recv().await {
            if fwd.send(Input::Uevent(u)).await.is_err() {
                return;
            }
        }
    });
    inputs::state_dir(
        StateDirWatch::open(&state, WatchConfig::default())?,
        tx.clone(),
    );
    let daemon = Daemon::new(
        engine,
        Arc::new(SimActuator::new(sim.clone())),
        Arc::new(LineWriter::stdout()),
        Notifier::disabled(),
        Options::default(),
    );
    let guard = tokio::spawn(daemon.run(rx));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut ok = true;
    let wait = Duration::from_secs(20);

    say("1. The operator declares lun-1 and lun-2 in state.d/volumes.toml");
    write_state(&state, &lab.state_file(&[1, 2]))?;
    let attached = until(wait, || luns(&sim) == [1, 2] && sim.maps().len() == 2).await;
    ok &= attached;
    say(&format!(
        "   attached by login (scan = manual) and narrowed scans: LUNs {:?}, {} maps",
        luns(&sim),
        sim.maps().len()
    ));

    tokio::time::sleep(PAUSE).await;
    say("2. The operator removes lun-2 (detach)");
    write_state(&state, &lab.state_file(&[1]))?;
    let detached = until(wait, || luns(&sim) == [1] && sim.maps().len() == 1).await;
    ok &= detached;
    say(&format!("   detached: LUNs now {:?}", luns(&sim)));

    tokio::time::sleep(PAUSE).await;
    say("3. Another process runs a broad rescan, echo \"- - -\" > scan, on both sessions");
    for s in sim.sessions() {
        let added = sim.broad_rescan(s.host)?;
        let names: Vec<String> = added.iter().map(ToString::to_string).collect();
        println!("   rescan of host{} re-added {}", s.host, names.join(", "));
    }
    let cleaned = until(wait, || luns(&sim) == [1] && sim.maps().len() == 1).await;
    ok &= cleaned;
    say(&format!(
        "   the guard removed them: LUNs now {:?}",
        luns(&sim)
    ));

    tx.send(Input::Stop {
        signal: "demo finished".into(),
    })
    .await
    .ok();
    let summary = guard.await??;
    say("The simulated host now (lunguard status):");
    print!("{}", render_text(&snapshot(&roots)));
    println!(
        "\n{} in {:.1} s: {} passes, {} steps changed something, {} failed.",
        if ok { "Done" } else { "FAILED" },
        started.elapsed().as_secs_f64(),
        summary.passes,
        summary.changed,
        summary.failed
    );
    std::io::stdout().flush()?;
    if !ok {
        eprintln!(
            "lunguard demo: a step did not converge (attach {attached}, detach {detached}, cleanup {cleaned})"
        );
    }
    Ok(if ok { Exit::Ok } else { Exit::Findings })
}
