//! The work queue's contract on paused tokio time: dedupe, debounce and its
//! cap, single flight, backoff growth/reset/jitter, degraded marking.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::time::Duration;

use lunguard::controller::{BackoffConfig, Done, Outcome, QueueConfig, Reason, WorkQueue};
use tokio::time::{Instant, sleep, timeout};

fn config() -> QueueConfig {
    QueueConfig {
        debounce: Duration::from_millis(50),
        debounce_cap: Duration::from_millis(500),
        backoff: BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            multiplier: 2,
            jitter: 0.0,
        },
        destructive_retry_limit: 2,
    }
}

fn queue() -> WorkQueue<String> {
    WorkQueue::new(config())
}

const MS: fn(u64) -> Duration = Duration::from_millis;

async fn nothing_ready_within(q: &WorkQueue<String>, d: Duration) -> bool {
    timeout(d, q.next()).await.is_err()
}

#[tokio::test(start_paused = true)]
async fn duplicate_events_hand_out_a_key_once() {
    let q = queue();
    for _ in 0..3 {
        q.enqueue("a".into(), Reason::Uevent);
    }
    q.enqueue("a".into(), Reason::Desired);
    q.enqueue("b".into(), Reason::Uevent);
    let first = q.next().await.unwrap();
    assert_eq!(first.key, "a");
    assert_eq!(
        first.reasons.iter().copied().collect::<Vec<_>>(),
        [Reason::Uevent, Reason::Desired]
    );
    assert_eq!(q.next().await.unwrap().key, "b");
    assert!(q.pending().is_empty());
    assert!(nothing_ready_within(&q, Duration::from_secs(5)).await);
}

#[tokio::test(start_paused = true)]
async fn a_key_is_ready_after_the_quiet_period() {
    let q = queue();
    let t0 = Instant::now();
    q.enqueue("a".into(), Reason::Uevent);
    sleep(MS(40)).await;
    q.enqueue("a".into(), Reason::Uevent); // restarts the quiet period
    q.next().await.unwrap();
    assert_eq!(t0.elapsed(), MS(90));
}

#[tokio::test(start_paused = true)]
async fn flapping_device_is_handled_by_the_debounce_cap() {
    let q = std::sync::Arc::new(queue());
    let t0 = Instant::now();
    let flapper = {
        let q = q.clone();
        tokio::spawn(async move {
            for _ in 0..100 {
                q.enqueue("flappy".into(), Reason::Uevent);
                sleep(MS(30)).await;
            }
        })
    };
    let r = q.next().await.unwrap();
    assert_eq!(r.key, "flappy");
    assert_eq!(
        t0.elapsed(),
        MS(500),
        "the cap, not the end of the flapping"
    );
    flapper.abort();
}

