//! `Iqn`: an iSCSI name (RFC 3720 §3.2.6, RFC 3721), despite the type name
//! covering all three formats.

use std::fmt;
use std::str::FromStr;

/// RFC 3720: iSCSI names are at most 223 bytes.
const MAX_LEN: usize = 223;

/// An iSCSI node name in one of the three RFC 3720 formats:
/// `iqn.YYYY-MM.reverse.domain[:suffix]`, `eui.<16 hex>`, or
/// `naa.<16 or 32 hex>` (RFC 3980). Kept verbatim: iSCSI names are meant to
/// be lower-case, but what the target reports is what `iscsiadm` and sysfs
/// show, so the string is not rewritten; case is checked only for the
/// `iqn.`/`eui.`/`naa.` prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Iqn(String);

const EXAMPLE: &str = "expected e.g. iqn.2003-01.org.linux-iscsi.host:sn.1234, eui.02004567a425678d or naa.52004567ba64678d";

/// Why a string is not an iSCSI name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IqnError {
    /// Empty after trimming.
    #[error("invalid iSCSI name: empty ({EXAMPLE})")]
    Empty,
    /// More than 223 bytes.
    #[error("invalid iSCSI name {0:?}: longer than {MAX_LEN} bytes")]
    TooLong(String),
    /// Not `iqn.`, `eui.` or `naa.`.
    #[error("invalid iSCSI name {0:?}: must start with iqn., eui. or naa. ({EXAMPLE})")]
    Prefix(String),
    /// The `YYYY-MM` date after `iqn.` is malformed.
    #[error(
        "invalid iSCSI name {0:?}: iqn. must be followed by a YYYY-MM date with month 01-12, then '.' ({EXAMPLE})"
    )]
    Date(String),
    /// The reversed domain name is missing or has bad labels.
    #[error(
        "invalid iSCSI name {0:?}: the naming authority after the date must be a reversed domain name of letters, digits and '-' separated by '.' ({EXAMPLE})"
    )]
    Authority(String),
    /// Whitespace or a control character somewhere.
    #[error("invalid iSCSI name {0:?}: contains whitespace or a control character")]
    Char(String),
    /// `eui.`/`naa.` not followed by the right number of hex digits.
    #[error(
        "invalid iSCSI name {0:?}: eui. needs exactly 16 hex digits, naa. 16 or 32 ({EXAMPLE})"
    )]
    Hex(String),
}

impl Iqn {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_hex_len(s: &str, lens: &[usize]) -> bool {
    lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn valid_date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 7
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..].iter().all(u8::is_ascii_digit)
        && matches!(d.get(5..).map(str::parse::<u8>), Some(Ok(1..=12)))
}

fn valid_authority(a: &str) -> bool {
    !a.is_empty()
        && a.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl FromStr for Iqn {
    type Err = IqnError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        let own = || s.to_owned();
        if s.is_empty() {
            return Err(IqnError::Empty);
        }
        if s.len() > MAX_LEN {
            return Err(IqnError::TooLong(own()));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(IqnError::Char(own()));
        }
        let prefix = s.get(..4).unwrap_or_default().to_ascii_lowercase();
        let rest = s.get(4..).unwrap_or_default();
        match prefix.as_str() {
            "iqn." => {
                let (date, after) = rest
                    .split_at_checked(7)
                    .ok_or_else(|| IqnError::Date(own()))?;
                if !valid_date(date) {
                    return Err(IqnError::Date(own()));
                }
                let authority_and_suffix = after
                    .strip_prefix('.')
                    .ok_or_else(|| IqnError::Date(own()))?;
                // The suffix after ':' is free-form (LIO uses "sn.<hex>", arrays use
                // anything); only the authority has a grammar.
                let authority = authority_and_suffix.split(':').next().unwrap_or_default();
                if !valid_authority(authority) {
                    return Err(IqnError::Authority(own()));
                }
            }
            "eui." => {
                if !is_hex_len(rest, &[16]) {
                    return Err(IqnError::Hex(own()));
                }
            }
            "naa." => {
                if !is_hex_len(rest, &[16, 32]) {
                    return Err(IqnError::Hex(own()));
                }
            }
            _ => return Err(IqnError::Prefix(own())),
        }
        Ok(Self(own()))
    }
}

impl fmt::Display for Iqn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_via_str!(Iqn);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_formats() {
        for ok in [
            "iqn.2003-01.org.linux-iscsi.lunguard.x8664:sn.9a4b2c3d4e5f",
            "iqn.2001-04.com.example:storage:diskarrays-sn-a8675309",
            "iqn.2001-04.com.example",
            "iqn.1986-03.com.sun:02:4f2a",
            "eui.02004567A425678D",
            "naa.52004567BA64678D",
            "naa.6001405abcdef0123456789abcdef012",
        ] {
            assert_eq!(ok.parse::<Iqn>().unwrap().as_str(), ok, "{ok}");
        }
    }

    #[test]
    fn trims_sysfs_newline() {
        assert_eq!(
            "iqn.2001-04.com.example:t1\n"
                .parse::<Iqn>()
                .unwrap()
                .as_str(),
            "iqn.2001-04.com.example:t1"
        );
    }

    #[test]
    fn rejects_with_a_reason() {
        type Check = fn(&IqnError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, IqnError::Empty)),
            ("iqn.2001-13.com.example", |e| {
                matches!(e, IqnError::Date(_))
            }),
            ("iqn.01-04.com.example", |e| matches!(e, IqnError::Date(_))),
            ("iqn.2001-04com.example", |e| matches!(e, IqnError::Date(_))),
            ("iqn.2001-04.", |e| matches!(e, IqnError::Authority(_))),
            ("iqn.2001-04.com..example", |e| {
                matches!(e, IqnError::Authority(_))
            }),
            ("iqn.2001-04.com_example:x", |e| {
                matches!(e, IqnError::Authority(_))
            }),
            ("iqn.2001-04.com.example:a b", |e| {
                matches!(e, IqnError::Char(_))
            }),
            ("eui.0200", |e| matches!(e, IqnError::Hex(_))),
            ("naa.52004567BA64678DX", |e| matches!(e, IqnError::Hex(_))),
            ("target1", |e| matches!(e, IqnError::Prefix(_))),
        ];
        for (input, check) in cases {
            let err = input.parse::<Iqn>().unwrap_err();
            assert!(check(&err), "{input:?} gave {err:?}");
            assert!(!err.to_string().is_empty());
        }
        let long = format!("iqn.2001-04.com.example:{}", "x".repeat(220));
        assert!(matches!(long.parse::<Iqn>(), Err(IqnError::TooLong(_))));
    }

    #[test]
    fn error_shows_a_valid_example() {
        let msg = "bogus".parse::<Iqn>().unwrap_err().to_string();
        assert!(
            msg.contains("iqn.2003-01.org.linux-iscsi.host:sn.1234"),
            "{msg}"
        );
    }
}
