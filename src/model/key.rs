//! `Key`: what the controller reconciles — the name of one thing to look at
//! again, never what happened to it.
//!
//! A uevent, a state-file reload or a retry all become keys; the reconcile
//! of a key re-reads the snapshot and the desired state, so the event's
//! payload never drives a decision (level-triggered). Pure data, no IO.

use std::fmt;

use crate::model::{DmName, Hctl};

/// One unit of reconciliation.
///
/// Ordered so the queue can keep keys in a `BTreeMap` and hand out ties in a
/// stable order (which keeps tests deterministic).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A SCSI device (one path to a LUN), by address.
    Device(Hctl),
    /// The target `host:channel:target` reported `REPORTED LUNS DATA HAS
    /// CHANGED`: the LUN inventory behind it may differ. The reconcile scans
    /// only the *intended* LUNs of this target that are missing (`echo "C T
    /// L" > scan`), never a wildcard scan, so an unexported or detached LUN
    /// is never re-added.
    TargetLuns {
        /// SCSI host number.
        host: u32,
        /// Channel on that host.
        channel: u32,
        /// Target id on that channel.
        target: u32,
    },
    /// A block device by kernel name (`sdc`, `dm-2`) whose owner the event
    /// did not say: resolved against the snapshot by the reconcile (a dm
    /// device seen by the kernel source before udev named it, a kpartx
    /// partition, an LV stacked on a map).
    Block(String),
    /// A multipath map, by its real device-mapper name.
    Map(DmName),
    /// An iSCSI session, by id (N of `sessionN`).
    Session(u32),
    /// A SCSI host (N of `hostN`).
    Host(u32),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Device(h) => write!(f, "device {h}"),
            Self::TargetLuns {
                host,
                channel,
                target,
            } => write!(f, "target-luns {host}:{channel}:{target}"),
            Self::Block(name) => write!(f, "block {name}"),
            Self::Map(name) => write!(f, "map {name}"),
            Self::Session(id) => write!(f, "session {id}"),
            Self::Host(n) => write!(f, "host {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_kind_and_identity() {
        let keys = [
            Key::Device(Hctl::new(3, 0, 1, 2)),
            Key::TargetLuns {
                host: 3,
                channel: 0,
                target: 1,
            },
            Key::Block("dm-2".into()),
            Key::Map("mpatha".parse().unwrap()),
            Key::Session(7),
            Key::Host(0),
        ];
        let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "device 3:0:1:2",
                "target-luns 3:0:1",
                "block dm-2",
                "map mpatha",
                "session 7",
                "host 0"
            ]
        );
    }
}
