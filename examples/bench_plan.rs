//! `bench_plan`: times the planner alone (`reconcile::plan`) on in-memory inputs (issue 8,
//! goal 3: 10,000 intents × 20,000 paths in ≤ 10 ms; 10× the input in ≤ 11× the time).
//!
//! ```text
//! cargo run --release --example bench_plan -- [--small | --full] [--rounds N] [--unwanted K]
//! ```
//!
//! Sizes (intents × paths): 1,000 × 2,000 and 10,000 × 20,000; `--small` only the first,
//! `--full` also 100,000 × 200,000. The inputs (benches/support/plan_input.rs) are built once a
//! size, outside the timed region; each round times one `plan()` call. Prints, for each size,
//! one `plan …` line (median, min and max over the rounds, and what the plan contained, so a
//! reader sees it did the work), then one `ratio …` line for each 10× step. Asserts nothing
//! about time.

#[path = "../benches/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use lunguard::reconcile::{self, Action, FindingKind, Plan};
use support::plan_input::{self, Shape};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_plan: {e}");
            ExitCode::from(2)
        }
    }
}

/// One size's figures, in microseconds.
struct Timed {
    intents: u32,
    paths: u64,
    median: u128,
    min: u128,
    max: u128,
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut sizes: Vec<u32> = vec![1_000, 10_000];
    let mut rounds: Option<usize> = None;
    let mut unwanted = 3;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut num = || {
            let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"))
        };
        match flag.as_str() {
            "--small" => sizes = vec![1_000],
            "--full" => sizes = vec![1_000, 10_000, 100_000],
            "--rounds" => rounds = Some(num()?.max(1)),
            "--unwanted" => unwanted = u32::try_from(num()?).map_err(|e| e.to_string())?,
            _ => return Err(format!("unknown flag {flag}\n{}", usage())),
        }
    }
    let mut timed: Vec<Timed> = Vec::new();
    for intents in sizes {
        let shape = Shape { intents, unwanted };
        let input = plan_input::build(shape);
        // Fewer rounds for the largest size keep `--full` to seconds; one discarded warm-up.
        let n = rounds.unwrap_or(if intents >= 100_000 { 5 } else { 21 });
        let mut samples: Vec<u128> = Vec::with_capacity(n);
        let mut last = Plan::default();
        for r in 0..=n {
            let t0 = Instant::now();
            let plan = reconcile::plan(
                black_box(&input.desired),
                black_box(&input.observed),
                black_box(&input.policy),
                black_box(&input.ctx),
            );
            let us = t0.elapsed().as_micros();
            if r > 0 {
                samples.push(us);
            }
            last = black_box(plan);
        }
        samples.sort_unstable();
        let t = Timed {
            intents,
            paths: shape.paths(),
            median: samples[samples.len() / 2],
            min: samples[0],
            max: samples[samples.len() - 1],
        };
        println!(
            "plan intents={} paths={} maps={} rounds={n} median_us={} min_us={} max_us={} {}",
            t.intents,
            t.paths,
            input.observed.dm_devices.len(),
            t.median,
            t.min,
            t.max,
            contents(&last),
        );
        timed.push(t);
    }
    for pair in timed.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let input = b.intents as f64 / a.intents as f64;
        println!(
            "ratio from={} to={} input={input:.0} time={:.2}",
            a.intents,
            b.intents,
            b.median as f64 / a.median.max(1) as f64
        );
    }
    Ok(())
}

/// What a plan contained: steps by kind and findings by kind, as `key=count` fields.
fn contents(plan: &Plan) -> String {
    let count = |f: &dyn Fn(&Action) -> bool| plan.steps.iter().filter(|s| f(&s.action)).count();
    let kind =
        |f: &dyn Fn(&FindingKind) -> bool| plan.findings.iter().filter(|x| f(&x.kind)).count();
    format!(
        "steps={} scans={} deletes={} flushes={} findings={} converged={} missing={} unwanted={} \
         other={} newly_seen={} forgotten={}",
        plan.steps.len(),
        count(&|a| matches!(a, Action::ScanLun { .. })),
        count(&|a| matches!(a, Action::DeletePaths { .. })),
        count(&|a| matches!(a, Action::FlushMap { .. })),
        plan.findings.len(),
        kind(&|k| matches!(k, FindingKind::Converged)),
        kind(&|k| matches!(k, FindingKind::Missing { .. })),
        kind(&|k| matches!(k, FindingKind::Unwanted { .. })),
        kind(&|k| !matches!(
            k,
            FindingKind::Converged | FindingKind::Missing { .. } | FindingKind::Unwanted { .. }
        )),
        plan.newly_seen.len(),
        plan.forgotten.len(),
    )
}

fn usage() -> String {
    "usage: bench_plan [--small | --full] [--rounds N] [--unwanted K]".into()
}
