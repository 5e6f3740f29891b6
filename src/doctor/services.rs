//! What the guard depends on: the daemons it talks to, its own unit as shipped (hardening not
//! undone by a drop-in), its state files and database; and the target-side write cache of the
//! LVM/tgtd field report, where this host exports iSCSI targets itself.

use super::{Finding, Inputs, Severity, at, exists, files_in};

const UNITS: [&str; 3] = [
    "/etc/systemd/system/lunguard.service",
    "/usr/lib/systemd/system/lunguard.service",
    "/lib/systemd/system/lunguard.service",
];
/// Where udev finds lunguard's quarantine rule (the package's, or a copy in /etc).
const QUARANTINE_RULE: [&str; 3] = [
    "/etc/udev/rules.d/59-lunguard-quarantine.rules",
    "/usr/lib/udev/rules.d/59-lunguard-quarantine.rules",
    "/lib/udev/rules.d/59-lunguard-quarantine.rules",
];
const DROPIN_DIRS: [&str; 2] = [
    "/etc/systemd/system/lunguard.service.d",
    "/run/systemd/system/lunguard.service.d",
];
/// Directives of the shipped unit that confine the daemon: a drop-in setting one of them
/// changes what `systemd-analyze security` rated.
const HARDENING: [&str; 20] = [
    "CapabilityBoundingSet",
    "AmbientCapabilities",
    "NoNewPrivileges",
    "ProtectSystem",
    "ProtectHome",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "ProtectControlGroups",
    "ProtectClock",
    "ProtectHostname",
    "PrivateTmp",
    "PrivateMounts",
    "ReadWritePaths",
    "DevicePolicy",
    "DeviceAllow",
    "SystemCallFilter",
    "RestrictAddressFamilies",
    "IPAddressDeny",
    "MemoryDenyWriteExecute",
];

pub(super) fn check(inputs: &Inputs, out: &mut Vec<Finding>) {
    processes(inputs, out);
    unit(inputs, out);
    if !QUARANTINE_RULE.iter().any(|r| exists(inputs, r)) {
        out.push(Finding {
            id: "lunguard.quarantine_rule",
            severity: Severity::Note,
            source: QUARANTINE_RULE[1].into(),
            what: "the quarantine udev rule is not installed".into(),
            leads_to: "during the grace period blkid, LVM, multipathd and udisks may claim a LUN nobody declared (a volume group activated on it), and a claimed LUN is in use and kept (docs/events.md, Quarantine)".into(),
            fix: "install the lunguard package (it ships rules/59-lunguard-quarantine.rules), or copy the rule to /etc/udev/rules.d/ and run udevadm control --reload".into(),
        });
    }
    for e in &inputs.state_errors {
        out.push(Finding {
            id: "lunguard.state_rejected",
            severity: Severity::Critical,
            source: e.split(": ").next().unwrap_or_default().to_owned(),
            what: format!("state files rejected: {e}"),
            leads_to: "the daemon keeps the last good desired state: no edit (attach, detach) takes effect".into(),
            fix: "fix the file as the message says; `lunguard check` lists every problem".into(),
        });
    }
    if let Some(e) = &inputs.database_error {
        out.push(Finding {
            id: "lunguard.database",
            severity: Severity::Critical,
            source: "database".into(),
            what: e.clone(),
            leads_to: "the daemon refuses to start (exit 3): nothing is guarded".into(),
            fix: "move the database aside as the message says (docs/operations.md); the state files rebuild it".into(),
        });
    }
    write_cache(inputs, out);
}