#[tokio::test(start_paused = true)]
async fn a_key_in_flight_is_not_handed_out_again_until_done() {
    let q = queue();
    q.enqueue("a".into(), Reason::Uevent);
    let a = q.next().await.unwrap();
    q.enqueue("a".into(), Reason::Uevent); // arrives while a is processed
    q.enqueue("b".into(), Reason::Uevent);
    assert_eq!(q.next().await.unwrap().key, "b", "other keys still flow");
    assert!(nothing_ready_within(&q, Duration::from_secs(1)).await);
    assert_eq!(q.in_flight(), ["a", "b"]);
    assert_eq!(q.done(&a.key, Outcome::Converged), Done::Idle);
    let t = Instant::now();
    let again = q.next().await.unwrap();
    assert_eq!(again.key, "a");
    assert_eq!(
        t.elapsed(),
        Duration::ZERO,
        "its quiet period passed during the run"
    );
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_on_failure_and_resets_on_success() {
    let q = queue();
    q.enqueue("a".into(), Reason::Uevent);
    let mut r = q.next().await.unwrap();
    let mut delays = Vec::new();
    for _ in 0..4 {
        let done = q.done(&r.key, Outcome::Failed { destructive: false });
        let t = Instant::now();
        r = q.next().await.unwrap();
        assert!(r.reasons.contains(&Reason::Retry));
        delays.push(t.elapsed());
        assert_eq!(done, Done::Again(t.elapsed()));
    }
    assert_eq!(delays, [MS(100), MS(200), MS(400), MS(800)]);
    assert_eq!(r.failures, 4);
    assert_eq!(q.done(&r.key, Outcome::Converged), Done::Idle);
    // Reset: the next failure starts over at the initial delay.
    q.enqueue("a".into(), Reason::Uevent);
    let r = q.next().await.unwrap();
    assert_eq!(r.failures, 0);
    assert_eq!(
        q.done(&r.key, Outcome::Failed { destructive: false }),
        Done::Again(MS(100))
    );
}

#[tokio::test(start_paused = true)]
async fn events_do_not_cut_a_backoff_short() {
    let q = queue();
    q.enqueue("a".into(), Reason::Uevent);
    let r = q.next().await.unwrap();
    q.done(&r.key, Outcome::Failed { destructive: false });
    q.done(&r.key, Outcome::Converged); // not in flight: ignored
    let t = Instant::now();
    sleep(MS(10)).await;
    q.enqueue("a".into(), Reason::Uevent);
    q.next().await.unwrap();
    assert_eq!(t.elapsed(), MS(100));
}

#[tokio::test(start_paused = true)]
async fn jitter_spreads_retries_within_bounds() {
    let mut c = config();
    c.backoff.jitter = 0.5;
    let q = WorkQueue::new(c);
    let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
    q.enqueue_all(keys.clone(), Reason::Resync);
    let mut delays = std::collections::BTreeSet::new();
    for _ in &keys {
        let r = q.next().await.unwrap();
        match q.done(&r.key, Outcome::Failed { destructive: false }) {
            Done::Again(d) => {
                assert!(d >= MS(50) && d <= MS(100), "{d:?}");
                delays.insert(d);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        delays.len() > 10,
        "jitter should differ per key: {delays:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn destructive_retries_are_capped_then_the_key_is_degraded_once() {
    let q = queue();
    q.enqueue("lun".into(), Reason::Uevent);
    let r = q.next().await.unwrap();
    assert_eq!(
        q.done(&r.key, Outcome::Failed { destructive: true }),
        Done::Again(MS(100))
    );
    let r = q.next().await.unwrap();
    assert_eq!(
        q.done(&r.key, Outcome::Failed { destructive: true }),
        Done::Degraded {
            destructive_failures: 2
        }
    );
    assert_eq!(q.degraded(), ["lun"]);
    assert!(
        nothing_ready_within(&q, Duration::from_secs(3600)).await,
        "no automatic retry"
    );

    // A uevent still gets it looked at, flagged, and does not clear it.
    q.enqueue("lun".into(), Reason::Uevent);
    let r = q.next().await.unwrap();
    assert!(r.degraded);
    assert_eq!(q.done(&r.key, Outcome::Blocked), Done::Idle);
    q.enqueue("lun".into(), Reason::Uevent);
    let r = q.next().await.unwrap();
    assert_eq!(
        q.done(&r.key, Outcome::Failed { destructive: true }),
        Done::StillDegraded
    );
    assert_eq!(q.degraded(), ["lun"]);

    // A desired-state change (or resync) gives it a fresh start.
    q.enqueue("lun".into(), Reason::Desired);
    assert!(q.degraded().is_empty());
    let r = q.next().await.unwrap();
    assert!(!r.degraded);
    assert_eq!(r.failures, 0);
}

#[tokio::test(start_paused = true)]
async fn converging_clears_degraded() {
    let q = queue();
    for _ in 0..2 {
        q.enqueue("lun".into(), Reason::Uevent);
        let r = q.next().await.unwrap();
        q.done(&r.key, Outcome::Failed { destructive: true });
        sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(q.degraded(), ["lun"]);
    q.enqueue("lun".into(), Reason::Uevent);
    let r = q.next().await.unwrap();
    q.done(&r.key, Outcome::Converged);
    assert!(q.degraded().is_empty());
}

#[tokio::test(start_paused = true)]
async fn requeue_after_is_earliest_wins_with_events() {
    let q = queue();
    q.enqueue("a".into(), Reason::Uevent);
    let r = q.next().await.unwrap();
    assert_eq!(
        q.done(&r.key, Outcome::RequeueAfter(Duration::from_secs(30))),
        Done::Again(Duration::from_secs(30))
    );
    let t = Instant::now();
    let r = q.next().await.unwrap();
    assert_eq!(t.elapsed(), Duration::from_secs(30));
    assert!(r.reasons.contains(&Reason::Requeue));
    q.done(&r.key, Outcome::RequeueAfter(Duration::from_secs(30)));
    let t = Instant::now();
    q.enqueue("a".into(), Reason::Uevent);
    q.next().await.unwrap();
    assert_eq!(
        t.elapsed(),
        MS(50),
        "an event brings a timed requeue forward"
    );
}

#[tokio::test(start_paused = true)]
async fn shut_down_ends_next() {
    let q = std::sync::Arc::new(queue());
    let waiter = {
        let q = q.clone();
        tokio::spawn(async move { q.next().await })
    };
    sleep(MS(1)).await;
    q.shut_down();
    assert!(waiter.await.unwrap().is_none());
}
