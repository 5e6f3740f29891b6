//! `Policy`: the planner's knobs (grace, scope, blast radius, flush timing).
//!
//! Plain data with a `Default`; the config module maps `lunguard.toml` into
//! it. No IO.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Iqn, OnUnexpected, Wwid};
use crate::plan::FlushPolicy;

/// How the planner decides. Per-attachment overrides
/// (`Attachment::policy`) refine `on_unexpected` and `force` for devices on
/// that attachment's target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// How long an unwanted device must have been seen before it is removed,
    /// so an attach that is mid-flight (another tool's login + scan) is not
    /// raced. Not applied to targets whose intent was removed (rule 6).
    pub grace: Duration,
    /// What to do with an in-scope device nobody declared.
    pub on_unexpected: OnUnexpected,
    /// Accept data loss to leave no leftovers: a failed flush does not stop a
    /// removal, and a dead map that queues I/O is switched to
    /// `fail_if_no_path` first.
    pub force: bool,
    /// Most LUNs one plan may remove. More unwanted at once means something
    /// is wrong with the desired state (an emptied state directory, a typo in
    /// a target name): nothing is removed and one `BlastRadius` finding says why.
    pub blast_radius: usize,
    /// Which hosts and targets lunguard governs beyond the attachments'.
    pub scope: Scope,
    /// Timing of `multipath -f`.
    pub flush: FlushPolicy,
    /// How long to wait for removed devices to disappear from sysfs.
    pub wait_gone: Duration,
    /// `mode = "observe"`: the plan is a preview that is never carried out, and findings say
    /// what enforce *would* do ("would remove"). Planning is otherwise identical, so observe
    /// shows exactly what switching to enforce would remove.
    #[serde(default)]
    pub observe: bool,
}

impl Policy {
    /// `verb` as a finding states a planned action: as is in enforce mode, "would …" in
    /// observe mode.
    pub fn planned(&self, verb: &str) -> String {
        if self.observe {
            format!("would {verb} (observe mode)")
        } else {
            verb.to_owned()
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(60),
            on_unexpected: OnUnexpected::Remove,
            force: false,
            blast_radius: 16,
            scope: Scope::default(),
            flush: FlushPolicy::default(),
            wait_gone: Duration::from_secs(30),
            observe: false,
        }
    }
}

/// What is in scope besides the targets named by attachments and the
/// targets lunguard attached and has not fully detached.
///
/// Patterns are shell-style globs with `*` and `?` only, matched against
/// the whole string. Exclusions win over inclusions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Extra iSCSI targets, e.g. `iqn.2010-10.org.openstack:*`.
    pub targets: Vec<String>,
    /// SCSI hosts by `proc_name` (FC, SAS, `scsi_debug`). Applies only to
    /// devices not under an iSCSI session: iSCSI scope is by target.
    pub proc_names: Vec<String>,
    /// Targets never touched, even if named above.
    pub exclude_targets: Vec<String>,
    /// Host drivers never touched.
    pub exclude_proc_names: Vec<String>,
    /// LUNs never touched, by WWID (kernel form).
    pub exclude_wwids: Vec<Wwid>,
}

impl Scope {
    /// Whether `target` matches an inclusion pattern (not considering exclusions).
    pub fn includes_target(&self, target: &Iqn) -> bool {
        self.targets.iter().any(|p| glob(p, target.as_str()))
    }

    /// Whether `target` is excluded.
    pub fn excludes_target(&self, target: &Iqn) -> bool {
        self.exclude_targets
            .iter()
            .any(|p| glob(p, target.as_str()))
    }

    /// Whether host driver `proc_name` is included and not excluded.
    pub fn includes_proc_name(&self, proc_name: &str) -> bool {
        self.proc_names.iter().any(|p| glob(p, proc_name))
            && !self.exclude_proc_names.iter().any(|p| glob(p, proc_name))
    }

    /// Whether the LUN with this WWID is excluded.
    pub fn excludes_wwid(&self, wwid: &Wwid) -> bool {
        self.exclude_wwids.contains(wwid)
    }
}

/// Whole-string glob match with `*` (any run) and `?` (one char).
pub fn glob(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_whole_strings() {
        assert!(glob(
            "iqn.2010-10.org.openstack:*",
            "iqn.2010-10.org.openstack:vol-1"
        ));
        assert!(!glob(
            "iqn.2010-10.org.openstack:*",
            "iqn.2010-10.org.other:vol-1"
        ));
        assert!(glob("scsi_debug", "scsi_debug"));
        assert!(!glob("scsi_debug", "scsi_debugx"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYc"));
        assert!(glob("qla2?xx", "qla2nxx"));
        assert!(!glob("", "x"));
    }

    #[test]
    fn exclusion_wins_over_inclusion() {
        let s = Scope {
            proc_names: vec!["*".into()],
            exclude_proc_names: vec!["ahci".into()],
            ..Scope::default()
        };
        assert!(s.includes_proc_name("scsi_debug"));
        assert!(!s.includes_proc_name("ahci"));
    }
}
