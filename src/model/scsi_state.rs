//! `ScsiDeviceState`: the kernel's `device/state` attribute.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

/// State of a SCSI device (`/sys/class/scsi_device/H:C:T:L/device/state`),
/// names as in the kernel's `scsi_device_state` table. Unknown strings are
/// kept verbatim so a newer kernel never makes parsing fail.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScsiDeviceState {
    /// `created`: being set up, not yet usable.
    Created,
    /// `running`: usable.
    Running,
    /// `cancel`: removal has begun.
    Cancel,
    /// `deleted`: removed, only references remain.
    Deleted,
    /// `quiesce`: temporarily stopped (e.g. suspend).
    Quiesce,
    /// `offline`: error handling gave up on it.
    Offline,
    /// `transport-offline`: the transport (e.g. iSCSI session) failed.
    TransportOffline,
    /// `blocked`: I/O held while the transport recovers.
    Blocked,
    /// `created-block`: created while blocked.
    CreatedBlock,
    /// Anything else, verbatim.
    Other(String),
}

impl ScsiDeviceState {
    /// The kernel's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Cancel => "cancel",
            Self::Deleted => "deleted",
            Self::Quiesce => "quiesce",
            Self::Offline => "offline",
            Self::TransportOffline => "transport-offline",
            Self::Blocked => "blocked",
            Self::CreatedBlock => "created-block",
            Self::Other(s) => s,
        }
    }
}

impl FromStr for ScsiDeviceState {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "created" => Self::Created,
            "running" => Self::Running,
            "cancel" => Self::Cancel,
            "deleted" => Self::Deleted,
            "quiesce" => Self::Quiesce,
            "offline" => Self::Offline,
            "transport-offline" => Self::TransportOffline,
            "blocked" => Self::Blocked,
            "created-block" => Self::CreatedBlock,
            other => Self::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for ScsiDeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

serde_via_str!(ScsiDeviceState);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_states_roundtrip() {
        for s in [
            "created",
            "running",
            "cancel",
            "deleted",
            "quiesce",
            "offline",
            "transport-offline",
            "blocked",
            "created-block",
        ] {
            let st: ScsiDeviceState = s.parse().unwrap();
            assert!(!matches!(st, ScsiDeviceState::Other(_)), "{s}");
            assert_eq!(st.to_string(), s);
        }
    }

    #[test]
    fn unknown_state_is_kept_verbatim() {
        let st: ScsiDeviceState = "frobnicated\n".parse().unwrap();
        assert_eq!(st, ScsiDeviceState::Other("frobnicated".into()));
    }
}
