//! Properties of the planner over random topologies: three targets (one
//! declared, one known from an earlier attach, one foreign), a local disk,
//! random LUNs with random paths, maps, uses, states and declarations.

// The topology builder panics on a bad literal, like the tests themselves.
#![allow(clippy::unwrap_used)]

mod planner_support;

use std::collections::BTreeSet;
use std::time::Duration;

use lunguard::model::{Attachment, DevT, DmName, Hctl};
use lunguard::plan::Action;
use lunguard::reconcile::{Context, Policy, plan, quarantine_list};
use planner_support::*;
use proptest::prelude::*;

/// One LUN of the generated topology.
#[derive(Debug, Clone)]
struct GenLun {
    target: usize,  // 0 = T1 (declared), 1 = T2 (known), 2 = foreign
    on_portals: u8, // bit 0 = P1, bit 1 = P2
    multipath: bool,
    declared: u8, // 0 = no, 1 = yes, 2 = yes but wrong WWID
    mounted: bool,
    blocked: bool,
}

fn gen_lun() -> impl Strategy<Value = GenLun> {
    (
        0usize..3,
        1u8..4,
        any::<bool>(),
        0u8..3,
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(target, on_portals, multipath, declared, mounted, blocked)| GenLun {
                target,
                on_portals,
                multipath,
                declared,
                mounted,
                blocked,
            },
        )
}

const TARGETS: [&str; 3] = [T1, T2, OTHER];

struct World {
    topo: Topo,
    desired: Vec<Attachment>,
    ctx: Context,
    /// Paths that must never be deleted: intended, in use or out of scope.
    protected: BTreeSet<Hctl>,
    /// map name → its slaves' addresses.
    maps: Vec<(DmName, Vec<Hctl>)>,
}

fn build(luns: &[GenLun]) -> World {
    let mut t = Topo::new();
    // host = target*2 + portal; session id = host + 1
    for (ti, target) in TARGETS.iter().enumerate() {
        for (pi, portal) in [P1, P2].iter().enumerate() {
            let host = (ti * 2 + pi) as u32;
            t.session(host + 1, host, target, portal);
        }
    }
    t.host(9, "ahci")
        .disk("9:0:0:0", None, "sdroot", "t10.ATA root");
    let root_dev = t.device_mut("9:0:0:0").block.as_ref().unwrap().dev.unwrap();
    t.mount(root_dev, "/");
    let mut protected: BTreeSet<Hctl> = ["9:0:0:0".parse().unwrap()].into();
    let mut desired = Vec::new();
    let mut maps = Vec::new();
    for (i, l) in luns.iter().enumerate() {
        let lun = i as u32;
        let mut blocks = Vec::new();
        let mut hctls = Vec::new();
        for pi in 0..2u32 {
            if l.on_portals & (1 << pi) == 0 {
                continue;
            }
            let host = l.target as u32 * 2 + pi;
            let hctl = format!("{host}:0:0:{lun}");
            let block = format!("sd{lun}p{pi}");
            t.disk(&hctl, Some(host + 1), &block, &wwid(lun));
            if l.blocked && pi == 0 {
                t.device_mut(&hctl).state = Some("blocked".parse().unwrap());
            }
            blocks.push(block);
            hctls.push(hctl.parse::<Hctl>().unwrap());
        }
        let in_use = l.mounted;
        if l.multipath {
            let name = format!("mpath{lun}");
            let refs: Vec<&str> = blocks.iter().map(String::as_str).collect();
            t.map(lun + 100, &name, &mpath_id(lun), &refs);
            if in_use {
                t.mount(DevT::new(254, lun + 100), "/srv");
            }
            maps.push((name.parse().unwrap(), hctls.clone()));
        } else if in_use {
            let dev = t
                .device_mut(&hctls[0].to_string())
                .block
                .as_ref()
                .unwrap()
                .dev
                .unwrap();
            t.mount(dev, "/srv");
        }
        let intended = l.declared == 1 && l.target < 2;
        if l.declared > 0 && l.target < 2 {
            let w = if l.declared == 1 { wwid(lun) } else { wwid(99) };
            desired.push(att(
                &format!("vol{lun}"),
                TARGETS[l.target],
                &[P1, P2],
                u64::from(lun),
                Some(&w),
                l.multipath,
            ));
        }
        if intended || in_use || l.target == 2 {
            protected.extend(hctls);
        }
    }
    let mut ctx = ctx();
    ctx.known_targets.insert(T2.parse().unwrap());
    World {
        topo: t,
        desired,
        ctx,
        protected,
        maps,
    }
}

