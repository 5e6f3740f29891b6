//! `Hctl`: the kernel's SCSI address host:channel:target:lun.

use std::fmt;
use std::str::FromStr;

/// A SCSI device address as the kernel names it in `/sys/class/scsi_device`,
/// e.g. `3:0:1:2`. Ordered by host, then channel, target and LUN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hctl {
    /// SCSI host number (the N of `hostN`).
    pub host: u32,
    /// Channel (bus) on that host; always 0 for iSCSI.
    pub channel: u32,
    /// Target id on that channel.
    pub target: u32,
    /// Logical unit number (64-bit in the kernel).
    pub lun: u64,
}

/// Why a string is not an `H:C:T:L` address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HctlError {
    /// The string does not have exactly four colon-separated parts.
    #[error(
        "invalid SCSI address {input:?}: expected 4 colon-separated numbers host:channel:target:lun, e.g. 3:0:1:2; found {parts} part(s)"
    )]
    Parts {
        /// The rejected input.
        input: String,
        /// How many parts were found.
        parts: usize,
    },
    /// One part is not a decimal number in range.
    #[error(
        "invalid SCSI address {input:?}: {field} {value:?} is not a decimal number in range (expected host:channel:target:lun, e.g. 3:0:1:2)"
    )]
    Field {
        /// The rejected input.
        input: String,
        /// Which field was wrong.
        field: &'static str,
        /// The offending text.
        value: String,
    },
}

impl Hctl {
    /// Builds an address from its four parts.
    pub const fn new(host: u32, channel: u32, target: u32, lun: u64) -> Self {
        Self {
            host,
            channel,
            target,
            lun,
        }
    }
}

impl FromStr for Hctl {
    type Err = HctlError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = input.split(':').collect();
        let [h, c, t, l] = parts.as_slice() else {
            return Err(HctlError::Parts {
                input: input.to_owned(),
                parts: parts.len(),
            });
        };
        let field = |name: &'static str, value: &str| HctlError::Field {
            input: input.to_owned(),
            field: name,
            value: value.to_owned(),
        };
        // `u32::from_str` accepts a leading '+'; the kernel never prints one.
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let num32 = |name, s: &str| {
            if digits(s) {
                s.parse::<u32>().map_err(|_| field(name, s))
            } else {
                Err(field(name, s))
            }
        };
        let lun = if digits(l) {
            l.parse::<u64>().map_err(|_| field("lun", l))?
        } else {
            return Err(field("lun", l));
        };
        Ok(Self {
            host: num32("host", h)?,
            channel: num32("channel", c)?,
            target: num32("target", t)?,
            lun,
        })
    }
}

impl fmt::Display for Hctl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.host, self.channel, self.target, self.lun
        )
    }
}

serde_via_str!(Hctl);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_kernel_address() {
        let h: Hctl = "3:0:1:2".parse().unwrap();
        assert_eq!(h, Hctl::new(3, 0, 1, 2));
        assert_eq!(h.to_string(), "3:0:1:2");
    }

    #[test]
    fn lun_is_64_bit() {
        let h: Hctl = "0:0:0:18446744073709551615".parse().unwrap();
        assert_eq!(h.lun, u64::MAX);
    }

    #[test]
    fn rejects_wrong_part_count() {
        let err = "3:0:1".parse::<Hctl>().unwrap_err();
        assert!(matches!(err, HctlError::Parts { parts: 3, .. }));
        assert!(err.to_string().contains("e.g. 3:0:1:2"), "{err}");
    }

    #[test]
    fn rejects_non_numeric_and_signed_fields() {
        for (input, field) in [
            ("a:0:1:2", "host"),
            ("3:-1:1:2", "channel"),
            ("3:0:+1:2", "target"),
            ("3:0:1:", "lun"),
            ("4294967296:0:0:0", "host"),
        ] {
            match input.parse::<Hctl>() {
                Err(HctlError::Field { field: f, .. }) => assert_eq!(f, field, "{input}"),
                other => panic!("{input}: expected field error, got {other:?}"),
            }
        }
    }

    #[test]
    fn orders_by_host_then_lun() {
        let mut v: Vec<Hctl> = ["3:0:0:10", "2:0:0:1", "3:0:0:2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        v.sort();
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["2:0:0:1", "3:0:0:2", "3:0:0:10"]);
    }

    #[test]
    fn json_is_the_display_string() {
        let h = Hctl::new(1, 2, 3, 4);
        assert_eq!(serde_json::to_string(&h).unwrap(), "\"1:2:3:4\"");
        assert_eq!(serde_json::from_str::<Hctl>("\"1:2:3:4\"").unwrap(), h);
    }

    proptest! {
        #[test]
        fn display_parse_roundtrip(h in any::<u32>(), c in any::<u32>(), t in any::<u32>(), l in any::<u64>()) {
            let v = Hctl::new(h, c, t, l);
            prop_assert_eq!(v.to_string().parse::<Hctl>().unwrap(), v);
        }
    }
}
