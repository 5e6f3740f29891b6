//! `Lab`: the array most scenarios start from — one LIO target on two
//! portals with LUNs 0..n — and the state-file text declaring some of its
//! LUNs, so tests and `lunguard demo` set up the same world in two lines.

use std::path::PathBuf;

use crate::model::{Iqn, Portal, Wwid};

use super::names::lio_wwid;
use super::{SimError, SimHost};

/// The lab target's name.
pub const LAB_TARGET: &str = "iqn.2003-01.org.linux-iscsi.lab.x8664:sn.5e0d1ab00001";
/// The lab target's portals (documentation address ranges).
pub const LAB_PORTALS: [&str; 2] = ["192.0.2.10:3260", "198.51.100.10:3260"];

/// A simulated host in front of a one-target array.
#[derive(Debug, Clone)]
pub struct Lab {
    /// The host.
    pub sim: SimHost,
    /// The target.
    pub target: Iqn,
    /// Its portals.
    pub portals: Vec<Portal>,
}

impl Lab {
    /// A host under `dir` and a target with LUNs `0..luns`, all exported;
    /// LUN `n` has WWID [`Lab::wwid`]`(n)`. Nothing is logged in.
    pub fn new(dir: impl Into<PathBuf>, luns: u64) -> Result<Self, SimError> {
        let sim = SimHost::new(dir)?;
        let target: Iqn = LAB_TARGET.parse().expect("LAB_TARGET is a valid IQN");
        let portals: Vec<Portal> = LAB_PORTALS.iter().filter_map(|p| p.parse().ok()).collect();
        sim.add_target(&target, &portals);
        let lab = Self {
            sim,
            target,
            portals,
        };
        for lun in 0..luns {
            lab.sim.add_lun(&lab.target, lun, lab.wwid(lun))?;
        }
        Ok(lab)
    }

    /// The WWID of lab LUN `lun`.
    pub fn wwid(&self, lun: u64) -> Wwid {
        lio_wwid(lun + 1)
    }

    /// A state file declaring `luns` of the lab target, multipathed over
    /// both portals, each named `lun-<n>` with its WWID.
    pub fn state_file(&self, luns: &[u64]) -> String {
        let portals: Vec<String> = self.portals.iter().map(|p| format!("\"{p}\"")).collect();
        let mut text = String::from("# Written by lunguard's simulator (sim::Lab).\n");
        for lun in luns {
            text.push_str(&format!(
                "\n[[attachment]]\nname = \"lun-{lun}\"\ntransport = \"iscsi\"\ntarget = \"{}\"\nportals = [{}]\nlun = {lun}\nwwid = \"{}\"\nmultipath = true\n",
                self.target,
                portals.join(", "),
                self.wwid(*lun)
            ));
        }
        text
    }
}
