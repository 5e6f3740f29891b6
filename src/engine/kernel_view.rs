//! Device-mapper's answers (read by `observe::inspect`) folded into the planner's `Context`.

use crate::observe::DmMultipath;
use crate::reconcile::Context;
use crate::snapshot::{DmKind, Snapshot};

/// Folds device-mapper's view into `ctx`: the kernel's path states win over multipathd's (they
/// are what the map acts on), `queue_if_no_path` maps are noted, and every slave of a multipath
/// map whose state neither source gave goes to `ctx.unknown_path_states`.
pub fn merge_kernel_view(snapshot: &Snapshot, dm: Option<&DmMultipath>, ctx: &mut Context) {
    if let Some(dm) = dm {
        for dev in &snapshot.devices {
            if let Some(b) = &dev.block
                && let Some(st) = b.dev.and_then(|d| dm.paths.get(&d))
            {
                ctx.path_states.insert(b.name.clone(), *st);
            }
        }
        ctx.queue_if_no_path.extend(dm.queueing.iter().cloned());
    }
    for m in snapshot
        .dm_devices
        .iter()
        .filter(|m| m.kind == DmKind::Multipath)
    {
        for s in &m.slaves {
            if !ctx.path_states.contains_key(s) {
                ctx.unknown_path_states.insert(s.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DevT;
    use crate::snapshot::PathState;

    #[test]
    fn kernel_states_win_and_slaves_nobody_reported_are_unknown() {
        // Issue 7: a path multipathd did not list counted as active, so a map whose paths were
        // all down was flushed (BLKFLSBUF blocks on queued I/O).
        // example(): mpatha = dm-0 over sdb (8:16) and sdc (8:32).
        let d = tempfile::tempdir().expect("tempdir");
        let t = crate::testing::example(d.path()).expect("tree");
        let snap = crate::observe::snapshot(&t.roots());
        let mut ctx = Context::at(std::time::SystemTime::UNIX_EPOCH);
        ctx.path_states.insert("sdb".into(), PathState::Active);
        merge_kernel_view(&snap, None, &mut ctx);
        assert!(ctx.unknown_path_states.contains("sdc"), "{ctx:?}");
        assert!(!ctx.unknown_path_states.contains("sdb"));
        let mut ctx2 = Context::at(std::time::SystemTime::UNIX_EPOCH);
        ctx2.path_states.insert("sdb".into(), PathState::Active);
        let dm = DmMultipath {
            paths: [
                (DevT::new(8, 16), PathState::Failed),
                (DevT::new(8, 32), PathState::Failed),
            ]
            .into(),
            queueing: ["mpatha".parse().expect("name")].into(),
        };
        merge_kernel_view(&snap, Some(&dm), &mut ctx2);
        assert_eq!(
            ctx2.path_states.get("sdb"),
            Some(&PathState::Failed),
            "kernel wins"
        );
        assert_eq!(ctx2.path_states.get("sdc"), Some(&PathState::Failed));
        assert!(ctx2.unknown_path_states.is_empty());
        assert_eq!(ctx2.queue_if_no_path.len(), 1);
    }
}
