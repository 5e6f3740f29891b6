//! The keyed work queue between events and reconciles (kube-runtime style).
//!
//! - **Dedupe**: a key is queued at most once; the reasons it was queued for
//!   are merged and travel next to it (for the tracing span), never inside it.
//! - **Debounce**: an event makes its key ready after a quiet period
//!   (`debounce`, default 50 ms) with no further event; each event restarts
//!   the period, but never past `debounce_cap` (default 500 ms) after the
//!   first event, so a flapping device is still looked at.
//! - **Earliest wins** for timed requeues (`Outcome::RequeueAfter`): two
//!   requests keep the earlier time, and an event may make the key ready
//!   sooner.
//! - **Single flight**: a key handed out by [`WorkQueue::next`] is not handed
//!   out again until [`WorkQueue::done`]; events for it meanwhile are
//!   remembered and queue it again after `done`.
//! - **Backoff**: a failure delays the key's next attempt exponentially (with
//!   jitter); no event shortens that delay. Success resets it.
//! - **Degraded**: after `destructive_retry_limit` failures of destructive
//!   work the key is marked degraded, reported once ([`Done::Degraded`]) and
//!   no longer retried automatically. Events still hand it out, flagged
//!   [`Ready::degraded`], so the reconcile can see it healed but must not
//!   try destructive work again. A desired-state change or a full resync
//!   ([`Reason::Desired`], [`Reason::Resync`]), [`WorkQueue::clear_degraded`]
//!   or a converged reconcile clears it. Uevents do not: a failing flush or
//!   delete emits uevents itself, which would restart the very loop the cap
//!   exists to stop.
//!
//! No IO and no knowledge of what a key means; generic so tests use strings.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::backoff::{BackoffConfig, Jitter};

/// Queue parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    /// Quiet period after an event before its key is ready.
    pub debounce: Duration,
    /// Longest an event's key waits for quiet, from its first event.
    pub debounce_cap: Duration,
    /// Retry delays after failures.
    pub backoff: BackoffConfig,
    /// Failures of destructive work after which a key is degraded.
    pub destructive_retry_limit: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(50),
            debounce_cap: Duration::from_millis(500),
            backoff: BackoffConfig::default(),
            destructive_retry_limit: 3,
        }
    }
}

/// Why a key was queued; logged, never looked at by the reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// A uevent concerned it.
    Uevent,
    /// The desired state changed (a state-file reload). Resets backoff and
    /// clears degraded: new intent deserves a fresh start.
    Desired,
    /// A full resync (startup, periodic, after a uevent overflow). Resets
    /// backoff and clears degraded.
    Resync,
    /// The last reconcile asked to look again later (`RequeueAfter`).
    Requeue,
    /// The last reconcile failed; this is the backed-off retry.
    Retry,
}

impl Reason {
    fn is_fresh_start(self) -> bool {
        matches!(self, Self::Desired | Self::Resync)
    }
}

/// A key handed out by [`WorkQueue::next`]; give it back with
/// [`WorkQueue::done`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready<K> {
    /// The key to reconcile.
    pub key: K,
    /// Every reason it was queued for since it was last handed out.
    pub reasons: BTreeSet<Reason>,
    /// Consecutive failures so far (0 on a first attempt).
    pub failures: u32,
    /// Degraded: do not attempt destructive work; alert instead.
    pub degraded: bool,
}

impl<K: fmt::Display> Ready<K> {
    /// The span a reconcile of this key runs in: the trigger goes here and
    /// nowhere else.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "reconcile",
            key = %self.key,
            reasons = ?self.reasons,
            failures = self.failures,
            degraded = self.degraded,
        )
    }
}

/// What a reconcile of a key came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing left to do: resets backoff and clears degraded.
    Converged,
    /// Progress, but look again after this long (a grace period running, a
    /// device still settling). Resets backoff; degraded stays.
    RequeueAfter(Duration),
    /// It failed; `destructive` if the failed work was destructive (flush,
    /// delete, logout), which counts towards the degraded limit.
    Failed {
        /// Whether destructive work failed.
        destructive: bool,
    },
    /// The key is degraded and the reconcile withheld destructive work: no
    /// retry, nothing changes.
    Blocked,
}

