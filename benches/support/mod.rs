//! Benchmark support shared by `examples/bench_gen.rs` (the generator's command line, used by
//! `benches/run.sh`), `examples/bench_plan.rs` (the planner's in-memory inputs) and
//! `tests/bench_fidelity.rs` (the generated trees checked against the recorded fixture and
//! lsscsi). Included by path, so it is not part of the lunguard crate.

// Each includer uses a different part (the test adds lsscsi-only helpers).
#![allow(dead_code)]

pub mod plan_input;
pub mod state_files;
pub mod sysfs_tree;
