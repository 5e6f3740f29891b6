//! Mounts (`<proc>/self/mountinfo`) and swaps (`<proc>/swaps`): pure parsers
//! plus the reads through the proc root.

use std::io;

use super::tree::Tree;
use crate::model::DevT;
use crate::snapshot::{DmDevice, Mount, Problem, Swap};

/// Parses mountinfo text. Bad lines become `(line number, reason)`.
pub fn parse_mountinfo(text: &str) -> (Vec<Mount>, Vec<(usize, String)>) {
    let mut mounts = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_mountinfo_line(line) {
            Ok(m) => mounts.push(m),
            Err(why) => bad.push((i + 1, why)),
        }
    }
    (mounts, bad)
}

/// `36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw`:
/// fields 3 and 5, then after the `-` separator fstype and source.
fn parse_mountinfo_line(line: &str) -> Result<Mount, String> {
    let fields: Vec<&str> = line.split(' ').collect();
    let sep = fields
        .iter()
        .position(|f| *f == "-")
        .ok_or("no ' - ' separator")?;
    if sep < 6 || fields.len() < sep + 3 {
        return Err("too few fields".into());
    }
    let dev = fields[2].parse::<DevT>().map_err(|e| e.to_string())?;
    Ok(Mount {
        dev,
        mount_point: unescape(fields[4]),
        fstype: unescape(fields[sep + 1]),
        source: unescape(fields[sep + 2]),
    })
}

/// Undoes the kernel's octal escaping of space, tab, newline and backslash.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/swaps` (header line, then filename type size used prio).
/// Device numbers are left `None` here; the snapshot fills them in.
pub fn parse_swaps(text: &str) -> (Vec<Swap>, Vec<(usize, String)>) {
    let mut swaps = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        // A filename with spaces is escaped by the kernel like mountinfo.
        let [filename, kind, ..] = fields.as_slice() else {
            bad.push((i + 1, "too few fields".to_owned()));
            continue;
        };
        swaps.push(Swap {
            filename: unescape(filename),
            kind: (*kind).to_owned(),
            dev: None,
        });
    }
    (swaps, bad)
}

pub(super) fn read_mounts(proc_tree: &Tree, problems: &mut Vec<Problem>) -> Vec<Mount> {
    let rel = "self/mountinfo";
    let text = match proc_tree.read_string(rel) {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem {
                path: proc_tree.display(rel),
                what: format!("cannot read: {e}; mounts unknown"),
            });
            return Vec::new();
        }
    };
    let (mounts, bad) = parse_mountinfo(&text);
    problems.extend(bad.into_iter().map(|(n, why)| Problem {
        path: format!("{}:{n}", proc_tree.display(rel)),
        what: format!("unparseable mountinfo line: {why}"),
    }));
    mounts
}

pub(super) fn read_swaps(proc_tree: &Tree, problems: &mut Vec<Problem>) -> Vec<Swap> {
    let rel = "swaps";
    let text = match proc_tree.read_string(rel) {
        Ok(t) => t,
        // No swap support compiled in: nothing is swapped on anything.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            problems.push(Problem {
                path: proc_tree.display(rel),
                what: format!("cannot read: {e}; swaps unknown"),
            });
            return Vec::new();
        }
    };
    let (swaps, bad) = parse_swaps(&text);
    problems.extend(bad.into_iter().map(|(n, why)| Problem {
        path: format!("{}:{n}", proc_tree.display(rel)),
        what: format!("unparseable swaps line: {why}"),
    }));
    swaps
}

/// Fills in `Swap::dev` for swaps on block devices: `/dev/mapper/NAME` by dm
/// name; otherwise the path is resolved in the dev root (following
/// `/dev/disk/by-*` style links) and its last component looked up in
/// `class/block/NAME/dev`. Swap files keep `dev: None`.
pub(super) fn resolve_swap_devs(swaps: &mut [Swap], sys: &Tree, dev: &Tree, dm: &[DmDevice]) {
    for swap in swaps {
        let Some(rel) = swap.filename.strip_prefix("/dev/") else {
            continue;
        };
        let by_name = |map: &str| {
            dm.iter()
                .find(|d| d.name.as_ref().is_some_and(|n| n.as_str() == map))
        };
        if let Some(d) = rel.strip_prefix("mapper/").and_then(by_name) {
            swap.dev = d.dev;
            continue;
        }
        let resolved = dev.resolve(rel).ok();
        let name = resolved
            .as_deref()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .or_else(|| rel.rsplit('/').next())
            .map(str::to_owned);
        swap.dev = name
            .and_then(|n| sys.read_string(format!("class/block/{n}/dev")).ok())
            .and_then(|s| s.trim().parse().ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_fields_and_escapes() {
        let text = "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw\n\
                    40 22 253:2 / /mnt/my\\040data rw shared:5 master:2 - xfs /dev/mapper/mpatha rw\n\
                    41 22 0:5 / /proc rw - proc proc rw\n";
        let (m, bad) = parse_mountinfo(text);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].dev, DevT::new(253, 2));
        assert_eq!(m[1].mount_point, "/mnt/my data");
        assert_eq!(m[1].fstype, "xfs");
        assert_eq!(m[1].source, "/dev/mapper/mpatha");
    }

    #[test]
    fn bad_mountinfo_lines_are_reported_not_fatal() {
        let (m, bad) = parse_mountinfo(
            "garbage\n22 1 x:y / / rw - ext4 /dev/sda rw\n22 1 8:1 / / rw - ext4 /dev/sda1 rw\n",
        );
        assert_eq!(m.len(), 1);
        assert_eq!(bad.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn swaps_skip_header() {
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/dm-3  partition\t1048572\t0\t-2\n/swap\\040file file 10 0 -3\n";
        let (s, bad) = parse_swaps(text);
        assert!(bad.is_empty());
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].filename, "/dev/dm-3");
        assert_eq!(s[0].kind, "partition");
        assert_eq!(s[1].filename, "/swap file");
    }

    #[test]
    fn unescape_leaves_odd_backslashes() {
        assert_eq!(unescape("a\\b"), "a\\b");
        assert_eq!(unescape("a\\134b"), "a\\b");
        assert_eq!(unescape("tail\\04"), "tail\\04");
    }
}
