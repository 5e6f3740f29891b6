//! The controller: turns "something changed" into "look at this key again",
//! one key at a time, with backoff.
//!
//! Events (uevents through [`observe::uevent::keys`](crate::observe::uevent::keys),
//! state-file reloads, resyncs) only [`enqueue`](WorkQueue::enqueue) a
//! [`Key`]; the reconcile of a key re-reads the current snapshot and desired
//! state, so lost, duplicated and reordered events are harmless. The loop
//! that drives it (monitor → enumerate → ready → reconcile) is the daemon's.
//! No IO here.
//!
//! # Layout
//! - [`key`]: `Key`, the unit of reconciliation.
//! - [`queue`]: `WorkQueue`: dedupe, debounce, single flight, backoff,
//!   degraded marking.
//! - [`backoff`]: delays and jitter.

pub mod backoff;
pub mod key;
pub mod queue;

pub use backoff::{BackoffConfig, Jitter};
pub use key::Key;
pub use queue::{Done, Outcome, QueueConfig, Ready, Reason, WorkQueue};
