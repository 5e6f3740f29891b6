//! `FindingChanges`: turns the findings of every reconcile pass into alerts
//! only when a subject's conclusion changes. A level-triggered loop
//! re-derives the same findings on every pass; alerting on each would repeat
//! "unwanted device" forever, and the rate limit alone would still repeat it
//! every interval.

use std::collections::BTreeMap;

use crate::plan::{Finding, Subject};

use super::{Alert, AlertKind};

/// The last alert kind per subject.
#[derive(Debug, Default)]
pub struct FindingChanges {
    last: BTreeMap<Subject, AlertKind>,
}

impl FindingChanges {
    /// Nothing seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The alert for `finding` if its subject's kind differs from the last
    /// one seen (a first `Converged` is not news and gives nothing). The
    /// grace countdown of an unwanted device is one kind, so it alerts once.
    pub fn observe(&mut self, finding: &Finding) -> Option<Alert> {
        let kind = AlertKind::of_finding(&finding.kind);
        let previous = self.last.insert(finding.subject.clone(), kind);
        match previous {
            Some(p) if p == kind => None,
            None if kind == AlertKind::Converged => None,
            _ => Some(Alert::from_finding(finding)),
        }
    }

    /// Forgets a subject that no longer exists (removed device, deleted
    /// attachment), so its return is news again.
    pub fn forget(&mut self, subject: &Subject) {
        self.last.remove(subject);
    }

    /// Forgets every subject not in `present` (call after a full pass).
    pub fn retain(&mut self, present: &[Finding]) {
        self.last
            .retain(|s, _| present.iter().any(|f| &f.subject == s));
    }
}
