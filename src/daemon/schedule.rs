//! When the next pass runs. Pure (instants in, instants out) so the rules are tested without a
//! clock: events are debounced (a burst of uevents from one rescan becomes one pass) but never
//! postponed past a cap (a flapping device cannot starve the loop); failed passes back off
//! exponentially with jitter and reset on success; a periodic resync, the end of the nearest
//! grace period and, while an unwanted device is kept for being in use, a short recheck also wake
//! the loop.

use std::time::{Duration, Instant};

/// Timing knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Quiet time after the last event before a pass.
    pub debounce: Duration,
    /// Longest a pass waits after the first event of a burst.
    pub debounce_cap: Duration,
    /// Full resync interval (the safety net for anything missed).
    pub resync: Duration,
    /// First backoff after a failed pass.
    pub backoff_initial: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
    /// How soon to plan again while an unwanted device is kept only because it is in use: its
    /// release (an unmount, a closed read-only fd, in any namespace) sends no uevent.
    pub in_use_recheck: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(50),
            debounce_cap: Duration::from_millis(500),
            resync: Duration::from_secs(300),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            in_use_recheck: Duration::from_secs(15),
        }
    }
}

/// The loop's timers.
#[derive(Debug, Clone)]
pub struct Schedule {
    timing: Timing,
    due: Option<Instant>,
    burst_start: Option<Instant>,
    resync_at: Instant,
    grace_at: Option<Instant>,
    failures: u32,
}

impl Schedule {
    /// A schedule whose first pass is due at once.
    pub fn new(timing: Timing, now: Instant) -> Self {
        Self {
            timing,
            due: Some(now),
            burst_start: Some(now),
            resync_at: now + timing.resync,
            grace_at: None,
            failures: 0,
        }
    }

    /// An event arrived: a pass after the debounce, within the cap of the burst.
    pub fn event(&mut self, now: Instant) {
        let start = *self.burst_start.get_or_insert(now);
        let want = now + self.timing.debounce;
        self.due = Some(want.min(start + self.timing.debounce_cap).max(now));
    }

    /// Something demands a pass at once (overflow, reload, start).
    pub fn now(&mut self, now: Instant) {
        self.due = Some(now);
        self.burst_start.get_or_insert(now);
    }

    /// Wake when the nearest grace period ends (or an in-use device is due a recheck).
    pub fn grace_ends_in(&mut self, now: Instant, after: Option<Duration>) {
        self.grace_at = after.map(|d| now + d);
    }

    /// The next instant anything is due.
    pub fn next_wake(&self) -> Instant {
        [self.due, Some(self.resync_at), self.grace_at]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.resync_at)
    }

    /// Whether a pass is due at `now` (and clears what it consumed).
    pub fn take_due(&mut self, now: Instant) -> bool {
        let due = self.due.is_some_and(|d| d <= now)
            || self.resync_at <= now
            || self.grace_at.is_some_and(|g| g <= now);
        if due {
            self.due = None;
            self.burst_start = None;
            self.grace_at = None;
            self.resync_at = now + self.timing.resync;
        }
        due
    }

    /// A pass finished. On failure the next one is due after an exponential backoff with up to
    /// 25 % jitter (`jitter` in 0..=1, from the caller, so this stays deterministic); on success
    /// the backoff resets.
    pub fn pass_done(&mut self, now: Instant, ok: bool, jitter: f64) {
        if ok {
            self.failures = 0;
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(16);
        let base = self
            .timing
            .backoff_initial
            .saturating_mul(1 << exp)
            .min(self.timing.backoff_max);
        let with_jitter = base.mul_f64(1.0 + 0.25 * jitter.clamp(0.0, 1.0));
        let at = now + with_jitter;
        self.due = Some(self.due.map_or(at, |d| d.max(at)));
    }

    /// Consecutive failed passes.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// 0..1 from the clock's nanoseconds: enough to spread retries of many hosts, no RNG crate.
pub fn jitter() -> f64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(n % 1000) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn first_pass_is_due_at_start() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Timing::default(), t0);
        assert!(s.take_due(t0));
        assert!(!s.take_due(t0 + ms(10)));
    }

    #[test]
    fn a_burst_is_one_pass_after_the_quiet_time() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Timing::default(), t0);
        assert!(s.take_due(t0));
        for i in 0..5 {
            s.event(t0 + ms(i * 10));
        }
        assert!(
            !s.take_due(t0 + ms(60)),
            "still inside the debounce of the last event"
        );
        assert!(s.take_due(t0 + ms(90)));
        assert!(!s.take_due(t0 + ms(100)), "one pass for the whole burst");
    }

    #[test]
    fn a_flapping_device_cannot_postpone_the_pass_past_the_cap() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Timing::default(), t0);
        assert!(s.take_due(t0));
        let mut t = t0;
        let mut passed_at = None;
        for _ in 0..100 {
            t += ms(20);
            s.event(t);
            if s.take_due(t) {
                passed_at = Some(t);
                break;
            }
        }
        let at = passed_at.expect("a pass within the burst");
        assert!(
            at - t0 <= ms(520),
            "cap is 500 ms after the burst's first event: {:?}",
            at - t0
        );
    }

    #[test]
    fn failures_back_off_exponentially_with_bounded_jitter_and_reset_on_success() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Timing::default(), t0);
        assert!(s.take_due(t0));
        let mut waits = Vec::new();
        for _ in 0..8 {
            s.pass_done(t0, false, 1.0);
            let w = s.next_wake() - t0;
            waits.push(w);
            assert!(s.take_due(t0 + w));
        }
        assert_eq!(waits[0], Duration::from_millis(1250));
        assert_eq!(waits[1], Duration::from_millis(2500));
        assert_eq!(waits[2], Duration::from_millis(5000));
        assert_eq!(
            *waits.last().expect("waits"),
            Duration::from_secs(75),
            "capped at 60 s + 25 %"
        );
        s.pass_done(t0, true, 0.0);
        assert_eq!(s.failures(), 0);
        s.pass_done(t0, false, 0.0);
        assert_eq!(
            s.next_wake() - t0,
            Duration::from_secs(1),
            "reset after success"
        );
    }

    #[test]
    fn grace_end_and_resync_wake_the_loop() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Timing::default(), t0);
        assert!(s.take_due(t0));
        s.grace_ends_in(t0, Some(Duration::from_secs(7)));
        assert_eq!(s.next_wake() - t0, Duration::from_secs(7));
        assert!(!s.take_due(t0 + Duration::from_secs(6)));
        assert!(s.take_due(t0 + Duration::from_secs(7)));
        let resync = s.next_wake();
        assert!(s.take_due(resync));
    }
}
