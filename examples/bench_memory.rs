//! `bench_memory`: what the daemon's resident memory is made of at a given size (issue 8, goal 5;
//! docs/benchmarks.md), without a heap profiler.
//!
//! ```text
//! GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=0 \
//!     cargo run --release --example bench_memory -- TREE STATE_DIR
//! ```
//!
//! `TREE` is a `bench_gen tree` output, `STATE_DIR` a `bench_gen state` output for it. One thread
//! takes, in the daemon's order, what a pass holds on to — the engine over a sled database in a
//! temporary directory, a full snapshot, the prepared pass (snapshot, desired state, plan) and the
//! plan document the control socket serves — and prints `VmRSS` (from `/proc/self/status`) after
//! each as `key kib` lines, then again after dropping the pass (what the engine's cache keeps).
//! With the tunables above, glibc returns freed memory at once, so each difference is what that
//! step keeps alive, not allocator slack.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use lunguard::config::{Config, Ownership};
use lunguard::desire::store::SledStore;
use lunguard::engine::{Engine, PlanDocument};
use lunguard::observe::{Inspector, snapshot};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_memory: {e}");
            ExitCode::from(2)
        }
    }
}

/// `VmRSS` of this process, KiB.
fn rss_kib() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("/proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS in /proc/self/status".into())
}

fn run(args: Vec<String>) -> Result<(), String> {
    let usage = "usage: bench_memory TREE STATE_DIR";
    let tree = PathBuf::from(args.first().ok_or(usage)?);
    let state = PathBuf::from(args.get(1).ok_or(usage)?);
    println!("start {}", rss_kib()?);
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
    let roots = config.roots.to_roots();
    let store = SledStore::open(&config.database).map_err(|e| e.to_string())?;
    let engine = Engine::with_store(config, Ownership::Trust, Box::new(store), Inspector::none());
    println!("engine_open {}", rss_kib()?);

    let snap = snapshot(&roots);
    println!("paths {}", snap.devices.len());
    println!("snapshot_held {}", rss_kib()?);
    drop(snap);
    println!("snapshot_dropped {}", rss_kib()?);

    let pass = engine
        .prepare(SystemTime::now())
        .map_err(|e| e.to_string())?;
    println!("pass_held {}", rss_kib()?);
    let doc = PlanDocument::of(&pass, "daemon");
    println!("pass_and_document_held {}", rss_kib()?);
    let json = serde_json::to_string(&doc).map_err(|e| e.to_string())?;
    println!("document_json_bytes {}", json.len());
    drop(json);
    drop(pass);
    println!("document_held_pass_dropped {}", rss_kib()?);
    drop(doc);
    println!("engine_cache_only {}", rss_kib()?);
    Ok(())
}
