//! `Policy`: what the planner needs from the config to decide about unwanted
//! devices — grace period, default `on_unexpected`/`force`, blast radius, and
//! the bounded retries of a multipath flush that reports "map in use".
//!
//! Plain data with documented defaults (docs/config.md); no IO.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration;
use crate::model::{OnUnexpected, PolicyOverrides};

/// `[policy]` in lunguard.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// How long an unwanted device must have been seen before it is removed,
    /// so an attach that is mid-flight (ours or an admin's) is not raced.
    #[serde(with = "duration")]
    pub grace: Duration,
    /// Default for in-scope devices nobody declared; attachments may override.
    pub on_unexpected: OnUnexpected,
    /// Default for accepting data loss when a flush fails for a reason other
    /// than "in use"; attachments may override. Off: keeping a device is
    /// always recoverable, losing buffered writes is not.
    pub force: bool,
    /// At most this many removals per reconcile pass: a wrong state file or a
    /// bug must not be able to detach everything at once.
    pub max_removals_per_pass: u32,
    /// Flushing a multipath map.
    pub flush: FlushPolicy,
    /// Keep the quarantine list under the runtime directory (`<run>/quarantine/`), from which
    /// rules/59-lunguard-quarantine.rules marks every new device of a managed target's session
    /// that no attachment declares as not ready (no blkid, LVM, multipath, udisks or systemd
    /// claim) from its kernel `add` until lunguard removes it. Only the daemon in enforce mode
    /// keeps the list. Off for hosts where another tool attaches LUNs of targets in lunguard's
    /// scope and must use them during the grace period.
    pub quarantine: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(30),
            on_unexpected: OnUnexpected::Remove,
            force: false,
            max_removals_per_pass: 4,
            flush: FlushPolicy::default(),
            quarantine: true,
        }
    }
}

/// `[policy.flush]`: bounded retries with exponential backoff while
/// `multipath -f` says the map is in use (udev workers and multipathd's
/// checker hold it for moments), and a total deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlushPolicy {
    /// Retries after the first attempt when the map is in use.
    pub retries: u32,
    /// Delay before the first retry.
    #[serde(with = "duration")]
    pub backoff_initial: Duration,
    /// Upper bound of any one delay.
    #[serde(with = "duration")]
    pub backoff_max: Duration,
    /// Factor between consecutive delays (at least 1).
    pub backoff_multiplier: f64,
    /// Give up (alert, keep the device) after this long in total.
    #[serde(with = "duration")]
    pub timeout: Duration,
}

impl Default for FlushPolicy {
    fn default() -> Self {
        Self {
            retries: 5,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(16),
            backoff_multiplier: 2.0,
            timeout: Duration::from_secs(60),
        }
    }
}

impl FlushPolicy {
    /// The delay before retry `n` (0 = the first retry):
    /// `min(initial × multiplier^n, max)`.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = self
            .backoff_multiplier
            .max(1.0)
            .powi(i32::try_from(n).unwrap_or(i32::MAX));
        let secs = self.backoff_initial.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= self.backoff_max.as_secs_f64() {
            self.backoff_max
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

/// The policy that applies to one attachment's devices after its overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effective {
    /// What to do with unexpected devices.
    pub on_unexpected: OnUnexpected,
    /// Whether to accept data loss.
    pub force: bool,
}

impl Policy {
    /// Applies an attachment's overrides (a `None` keeps the config's value).
    pub fn effective(&self, overrides: &PolicyOverrides) -> Effective {
        Effective {
            on_unexpected: overrides.on_unexpected.unwrap_or(self.on_unexpected),
            force: overrides.force.unwrap_or(self.force),
        }
    }

    /// The config's own defaults, for devices no attachment speaks for.
    pub fn default_effective(&self) -> Effective {
        self.effective(&PolicyOverrides::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps() {
        let f = FlushPolicy::default();
        let secs: Vec<u64> = (0..7).map(|n| f.backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 16, 16]);
        assert_eq!(f.backoff(u32::MAX), f.backoff_max);
    }

    #[test]
    fn overrides_win_over_defaults() {
        let p = Policy::default();
        let o = PolicyOverrides {
            on_unexpected: Some(OnUnexpected::Alert),
            force: None,
        };
        assert_eq!(
            p.effective(&o),
            Effective {
                on_unexpected: OnUnexpected::Alert,
                force: false
            }
        );
        assert_eq!(p.default_effective().on_unexpected, OnUnexpected::Remove);
    }
}
