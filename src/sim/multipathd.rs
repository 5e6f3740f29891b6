//! The simulated multipathd and device-mapper: maps built as paths appear
//! (when multipathd runs) or on `multipath <path>`, paths leaving their map
//! when deleted, `multipath -f` refused while the map is open, and the two
//! facts `dmsetup info` and `multipathd show paths` report (open counts,
//! path states). Mounts count as opens, as they do in the kernel.
//!
//! When a map's last path is deleted the map is removed if nothing has it
//! open, as multipathd does with `flush_on_last_del`; an open map stays,
//! path-less (a "dead map" for the planner's rule 4).

use std::collections::BTreeMap;

use crate::model::{DevT, DmName, Hctl, Wwid};
use crate::observe::uevent::Action;
use crate::snapshot::PathState;

use super::error::SimError;
use super::events::Ev;
use super::model::{FriendlyNames, SimMap, SimMount};
use super::names::{DM_MAJOR, lowest_free, mpath_name};
use super::state::State;
use super::sysfs;

impl State {
    /// multipathd's reaction to a new path: extend its WWID's map, or build one.
    pub(super) fn path_added(&mut self, hctl: Hctl) -> Result<(), SimError> {
        let Some(d) = self.devices.get(&hctl).cloned() else {
            return Ok(());
        };
        match self.map_of_wwid(&d.wwid).map(|m| m.n) {
            Some(n) => self.add_slave(n, &d.block),
            None => self.create_map(&d.wwid).map(|_| ()),
        }
    }

    /// `multipath /dev/<block>`: builds (or completes) the map of the LUN
    /// behind `block`. `false` when `block` is already in a map.
    pub(super) fn multipath_add(&mut self, block: &str) -> Result<bool, SimError> {
        let d = self
            .device_by_block(block)
            .cloned()
            .ok_or_else(|| SimError::NoBlock(block.to_owned()))?;
        if self.map_with_slave(block).is_some() {
            return Ok(false);
        }
        match self.map_of_wwid(&d.wwid).map(|m| m.n) {
            Some(n) => {
                let missing: Vec<String> = self
                    .devices
                    .values()
                    .filter(|x| x.wwid == d.wwid && self.map_with_slave(&x.block).is_none())
                    .map(|x| x.block.clone())
                    .collect();
                for b in missing {
                    self.add_slave(n, &b)?;
                }
            }
            None => {
                self.create_map(&d.wwid)?;
            }
        }
        Ok(true)
    }

    fn map_name(&mut self, wwid: &Wwid) -> Result<DmName, SimError> {
        let id = wwid.multipath_id().unwrap_or_else(|| wwid.to_string());
        let name = match self.friendly {
            FriendlyNames::Wwid => id,
            FriendlyNames::Mpath => match self.bindings.iter().find(|(w, _)| w == wwid) {
                Some((_, n)) => n.clone(),
                None => {
                    // The bindings file hands out the lowest unused name.
                    let n = (0u32..)
                        .map(mpath_name)
                        .find(|n| !self.bindings.iter().any(|(_, b)| b == n))
                        .unwrap_or_else(|| "mpath".into());
                    self.bindings.push((wwid.clone(), n.clone()));
                    n
                }
            },
        };
        name.parse()
            .map_err(|_| SimError::NotAPath(format!("map name {name:?} for {wwid}")))
    }

    fn create_map(&mut self, wwid: &Wwid) -> Result<u32, SimError> {
        let paths: Vec<_> = self
            .devices
            .values()
            .filter(|d| &d.wwid == wwid)
            .cloned()
            .collect();
        let Some(first) = paths.first() else {
            return Err(SimError::NotAPath(wwid.to_string()));
        };
        let n = lowest_free(self.maps.keys().copied());
        let m = SimMap {
            name: self.map_name(wwid)?,
            n,
            dev: DevT::new(DM_MAJOR, n),
            wwid: wwid.clone(),
            uuid: format!(
                "mpath-{}",
                wwid.multipath_id().unwrap_or_else(|| wwid.to_string())
            ),
            size_bytes: first.size_bytes,
            slaves: paths.iter().map(|d| d.block.clone()).collect(),
            queueing: true,
        };
        sysfs::add_map(&self.tree, &m).map_err(self.io(format!("map {}", m.name)))?;
        self.maps.insert(n, m.clone());
        self.emit(dm_event(Action::Add, &m, false));
        self.emit(dm_event(Action::Change, &m, true).prop("DM_COOKIE", 6_291_456));
        for d in &paths {
            self.emit(
                Ev::new(Action::Change, self.block_devpath(&d.block), "block")
                    .prop("DEVNAME", &d.block)
                    .prop("DEVTYPE", "disk")
                    .prop("SYNTH_UUID", 0)
                    .udev_prop("DM_MULTIPATH_DEVICE_PATH", 1),
            );
        }
        Ok(n)
    }

