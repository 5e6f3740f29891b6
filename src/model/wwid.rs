//! `Wwid`: a logical unit's world-wide identifier, as the kernel reports it.
//!
//! Two conventions meet here, and both were followed from their sources:
//!
//! * **Kernel form** (`/sys/class/scsi_device/*/device/wwid`, written by
//!   `scsi_vpd_lun_id()` in `drivers/scsi/scsi_lib.c`): `naa.<hex>`,
//!   `eui.<hex>`, `t10.<vendor-id text>`, or a SCSI name string verbatim
//!   (`iqn.…`, `naa.…`, `eui.…`). [`Wwid::from_vpd_pg83`] reproduces that
//!   function, including its designator preference, so a WWID derived from
//!   `vpd_pg83` on a kernel without the `wwid` attribute equals what the
//!   attribute would have said.
//! * **Multipath form** (the `mpath-<id>` in a map's dm uuid and the default
//!   map name): designator type digit + value, as in multipath-tools'
//!   `parse_vpd_pg83()` (`libmultipath/discovery.c`) and the `ID_SERIAL` of
//!   sg3_utils' `55-scsi-sg3_id.rules`: NAA → `3<hex>`, EUI-64 → `2<hex>`
//!   (hex lower-cased), T10 vendor id → `1<text>` with each run of spaces
//!   collapsed to one `_` and no trailing `_`, other SCSI name strings →
//!   `8<text>`. See [`Wwid::multipath_id`].

use std::fmt;
use std::str::FromStr;

/// A WWID in the kernel's form, trimmed of surrounding whitespace and of the
/// NUL padding a SCSI name string designator can carry; otherwise verbatim
/// (the inner spaces of a `t10.` id are significant).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Wwid(String);

/// Which designator a WWID came from, read off its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WwidKind {
    /// `naa.` — Network Address Authority (designator type 3, or a SCSI name string).
    Naa,
    /// `eui.` — EUI-64 based (type 2, or a SCSI name string).
    Eui,
    /// `t10.` — T10 vendor id (type 1): vendor, product, serial as text.
    T10,
    /// `iqn.` — an iSCSI name used as SCSI name string (type 8).
    ScsiName,
    /// Any other prefix.
    Unknown,
}

/// Why a string is not a WWID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WwidError {
    /// Nothing left after trimming.
    #[error(
        "invalid WWID: empty (expected the kernel's device/wwid form, e.g. naa.6001405abcdef0123456789abcdef012 or t10.Linux   scsi_debug  2000)"
    )]
    Empty,
    /// Contains a newline or other control character inside.
    #[error(
        "invalid WWID {0:?}: contains a control character (expected e.g. naa.6001405abcdef0123456789abcdef012)"
    )]
    Control(String),
}

impl Wwid {
    /// The kernel's form, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The designator kind, from the prefix.
    pub fn kind(&self) -> WwidKind {
        let p = |pre: &str| {
            self.0
                .get(..pre.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(pre))
        };
        if p("naa.") {
            WwidKind::Naa
        } else if p("eui.") {
            WwidKind::Eui
        } else if p("t10.") {
            WwidKind::T10
        } else if p("iqn.") {
            WwidKind::ScsiName
        } else {
            WwidKind::Unknown
        }
    }

    /// The id multipath-tools would use for this LUN (the part after `mpath-`
    /// in a multipath map's dm uuid), e.g. `naa.6001405abc…` → `36001405abc…`.
    /// `None` for a prefix this crate does not know how to translate.
    pub fn multipath_id(&self) -> Option<String> {
        let rest = self.0.get(4..).unwrap_or_default();
        match self.kind() {
            WwidKind::Naa => Some(format!("3{}", rest.to_ascii_lowercase())),
            WwidKind::Eui => Some(format!("2{}", rest.to_ascii_lowercase())),
            WwidKind::T10 => {
                let mut out = String::from("1");
                out.push_str(&rest.split_whitespace().collect::<Vec<_>>().join("_"));
                Some(out)
            }
            WwidKind::ScsiName => Some(format!("8{}", self.0)),
            WwidKind::Unknown => None,
        }
    }