fn policy(grace: bool, blast: usize, force: bool) -> Policy {
    Policy {
        grace: if grace {
            Duration::from_secs(60)
        } else {
            Duration::ZERO
        },
        blast_radius: blast,
        force,
        ..Policy::default()
    }
}

/// Cases per property: 300 in the default `cargo test`; `PROPTEST_CASES` overrides it, as
/// tests/run-all.sh does for its 100,000-topology run (docs/testing.md).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn never_removes_intended_in_use_or_out_of_scope(
        luns in prop::collection::vec(gen_lun(), 0..8),
        grace in any::<bool>(), blast in 0usize..10, force in any::<bool>(),
    ) {
        let w = build(&luns);
        let p = plan(&w.desired, &w.topo.snap, &policy(grace, blast, force), &w.ctx);
        for h in deleted(&p) {
            prop_assert!(!w.protected.contains(&h), "deleted protected {h}:\n{p}");
        }
        for s in &p.steps {
            if let Action::FlushMap { map, .. } = &s.action {
                let slaves = &w.maps.iter().find(|(n, _)| n == &map.name).unwrap().1;
                prop_assert!(slaves.iter().all(|h| !w.protected.contains(h)), "flushed {}:\n{p}", map.name);
            }
        }
    }

    #[test]
    fn never_plans_a_broad_scan(
        luns in prop::collection::vec(gen_lun(), 0..8),
        grace in any::<bool>(), blast in 0usize..10,
    ) {
        let mut w = build(&luns);
        // Declare LUNs that are not there too, so scans get planned.
        w.desired.push(att("ghost", T1, &[P1, P2], 42, None, true));
        let p = plan(&w.desired, &w.topo.snap, &policy(grace, blast, false), &w.ctx);
        let text = p.to_string();
        prop_assert!(!text.contains("- - -"), "{text}");
        prop_assert!(!text.contains("--rescan"), "{text}");
        let scans_ghost = p.steps.iter().any(|s| matches!(&s.action, Action::ScanLun { hctl, .. } if hctl.lun == 42));
        prop_assert!(scans_ghost, "{}", text);
    }

    /// Issue 12: the quarantine list declares every address the planner scans (a narrowed scan
    /// never adds a quarantined LUN) and every declared LUN's present paths, and lists only the
    /// hosts of in-scope sessions (the foreign target's hosts 4 and 5 never).
    #[test]
    fn the_quarantine_list_declares_what_is_scanned_and_lists_only_managed_hosts(
        luns in prop::collection::vec(gen_lun(), 0..8),
        ghost in any::<bool>(),
    ) {
        let mut w = build(&luns);
        if ghost {
            w.desired.push(att("ghost", T1, &[P1, P2], 42, None, true));
        }
        let policy = policy(false, 10, false);
        let p = plan(&w.desired, &w.topo.snap, &policy, &w.ctx);
        let q = quarantine_list(&w.desired, &w.topo.snap, &policy, &w.ctx);
        for s in &p.steps {
            if let Action::ScanLun { hctl, .. } = &s.action {
                prop_assert!(q.declared.contains(hctl), "scans {hctl}, not declared in {q:?}:\n{p}");
                prop_assert!(q.hosts.contains(&hctl.host), "scans on host{}, not listed: {q:?}", hctl.host);
            }
        }
        for a in &w.desired {
            for d in &w.topo.snap.devices {
                let on_declared_session = w.topo.snap.iscsi_sessions.iter().any(|s| {
                    Some(s.id) == d.iscsi_session
                        && s.target.as_ref() == Some(&a.target)
                        && s.portal().is_some_and(|p| a.portals.contains(&p))
                });
                if on_declared_session && d.hctl.lun == a.lun {
                    prop_assert!(q.declared.contains(&d.hctl), "declared {} not in {q:?}", d.hctl);
                }
            }
        }
        prop_assert!(!q.hosts.contains(&4) && !q.hosts.contains(&5), "foreign target's host listed: {q:?}");
        prop_assert!(!q.hosts.contains(&9), "the local disk's host listed: {q:?}");
    }

    #[test]
    fn every_path_of_a_removed_map_goes_after_the_map_flush(
        luns in prop::collection::vec(gen_lun(), 0..8),
        blast in 0usize..10, force in any::<bool>(),
    ) {
        let w = build(&luns);
        let p = plan(&w.desired, &w.topo.snap, &policy(false, blast, force), &w.ctx);
        let removed: BTreeSet<Hctl> = deleted(&p).into_iter().collect();
        for (name, slaves) in &w.maps {
            if slaves.is_empty() || !slaves.iter().all(|h| removed.contains(h)) {
                continue;
            }
            let flush = p.steps.iter().position(|s| matches!(&s.action, Action::FlushMap { map, .. } if &map.name == name));
            prop_assert!(flush.is_some(), "map {name} loses all paths without a flush:\n{p}");
            let flush = flush.unwrap();
            for (i, s) in p.steps.iter().enumerate() {
                if let Action::DeletePaths { paths, .. } = &s.action
                    && paths.iter().any(|pr| slaves.contains(&pr.hctl))
                {
                    prop_assert!(i > flush, "delete before flush of {name}:\n{p}");
                }
            }
        }
    }

    #[test]
    fn blast_radius_is_respected(
        luns in prop::collection::vec(gen_lun(), 0..8),
        blast in 0usize..5,
    ) {
        let w = build(&luns);
        let p = plan(&w.desired, &w.topo.snap, &policy(false, blast, false), &w.ctx);
        let groups: BTreeSet<_> = p.steps.iter()
            .filter(|s| matches!(s.action, Action::DeletePaths { .. } | Action::FlushMap { .. }))
            .map(|s| s.group)
            .collect();
        prop_assert!(groups.len() <= blast, "{} removals > {blast}:\n{p}", groups.len());
    }

    #[test]
    fn a_converged_host_yields_an_empty_plan(
        luns in prop::collection::vec(gen_lun(), 0..8),
    ) {
        // Declare exactly what is there on the in-scope targets, sessions included.
        let w = build(&luns);
        let mut desired = Vec::new();
        for (i, l) in luns.iter().enumerate() {
            if l.target == 2 {
                continue;
            }
            let portals: Vec<&str> = [P1, P2].iter().enumerate()
                .filter(|(pi, _)| l.on_portals & (1 << pi) != 0)
                .map(|(_, p)| *p)
                .collect();
            desired.push(att(&format!("vol{i}"), TARGETS[l.target], &portals, i as u64, Some(&wwid(i as u32)), l.multipath));
        }
        // Sessions with nothing declared on them are not converged; declare a
        // LUN-less… not possible, so keep only sessions that have a LUN.
        let mut snap = w.topo.snap.clone();
        let used: BTreeSet<u32> = snap.devices.iter().filter_map(|d| d.iscsi_session).collect();
        snap.iscsi_sessions.retain(|s| used.contains(&s.id) || s.target.as_ref().is_some_and(|t| t.as_str() == OTHER));
        let p = plan(&desired, &snap, &policy(false, 10, false), &w.ctx);
        prop_assert!(p.is_empty(), "{p}");
    }
}
