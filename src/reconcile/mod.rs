//! The planner: from desired state (`Attachment`s), an observed `Snapshot`,
//! a `Policy` and a `Context` to a `Plan` of `Action`s and `Finding`s.
//!
//! Pure: nothing in this module reads or writes files, runs programs or
//! reads the clock. Everything it knows comes in as arguments, so the whole
//! decision logic is tested with hand-built snapshots and recorded fixtures.
//! The rules are in docs/planner.md.

mod attach;
mod classify;
mod context;
mod index;
mod nodes;
mod plan;
mod policy;
mod quarantine;
mod remove;
mod seen;
mod sessions;
mod wwids;

pub use context::Context;
pub use plan::plan;
pub use policy::{Policy, Scope, glob};
pub use quarantine::{QuarantineList, quarantine_list};
