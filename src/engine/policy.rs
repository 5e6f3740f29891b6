//! The config's policy and scope, as the planner takes them. Pure mapping, no IO.
//!
//! The config (`lunguard.toml`) and the planner keep their own types on purpose: the config's
//! are what operators write (patterns, a backoff curve), the planner's what rules read. This is
//! the one place they meet, so a new knob is wired here or nowhere.

use crate::config::Config;
use crate::plan::FlushPolicy;
use crate::reconcile::{Policy, Scope};

/// `reconcile::Policy` from the config.
pub fn from_config(c: &Config) -> Policy {
    let p = &c.policy;
    Policy {
        grace: p.grace,
        on_unexpected: p.on_unexpected,
        force: p.force,
        blast_radius: usize::try_from(p.max_removals_per_pass).unwrap_or(usize::MAX),
        scope: Scope {
            targets: c
                .scope
                .iscsi_targets
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            proc_names: c.scope.scsi_hosts.clone(),
            exclude_targets: c
                .scope
                .exclude
                .iscsi_targets
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            exclude_proc_names: c.scope.exclude.scsi_hosts.clone(),
            exclude_wwids: c.scope.exclude.wwids.clone(),
        },
        flush: FlushPolicy {
            retries: p.flush.retries,
            backoff: p.flush.backoff_initial,
            timeout: p.flush.timeout,
            backoff_max: p.flush.backoff_max,
            // The config validates the multiplier (≥ 1.0); percent keeps the plan `Eq`.
            multiplier_percent: percent(p.flush.backoff_multiplier),
        },
        observe: c.mode == crate::config::Mode::Observe,
        ..Policy::default()
    }
}

/// `2.0` → 200; anything below 1.0 (or not a number) → 100: a wait never shrinks.
fn percent(multiplier: f64) -> u32 {
    let p = (multiplier * 100.0).round();
    if p.is_finite() && p >= 100.0 {
        // Saturating float-to-int cast: huge multipliers just hit backoff_max at once.
        p as u32
    } else {
        100
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn every_operator_knob_reaches_the_planner() {
        let c = Config::parse(
            Path::new("lunguard.toml"),
            r#"
[scope]
iscsi_targets = ["iqn.2003-01.org.example:*"]
scsi_hosts = ["scsi_debug"]
[scope.exclude]
iscsi_targets = ["*:boot"]
scsi_hosts = ["ahci"]
wwids = ["naa.600140500291fe600000000feed00000"]
[policy]
grace = "5s"
on_unexpected = "alert"
force = true
max_removals_per_pass = 2
[policy.flush]
retries = 7
backoff_initial = "2s"
backoff_max = "5s"
backoff_multiplier = 1.5
timeout = "9s"
"#,
        )
        .expect("valid config");
        let p = from_config(&c);
        assert_eq!(p.grace, Duration::from_secs(5));
        assert_eq!(p.on_unexpected, crate::model::OnUnexpected::Alert);
        assert!(p.force);
        assert_eq!(p.blast_radius, 2);
        assert_eq!(p.scope.targets, ["iqn.2003-01.org.example:*"]);
        assert_eq!(p.scope.proc_names, ["scsi_debug"]);
        assert_eq!(p.scope.exclude_targets, ["*:boot"]);
        assert_eq!(p.scope.exclude_proc_names, ["ahci"]);
        assert_eq!(p.scope.exclude_wwids.len(), 1);
        assert_eq!(p.flush.retries, 7);
        assert_eq!(p.flush.backoff, Duration::from_secs(2));
        assert_eq!(p.flush.timeout, Duration::from_secs(9));
        assert_eq!(p.flush.backoff_max, Duration::from_secs(5));
        assert_eq!(p.flush.multiplier_percent, 150);
        let waits: Vec<Duration> =
            std::iter::successors(Some(p.flush.backoff), |w| Some(p.flush.next_backoff(*w)))
                .take(4)
                .collect();
        assert_eq!(
            waits,
            [2000, 3000, 4500, 5000].map(Duration::from_millis),
            "×1.5 per retry, capped at backoff_max"
        );
    }
}
