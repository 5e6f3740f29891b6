//! The initiator side of the simulated host: open-iscsi's node records and
//! logins (with the autoscan a `node.session.scan = auto` login does), the
//! SCSI midlayer's `scan` and `delete` attributes, and logout — each change
//! written to the tree and announced as the kernel would announce it.

use crate::model::{Hctl, Iqn, Portal, ScsiDeviceState};
use crate::observe::uevent::Action;

use super::error::SimError;
use super::events::Ev;
use super::model::{ScanMode, SimDevice, SimNode, SimSession};
use super::names::{lowest_free, sd_dev, sd_name};
use super::state::State;
use super::sysfs;

/// One field of a `scan` write: a number or `-` (every value).
fn scan_field(s: &str) -> Option<Option<u64>> {
    if s == "-" {
        Some(None)
    } else {
        s.parse().ok().map(Some)
    }
}

/// Parses what `echo "C T L" > scan` accepts (`-` is a wildcard).
pub(super) fn parse_scan(spec: &str) -> Result<[Option<u64>; 3], SimError> {
    let bad = || SimError::BadScan(spec.to_owned());
    let fields: Vec<&str> = spec.split_whitespace().collect();
    let [c, t, l] = fields.as_slice() else {
        return Err(bad());
    };
    Ok([
        scan_field(c).ok_or_else(bad)?,
        scan_field(t).ok_or_else(bad)?,
        scan_field(l).ok_or_else(bad)?,
    ])
}

fn scsi_dir(devpath: &str) -> String {
    format!("/{devpath}")
}

impl State {
    /// Writes the node record of `iface` and logs in through it; an
    /// `Automatic` record then scans every exported LUN. An existing session
    /// of that iface is returned as it is.
    pub(super) fn login(
        &mut self,
        target: &Iqn,
        portal: &Portal,
        iface: &str,
        scan: ScanMode,
    ) -> Result<SimSession, SimError> {
        let t = self.target(target)?;
        if !t.portals.contains(portal) {
            return Err(SimError::NoPortal {
                target: target.clone(),
                portal: *portal,
            });
        }
        self.set_node(target, portal, iface, scan);
        if let Some(s) = self.session_via(target, portal, iface) {
            return Ok(s.clone());
        }
        let s = SimSession {
            sid: self.next_sid,
            host: lowest_free(self.sessions.values().map(|s| s.host)),
            target: target.clone(),
            portal: *portal,
            iface: iface.to_owned(),
        };
        self.next_sid += 1;
        sysfs::add_session(&self.tree, &s).map_err(self.io(format!("session{}", s.sid)))?;
        self.sessions.insert(s.sid, s.clone());
        let host = sysfs::host_dir(s.host);
        let h = s.host;
        let sid = s.sid;
        self.emit(Ev::new(Action::Add, scsi_dir(&host), "scsi").prop("DEVTYPE", "scsi_host"));
        self.emit(Ev::new(
            Action::Add,
            format!("/{host}/scsi_host/host{h}"),
            "scsi_host",
        ));
        self.emit(Ev::new(
            Action::Add,
            format!("/{host}/iscsi_host/host{h}"),
            "iscsi_host",
        ));
        self.emit(Ev::new(
            Action::Add,
            format!("/{host}/session{sid}/iscsi_session/session{sid}"),
            "iscsi_session",
        ));
        self.emit(Ev::new(
            Action::Add,
            format!("/{host}/session{sid}/connection{sid}:0/iscsi_connection/connection{sid}:0"),
            "iscsi_connection",
        ));
        if scan == ScanMode::Automatic {
            self.scan(s.host, "- - -")?;
        }
        Ok(s)
    }

    fn set_node(&mut self, target: &Iqn, portal: &Portal, iface: &str, scan: ScanMode) {
        match self
            .nodes
            .iter_mut()
            .find(|n| &n.target == target && &n.portal == portal && n.iface == iface)
        {
            Some(n) => n.scan = scan,
            None => self.nodes.push(SimNode {
                target: target.clone(),
                portal: *portal,
                iface: iface.to_owned(),
                scan,
            }),
        }
    }

    /// Deletes the node record of (target, portal, iface); `false` if there
    /// was none.
    pub(super) fn delete_node(&mut self, target: &Iqn, portal: &Portal, iface: &str) -> bool {
        let before = self.nodes.len();
        self.nodes
            .retain(|n| !(&n.target == target && &n.portal == portal && n.iface == iface));
        self.nodes.len() != before
    }

