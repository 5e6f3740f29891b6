//! Hand-built snapshots for the planner tests: `Snapshot` is plain data, so
//! topologies are written down directly instead of faked in sysfs.
#![allow(dead_code)]
// each test binary uses a different subset
// Builders over literal test data: a bad literal should panic at once.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use lunguard::model::{Attachment, DevT, DmName, Hctl, PolicyOverrides, Transport};
use lunguard::plan::{Action, Plan};
use lunguard::reconcile::{Context, Policy};
use lunguard::snapshot::{
    BlockDevice, DmDevice, DmKind, HostTransport, IscsiConnection, IscsiSession, Mount, ScsiDevice,
    ScsiHost, Snapshot,
};

pub const T1: &str = "iqn.2026-11.test.lunguard:target1";
pub const T2: &str = "iqn.2026-11.test.lunguard:target2";
pub const OTHER: &str = "iqn.2026-11.example.other:foreign";
pub const P1: &str = "127.0.0.1:3260";
pub const P2: &str = "127.0.0.2:3260";

/// `naa.` WWID number `n`.
pub fn wwid(n: u32) -> String {
    format!("naa.600140500291fe6000{n:02}0000feed00000")
}

/// The multipath id of `wwid(n)`.
pub fn mpath_id(n: u32) -> String {
    format!("3600140500291fe6000{n:02}0000feed00000")
}

/// A snapshot under construction.
#[derive(Debug, Clone, Default)]
pub struct Topo {
    pub snap: Snapshot,
    next_minor: u32,
}

impl Topo {
    pub fn new() -> Self {
        Self::default()
    }

    /// A local (non-iSCSI) host with driver `proc_name`.
    pub fn host(&mut self, host: u32, proc_name: &str) -> &mut Self {
        self.snap.hosts.push(ScsiHost {
            host,
            proc_name: Some(proc_name.into()),
            state: Some("running".into()),
            transport: HostTransport::Other,
            problems: vec![],
        });
        self
    }

    /// An iSCSI session `sid` on host `host`.
    pub fn session(&mut self, sid: u32, host: u32, target: &str, portal: &str) -> &mut Self {
        self.snap.hosts.push(ScsiHost {
            host,
            proc_name: Some("iscsi_tcp".into()),
            state: Some("running".into()),
            transport: HostTransport::Iscsi,
            problems: vec![],
        });
        self.snap.iscsi_sessions.push(IscsiSession {
            id: sid,
            host: Some(host),
            target: Some(target.parse().unwrap()),
            state: Some("LOGGED_IN".into()),
            target_state: None,
            tpgt: Some(1),
            ifacename: Some("default".into()),
            initiatorname: None,
            connections: vec![IscsiConnection {
                id: format!("{sid}:0"),
                portal: Some(portal.parse().unwrap()),
                state: Some("up".into()),
            }],
            problems: vec![],
        });
        self
    }

    /// Sets the open-iscsi iface (`ifacename`) of session `sid`; `None` = unreadable.
    pub fn iface(&mut self, sid: u32, iface: Option<&str>) -> &mut Self {
        let s = self
            .snap
            .iscsi_sessions
            .iter_mut()
            .find(|s| s.id == sid)
            .unwrap();
        s.ifacename = iface.map(str::to_owned);
        self
    }

    /// A disk at `hctl` (under session `sid` if given) named `block`.
    pub fn disk(&mut self, hctl: &str, sid: Option<u32>, block: &str, wwid: &str) -> &mut Self {
        self.next_minor += 16;
        self.snap.devices.push(ScsiDevice {
            hctl: hctl.parse().unwrap(),
            vendor: Some("LIO-ORG".into()),
            model: Some("RAMDISK-MCP".into()),
            rev: None,
            state: Some("running".parse().unwrap()),
            wwid: Some(wwid.parse().unwrap()),
            wwid_source: None,
            device_blocked: None,
            iorequest_cnt: None,
            iscsi_session: sid,
            block: Some(BlockDevice {
                name: block.into(),
                dev: Some(DevT::new(8, self.next_minor)),
                size_bytes: Some(8 << 20),
                read_only: Some(false),
                holders: vec![],
                partitions: vec![],
            }),
            problems: vec![],
        });
        self
    }

