//! Re-verifying an iSCSI session right before its logout: `sessionN` must
//! still be the (target, portal, iface) the plan saw, because session ids
//! are reused after a logout. Reads sysfs under the injectable root only.

use std::io::ErrorKind;

use crate::model::{Iqn, Portal};
use crate::observe::tree::Tree;

use super::error::ActError;

/// What `class/iscsi_session/sessionN` is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Now {
    /// No such session: already logged out.
    Gone,
    /// The session the plan saw.
    Same,
}

fn read(tree: &Tree, rel: &str, what: &str) -> Result<Option<String>, ActError> {
    match tree.read_string(rel) {
        Ok(s) => Ok(Some(s.trim().to_owned())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ActError::Read {
            what: what.to_owned(),
            path: tree.display(rel).into(),
            source,
        }),
    }
}

fn changed(what: &str, field: &'static str, expected: String, found: Option<String>) -> ActError {
    ActError::Changed {
        what: what.to_owned(),
        field,
        expected,
        found: found.unwrap_or_else(|| "unreadable".into()),
    }
}

/// Compares `sessionSID` with (target, portal, iface). Anything that does
/// not match, or cannot be read, is an error: nothing is logged out.
pub(crate) fn verify(
    tree: &Tree,
    sid: u32,
    target: &Iqn,
    portal: &Portal,
    iface: &str,
) -> Result<Now, ActError> {
    let what = format!("log out session{sid}");
    let dir = format!("class/iscsi_session/session{sid}");
    if !tree.exists(&dir) {
        return Ok(Now::Gone);
    }
    let t = read(tree, &format!("{dir}/targetname"), &what)?;
    if t.as_deref() != Some(target.as_str()) {
        return Err(changed(&what, "target", target.to_string(), t));
    }
    let i = read(tree, &format!("{dir}/ifacename"), &what)?;
    if i.as_deref() != Some(iface) {
        return Err(changed(&what, "iface", iface.to_owned(), i));
    }
    let conn = format!("class/iscsi_connection/connection{sid}:0");
    let mut found = None;
    for (a, p) in [
        ("persistent_address", "persistent_port"),
        ("address", "port"),
    ] {
        let addr = read(tree, &format!("{conn}/{a}"), &what)?;
        let port = read(tree, &format!("{conn}/{p}"), &what)?;
        if let (Some(addr), Some(port)) = (addr, port)
            && !addr.is_empty()
        {
            found = Some(
                Portal::from_parts(&addr, &port)
                    .map(|p| p.to_string())
                    .unwrap_or_else(|_| format!("{addr}:{port}")),
            );
            break;
        }
    }
    if found.as_deref() != Some(portal.to_string().as_str()) {
        return Err(changed(&what, "portal", portal.to_string(), found));
    }
    Ok(Now::Same)
}
