//! `Attachment`: one declared LUN, as the desired state holds it after validation.
//!
//! Pure data, no IO. State files (`desire::files`) parse into these; the planner
//! (`reconcile`) reads them. Identity of an attachment is its `name`; the device it
//! means is (transport address, LUN), confirmed by `wwid` when one is declared.

use serde::{Deserialize, Serialize};

use super::{Iqn, Portal, Wwid};

/// How the LUN is reached. Only iSCSI today; `fc` is reserved so state files and
/// the planner already have the shape for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// iSCSI over TCP (open-iscsi initiator).
    Iscsi,
}

/// What to do with an in-scope device nobody declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnUnexpected {
    /// Flush and remove it (after the grace period; never while in use).
    #[default]
    Remove,
    /// Alert only; never touch it.
    Alert,
}

/// Per-attachment overrides of the config's policy. `None` means "use the config's".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicyOverrides {
    /// What to do with unexpected LUNs on this attachment's target.
    pub on_unexpected: Option<OnUnexpected>,
    /// Accept data loss to leave no leftovers: remove even when a flush fails, and
    /// allow `fail_if_no_path` on a map that queues. Off unless set explicitly.
    pub force: Option<bool>,
}

/// One declared LUN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Unique name across all state files (e.g. the volume id).
    pub name: String,
    /// How the LUN is reached.
    pub transport: Transport,
    /// The target's iSCSI name.
    pub target: Iqn,
    /// One session per portal; more than one portal means more than one path.
    pub portals: Vec<Portal>,
    /// The LUN number on the target.
    pub lun: u64,
    /// The WWID the LUN must have (kernel `device/wwid` form, e.g. `naa.6001405…`).
    /// When present, a device at this address with another WWID is not ours.
    pub wwid: Option<Wwid>,
    /// Whether the LUN is used through a dm-multipath map.
    pub multipath: bool,
    /// Policy overrides for this attachment.
    pub policy: PolicyOverrides,
}
