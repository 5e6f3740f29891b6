//! `Finding`: what the planner concluded about each attachment, device, map
//! and session, whether or not it plans an action for it. `status` and
//! `plan --json` show these as desired-vs-observed. No IO.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{DmName, Hctl, Iqn, Portal, Wwid};

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Subject {
    /// A declared attachment, by name.
    Attachment {
        /// Its name.
        name: String,
    },
    /// A SCSI device.
    Path {
        /// Its address.
        hctl: Hctl,
    },
    /// A multipath map.
    Map {
        /// Its real name.
        name: DmName,
    },
    /// An iSCSI session: (target, portal, iface).
    Session {
        /// Target.
        target: Iqn,
        /// Portal.
        portal: Portal,
        /// open-iscsi iface, `None` if sysfs did not say.
        #[serde(default)]
        iface: Option<String>,
    },
    /// An open-iscsi node record with no session: (target, portal, iface).
    NodeRecord {
        /// Target.
        target: Iqn,
        /// Portal.
        portal: Portal,
        /// open-iscsi iface.
        iface: String,
    },
    /// The plan as a whole.
    Plan,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Attachment { name } => write!(f, "attachment {name}"),
            Self::Path { hctl } => write!(f, "{hctl}"),
            Self::Map { name } => write!(f, "map {name}"),
            Self::Session {
                target,
                portal,
                iface: Some(i),
            } => write!(f, "session {target} at {portal} via iface {i}"),
            Self::Session {
                target,
                portal,
                iface: None,
            } => write!(f, "session {target} at {portal}"),
            Self::NodeRecord {
                target,
                portal,
                iface,
            } => write!(f, "node record {target} at {portal} iface {iface}"),
            Self::Plan => f.write_str("plan"),
        }
    }
}

/// The conclusion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FindingKind {
    /// As declared.
    Converged,
    /// Declared but not (fully) there; `what` says which part.
    Missing {
        /// e.g. "session at 192.0.2.1:3260", "LUN 2 on host3", "multipath map".
        what: String,
    },
    /// In scope, not declared; `action` says what the plan does about it.
    Unwanted {
        /// Why it is unwanted.
        why: String,
        /// "remove", "alert only (on_unexpected = alert)", …
        action: String,
    },
    /// Unwanted but in use: alert only, never removed.
    InUse {
        /// Every use signal found.
        why: String,
    },
    /// At the declared address, but another LUN.
    WrongWwid {
        /// Declared.
        expected: Wwid,
        /// Found.
        found: Wwid,
    },
    /// Present but not healthy (offline path, failed session, dead map).
    Degraded {
        /// What is wrong.
        why: String,
    },
    /// Removal refused for this device (a blocked path, no readable WWID).
    Refused {
        /// Why.
        why: String,
    },
    /// More removals than the policy allows: none planned.
    BlastRadius {
        /// How many LUNs would have been removed.
        count: usize,
        /// `policy.blast_radius`.
        limit: usize,
    },
    /// Unwanted, but seen too recently to remove.
    WaitingForGrace {
        /// Seconds left.
        remaining_secs: u64,
        /// When the grace period ends and the removal is due (first seen + grace), RFC 3339
        /// UTC: what `plan` and `status` print. Empty only in documents from an older daemon.
        #[serde(default)]
        removes_at: String,
    },
}

/// One conclusion about one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What it is about.
    pub subject: Subject,
    /// The attachment it relates to, if any.
    pub attachment: Option<String>,
    /// The conclusion.
    pub kind: FindingKind,
}

impl FindingKind {
    /// The variant's name as JSON tags it (`"waiting_for_grace"`): metrics labels, logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Converged => "converged",
            Self::Missing { .. } => "missing",
            Self::Unwanted { .. } => "unwanted",
            Self::InUse { .. } => "in_use",
            Self::WrongWwid { .. } => "wrong_wwid",
            Self::Degraded { .. } => "degraded",
            Self::Refused { .. } => "refused",
            Self::BlastRadius { .. } => "blast_radius",
            Self::WaitingForGrace { .. } => "waiting_for_grace",
        }
    }
}

/// An attachment's state from its findings, as `status` and the metrics show it: the worst
/// finding wins (a wrong WWID anywhere outranks "missing" on the attachment). Returns the state
/// (`converged`, `wrong_wwid`, `in_use`, `missing`, `degraded` or `unwanted`) and the finding
/// it comes from (`None` when there is none at all, read as missing).
pub fn attachment_state<'a>(
    findings: impl IntoIterator<Item = &'a Finding>,
) -> (&'static str, Option<&'a FindingKind>) {
    let rank = |k: &FindingKind| match k {
        FindingKind::WrongWwid { .. } => 0,
        FindingKind::InUse { .. } => 1,
        FindingKind::Missing { .. } => 2,
        FindingKind::Degraded { .. } => 3,
        FindingKind::Converged => 9,
        _ => 5,
    };
    let worst = findings
        .into_iter()
        .map(|f| &f.kind)
        .min_by_key(|k| rank(k));
    let state = match worst {
        Some(FindingKind::Converged) => "converged",
        Some(FindingKind::WrongWwid { .. }) => "wrong_wwid",
        Some(FindingKind::InUse { .. }) => "in_use",
        Some(FindingKind::Missing { .. }) | None => "missing",
        Some(FindingKind::Degraded { .. }) => "degraded",
        Some(_) => "unwanted",
    };
    (state, worst)
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Converged => f.write_str("converged"),
            Self::Missing { what } => write!(f, "missing: {what}"),
            Self::Unwanted { why, action } => {
                // Reasons are written to stand alone in step lines ("unwanted, in scope …").
                let why = why.strip_prefix("unwanted, ").unwrap_or(why);
                write!(f, "unwanted ({why}): {action}")
            }
            Self::InUse { why } => write!(f, "unwanted but in use ({why}): alert only"),
            Self::WrongWwid { expected, found } => {
                write!(f, "wrong WWID: expected {expected}, found {found}")
            }
            Self::Degraded { why } => write!(f, "degraded: {why}"),
            Self::Refused { why } => write!(f, "removal refused: {why}"),
            Self::BlastRadius { count, limit } => write!(
                f,
                "{count} LUNs to remove exceeds blast radius {limit}: nothing removed"
            ),
            Self::WaitingForGrace {
                remaining_secs,
                removes_at,
            } if removes_at.is_empty() => {
                write!(f, "unwanted, waiting {remaining_secs}s more (grace period)")
            }
            Self::WaitingForGrace {
                remaining_secs,
                removes_at,
            } => write!(
                f,
                "unwanted: would remove at {removes_at} (in {remaining_secs} s; grace period)"
            ),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.attachment {
            Some(a) => write!(f, "{} [{a}]: {}", self.subject, self.kind),
            None => write!(f, "{}: {}", self.subject, self.kind),
        }
    }
}
