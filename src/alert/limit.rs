//! Rate limiting per (kind, subject): a flapping path or a uevent storm must
//! not flood the journal. Within each `interval`, the first `burst` alerts
//! of a kind for a subject pass; the rest are counted, and one
//! `AlertsSuppressed` summary says how many were dropped — sent before the
//! next alert that passes for that subject, or by `flush` once the interval
//! is over (call it periodically, e.g. on the watchdog tick).
//!
//! Fixed windows, not a token bucket: "5 per minute, then a count" is easy to
//! explain in docs/alerts.md and to check in a test on a fake clock.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{Alert, AlertKind, Alerter, field};

/// The limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Alerts that pass per subject and kind within one interval.
    pub burst: u32,
    /// The window.
    pub interval: Duration,
}

impl Default for RateLimit {
    /// 5 per minute.
    fn default() -> Self {
        Self {
            burst: 5,
            interval: Duration::from_secs(60),
        }
    }
}

/// A source of monotonic time, injectable so tests run on a fake clock.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// `Instant::now()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

#[derive(Debug)]
struct Window {
    start: Instant,
    passed: u32,
    suppressed: u32,
    /// The last suppressed alert, whose subject fields the summary repeats
    /// so `journalctl HCTL=…` finds the summary too.
    last: Option<Alert>,
}

/// Windows above this count are pruned of expired ones on the next check,
/// so a stream of ever-new subjects cannot grow memory without bound.
const PRUNE_ABOVE: usize = 4096;

/// The pure limiter: callers pass the time.
#[derive(Debug, Default)]
pub struct RateLimiter {
    limit: RateLimit,
    windows: HashMap<(AlertKind, String), Window>,
}

impl RateLimiter {
    /// A limiter with `limit`.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            windows: HashMap::new(),
        }
    }

    /// Decides about `alert` at `now`: returns the alerts to send, in order
    /// (a pending summary, then `alert` itself), or nothing if it is
    /// suppressed. Kinds that are not `rate_limited` always pass.
    pub fn check(&mut self, alert: &Alert, now: Instant) -> Vec<Alert> {
        if !alert.kind.rate_limited() {
            return vec![alert.clone()];
        }
        if self.windows.len() > PRUNE_ABOVE {
            let interval = self.limit.interval;
            self.windows
                .retain(|_, w| now.duration_since(w.start) < interval || w.suppressed > 0);
        }
        let limit = self.limit;
        let w = self
            .windows
            .entry((alert.kind, alert.key.clone()))
            .or_insert(Window {
                start: now,
                passed: 0,
                suppressed: 0,
                last: None,
            });
        let mut out = Vec::new();
        if now.duration_since(w.start) >= limit.interval {
            out.extend(summary(w, limit));
            *w = Window {
                start: now,
                passed: 0,
                suppressed: 0,
                last: None,
            };
        }
        if w.passed < limit.burst {
            w.passed += 1;
            out.push(alert.clone());
        } else {
            w.suppressed += 1;
            w.last = Some(alert.clone());
        }
        out
    }

    /// Summaries for every window that is over and dropped something; forgets
    /// windows that are over.
    pub fn flush(&mut self, now: Instant) -> Vec<Alert> {
        let limit = self.limit;
        let mut out = Vec::new();
        self.windows.retain(|_, w| {
            if now.duration_since(w.start) >= limit.interval {
                out.extend(summary(w, limit));
                false
            } else {
                true
            }
        });
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

fn summary(w: &Window, limit: RateLimit) -> Option<Alert> {
    let last = w.last.as_ref().filter(|_| w.suppressed > 0)?;
    let subject = if last.key.is_empty() {
        String::new()
    } else {
        format!(" for {}", last.key)
    };
    let mut a = Alert::new(
        AlertKind::AlertsSuppressed,
        format!(
            "suppressed {} more {} alerts{subject} within {}s (last: {})",
            w.suppressed,
            last.kind,
            limit.interval.as_secs(),
            last.message
        ),
    )
    // Keep the suppressed alerts' severity so `journalctl -p err` still
    // shows that errors were dropped.
    .with_priority(last.priority)
    .keyed(last.key.clone())
    .with(field::SUPPRESSED_KIND, last.kind.name())
    .with(field::SUPPRESSED_MESSAGE_ID, last.kind.message_id())
    .with(field::SUPPRESSED_COUNT, w.suppressed)
    .with(field::INTERVAL_SEC, limit.interval.as_secs());
    a.fields.extend(last.fields.iter().cloned());
    Some(a)
}

/// Any `Alerter` behind a `RateLimiter`.
#[derive(Debug)]
pub struct RateLimited<A, C = MonotonicClock> {
    inner: A,
    clock: C,
    limiter: Mutex<RateLimiter>,
}

impl<A: Alerter> RateLimited<A> {
    /// `inner` limited by `limit` on the real clock.
    pub fn new(inner: A, limit: RateLimit) -> Self {
        Self::with_clock(inner, limit, MonotonicClock)
    }
}

impl<A: Alerter, C: Clock> RateLimited<A, C> {
    /// `inner` limited by `limit` on `clock`.
    pub fn with_clock(inner: A, limit: RateLimit, clock: C) -> Self {
        Self {
            inner,
            clock,
            limiter: Mutex::new(RateLimiter::new(limit)),
        }
    }

    /// The wrapped alerter.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RateLimiter> {
        self.limiter.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<A: Alerter, C: Clock> Alerter for RateLimited<A, C> {
    fn emit(&self, alert: &Alert) {
        let out = self.lock().check(alert, self.clock.now());
        for a in &out {
            self.inner.emit(a);
        }
    }

    /// Sends the summaries of intervals that are over.
    fn flush(&self) {
        let due = self.lock().flush(self.clock.now());
        for a in &due {
            self.inner.emit(a);
        }
        self.inner.flush();
    }
}
