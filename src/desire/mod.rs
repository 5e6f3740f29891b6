//! Desired state: the state files compiled into a validated `DesiredState`,
//! and the store that keeps the last good one.
//!
//! Loading is all-or-nothing: every file is read, parsed and validated, every
//! problem is collected, and only a load without any problem produces a
//! `DesiredState`. `apply_load` then either replaces the stored state or keeps
//! the last good one, so a broken edit — or a restart with a broken file —
//! never changes what lunguard enforces.
//!
//! # Layout
//! - `files`: which directory entries are state files; reading them.
//! - `parse`: one file → declared attachments + diagnostics.
//! - `validate`: rules across files.
//! - [`store`]: the `Store` trait (sled and in-memory): last good state,
//!   first-seen times, journal, history.
//! - [`watch`]: inotify on the state directory → debounced reload triggers.

mod files;
mod parse;
pub mod store;
mod validate;
pub mod watch;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::config::{Config, Diagnostic, LoadErrors, Ownership};
use crate::model::{Attachment, Iqn};

pub use files::{MAX_STATE_FILE_BYTES, StateFile, is_state_file_name, read_state_dir};
pub use store::{Store, StoreError};

/// The compiled, validated desired state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredState {
    /// Every attachment, sorted by name (names are unique).
    pub attachments: Vec<Attachment>,
    /// The state files it was compiled from.
    pub files: Vec<PathBuf>,
    /// Digest of the files' names and contents (FNV-1a 64, hex): tells a
    /// reload that changed nothing from one that did. Not a security measure.
    pub digest: String,
    /// When it was loaded.
    pub loaded_at: SystemTime,
}

impl DesiredState {
    /// The attachment called `name`.
    pub fn get(&self, name: &str) -> Option<&Attachment> {
        self.attachments.iter().find(|a| a.name == name)
    }

    /// The attachment claiming `lun` on `target`.
    pub fn find(&self, target: &Iqn, lun: u64) -> Option<&Attachment> {
        self.attachments
            .iter()
            .find(|a| &a.target == target && a.lun == lun)
    }

    /// Every target some attachment names (these are in scope by definition).
    pub fn targets(&self) -> BTreeSet<&Iqn> {
        self.attachments.iter().map(|a| &a.target).collect()
    }
}

/// What one load found, valid or not; `lunguard check` shows all of it,
/// `load_desired` turns it into a result.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    /// The state files read.
    pub files: Vec<PathBuf>,
    /// The attachments that were valid on their own (all of them when
    /// `errors` is empty).
    pub attachments: Vec<Attachment>,
    /// Digest of the files read.
    pub digest: String,
    /// Every problem, at most [`MAX_ERRORS_PER_FILE`] of each file and then
    /// one line counting the rest.
    pub errors: LoadErrors,
    /// How many problems were found, including those not listed.
    pub error_count: usize,
}

/// Errors reported per file, at most; the rest are counted in one "… and N
/// more errors in FILE" line. A load with any error is still rejected whole.
pub const MAX_ERRORS_PER_FILE: usize = 100;

/// Reads and validates the state directory named by `config.state_dir`
/// against `config.scope`, collecting every problem.
pub fn compile(config: &Config, ownership: Ownership) -> Compiled {
    let (files, read_errors) = read_state_dir(&config.state_dir, ownership);
    compile_files(&files, read_errors, &config.scope)
}

/// [`compile`] over files already read (with the problems reading them): `attach` and `detach`
/// check the directory as it would be after their change before making it.
pub fn compile_files(
    files: &[StateFile],
    read_errors: Vec<Diagnostic>,
    scope: &crate::config::Scope,
) -> Compiled {
    let mut errors = LoadErrors(read_errors);
    let mut declared = Vec::new();
    for f in files {
        let (mut d, e) = parse::parse_file(&f.path, &f.text);
        declared.append(&mut d);
        errors.extend(e);
    }
    errors.extend(validate::validate(&declared, scope));
    // File order, then position: cross-file errors land next to their line.
    errors
        .0
        .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    let error_count = errors.0.len();
    errors.cap_per_file(MAX_ERRORS_PER_FILE);
    let mut attachments: Vec<Attachment> =
        declared.into_iter().filter_map(|d| d.attachment).collect();
    attachments.sort_by(|a, b| a.name.cmp(&b.name));
    Compiled {
        files: files.iter().map(|f| f.path.clone()).collect(),
        digest: digest(files),
        attachments,
        errors,
        error_count,
    }
}

