//! `Portal`: an iSCSI target portal, IP address and TCP port.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// The IANA port for iSCSI, used when a portal omits the port.
pub const ISCSI_DEFAULT_PORT: u16 = 3260;

/// An iSCSI portal. Parses `1.2.3.4`, `1.2.3.4:3260`, `[fd00::1]:3260`,
/// `[fd00::1]` and a bare `fd00::1`; the port defaults to 3260. Always prints
/// IPv6 in brackets, so the output parses back unambiguously.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Portal {
    /// Target address.
    pub ip: IpAddr,
    /// TCP port, never 0.
    pub port: u16,
}

/// Why a string is not a portal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortalError {
    /// The address part is not an IP address.
    #[error(
        "invalid iSCSI portal {0:?}: not an IP address (expected ip[:port], e.g. 192.0.2.10:3260 or [2001:db8::10]:3260; host names are not accepted)"
    )]
    Address(String),
    /// The port is not a number in 1..=65535.
    #[error(
        "invalid iSCSI portal {0:?}: port must be a number from 1 to 65535 (expected e.g. 192.0.2.10:3260)"
    )]
    Port(String),
}

impl Portal {
    /// Builds a portal from parts (e.g. sysfs `persistent_address` and
    /// `persistent_port`, where IPv6 has no brackets).
    pub fn from_parts(address: &str, port: &str) -> Result<Self, PortalError> {
        let joined = || format!("{address}:{port}");
        let ip = address
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .map_err(|_| PortalError::Address(joined()))?;
        let port = parse_port(port.trim()).ok_or_else(|| PortalError::Port(joined()))?;
        Ok(Self { ip, port })
    }
}

fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|p| *p != 0)
}

impl FromStr for Portal {
    type Err = PortalError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        let addr_err = || PortalError::Address(s.to_owned());
        let port_of = |p: Option<&str>| match p {
            None => Ok(ISCSI_DEFAULT_PORT),
            Some(p) => parse_port(p).ok_or_else(|| PortalError::Port(s.to_owned())),
        };
        if let Some(rest) = s.strip_prefix('[') {
            let (addr, after) = rest.split_once(']').ok_or_else(addr_err)?;
            let ip: Ipv6Addr = addr.parse().map_err(|_| addr_err())?;
            let port = match after {
                "" => port_of(None)?,
                _ => port_of(Some(after.strip_prefix(':').ok_or_else(addr_err)?))?,
            };
            return Ok(Self {
                ip: ip.into(),
                port,
            });
        }
        // A bare IPv6 address has several colons and no port.
        if let Ok(ip) = s.parse::<Ipv6Addr>() {
            return Ok(Self {
                ip: ip.into(),
                port: ISCSI_DEFAULT_PORT,
            });
        }
        let (addr, port) = match s.split_once(':') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let ip: std::net::Ipv4Addr = addr.parse().map_err(|_| addr_err())?;
        Ok(Self {
            ip: ip.into(),
            port: port_of(port)?,
        })
    }
}

impl fmt::Display for Portal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

serde_via_str!(Portal);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Portal {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_with_and_without_port() {
        assert_eq!(p("192.0.2.10:3261").to_string(), "192.0.2.10:3261");
        assert_eq!(p("192.0.2.10").port, 3260);
        assert_eq!(p("192.0.2.10").to_string(), "192.0.2.10:3260");
    }

    #[test]
    fn ipv6_always_printed_in_brackets() {
        assert_eq!(p("[2001:db8::10]:3262").to_string(), "[2001:db8::10]:3262");
        assert_eq!(p("[2001:db8::10]").to_string(), "[2001:db8::10]:3260");
        assert_eq!(p("2001:db8::10").to_string(), "[2001:db8::10]:3260");
        assert_eq!(p("::1").port, 3260);
    }

    #[test]
    fn from_sysfs_parts() {
        assert_eq!(
            Portal::from_parts("fd00::1\n", "3260\n")
                .unwrap()
                .to_string(),
            "[fd00::1]:3260"
        );
        assert_eq!(
            Portal::from_parts("10.0.0.1", "860").unwrap().to_string(),
            "10.0.0.1:860"
        );
        assert!(matches!(
            Portal::from_parts("10.0.0.1", "x"),
            Err(PortalError::Port(_))
        ));
    }

    #[test]
    fn rejects_bad_input_with_reason() {
        for bad in [
            "",
            "target.example.com:3260",
            "[2001:db8::10",
            "[10.0.0.1]:3260",
            "1.2.3:3260",
            "[::1]3260",
        ] {
            assert!(
                matches!(bad.parse::<Portal>(), Err(PortalError::Address(_))),
                "{bad}"
            );
        }
        for bad in [
            "10.0.0.1:0",
            "10.0.0.1:65536",
            "10.0.0.1:",
            "[::1]:x",
            "10.0.0.1:+1",
        ] {
            assert!(
                matches!(bad.parse::<Portal>(), Err(PortalError::Port(_))),
                "{bad}"
            );
        }
        let msg = "nope".parse::<Portal>().unwrap_err().to_string();
        assert!(msg.contains("[2001:db8::10]:3260"), "{msg}");
    }

    proptest! {
        #[test]
        fn display_parse_roundtrip(ip in any::<IpAddr>(), port in 1u16..) {
            let v = Portal { ip, port };
            prop_assert_eq!(v.to_string().parse::<Portal>().unwrap(), v);
        }
    }
}
