//! Pure domain types: SCSI addresses, identities, iSCSI names and portals.
//!
//! This module does no IO and must never do any: every type here is parsed
//! from and printed to strings, so the observer, the (future) state files and
//! the tests can all build them by hand. Parse errors say what was wrong and
//! what a valid value looks like.

#[macro_use]
mod serde_str;

mod attachment;
mod dev_t;
mod device_key;
mod dm_name;
mod hctl;
mod iqn;
mod key;
mod portal;
mod scsi_state;
mod timestamp;
mod wwid;

pub use attachment::{Attachment, OnUnexpected, PolicyOverrides, Transport};
pub use dev_t::{DevT, DevTError};
pub use device_key::{DeviceKey, DeviceKeyError};
pub use dm_name::{DmName, DmNameError};
pub use hctl::{Hctl, HctlError};
pub use iqn::{Iqn, IqnError};
pub use key::Key;
pub use portal::{ISCSI_DEFAULT_PORT, Portal, PortalError};
pub use scsi_state::ScsiDeviceState;
pub use timestamp::{TimestampError, Utc, parse_rfc3339, rfc3339};
pub use wwid::{Wwid, WwidError, WwidKind};
