//! open-iscsi: what makes LUNs appear that nobody asked for (scans on login and on
//! AEN/AER, automatic logins), and timeouts that decide how long I/O hangs on a dead path.

use std::collections::BTreeMap;

use super::config_text::parse_iscsi;
use super::{Finding, Inputs, Severity, at};

const CONF: &str = "/etc/iscsi/iscsid.conf";
const NODE_DIRS: [&str; 2] = ["/etc/iscsi/nodes", "/var/lib/iscsi/nodes"];
/// With multipath, a session's replacement timeout above this holds I/O on a dead path long
/// after multipath could have failed it over.
const MAX_REPLACEMENT_TIMEOUT: u64 = 20;

pub(super) fn check(inputs: &Inputs, out: &mut Vec<Finding>) {
    let Some(text) = inputs.read(CONF) else {
        if !inputs.attachments.is_empty() {
            out.push(Finding {
                id: "iscsi.not_installed",
                severity: Severity::Critical,
                source: CONF.into(),
                what: "open-iscsi's iscsid.conf is missing, and attachments are declared".into(),
                leads_to: "no attach can work: lunguard logs in with iscsiadm".into(),
                fix: "apt-get install open-iscsi".into(),
            });
        }
        return;
    };
    let conf = parse_iscsi(&text);
    let get = |k: &str| conf.get(k).map(|(v, l)| (v.as_str(), Some(*l)));
    let (scan, line) = get("node.session.scan").unwrap_or(("auto", None));
    if scan != "manual" {
        out.push(Finding {
            id: "iscsi.session_scan",
            severity: Severity::Warning,
            source: at(CONF, line),
            what: format!("node.session.scan = {scan} (open-iscsi's default is auto)"),
            leads_to: "every login scans every LUN of the target, and iscsid rescans when the array reports \"REPORTED LUNS DATA HAS CHANGED\": LUNs another host or process just detached come back (iscsi-multipath-issues-openstack, openstack-faulty-device)".into(),
            fix: "node.session.scan = manual".into(),
        });
    }
    if let Some((startup, line)) = get("node.startup")
        && startup == "automatic"
    {
        out.push(Finding {
            id: "iscsi.node_startup",
            severity: Severity::Warning,
            source: at(CONF, line),
            what: "node.startup = automatic".into(),
            leads_to: "at boot iscsid logs in to every node record, including targets nobody declares any more, and their LUNs return as leftovers (revamping-iscsi-connections-openstack)".into(),
            fix: "node.startup = manual".into(),
        });
    }
    let secs = |k: &str, default: u64| {
        get(k).map_or((default, None), |(v, l)| (v.parse().unwrap_or(default), l))
    };
    let (replacement, rline) = secs("node.session.timeo.replacement_timeout", 120);
    if inputs.any_multipath() && replacement > MAX_REPLACEMENT_TIMEOUT {
        out.push(Finding {
            id: "iscsi.replacement_timeout",
            severity: Severity::Warning,
            source: at(CONF, rline),
            what: format!("node.session.timeo.replacement_timeout = {replacement} s with multipath attachments"),
            leads_to: format!("I/O on a path whose session died waits {replacement} s before multipath may fail it over to another portal: writes stall that long (mpio-over-iscsi-suse)"),
            fix: "node.session.timeo.replacement_timeout = 15".into(),
        });
    }
    let (noi, _) = secs("node.conn[0].timeo.noop_out_interval", 5);
    let (not, nline) = secs("node.conn[0].timeo.noop_out_timeout", 5);
    if inputs.any_multipath() && (noi == 0 || not == 0) {
        out.push(Finding {
            id: "iscsi.noop_disabled",
            severity: Severity::Warning,
            source: at(CONF, nline),
            what: format!("NOP-Out pings disabled (interval {noi}, timeout {not})"),
            leads_to: "a dead portal is found only when I/O to it times out: multipath fails over late (mpio-over-iscsi-suse)".into(),
            fix: "node.conn[0].timeo.noop_out_interval = 5 and node.conn[0].timeo.noop_out_timeout = 5".into(),
        });
    }
    if let Some(hb) = inputs.heartbeat_secs {
        let pi: u64 = inputs
            .multipath
            .as_ref()
            .and_then(|m| m.get("polling_interval"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        let detect = noi + not + pi;
        if detect >= hb {
            out.push(Finding {
                id: "iscsi.heartbeat",
                severity: Severity::Critical,
                source: at(CONF, nline),
                what: format!("a path failure takes up to noop_out_interval {noi} + noop_out_timeout {not} + multipath polling_interval {pi} = {detect} s to reach multipath; the cluster heartbeat is {hb} s"),
                leads_to: "the cluster declares the node dead (fencing, a reboot) before multipath has failed the path over (mpio-over-iscsi-suse: heartbeat > polling interval > path check)".into(),
                fix: format!("lower the NOP-Out timings or raise the heartbeat above {}", detect * 2),
            });
        }
    }
    node_records(inputs, out);
}

/// Node records of declared targets that still scan on login: a record keeps the settings it
/// was created with, whatever iscsid.conf says now.
fn node_records(inputs: &Inputs, out: &mut Vec<Finding>) {
    let targets: Vec<String> = inputs
        .attachments
        .iter()
        .map(|a| a.target.to_string())
        .collect();
    for dir in NODE_DIRS {
        for target in &targets {
            let tdir = format!("{dir}/{target}");
            let Ok(entries) = std::fs::read_dir(inputs.path(&tdir)) else {
                continue;
            };
            let mut records: BTreeMap<String, String> = BTreeMap::new();
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let host = format!("{tdir}/{name}");
                if e.path().is_dir() {
                    for f in super::files_in(inputs, &host, "") {
                        if let Some(t) = inputs.read(&f) {
                            records.insert(f, t);
                        }
                    }
                } else if let Some(t) = inputs.read(&host) {
                    records.insert(host, t);
                }
            }
            for (path, text) in records {
                let rec = parse_iscsi(&text);
                let Some((scan, line)) = rec.get("node.session.scan") else {
                    continue;
                };
                if scan == "manual" {
                    continue;
                }
                let portal = rec
                    .get("node.conn[0].address")
                    .map(|(a, _)| a.clone())
                    .unwrap_or_default();
                out.push(Finding {
                    id: "iscsi.node_record_scan",
                    severity: Severity::Warning,
                    source: at(&path, Some(*line)),
                    what: format!("the node record of declared target {target} has node.session.scan = {scan}"),
                    leads_to: "its next login (a reboot, iscsid's session recovery, another tool) scans every LUN of the target: leftovers return".into(),
                    fix: format!(
                        "iscsiadm -m node -T {target}{} -o update -n node.session.scan -v manual",
                        if portal.is_empty() { String::new() } else { format!(" -p {portal}") }
                    ),
                });
            }
        }
    }
}
