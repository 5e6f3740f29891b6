//! First-seen bookkeeping of one plan: which in-scope keys are not in `Context::first_seen` yet
//! (`Plan::newly_seen`) and which recorded keys are no longer observed (`Plan::forgotten`).
//!
//! The keys a plan sees are collected as borrowed [`KeyRef`]s, sorted once and merged with the
//! (already sorted) recorded keys: no key is cloned unless it is reported, and no tree lookup is
//! made per key — on a host with tens of thousands of paths, cloning every key into a set and
//! looking each up was a fifth of planning. Both lists come out in `DeviceKey` order, as before.
//! Pure; no IO.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::model::{DmName, Hctl, Iqn, Portal, Wwid};

use super::classify::Lun;
use crate::model::DeviceKey;

/// A [`DeviceKey`] borrowed from the snapshot. Variants and fields are declared in the same
/// order as `DeviceKey`'s, so the derived orders agree (`keyref_order_is_devicekey_order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum KeyRef<'a> {
    /// `DeviceKey::Path`.
    Path { hctl: Hctl, wwid: Option<&'a Wwid> },
    /// `DeviceKey::Map`.
    Map { name: &'a DmName },
    /// `DeviceKey::Session`.
    Session {
        target: &'a Iqn,
        portal: Portal,
        iface: Option<&'a str>,
    },
}

impl<'a> KeyRef<'a> {
    /// The borrowed form of an owned key.
    pub(crate) fn of(k: &'a DeviceKey) -> Self {
        match k {
            DeviceKey::Path { hctl, wwid } => Self::Path {
                hctl: *hctl,
                wwid: wwid.as_ref(),
            },
            DeviceKey::Map { name } => Self::Map { name },
            DeviceKey::Session {
                target,
                portal,
                iface,
            } => Self::Session {
                target,
                portal: *portal,
                iface: iface.as_deref(),
            },
        }
    }

    /// The owned key.
    pub(crate) fn to_key(self) -> DeviceKey {
        match self {
            Self::Path { hctl, wwid } => DeviceKey::Path {
                hctl,
                wwid: wwid.cloned(),
            },
            Self::Map { name } => DeviceKey::Map { name: name.clone() },
            Self::Session {
                target,
                portal,
                iface,
            } => DeviceKey::Session {
                target: target.clone(),
                portal,
                iface: iface.map(str::to_owned),
            },
        }
    }
}

/// The keys of a LUN, as `Lun::keys` lists them: its paths, then its map if it has a name.
pub(crate) fn of_lun<'a>(lun: &Lun<'a>) -> impl Iterator<Item = KeyRef<'a>> {
    lun.paths
        .iter()
        .map(|p| KeyRef::Path {
            hctl: p.dev.hctl,
            wwid: p.dev.wwid.as_ref(),
        })
        .chain(
            lun.map
                .and_then(|m| m.name.as_ref())
                .map(|name| KeyRef::Map { name }),
        )
}

/// `(newly_seen, forgotten)`: the keys in `seen` not in `first_seen`, and the keys of
/// `first_seen` not in `seen`, each in key order without duplicates.
pub(crate) fn split(
    mut seen: Vec<KeyRef<'_>>,
    first_seen: &BTreeMap<DeviceKey, SystemTime>,
) -> (Vec<DeviceKey>, Vec<DeviceKey>) {
    seen.sort_unstable();
    seen.dedup();
    let (mut new, mut gone) = (Vec::new(), Vec::new());
    let mut known = first_seen.keys().peekable();
    let mut seen = seen.into_iter().peekable();
    loop {
        match (seen.peek(), known.peek()) {
            (Some(s), Some(k)) => match s.cmp(&KeyRef::of(k)) {
                Ordering::Less => new.extend(seen.next().map(KeyRef::to_key)),
                Ordering::Greater => gone.extend(known.next().cloned()),
                Ordering::Equal => {
                    seen.next();
                    known.next();
                }
            },
            (Some(_), None) => new.extend(seen.next().map(KeyRef::to_key)),
            (None, Some(_)) => gone.extend(known.next().cloned()),
            (None, None) => return (new, gone),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    fn key() -> impl Strategy<Value = DeviceKey> {
        let wwids = prop::sample::select(vec!["naa.6001405a", "naa.6001405b", "t10.x  y"]);
        let names = prop::sample::select(vec!["mpatha", "mpathb", "3600140"]);
        let targets = prop::sample::select(vec!["iqn.2026-11.t:a", "iqn.2026-11.t:b"]);
        let portals = prop::sample::select(vec!["192.0.2.1:3260", "192.0.2.2:3260"]);
        let ifaces = prop::option::of(prop::sample::select(vec!["default", "if2"]));
        prop_oneof![
            (0u32..3, 0u32..2, 0u64..3, prop::option::of(wwids)).prop_map(|(h, t, l, w)| {
                DeviceKey::Path {
                    hctl: Hctl {
                        host: h,
                        channel: 0,
                        target: t,
                        lun: l,
                    },
                    wwid: w.map(|w| w.parse().unwrap()),
                }
            }),
            names.prop_map(|n| DeviceKey::Map {
                name: n.parse().unwrap()
            }),
            (targets, portals, ifaces).prop_map(|(t, p, i)| DeviceKey::Session {
                target: t.parse().unwrap(),
                portal: p.parse().unwrap(),
                iface: i.map(str::to_owned),
            }),
        ]
    }

    proptest! {
        /// The merge is only right if borrowed keys sort exactly like owned ones.
        #[test]
        fn keyref_order_is_devicekey_order(a in key(), b in key()) {
            prop_assert_eq!(KeyRef::of(&a).cmp(&KeyRef::of(&b)), a.cmp(&b));
            prop_assert_eq!(KeyRef::of(&a).to_key(), a);
        }

        /// The merge answers what a set difference answers, in the same order.
        #[test]
        fn split_is_the_two_set_differences(
            seen in prop::collection::vec(key(), 0..24),
            known in prop::collection::vec(key(), 0..24),
        ) {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1);
            let first_seen: BTreeMap<DeviceKey, SystemTime> =
                known.iter().map(|k| (k.clone(), at)).collect();
            let set: BTreeSet<DeviceKey> = seen.iter().cloned().collect();
            let (new, gone) = split(seen.iter().map(KeyRef::of).collect(), &first_seen);
            let want_new: Vec<DeviceKey> =
                set.iter().filter(|k| !first_seen.contains_key(*k)).cloned().collect();
            let want_gone: Vec<DeviceKey> =
                first_seen.keys().filter(|k| !set.contains(*k)).cloned().collect();
            prop_assert_eq!(new, want_new);
            prop_assert_eq!(gone, want_gone);
        }
    }
}
