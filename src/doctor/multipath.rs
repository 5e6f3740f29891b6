//! dm-multipath: who builds maps over which paths, what happens to I/O with no path left, and
//! how maps go away — the settings behind "map in use", maps left `failed faulty` and data
//! lost on a flush.

use super::{Finding, Inputs, Severity};
use crate::model::Wwid;

const WWIDS: &str = "/etc/multipath/wwids";

pub(super) fn check(inputs: &Inputs, out: &mut Vec<Finding>) {
    let Some(cfg) = &inputs.multipath else {
        if inputs.any_multipath() {
            out.push(Finding {
                id: "multipath.unavailable",
                severity: Severity::Critical,
                source: "multipath -t".into(),
                what: format!(
                    "multipath attachments are declared but multipath-tools' configuration cannot be read: {}",
                    inputs.multipath_error.as_deref().unwrap_or("unknown")
                ),
                leads_to: "no multipath map can be built or flushed".into(),
                fix: "apt-get install multipath-tools && systemctl enable --now multipathd".into(),
            });
        }
        return;
    };
    let src = |key: &str| format!("multipath -t: {key}");
    let find = cfg.get("find_multipaths").unwrap_or("strict");
    if find != "strict" {
        out.push(Finding {
            id: "multipath.find_multipaths",
            severity: Severity::Warning,
            source: src("find_multipaths"),
            what: format!("find_multipaths {find}"),
            leads_to: "multipathd assembles a map over LUNs nobody declared (a broad rescan's, an AEN's) during the grace period; their removal then needs a map flush, which fails with \"map in use\" while udev and blkid hold it, and the leftover stays (iscsi-multipath-issues-openstack)".into(),
            fix: "defaults { find_multipaths strict } (maps only for WWIDs in /etc/multipath/wwids; lunguard builds declared LUNs' maps itself: docs/doctor.md)".into(),
        });
    }
    if cfg.get("user_friendly_names") == Some("yes") {
        out.push(Finding {
            id: "multipath.user_friendly_names",
            severity: Severity::Note,
            source: src("user_friendly_names"),
            what: "user_friendly_names yes: maps are named mpathN, not by WWID".into(),
            leads_to: "tools that flush a map by its WWID miss it and leave it behind (openstack-faulty-device); lunguard flushes by the real dm name".into(),
            fix: "nothing for lunguard; `user_friendly_names no` for tools that assume WWID names".into(),
        });
    }
    let flush = cfg.get("flush_on_last_del").unwrap_or("no");
    if !matches!(flush, "yes" | "always" | "unused") {
        out.push(Finding {
            id: "multipath.flush_on_last_del",
            severity: Severity::Warning,
            source: src("flush_on_last_del"),
            what: format!("flush_on_last_del {flush}"),
            leads_to: "when a map's last path is deleted by anyone but lunguard, the map stays with no path and queued I/O: a map left `failed faulty` (openstack-faulty-device)".into(),
            fix: "defaults { flush_on_last_del yes } (multipath-tools 0.10 and later: always)".into(),
        });
    }
    let queues_forever = cfg.get("no_path_retry") == Some("queue")
        || cfg
            .get("features")
            .is_some_and(|f| f.contains("queue_if_no_path"));
    if queues_forever {
        out.push(Finding {
            id: "multipath.no_path_retry",
            severity: Severity::Warning,
            source: src("no_path_retry"),
            what: "no_path_retry queue (or features queue_if_no_path): I/O queues forever when every path is gone".into(),
            leads_to: "a detach after the array went away cannot flush the map: lunguard refuses to remove it (queued writes would be lost) and it stays until someone decides to lose them (policy force); processes writing to it hang".into(),
            fix: "defaults { no_path_retry 12 } (queue for 12 polling intervals, then fail the I/O)".into(),
        });
    }
    if cfg.get("deferred_remove") == Some("yes") {
        out.push(Finding {
            id: "multipath.deferred_remove",
            severity: Severity::Note,
            source: src("deferred_remove"),
            what: "deferred_remove yes".into(),
            leads_to: "a map removed while open disappears when its last user closes it; lunguard itself never removes a map in use".into(),
            fix: "nothing".into(),
        });
    }
    root_disk(inputs, cfg, find, out);
    wwids(inputs, find, out);
}

/// The root filesystem on a SCSI disk that multipathd may claim.
fn root_disk(inputs: &Inputs, cfg: &super::MultipathConfig, find: &str, out: &mut Vec<Finding>) {
    let mountinfo = std::fs::read_to_string(inputs.proc.join("self/mountinfo")).unwrap_or_default();
    let Some(dev) = mountinfo.lines().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.get(4) == Some(&"/"))
            .then(|| f.get(2).map(|d| (*d).to_owned()))
            .flatten()
    }) else {
        return;
    };
    let block = inputs.path(&format!("/sys/dev/block/{dev}"));
    // A partition's device is its parent's.
    let wwid = std::fs::read_to_string(block.join("device/wwid"))
        .or_else(|_| std::fs::read_to_string(block.join("../device/wwid")))
        .ok()
        .map(|w| w.trim().to_owned());
    let Some(wwid) = wwid else { return };
    let mp = wwid
        .parse::<Wwid>()
        .ok()
        .and_then(|w| w.multipath_id())
        .unwrap_or_else(|| wwid.clone());
    let listed = cfg
        .blacklist_wwids
        .iter()
        .any(|p| p.trim_matches(['^', '$']) == mp || p.trim_matches(['^', '$']) == wwid);
    if !listed && find != "strict" {
        out.push(Finding {
            id: "multipath.root_disk",
            severity: Severity::Warning,
            source: "multipath -t: blacklist".into(),
            what: format!("the root filesystem's disk ({dev}, WWID {wwid}) is not blacklisted"),
            leads_to: "multipathd may build a map over the root disk: its partitions become busy under dm, and a map flush could take the root filesystem's device away".into(),
            fix: format!("blacklist {{ wwid \"{mp}\" }}"),
        });
    }
}

/// Declared multipath LUNs missing from the wwids file while multipathd maps only those listed.
fn wwids(inputs: &Inputs, find: &str, out: &mut Vec<Finding>) {
    if find != "strict" {
        return;
    }
    let listed = crate::observe::wwids::parse_wwids(&inputs.read(WWIDS).unwrap_or_default());
    for a in inputs.attachments.iter().filter(|a| a.multipath) {
        let Some(w) = &a.wwid else { continue };
        let Some(id) = w.multipath_id() else { continue };
        if !listed.contains(&id) {
            out.push(Finding {
                id: "multipath.wwids_missing",
                severity: Severity::Warning,
                source: WWIDS.into(),
                what: format!("declared multipath LUN {} ({w}) is not in the wwids file", a.name),
                leads_to: "with find_multipaths strict multipathd does not map it by itself: after a path comes back or a reboot it stays a bare disk until lunguard's next pass registers it and builds the map".into(),
                fix: format!("start lunguard in enforce mode: it adds the entry itself before the LUN's scan (and removes it after the detach); by hand: multipath -a {id}, an entry lunguard then never removes"),
            });
        }
    }
}