fn processes(inputs: &Inputs, out: &mut Vec<Finding>) {
    let comms: Vec<String> = std::fs::read_dir(&inputs.proc)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
        .map(|c| c.trim().to_owned())
        .collect();
    let running = |names: &[&str]| comms.iter().any(|c| names.contains(&c.as_str()));
    let mut need: Vec<(&'static str, &[&str], &str, &str)> = vec![(
        "service.udevd",
        &["systemd-udevd", "udevd"],
        "udevd is not running",
        "device nodes and /dev/disk links do not follow adds and removals; multipathd and lunguard see stale devices",
    )];
    if !inputs.attachments.is_empty() {
        need.push((
            "service.iscsid",
            &["iscsid"],
            "iscsid is not running",
            "no iSCSI login, logout or session recovery: declared LUNs cannot attach",
        ));
    }
    if inputs.any_multipath() {
        need.push((
            "service.multipathd",
            &["multipathd"],
            "multipathd is not running",
            "no path checker: failed paths are not reinstated, and maps are built only when lunguard asks",
        ));
    }
    for (id, names, what, leads_to) in need {
        if !running(names) {
            out.push(Finding {
                id,
                severity: Severity::Warning,
                source: format!("{}/*/comm", inputs.proc.display()),
                what: what.into(),
                leads_to: leads_to.into(),
                fix: format!("systemctl enable --now {}", names[0]),
            });
        }
    }
}

fn unit(inputs: &Inputs, out: &mut Vec<Finding>) {
    if !UNITS.iter().any(|u| exists(inputs, u)) {
        out.push(Finding {
            id: "lunguard.unit_missing",
            severity: Severity::Warning,
            source: UNITS[1].into(),
            what: "lunguard.service is not installed".into(),
            leads_to: "nothing runs the guard at boot or restarts it; leftovers accumulate".into(),
            fix: "install the lunguard package (it enables lunguard.service)".into(),
        });
    }
    for dir in DROPIN_DIRS {
        for file in files_in(inputs, dir, ".conf") {
            let text = inputs.read(&file).unwrap_or_default();
            for (i, line) in text.lines().enumerate() {
                let Some((key, value)) = line.split_once('=') else {
                    continue;
                };
                let key = key.trim();
                if HARDENING.contains(&key) {
                    out.push(Finding {
                        id: "lunguard.unit_weakened",
                        severity: Severity::Warning,
                        source: at(&file, Some(i + 1)),
                        what: format!("a drop-in changes the shipped confinement: {key}={}", value.trim()),
                        leads_to: "the daemon runs with more reach than the rating of docs/operations.md (systemd-analyze security lunguard shows the difference)".into(),
                        fix: format!("remove the line from {file}, or keep it knowingly"),
                    });
                }
            }
        }
    }
}

/// tgtd exporting with a write-back cache loses what initiators wrote with O_DIRECT when this
/// host crashes (lvm-iscsi-direct-io-bug). Applies only where tgt's config exists.
fn write_cache(inputs: &Inputs, out: &mut Vec<Finding>) {
    let mut files = vec!["/etc/tgt/targets.conf".to_owned()];
    files.extend(files_in(inputs, "/etc/tgt/conf.d", ".conf"));
    for file in files {
        let Some(text) = inputs.read(&file) else {
            continue;
        };
        let mut open: Option<(usize, String, bool)> = None;
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if let Some(rest) = l.strip_prefix("<target") {
                open = Some((i + 1, rest.trim_end_matches('>').trim().to_owned(), false));
            } else if l.starts_with("</target") {
                if let Some((start, name, false)) = open.take() {
                    out.push(Finding {
                        id: "target.write_cache",
                        severity: Severity::Critical,
                        source: at(&file, Some(start)),
                        what: format!("tgt target {name} exports with the write cache on (the default)"),
                        leads_to: "writes the initiator made with O_DIRECT sit in this host's page cache: a crash of this host loses them (lvm-iscsi-direct-io-bug)".into(),
                        fix: "write-cache off (and bsoflags direct) inside the <target> block".into(),
                    });
                }
            } else if l.split_whitespace().collect::<Vec<_>>() == ["write-cache", "off"]
                && let Some(o) = open.as_mut()
            {
                o.2 = true;
            }
        }
    }
}