    /// Derives the kernel-form WWID from the raw bytes of VPD page 0x83
    /// (`device/vpd_pg83`), as `scsi_vpd_lun_id()` does: only designators
    /// associated with the logical unit; preference, best first: SCSI name
    /// string, NAA registered extended, EUI-64 16-byte, EUI-64 12-byte, NAA
    /// registered, NAA extended, EUI-64 8-byte, then T10 vendor id and NAA
    /// locally assigned (equal; the later, not shorter one wins).
    /// `None` when the page is malformed or has no usable designator.
    pub fn from_vpd_pg83(page: &[u8]) -> Option<Wwid> {
        if page.len() < 4 || page[1] != 0x83 {
            return None;
        }
        let page_len = usize::from(u16::from_be_bytes([page[2], page[3]])) + 4;
        let end = page_len.min(page.len());
        let mut best: Option<(u8, usize, String)> = None;
        let mut off = 4;
        while off + 4 <= end {
            let d = &page[off..];
            let len = usize::from(d[3]);
            let Some(body) = d.get(4..4 + len) else {
                break; // designator runs past the page: stop, keep what we have
            };
            off += 4 + len;
            let Some((prio, id)) = designator(d[1], body) else {
                continue;
            };
            let better = match &best {
                None => true,
                Some((bp, blen, _)) => prio > *bp || (prio == *bp && len >= *blen),
            };
            if better {
                best = Some((prio, len, id));
            }
        }
        best.and_then(|(_, _, id)| id.parse().ok())
    }
}

