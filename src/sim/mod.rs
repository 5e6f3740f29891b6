//! A simulated host: kernel (SCSI midlayer, iSCSI transport, device-mapper),
//! open-iscsi, multipathd and the storage array behind them, in one process
//! and one directory — the tier-2 test bed of DESIGN.md and what `lunguard
//! demo` runs against on a machine without SCSI. stratisd's `--sim` engine
//! is the precedent.
//!
//! The sim writes its state as the kernel lays out sysfs (the layout of
//! `tests/fixtures/iscsi-mpath`, through [`crate::testing::FakeTree`]), so
//! `observe::snapshot(&sim.roots())` reads it like the real thing, and
//! announces every change as kernel + udev [`Uevent`]s to its subscribers.
//! [`SimActuator`] carries out the planner's actions against it with the
//! real actuator's identity checks and errors.
//!
//! What it models: targets with LUNs (WWID, size, mapped to us or not);
//! node records with `node.session.scan`; logins (an `auto` one scans every
//! exported LUN — the autoscan problem); narrowed and broad (`- - -`) scans;
//! `delete`; logout; multipathd building maps as paths appear (friendly
//! names or WWID names), `multipath -f` refused while a map is open or
//! mounted; the array's LUN changes as `REPORTED_LUNS_DATA_HAS_CHANGED`
//! unit attentions and failed paths. What it does not: I/O, timing, FC,
//! partitions, LVM, swap.
//!
//! Never used by the daemon against a real system: only through `lunguard
//! demo` and tests. It writes nothing outside its directory.
//!
//! # Layout
//! - `model`: the public plain data (targets, sessions, devices, maps, mounts).
//! - `state`: the model behind the mutex; `initiator`, `target` and
//!   `multipathd` are its operations; `sysfs` writes the tree; `events`
//!   numbers and delivers uevents; `names` has the kernel's naming rules.
//! - `actuator`: [`SimActuator`], the `act::Actuator` over a `SimHost`.
//! - `lab`: [`Lab`], a ready-made one-target array and its state-file text.

mod actuator;
mod error;
mod events;
mod initiator;
mod lab;
mod model;
mod multipathd;
mod names;
mod state;
mod sysfs;
mod target;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc::UnboundedReceiver;

use crate::model::{DmName, Hctl, Iqn, Portal, ScsiDeviceState, Wwid};
use crate::observe::Roots;
use crate::observe::uevent::Uevent;
use crate::snapshot::PathState;
use crate::testing::FakeTree;

pub use actuator::SimActuator;
pub use error::SimError;
pub use lab::{LAB_PORTALS, LAB_TARGET, Lab};
pub use model::{
    DEFAULT_IFACE, FriendlyNames, ScanMode, SimDevice, SimLun, SimMap, SimMount, SimNode,
    SimSession, SimTarget,
};
pub use names::lio_wwid;

use state::State;

/// Where to make a sim's directory: `/dev/shm` when it is a directory (the
/// sim writes thousands of small files, and sysfs is in memory too — on a
/// disk-backed `/tmp` a scenario takes 20 times longer), else the system's
/// temporary directory.
pub fn scratch_root() -> PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}

/// Size of a LUN added without one: 1 GiB.
pub const DEFAULT_LUN_SIZE: u64 = 1 << 30;

/// A simulated host. Cheap to clone; every clone is the same host.
#[derive(Debug, Clone)]
pub struct SimHost {
    inner: Arc<Mutex<State>>,
}

