//! SCSI devices (`class/scsi_device/H:C:T:L/device`) and their disks.

use super::super::tree::Scan;
use super::attrs::{Attrs, list_class};
use super::fan_out::fan_out;
use super::hosts::session_in;
use crate::model::{DevT, Hctl, ScsiDeviceState, Wwid};
use crate::snapshot::{BlockDevice, Partition, Problem, ScsiDevice, WwidSource};

/// Reads every `class/scsi_device/H:C:T:L`.
pub(super) fn read_devices(tree: &Scan<'_>, problems: &mut Vec<Problem>) -> Vec<ScsiDevice> {
    let Some(names) = list_class(tree, "class/scsi_device", problems) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for name in names {
        match name.parse::<Hctl>() {
            Ok(hctl) => found.push((name, hctl)),
            Err(e) => problems.push(Problem {
                path: tree.display(format!("class/scsi_device/{name}")),
                what: e.to_string(),
            }),
        }
    }
    let mut devices = fan_out(tree, found, |scan, (name, hctl)| {
        read_device(scan, &name, hctl)
    });
    devices.sort_by_key(|d| d.hctl);
    devices
}

pub(super) fn read_device(tree: &Scan<'_>, name: &str, hctl: Hctl) -> ScsiDevice {
    let mut a = Attrs::new(tree, format!("class/scsi_device/{name}/device"));
    let vendor = a.required("vendor");
    let model = a.required("model");
    let rev = a.optional("rev");
    let state = a.parsed::<ScsiDeviceState>("state", true);
    let (wwid, wwid_source) = read_wwid(&mut a);
    let device_blocked = a.parsed::<u32>("device_blocked", false);
    let iorequest_cnt = a.parse_with("iorequest_cnt", false, parse_counter);
    let iscsi_session = tree
        .resolve(format!("class/scsi_device/{name}"))
        .ok()
        .and_then(|p| session_in(&p));
    let block = read_block(&mut a);
    ScsiDevice {
        hctl,
        vendor,
        model,
        rev,
        state,
        wwid,
        wwid_source,
        device_blocked,
        iorequest_cnt,
        iscsi_session,
        block,
        problems: a.problems,
    }
}

/// `wwid` if readable; otherwise derived from `vpd_pg83`. Devices without
/// VPD page 0x83 (enclosures, some CD-ROMs) legitimately have neither, and
/// the kernel then fails the read of `wwid` with EINVAL/ENXIO, so absence is
/// not a problem; only unusable content is.
fn read_wwid(a: &mut Attrs<'_, '_>) -> (Option<Wwid>, Option<WwidSource>) {
    if let Ok(raw) = a.raw_string("wwid") {
        match raw.parse::<Wwid>() {
            Ok(w) => return (Some(w), Some(WwidSource::Wwid)),
            Err(e) => a.problem("wwid", e.to_string()),
        }
    }
    if let Ok(page) = a.raw_bytes("vpd_pg83") {
        match Wwid::from_vpd_pg83(&page) {
            Some(w) => return (Some(w), Some(WwidSource::VpdPg83)),
            None => a.problem(
                "vpd_pg83",
                "no usable logical-unit designator in VPD page 0x83",
            ),
        }
    }
    (None, None)
}

/// Kernel I/O counters print as `0x1a`; accept decimal too.
fn parse_counter(s: &str) -> Result<u64, std::num::ParseIntError> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    }
}

fn read_block(a: &mut Attrs<'_, '_>) -> Option<BlockDevice> {
    let names = a.names("block");
    let name = names.first()?.clone();
    if names.len() > 1 {
        a.problem(
            "block",
            format!("more than one block device: {names:?}; using {name}"),
        );
    }
    // The disk's directory, opened once; its problems name the same paths.
    let mut b = a.sub(&format!("block/{name}"));
    let dev = b.parsed::<DevT>("dev", true);
    let size_bytes = b.size_bytes("size");
    let read_only = b.flag("ro", false);
    let holders = b.names("holders");
    let mut partitions = Vec::new();
    for entry in b.names("") {
        if !entry.starts_with(&name) || !b.exists(&format!("{entry}/partition")) {
            continue;
        }
        let mut p = b.sub(&entry);
        partitions.push(Partition {
            dev: p.parsed::<DevT>("dev", true),
            size_bytes: p.size_bytes("size"),
            holders: p.names("holders"),
            name: entry,
        });
        b.problems.append(&mut p.problems);
    }
    a.problems.append(&mut b.problems);
    Some(BlockDevice {
        name,
        dev,
        size_bytes,
        read_only,
        holders,
        partitions,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_counter;

    #[test]
    fn counters_are_hex_in_sysfs() {
        assert_eq!(parse_counter("0x1a").unwrap(), 26);
        assert_eq!(parse_counter("26").unwrap(), 26);
        assert!(parse_counter("0xzz").is_err());
    }
}
