//! Observation of the kernel's state: owned snapshot types and the readers
//! that fill them from sysfs and procfs under injectable roots.
//!
//! Nothing outside this module reads `/sys` or `/proc`; nothing in it writes.

mod procfs;
mod snapshot;
pub mod sysfs;
pub(crate) mod tree;

pub use procfs::{parse_mountinfo, parse_swaps};
pub use snapshot::{
    BlockDevice, DmDevice, DmKind, HostTransport, IscsiConnection, IscsiSession, Mount, Partition,
    Problem, ScsiDevice, ScsiHost, Snapshot, Swap, WwidSource,
};
pub use sysfs::{Roots, snapshot};
