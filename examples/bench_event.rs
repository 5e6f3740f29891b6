//! `bench_event`: the CPU a pass costs after one device's uevent, against a full pass, on a
//! generated tree (issue 8, goal 4; docs/benchmarks.md).
//!
//! ```text
//! cargo run --release --example bench_event -- TREE STATE_DIR [--rounds N]
//! ```
//!
//! `TREE` is a `bench_gen tree` output, `STATE_DIR` a `bench_gen state` output for it (declare
//! all LUNs but the last, so one LUN is unwanted). The engine is the daemon's, over a sled
//! database in a temporary directory. It takes one full pass (everything read: state files,
//! sysfs, facts), then, `N` times, a pass after a uevent naming the unwanted LUN's first path —
//! the kernel's `add` of a rogue LUN — and prints the process CPU time (all threads) and wall
//! time of each kind as `key value` lines. The generated tree has no device-mapper or
//! multipathd behind it, so their queries are not in these figures.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use lunguard::config::{Config, Ownership};
use lunguard::desire::store::SledStore;
use lunguard::engine::{Engine, Fresh};
use lunguard::observe::{Inspector, Touched};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_event: {e}");
            ExitCode::from(2)
        }
    }
}

fn cpu() -> Result<Duration, String> {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map_err(|e| format!("clock_gettime: {e}"))?;
    Ok(Duration::from(t))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn run(args: Vec<String>) -> Result<(), String> {
    let usage = "usage: bench_event TREE STATE_DIR [--rounds N]";
    let tree = PathBuf::from(args.first().ok_or(usage)?);
    let state = PathBuf::from(args.get(1).ok_or(usage)?);
    let rounds: usize = match (args.get(2).map(String::as_str), args.get(3)) {
        (Some("--rounds"), Some(n)) => n.parse().map_err(|e| format!("--rounds {n}: {e}"))?,
        (None, _) => 20,
        _ => return Err(usage.into()),
    };
    let db = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let mut config = Config {
        state_dir: state,
        database: db.path().join("db"),
        ..Config::default()
    };
    config.roots.sys = tree.join("sys");
    config.roots.proc = tree.join("proc");
    config.roots.dev = tree.join("dev");
    config.roots.multipath_wwids = tree.join("etc/multipath/wwids");
    config.roots.udev_data = tree.join("run/udev/data");
    let store = SledStore::open(&config.database).map_err(|e| e.to_string())?;
    let engine = Engine::with_store(config, Ownership::Trust, Box::new(store), Inspector::none());

    let (c0, t0) = (cpu()?, Instant::now());
    let full = engine
        .prepare(SystemTime::now())
        .map_err(|e| e.to_string())?;
    let (full_cpu, full_wall) = (cpu()? - c0, t0.elapsed());
    let plan = full.plan.as_ref().ok_or("the state files did not load")?;
    let paths = full.snapshot.devices.len();
    let attachments = full.reload.state().map_or(0, |s| s.attachments.len());
    let rogue = full
        .snapshot
        .devices
        .iter()
        .max_by_key(|d| (d.hctl.lun, std::cmp::Reverse(d.hctl.host)))
        .map(|d| d.hctl)
        .ok_or("the tree has no SCSI devices")?;
    println!("paths {paths}");
    println!("attachments {attachments}");
    println!("rogue {rogue}");
    println!(
        "full_plan steps={} findings={}",
        plan.steps.len(),
        plan.findings.len()
    );
    println!("full_cpu_us {}", full_cpu.as_micros());
    println!("full_wall_us {}", full_wall.as_micros());
    drop(full);

    let mut cpus = Vec::with_capacity(rounds);
    let mut walls = Vec::with_capacity(rounds);
    let mut planned = String::new();
    for _ in 0..rounds {
        let mut touched = Touched::default();
        touched.devices.insert(rogue);
        let fresh = Fresh {
            desired: false,
            touched,
        };
        let (c0, t0) = (cpu()?, Instant::now());
        let pass = engine
            .prepare_with(SystemTime::now(), &fresh)
            .map_err(|e| e.to_string())?;
        cpus.push(cpu()? - c0);
        walls.push(t0.elapsed());
        if let Some(p) = &pass.plan {
            planned = format!("steps={} findings={}", p.steps.len(), p.findings.len());
        }
    }
    println!("event_plan {planned}");
    println!("event_cpu_us {}", median(cpus.clone()).as_micros());
    println!(
        "event_cpu_us_min {}",
        cpus.iter().min().copied().unwrap_or_default().as_micros()
    );
    println!(
        "event_cpu_us_max {}",
        cpus.iter().max().copied().unwrap_or_default().as_micros()
    );
    println!("event_wall_us {}", median(walls).as_micros());
    println!("rounds {rounds}");
    Ok(())
}
