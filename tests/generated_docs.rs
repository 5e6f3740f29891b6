//! The checked-in man pages (docs/man/) and completions (docs/completions/) are what the clap
//! grammar and docs/config.md, docs/state-files.md generate today: the package ships the
//! checked-in copies, so a stale one would ship a manual that lies. Refresh them with
//! `cargo run --example gen_docs`.

#[path = "../examples/gen_docs/render.rs"]
#[allow(dead_code)]
mod render;

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn checked_in_man_pages_and_completions_are_not_stale() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = render::all(root).expect("render");
    let mut stale = Vec::new();
    for (path, bytes) in &files {
        match std::fs::read(root.join(path)) {
            Ok(old) if &old == bytes => {}
            Ok(_) => stale.push(format!("{} differs", path.display())),
            Err(e) => stale.push(format!("{} cannot be read: {e}", path.display())),
        }
    }
    // A file no longer generated (a removed subcommand) must go too, or it ships.
    let expected: BTreeSet<_> = files.iter().map(|(p, _)| root.join(p)).collect();
    for dir in [render::MAN_DIR, render::COMPLETIONS_DIR] {
        for entry in std::fs::read_dir(root.join(dir)).expect("list") {
            let path = entry.expect("entry").path();
            if !expected.contains(&path) {
                stale.push(format!(
                    "{} is not generated any more (delete it)",
                    path.display()
                ));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated docs are stale; run `{}` and commit the result:\n  {}",
        render::REFRESH,
        stale.join("\n  ")
    );
}

#[test]
fn every_subcommand_has_a_man_page() {
    use clap::CommandFactory;
    let files = render::all(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("render");
    let names: BTreeSet<_> = files
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for sub in lunguard::cli::Cli::command().get_subcommands() {
        let page = format!("lunguard-{}.8", sub.get_name());
        assert!(names.contains(&page), "no {page} in {names:?}");
    }
    for page in ["lunguard.8", "lunguard.toml.5", "lunguard-state.5"] {
        assert!(names.contains(page), "no {page} in {names:?}");
    }
}