/// Priority (as the kernel's `designator_prio()`) and kernel-form text of one
/// designator, or `None` if it is not usable for the LU's identity.
fn designator(type_byte: u8, body: &[u8]) -> Option<(u8, String)> {
    if type_byte & 0x30 != 0 || body.is_empty() {
        return None; // associated with a port or target, not the LU
    }
    match type_byte & 0x0f {
        0x8 => Some((9, String::from_utf8_lossy(body).into_owned())),
        0x3 => {
            let prio = match body[0] >> 4 {
                6 => 8,
                5 => 5,
                2 => 4,
                3 => 1,
                _ => return None,
            };
            matches!(body.len(), 8 | 16).then(|| (prio, format!("naa.{}", hex(body))))
        }
        0x2 => {
            let prio = match body.len() {
                16 => 7,
                12 => 6,
                8 => 3,
                _ => return None,
            };
            Some((prio, format!("eui.{}", hex(body))))
        }
        0x1 => Some((1, format!("t10.{}", kernel_escape(body)))),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Approximates the kernel's `%pE` (escape non-printable bytes).
fn kernel_escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            0x20..=0x7e => out.push(char::from(b)),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            0x0b => out.push_str("\\v"),
            0x0c => out.push_str("\\f"),
            0x07 => out.push_str("\\a"),
            0x1b => out.push_str("\\e"),
            0 => out.push_str("\\0"),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

impl FromStr for Wwid {
    type Err = WwidError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if s.is_empty() {
            return Err(WwidError::Empty);
        }
        if s.chars().any(char::is_control) {
            return Err(WwidError::Control(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for Wwid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_via_str!(Wwid);

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Wwid {
        s.parse().unwrap()
    }

    /// Builds a VPD 0x83 page from (type byte, body) designators.
    fn page(desigs: &[(u8, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (t, b) in desigs {
            body.extend_from_slice(&[0x01, *t, 0x00, u8::try_from(b.len()).unwrap()]);
            body.extend_from_slice(b);
        }
        let mut p = vec![0x00, 0x83];
        p.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        p.extend_from_slice(&body);
        p
    }

    #[test]
    fn trims_newline_and_nul_padding_but_keeps_inner_spaces() {
        assert_eq!(w("naa.6001405abc\n").as_str(), "naa.6001405abc");
        assert_eq!(w("iqn.2003-01.x:y\0\0\n").as_str(), "iqn.2003-01.x:y");
        assert_eq!(
            w("t10.Linux   scsi_debug  2000\n").as_str(),
            "t10.Linux   scsi_debug  2000"
        );
    }

    #[test]
    fn rejects_empty_and_control() {
        assert_eq!(" \n".parse::<Wwid>(), Err(WwidError::Empty));
        assert!(matches!(
            "naa.1\nnaa.2".parse::<Wwid>(),
            Err(WwidError::Control(_))
        ));
    }

    #[test]
    fn multipath_id_follows_multipath_tools() {
        assert_eq!(
            w("naa.6001405ABCdef0123456789abcdef012")
                .multipath_id()
                .as_deref(),
            Some("36001405abcdef0123456789abcdef012")
        );
        assert_eq!(
            w("eui.0025385b71b07e2f").multipath_id().as_deref(),
            Some("20025385b71b07e2f")
        );
        assert_eq!(
            w("t10.Linux   scsi_debug  2000").multipath_id().as_deref(),
            Some("1Linux_scsi_debug_2000")
        );
        assert_eq!(
            w("iqn.2003-01.org.example:lun1").multipath_id().as_deref(),
            Some("8iqn.2003-01.org.example:lun1")
        );
        assert_eq!(w("foo.bar").multipath_id(), None);
        assert_eq!(w("foo.bar").kind(), WwidKind::Unknown);
    }

    #[test]
    fn vpd_prefers_naa_registered_extended_over_t10_and_eui8() {
        let naa = [
            0x60, 0x01, 0x40, 0x5a, 0xbc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12,
        ];
        let p = page(&[
            (0x01, b"LIO-ORG block1  abc"),
            (0x02, &[1, 2, 3, 4, 5, 6, 7, 8]),
            (0x03, &naa),
        ]);
        assert_eq!(
            Wwid::from_vpd_pg83(&p).unwrap().as_str(),
            "naa.6001405abc0000000000000000000012"
        );
    }

    #[test]
    fn vpd_ignores_target_port_designators() {
        // association = target port (0x10): must not be taken as the LU's id
        let mut p = page(&[(0x01, b"Linux   scsi_debug  2000")]);
        let naa_port = [0x01, 0x13, 0x00, 0x08, 0x52, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&naa_port);
        let len = u16::try_from(p.len() - 4).unwrap().to_be_bytes();
        p[2] = len[0];
        p[3] = len[1];
        assert_eq!(
            Wwid::from_vpd_pg83(&p).unwrap().as_str(),
            "t10.Linux   scsi_debug  2000"
        );
    }

    #[test]
    fn vpd_t10_beats_naa_locally_assigned_when_longer() {
        // scsi_debug offers a locally assigned NAA (type 3) and a T10 id; both
        // have priority 1 and the kernel keeps the later, not-shorter one.
        let naa_local = [0x33, 0x33, 0x33, 0x30, 0, 0, 0, 0];
        let p = page(&[(0x03, &naa_local), (0x01, b"Linux   scsi_debug  2000")]);
        assert_eq!(
            Wwid::from_vpd_pg83(&p).unwrap().as_str(),
            "t10.Linux   scsi_debug  2000"
        );
    }

    #[test]
    fn vpd_malformed_is_none_not_panic() {
        assert_eq!(Wwid::from_vpd_pg83(&[]), None);
        assert_eq!(Wwid::from_vpd_pg83(&[0, 0x80, 0, 0]), None); // wrong page
        // header claims more than there is and the designator is truncated
        assert_eq!(
            Wwid::from_vpd_pg83(&[0, 0x83, 0, 40, 1, 3, 0, 16, 0x60]),
            None
        );
        assert_eq!(Wwid::from_vpd_pg83(&page(&[])), None);
    }

    #[test]
    fn vpd_escapes_non_printable_t10_bytes() {
        let p = page(&[(0x01, b"VEND\x01X")]);
        assert_eq!(Wwid::from_vpd_pg83(&p).unwrap().as_str(), "t10.VEND\\001X");
    }
}
