//! The daemon's control socket: how `plan` and `history` reach a running daemon's data without
//! opening the database it holds (sled is single-process).
//!
//! A Unix stream socket (default `/run/lunguard/control.sock`), mode 0600 in a 0700 directory,
//! and every peer's credentials checked (`SO_PEERCRED`): only root, or the daemon's own user, may
//! ask. One request line per connection (`plan`, `history N`), one JSON answer, then close.
//! Blocking std IO on a thread of its own: the socket is tiny and must not depend on the loop.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::geteuid;
use tracing::{debug, warn};

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The latest pass's plan document (as `plan --json` prints it).
    Plan,
    /// The newest N journal entries (as `history --json` prints them).
    History(usize),
    /// The latest pass's snapshot (`engine::SnapshotDocument`), for `status`.
    Snapshot,
    /// When the latest pass ran (`engine::HealthDocument`): liveness probes.
    Health,
}

impl Request {
    /// The request as sent on the wire, newline included.
    pub fn line(&self) -> String {
        match self {
            Self::Plan => "plan\n".to_owned(),
            Self::History(n) => format!("history {n}\n"),
            Self::Snapshot => "snapshot\n".to_owned(),
            Self::Health => "health\n".to_owned(),
        }
    }

    /// Parses one request line; `None` for anything that is not a request.
    pub fn parse(line: &str) -> Option<Self> {
        let mut w = line.split_whitespace();
        match (w.next()?, w.next()) {
            ("plan", None) => Some(Self::Plan),
            ("history", Some(n)) => n.parse().ok().map(Self::History),
            ("snapshot", None) => Some(Self::Snapshot),
            ("health", None) => Some(Self::Health),
            _ => None,
        }
    }
}

/// Control socket failures.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The socket could not be created.
    #[error("cannot create control socket {path}: {source}")]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Talking to the daemon failed after connecting.
    #[error("control socket {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The daemon answered with an error.
    #[error("the daemon refused: {0}")]
    Refused(String),
}

/// Creates the socket: parent directory 0700, stale socket removed, socket 0600.
pub fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    let err = |source| ControlError::Bind {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(err)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    match fs::remove_file(path) {
        Ok(()) => debug!(path = %path.display(), "removed a stale control socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let l = UnixListener::bind(path).map_err(err)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(l)
}

/// Serves `listener` on a thread: each request goes to `answer`, whose `Ok` is sent as is and
/// whose `Err` is sent as `error: …`.
pub fn serve<F>(listener: UnixListener, answer: F) -> std::io::Result<JoinHandle<()>>
where
    F: Fn(Request) -> Result<String, String> + Send + 'static,
{
    std::thread::Builder::new()
        .name("lunguard-control".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(s) => {
                        if let Err(e) = handle(s, &answer) {
                            debug!(error = %e, "control connection");
                        }
                    }
                    Err(e) => warn!(error = %e, "control socket accept failed"),
                }
            }
        })
}

fn handle<F>(mut s: UnixStream, answer: &F) -> std::io::Result<()>
where
    F: Fn(Request) -> Result<String, String>,
{
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let me = geteuid().as_raw();
    match getsockopt(&s, PeerCredentials) {
        Ok(c) if c.uid() == 0 || c.uid() == me => {}
        Ok(c) => {
            warn!(
                uid = c.uid(),
                pid = c.pid(),
                "control socket: peer refused (not root)"
            );
            return s.write_all(b"error: permission denied: only root may ask the daemon\n");
        }
        Err(e) => {
            warn!(error = %e, "control socket: no peer credentials");
            return Ok(());
        }
    }
    let reply = reply_to(&mut s, answer)?;
    s.write_all(reply.as_bytes())
}

/// Longest request line read from a client: anything longer is cut there (and then refused).
pub const MAX_REQUEST: u64 = 4096;

/// Reads one request line (at most [`MAX_REQUEST`] bytes) from `input` and returns what the
/// server sends back: `answer`'s `Ok`, or `error: …`. Everything a client controls goes
/// through here, which is why it is public: the fuzz target drives it with raw bytes.
pub fn reply_to<R, F>(input: R, answer: &F) -> std::io::Result<String>
where
    R: Read,
    F: Fn(Request) -> Result<String, String>,
{
    let mut line = String::new();
    BufReader::new(input)
        .take(MAX_REQUEST)
        .read_line(&mut line)?;
    Ok(match Request::parse(&line) {
        Some(r) => answer(r).unwrap_or_else(|e| format!("error: {e}")),
        None => format!(
            "error: unknown request {:?} (expected `plan` or `history N`)",
            line.trim()
        ),
    })
}

/// Asks a running daemon. `Ok(None)`: no daemon listens there (no socket, or nobody accepts),
/// so the caller may open the database itself.
pub fn ask(path: &Path, req: &Request, timeout: Duration) -> Result<Option<String>, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_owned(),
        source,
    };
    let mut s = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(io(e)),
    };
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    s.write_all(req.line().as_bytes()).map_err(io)?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).map_err(io)?;
    match reply.strip_prefix("error: ") {
        Some(e) => Err(ControlError::Refused(e.trim().to_owned())),
        None => Ok(Some(reply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_garbage_is_refused() {
        for r in [
            Request::Plan,
            Request::History(7),
            Request::Snapshot,
            Request::Health,
        ] {
            assert_eq!(Request::parse(&r.line()), Some(r));
        }
        assert_eq!(Request::parse("rm -rf /\n"), None);
        assert_eq!(Request::parse("history lots\n"), None);
        assert_eq!(Request::parse("snapshot now\n"), None);
    }

    #[test]
    fn a_client_gets_the_daemons_answer_and_no_daemon_means_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run/control.sock");
        assert!(
            ask(&path, &Request::Plan, Duration::from_secs(1))
                .expect("no error")
                .is_none()
        );
        let l = bind(&path).expect("bind");
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        serve(l, |r| match r {
            Request::Plan => Ok("{\"plan\":1}".into()),
            Request::History(n) => Err(format!("no history for {n}")),
            Request::Snapshot | Request::Health => Err("not in this test".into()),
        })
        .expect("serve");
        let got = ask(&path, &Request::Plan, Duration::from_secs(5)).expect("ask");
        assert_eq!(got.as_deref(), Some("{\"plan\":1}"));
        let err = ask(&path, &Request::History(3), Duration::from_secs(5));
        assert!(matches!(err, Err(ControlError::Refused(m)) if m == "no history for 3"));
    }

    #[test]
    fn a_stale_socket_file_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("control.sock");
        drop(bind(&path).expect("first bind"));
        bind(&path).expect("second bind over the stale file");
    }
}
