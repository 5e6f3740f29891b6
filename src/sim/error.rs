//! `SimError`: why a simulated kernel, initiator, target or multipathd
//! operation was refused. The messages read like the real tools' so a demo
//! or a test failure tells what the real system would have said.

use std::path::PathBuf;

use crate::model::{DmName, Hctl, Iqn, Portal};

/// Why a simulated operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Writing the simulated sysfs/procfs tree failed (the directory the
    /// host owns went away or is not writable).
    #[error("simulated host: cannot write {what} under {}: {source}", dir.display())]
    Tree {
        /// What was being written.
        what: String,
        /// The host's directory.
        dir: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The target is not known to the simulated array.
    #[error("simulated array has no target {0}")]
    NoTarget(Iqn),
    /// The target does not listen on this portal.
    #[error("target {target} is not reachable at {portal} (no such portal on the simulated array)")]
    NoPortal {
        /// Target.
        target: Iqn,
        /// Portal.
        portal: Portal,
    },
    /// A LUN number the target does not have.
    #[error("target {target} has no LUN {lun}")]
    NoLun {
        /// Target.
        target: Iqn,
        /// LUN.
        lun: u64,
    },
    /// `add_lun` for a LUN number already in use.
    #[error("target {target} already has LUN {lun}")]
    LunExists {
        /// Target.
        target: Iqn,
        /// LUN.
        lun: u64,
    },
    /// No SCSI host with this number.
    #[error("no SCSI host host{0}")]
    NoHost(u32),
    /// A scan string the kernel's `scan` attribute would reject (EINVAL).
    #[error("invalid scan {0:?} (expected \"C T L\", each a number or '-')")]
    BadScan(String),
    /// No SCSI device at this address.
    #[error("no SCSI device {0}")]
    NoDevice(Hctl),
    /// No multipath map by this name.
    #[error("no multipath map {0}")]
    NoMap(String),
    /// Device-mapper refused to remove an open map (multipath -f says so).
    #[error("{0}: map in use")]
    MapInUse(DmName),
    /// No block device (sdX, dm-N or map name) by this name.
    #[error("no block device {0}")]
    NoBlock(String),
    /// The path is not a SCSI disk with a WWID multipath could use.
    #[error("{0}: not a usable multipath path")]
    NotAPath(String),
    /// A node record cannot be deleted while a session uses it (iscsiadm's
    /// ISCSI_ERR_SESS_EXISTS).
    #[error("the node record of iface {0} is used by a session: log the session out first")]
    SessionUsesRecord(String),
}
