//! iSCSI operations through `iscsiadm`: log in with manual scan, log out one
//! session, delete one node record. A session is (target, portal, iface):
//! every command names exactly one — login and node-record deletion with
//! `-I`, logout by session id (`-m session -r SID`) — because `-m node -T -p`
//! without `-I` acts on every iface's record and session to the portal.
//! Exit codes 15 (ISCSI_ERR_SESS_EXISTS) and 21 (ISCSI_ERR_NO_OBJS_FOUND)
//! mean "already so" and make these idempotent.

use std::time::Duration;

use crate::model::{Iqn, Portal};

use super::Outcome;
use super::error::ActError;
use crate::bounded::cmd::{self, Program};

/// open-iscsi's "session already exists".
const ERR_SESS_EXISTS: i32 = 15;
/// open-iscsi's "no records/sessions found".
const ERR_NO_OBJS_FOUND: i32 = 21;

/// The iface lunguard logs in through: open-iscsi's built-in software iface.
/// Attachments declare (target, portal); their sessions are this iface's.
pub const LOGIN_IFACE: &str = "default";

/// `iscsiadm`, resolved, with its timeout.
#[derive(Debug, Clone)]
pub struct Iscsiadm {
    /// The program.
    pub program: Program,
    /// Per command (a login can wait for the target's TCP handshake).
    pub timeout: Duration,
}

impl Iscsiadm {
    fn node(
        &self,
        what: &'static str,
        target: &Iqn,
        portal: &Portal,
        iface: &str,
        op: &[&str],
    ) -> Result<(), ActError> {
        let p = portal.to_string();
        let mut args = vec!["-m", "node", "-T", target.as_str(), "-p", &p, "-I", iface];
        args.extend_from_slice(op);
        self.run(what, target, portal, &args)
    }

    fn run(
        &self,
        what: &'static str,
        target: &Iqn,
        portal: &Portal,
        args: &[&str],
    ) -> Result<(), ActError> {
        cmd::run(&self.program, args, self.timeout)
            .map(|_| ())
            .map_err(|source| ActError::Iscsi {
                what,
                target: target.clone(),
                portal: *portal,
                source: Box::new(source),
            })
    }

    fn code(e: &ActError) -> Option<i32> {
        match e {
            ActError::Iscsi { source, .. } => source.exit_code(),
            _ => None,
        }
    }

    /// Creates the node record of [`LOGIN_IFACE`] (if needed), sets
    /// `node.session.scan=manual` so the login scans no LUN, then logs in —
    /// that record only: another iface's record to the same portal is
    /// neither updated nor logged in.
    ///
    /// A failed login leaves nothing behind: a node record this call created
    /// is deleted again (best effort; the login's error is the one returned).
    /// Otherwise every failed attach to an unreachable portal would leave a
    /// record that a later `iscsiadm -m node --loginall` or an iscsid restart
    /// logs in to, unasked (found by the drop matrix: 100 % packet loss left
    /// two records per failed attach).
    pub fn login(&self, target: &Iqn, portal: &Portal) -> Result<Outcome, ActError> {
        const WHAT: &str = "log in to";
        let iface = LOGIN_IFACE;
        let created = match self.node(WHAT, target, portal, iface, &["-o", "new"]) {
            Ok(()) => true,
            // An existing record is fine (not ours to delete): it is updated next.
            Err(e) if matches!(&e, ActError::Iscsi { source, .. } if source.output_contains("exist")) => {
                false
            }
            Err(e) => return Err(e),
        };
        let scan = ["-o", "update", "-n", "node.session.scan", "-v", "manual"];
        let result = self
            .node(WHAT, target, portal, iface, &scan)
            .and_then(|()| self.node(WHAT, target, portal, iface, &["--login"]));
        match result {
            Ok(()) => Ok(Outcome::Changed),
            Err(e) if Self::code(&e) == Some(ERR_SESS_EXISTS) => Ok(Outcome::AlreadyConverged),
            Err(e) => {
                if created && let Err(d) = self.delete_node(target, portal, iface) {
                    tracing::warn!("after the failed login, {d}");
                }
                Err(e)
            }
        }
    }

    /// Logs out of session `sid` only (`iscsiadm -m session -r SID
    /// --logout`). The caller has re-verified that `sessionSID` is still
    /// (target, portal, iface); `target` and `portal` are for the error.
    pub fn logout_session(&self, sid: u32, target: &Iqn, portal: &Portal) -> Result<(), ActError> {
        let sid = sid.to_string();
        self.run(
            "log out of",
            target,
            portal,
            &["-m", "session", "-r", &sid, "--logout"],
        )
    }

    /// Deletes the node record of (target, portal, iface), so no later
    /// `--loginall` brings it back; other ifaces' records stay.
    pub fn delete_node(
        &self,
        target: &Iqn,
        portal: &Portal,
        iface: &str,
    ) -> Result<Outcome, ActError> {
        match self.node(
            "delete the node record of",
            target,
            portal,
            iface,
            &["-o", "delete"],
        ) {
            Ok(()) => Ok(Outcome::Changed),
            Err(e) if Self::code(&e) == Some(ERR_NO_OBJS_FOUND) => Ok(Outcome::AlreadyConverged),
            Err(e) => Err(e),
        }
    }
}
