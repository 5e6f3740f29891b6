//! The netlink uevent parser, both wire formats (kernel `action@devpath\0K=V\0…` and libudev's
//! `libudev\0` + 0xfeedcafe header), then the keys the daemon derives from an event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lunguard::observe::monitor::wire::parse_datagram;
use lunguard::observe::uevent::{identity_keys, keys};

fuzz_target!(|data: &[u8]| {
    if let Ok(ev) = parse_datagram(data) {
        let _ = ev.sysname();
        for k in keys(&ev).into_iter().chain(identity_keys(&ev)) {
            let _ = k.to_string();
        }
    }
});
