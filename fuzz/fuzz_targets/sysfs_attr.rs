//! The sysfs and procfs attribute parsers. The first byte picks the parser, the rest is the
//! attribute's content: 0 `vpd_pg83` → WWID, 1 `wwid`, 2 H:C:T:L, 3 dev_t `M:m`, 4 mountinfo,
//! 5 swaps, 6 IQN, 7 portal, 8 dm name, 9 SCSI device state. Whatever parses must print back
//! to itself (the planner compares these values as strings).
#![no_main]

use std::fmt::Display;
use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use lunguard::model::{DevT, DmName, Hctl, Iqn, Portal, ScsiDeviceState, Wwid};
use lunguard::observe::{parse_mountinfo, parse_swaps};

fn round_trip<T>(s: &str)
where
    T: FromStr + Display + PartialEq + std::fmt::Debug,
{
    if let Ok(v) = s.parse::<T>() {
        let again = v.to_string().parse::<T>();
        assert!(
            again.as_ref().is_ok_and(|a| a == &v),
            "{s:?} → {v} → {:?}",
            again.ok()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which % 10 == 0 {
        if let Some(w) = Wwid::from_vpd_pg83(rest) {
            let _ = (w.kind(), w.multipath_id());
            round_trip::<Wwid>(w.as_str());
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 10 {
        1 => {
            round_trip::<Wwid>(text);
            if let Ok(w) = text.parse::<Wwid>() {
                let _ = (w.kind(), w.multipath_id());
            }
        }
        2 => round_trip::<Hctl>(text),
        3 => round_trip::<DevT>(text),
        4 => {
            let _ = parse_mountinfo(text);
        }
        5 => {
            let _ = parse_swaps(text);
        }
        6 => round_trip::<Iqn>(text),
        7 => round_trip::<Portal>(text),
        8 => round_trip::<DmName>(text),
        _ => round_trip::<ScsiDeviceState>(text),
    }
});
