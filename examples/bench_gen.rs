//! `bench_gen`: writes the benchmark inputs (docs/benchmarks.md).
//!
//! ```text
//! cargo run --release --example bench_gen -- tree OUT --sessions 2 --luns 4096 [--partitions K] [--fixture DIR]
//! cargo run --release --example bench_gen -- state DIR --sessions 2 --luns 4096 [--skip K]
//! ```
//!
//! `tree` writes a kernel-shaped sysfs tree (`OUT/sys`, `OUT/proc`) cloned from a recorded
//! fixture; `OUT` must be new or empty. `state` writes `DIR/bench.toml` declaring the tree's LUNs.

#[path = "../benches/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;

use support::{state_files, sysfs_tree};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_gen: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let (cmd, rest) = args.split_first().ok_or_else(usage)?;
    let (out, flags) = rest.split_first().ok_or_else(usage)?;
    let mut sessions = 2;
    let mut luns = 4;
    let mut partitions = 0;
    let mut skip = 0;
    let mut fixture = PathBuf::from(sysfs_tree::DEFAULT_FIXTURE);
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || {
            value
                .parse::<u32>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--sessions" => sessions = num()?,
            "--luns" => luns = num()?,
            "--partitions" => partitions = num()?,
            "--skip" => skip = num()?,
            "--fixture" => fixture = PathBuf::from(value),
            _ => return Err(format!("unknown flag {flag}\n{}", usage())),
        }
    }
    let out = PathBuf::from(out);
    match cmd.as_str() {
        "tree" => {
            let spec = sysfs_tree::Spec {
                sessions,
                luns,
                partitions,
            };
            let w = sysfs_tree::generate(&fixture, spec, &out).map_err(|e| e.to_string())?;
            println!(
                "{}: {} sessions x {} LUNs = {} paths, {} dm devices, {} entries",
                out.display(),
                sessions,
                luns,
                spec.paths(),
                spec.dm_devices(),
                w.entries
            );
        }
        "state" => {
            state_files::write_state_dir(&out, sessions, luns, skip).map_err(|e| e.to_string())?;
            println!(
                "{}: {} attachments",
                out.join("bench.toml").display(),
                luns.saturating_sub(skip)
            );
        }
        _ => return Err(usage()),
    }
    Ok(())
}

fn usage() -> String {
    "usage: bench_gen tree OUT [--sessions N] [--luns M] [--partitions K] [--fixture DIR]\n       \
     bench_gen state DIR [--sessions N] [--luns M] [--skip K]"
        .into()
}
