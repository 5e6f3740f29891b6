//! Finding and reading the state files in the state directory.
//!
//! Owns which names count (`*.toml`, never editor debris or dotfiles), the
//! Kubernetes ConfigMap layout, and the ownership check of each file. Reads
//! only; parsing is `parse`'s job.
//!
//! ConfigMap volumes look like `a.toml -> ..data/a.toml`, `..data ->
//! ..2026_01_02_03_04_05.123`, with the real files in the timestamped
//! directory; an update swaps `..data` atomically. Reading only the top-level
//! names (following their symlinks) and skipping every dot-name therefore sees
//! each file once and always one consistent generation.

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::{Diagnostic, Ownership};

/// Largest state file read (16 MiB, about 150,000 attachments). A bigger one
/// is a mistake (a log or a disk image copied in by hand, a generator run
/// away) and reading it whole would cost the daemon that much memory on every
/// reload; it is rejected like any invalid file, so the last good state stays.
pub const MAX_STATE_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a file of `len` bytes is refused, or `None` if it is within the cap.
fn size_problem(len: u64) -> Option<String> {
    (len > MAX_STATE_FILE_BYTES).then(|| {
        #[allow(clippy::cast_precision_loss)] // a size to one decimal
        let mib = len as f64 / (1024.0 * 1024.0);
        format!(
            "is {mib:.1} MiB ({len} bytes), over the {} MiB cap for a state file; split it into several files in the state directory",
            MAX_STATE_FILE_BYTES / (1024 * 1024)
        )
    })
}

/// One state file's name (as the user sees it) and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFile {
    /// `state_dir/name`, not the resolved target, so messages name what the
    /// user edits.
    pub path: PathBuf,
    /// UTF-8 contents.
    pub text: String,
}

/// Whether a directory entry named `name` is a state file: `*.toml`, and not a
/// dotfile (`.a.toml.swp`, `.#a.toml`, ConfigMap's `..data`), editor backup
/// (`a.toml~`), vim's write test (`4913`) or temp file (`a.toml.tmp`). Only the
/// `.toml` suffix really decides; the rest are listed so the rule is explicit.
pub fn is_state_file_name(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false; // non-UTF-8 names are never ours; skipping beats guessing
    };
    let debris = name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".tmp")
        || name.ends_with(".swp")
        || name == "4913";
    !debris && name.len() > ".toml".len() && name.ends_with(".toml")
}

/// Lists and reads the state files of `dir`, sorted by name. Problems (an
/// unreadable file, a file the ownership policy refuses) are returned next to
/// the files that could be read, so one load reports all of them.
pub fn read_state_dir(dir: &Path, ownership: Ownership) -> (Vec<StateFile>, Vec<Diagnostic>) {
    let mut errors = Vec::new();
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            errors.push(Diagnostic::file(dir, "the state directory is not a directory (set state_dir in lunguard.toml or --state-dir)"));
            return (Vec::new(), errors);
        }
        Err(e) => {
            errors.push(Diagnostic::file(
                dir,
                format!("cannot open the state directory: {e} (create it — an empty directory means \"nothing attached\" — or set state_dir)"),
            ));
            return (Vec::new(), errors);
        }
    }
    if let Err(msg) = ownership.check(dir) {
        errors.push(Diagnostic::file(dir, msg));
    }
    let mut names = Vec::new();
    match fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                match entry {
                    Ok(e) if is_state_file_name(&e.file_name()) => names.push(e.file_name()),
                    Ok(_) => {}
                    Err(e) => errors.push(Diagnostic::file(
                        dir,
                        format!("cannot list the state directory: {e}"),
                    )),
                }
            }
        }
        Err(e) => errors.push(Diagnostic::file(
            dir,
            format!("cannot list the state directory: {e}"),
        )),
    }
    names.sort();
    let canonical_dir = fs::canonicalize(dir).ok();
    let mut files = Vec::new();
    for name in names {
        let path = dir.join(&name);
        match read_one(&path, canonical_dir.as_deref(), ownership) {
            Ok(text) => files.push(StateFile { path, text }),
            Err(mut more) => errors.append(&mut more),
        }
    }
    (files, errors)
}

fn read_one(
    path: &Path,
    canonical_dir: Option<&Path>,
    ownership: Ownership,
) -> Result<String, Vec<Diagnostic>> {
    let meta = fs::metadata(path).map_err(|e| {
        vec![Diagnostic::file(
            path,
            format!("cannot open: {e} (a dangling symlink? remove it or fix its target)"),
        )]
    })?;
    if !meta.is_file() {
        return Err(vec![Diagnostic::file(
            path,
            "is not a regular file; only regular *.toml files are state files (rename it)",
        )]);
    }
    let mut errors = Vec::new();
    if let Err(msg) = ownership.check(path) {
        errors.push(Diagnostic::file(path, msg));
    }
    // A symlink (ConfigMap) leads to a file in another directory: whoever can
    // write that directory can swap the file, so it must pass too.
    if let Some(parent) = fs::canonicalize(path)
        .ok()
        .as_deref()
        .and_then(Path::parent)
        && Some(parent) != canonical_dir
        && let Err(msg) = ownership.check(parent)
    {
        errors.push(Diagnostic::file(
            path,
            format!("its directory {} {msg}", parent.display()),
        ));
    }
    if let Some(msg) = size_problem(meta.len()) {
        errors.push(Diagnostic::file(path, msg));
        return Err(errors);
    }
    let text = read_capped(path).map_err(|e| vec![Diagnostic::file(path, e)]);
    let text = match text {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            vec![Diagnostic::file(
                path,
                "is not valid UTF-8 (TOML files must be UTF-8)",
            )]
        }),
        Err(e) => Err(e),
    };
    match text {
        Ok(t) if errors.is_empty() => Ok(t),
        Ok(_) => Err(errors),
        Err(mut e) => {
            errors.append(&mut e);
            Err(errors)
        }
    }
}

/// Reads at most one byte past the cap, so a file that grows after its size
/// was checked is still refused rather than read whole.
fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    let file = fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_STATE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_STATE_FILE_BYTES {
        return Err(format!(
            "grew past the {} MiB cap for a state file while being read; split it into several files in the state directory",
            MAX_STATE_FILE_BYTES / (1024 * 1024)
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_cap_is_inclusive_and_its_message_names_size_and_cap() {
        assert_eq!(size_problem(MAX_STATE_FILE_BYTES), None);
        assert_eq!(
            size_problem(20 * 1024 * 1024).as_deref(),
            Some(
                "is 20.0 MiB (20971520 bytes), over the 16 MiB cap for a state file; split it into several files in the state directory"
            )
        );
    }

    #[test]
    fn only_toml_files_count() {
        for yes in ["a.toml", "db-volumes.toml", "x.y.toml"] {
            assert!(is_state_file_name(OsStr::new(yes)), "{yes}");
        }
        for no in [
            ".toml",
            ".a.toml",
            ".a.toml.swp",
            "a.toml~",
            ".#a.toml",
            "4913",
            "a.toml.tmp",
            "..data",
            "..2026_01_02_03_04_05.123",
            "a.yaml",
            "a.TOML.bak",
        ] {
            assert!(!is_state_file_name(OsStr::new(no)), "{no}");
        }
    }
}
