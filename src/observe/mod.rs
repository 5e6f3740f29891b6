//! Observation of the kernel's state: owned snapshot types and the readers
//! that fill them from sysfs and procfs under injectable roots; the uevent
//! monitor ([`monitor`]) and the owned event type ([`uevent`]).
//!
//! Nothing outside this module reads `/sys` or `/proc` or opens the uevent
//! socket; nothing in it writes.

pub mod dm_ioctl;
pub mod exclusive;
pub mod monitor;
mod procfs;
mod snapshot;
pub mod sysfs;
pub(crate) mod tree;
pub mod uevent;

pub use procfs::{parse_mountinfo, parse_swaps};
pub use snapshot::{
    BlockDevice, DmDevice, DmKind, HostTransport, IscsiConnection, IscsiSession, Mount, Partition,
    Problem, ScsiDevice, ScsiHost, Snapshot, Swap, WwidSource,
};
pub use sysfs::{Roots, snapshot};