    /// `echo "C T L" > /sys/class/scsi_host/hostH/scan`: adds the exported
    /// LUNs the spec matches that are not present yet (iSCSI sessions have
    /// channel 0 and target id 0). Returns the addresses added.
    pub(super) fn scan(&mut self, host: u32, spec: &str) -> Result<Vec<Hctl>, SimError> {
        let [c, t, l] = parse_scan(spec)?;
        let s = self
            .session_on_host(host)
            .cloned()
            .ok_or(SimError::NoHost(host))?;
        if c.is_some_and(|c| c != 0) || t.is_some_and(|t| t != 0) {
            return Ok(Vec::new());
        }
        // REPORT LUNS lists only what is mapped to us; a narrowed scan of an
        // unmapped LUN finds nothing either.
        let luns: Vec<u64> = self
            .target(&s.target)?
            .luns
            .iter()
            .filter(|x| x.exported && l.is_none_or(|l| l == x.lun))
            .map(|x| x.lun)
            .collect();
        let mut added = Vec::new();
        for lun in luns {
            let hctl = Hctl::new(host, 0, 0, lun);
            if !self.devices.contains_key(&hctl) {
                self.add_device(&s, lun)?;
                added.push(hctl);
            }
        }
        Ok(added)
    }

    fn add_device(&mut self, s: &SimSession, lun: u64) -> Result<(), SimError> {
        let hctl = Hctl::new(s.host, 0, 0, lun);
        let l = self
            .target(&s.target)?
            .lun(lun)
            .cloned()
            .ok_or_else(|| SimError::NoLun {
                target: s.target.clone(),
                lun,
            })?;
        let index = lowest_free(self.sd_index.values().copied());
        let d = SimDevice {
            hctl,
            sid: s.sid,
            target: s.target.clone(),
            block: sd_name(index),
            dev: sd_dev(index),
            wwid: l.wwid,
            size_bytes: l.size_bytes,
            state: ScsiDeviceState::Running,
            failed: false,
        };
        let first_on_target = !self.devices.values().any(|x| x.sid == s.sid);
        sysfs::add_disk(&self.tree, s, &d).map_err(self.io(format!("SCSI device {hctl}")))?;
        self.sd_index.insert(hctl, index);
        self.devices.insert(hctl, d.clone());
        let dir = sysfs::device_dir(s, hctl);
        if first_on_target {
            self.emit(
                Ev::new(Action::Add, scsi_dir(&sysfs::target_dir(s, hctl)), "scsi")
                    .prop("DEVTYPE", "scsi_target"),
            );
        }
        self.emit(
            Ev::new(Action::Add, scsi_dir(&dir), "scsi")
                .prop("DEVTYPE", "scsi_device")
                .prop("MODALIAS", "scsi:t-0x00"),
        );
        self.emit(Ev::new(
            Action::Add,
            format!("/{dir}/scsi_device/{hctl}"),
            "scsi_device",
        ));
        self.emit(Ev::new(
            Action::Add,
            format!("/{dir}/scsi_disk/{hctl}"),
            "scsi_disk",
        ));
        self.emit(block_event(Action::Add, s, &d));
        self.emit(
            Ev::new(Action::Bind, scsi_dir(&dir), "scsi")
                .prop("DEVTYPE", "scsi_device")
                .prop("DRIVER", "sd"),
        );
        if self.multipathd {
            self.path_added(hctl)?;
        }
        Ok(())
    }

    /// `echo 1 > …/device/delete`: removes the device and its disk (and, via
    /// multipathd, the path from its map). `false` if it was not there.
    pub(super) fn delete(&mut self, hctl: Hctl) -> Result<bool, SimError> {
        let Some(d) = self.devices.get(&hctl).cloned() else {
            return Ok(false);
        };
        let Some(s) = self.sessions.get(&d.sid).cloned() else {
            return Ok(false);
        };
        self.path_removing(&d.block)?;
        sysfs::remove_disk(&self.tree, &s, &d).map_err(self.io(format!("SCSI device {hctl}")))?;
        self.devices.remove(&hctl);
        self.sd_index.remove(&hctl);
        let dir = sysfs::device_dir(&s, hctl);
        self.emit(block_event(Action::Remove, &s, &d));
        self.emit(Ev::new(
            Action::Remove,
            format!("/{dir}/scsi_disk/{hctl}"),
            "scsi_disk",
        ));
        self.emit(Ev::new(
            Action::Remove,
            format!("/{dir}/scsi_device/{hctl}"),
            "scsi_device",
        ));
        self.emit(
            Ev::new(Action::Unbind, scsi_dir(&dir), "scsi")
                .prop("DEVTYPE", "scsi_device")
                .prop("DRIVER", "sd"),
        );
        self.emit(Ev::new(Action::Remove, scsi_dir(&dir), "scsi").prop("DEVTYPE", "scsi_device"));
        if !self.devices.values().any(|x| x.sid == s.sid) {
            self.emit(
                Ev::new(
                    Action::Remove,
                    scsi_dir(&sysfs::target_dir(&s, hctl)),
                    "scsi",
                )
                .prop("DEVTYPE", "scsi_target"),
            );
        }
        Ok(true)
    }

