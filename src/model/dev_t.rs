//! `DevT`: a block device number as sysfs prints it (`8:16`).

use std::fmt;
use std::str::FromStr;

/// A device number, `major:minor`, as in `/sys/class/block/*/dev` and the
/// third field of `/proc/self/mountinfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DevT {
    /// Major number (8 for sd, 253/254 typically for device-mapper).
    pub major: u32,
    /// Minor number.
    pub minor: u32,
}

/// Why a string is not `major:minor`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid device number {input:?}: expected major:minor in decimal, e.g. 8:16")]
pub struct DevTError {
    /// The rejected input.
    pub input: String,
}

impl DevT {
    /// Builds a device number.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }
}

impl FromStr for DevT {
    type Err = DevTError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || DevTError {
            input: input.to_owned(),
        };
        let (ma, mi) = input.split_once(':').ok_or_else(err)?;
        let num = |s: &str| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<u32>().map_err(|_| err())
            } else {
                Err(err())
            }
        };
        Ok(Self::new(num(ma)?, num(mi)?))
    }
}

impl fmt::Display for DevT {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

serde_via_str!(DevT);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let d: DevT = "253:3".parse().unwrap();
        assert_eq!(d, DevT::new(253, 3));
        assert_eq!(d.to_string(), "253:3");
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "8", "8:", ":16", "8:16:1", "x:1", "8: 16"] {
            let err = bad.parse::<DevT>().unwrap_err();
            assert!(err.to_string().contains("e.g. 8:16"), "{bad}: {err}");
        }
    }
}
