//! Issue 7 item 5: `apply --once --dry-run` (and `apply --once` in observe mode) records
//! first-seen times, so a leftover's grace period runs out across runs and the dry run then
//! shows the removal it would make — "would change", never "changed" — and removes nothing.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use lunguard::commands::apply;
use lunguard::config::{Config, Ownership};
use lunguard::desire::store::MemoryStore;
use lunguard::engine::Engine;
use lunguard::exit::Exit;
use lunguard::observe::Inspector;
use lunguard::sim::{Lab, ScanMode, scratch_root};

/// LUN 0 of a 2-LUN lab is declared; both are attached, so LUN 1 is a leftover.
fn world(dir: &Path, mode: &str) -> (Lab, Engine) {
    let lab = Lab::new(dir.join("host"), 2).unwrap();
    for p in &lab.portals {
        lab.sim.login(&lab.target, p, ScanMode::Automatic).unwrap();
    }
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("lab.toml"), lab.state_file(&[0])).unwrap();
    let mut config = Config::parse(
        Path::new("lunguard.toml"),
        &format!("mode = \"{mode}\"\n[policy]\ngrace = \"1s\"\n"),
    )
    .unwrap();
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
        config,
        Ownership::Trust,
        Box::new(MemoryStore::new()),
        Inspector::from_fn(move || open.open_counts(), move || paths.path_states()),
    );
    (lab, engine)
}

fn run(engine: &Engine, dry_run: bool) -> (Exit, String) {
    let mut out = Vec::new();
    let (exit, _) = apply::run_engine(engine, dry_run, &mut out).unwrap();
    (exit, String::from_utf8(out).unwrap())
}

/// Bug: `apply --once` called `Engine::remember` only when not a dry run, so `--dry-run` (and
/// observe mode) showed "waiting 1s more" on every run and never the removal.
#[test]
fn dry_run_records_first_seen_and_previews_the_removal_after_grace() {
    for (mode, dry_run) in [("enforce", true), ("observe", false)] {
        let dir = tempfile::tempdir_in(scratch_root()).unwrap();
        let (lab, engine) = world(dir.path(), mode);
        let (_, first) = run(&engine, dry_run);
        assert!(first.contains("would remove at "), "{mode}:\n{first}");
        assert!(
            !engine.store().seen().unwrap().is_empty(),
            "{mode}: first-seen times recorded"
        );
        std::thread::sleep(Duration::from_millis(1100));
        let (_, second) = run(&engine, dry_run);
        assert!(
            second.contains("[would change] remove "),
            "{mode}:\n{second}"
        );
        assert!(!second.contains("[changed]"), "{mode}:\n{second}");
        assert!(
            second.contains(" would change, "),
            "{mode}: summary\n{second}"
        );
        assert!(
            lab.sim.devices().iter().any(|d| d.hctl.lun == 1),
            "{mode}: nothing removed"
        );
    }
}

/// `apply --json` says what the text says: the same passes and step results, a summary that
/// counts them, `ok` false while the leftover waits out its grace (exit 1). Dry run: the test
/// host has no multipath binary to act with.
#[test]
fn apply_json_document_matches_what_the_text_says() {
    let dir = tempfile::tempdir_in(scratch_root()).unwrap();
    let (_lab, engine) = world(dir.path(), "enforce");
    let mut text = Vec::new();
    let (exit, doc) = apply::run_engine(&engine, true, &mut text).unwrap();
    let v = serde_json::to_value(&doc).unwrap();
    assert_eq!(v["schema_version"], 1, "{v}");
    assert_eq!(v["mode"], "enforce");
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["desired_ok"], true);
    assert_eq!(
        exit,
        Exit::Findings,
        "in grace: {}",
        String::from_utf8_lossy(&text)
    );
    assert_eq!(v["ok"], false);
    assert_eq!(v["passes"][0]["pass"], 1);
    assert!(
        v["passes"][0]["plan"]["findings"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        "{v}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let mut text = Vec::new();
    let (exit, doc) = apply::run_engine(&engine, true, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let v = serde_json::to_value(&doc).unwrap();
    assert_eq!(v["ok"], exit == Exit::Ok, "{v}");
    let results: Vec<String> = v["passes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["steps"].as_array().unwrap().clone())
        .map(|s| {
            format!(
                "[{}] {}",
                s["result"]["result"].as_str().unwrap().replace('_', " "),
                s["line"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        results
            .iter()
            .any(|r| r.starts_with("[would change] remove ")),
        "{results:#?}"
    );
    for r in &results {
        assert!(text.contains(r.as_str()), "{r:?} not in the text:\n{text}");
    }
    let n = |k: &str| v["summary"][k].as_u64().unwrap();
    assert_eq!(
        n("would_change") + n("converged"),
        results.len() as u64,
        "{v}"
    );
    assert_eq!(n("changed") + n("failed") + n("skipped"), 0, "{v}");
}