/// What [`WorkQueue::done`] did, for the caller to log or alert on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Nothing more is scheduled (unless events came in meanwhile).
    Idle,
    /// Scheduled again after this long (a requeue or a backed-off retry).
    Again(Duration),
    /// The key just became degraded after this many destructive failures:
    /// alert now; this is reported once per degradation.
    Degraded {
        /// Consecutive destructive failures.
        destructive_failures: u32,
    },
    /// Failed again while already degraded; not retried.
    StillDegraded,
}

/// A queued key's timing and reasons.
#[derive(Debug, Clone)]
struct Entry {
    /// First event since the key was last handed out (debounce cap base).
    first_event: Option<Instant>,
    /// When the events' quiet period ends.
    event_due: Option<Instant>,
    /// Earliest requested requeue or retry time.
    requeue_at: Option<Instant>,
    reasons: BTreeSet<Reason>,
}

impl Entry {
    fn new() -> Self {
        Self {
            first_event: None,
            event_due: None,
            requeue_at: None,
            reasons: BTreeSet::new(),
        }
    }

    fn add_event(&mut self, reason: Reason, now: Instant, c: &QueueConfig) {
        let first = *self.first_event.get_or_insert(now);
        self.event_due = Some((now + c.debounce).min(first + c.debounce_cap));
        self.reasons.insert(reason);
    }

    fn add_requeue(&mut self, reason: Reason, at: Instant) {
        self.requeue_at = Some(self.requeue_at.map_or(at, |t| t.min(at)));
        self.reasons.insert(reason);
    }

    fn merge(&mut self, other: Entry) {
        self.first_event = opt_min(self.first_event, other.first_event);
        self.event_due = opt_min(self.event_due, other.event_due);
        self.requeue_at = opt_min(self.requeue_at, other.requeue_at);
        self.reasons.extend(other.reasons);
    }

    fn due(&self) -> Option<Instant> {
        opt_min(self.event_due, self.requeue_at)
    }
}

