//! `State`: everything the simulated host knows, behind the `SimHost`
//! mutex. Operations (in `initiator`, `target`, `multipathd`) change the
//! model, write the tree and announce events in one critical section, so a
//! snapshot never sees half a change and events arrive in a real order.

use std::collections::BTreeMap;
use std::io;

use crate::model::{DmName, Hctl, Iqn, Portal, Wwid};
use crate::testing::FakeTree;

use super::error::SimError;
use super::events::{Bus, Ev};
use super::model::{FriendlyNames, SimDevice, SimMap, SimMount, SimNode, SimSession, SimTarget};

/// The simulated host's whole state.
#[derive(Debug)]
pub(super) struct State {
    pub tree: FakeTree,
    pub targets: Vec<SimTarget>,
    pub nodes: Vec<SimNode>,
    pub sessions: BTreeMap<u32, SimSession>,
    pub devices: BTreeMap<Hctl, SimDevice>,
    /// sd index (a, b, … = 0, 1, …) of each device.
    pub sd_index: BTreeMap<Hctl, u32>,
    /// Maps by N of `dm-N`.
    pub maps: BTreeMap<u32, SimMap>,
    /// multipath's bindings file: friendly name per WWID, kept across flushes.
    pub bindings: Vec<(Wwid, String)>,
    pub mounts: Vec<SimMount>,
    /// Opens besides mounts (a database holding the device, `sim.open`).
    pub open: BTreeMap<DmName, u32>,
    /// Whether multipathd runs and builds maps as paths appear.
    pub multipathd: bool,
    pub friendly: FriendlyNames,
    /// Session ids only grow (`iscsi_session_nr` in the kernel).
    pub next_sid: u32,
    pub bus: Bus,
}

impl State {
    pub(super) fn new(tree: FakeTree) -> Self {
        Self {
            tree,
            targets: Vec::new(),
            nodes: Vec::new(),
            sessions: BTreeMap::new(),
            devices: BTreeMap::new(),
            sd_index: BTreeMap::new(),
            maps: BTreeMap::new(),
            bindings: Vec::new(),
            mounts: Vec::new(),
            open: BTreeMap::new(),
            multipathd: true,
            friendly: FriendlyNames::Mpath,
            next_sid: 1,
            bus: Bus::default(),
        }
    }

    /// Maps an IO error on the tree to `SimError::Tree`.
    pub(super) fn io(&self, what: impl Into<String>) -> impl FnOnce(io::Error) -> SimError {
        let what = what.into();
        let dir = self.tree.dir().to_owned();
        move |source| SimError::Tree { what, dir, source }
    }

    pub(super) fn emit(&mut self, ev: Ev) {
        self.bus.emit(ev);
    }

    pub(super) fn target(&self, iqn: &Iqn) -> Result<&SimTarget, SimError> {
        self.targets
            .iter()
            .find(|t| &t.iqn == iqn)
            .ok_or_else(|| SimError::NoTarget(iqn.clone()))
    }

    pub(super) fn target_mut(&mut self, iqn: &Iqn) -> Result<&mut SimTarget, SimError> {
        self.targets
            .iter_mut()
            .find(|t| &t.iqn == iqn)
            .ok_or_else(|| SimError::NoTarget(iqn.clone()))
    }

    pub(super) fn session_to(&self, target: &Iqn, portal: &Portal) -> Option<&SimSession> {
        self.sessions
            .values()
            .find(|s| &s.target == target && &s.portal == portal)
    }

    pub(super) fn session_via(
        &self,
        target: &Iqn,
        portal: &Portal,
        iface: &str,
    ) -> Option<&SimSession> {
        self.sessions
            .values()
            .find(|s| &s.target == target && &s.portal == portal && s.iface == iface)
    }

    pub(super) fn session_on_host(&self, host: u32) -> Option<&SimSession> {
        self.sessions.values().find(|s| s.host == host)
    }

    /// The device whose block device is `name`.
    pub(super) fn device_by_block(&self, name: &str) -> Option<&SimDevice> {
        self.devices.values().find(|d| d.block == name)
    }

    pub(super) fn map_by_name(&self, name: &str) -> Option<&SimMap> {
        self.maps.values().find(|m| m.name.as_str() == name)
    }

    pub(super) fn map_of_wwid(&self, wwid: &Wwid) -> Option<&SimMap> {
        self.maps.values().find(|m| &m.wwid == wwid)
    }

    pub(super) fn map_with_slave(&self, block: &str) -> Option<&SimMap> {
        self.maps
            .values()
            .find(|m| m.slaves.iter().any(|s| s == block))
    }
}
