//! `bench_plan`: times the planner alone (`reconcile::plan`) on in-memory inputs (issue 8,
//! goal 3: 10,000 intents × 20,000 paths in ≤ 10 ms; 10× the input in ≤ 11× the time).
//!
//! ```text
//! cargo run --release --example bench_plan -- [--small | --full | --intents N] [--rounds N] [--unwanted K]
//! ```
//!
//! Sizes (intents × paths): 1,000 × 2,000 and 10,000 × 20,000; `--small` only the first,
//! `--full` also 100,000 × 200,000. The inputs (benches/support/plan_input.rs) are built once a
//! size, outside the timed region; each round times one `plan()` call, in wall time and in the
//! thread's CPU time (on a loaded machine the wall time includes waiting for a CPU). Prints, for
//! each size, one `plan …` line (median, min and max over the rounds, and what the plan
//! contained, so a reader sees it did the work), then one `ratio …` line for each 10× step.
//! Asserts nothing about time.

#[path = "../benches/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rustix::time::{ClockId, clock_gettime};

use lunguard::plan::{Action, FindingKind, Plan};
use lunguard::reconcile::{self};
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

/// One size's figures.
struct Timed {
    intents: u32,
    wall: Stats,
    cpu: Stats,
}

/// Median, min and max of one measure over the rounds, in microseconds.
struct Stats {
    median: u128,
    min: u128,
    max: u128,
}

impl Stats {
    fn of(mut samples: Vec<u128>) -> Self {
        samples.sort_unstable();
        Self {
            median: samples[samples.len() / 2],
            min: samples[0],
            max: samples[samples.len() - 1],
        }
    }
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
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
            "--intents" => sizes = vec![u32::try_from(num()?).map_err(|e| e.to_string())?],
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
        let (mut wall, mut cpu) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut last = Plan::default();
        for r in 0..=n {
            let (c0, t0) = (thread_cpu(), Instant::now());
            let plan = reconcile::plan(
                black_box(&input.desired),
                black_box(&input.observed),
                black_box(&input.policy),
                black_box(&input.ctx),
            );
            let (t1, c1) = (Instant::now(), thread_cpu());
            if r > 0 {
                wall.push((t1 - t0).as_micros());
                cpu.push(c1.saturating_sub(c0).as_micros());
            }
            // Dropping the plan is not part of planning (the caller keeps it).
            last = black_box(plan);
        }
        let t = Timed {
            intents,
            wall: Stats::of(wall),
            cpu: Stats::of(cpu),
        };
        println!(
            "plan intents={} paths={} maps={} rounds={n} \
             wall_median_us={} wall_min_us={} wall_max_us={} \
             cpu_median_us={} cpu_min_us={} cpu_max_us={} {}",
            t.intents,
            shape.paths(),
            input.observed.dm_devices.len(),
            t.wall.median,
            t.wall.min,
            t.wall.max,
            t.cpu.median,
            t.cpu.min,
            t.cpu.max,
            contents(&last),
        );
        timed.push(t);
    }
    for pair in timed.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let input = b.intents as f64 / a.intents as f64;
        println!(
            "ratio from={} to={} input={input:.0} wall={:.2} cpu={:.2}",
            a.intents,
            b.intents,
            b.wall.median as f64 / a.wall.median.max(1) as f64,
            b.cpu.median as f64 / a.cpu.median.max(1) as f64,
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
    "usage: bench_plan [--small | --full | --intents N] [--rounds N] [--unwanted K]".into()
}
