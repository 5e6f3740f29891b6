//! `status` as aligned plain-text tables (no colour, no terminal queries).
//!
//! Sections: iSCSI targets (sessions, then paths by WWID); other SCSI hosts
//! by driver (paths by WWID); multipath maps; problems.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::snapshot::{DmDevice, DmKind, ScsiDevice, Snapshot};

/// Renders the whole report.
pub fn render_text(snap: &Snapshot) -> String {
    let mut out = String::new();
    let mut shown_hosts: BTreeSet<u32> = BTreeSet::new();

    // iSCSI targets, by name; sessions without a readable target last.
    let mut targets: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    for (i, s) in snap.iscsi_sessions.iter().enumerate() {
        targets
            .entry(s.target.as_ref().map(ToString::to_string))
            .or_default()
            .push(i);
    }
    let mut ordered: Vec<_> = targets.into_iter().collect();
    ordered.sort_by_key(|(t, _)| (t.is_none(), t.clone()));
    for (target, idxs) in ordered {
        let _ = writeln!(
            out,
            "iSCSI target {}",
            target.as_deref().unwrap_or("(unknown target name)")
        );
        let mut rows = vec![cells(&["SESSION", "HOST", "PORTAL", "STATE", "IFACE"])];
        let mut devices: Vec<&ScsiDevice> = Vec::new();
        for &i in &idxs {
            let s = &snap.iscsi_sessions[i];
            rows.push(vec![
                format!("session{}", s.id),
                s.host.map_or("-".into(), |h| format!("host{h}")),
                s.portal().map_or("-".into(), |p| p.to_string()),
                s.state.clone().unwrap_or_else(|| "-".into()),
                s.ifacename.clone().unwrap_or_else(|| "-".into()),
            ]);
            if let Some(h) = s.host {
                shown_hosts.insert(h);
            }
            devices.extend(snap.devices.iter().filter(|d| {
                d.iscsi_session == Some(s.id)
                    || (d.iscsi_session.is_none() && s.host == Some(d.hctl.host))
            }));
        }
        out.push_str(&table(&rows, 2));
        paths_by_wwid(&mut out, snap, &devices);
        out.push('\n');
    }

    // Other hosts, grouped by driver.
    let mut by_driver: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for h in snap.hosts.iter().filter(|h| !shown_hosts.contains(&h.host)) {
        by_driver
            .entry(
                h.proc_name
                    .clone()
                    .unwrap_or_else(|| "(unknown driver)".into()),
            )
            .or_default()
            .push(h.host);
    }
    for (driver, hosts) in &by_driver {
        let names: Vec<String> = hosts.iter().map(|h| format!("host{h}")).collect();
        let _ = writeln!(out, "SCSI hosts {driver}: {}", names.join(", "));
        let devices: Vec<&ScsiDevice> = snap
            .devices
            .iter()
            .filter(|d| hosts.contains(&d.hctl.host))
            .collect();
        paths_by_wwid(&mut out, snap, &devices);
        out.push('\n');
        shown_hosts.extend(hosts);
    }

    // Devices on hosts that were not listed at all.
    let orphans: Vec<&ScsiDevice> = snap
        .devices
        .iter()
        .filter(|d| !shown_hosts.contains(&d.hctl.host))
        .collect();
    if !orphans.is_empty() {
        out.push_str("SCSI devices on unlisted hosts\n");
        paths_by_wwid(&mut out, snap, &orphans);
        out.push('\n');
    }

    if snap.hosts.is_empty() && snap.devices.is_empty() {
        out.push_str("No SCSI hosts.\n\n");
    }

    multipath_maps(&mut out, snap);
    problems(&mut out, snap);
    out
}

