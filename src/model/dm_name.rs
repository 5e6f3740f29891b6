//! `DmName`: a device-mapper map name, as in `/sys/block/dm-N/dm/name`.

use std::fmt;
use std::str::FromStr;

/// Longest map name device-mapper accepts (`DM_NAME_LEN` is 128 with NUL).
const DM_NAME_MAX: usize = 127;

/// The real name of a device-mapper map (e.g. `mpatha` or
/// `36001405abc...`). Multipath flushes must use this, never a WWID guessed
/// from configuration: with `user_friendly_names` they differ.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DmName(String);

/// Why a string cannot be a device-mapper name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DmNameError {
    /// Empty (after trimming the trailing newline sysfs adds).
    #[error("invalid device-mapper name: empty (expected e.g. mpatha or 36001405abcdef)")]
    Empty,
    /// Longer than device-mapper allows.
    #[error("invalid device-mapper name {0:?}: longer than {DM_NAME_MAX} bytes")]
    TooLong(String),
    /// Contains `/`, a control character or whitespace, or is `.`/`..`.
    #[error(
        "invalid device-mapper name {0:?}: must not contain '/', whitespace or control characters, nor be '.' or '..' (expected e.g. mpatha)"
    )]
    BadChar(String),
}

impl DmName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DmName {
    type Err = DmNameError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim_end_matches('\n');
        if s.is_empty() {
            return Err(DmNameError::Empty);
        }
        if s.len() > DM_NAME_MAX {
            return Err(DmNameError::TooLong(s.to_owned()));
        }
        if s == "."
            || s == ".."
            || s.chars()
                .any(|c| c == '/' || c.is_whitespace() || c.is_control())
        {
            return Err(DmNameError::BadChar(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for DmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_via_str!(DmName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_friendly_and_wwid_names() {
        for ok in [
            "mpatha",
            "36001405abcdef0123",
            "vg0-lv_data",
            "mpatha-part1",
        ] {
            assert_eq!(ok.parse::<DmName>().unwrap().as_str(), ok);
        }
        assert_eq!("mpathb\n".parse::<DmName>().unwrap().as_str(), "mpathb");
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!("".parse::<DmName>(), Err(DmNameError::Empty));
        assert!(matches!(
            "a/b".parse::<DmName>(),
            Err(DmNameError::BadChar(_))
        ));
        assert!(matches!(
            "..".parse::<DmName>(),
            Err(DmNameError::BadChar(_))
        ));
        assert!(matches!(
            "a b".parse::<DmName>(),
            Err(DmNameError::BadChar(_))
        ));
        assert!(matches!(
            "x".repeat(128).parse::<DmName>(),
            Err(DmNameError::TooLong(_))
        ));
    }
}
