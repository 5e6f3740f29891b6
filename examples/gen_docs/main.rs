//! Writes the man pages (docs/man/) and shell completions (docs/completions/) generated from
//! the clap grammar and the docs/ references: `cargo run --example gen_docs`. The package
//! ships these files; tests/generated_docs.rs fails while a checked-in copy is stale.

#[path = "render.rs"]
mod render;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = match render::all(root) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("gen_docs: {e}");
            return ExitCode::from(2);
        }
    };
    for dir in [render::MAN_DIR, render::COMPLETIONS_DIR] {
        if let Err(e) = std::fs::create_dir_all(root.join(dir)) {
            eprintln!("gen_docs: cannot create {dir}: {e}");
            return ExitCode::from(2);
        }
    }
    let mut written = 0;
    for (path, bytes) in files {
        let full = root.join(&path);
        let same = std::fs::read(&full).is_ok_and(|old| old == bytes);
        if same {
            continue;
        }
        if let Err(e) = std::fs::write(&full, &bytes) {
            eprintln!("gen_docs: cannot write {}: {e}", full.display());
            return ExitCode::from(2);
        }
        println!("wrote {}", path.display());
        written += 1;
    }
    if written == 0 {
        println!("{}: every file was up to date", render::REFRESH);
    }
    ExitCode::SUCCESS
}