    /// A multipath map `dm-N` named `name` over `slaves` (sets their holders).
    pub fn map(&mut self, n: u32, name: &str, id: &str, slaves: &[&str]) -> &mut Self {
        let kname = format!("dm-{n}");
        for d in &mut self.snap.devices {
            if let Some(b) = &mut d.block
                && slaves.contains(&b.name.as_str())
            {
                b.holders.push(kname.clone());
            }
        }
        self.snap.dm_devices.push(DmDevice {
            kernel_name: kname,
            name: Some(name.parse().unwrap()),
            uuid: Some(format!("mpath-{id}")),
            kind: DmKind::Multipath,
            suspended: Some(false),
            dev: Some(DevT::new(254, n)),
            size_bytes: Some(8 << 20),
            read_only: Some(false),
            slaves: slaves.iter().map(|s| (*s).to_owned()).collect(),
            holders: vec![],
            problems: vec![],
        });
        self
    }

    pub fn device_mut(&mut self, hctl: &str) -> &mut ScsiDevice {
        let h: Hctl = hctl.parse().unwrap();
        self.snap.devices.iter_mut().find(|d| d.hctl == h).unwrap()
    }

    pub fn map_mut(&mut self, kname: &str) -> &mut DmDevice {
        self.snap
            .dm_devices
            .iter_mut()
            .find(|d| d.kernel_name == kname)
            .unwrap()
    }

    /// Mounts device `dev` at `at`.
    pub fn mount(&mut self, dev: DevT, at: &str) -> &mut Self {
        self.snap.mounts.push(Mount {
            dev,
            mount_point: at.into(),
            source: "/dev/x".into(),
            fstype: "xfs".into(),
        });
        self
    }
}

/// An attachment.
pub fn att(
    name: &str,
    target: &str,
    portals: &[&str],
    lun: u64,
    wwid: Option<&str>,
    multipath: bool,
) -> Attachment {
    Attachment {
        name: name.into(),
        transport: Transport::Iscsi,
        target: target.parse().unwrap(),
        portals: portals.iter().map(|p| p.parse().unwrap()).collect(),
        lun,
        wwid: wwid.map(|w| w.parse().unwrap()),
        multipath,
        policy: PolicyOverrides::default(),
    }
}

/// A fixed point in time.
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// Policy with no grace period (most rule tests are about what happens after it).
pub fn no_grace() -> Policy {
    Policy {
        grace: Duration::ZERO,
        ..Policy::default()
    }
}

pub fn ctx() -> Context {
    Context::at(now())
}

/// The plan's lines.
pub fn lines(plan: &Plan) -> Vec<String> {
    plan.steps.iter().map(ToString::to_string).collect()
}

/// The kinds of the plan's actions, in order.
pub fn kinds(plan: &Plan) -> Vec<&'static str> {
    plan.steps.iter().map(|s| s.action.kind()).collect()
}

/// Every path the plan deletes.
pub fn deleted(plan: &Plan) -> Vec<Hctl> {
    plan.steps
        .iter()
        .flat_map(|s| match &s.action {
            Action::DeletePaths { paths, .. } => paths.iter().map(|p| p.hctl).collect(),
            _ => vec![],
        })
        .collect()
}

/// Every map the plan flushes.
pub fn flushed(plan: &Plan) -> Vec<DmName> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::FlushMap { map, .. } => Some(map.name.clone()),
            _ => None,
        })
        .collect()
}

/// Two sessions to T1 (hosts 0 and 1) with LUNs 0..n on both, each LUN
/// multipathed as dm-L named by its id: the shape of the iscsi-mpath fixture.
pub fn two_portal_mpath(luns: u32) -> Topo {
    let mut t = Topo::new();
    t.session(1, 0, T1, P1).session(2, 1, T1, P2);
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    for l in 0..luns {
        let a = format!("sd{}", names[(2 * l) as usize]);
        let b = format!("sd{}", names[(2 * l + 1) as usize]);
        t.disk(&format!("0:0:0:{l}"), Some(1), &a, &wwid(l));
        t.disk(&format!("1:0:0:{l}"), Some(2), &b, &wwid(l));
        t.map(l, &mpath_id(l), &mpath_id(l), &[&a, &b]);
    }
    t
}

/// Attachments declaring LUNs `luns` of `two_portal_mpath`.
pub fn declared(luns: &[u32]) -> Vec<Attachment> {
    luns.iter()
        .map(|l| {
            att(
                &format!("vol{l}"),
                T1,
                &[P1, P2],
                u64::from(*l),
                Some(&wwid(*l)),
                true,
            )
        })
        .collect()
}

/// An address from its text.
pub fn h(s: &str) -> Hctl {
    s.parse().unwrap()
}