/// Paths grouped by WWID: a `LUN <wwid>` line, then one row per path.
fn paths_by_wwid(out: &mut String, snap: &Snapshot, devices: &[&ScsiDevice]) {
    if devices.is_empty() {
        out.push_str("  (no SCSI devices)\n");
        return;
    }
    let mut groups: BTreeMap<Option<String>, Vec<&ScsiDevice>> = BTreeMap::new();
    for d in devices {
        groups
            .entry(d.wwid.as_ref().map(ToString::to_string))
            .or_default()
            .push(d);
    }
    let mut rows = vec![cells(&["H:C:T:L", "DEV", "DEV_T", "STATE", "SIZE", "MAP"])];
    let mut heads = Vec::new(); // (row index before which the header goes, text)
    for (wwid, mut devs) in groups {
        devs.sort_by_key(|d| d.hctl);
        let first = devs[0];
        let what = [first.vendor.as_deref(), first.model.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        // The first LUN line goes above the column header.
        heads.push((
            if rows.len() == 1 { 0 } else { rows.len() },
            format!(
                "  LUN {}{}",
                wwid.as_deref().unwrap_or("(no WWID)"),
                if what.is_empty() {
                    String::new()
                } else {
                    format!("  [{what}]")
                }
            ),
        ));
        for d in devs {
            let b = d.block.as_ref();
            let map = b
                .and_then(|b| snap.dm_over(&b.name))
                .map_or("-".into(), |m| {
                    format!("{} ({})", dm_label(m), m.kernel_name)
                });
            rows.push(vec![
                d.hctl.to_string(),
                b.map_or("-".into(), |b| b.name.clone()),
                b.and_then(|b| b.dev).map_or("-".into(), |v| v.to_string()),
                d.state.as_ref().map_or("-".into(), ToString::to_string),
                b.and_then(|b| b.size_bytes).map_or("-".into(), human_size),
                map,
            ]);
        }
    }
    let lines = table_lines(&rows, 4);
    for (i, line) in lines.iter().enumerate() {
        for (_, h) in heads.iter().filter(|(at, _)| *at == i) {
            out.push_str(h);
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
}

fn dm_label(m: &DmDevice) -> String {
    m.name
        .as_ref()
        .map_or_else(|| m.kernel_name.clone(), ToString::to_string)
}

fn multipath_maps(out: &mut String, snap: &Snapshot) {
    let maps: Vec<&DmDevice> = snap
        .dm_devices
        .iter()
        .filter(|d| d.kind == DmKind::Multipath)
        .collect();
    if maps.is_empty() {
        out.push_str("Multipath maps: none\n\n");
        return;
    }
    out.push_str("Multipath maps\n");
    let mut rows = vec![cells(&[
        "NAME", "DM", "UUID", "PATHS", "SIZE", "HOLDERS", "MOUNTED",
    ])];
    for m in maps {
        let holders: Vec<String> = m
            .holders
            .iter()
            .map(
                |h| match snap.dm_devices.iter().find(|d| &d.kernel_name == h) {
                    Some(d) => format!("{h} ({})", dm_label(d)),
                    None => h.clone(),
                },
            )
            .collect();
        let used = uses(snap, m);
        rows.push(vec![
            dm_label(m),
            m.kernel_name.clone(),
            m.uuid.clone().unwrap_or_else(|| "-".into()),
            m.slaves.len().to_string(),
            m.size_bytes.map_or("-".into(), human_size),
            or_dash(holders.join(",")),
            or_dash(used.join(",")),
        ]);
    }
    out.push_str(&table(&rows, 2));
    out.push('\n');
}

/// Mounts and swaps on a map or, transitively, on its holders (an LV or a
/// kpartx partition on top), labelled with the holder they are on.
fn uses(snap: &Snapshot, map: &DmDevice) -> Vec<String> {
    let mut used = Vec::new();
    let mut todo = vec![map];
    let mut seen = BTreeSet::new();
    while let Some(d) = todo.pop() {
        if !seen.insert(d.kernel_name.as_str()) {
            continue;
        }
        let via = if std::ptr::eq(d, map) {
            String::new()
        } else {
            format!(" ({})", dm_label(d))
        };
        if let Some(dev) = d.dev {
            used.extend(
                snap.mounts_of(dev)
                    .map(|mt| format!("{}{via}", mt.mount_point)),
            );
            used.extend(
                snap.swaps_of(dev)
                    .map(|s| format!("swap:{}{via}", s.filename)),
            );
        }
        todo.extend(
            d.holders
                .iter()
                .filter_map(|h| snap.dm_devices.iter().find(|x| &x.kernel_name == h)),
        );
    }
    used
}

fn problems(out: &mut String, snap: &Snapshot) {
    let all = snap.all_problems();
    if all.is_empty() {
        return;
    }
    let _ = writeln!(out, "Problems ({})", all.len());
    for p in all {
        let _ = writeln!(out, "  {}: {}", p.path, p.what);
    }
}

fn or_dash(s: String) -> String {
    if s.is_empty() { "-".into() } else { s }
}

fn cells(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// Bytes in binary units with one decimal, e.g. `1.0 GiB`.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn table(rows: &[Vec<String>], indent: usize) -> String {
    let mut s = String::new();
    for line in table_lines(rows, indent) {
        s.push_str(&line);
        s.push('\n');
    }
    s
}

/// Left-aligned columns two spaces apart; the last column is not padded.
fn table_lines(rows: &[Vec<String>], indent: usize) -> Vec<String> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = " ".repeat(indent);
            for (c, cell) in r.iter().enumerate() {
                line.push_str(cell);
                if c + 1 < r.len() {
                    line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
                }
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_binary_units() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1 << 30), "1.0 GiB");
        assert_eq!(human_size(1536 * 1024), "1.5 MiB");
    }

    #[test]
    fn columns_align() {
        let rows = vec![cells(&["A", "BB", "C"]), cells(&["long", "x", "y"])];
        assert_eq!(table_lines(&rows, 1), [" A     BB  C", " long  x   y"]);
    }

    #[test]
    fn empty_snapshot_says_so() {
        let text = render_text(&Snapshot::default());
        assert!(text.contains("No SCSI hosts."), "{text}");
        assert!(text.contains("Multipath maps: none"), "{text}");
        assert!(!text.contains("Problems"), "{text}");
    }
}
