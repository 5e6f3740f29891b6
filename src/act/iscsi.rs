//! iSCSI node operations through `iscsiadm`: log in with manual scan, log
//! out, delete the node record. Exit codes 15 (ISCSI_ERR_SESS_EXISTS) and 21
//! (ISCSI_ERR_NO_OBJS_FOUND) mean "already so" and make these idempotent.

use std::time::Duration;

use crate::model::{Iqn, Portal};

use super::Outcome;
use super::cmd::{self, Program};
use super::error::ActError;

/// open-iscsi's "session already exists".
const ERR_SESS_EXISTS: i32 = 15;
/// open-iscsi's "no records/sessions found".
const ERR_NO_OBJS_FOUND: i32 = 21;

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
        op: &[&str],
    ) -> Result<(), ActError> {
        let p = portal.to_string();
        let mut args = vec!["-m", "node", "-T", target.as_str(), "-p", &p];
        args.extend_from_slice(op);
        cmd::run(&self.program, &args, self.timeout)
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

    /// Creates the node record (if needed), sets `node.session.scan=manual`
    /// so the login scans no LUN, then logs in.
    pub fn login(&self, target: &Iqn, portal: &Portal) -> Result<Outcome, ActError> {
        const WHAT: &str = "log in to";
        if let Err(e) = self.node(WHAT, target, portal, &["-o", "new"]) {
            // An existing record is fine: it is updated next.
            if !matches!(&e, ActError::Iscsi { source, .. } if source.output_contains("exist")) {
                return Err(e);
            }
        }
        let scan = ["-o", "update", "-n", "node.session.scan", "-v", "manual"];
        self.node(WHAT, target, portal, &scan)?;
        match self.node(WHAT, target, portal, &["--login"]) {
            Ok(()) => Ok(Outcome::Changed),
            Err(e) if Self::code(&e) == Some(ERR_SESS_EXISTS) => Ok(Outcome::AlreadyConverged),
            Err(e) => Err(e),
        }
    }

    /// Logs out of the session(s) to `target` at `portal`.
    pub fn logout(&self, target: &Iqn, portal: &Portal) -> Result<Outcome, ActError> {
        self.gone_ok("log out of", target, portal, &["--logout"])
    }

    /// Deletes the node record, so no later `--loginall` brings it back.
    pub fn delete_node(&self, target: &Iqn, portal: &Portal) -> Result<Outcome, ActError> {
        self.gone_ok(
            "delete the node record of",
            target,
            portal,
            &["-o", "delete"],
        )
    }

    fn gone_ok(
        &self,
        what: &'static str,
        target: &Iqn,
        portal: &Portal,
        op: &[&str],
    ) -> Result<Outcome, ActError> {
        match self.node(what, target, portal, op) {
            Ok(()) => Ok(Outcome::Changed),
            Err(e) if Self::code(&e) == Some(ERR_NO_OBJS_FOUND) => Ok(Outcome::AlreadyConverged),
            Err(e) => Err(e),
        }
    }
}