    fn block_devpath(&self, block: &str) -> String {
        self.device_by_block(block)
            .and_then(|d| {
                let s = self.sessions.get(&d.sid)?;
                Some(format!("/{}/block/{block}", sysfs::device_dir(s, d.hctl)))
            })
            .unwrap_or_else(|| format!("/devices/virtual/block/{block}"))
    }

    fn add_slave(&mut self, n: u32, block: &str) -> Result<(), SimError> {
        let Some(d) = self.device_by_block(block).cloned() else {
            return Ok(());
        };
        let Some(s) = self.sessions.get(&d.sid).cloned() else {
            return Ok(());
        };
        let Some(m) = self.maps.get(&n).cloned() else {
            return Ok(());
        };
        if m.slaves.iter().any(|x| x == block) {
            return Ok(());
        }
        sysfs::add_slave(&self.tree, &m, block, &sysfs::device_dir(&s, d.hctl))
            .map_err(self.io(format!("slave {block} of map {}", m.name)))?;
        if let Some(m) = self.maps.get_mut(&n) {
            m.slaves.push(block.to_owned());
            let m = m.clone();
            self.emit(dm_event(Action::Change, &m, true).prop("DM_COOKIE", 6_291_456));
        }
        Ok(())
    }

    /// A path is about to be deleted: take it out of its map; a map left
    /// without paths and not open goes too.
    pub(super) fn path_removing(&mut self, block: &str) -> Result<(), SimError> {
        let Some(m) = self.map_with_slave(block).cloned() else {
            return Ok(());
        };
        sysfs::remove_slave(&self.tree, &m, block)
            .map_err(self.io(format!("slave {block} of map {}", m.name)))?;
        let Some(mm) = self.maps.get_mut(&m.n) else {
            return Ok(());
        };
        mm.slaves.retain(|s| s != block);
        let m = mm.clone();
        if m.slaves.is_empty() && self.open_count(&m) == 0 {
            self.remove_map(m.n)?;
        } else {
            self.emit(dm_event(Action::Change, &m, true).prop("DM_COOKIE", 6_291_456));
        }
        Ok(())
    }

    fn remove_map(&mut self, n: u32) -> Result<(), SimError> {
        let Some(m) = self.maps.get(&n).cloned() else {
            return Ok(());
        };
        sysfs::remove_map(&self.tree, &m).map_err(self.io(format!("map {}", m.name)))?;
        self.maps.remove(&n);
        self.open.remove(&m.name);
        self.emit(dm_event(Action::Remove, &m, true));
        Ok(())
    }

    /// `multipath -f <name>`: removes the map unless it is open.
    /// `false` when there is no such map.
    pub(super) fn flush(&mut self, name: &str) -> Result<bool, SimError> {
        let Some(m) = self.map_by_name(name).cloned() else {
            return Ok(false);
        };
        if self.open_count(&m) > 0 {
            return Err(SimError::MapInUse(m.name));
        }
        self.remove_map(m.n)?;
        Ok(true)
    }

    /// `dmsetup message <name> 0 fail_if_no_path`. `false` when already so.
    pub(super) fn disable_queueing(&mut self, name: &str) -> Result<bool, SimError> {
        let Some(m) = self.maps.values_mut().find(|m| m.name.as_str() == name) else {
            return Err(SimError::NoMap(name.to_owned()));
        };
        let was = std::mem::replace(&mut m.queueing, false);
        Ok(was)
    }

