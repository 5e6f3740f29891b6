//! Rules 1 and 2: for each attachment, what is converged and what is
//! missing, and the narrow actions that add the missing parts (login with
//! manual scan, one-LUN scan, multipath map). Pure; no IO.

use crate::model::{Attachment, Hctl, ScsiDeviceState, Wwid};
use crate::snapshot::ScsiDevice;

use super::index::Index;
use crate::plan::{Action, Finding, FindingKind, Subject};

/// The actions one attachment needs (its findings go straight into the plan's).
#[derive(Debug, Default)]
pub(crate) struct AttachPlan {
    pub logins: Vec<Action>,
    pub scans: Vec<Action>,
    pub multipath: Vec<Action>,
}

/// Channel and target id to scan on a session's host: those of a device
/// already on the session, else 0:0 (iscsi_tcp gives each session its own
/// host with one target, id 0).
fn channel_target(index: &Index<'_>, sid: u32) -> (u32, u32) {
    index
        .devices_of_session(sid)
        .first()
        .map_or((0, 0), |d| (d.hctl.channel, d.hctl.target))
}

/// Plans one attachment. `excluded` attachments (target excluded by scope)
/// only get a finding. `index.path_failed` is multipathd's view by block name: a
/// path it reports `failed` is not usable even while its SCSI device says
/// `running` (the kernel keeps it running when the array drops the LUN).
/// The attachment's verdict, worst first: `WrongWwid` (another LUN at a
/// declared address: a remap), `Missing`, `Degraded` (a path offline or
/// failed; "no usable path" when that is every path), `Converged`.
pub(crate) fn attachment(
    index: &Index<'_>,
    att: &Attachment,
    excluded: bool,
    findings: &mut Vec<Finding>,
) -> AttachPlan {
    let mut out = AttachPlan::default();
    let me = Some(att.name.clone());
    if excluded {
        findings.push(Finding {
            subject: Subject::Attachment {
                name: att.name.clone(),
            },
            attachment: me,
            kind: FindingKind::Refused {
                why: format!("target {} is excluded by the configured scope", att.target),
            },
        });
        return out;
    }
    let mut missing: Vec<String> = Vec::new();
    let mut degraded: Vec<String> = Vec::new();
    let mut good: Vec<&ScsiDevice> = Vec::new();
    let mut wrong: Option<(Wwid, Wwid)> = None;
    // Paths found at the declared address, and which of them cannot carry I/O.
    let mut present = 0usize;
    let mut unusable: Vec<String> = Vec::new();
    for portal in &att.portals {
        let Some(s) = index.session_at(&att.target, *portal) else {
            missing.push(format!("session to {portal}"));
            out.logins.push(Action::Login {
                target: att.target.clone(),
                portal: *portal,
            });
            continue;
        };
        if s.state.as_deref() != Some("LOGGED_IN") {
            degraded.push(format!(
                "session{} to {portal} is {}",
                s.id,
                s.state.as_deref().unwrap_or("in an unknown state")
            ));
            continue;
        }
        let Some(host) = s.host else {
            degraded.push(format!("session{} has no SCSI host", s.id));
            continue;
        };
        let Some(dev) = index.device_at(s.id, att.lun) else {
            missing.push(format!("LUN {} on host{host}", att.lun));
            let (channel, target_id) = channel_target(index, s.id);
            out.scans.push(Action::ScanLun {
                target: att.target.clone(),
                hctl: Hctl::new(host, channel, target_id, att.lun),
            });
            continue;
        };
        match (&att.wwid, &dev.wwid) {
            (Some(e), Some(f)) if e != f => {
                // The path's WrongWwid finding and its removal come from `remove`; the
                // attachment itself is wrong_wwid, never converged or merely missing.
                missing.push(format!("{} holds another LUN ({f})", dev.hctl));
                wrong.get_or_insert_with(|| (e.clone(), f.clone()));
                continue;
            }
            (Some(_), None) => {
                degraded.push(format!("{} has no readable WWID to confirm it", dev.hctl))
            }
            _ => {}
        }
        present += 1;
        let block = dev.block.as_ref().map(|b| b.name.as_str());
        let failed = block.is_some_and(|b| index.path_failed(b));
        // Formatted only for a degraded path (most paths are converged).
        let label =
            || block.map_or_else(|| dev.hctl.to_string(), |b| format!("{} ({b})", dev.hctl));
        let kind = match &dev.state {
            Some(st) if *st != ScsiDeviceState::Running => {
                degraded.push(format!("{} is {st}", dev.hctl));
                unusable.push(format!("{} {st}", label()));
                FindingKind::Degraded {
                    why: format!("device state is {st}"),
                }
            }
            _ if failed => {
                let label = label();
                degraded.push(format!("{label} failed in multipathd"));
                unusable.push(format!("{label} failed"));
                FindingKind::Degraded {
                    why: "multipathd reports the path failed".into(),
                }
            }
            _ => FindingKind::Converged,
        };
        findings.push(Finding {
            subject: Subject::Path { hctl: dev.hctl },
            attachment: me.clone(),
            kind,
        });
        good.push(dev);
    }
    if att.multipath {
        multipath(
            index,
            att,
            &good,
            (&mut out, findings),
            &mut missing,
            &mut degraded,
        );
    }
    if present > 0 && unusable.len() == present {
        degraded.insert(
            0,
            format!(
                "no usable path: every path is failed or offline ({})",
                unusable.join(", ")
            ),
        );
    }
    let kind = if let Some((expected, found)) = wrong {
        FindingKind::WrongWwid { expected, found }
    } else if !missing.is_empty() {
        FindingKind::Missing {
            what: missing.join(", "),
        }
    } else if !degraded.is_empty() {
        FindingKind::Degraded {
            why: degraded.join(", "),
        }
    } else {
        FindingKind::Converged
    };
    findings.push(Finding {
        subject: Subject::Attachment {
            name: att.name.clone(),
        },
        attachment: me,
        kind,
    });
    out
}

fn multipath(
    index: &Index<'_>,
    att: &Attachment,
    good: &[&ScsiDevice],
    (out, findings): (&mut AttachPlan, &mut Vec<Finding>),
    missing: &mut Vec<String>,
    degraded: &mut Vec<String>,
) {
    let blocks = good
        .iter()
        .filter_map(|d| d.block.as_ref().map(|b| b.name.as_str()));
    match index.multipath_over_any(blocks) {
        Some(m) => {
            if m.suspended == Some(true) {
                degraded.push(format!("map {} is suspended", m.kernel_name));
            }
            if let Some(name) = &m.name {
                findings.push(Finding {
                    subject: Subject::Map { name: name.clone() },
                    attachment: Some(att.name.clone()),
                    kind: FindingKind::Converged,
                });
            }
        }
        None => {
            missing.push("multipath map".into());
            let first = good
                .iter()
                .find_map(|d| Some((d.wwid.clone()?, d.block.as_ref()?.name.clone())));
            if let Some((wwid, path)) = first {
                out.multipath.push(Action::MultipathAdd { wwid, path });
            }
        }
    }
}