impl SimHost {
    /// A host with no SCSI devices yet, its tree under `dir` (`sys/`,
    /// `proc/`, `dev/`; created if missing). multipathd runs, with
    /// friendly names.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, SimError> {
        let dir = dir.into();
        let tree = FakeTree::new(&dir).map_err(|source| SimError::Tree {
            what: "the skeleton".into(),
            dir: dir.clone(),
            source,
        })?;
        Ok(Self {
            inner: Arc::new(Mutex::new(State::new(tree))),
        })
    }

    // A panic in another thread mid-change leaves plain data; a test that
    // panicked has already failed, so carrying on is harmless.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The directory the tree is in.
    pub fn dir(&self) -> PathBuf {
        self.lock().tree.dir().to_owned()
    }

    /// Where the observer (and the config's `[roots]`) should look.
    pub fn roots(&self) -> Roots {
        self.lock().tree.roots()
    }

    /// Every later event, kernel then udev for each change.
    pub fn subscribe(&self) -> UnboundedReceiver<Uevent> {
        self.lock().bus.subscribe()
    }

    /// How many changes have been announced (each as a kernel + udev pair).
    pub fn events_sent(&self) -> u64 {
        self.lock().bus.sent()
    }

    /// Starts (`true`) or stops multipathd. Stopped, no map appears by
    /// itself; `multipath <path>` (`MultipathAdd`) still builds one.
    pub fn set_multipathd(&self, running: bool) {
        self.lock().multipathd = running;
    }

    /// How new maps are named.
    pub fn set_friendly_names(&self, names: FriendlyNames) {
        self.lock().friendly = names;
    }

    // ---- the array ----

    /// Adds a target listening on `portals` (or more portals to one).
    pub fn add_target(&self, iqn: &Iqn, portals: &[Portal]) {
        self.lock().add_target(iqn, portals);
    }

    /// Creates LUN `lun` (1 GiB) and maps it to us; sessions to the target
    /// get a `REPORTED_LUNS_DATA_HAS_CHANGED` change event, and no scan.
    pub fn add_lun(&self, target: &Iqn, lun: u64, wwid: Wwid) -> Result<(), SimError> {
        self.add_lun_sized(target, lun, wwid, DEFAULT_LUN_SIZE)
    }

    /// [`SimHost::add_lun`] with a size.
    pub fn add_lun_sized(
        &self,
        target: &Iqn,
        lun: u64,
        wwid: Wwid,
        size_bytes: u64,
    ) -> Result<(), SimError> {
        self.lock().add_lun(target, lun, wwid, size_bytes)
    }

    /// Maps a LUN to us again; its paths recover. `false` if it already was.
    pub fn export(&self, target: &Iqn, lun: u64) -> Result<bool, SimError> {
        self.lock().set_exported(target, lun, true)
    }

    /// Unmaps a LUN: later scans do not find it, and the paths present fail
    /// (multipathd reports them failed). `false` if it already was.
    pub fn unexport(&self, target: &Iqn, lun: u64) -> Result<bool, SimError> {
        self.lock().set_exported(target, lun, false)
    }

    // ---- the initiator ----

    /// Writes the node record of the `default` iface with `scan` and logs
    /// in; returns the session (the existing one if already logged in).
    pub fn login(
        &self,
        target: &Iqn,
        portal: &Portal,
        scan: ScanMode,
    ) -> Result<SimSession, SimError> {
        self.login_via(target, portal, DEFAULT_IFACE, scan)
    }

    /// `iscsiadm -m node -T -p -I IFACE --login`: the record of `iface`, and
    /// a session through it (a second session to the same portal when
    /// another iface is logged in already).
    pub fn login_via(
        &self,
        target: &Iqn,
        portal: &Portal,
        iface: &str,
        scan: ScanMode,
    ) -> Result<SimSession, SimError> {
        self.lock().login(target, portal, iface, scan)
    }

    /// `iscsiadm -m node -T -p --logout` without `-I`: logs out *every*
    /// iface's session to the portal (removing their devices), as
    /// open-iscsi does. `false` if none was logged in.
    pub fn logout(&self, target: &Iqn, portal: &Portal) -> Result<bool, SimError> {
        self.lock().logout_all(target, portal)
    }

    /// `iscsiadm -m session -r SID --logout`: exactly that session. `false`
    /// if there is no such session.
    pub fn logout_session(&self, sid: u32) -> Result<bool, SimError> {
        self.lock().logout_sid(sid)
    }

    /// Deletes the node record of (target, portal, iface). `false` if there
    /// was none.
    pub fn delete_node(&self, target: &Iqn, portal: &Portal, iface: &str) -> bool {
        self.lock().delete_node(target, portal, iface)
    }

    /// `echo "<spec>" > /sys/class/scsi_host/host<host>/scan`; returns what
    /// was added.
    pub fn scan(&self, host: u32, spec: &str) -> Result<Vec<Hctl>, SimError> {
        self.lock().scan(host, spec)
    }

    /// `echo "- - -" > …/scan`, what other tools (and `iscsiadm --rescan`)
    /// do: every exported LUN not present comes (back).
    pub fn broad_rescan(&self, host: u32) -> Result<Vec<Hctl>, SimError> {
        self.scan(host, "- - -")
    }

    /// `echo 1 > …/device/delete`. `false` if there was no such device.
    pub fn delete(&self, hctl: Hctl) -> Result<bool, SimError> {
        self.lock().delete(hctl)
    }

    /// Sets a device's `state` (e.g. `blocked`, `offline`); no uevent, as
    /// with the kernel.
    pub fn set_device_state(&self, hctl: Hctl, state: ScsiDeviceState) -> Result<(), SimError> {
        self.lock().set_state(hctl, state)
    }

    // ---- multipath and uses ----

    /// `multipathd del path <block>`: takes the path out of its map (`false`: it was in none).
    pub fn remove_from_map(&self, block: &str) -> Result<bool, SimError> {
        let mut st = self.lock();
        if st.map_with_slave(block).is_none() {
            return Ok(false);
        }
        st.path_removing(block)?;
        Ok(true)
    }

    /// `multipath -a <id>` / `multipath -w <id>` on the simulated host's wwids file
    /// (`etc/multipath/wwids` in its tree), written in multipath's format. `false` when the entry
    /// already was (for `-a`) or was not (for `-w`) there.
    pub fn wwids_edit(&self, id: &str, add: bool) -> std::io::Result<bool> {
        let path = self.roots().multipath_wwids;
        let mut ids = crate::observe::wwids::read_wwids(&path)?;
        let changed = if add {
            ids.insert(id.to_owned())
        } else {
            ids.remove(id)
        };
        if changed {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut text = String::from("# Multipath wwids, Version : 1.0\n");
            for i in &ids {
                text.push_str(&format!("/{i}/\n"));
            }
            std::fs::write(&path, text)?;
        }
        Ok(changed)
    }

    /// `multipath /dev/<block>`. `false` if `block` is already in a map.
    pub fn multipath_add(&self, block: &str) -> Result<bool, SimError> {
        self.lock().multipath_add(block)
    }

    /// `multipath -f <name>`: `Err(MapInUse)` while it is open or mounted;
    /// `false` if there is no such map.
    pub fn flush(&self, name: &str) -> Result<bool, SimError> {
        self.lock().flush(name)
    }

    /// Mounts a map (by name or `dm-N`) or a disk (`sdX`) at `mount_point`.
    pub fn mount(&self, name: &str, mount_point: &str) -> Result<(), SimError> {
        self.lock().mount(name, mount_point)
    }

    /// Unmounts `mount_point`. `false` if nothing was mounted there.
    pub fn unmount(&self, mount_point: &str) -> Result<bool, SimError> {
        self.lock().unmount(mount_point)
    }

    /// Sets how many openers besides mounts map `name` has (a database
    /// with the device open).
    pub fn set_open_count(&self, name: &str, count: u32) -> Result<(), SimError> {
        self.lock().set_open(name, count)
    }

    /// Open count per map, as `dmsetup info -c -o name,open` reports it
    /// (mounts included): the `Context::open_counts` an inspector gives.
    pub fn open_counts(&self) -> BTreeMap<DmName, u32> {
        self.lock().open_counts()
    }

    /// Each map path's state, as `multipathd show paths` reports it: the
    /// `Context::path_states` an inspector gives.
    pub fn path_states(&self) -> BTreeMap<String, PathState> {
        self.lock().path_states()
    }

    // ---- what the sim says it has ----

    /// The array's targets.
    pub fn targets(&self) -> Vec<SimTarget> {
        self.lock().targets.clone()
    }

    /// Node records.
    pub fn nodes(&self) -> Vec<SimNode> {
        self.lock().nodes.clone()
    }

    /// Sessions, by id.
    pub fn sessions(&self) -> Vec<SimSession> {
        self.lock().sessions.values().cloned().collect()
    }

    /// SCSI devices, by address.
    pub fn devices(&self) -> Vec<SimDevice> {
        self.lock().devices.values().cloned().collect()
    }

    /// Multipath maps, by N of `dm-N`.
    pub fn maps(&self) -> Vec<SimMap> {
        self.lock().maps.values().cloned().collect()
    }

    /// Mounts.
    pub fn mounts(&self) -> Vec<SimMount> {
        self.lock().mounts.clone()
    }

    /// A session to `target` at `portal` (any iface), if logged in.
    pub fn session(&self, target: &Iqn, portal: &Portal) -> Option<SimSession> {
        self.lock().session_to(target, portal).cloned()
    }

    /// The session to `target` at `portal` through `iface`, if logged in.
    pub fn session_via(&self, target: &Iqn, portal: &Portal, iface: &str) -> Option<SimSession> {
        self.lock().session_via(target, portal, iface).cloned()
    }
}