    /// Sets a device's `state` (a transport recovering: `blocked`; error
    /// handling gave up: `offline`). The kernel sends no uevent for this.
    pub(super) fn set_state(&mut self, hctl: Hctl, state: ScsiDeviceState) -> Result<(), SimError> {
        let d = self
            .devices
            .get_mut(&hctl)
            .ok_or(SimError::NoDevice(hctl))?;
        d.state = state;
        let d = d.clone();
        let s = self
            .sessions
            .get(&d.sid)
            .cloned()
            .ok_or(SimError::NoDevice(hctl))?;
        sysfs::write_state(&self.tree, &s, &d).map_err(self.io(format!("state of {hctl}")))
    }

    /// Logs out every iface's session to `target` at `portal` (what
    /// `iscsiadm -m node -T -p --logout` without `-I` does). `false` if
    /// there was none.
    pub(super) fn logout_all(&mut self, target: &Iqn, portal: &Portal) -> Result<bool, SimError> {
        let sids: Vec<u32> = self
            .sessions
            .values()
            .filter(|s| &s.target == target && &s.portal == portal)
            .map(|s| s.sid)
            .collect();
        for sid in &sids {
            self.logout_sid(*sid)?;
        }
        Ok(!sids.is_empty())
    }

    /// Logs out session `sid`: removes every device of the session, then
    /// the session and its host. `false` if there was no such session.
    pub(super) fn logout_sid(&mut self, sid: u32) -> Result<bool, SimError> {
        let Some(s) = self.sessions.get(&sid).cloned() else {
            return Ok(false);
        };
        let mine: Vec<Hctl> = self
            .devices
            .values()
            .filter(|d| d.sid == s.sid)
            .map(|d| d.hctl)
            .collect();
        for h in mine {
            self.delete(h)?;
        }
        sysfs::remove_session(&self.tree, &s).map_err(self.io(format!("session{}", s.sid)))?;
        self.sessions.remove(&s.sid);
        let host = sysfs::host_dir(s.host);
        let (h, sid) = (s.host, s.sid);
        self.emit(Ev::new(
            Action::Remove,
            format!("/{host}/session{sid}/connection{sid}:0/iscsi_connection/connection{sid}:0"),
            "iscsi_connection",
        ));
        self.emit(Ev::new(
            Action::Remove,
            format!("/{host}/session{sid}/iscsi_session/session{sid}"),
            "iscsi_session",
        ));
        self.emit(Ev::new(
            Action::Remove,
            format!("/{host}/iscsi_host/host{h}"),
            "iscsi_host",
        ));
        self.emit(Ev::new(
            Action::Remove,
            format!("/{host}/scsi_host/host{h}"),
            "scsi_host",
        ));
        self.emit(Ev::new(Action::Remove, scsi_dir(&host), "scsi").prop("DEVTYPE", "scsi_host"));
        Ok(true)
    }
}

/// The block event of disk `d`, with the properties udev's
/// `60-persistent-storage` and `55-scsi-sg3_id` rules import.
fn block_event(action: Action, s: &SimSession, d: &SimDevice) -> Ev {
    let dir = sysfs::device_dir(s, d.hctl);
    let serial = d.wwid.multipath_id().unwrap_or_else(|| d.wwid.to_string());
    let hex = serial.get(1..).unwrap_or_default().to_owned();
    let path = format!("ip-{}-iscsi-{}-lun-{}", s.portal, s.target, d.hctl.lun);
    Ev::new(action, format!("/{dir}/block/{}", d.block), "block")
        .prop("DEVNAME", &d.block)
        .prop("DEVTYPE", "disk")
        .prop("MAJOR", d.dev.major)
        .prop("MINOR", d.dev.minor)
        .udev_prop("ID_SCSI", 1)
        .udev_prop("ID_VENDOR", "LIO-ORG")
        .udev_prop("ID_MODEL", "block1")
        .udev_prop("ID_TYPE", "disk")
        .udev_prop("ID_BUS", "scsi")
        .udev_prop("ID_SERIAL", &serial)
        .udev_prop("ID_SERIAL_SHORT", &hex)
        .udev_prop("ID_WWN_WITH_EXTENSION", format!("0x{hex}"))
        .udev_prop("ID_WWN", format!("0x{}", hex.get(..16).unwrap_or(&hex)))
        .udev_prop("ID_PATH", &path)
        .udev_prop(
            "DEVLINKS",
            format!(
                "/dev/disk/by-path/{path} /dev/disk/by-id/scsi-{serial} /dev/disk/by-id/wwn-0x{hex}"
            ),
        )
}

#[cfg(test)]
mod tests {
    use super::parse_scan;

    #[test]
    fn scan_strings_parse_like_the_kernels_scan_attribute() {
        assert_eq!(parse_scan("0 0 5").unwrap(), [Some(0), Some(0), Some(5)]);
        assert_eq!(parse_scan("- - -").unwrap(), [None, None, None]);
        assert!(parse_scan("0 0").is_err());
        assert!(parse_scan("0 x 1").is_err());
    }
}
