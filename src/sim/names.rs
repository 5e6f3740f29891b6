//! The kernel's and multipath's naming rules the simulator reproduces:
//! `sdX` names and their device numbers (drivers/scsi/sd.c), lowest-free
//! index reuse (the kernel's `ida`), `mpathX` friendly names
//! (multipath-tools' bindings), and LIO-style WWIDs. Pure functions.

use std::collections::BTreeSet;

use crate::model::{DevT, Wwid};

/// `a`…`z`, `aa`…: the suffix `sd_format_disk_name()` and multipath's
/// `format_devname()` both derive from a 0-based index.
pub fn alpha_suffix(index: u32) -> String {
    let mut out = Vec::new();
    let mut i = i64::from(index);
    loop {
        out.push(b'a' + u8::try_from(i % 26).unwrap_or(0));
        i = i / 26 - 1;
        if i < 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// `sdX` for disk index `index`.
pub fn sd_name(index: u32) -> String {
    format!("sd{}", alpha_suffix(index))
}

/// The device number of sd disk `index`: majors 8, 65–71, 128–135 for the
/// first 256 disks, 16 minors each; beyond that the extended major 259.
pub fn sd_dev(index: u32) -> DevT {
    if index >= 256 {
        return DevT::new(259, index);
    }
    let group = (index & 0xf0) >> 4;
    let major = match group {
        0 => 8,
        1..=7 => 64 + group,
        _ => 128 + group - 8,
    };
    DevT::new(major, (index & 0xf) << 4)
}

/// The major number the simulated device-mapper uses (dynamic on a real
/// system; 254 on the recorded Debian guests).
pub const DM_MAJOR: u32 = 254;

/// The lowest number not in `used` (the kernel's `ida_alloc`).
pub fn lowest_free(used: impl IntoIterator<Item = u32>) -> u32 {
    let used: BTreeSet<u32> = used.into_iter().collect();
    (0..).find(|n| !used.contains(n)).unwrap_or(u32::MAX)
}

/// A LIO-style WWID: NAA type 6 with LIO's OUI `001405`, then a serial —
/// `naa.6001405…` as targetcli creates them, distinct per `serial`.
pub fn lio_wwid(serial: u64) -> Wwid {
    format!("naa.6001405{:09x}{serial:016x}", 0x51e0_da7a_u64)
        .parse()
        // Only empty or control-character strings fail to parse.
        .expect("hex digits after naa. are a valid WWID")
}

/// `mpath` + suffix for binding index `index`.
pub fn mpath_name(index: u32) -> String {
    format!("mpath{}", alpha_suffix(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd_names_follow_sd_format_disk_name() {
        assert_eq!(sd_name(0), "sda");
        assert_eq!(sd_name(25), "sdz");
        assert_eq!(sd_name(26), "sdaa");
        assert_eq!(sd_name(701), "sdzz");
        assert_eq!(sd_name(702), "sdaaa");
    }

    #[test]
    fn sd_device_numbers_match_the_kernels() {
        assert_eq!(sd_dev(0), DevT::new(8, 0));
        assert_eq!(sd_dev(2), DevT::new(8, 32));
        assert_eq!(sd_dev(16), DevT::new(65, 0));
        assert_eq!(sd_dev(128), DevT::new(128, 0));
    }

    #[test]
    fn lio_wwids_are_naa_and_distinct() {
        let a = lio_wwid(1);
        assert!(a.as_str().starts_with("naa.6001405"), "{a}");
        assert_eq!(a.as_str().len(), 4 + 32);
        assert_ne!(a, lio_wwid(2));
        assert_eq!(lowest_free([0, 1, 3]), 2);
        assert_eq!(mpath_name(0), "mpatha");
    }
}
