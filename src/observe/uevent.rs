//! `Uevent`: one device event, owned and plain, copied out of the netlink
//! message (or a `udevadm monitor` recording) at once — so it is `Send`,
//! outlives the socket buffer, and tests build it by hand.
//!
//! Also [`keys`], the whole event → [`Key`](crate::model::Key) mapping,
//! and `parse_udevadm_monitor` (tests only) for replaying recorded streams. No IO here;
//! the socket is `observe::monitor`'s.

mod keys;
#[cfg(any(test, feature = "test-support"))]
mod udevadm;

use std::collections::BTreeMap;
use std::fmt;

pub use keys::{SDEV_UA_INQUIRY_CHANGED, SDEV_UA_LUNS_CHANGED, identity_keys, keys};
#[cfg(any(test, feature = "test-support"))]
pub use udevadm::{UdevadmParseError, parse_udevadm_monitor};

/// The kernel's uevent actions (`kobject_action` in lib/kobject_uevent.c).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `change`.
    Change,
    /// `move` (renamed; `DEVPATH_OLD` has the old path).
    Move,
    /// `online`.
    Online,
    /// `offline`.
    Offline,
    /// `bind` (a driver bound).
    Bind,
    /// `unbind`.
    Unbind,
    /// Anything a newer kernel may add; kept, never an error, so the monitor
    /// does not drop an event it could still key.
    Other(String),
}

impl Action {
    /// Parses the `ACTION` value.
    pub fn parse(s: &str) -> Self {
        match s {
            "add" => Self::Add,
            "remove" => Self::Remove,
            "change" => Self::Change,
            "move" => Self::Move,
            "online" => Self::Online,
            "offline" => Self::Offline,
            "bind" => Self::Bind,
            "unbind" => Self::Unbind,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The kernel's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Add => "add",
            Self::Remove => "remove",
            Self::Change => "change",
            Self::Move => "move",
            Self::Online => "online",
            Self::Offline => "offline",
            Self::Bind => "bind",
            Self::Unbind => "unbind",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who sent the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The kernel (netlink group 1): raw, before udev rules; no `ID_*`,
    /// no `DM_NAME` for most dm events.
    Kernel,
    /// udevd after rule processing (netlink group 2, libudev format).
    Udev,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Kernel => "kernel",
            Self::Udev => "udev",
        })
    }
}

/// One device event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uevent {
    /// `ACTION`.
    pub action: Action,
    /// `DEVPATH`, e.g. `/devices/platform/host0/session1/target0:0:0/0:0:0:2`.
    pub devpath: String,
    /// `SUBSYSTEM`, e.g. `scsi`, `block`.
    pub subsystem: String,
    /// `DEVTYPE`, e.g. `scsi_device`, `disk`, `partition`.
    pub devtype: Option<String>,
    /// `DEVNAME`, e.g. `/dev/sdc` (udev) or `sdc` (kernel).
    pub devname: Option<String>,
    /// `SEQNUM`: the kernel's event number (udev keeps the kernel's).
    pub seqnum: Option<u64>,
    /// Kernel or udev.
    pub source: Source,
    /// Every property, including the ones above.
    pub properties: BTreeMap<String, String>,
}

/// Why a set of properties is not a uevent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UeventError {
    /// A property every uevent carries is missing.
    #[error("uevent without {0} (every kernel uevent has ACTION, DEVPATH and SUBSYSTEM)")]
    Missing(&'static str),
}

impl Uevent {
    /// Builds an event from its properties; `ACTION`, `DEVPATH` and
    /// `SUBSYSTEM` are required, the rest optional (an unparsable `SEQNUM`
    /// counts as absent: it is only used for logging).
    pub fn from_properties(
        source: Source,
        properties: BTreeMap<String, String>,
    ) -> Result<Self, UeventError> {
        let get = |k: &'static str| properties.get(k).cloned().ok_or(UeventError::Missing(k));
        Ok(Self {
            action: Action::parse(&get("ACTION")?),
            devpath: get("DEVPATH")?,
            subsystem: get("SUBSYSTEM")?,
            devtype: properties.get("DEVTYPE").cloned(),
            devname: properties.get("DEVNAME").cloned(),
            seqnum: properties.get("SEQNUM").and_then(|s| s.parse().ok()),
            source,
            properties,
        })
    }

    /// A property's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// The last component of `DEVPATH` (the kernel's name: `sdc`,
    /// `0:0:0:2`, `session1`, `host0`).
    pub fn sysname(&self) -> &str {
        self.devpath.rsplit('/').next().unwrap_or_default()
    }
}

impl fmt::Display for Uevent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} ({})",
            self.source, self.action, self.devpath, self.subsystem
        )?;
        if let Some(n) = self.seqnum {
            write!(f, " seqnum {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn builds_from_properties() {
        let ev = Uevent::from_properties(
            Source::Kernel,
            props(&[
                ("ACTION", "add"),
                ("DEVPATH", "/devices/virtual/block/dm-2"),
                ("SUBSYSTEM", "block"),
                ("DEVTYPE", "disk"),
                ("DEVNAME", "dm-2"),
                ("SEQNUM", "1047"),
            ]),
        )
        .unwrap();
        assert_eq!(ev.action, Action::Add);
        assert_eq!(ev.sysname(), "dm-2");
        assert_eq!(ev.seqnum, Some(1047));
        assert_eq!(
            ev.to_string(),
            "kernel add /devices/virtual/block/dm-2 (block) seqnum 1047"
        );
    }

    #[test]
    fn unknown_action_is_kept_missing_devpath_is_an_error() {
        let ev = Uevent::from_properties(
            Source::Udev,
            props(&[("ACTION", "frob"), ("DEVPATH", "/d"), ("SUBSYSTEM", "x")]),
        )
        .unwrap();
        assert_eq!(ev.action, Action::Other("frob".into()));
        let err = Uevent::from_properties(
            Source::Udev,
            props(&[("ACTION", "add"), ("SUBSYSTEM", "x")]),
        )
        .unwrap_err();
        assert_eq!(err, UeventError::Missing("DEVPATH"));
    }
}
