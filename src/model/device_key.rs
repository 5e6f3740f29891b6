//! `DeviceKey`: what a first-seen time and a plan's bookkeeping are kept for — one device, map or
//! session, printed and parsed as one line so it is a key in JSON and in the store.

use std::fmt;
use std::str::FromStr;

use super::{DmName, Hctl, Iqn, Portal, Wwid};

/// What a first-seen time is kept for. Printed and parsed as one line
/// (`path 3:0:0:2 naa.6001…`, `map mpatha`, `session iqn… 192.0.2.1:3260`)
/// so it can be a key in JSON and in the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviceKey {
    /// A SCSI device; a new WWID at the same address is a new device.
    Path {
        /// Address.
        hctl: Hctl,
        /// WWID, if readable.
        wwid: Option<Wwid>,
    },
    /// A multipath map, by its real name.
    Map {
        /// `dm/name`.
        name: DmName,
    },
    /// An iSCSI session, by target, portal and iface (two ifaces' sessions
    /// to one portal are two sessions).
    Session {
        /// Target.
        target: Iqn,
        /// Portal.
        portal: Portal,
        /// open-iscsi iface; `None` when sysfs did not say, and for keys
        /// stored before ifaces were part of the key (`session IQN PORTAL`).
        iface: Option<String>,
    },
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path {
                hctl,
                wwid: Some(w),
            } => write!(f, "path {hctl} {w}"),
            Self::Path { hctl, wwid: None } => write!(f, "path {hctl} -"),
            Self::Map { name } => write!(f, "map {name}"),
            Self::Session {
                target,
                portal,
                iface: None,
            } => write!(f, "session {target} {portal}"),
            Self::Session {
                target,
                portal,
                iface: Some(i),
            } => write!(f, "session {target} {portal} {i}"),
        }
    }
}

/// Why a string is not a device key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid device key {0:?}: expected `path H:C:T:L WWID|-`, `map NAME` or `session IQN PORTAL`"
)]
pub struct DeviceKeyError(pub String);

impl FromStr for DeviceKey {
    type Err = DeviceKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DeviceKeyError(s.to_owned());
        let (kind, rest) = s.split_once(' ').ok_or_else(err)?;
        match kind {
            "path" => {
                let (hctl, wwid) = rest.split_once(' ').ok_or_else(err)?;
                let hctl = hctl.parse().map_err(|_| err())?;
                let wwid = match wwid {
                    "-" => None,
                    w => Some(w.parse().map_err(|_| err())?),
                };
                Ok(Self::Path { hctl, wwid })
            }
            "map" => Ok(Self::Map {
                name: rest.parse().map_err(|_| err())?,
            }),
            "session" => {
                let (t, p) = rest.split_once(' ').ok_or_else(err)?;
                let (p, iface) = match p.split_once(' ') {
                    Some((p, i)) if !i.is_empty() => (p, Some(i.to_owned())),
                    Some(_) => return Err(err()),
                    None => (p, None),
                };
                Ok(Self::Session {
                    target: t.parse().map_err(|_| err())?,
                    portal: p.parse().map_err(|_| err())?,
                    iface,
                })
            }
            _ => Err(err()),
        }
    }
}

impl serde::Serialize for DeviceKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DeviceKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_roundtrip_through_text() {
        for s in [
            "path 3:0:0:2 naa.6001405abc",
            "path 3:0:0:2 t10.Linux   scsi_debug  2000",
            "path 0:0:0:0 -",
            "map mpatha",
            "session iqn.2003-01.org.example:t1 [2001:db8::1]:3260",
            "session iqn.2003-01.org.example:t1 192.0.2.1:3260 if2",
        ] {
            let k: DeviceKey = s.parse().unwrap();
            assert_eq!(k.to_string(), s);
        }
        assert!("disk sda".parse::<DeviceKey>().is_err());
    }

    #[test]
    fn session_keys_stored_before_ifaces_still_parse_as_iface_unknown() {
        let old: DeviceKey = "session iqn.2003-01.org.example:t1 192.0.2.1:3260"
            .parse()
            .unwrap();
        assert!(matches!(old, DeviceKey::Session { iface: None, .. }));
        let new: DeviceKey = "session iqn.2003-01.org.example:t1 192.0.2.1:3260 default"
            .parse()
            .unwrap();
        assert!(matches!(&new, DeviceKey::Session { iface: Some(i), .. } if i == "default"));
        assert_ne!(old, new);
    }
}
