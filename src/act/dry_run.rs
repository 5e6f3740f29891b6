//! `DryRun`: logs and records each action, changes nothing. Used by
//! `apply --once --dry-run` and the daemon in observe mode.

use std::sync::Mutex;

use crate::plan::{Action, PathRef};

use super::error::ActError;
use super::{Actuator, Outcome};

/// Records what it would do.
#[derive(Debug, Default)]
pub struct DryRun {
    lines: Mutex<Vec<String>>,
}

impl DryRun {
    /// A dry run with nothing recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// What it would have done, one line per action or path.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn note(&self, line: String) {
        tracing::info!(dry_run = true, "would {line}");
        if let Ok(mut l) = self.lines.lock() {
            l.push(line);
        }
    }
}

impl Actuator for DryRun {
    fn execute(&self, action: &Action) -> Result<Outcome, ActError> {
        self.note(action.to_string());
        Ok(Outcome::Changed)
    }

    fn delete_path(&self, path: &PathRef) -> Result<Outcome, ActError> {
        self.note(format!("delete SCSI device {path} ({})", path.wwid));
        Ok(Outcome::Changed)
    }

    fn is_dry_run(&self) -> bool {
        true
    }
}
