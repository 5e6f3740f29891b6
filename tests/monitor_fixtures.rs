//! The recorded uevent streams (`udevadm monitor --kernel --udev
//! --property` on a real kernel, tests/fixtures/*/uevents.txt) replayed
//! through `keys()` — and through the netlink wire encoders and parser, so
//! the monitor's decoding is checked on real events.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::collections::BTreeSet;
use std::path::Path;

use lunguard::model::Hctl;
use lunguard::model::Key;
use lunguard::observe::monitor::wire::{encode_kernel, encode_udev, parse_datagram};
use lunguard::observe::uevent::{Source, Uevent, keys, parse_udevadm_monitor};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn events(name: &str) -> Vec<Uevent> {
    let path = Path::new(FIXTURES).join(name).join("uevents.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    parse_udevadm_monitor(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn all_keys(evs: &[Uevent]) -> BTreeSet<Key> {
    evs.iter().flat_map(keys).collect()
}

fn device(s: &str) -> Key {
    Key::Device(s.parse::<Hctl>().unwrap())
}

fn map(s: &str) -> Key {
    Key::Map(s.parse().unwrap())
}

#[test]
fn every_recording_parses() {
    for entry in std::fs::read_dir(FIXTURES).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let evs = events(&name);
        assert!(!evs.is_empty(), "{name}");
        assert!(evs.iter().any(|e| e.source == Source::Kernel), "{name}");
        assert!(evs.iter().any(|e| e.source == Source::Udev), "{name}");
    }
}

#[test]
fn leftover_login_keys_both_paths_and_the_new_map() {
    let keys = all_keys(&events("iscsi-leftover"));
    assert!(keys.contains(&device("0:0:0:2")), "{keys:?}");
    assert!(keys.contains(&device("1:0:0:2")), "{keys:?}");
    assert!(
        keys.contains(&map("3600140500291fe600020000feed00000")),
        "{keys:?}"
    );
    // The kernel's dm add has no DM_NAME yet: keyed by kernel name.
    assert!(keys.contains(&Key::Block("dm-2".into())), "{keys:?}");
    // bdi, bsg: never keys.
    assert!(
        keys.iter()
            .all(|k| matches!(k, Key::Device(_) | Key::Map(_) | Key::Block(_))),
        "{keys:?}"
    );
}

#[test]
fn reported_luns_changed_gives_a_target_key_only_for_that_target() {
    let keys = all_keys(&events("iscsi-2portals"));
    let targets: BTreeSet<&Key> = keys
        .iter()
        .filter(|k| matches!(k, Key::TargetLuns { .. }))
        .collect();
    assert_eq!(
        targets.into_iter().collect::<Vec<_>>(),
        [&Key::TargetLuns {
            host: 0,
            channel: 0,
            target: 0
        }]
    );
    assert!(keys.contains(&Key::Session(1)) && keys.contains(&Key::Session(2)));
    assert!(keys.contains(&Key::Host(0)) && keys.contains(&Key::Host(1)));
}

#[test]
fn path_failures_key_the_map() {
    let evs = events("iscsi-mpath-all-failed");
    let failed: BTreeSet<Key> = evs
        .iter()
        .filter(|e| e.get("DM_ACTION") == Some("PATH_FAILED"))
        .flat_map(keys)
        .collect();
    assert_eq!(
        failed.into_iter().collect::<Vec<_>>(),
        [map("3600140500291fe600020000feed00000")]
    );
}

#[test]
fn friendly_names_are_the_map_keys() {
    let keys = all_keys(&events("scsi-debug-mpath-friendly"));
    for m in ["mpatha", "mpathb", "mpathc", "mpathd"] {
        assert!(keys.contains(&map(m)), "{m}: {keys:?}");
    }
}

/// Every recorded event survives the wire format it came in, and keys the
/// same after it.
#[test]
fn recordings_roundtrip_through_the_wire_formats() {
    for entry in std::fs::read_dir(FIXTURES).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        for ev in events(&name) {
            let props = ev.properties.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            let buf = match ev.source {
                Source::Kernel => encode_kernel(ev.action.as_str(), &ev.devpath, props),
                Source::Udev => encode_udev(props),
            };
            let back = parse_datagram(&buf).unwrap();
            assert_eq!(back, ev, "{name}");
            assert_eq!(keys(&back), keys(&ev));
        }
    }
}