fn opt_min(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Per-key failure history; absent means "never failed since last success".
#[derive(Debug, Clone, Default)]
struct History {
    failures: u32,
    destructive_failures: u32,
    degraded: bool,
    backoff_until: Option<Instant>,
}

#[derive(Debug)]
struct Inner<K> {
    pending: BTreeMap<K, Entry>,
    /// Keys handed out; the value collects what arrived meanwhile.
    in_flight: BTreeMap<K, Option<Entry>>,
    history: BTreeMap<K, History>,
    shut_down: bool,
}

/// The keyed work queue. Share it behind an `Arc`: `enqueue` from the event
/// side, `next`/`done` from the workers.
#[derive(Debug)]
pub struct WorkQueue<K> {
    config: QueueConfig,
    jitter: Jitter,
    inner: Mutex<Inner<K>>,
    notify: Notify,
}

impl<K> WorkQueue<K>
where
    K: Clone + Ord + Hash + fmt::Display,
{
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        Self {
            config,
            jitter: Jitter::new(),
            inner: Mutex::new(Inner {
                pending: BTreeMap::new(),
                in_flight: BTreeMap::new(),
                history: BTreeMap::new(),
                shut_down: false,
            }),
            notify: Notify::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K>> {
        // A panic while holding the lock leaves plain data behind; the
        // maps are still consistent enough to keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `key` because of an event (`Uevent`, `Desired`, `Resync`):
    /// debounced, deduplicated. `Requeue`/`Retry` are the queue's own and
    /// are treated like an event here.
    pub fn enqueue(&self, key: K, reason: Reason) {
        let now = Instant::now();
        let mut inner = self.lock();
        if reason.is_fresh_start() {
            inner.history.remove(&key);
        }
        tracing::debug!(key = %key, ?reason, "queued");
        if let Some(slot) = inner.in_flight.get_mut(&key) {
            slot.get_or_insert_with(Entry::new)
                .add_event(reason, now, &self.config);
        } else {
            inner
                .pending
                .entry(key)
                .or_insert_with(Entry::new)
                .add_event(reason, now, &self.config);
        }
        drop(inner);
        self.notify.notify_waiters();
    }

    /// Queues every key in `keys` for `reason` (a resync).
    pub fn enqueue_all(&self, keys: impl IntoIterator<Item = K>, reason: Reason) {
        for k in keys {
            self.enqueue(k, reason);
        }
    }

    /// Waits for the next ready key and hands it out; `None` once
    /// [`shut_down`](Self::shut_down). Cancel-safe: a key is taken only in
    /// the same poll that returns it.
    pub async fn next(&self) -> Option<Ready<K>> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Register before looking, so a wake-up between the look and
            // the wait is not lost.
            notified.as_mut().enable();
            let wake = {
                let mut inner = self.lock();
                if inner.shut_down {
                    return None;
                }
                match Self::take_ready(&mut inner, Instant::now()) {
                    Ok(ready) => return Some(ready),
                    Err(wake) => wake,
                }
            };
            match wake {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Takes the ready key due earliest, or says when the next one will be.
    fn take_ready(inner: &mut Inner<K>, now: Instant) -> Result<Ready<K>, Option<Instant>> {
        let mut best: Option<(Instant, &K)> = None;
        for (k, e) in &inner.pending {
            let Some(due) = e.due() else { continue };
            let at = inner
                .history
                .get(k)
                .and_then(|h| h.backoff_until)
                .map_or(due, |b| due.max(b));
            if best.is_none_or(|(t, _)| at < t) {
                best = Some((at, k));
            }
        }
        let Some((at, key)) = best else {
            return Err(None);
        };
        if at > now {
            return Err(Some(at));
        }
        let key = key.clone();
        let entry = inner.pending.remove(&key).unwrap_or_else(Entry::new);
        inner.in_flight.insert(key.clone(), None);
        let h = inner.history.get(&key).cloned().unwrap_or_default();
        Ok(Ready {
            key,
            reasons: entry.reasons,
            failures: h.failures,
            degraded: h.degraded,
        })
    }

    /// Gives back a key handed out by `next` with its outcome; schedules a
    /// retry or requeue, and re-queues it if events arrived meanwhile.
    pub fn done(&self, key: &K, outcome: Outcome) -> Done {
        let now = Instant::now();
        let mut inner = self.lock();
        let arrived = match inner.in_flight.remove(key) {
            Some(a) => a,
            None => {
                tracing::warn!(key = %key, "done() for a key that was not handed out; ignored");
                return Done::Idle;
            }
        };
        let mut again = Entry::new();
        let result = match outcome {
            Outcome::Converged => {
                inner.history.remove(key);
                Done::Idle
            }
            Outcome::RequeueAfter(d) => {
                if let Some(h) = inner.history.get_mut(key) {
                    h.failures = 0;
                    h.destructive_failures = 0;
                    h.backoff_until = None;
                }
                again.add_requeue(Reason::Requeue, now + d);
                Done::Again(d)
            }
            Outcome::Blocked => Done::Idle,
            Outcome::Failed { destructive } => {
                let h = inner.history.entry(key.clone()).or_default();
                h.failures = h.failures.saturating_add(1);
                if destructive {
                    h.destructive_failures = h.destructive_failures.saturating_add(1);
                }
                let delay = self
                    .config
                    .backoff
                    .delay(h.failures, self.jitter.noise(key, h.failures));
                h.backoff_until = Some(now + delay);
                if h.degraded {
                    Done::StillDegraded
                } else if destructive
                    && h.destructive_failures >= self.config.destructive_retry_limit
                {
                    h.degraded = true;
                    tracing::warn!(
                        key = %key,
                        destructive_failures = h.destructive_failures,
                        "degraded: destructive retries exhausted; waiting for a state change or resync"
                    );
                    Done::Degraded {
                        destructive_failures: h.destructive_failures,
                    }
                } else {
                    again.add_requeue(Reason::Retry, now);
                    Done::Again(delay)
                }
            }
        };
        if let Some(a) = arrived {
            again.merge(a);
        }
        if again.due().is_some() {
            inner
                .pending
                .entry(key.clone())
                .and_modify(|e| e.merge(again.clone()))
                .or_insert(again);
        }
        drop(inner);
        self.notify.notify_waiters();
        result
    }

    /// Clears `key`'s degraded mark and backoff (an operator's request).
    pub fn clear_degraded(&self, key: &K) {
        self.lock().history.remove(key);
    }

    /// Keys currently degraded.
    pub fn degraded(&self) -> Vec<K> {
        self.lock()
            .history
            .iter()
            .filter(|(_, h)| h.degraded)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Keys waiting (ready or not), not counting those in flight.
    pub fn pending(&self) -> Vec<K> {
        self.lock().pending.keys().cloned().collect()
    }

    /// Keys handed out and not yet `done`.
    pub fn in_flight(&self) -> Vec<K> {
        self.lock().in_flight.keys().cloned().collect()
    }

    /// Makes every current and future `next` return `None`.
    pub fn shut_down(&self) {
        self.lock().shut_down = true;
        self.notify.notify_waiters();
    }
}
