//! Writes the simulated kernel's objects into the tree exactly where Linux
//! puts them (compare `tests/fixtures/iscsi-mpath`): iSCSI hosts under
//! `devices/platform/hostH/sessionS`, disks under `targetH:0:0/H:0:0:L`,
//! maps under `devices/virtual/block/dm-N`, with the class and `block/`
//! symlinks, and `proc/self/mountinfo`. Only the layout lives here; what
//! exists is decided by the callers.

use std::fs;
use std::io;

use crate::model::Hctl;
use crate::testing::{FakeDisk, FakeDm, FakeSession, FakeTree};

use super::model::{SimDevice, SimMap, SimMount, SimSession};

/// `devices/platform/hostH`.
pub(super) fn host_dir(host: u32) -> String {
    format!("devices/platform/host{host}")
}

/// `devices/platform/hostH/sessionS/targetH:C:T`.
pub(super) fn target_dir(s: &SimSession, h: Hctl) -> String {
    format!(
        "{}/session{}/target{}:{}:{}",
        host_dir(s.host),
        s.sid,
        h.host,
        h.channel,
        h.target
    )
}

/// The SCSI device directory of `h` under session `s`.
pub(super) fn device_dir(s: &SimSession, h: Hctl) -> String {
    format!("{}/{h}", target_dir(s, h))
}

/// `devices/virtual/block/dm-N`.
pub(super) fn dm_dir(n: u32) -> String {
    format!("devices/virtual/block/dm-{n}")
}

/// The session, its host and connection, with their class links.
pub(super) fn add_session(t: &FakeTree, s: &SimSession) -> io::Result<()> {
    t.add_iscsi_session(&FakeSession {
        sid: s.sid,
        host: s.host,
        target: s.target.to_string(),
        // sysfs prints IPv6 without brackets.
        address: s.portal.ip.to_string(),
        port: s.portal.port,
        state: "LOGGED_IN".into(),
    })?;
    let is = format!(
        "{}/session{1}/iscsi_session/session{1}",
        host_dir(s.host),
        s.sid
    );
    t.write(&format!("{is}/target_state"), "SCANNED\n")?;
    t.write(&format!("{is}/ifacename"), format!("{}\n", s.iface))
}

/// Removes what `add_session` created (the devices must be gone already).
pub(super) fn remove_session(t: &FakeTree, s: &SimSession) -> io::Result<()> {
    for link in [
        format!("class/iscsi_connection/connection{}:0", s.sid),
        format!("class/iscsi_session/session{}", s.sid),
        format!("class/iscsi_host/host{}", s.host),
        format!("class/scsi_host/host{}", s.host),
    ] {
        remove_if_present(t, &link)?;
    }
    remove_if_present(t, &host_dir(s.host))
}

/// One disk: the SCSI device, its `scsi_disk` and its block device.
pub(super) fn add_disk(t: &FakeTree, s: &SimSession, d: &SimDevice) -> io::Result<()> {
    let mut fake = FakeDisk::new(d.hctl, &d.block, d.dev).wwid(d.wwid.as_str());
    fake.size_bytes = d.size_bytes;
    fake.state = d.state.to_string();
    t.add_disk(&fake)?;
    let dir = device_dir(s, d.hctl);
    let sd = format!("{dir}/scsi_disk/{}", d.hctl);
    t.write(&format!("{sd}/cache_type"), "write back\n")?;
    t.link(&format!("class/scsi_disk/{}", d.hctl), &sd)
}

/// Removes a disk; its target directory goes with its last device.
pub(super) fn remove_disk(t: &FakeTree, s: &SimSession, d: &SimDevice) -> io::Result<()> {
    for link in [
        format!("block/{}", d.block),
        format!("class/block/{}", d.block),
        format!("class/scsi_disk/{}", d.hctl),
        format!("class/scsi_device/{}", d.hctl),
    ] {
        remove_if_present(t, &link)?;
    }
    remove_if_present(t, &device_dir(s, d.hctl))?;
    let target = target_dir(s, d.hctl);
    if fs::read_dir(t.sys_path(&target)).is_ok_and(|mut e| e.next().is_none()) {
        t.remove(&target)?;
    }
    Ok(())
}

/// Rewrites a device's `state`.
pub(super) fn write_state(t: &FakeTree, s: &SimSession, d: &SimDevice) -> io::Result<()> {
    t.write(
        &format!("{}/state", device_dir(s, d.hctl)),
        format!("{}\n", d.state),
    )
}

/// A map over its slaves (each slave named by its block dir).
pub(super) fn add_map(t: &FakeTree, m: &SimMap) -> io::Result<()> {
    t.add_dm(&FakeDm {
        n: m.n,
        name: m.name.to_string(),
        uuid: m.uuid.clone(),
        dev: m.dev,
        size_bytes: m.size_bytes,
        slaves: m.slaves.clone(),
    })
}

/// Links a new slave `block` (whose disk lives under `disk_dir`) into `m`.
pub(super) fn add_slave(t: &FakeTree, m: &SimMap, block: &str, disk_dir: &str) -> io::Result<()> {
    let b = format!("{disk_dir}/block/{block}");
    t.link(&format!("{}/slaves/{block}", dm_dir(m.n)), &b)?;
    t.link(&format!("{b}/holders/dm-{}", m.n), &dm_dir(m.n))
}

/// Unlinks slave `block` from `m` (the disk may already be gone).
pub(super) fn remove_slave(t: &FakeTree, m: &SimMap, block: &str) -> io::Result<()> {
    remove_if_present(t, &format!("{}/slaves/{block}", dm_dir(m.n)))?;
    remove_if_present(t, &format!("block/{block}/holders/dm-{}", m.n))
}

/// Removes a map and the holder links its slaves had to it.
pub(super) fn remove_map(t: &FakeTree, m: &SimMap) -> io::Result<()> {
    for s in &m.slaves {
        remove_slave(t, m, s)?;
    }
    for link in [
        format!("block/dm-{}", m.n),
        format!("class/block/dm-{}", m.n),
    ] {
        remove_if_present(t, &link)?;
    }
    remove_if_present(t, &dm_dir(m.n))
}

/// Rewrites `proc/self/mountinfo` from `mounts` (a root mount first, as a
/// real one always has).
pub(super) fn write_mountinfo(t: &FakeTree, mounts: &[SimMount]) -> io::Result<()> {
    let esc = |s: &str| s.replace('\\', "\\134").replace(' ', "\\040");
    let mut text = String::from("21 1 0:21 / / rw,relatime shared:1 - tmpfs rootfs rw\n");
    for (i, m) in mounts.iter().enumerate() {
        let id = 30 + i;
        text.push_str(&format!(
            "{id} 21 {} / {} rw,relatime shared:{id} - xfs {} rw\n",
            m.dev,
            esc(&m.mount_point),
            esc(&m.source)
        ));
    }
    fs::write(t.dir().join("proc/self/mountinfo"), text)
}

fn remove_if_present(t: &FakeTree, rel: &str) -> io::Result<()> {
    match t.remove(rel) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
