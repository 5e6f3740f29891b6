//! Parser for `udevadm monitor --kernel --udev --property` output, the
//! format of the recorded streams in `tests/fixtures/*/uevents.txt`:
//!
//! ```text
//! KERNEL[125.962195] add      /devices/…/0:0:0:2 (scsi)
//! ACTION=add
//! DEVPATH=/devices/…/0:0:0:2
//! …
//!
//! UDEV  [126.025008] add      /devices/…/0:0:0:2 (scsi)
//! …
//! ```
//!
//! Used to replay real event streams through [`keys`](super::keys) in
//! tests and tools; the daemon reads netlink, never this.

use std::collections::BTreeMap;

use super::{Source, Uevent};

/// Why a recording does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UdevadmParseError {
    /// An event header line is malformed.
    #[error(
        "line {line}: malformed event header {text:?} (expected `KERNEL[ts] action devpath (subsystem)` or `UDEV  [ts] …`)"
    )]
    Header {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// A `KEY=value` line outside any event.
    #[error("line {line}: property {text:?} before any event header")]
    Orphan {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// The event's properties are not a uevent.
    #[error("line {line}: {source}")]
    Event {
        /// Line of the event's header.
        line: usize,
        /// What was missing.
        source: super::UeventError,
    },
}

struct Pending {
    line: usize,
    source: Source,
    header: [String; 3],
    props: BTreeMap<String, String>,
}

/// Parses a whole recording into events, in order. The preamble udevadm
/// prints (`monitor will print …`) is skipped. Properties win over the
/// header; the header fills in `ACTION`, `DEVPATH` and `SUBSYSTEM` when a
/// recording was made without `--property`.
pub fn parse_udevadm_monitor(text: &str) -> Result<Vec<Uevent>, UdevadmParseError> {
    let mut events = Vec::new();
    let mut current: Option<Pending> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end();
        if l.is_empty() {
            finish(&mut current, &mut events)?;
            continue;
        }
        if let Some(source) = header_source(l) {
            finish(&mut current, &mut events)?;
            current = Some(parse_header(l, line, source)?);
            continue;
        }
        match (&mut current, l.split_once('=')) {
            (Some(p), Some((k, v))) => {
                p.props.insert(k.to_owned(), v.to_owned());
            }
            (None, Some(_)) if events.is_empty() && !looks_like_property(l) => {}
            (None, Some(_)) => {
                return Err(UdevadmParseError::Orphan {
                    line,
                    text: l.to_owned(),
                });
            }
            // Preamble prose ("monitor will print…", "UDEV - the event…").
            (_, None) => {}
        }
    }
    finish(&mut current, &mut events)?;
    Ok(events)
}

fn looks_like_property(l: &str) -> bool {
    l.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
    })
}

fn header_source(l: &str) -> Option<Source> {
    let (word, rest) = l.split_once('[')?;
    // The timestamp bracket must close on the same line: prose never has one.
    rest.contains(']').then_some(())?;
    match word.trim_end() {
        "KERNEL" => Some(Source::Kernel),
        "UDEV" => Some(Source::Udev),
        _ => None,
    }
}

fn parse_header(l: &str, line: usize, source: Source) -> Result<Pending, UdevadmParseError> {
    let bad = || UdevadmParseError::Header {
        line,
        text: l.to_owned(),
    };
    let (_, rest) = l.split_once(']').ok_or_else(bad)?;
    let mut words = rest.split_whitespace();
    let (Some(action), Some(devpath), Some(subsystem), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(bad());
    };
    let subsystem = subsystem
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(bad)?;
    Ok(Pending {
        line,
        source,
        header: [action.to_owned(), devpath.to_owned(), subsystem.to_owned()],
        props: BTreeMap::new(),
    })
}

fn finish(current: &mut Option<Pending>, out: &mut Vec<Uevent>) -> Result<(), UdevadmParseError> {
    let Some(mut p) = current.take() else {
        return Ok(());
    };
    let [action, devpath, subsystem] = p.header;
    for (k, v) in [
        ("ACTION", action),
        ("DEVPATH", devpath),
        ("SUBSYSTEM", subsystem),
    ] {
        p.props.entry(k.to_owned()).or_insert(v);
    }
    let ev =
        Uevent::from_properties(p.source, p.props).map_err(|source| UdevadmParseError::Event {
            line: p.line,
            source,
        })?;
    out.push(ev);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::uevent::Action;

    const SAMPLE: &str = "monitor will print the received events for:
UDEV - the event which udev sends out after rule processing
KERNEL - the kernel uevent

KERNEL[125.962195] add      /devices/platform/host0/session1/target0:0:0/0:0:0:2 (scsi)
ACTION=add
DEVPATH=/devices/platform/host0/session1/target0:0:0/0:0:0:2
SUBSYSTEM=scsi
DEVTYPE=scsi_device
SEQNUM=1038

UDEV  [126.493604] add      /devices/virtual/block/dm-2 (block)
ACTION=add
DEVPATH=/devices/virtual/block/dm-2
SUBSYSTEM=block
DEVNAME=/dev/dm-2
.SAVED_FM_WAIT_UNTIL=
DEVLINKS=/dev/a /dev/b=c
";

    #[test]
    fn parses_both_sources_and_keeps_every_property() {
        let evs = parse_udevadm_monitor(SAMPLE).unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].source, Source::Kernel);
        assert_eq!(evs[0].seqnum, Some(1038));
        assert_eq!(evs[0].devtype.as_deref(), Some("scsi_device"));
        assert_eq!(evs[1].source, Source::Udev);
        assert_eq!(evs[1].action, Action::Add);
        assert_eq!(evs[1].devname.as_deref(), Some("/dev/dm-2"));
        assert_eq!(evs[1].get(".SAVED_FM_WAIT_UNTIL"), Some(""));
        // Only the first '=' separates key and value.
        assert_eq!(evs[1].get("DEVLINKS"), Some("/dev/a /dev/b=c"));
    }

    #[test]
    fn header_fills_in_without_properties() {
        let evs = parse_udevadm_monitor("KERNEL[1.0] remove /devices/virtual/block/dm-0 (block)\n")
            .unwrap();
        assert_eq!(evs[0].action, Action::Remove);
        assert_eq!(evs[0].subsystem, "block");
    }

    #[test]
    fn rejects_malformed_header_and_orphans() {
        let err = parse_udevadm_monitor("KERNEL[1.0] add /devices/x\n").unwrap_err();
        assert!(
            matches!(err, UdevadmParseError::Header { line: 1, .. }),
            "{err}"
        );
        let err = parse_udevadm_monitor("KERNEL[1.0] add /d (s)\nA=1\n\nB=2\n").unwrap_err();
        assert!(
            matches!(err, UdevadmParseError::Orphan { line: 4, .. }),
            "{err}"
        );
    }
}