    /// dm-mpath's `PATH_FAILED` / `PATH_REINSTATED` event for `block`.
    pub(super) fn path_state_changed(&mut self, block: &str, failed: bool) {
        let Some(m) = self.map_with_slave(block).cloned() else {
            return;
        };
        let Some(d) = self.device_by_block(block).cloned() else {
            return;
        };
        let valid = m
            .slaves
            .iter()
            .filter(|s| self.device_by_block(s).is_some_and(|x| !x.failed))
            .count();
        let what = if failed {
            "PATH_FAILED"
        } else {
            "PATH_REINSTATED"
        };
        self.emit(
            dm_event(Action::Change, &m, false)
                .prop("DM_TARGET", "multipath")
                .prop("DM_ACTION", what)
                .prop("DM_NAME", &m.name)
                .prop("DM_UUID", &m.uuid)
                .prop("DM_PATH", d.dev)
                .prop("DM_NR_VALID_PATHS", valid),
        );
    }

    /// Opens of `m`: the explicit count plus its mounts.
    pub(super) fn open_count(&self, m: &SimMap) -> u32 {
        let mounts = self.mounts.iter().filter(|x| x.dev == m.dev).count();
        self.open.get(&m.name).copied().unwrap_or(0) + u32::try_from(mounts).unwrap_or(u32::MAX)
    }

    /// `dmsetup info -c -o name,open` as data.
    pub(super) fn open_counts(&self) -> BTreeMap<DmName, u32> {
        self.maps
            .values()
            .map(|m| (m.name.clone(), self.open_count(m)))
            .collect()
    }

    /// `multipathd show paths format "%d %t"` as data.
    pub(super) fn path_states(&self) -> BTreeMap<String, PathState> {
        self.maps
            .values()
            .flat_map(|m| &m.slaves)
            .filter_map(|s| {
                let d = self.device_by_block(s)?;
                let st = if d.failed {
                    PathState::Failed
                } else {
                    PathState::Active
                };
                Some((s.clone(), st))
            })
            .collect()
    }

    /// Mounts `name` (a map name, `dm-N` or `sdX`) at `mount_point`.
    pub(super) fn mount(&mut self, name: &str, mount_point: &str) -> Result<(), SimError> {
        let found = if let Some(m) = self
            .maps
            .values()
            .find(|m| m.name.as_str() == name || m.kernel_name() == name)
        {
            (m.dev, m.kernel_name(), format!("/dev/mapper/{}", m.name))
        } else if let Some(d) = self.device_by_block(name) {
            (d.dev, d.block.clone(), format!("/dev/{}", d.block))
        } else {
            return Err(SimError::NoBlock(name.to_owned()));
        };
        self.mounts.push(SimMount {
            dev: found.0,
            kernel_name: found.1,
            mount_point: mount_point.to_owned(),
            source: found.2,
        });
        sysfs::write_mountinfo(&self.tree, &self.mounts).map_err(self.io("mountinfo"))
    }

    /// Unmounts `mount_point`; `false` if nothing was mounted there.
    pub(super) fn unmount(&mut self, mount_point: &str) -> Result<bool, SimError> {
        let before = self.mounts.len();
        self.mounts.retain(|m| m.mount_point != mount_point);
        sysfs::write_mountinfo(&self.tree, &self.mounts).map_err(self.io("mountinfo"))?;
        Ok(self.mounts.len() != before)
    }

    /// Sets the opens of map `name` besides its mounts.
    pub(super) fn set_open(&mut self, name: &str, count: u32) -> Result<(), SimError> {
        let m = self
            .map_by_name(name)
            .ok_or_else(|| SimError::NoMap(name.to_owned()))?
            .name
            .clone();
        self.open.insert(m, count);
        Ok(())
    }
}

/// A block event for map `m`; `named` adds what udev's dm rules import.
fn dm_event(action: Action, m: &SimMap, named: bool) -> Ev {
    let id = m.uuid.trim_start_matches("mpath-").to_owned();
    let ev = Ev::new(action, format!("/{}", sysfs::dm_dir(m.n)), "block")
        .prop("DEVNAME", m.kernel_name())
        .prop("DEVTYPE", "disk")
        .prop("MAJOR", m.dev.major)
        .prop("MINOR", m.dev.minor);
    if !named {
        return ev;
    }
    ev.udev_prop("DM_NAME", &m.name)
        .udev_prop("DM_UUID", &m.uuid)
        .udev_prop("DM_SUSPENDED", 0)
        .udev_prop("DM_SERIAL", &id)
        .udev_prop("MPATH_DEVICE_READY", 1)
        .udev_prop(
            "DEVLINKS",
            format!(
                "/dev/mapper/{} /dev/disk/by-id/dm-name-{} /dev/disk/by-id/dm-uuid-{}",
                m.name, m.name, m.uuid
            ),
        )
}
