//! The two uevent wire formats on `NETLINK_KOBJECT_UEVENT`, as bytes →
//! [`Uevent`]:
//!
//! - kernel (group 1): `action@devpath\0KEY=VALUE\0KEY=VALUE\0…`;
//! - udevd (group 2): libudev's header — `"libudev\0"`, magic `0xfeedcafe`
//!   (big-endian), header size, properties offset and length (native
//!   endian), filter hashes — then `KEY=VALUE\0…` at the offset
//!   (systemd's `src/libsystemd/sd-device/device-monitor.c`).
//!
//! The encoders exist for tests and tools that feed a monitor; the daemon
//! never sends.

use std::collections::BTreeMap;

use crate::observe::uevent::{Source, Uevent, UeventError};

/// libudev's message prefix (with its NUL).
pub const UDEV_PREFIX: &[u8; 8] = b"libudev\0";
/// libudev's protocol magic, sent big-endian.
pub const UDEV_MAGIC: u32 = 0xfeed_cafe;
/// Size of libudev's `monitor_netlink_header`.
pub const UDEV_HEADER_LEN: usize = 40;

/// Why a datagram is not a uevent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A libudev message shorter than its header, or with a bad offset.
    #[error("malformed libudev message: {0}")]
    Udev(&'static str),
    /// A kernel message without the `action@/devpath` header.
    #[error("malformed kernel uevent: no `action@/devpath` header")]
    KernelHeader,
    /// The properties are not a uevent.
    #[error(transparent)]
    Event(#[from] UeventError),
}

/// Parses one datagram of either format.
pub fn parse_datagram(buf: &[u8]) -> Result<Uevent, WireError> {
    if buf.starts_with(UDEV_PREFIX) {
        let word = |at: usize| -> Result<[u8; 4], WireError> {
            buf.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .ok_or(WireError::Udev("shorter than its header"))
        };
        if u32::from_be_bytes(word(8)?) != UDEV_MAGIC {
            return Err(WireError::Udev("wrong magic (libudev version mismatch?)"));
        }
        let off = u32::from_ne_bytes(word(16)?) as usize;
        if off < UDEV_PREFIX.len() || off > buf.len() {
            return Err(WireError::Udev("properties offset outside the message"));
        }
        let props = parse_properties(&buf[off..]);
        return Ok(Uevent::from_properties(Source::Udev, props)?);
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let header = &buf[..end];
    if !header.windows(2).any(|w| w == b"@/") {
        return Err(WireError::KernelHeader);
    }
    let props = parse_properties(buf.get(end + 1..).unwrap_or_default());
    Ok(Uevent::from_properties(Source::Kernel, props)?)
}

/// `KEY=VALUE` strings separated by NUL; entries without `=` are skipped,
/// invalid UTF-8 replaced (names are ASCII in practice; a value is only
/// ever logged or compared).
fn parse_properties(buf: &[u8]) -> BTreeMap<String, String> {
    buf.split(|&b| b == 0)
        .filter_map(|entry| {
            let s = String::from_utf8_lossy(entry);
            let (k, v) = s.split_once('=')?;
            (!k.is_empty()).then(|| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

#[cfg(any(test, feature = "test-support"))]
fn push_properties<'a>(out: &mut Vec<u8>, props: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (k, v) in props {
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
}

#[cfg(any(test, feature = "test-support"))]
/// Encodes a kernel-format uevent: `ACTION@DEVPATH\0` then the properties
/// (which should include `ACTION`, `DEVPATH`, `SUBSYSTEM`, `SEQNUM`).
pub fn encode_kernel<'a>(
    action: &str,
    devpath: &str,
    props: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<u8> {
    let mut out = format!("{action}@{devpath}\0").into_bytes();
    push_properties(&mut out, props);
    out
}

#[cfg(any(test, feature = "test-support"))]
/// Encodes a libudev-format message carrying `props` (filter hashes zero:
/// only kernel-side BPF filters use them, and this monitor filters in user
/// space).
pub fn encode_udev<'a>(props: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut body = Vec::new();
    push_properties(&mut body, props);
    let mut out = Vec::with_capacity(UDEV_HEADER_LEN + body.len());
    out.extend_from_slice(UDEV_PREFIX);
    out.extend_from_slice(&UDEV_MAGIC.to_be_bytes());
    let header = UDEV_HEADER_LEN as u32;
    out.extend_from_slice(&header.to_ne_bytes());
    out.extend_from_slice(&header.to_ne_bytes()); // properties_off
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_ne_bytes());
    out.resize(UDEV_HEADER_LEN, 0);
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::uevent::Action;

    const PROPS: [(&str, &str); 4] = [
        ("ACTION", "change"),
        ("DEVPATH", "/devices/virtual/block/dm-2"),
        ("SUBSYSTEM", "block"),
        ("SEQNUM", "1056"),
    ];

    #[test]
    fn kernel_roundtrip() {
        let buf = encode_kernel("change", "/devices/virtual/block/dm-2", PROPS);
        let ev = parse_datagram(&buf).unwrap();
        assert_eq!(ev.source, Source::Kernel);
        assert_eq!(ev.action, Action::Change);
        assert_eq!(ev.seqnum, Some(1056));
    }

    #[test]
    fn udev_roundtrip() {
        let mut props = PROPS.to_vec();
        props.push(("DM_NAME", "mpatha"));
        let ev = parse_datagram(&encode_udev(props)).unwrap();
        assert_eq!(ev.source, Source::Udev);
        assert_eq!(ev.get("DM_NAME"), Some("mpatha"));
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            parse_datagram(b"libudev\0\x00\x00"),
            Err(WireError::Udev("shorter than its header"))
        );
        let mut bad_magic = encode_udev(PROPS);
        bad_magic[8] = 0;
        assert!(matches!(
            parse_datagram(&bad_magic),
            Err(WireError::Udev(_))
        ));
        let mut bad_off = encode_udev(PROPS);
        bad_off[16..20].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(matches!(parse_datagram(&bad_off), Err(WireError::Udev(_))));
        assert_eq!(
            parse_datagram(b"hello\0ACTION=add\0"),
            Err(WireError::KernelHeader)
        );
        assert!(matches!(
            parse_datagram(b"add@/devices/x\0ACTION=add\0"),
            Err(WireError::Event(UeventError::Missing("DEVPATH")))
        ));
        // Garbage entries between properties are skipped.
        let ev =
            parse_datagram(b"add@/d\0junk\0=x\0ACTION=add\0DEVPATH=/d\0SUBSYSTEM=s\0\xff\xfe=1\0")
                .unwrap();
        assert_eq!(ev.devpath, "/d");
    }
}
