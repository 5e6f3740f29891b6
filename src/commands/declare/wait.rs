//! `attach --wait` / `detach --wait`: ask the running daemon, over its control socket, until its
//! latest pass says the change is done, and otherwise say why not. Read-only: the daemon acts,
//! this only watches its plan (and, for a detach, its snapshot).

use std::io::Write;
use std::time::{Duration, Instant};

use crate::commands::CommandError;
use crate::config::{Config, Mode};
use crate::control::{self, ControlError, Request};
use crate::engine::{PlanDocument, SnapshotDocument};
use crate::exit::Exit;
use crate::model::Iqn;
use crate::plan::{FindingKind, Subject};

/// What `--wait` waits for.
#[derive(Debug, Clone)]
pub enum Goal {
    /// The attachment's finding is `converged`.
    Converged {
        /// The attachment.
        name: String,
    },
    /// The attachment is out of the daemon's desired state and no device of its (target, LUN)
    /// is in that pass's snapshot (or a later one's: the daemon publishes a pass's snapshot
    /// before its plan, so a plan without the attachment comes with a snapshot at least as new).
    Gone {
        /// The attachment.
        name: String,
        /// Its target.
        target: Iqn,
        /// Its LUN.
        lun: u64,
    },
}

/// How often the daemon is asked: its passes follow events within the debounce (50 ms), so
/// this is the latency of the answer, not of the work.
const POLL: Duration = Duration::from_millis(250);

/// What one look at the daemon said.
enum Look {
    Done(String),
    Failed(String),
    Pending(String),
}

/// Asks until `goal` is reached (exit 0), cannot be reached (exit 1, the reason), or `timeout`
/// passes (exit 1, the last reason). No daemon at the config's control socket is an error
/// (exit 2): the state file is changed and takes effect when a daemon runs.
pub fn until(
    cfg: &Config,
    goal: &Goal,
    timeout: Duration,
    out: &mut dyn Write,
) -> Result<Exit, CommandError> {
    let start = Instant::now();
    let mut last = String::new();
    loop {
        let look = look(cfg, goal)?;
        let reason = match look {
            Look::Done(msg) => {
                writeln!(out, "{msg} ({:.1} s)", start.elapsed().as_secs_f64())?;
                return Ok(Exit::Ok);
            }
            Look::Failed(why) => {
                writeln!(out, "failed: {why}")?;
                return Ok(Exit::Findings);
            }
            Look::Pending(why) => why,
        };
        if reason != last {
            writeln!(
                out,
                "waiting ({:.0} s): {reason}",
                start.elapsed().as_secs_f64()
            )?;
            last = reason;
        }
        if start.elapsed() >= timeout {
            writeln!(
                out,
                "failed: not done after {} s: {last}",
                timeout.as_secs()
            )?;
            return Ok(Exit::Findings);
        }
        std::thread::sleep(POLL);
    }
}

