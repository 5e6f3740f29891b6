//! The array side ("another process"): targets, LUNs and which of them are
//! mapped to our initiator. A change to the LUN inventory reaches the host
//! the way LIO and the kernel deliver it: a unit attention on the next
//! command, which the kernel turns into a `change` uevent with
//! `SDEV_UA=REPORTED_LUNS_DATA_HAS_CHANGED` on an existing device of the
//! session — and no scan. An unmapped LUN's I/O fails, so multipathd fails
//! its paths (`PATH_FAILED` from dm-mpath).

use crate::model::{Iqn, Portal, Wwid};
use crate::observe::uevent::{Action, SDEV_UA_LUNS_CHANGED};

use super::error::SimError;
use super::events::Ev;
use super::model::{SimLun, SimTarget};
use super::state::State;
use super::sysfs;

impl State {
    /// Adds a target (or adds portals to a known one).
    pub(super) fn add_target(&mut self, iqn: &Iqn, portals: &[Portal]) {
        match self.targets.iter_mut().find(|t| &t.iqn == iqn) {
            Some(t) => {
                for p in portals {
                    if !t.portals.contains(p) {
                        t.portals.push(*p);
                    }
                }
            }
            None => self.targets.push(SimTarget {
                iqn: iqn.clone(),
                portals: portals.to_vec(),
                luns: Vec::new(),
            }),
        }
    }

    /// Creates and maps a LUN; open sessions get the unit attention.
    pub(super) fn add_lun(
        &mut self,
        target: &Iqn,
        lun: u64,
        wwid: Wwid,
        size_bytes: u64,
    ) -> Result<(), SimError> {
        let t = self.target_mut(target)?;
        if t.lun(lun).is_some() {
            return Err(SimError::LunExists {
                target: target.clone(),
                lun,
            });
        }
        t.luns.push(SimLun {
            lun,
            wwid,
            size_bytes,
            exported: true,
        });
        t.luns.sort_by_key(|l| l.lun);
        self.luns_changed(target);
        Ok(())
    }

    /// Maps (`true`) or unmaps a LUN. `false` when it already was so.
    pub(super) fn set_exported(
        &mut self,
        target: &Iqn,
        lun: u64,
        exported: bool,
    ) -> Result<bool, SimError> {
        let l = self
            .target_mut(target)?
            .lun_mut(lun)
            .ok_or_else(|| SimError::NoLun {
                target: target.clone(),
                lun,
            })?;
        if l.exported == exported {
            return Ok(false);
        }
        l.exported = exported;
        let paths: Vec<_> = self
            .devices
            .values_mut()
            .filter(|d| &d.target == target && d.hctl.lun == lun)
            .map(|d| {
                d.failed = !exported;
                d.clone()
            })
            .collect();
        for d in paths {
            self.path_state_changed(&d.block, !exported);
        }
        self.luns_changed(target);
        Ok(true)
    }

    /// The unit attention: one `change` per session of `target`, on its
    /// lowest-numbered device (a session without devices sends no command,
    /// so it never hears of the change).
    fn luns_changed(&mut self, target: &Iqn) {
        let firsts: Vec<_> = self
            .sessions
            .values()
            .filter(|s| &s.target == target)
            .filter_map(|s| {
                let d = self.devices.values().find(|d| d.sid == s.sid)?;
                Some(sysfs::device_dir(s, d.hctl))
            })
            .collect();
        for dir in firsts {
            self.emit(
                Ev::new(Action::Change, format!("/{dir}"), "scsi")
                    .prop("DEVTYPE", "scsi_device")
                    .prop("SDEV_UA", SDEV_UA_LUNS_CHANGED),
            );
        }
    }
}
