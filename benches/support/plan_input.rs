//! In-memory planner inputs for `examples/bench_plan.rs`: the `Snapshot`, attachments, `Policy`
//! and `Context` of a host with 2 iSCSI sessions × N LUNs, built directly (no sysfs tree), so the
//! benchmark times `reconcile::plan` alone.
//!
//! Names and numbers follow `sysfs_tree` (session `s` on host `s-1`, path `h:0:0:lun`, disk
//! `sd_name(h × N + lun)`, map `dm-<lun>` named by its multipath id), so a reader can match the
//! benchmark's host with the generated trees of the other benchmarks.

use std::time::{Duration, SystemTime};

use lunguard::model::DeviceKey;
use lunguard::model::{Attachment, DevT, DmName, Iqn, PolicyOverrides, Portal, Transport, Wwid};
use lunguard::reconcile::{Context, Policy};
use lunguard::snapshot::PathState;
use lunguard::snapshot::{
    BlockDevice, DmDevice, DmKind, HostTransport, IscsiConnection, IscsiSession, ScsiDevice,
    ScsiHost, Snapshot,
};

use super::sysfs_tree::{TARGET_IQN, portal_ip, sd_dev, sd_name, wwid_hex};

/// What to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Declared attachments (intents), each multipath over both portals.
    pub intents: u32,
    /// Observed LUNs not declared (unwanted: removals planned). As many declared LUNs are
    /// absent (scans planned), so the host has exactly `intents` LUNs, 2 × `intents` paths.
    pub unwanted: u32,
}

impl Shape {
    /// Observed LUNs.
    pub fn luns(&self) -> u32 {
        self.intents
    }

    /// Observed paths (2 sessions).
    pub fn paths(&self) -> u64 {
        2 * u64::from(self.luns())
    }
}

/// The planner's four inputs.
#[derive(Debug, Clone)]
pub struct Input {
    /// Declared attachments.
    pub desired: Vec<Attachment>,
    /// The observed host.
    pub observed: Snapshot,
    /// The default policy (blast radius 16, grace 60 s).
    pub policy: Policy,
    /// What the engine would gather: every key first seen a day ago, the target known,
    /// every map's open count 0, every path active in multipathd, nothing open.
    pub ctx: Context,
}

/// Literal values built from constants: a failure is a bug in this file.
fn parse<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    match s.parse() {
        Ok(v) => v,
        Err(e) => panic!("bench input {s:?}: {e:?}"),
    }
}

/// A fixed point in time (the plan is made for it).
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// Builds the inputs: LUNs `0..intents` observed on both sessions, each with its multipath map;
/// LUNs `0..intents - unwanted` and `intents..intents + unwanted` declared.
pub fn build(shape: Shape) -> Input {
    let target: Iqn = parse(TARGET_IQN);
    let portals: Vec<Portal> = (1..=2)
        .map(|s| parse(&format!("{}:3260", portal_ip(s))))
        .collect();
    let luns = shape.luns();
    let mut snap = Snapshot::default();
    let mut ctx = Context::at(now());
    let seen = now() - Duration::from_secs(86_400);
    ctx.known_targets.insert(target.clone());
    for (i, portal) in portals.iter().enumerate() {
        let sid = i as u32 + 1;
        let host = sid - 1;
        snap.hosts.push(ScsiHost {
            host,
            proc_name: Some("iscsi_tcp".into()),
            state: Some("running".into()),
            transport: HostTransport::Iscsi,
            problems: vec![],
        });
        snap.iscsi_sessions.push(IscsiSession {
            id: sid,
            host: Some(host),
            target: Some(target.clone()),
            state: Some("LOGGED_IN".into()),
            target_state: None,
            tpgt: Some(1),
            ifacename: Some("default".into()),
            initiatorname: None,
            connections: vec![IscsiConnection {
                id: format!("{sid}:0"),
                portal: Some(*portal),
                state: Some("up".into()),
            }],
            problems: vec![],
        });
        ctx.first_seen.insert(
            DeviceKey::Session {
                target: target.clone(),
                portal: *portal,
                iface: Some("default".into()),
            },
            seen,
        );
    }
    for h in 0..2u32 {
        for lun in 0..luns {
            let index = u64::from(h) * u64::from(luns) + u64::from(lun);
            let (maj, min) = sd_dev(index);
            let wwid: Wwid = parse(&format!("naa.{}", wwid_hex(lun)));
            let hctl = parse(&format!("{h}:0:0:{lun}"));
            let name = sd_name(index);
            ctx.path_states.insert(name.clone(), PathState::Active);
            ctx.first_seen.insert(
                DeviceKey::Path {
                    hctl,
                    wwid: Some(wwid.clone()),
                },
                seen,
            );
            snap.devices.push(ScsiDevice {
                hctl,
                vendor: Some("LIO-ORG".into()),
                model: Some("RAMDISK-MCP".into()),
                rev: Some("4.0".into()),
                state: Some(parse("running")),
                wwid: Some(wwid),
                wwid_source: None,
                device_blocked: Some(0),
                iorequest_cnt: None,
                iscsi_session: Some(h + 1),
                block: Some(BlockDevice {
                    name,
                    dev: Some(DevT::new(maj as u32, min as u32)),
                    size_bytes: Some(8 << 20),
                    read_only: Some(false),
                    holders: vec![format!("dm-{lun}")],
                    partitions: vec![],
                }),
                problems: vec![],
            });
        }
    }
    // Sorted by address, as the observer hands them out.
    snap.devices.sort_by_key(|d| d.hctl);
    for lun in 0..luns {
        let id = format!("3{}", wwid_hex(lun));
        let name: DmName = parse(&id);
        ctx.open_counts.insert(name.clone(), 0);
        ctx.first_seen
            .insert(DeviceKey::Map { name: name.clone() }, seen);
        snap.dm_devices.push(DmDevice {
            kernel_name: format!("dm-{lun}"),
            name: Some(name),
            uuid: Some(format!("mpath-{id}")),
            kind: DmKind::Multipath,
            suspended: Some(false),
            dev: Some(DevT::new(254, lun)),
            size_bytes: Some(8 << 20),
            read_only: Some(false),
            slaves: (0..2u64)
                .map(|h| sd_name(h * u64::from(luns) + u64::from(lun)))
                .collect(),
            holders: vec![],
            problems: vec![],
        });
    }
    let declared = (0..luns.saturating_sub(shape.unwanted)).chain(luns..luns + shape.unwanted);
    let desired = declared
        .map(|lun| Attachment {
            name: format!("lun-{lun}"),
            transport: Transport::Iscsi,
            target: target.clone(),
            portals: portals.clone(),
            lun: u64::from(lun),
            wwid: Some(parse(&format!("naa.{}", wwid_hex(lun)))),
            multipath: true,
            policy: PolicyOverrides::default(),
        })
        .collect();
    Input {
        desired,
        observed: snap,
        policy: Policy::default(),
        ctx,
    }
}
