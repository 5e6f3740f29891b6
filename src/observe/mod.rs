//! Observation of the kernel's state: owned snapshot types and the readers
//! that fill them from sysfs and procfs (and open-iscsi's node records) under injectable roots; the uevent
//! monitor ([`monitor`]) and the owned event type ([`uevent`]).
//!
//! Nothing outside this module reads `/sys` or `/proc` or opens the uevent
//! socket; nothing in it writes.

pub mod dm_ioctl;
pub mod exclusive;
pub mod inspect;
pub mod monitor;
mod nodes;
mod procfs;
pub mod sysfs;
pub(crate) mod tree;
pub mod uevent;
pub mod wwids;

pub use inspect::{
    DmMultipath, Inspector, OpenFiles, parse_dm_queueing, parse_dm_status, parse_open_counts,
    parse_path_states, scan_open_blocks,
};
pub use nodes::NODES_DIR;
pub use procfs::{parse_mountinfo, parse_swaps};
pub use sysfs::{Roots, Touched, node_records, refresh, sessions, snapshot};
