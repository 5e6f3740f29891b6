//! `Scope`: which devices lunguard governs beyond those its attachments name.
//!
//! Attachments put their own targets in scope; the config adds iSCSI targets
//! by pattern and other SCSI hosts (FC, SAS, scsi_debug) by driver
//! `proc_name`, and excludes targets, hosts or single LUNs by WWID. Anything
//! out of scope is never touched. Pure data and matching; no IO.

use serde::{Deserialize, Serialize};

use super::Pattern;
use crate::model::{Iqn, Wwid};

/// `[scope]` in lunguard.toml.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scope {
    /// Extra iSCSI targets, by IQN pattern (`*`, `?`).
    pub iscsi_targets: Vec<Pattern>,
    /// SCSI hosts, by the driver's `proc_name` (exact), e.g. `scsi_debug`.
    pub scsi_hosts: Vec<String>,
    /// Never governed, whatever else says so.
    pub exclude: Exclusions,
}

/// `[scope.exclude]`: exclusions win over every inclusion.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Exclusions {
    /// iSCSI targets by IQN pattern.
    pub iscsi_targets: Vec<Pattern>,
    /// SCSI hosts by `proc_name` (exact).
    pub scsi_hosts: Vec<String>,
    /// Single LUNs by kernel-form WWID (exact).
    pub wwids: Vec<Wwid>,
}

impl Scope {
    /// Whether the config itself puts `target` in scope (a pattern matches and
    /// no exclusion does). Targets named by attachments, or still attached by
    /// lunguard, are in scope regardless of this unless excluded.
    pub fn includes_target(&self, target: &Iqn) -> bool {
        !self.excludes_target(target)
            && self
                .iscsi_targets
                .iter()
                .any(|p| p.matches(target.as_str()))
    }

    /// Whether the config puts SCSI hosts of driver `proc_name` in scope.
    pub fn includes_host(&self, proc_name: &str) -> bool {
        !self.excludes_host(proc_name) && self.scsi_hosts.iter().any(|h| h == proc_name)
    }

    /// Whether `target` is excluded.
    pub fn excludes_target(&self, target: &Iqn) -> bool {
        self.exclude
            .iscsi_targets
            .iter()
            .any(|p| p.matches(target.as_str()))
    }

    /// Whether hosts of driver `proc_name` are excluded.
    pub fn excludes_host(&self, proc_name: &str) -> bool {
        self.exclude.scsi_hosts.iter().any(|h| h == proc_name)
    }

    /// Whether the LUN with this WWID is excluded.
    pub fn excludes_wwid(&self, wwid: &Wwid) -> bool {
        self.exclude.wwids.contains(wwid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            iscsi_targets: vec!["iqn.2003-01.org.linux-iscsi.*".parse().unwrap()],
            scsi_hosts: vec!["scsi_debug".into()],
            exclude: Exclusions {
                iscsi_targets: vec!["*:sn.keep".parse().unwrap()],
                scsi_hosts: vec!["ahci".into()],
                wwids: vec!["naa.6001405aaaa".parse().unwrap()],
            },
        }
    }

    #[test]
    fn exclusions_win() {
        let s = scope();
        let t = |x: &str| x.parse::<Iqn>().unwrap();
        assert!(s.includes_target(&t("iqn.2003-01.org.linux-iscsi.a:sn.1")));
        assert!(!s.includes_target(&t("iqn.2003-01.org.linux-iscsi.a:sn.keep")));
        assert!(!s.includes_target(&t("iqn.2001-04.com.example:x")));
        assert!(s.includes_host("scsi_debug"));
        assert!(!s.includes_host("ahci"));
        assert!(s.excludes_wwid(&"naa.6001405aaaa".parse().unwrap()));
    }

    #[test]
    fn default_governs_nothing_extra() {
        let s = Scope::default();
        assert!(!s.includes_host("scsi_debug"));
        assert!(!s.includes_target(&"iqn.2001-04.com.example:x".parse().unwrap()));
    }
}
