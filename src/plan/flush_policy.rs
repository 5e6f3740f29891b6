//! `FlushPolicy`: how a `FlushMap` step retries while a map is briefly "in use". Part of the
//! plan (each flush step carries it), so the executor needs nothing from the planner's policy.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Bounded retries of `multipath -f` while the map is "in use" (udev workers
/// and `blkid` open a map for a moment after every change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushPolicy {
    /// Attempts after the first.
    pub retries: u32,
    /// First wait between attempts.
    pub backoff: Duration,
    /// Total time allowed across all attempts.
    pub timeout: Duration,
    /// Longest wait between attempts.
    #[serde(default = "default_backoff_max")]
    pub backoff_max: Duration,
    /// Growth of the wait per attempt, in percent (200: doubles). Percent, not a float, so the
    /// plan stays `Eq` and compares exactly in tests.
    #[serde(default = "default_multiplier_percent")]
    pub multiplier_percent: u32,
}

fn default_backoff_max() -> Duration {
    Duration::from_secs(16)
}

fn default_multiplier_percent() -> u32 {
    200
}

impl FlushPolicy {
    /// The wait after a wait of `prev`: `min(prev × multiplier, backoff_max)`.
    pub fn next_backoff(&self, prev: Duration) -> Duration {
        prev.saturating_mul(self.multiplier_percent.max(100))
            .checked_div(100)
            .unwrap_or(self.backoff_max)
            .min(self.backoff_max)
    }
}

impl Default for FlushPolicy {
    fn default() -> Self {
        Self {
            retries: 5,
            backoff: Duration::from_millis(250),
            timeout: Duration::from_secs(20),
            backoff_max: default_backoff_max(),
            multiplier_percent: default_multiplier_percent(),
        }
    }
}