/// Parses and validates one state file's text on its own, as [`compile`] does each file (`file`
/// only names it in diagnostics). No file system access: the fuzz targets and the parse-time
/// tests feed the loader through this.
pub fn check_text(file: &std::path::Path, text: &str, scope: &crate::config::Scope) -> Compiled {
    let (declared, errors) = parse::parse_file(file, text);
    let mut errors = LoadErrors(errors);
    errors.extend(validate::validate(&declared, scope));
    errors.0.sort_by_key(|d| (d.line, d.column));
    let error_count = errors.0.len();
    errors.cap_per_file(MAX_ERRORS_PER_FILE);
    Compiled {
        files: vec![file.to_owned()],
        attachments: declared.into_iter().filter_map(|d| d.attachment).collect(),
        digest: String::new(),
        errors,
        error_count,
    }
}

/// Loads the desired state: `Ok` only if every file is valid.
pub fn load_desired(config: &Config, ownership: Ownership) -> Result<DesiredState, LoadErrors> {
    let c = compile(config, ownership);
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    Ok(DesiredState {
        attachments: c.attachments,
        files: c.files,
        digest: c.digest,
        loaded_at: SystemTime::now(),
    })
}

/// The outcome of `apply_load`.
#[derive(Debug, Clone, PartialEq)]
pub enum Reload {
    /// The load was valid and is now the stored desired state.
    Replaced {
        /// The new state.
        state: DesiredState,
        /// Whether its digest differs from the previous one.
        changed: bool,
    },
    /// The load failed; the store still holds `last_good`.
    Kept {
        /// The last good state; `None` if there never was one — then nothing
        /// may be planned at all (an empty desired state would mean "detach
        /// everything").
        last_good: Option<DesiredState>,
        /// Why the load failed.
        errors: LoadErrors,
    },
}

impl Reload {
    /// The same outcome, as a pass that did not re-read the files reports it: a replaced state
    /// is no longer a change.
    pub fn unchanged(&self) -> Self {
        match self {
            Self::Replaced { state, .. } => Self::Replaced {
                state: state.clone(),
                changed: false,
            },
            kept @ Self::Kept { .. } => kept.clone(),
        }
    }

    /// The state to enforce after this reload, if any.
    pub fn state(&self) -> Option<&DesiredState> {
        match self {
            Self::Replaced { state, .. } => Some(state),
            Self::Kept { last_good, .. } => last_good.as_ref(),
        }
    }
}

/// Stores a successful load as the desired state, or keeps the last good one
/// and hands back the errors.
pub fn apply_load(
    store: &dyn Store,
    result: Result<DesiredState, LoadErrors>,
) -> Result<Reload, StoreError> {
    let previous = store.desired()?;
    match result {
        Ok(state) => {
            store.set_desired(&state)?;
            let changed = previous.is_none_or(|p| p.digest != state.digest);
            Ok(Reload::Replaced { state, changed })
        }
        Err(errors) => Ok(Reload::Kept {
            last_good: previous,
            errors,
        }),
    }
}

/// FNV-1a 64 over each file's name and contents, NUL-separated.
fn digest(files: &[StateFile]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in files {
        let name = f
            .path
            .file_name()
            .map(|n| n.as_encoded_bytes())
            .unwrap_or_default();
        for b in name.iter().chain(&[0]).chain(f.text.as_bytes()).chain(&[0]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}
