//! SCSI hosts (`class/scsi_host`) and iSCSI sessions (`class/iscsi_session`,
//! `class/iscsi_connection`).

use std::path::Path;

use super::super::tree::Scan;
use super::attrs::{Attrs, list_class, numbered};
use crate::model::{Iqn, Portal};
use crate::snapshot::{HostTransport, IscsiConnection, IscsiSession, Problem, ScsiHost};

/// Reads every `class/scsi_host/hostN`. `None` if the class is missing.
pub(super) fn read_hosts(tree: &Scan<'_>, problems: &mut Vec<Problem>) -> Option<Vec<ScsiHost>> {
    let names = list_class(tree, "class/scsi_host", problems)?;
    let mut hosts = Vec::new();
    for name in names {
        let Some(n) = numbered(&name, "host") else {
            problems.push(Problem {
                path: tree.display(format!("class/scsi_host/{name}")),
                what: "unexpected entry: not named hostN".into(),
            });
            continue;
        };
        let mut a = Attrs::new(tree, format!("class/scsi_host/{name}"));
        let proc_name = a.required("proc_name");
        let state = a.optional("state");
        let transport = if tree.exists(format!("class/iscsi_host/{name}")) {
            HostTransport::Iscsi
        } else if tree.exists(format!("class/fc_host/{name}")) {
            HostTransport::Fc
        } else {
            HostTransport::Other
        };
        hosts.push(ScsiHost {
            host: n,
            proc_name,
            state,
            transport,
            problems: a.problems,
        });
    }
    hosts.sort_by_key(|h| h.host);
    Some(hosts)
}

/// Reads every `class/iscsi_session/sessionN` with its connections. A missing
/// class just means no iSCSI transport is loaded.
pub(super) fn read_sessions(
    tree: &Scan<'_>,
    hosts: &[ScsiHost],
    problems: &mut Vec<Problem>,
) -> Vec<IscsiSession> {
    let Some(names) = list_class(tree, "class/iscsi_session", problems) else {
        return Vec::new();
    };
    let conns = list_class(tree, "class/iscsi_connection", problems).unwrap_or_default();
    let mut sessions = Vec::new();
    for name in names {
        let Some(id) = numbered(&name, "session") else {
            problems.push(Problem {
                path: tree.display(format!("class/iscsi_session/{name}")),
                what: "unexpected entry: not named sessionN".into(),
            });
            continue;
        };
        let mut a = Attrs::new(tree, format!("class/iscsi_session/{name}"));
        let host = session_host(tree, &name, hosts);
        if host.is_none() {
            a.problem("", format!("cannot tell which SCSI host carries {name}: no hostN above it in its sysfs path and no class/scsi_host/hostN/device/{name}"));
        }
        let target = a.parse_with("targetname", true, str::parse::<Iqn>);
        let state = a.required("state");
        let target_state = a.optional("target_state");
        let tpgt = a.parsed::<i32>("tpgt", false);
        let ifacename = a.optional("ifacename").filter(|s| !s.is_empty());
        let initiatorname = a.optional("initiatorname").filter(|s| !s.is_empty());
        let prefix = format!("connection{id}:");
        let connections = conns
            .iter()
            .filter(|c| c.starts_with(&prefix))
            .map(|c| read_connection(tree, c, &mut a.problems))
            .collect::<Vec<_>>();
        if connections.is_empty() {
            a.problem(
                "",
                format!("no {prefix}N in class/iscsi_connection: portal unknown"),
            );
        }
        sessions.push(IscsiSession {
            id,
            host,
            target,
            state,
            target_state,
            tpgt,
            ifacename,
            initiatorname,
            connections,
            problems: a.problems,
        });
    }
    sessions.sort_by_key(|s| s.id);
    sessions
}

fn read_connection(tree: &Scan<'_>, name: &str, problems: &mut Vec<Problem>) -> IscsiConnection {
    let mut a = Attrs::new(tree, format!("class/iscsi_connection/{name}"));
    // persistent_* survive a connection failure; address/port may then fail
    // to read (ENOTCONN), so they are only the fallback.
    let pair = match (
        a.optional("persistent_address"),
        a.optional("persistent_port"),
    ) {
        (Some(addr), Some(port)) if !addr.is_empty() => Some((addr, port, "persistent_address")),
        _ => match (a.optional("address"), a.optional("port")) {
            (Some(addr), Some(port)) if !addr.is_empty() => Some((addr, port, "address")),
            _ => None,
        },
    };
    let portal = match pair {
        Some((addr, port, file)) => match Portal::from_parts(&addr, &port) {
            Ok(p) => Some(p),
            Err(e) => {
                a.problem(file, e.to_string());
                None
            }
        },
        None => {
            a.problem(
                "",
                "no readable persistent_address/persistent_port or address/port",
            );
            None
        }
    };
    let state = a.optional("state");
    problems.append(&mut a.problems);
    IscsiConnection {
        id: name.trim_start_matches("connection").to_owned(),
        portal,
        state,
    }
}

/// The host a session is under: the last `hostN` before `sessionN` in the
/// resolved path of `class/iscsi_session/sessionN`, else the host whose
/// device directory lists the session.
fn session_host(tree: &Scan<'_>, name: &str, hosts: &[ScsiHost]) -> Option<u32> {
    let from_path = tree
        .resolve(format!("class/iscsi_session/{name}"))
        .ok()
        .and_then(|resolved| host_above(&resolved, name));
    if from_path.is_some() {
        return from_path;
    }
    hosts
        .iter()
        .find(|h| tree.exists(format!("class/scsi_host/host{}/device/{name}", h.host)))
        .map(|h| h.host)
}

/// The number of the last `hostN` component before component `stop`.
pub(super) fn host_above(path: &Path, stop: &str) -> Option<u32> {
    let mut found = None;
    for c in path.iter() {
        let c = c.to_str()?;
        if c == stop {
            return found;
        }
        if let Some(n) = numbered(c, "host") {
            found = Some(n);
        }
    }
    None
}

/// The session id of the first `sessionN` component of a resolved path.
pub(super) fn session_in(path: &Path) -> Option<u32> {
    path.iter().find_map(|c| numbered(c.to_str()?, "session"))
}