fn ask(cfg: &Config, req: &Request) -> Result<Option<String>, CommandError> {
    match control::ask(&cfg.control_socket, req, Duration::from_secs(30)) {
        Ok(Some(reply)) => Ok(Some(reply)),
        Ok(None) => Err(CommandError::NoDaemon(format!(
            "--wait: no daemon answers on {}; the state file is changed and takes effect when `lunguard daemon` runs",
            cfg.control_socket.display()
        ))),
        // Before its first pass the daemon answers with an error: ask again.
        Err(ControlError::Refused(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn look(cfg: &Config, goal: &Goal) -> Result<Look, CommandError> {
    let Some(reply) = ask(cfg, &Request::Plan)? else {
        return Ok(Look::Pending(
            "the daemon has not finished a pass yet".into(),
        ));
    };
    let doc: PlanDocument = serde_json::from_str(&reply)?;
    if !doc.desired_ok {
        return Ok(Look::Failed(format!(
            "the daemon rejected the state files and keeps the last good state:\n  {}",
            doc.desired_errors.join("\n  ")
        )));
    }
    let name = match goal {
        Goal::Converged { name } | Goal::Gone { name, .. } => name,
    };
    let subject = Subject::Attachment { name: name.clone() };
    let findings: Vec<_> = doc
        .plan
        .iter()
        .flat_map(|p| &p.findings)
        .filter(|f| f.subject == subject || f.attachment.as_deref() == Some(name))
        .collect();
    match goal {
        Goal::Converged { .. } => {
            if doc.mode == Some(Mode::Observe) {
                return Ok(Look::Failed(
                    "the daemon is in observe mode: it plans the attach but does not act (set mode = \"enforce\" in lunguard.toml and reload)".into(),
                ));
            }
            if findings.is_empty() {
                return Ok(Look::Pending(format!(
                    "the daemon has not loaded {name} yet"
                )));
            }
            if let Some(f) = findings
                .iter()
                .find(|f| matches!(f.kind, FindingKind::WrongWwid { .. }))
            {
                return Ok(Look::Failed(format!("{name}: {}", f.kind)));
            }
            let converged = findings
                .iter()
                .any(|f| f.subject == subject && f.kind == FindingKind::Converged);
            if converged && findings.len() == 1 {
                return Ok(Look::Done(format!("{name}: converged")));
            }
            let why: Vec<String> = findings
                .iter()
                .filter(|f| f.kind != FindingKind::Converged)
                .map(|f| {
                    if f.subject == subject {
                        f.kind.to_string()
                    } else {
                        format!("{}: {}", f.subject, f.kind)
                    }
                })
                .collect();
            Ok(Look::Pending(format!("{name}: {}", why.join("; "))))
        }
        Goal::Gone { target, lun, .. } => {
            if !findings.is_empty() {
                return Ok(Look::Pending(format!(
                    "the daemon still declares {name} (its state not reloaded yet)"
                )));
            }
            let Some(reply) = ask(cfg, &Request::Snapshot)? else {
                return Ok(Look::Pending("the daemon has no snapshot yet".into()));
            };
            let snap: SnapshotDocument = serde_json::from_str(&reply)?;
            let sessions: Vec<u32> = snap
                .snapshot
                .iscsi_sessions
                .iter()
                .filter(|s| s.target.as_ref() == Some(target))
                .map(|s| s.id)
                .collect();
            let left: Vec<_> = snap
                .snapshot
                .devices
                .iter()
                .filter(|d| d.hctl.lun == *lun)
                .filter(|d| d.iscsi_session.is_some_and(|id| sessions.contains(&id)))
                .map(|d| d.hctl)
                .collect();
            if left.is_empty() {
                return Ok(Look::Done(format!(
                    "{name}: detached ({target} LUN {lun} gone)"
                )));
            }
            let why: Vec<String> = doc
                .plan
                .iter()
                .flat_map(|p| &p.findings)
                .filter(|f| matches!(&f.subject, Subject::Path { hctl } if left.contains(hctl)))
                .map(|f| format!("{}: {}", f.subject, f.kind))
                .collect();
            let paths: Vec<String> = left.iter().map(ToString::to_string).collect();
            Ok(Look::Pending(if why.is_empty() {
                format!("{} still present", paths.join(", "))
            } else {
                why.join("; ")
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::plan::{Finding, Plan};

    /// A control socket that answers `plan` with the next document of `docs` on each request
    /// (the last one forever), like a daemon whose passes move on.
    fn daemon(dir: &std::path::Path, docs: Vec<PlanDocument>) -> Config {
        let path = dir.join("ctl.sock");
        let listener = control::bind(&path).expect("bind");
        let n = AtomicUsize::new(0);
        let docs = Mutex::new(docs);
        control::serve(listener, move |req| match req {
            Request::Plan => {
                let docs = docs.lock().expect("docs");
                let i = n.fetch_add(1, Ordering::SeqCst).min(docs.len() - 1);
                serde_json::to_string(&docs[i]).map_err(|e| e.to_string())
            }
            _ => Err("not in this test".into()),
        })
        .expect("serve");
        Config {
            control_socket: path,
            ..Config::default()
        }
    }

    fn doc(mode: Mode, findings: Vec<(Subject, FindingKind)>) -> PlanDocument {
        PlanDocument {
            schema_version: 2,
            desired_ok: true,
            desired_errors: Vec::new(),
            attachments: 1,
            plan: Some(Plan {
                findings: findings
                    .into_iter()
                    .map(|(subject, kind)| Finding {
                        subject,
                        attachment: Some("vol-1".into()),
                        kind,
                    })
                    .collect(),
                ..Plan::default()
            }),
            source: "daemon".into(),
            mode: Some(mode),
        }
    }

    fn vol() -> Subject {
        Subject::Attachment {
            name: "vol-1".into(),
        }
    }

    fn run(cfg: &Config) -> (Exit, String) {
        let mut out = Vec::new();
        let goal = Goal::Converged {
            name: "vol-1".into(),
        };
        let exit = until(cfg, &goal, Duration::from_secs(10), &mut out).expect("ask");
        (exit, String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn waits_through_not_loaded_and_missing_until_converged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = FindingKind::Missing {
            what: "session to 192.0.2.10:3260".into(),
        };
        let cfg = daemon(
            dir.path(),
            vec![
                doc(Mode::Enforce, vec![]),
                doc(Mode::Enforce, vec![(vol(), missing)]),
                doc(Mode::Enforce, vec![(vol(), FindingKind::Converged)]),
            ],
        );
        let (exit, out) = run(&cfg);
        assert_eq!(exit, Exit::Ok, "{out}");
        assert!(out.contains("has not loaded vol-1 yet"), "{out}");
        assert!(out.contains("missing: session to 192.0.2.10:3260"), "{out}");
        assert!(out.contains("vol-1: converged"), "{out}");
    }

    #[test]
    fn a_wrong_wwid_observe_mode_or_a_rejected_state_fails_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wrong = FindingKind::WrongWwid {
            expected: "naa.600140500000000000000000000000aa"
                .parse()
                .expect("wwid"),
            found: "naa.600140500000000000000000000000bb"
                .parse()
                .expect("wwid"),
        };
        let cfg = daemon(dir.path(), vec![doc(Mode::Enforce, vec![(vol(), wrong)])]);
        let (exit, out) = run(&cfg);
        assert_eq!(exit, Exit::Findings, "{out}");
        assert!(out.contains("failed: vol-1: wrong WWID"), "{out}");

        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = daemon(dir.path(), vec![doc(Mode::Observe, vec![])]);
        let (exit, out) = run(&cfg);
        assert_eq!(exit, Exit::Findings, "{out}");
        assert!(out.contains("observe mode"), "{out}");

        let dir = tempfile::tempdir().expect("tempdir");
        let mut rejected = doc(Mode::Enforce, vec![]);
        rejected.desired_ok = false;
        rejected.desired_errors = vec!["state/x.toml:2:8: invalid".into()];
        let cfg = daemon(dir.path(), vec![rejected]);
        let (exit, out) = run(&cfg);
        assert_eq!(exit, Exit::Findings, "{out}");
        assert!(out.contains("state/x.toml:2:8: invalid"), "{out}");
    }

    #[test]
    fn a_finding_that_never_clears_ends_at_the_timeout_with_the_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let degraded = FindingKind::Degraded {
            why: "1 of 2 paths".into(),
        };
        let cfg = daemon(
            dir.path(),
            vec![doc(
                Mode::Enforce,
                vec![(vol(), FindingKind::Converged), (vol(), degraded)],
            )],
        );
        let mut out = Vec::new();
        let goal = Goal::Converged {
            name: "vol-1".into(),
        };
        let exit = until(&cfg, &goal, Duration::from_millis(600), &mut out).expect("ask");
        let out = String::from_utf8(out).expect("utf-8");
        assert_eq!(exit, Exit::Findings, "{out}");
        assert!(
            out.contains("not done after 0 s: vol-1: degraded: 1 of 2 paths"),
            "{out}"
        );
    }
}
