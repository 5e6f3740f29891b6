//! `ActError`: why an action failed. Each variant names the device and the
//! operation, so the message alone tells an operator what, where and what next.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::{DmName, Hctl, Iqn, Portal};

use crate::bounded::cmd::CmdError;

/// What every [`ActError::Changed`] message says: the plan was stale, nothing was written, and a
/// fresh plan (not a backoff) is the right answer.
pub const STALE_PLAN: &str = "the device changed since the plan was made";

/// What every timed-out step's message says (a command killed at its timeout, or a kernel call
/// left blocked on its worker thread): `daemon::retries` degrades such a destructive step at once
/// instead of trying it again and again.
pub const TIMED_OUT: &str = "did not finish within";

/// What every writeback-error message says. The kernel reports such an error once (errseq): the
/// next flush succeeds and the device would go with its lost data unnoticed. `daemon::retries`
/// therefore degrades the step at once, which keeps the device until an operator changes the
/// state files or reloads.
pub const WRITEBACK_LOST: &str = "buffered data did not reach the device";

/// Why an action did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// Writing a sysfs attribute failed.
    #[error("failed to {what} via {}: {source}", path.display())]
    Write {
        /// The operation, e.g. "delete SCSI device 3:0:1:2".
        what: String,
        /// The attribute.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The device at an address is no longer the one planned: nothing written.
    #[error(
        "refusing to {what}: {field} is now {found}, planned for {expected} (the device changed since the plan was made; nothing was written)"
    )]
    Changed {
        /// The operation.
        what: String,
        /// Which identity field differs ("WWID", "dev_t", "dm uuid", "host's target").
        field: &'static str,
        /// Planned value.
        expected: String,
        /// Current value.
        found: String,
    },
    /// A path is `blocked`: a delete would hang until the transport recovers.
    #[error(
        "refusing to delete SCSI device {0}: it is blocked (transport recovering); retry later"
    )]
    Blocked(Hctl),
    /// BLKFLSBUF failed.
    #[error("failed to flush buffers of {}: {source}{}", path.display(), crate::observe::exclusive::device_policy_hint(source))]
    FlushBuffers {
        /// The device node.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// Writeback of the device's buffered data failed (an `fsync` on a fresh descriptor reported
    /// an error nobody had seen yet: errseq semantics). BLKFLSBUF alone would have returned 0.
    #[error(
        "writeback to {} failed ({source}): {WRITEBACK_LOST}; keeping it (only force accepts the loss)",
        path.display()
    )]
    Writeback {
        /// The device node.
        path: PathBuf,
        /// The error `fsync` reported.
        source: std::io::Error,
    },
    /// A blocking kernel call ran past its deadline (its worker thread is left behind), or was
    /// not tried because an earlier one for the same device still is.
    #[error("{0}; the device is kept")]
    DeadlineExceeded(crate::bounded::deadline::Expired),
    /// The map stayed in use through every retry.
    #[error(
        "multipath map {map} still in use after {attempts} attempts over {}s; check its holders, mounts and open count (dmsetup info {map})",
        waited.as_secs()
    )]
    MapInUse {
        /// The map.
        map: DmName,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        waited: Duration,
    },
    /// Devices did not disappear in time.
    #[error("{what} still present after {}s (remove uevents not seen)", waited.as_secs())]
    NotGone {
        /// What is still there.
        what: String,
        /// Time waited.
        waited: Duration,
    },
    /// The action cannot be carried out as planned (nothing was run).
    #[error("cannot {what}: {why}")]
    Invalid {
        /// The operation.
        what: String,
        /// Why not.
        why: String,
    },
    /// An external command failed.
    #[error("failed to {what}: {source}")]
    Command {
        /// The operation, e.g. "log in to iqn… at 192.0.2.1:3260".
        what: String,
        /// The command's error (boxed: it carries captured output).
        source: Box<CmdError>,
    },
    /// An iSCSI operation failed.
    #[error("failed to {what} {target} at {portal}: {source}")]
    Iscsi {
        /// "log in to", "log out of", "delete the node record of".
        what: &'static str,
        /// Target.
        target: Iqn,
        /// Portal.
        portal: Portal,
        /// The command's error (boxed: it carries captured output).
        source: Box<CmdError>,
    },
    /// Reading sysfs to re-verify failed.
    #[error("failed to read {} to verify {what}: {source}", path.display())]
    Read {
        /// What was being verified.
        what: String,
        /// The file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The kernel would not let lunguard claim the disk, or could not be asked: it may be in use
    /// (mounted or held in some namespace). Nothing was written.
    #[error("refusing to {what}: {source}; nothing was written")]
    NotExclusive {
        /// The operation.
        what: String,
        /// What the exclusive open said.
        source: crate::observe::exclusive::ClaimError,
    },
    /// Injected by the recording actuator in tests.
    #[error("{0}")]
    Injected(String),
}

impl ActError {
    /// Whether the step ran out of time (a kernel call left blocked, or a killed command).
    pub fn is_timed_out(&self) -> bool {
        match self {
            Self::DeadlineExceeded(_) => true,
            Self::Command { source, .. } | Self::Iscsi { source, .. } => {
                matches!(**source, CmdError::TimedOut { .. })
            }
            _ => false,
        }
    }

    /// Whether this is device-mapper's "map in use" (retryable; not a reason
    /// to abandon a removal by itself).
    pub fn is_in_use(&self) -> bool {
        match self {
            Self::MapInUse { .. } => true,
            Self::Command { source, .. } => source.output_contains("in use"),
            Self::Injected(s) => s.contains("in use"),
            _ => false,
        }
    }
}

impl From<crate::bounded::deadline::Expired> for ActError {
    fn from(e: crate::bounded::deadline::Expired) -> Self {
        match e {
            crate::bounded::deadline::Expired::NoAnswer(s) => Self::Injected(s),
            deadline => Self::DeadlineExceeded(deadline),
        }
    }
}
