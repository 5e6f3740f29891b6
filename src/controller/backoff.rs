//! Per-key exponential backoff with jitter: how long a key that failed
//! waits before its next attempt. Pure arithmetic; the queue keeps the
//! failure counts and resets them on success.
//!
//! Jitter only ever *shortens* a delay (a delay is drawn from
//! `[base × (1 − jitter), base]`), so `max` is a hard cap, and with the
//! default multiplier 2 and jitter ≤ ½ consecutive delays still grow. It is
//! derived from a hash of (seed, key, attempt) instead of a random number
//! generator: no extra crate, reproducible for one seed, and different keys
//! that failed together (all paths of one dead target) spread out.

use std::hash::{BuildHasher, Hash, RandomState};
use std::time::Duration;

/// Backoff parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffConfig {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Cap on any delay.
    pub max: Duration,
    /// Growth per further failure.
    pub multiplier: u32,
    /// Fraction of a delay that may be cut off at random, `0.0..=1.0`.
    pub jitter: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(300),
            multiplier: 2,
            jitter: 0.2,
        }
    }
}

impl BackoffConfig {
    /// The delay before the next attempt after `failures` consecutive
    /// failures (≥ 1), before jitter: `initial × multiplier^(failures−1)`,
    /// capped at `max`. Zero failures means no delay.
    pub fn base_delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let mut d = self.initial;
        for _ in 1..failures {
            d = d.saturating_mul(self.multiplier.max(1));
            if d >= self.max {
                return self.max;
            }
        }
        d.min(self.max)
    }

    /// The jittered delay: `base_delay(failures)` shortened by up to
    /// `jitter` of itself, the amount taken from `noise` (any u64, e.g. from
    /// [`Jitter::noise`]).
    pub fn delay(&self, failures: u32, noise: u64) -> Duration {
        let base = self.base_delay(failures);
        let jitter = self.jitter.clamp(0.0, 1.0);
        // 53 bits give a uniform fraction in [0, 1) exactly representable.
        let unit = (noise >> 11) as f64 / (1u64 << 53) as f64;
        base.mul_f64(1.0 - jitter * unit)
    }
}

/// Source of per-(key, attempt) noise for jitter.
#[derive(Debug, Clone)]
pub struct Jitter {
    hasher: RandomState,
}

impl Jitter {
    /// Seeded from the process's random hash keys (different each run).
    pub fn new() -> Self {
        Self {
            hasher: RandomState::new(),
        }
    }

    /// Noise for `key`'s `attempt`-th retry.
    pub fn noise<K: Hash>(&self, key: &K, attempt: u32) -> u64 {
        self.hasher.hash_one((key, attempt))
    }
}

impl Default for Jitter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn grows_exponentially_then_caps() {
        let c = BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            multiplier: 2,
            jitter: 0.0,
        };
        let ms: Vec<u128> = (0..7).map(|n| c.base_delay(n).as_millis()).collect();
        assert_eq!(ms, [0, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(c.base_delay(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn noise_differs_per_key_and_attempt() {
        let j = Jitter::new();
        assert_ne!(j.noise(&"a", 1), j.noise(&"b", 1));
        assert_ne!(j.noise(&"a", 1), j.noise(&"a", 2));
        assert_eq!(j.noise(&"a", 1), j.noise(&"a", 1));
    }

    proptest! {
        #[test]
        fn jitter_stays_within_bounds(failures in 1u32..40, noise in any::<u64>()) {
            let c = BackoffConfig::default();
            let base = c.base_delay(failures);
            let d = c.delay(failures, noise);
            prop_assert!(d <= base && d <= c.max);
            prop_assert!(d >= base.mul_f64(1.0 - c.jitter) - Duration::from_nanos(1));
        }

        #[test]
        fn jittered_delays_still_grow_until_the_cap(failures in 1u32..20, a in any::<u64>(), b in any::<u64>()) {
            let c = BackoffConfig::default();
            prop_assume!(c.base_delay(failures + 1) < c.max);
            prop_assert!(c.delay(failures + 1, a) > c.delay(failures, b));
        }
    }
}
