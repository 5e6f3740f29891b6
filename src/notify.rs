//! `sd_notify`: tells systemd the daemon is ready, what it is doing, that it
//! is alive (watchdog) and that it is stopping, by datagrams to
//! `$NOTIFY_SOCKET` — spoken directly with std's `UnixDatagram`, no
//! libsystemd. Without `$NOTIFY_SOCKET` (not started by systemd, or
//! `Type=simple`) every call is a no-op.
//!
//! `$NOTIFY_SOCKET` is a path or, starting with `@`, a Linux abstract socket.
//! `vsock:` addresses (systemd ≥ 254, for VMs) are not supported and are
//! reported as an error by `from_env`.
//!
//! The environment is read, never changed: with `NotifyAccess=main` (our
//! unit) systemd ignores notifications from the programs we run, so they may
//! inherit the variable harmlessly.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Why a notification could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// `$NOTIFY_SOCKET` is set but not a usable Unix socket address.
    #[error("NOTIFY_SOCKET={value:?} is not a Unix socket path or @abstract name: {why}")]
    BadAddress {
        /// The value.
        value: String,
        /// Why.
        why: String,
    },
    /// Could not create the client socket.
    #[error("cannot create a Unix datagram socket for sd_notify: {0}")]
    Socket(#[source] io::Error),
    /// The send failed.
    #[error("cannot send {state:?} to NOTIFY_SOCKET {addr}: {source}")]
    Send {
        /// What was being sent.
        state: String,
        /// The address.
        addr: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// A connection to the service manager, or none.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr, String)>,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`; disabled when it is unset or empty.
    pub fn from_env() -> Result<Self, NotifyError> {
        match std::env::var("NOTIFY_SOCKET") {
            Ok(v) if !v.is_empty() => Self::connect(&v),
            _ => Ok(Self::disabled()),
        }
    }

    /// One that sends nothing.
    pub fn disabled() -> Self {
        Self { target: None }
    }

    /// To `addr`: a socket path, or `@name` for an abstract socket.
    pub fn connect(addr: &str) -> Result<Self, NotifyError> {
        let bad = |why: String| NotifyError::BadAddress {
            value: addr.to_owned(),
            why,
        };
        let sockaddr = if let Some(name) = addr.strip_prefix('@') {
            SocketAddr::from_abstract_name(name.as_bytes()).map_err(|e| bad(e.to_string()))?
        } else if addr.starts_with('/') {
            SocketAddr::from_pathname(addr).map_err(|e| bad(e.to_string()))?
        } else {
            return Err(bad("expected an absolute path or @name".into()));
        };
        let socket = UnixDatagram::unbound().map_err(NotifyError::Socket)?;
        Ok(Self {
            target: Some((socket, sockaddr, addr.to_owned())),
        })
    }

    /// Whether notifications go anywhere.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends `state` (newline-separated `KEY=value` assignments) as is.
    pub fn notify(&self, state: &str) -> Result<(), NotifyError> {
        let Some((socket, addr, text)) = &self.target else {
            return Ok(());
        };
        socket
            .send_to_addr(state.as_bytes(), addr)
            .map(|_| ())
            .map_err(|source| NotifyError::Send {
                state: state.to_owned(),
                addr: text.clone(),
                source,
            })
    }

    /// `READY=1`: startup finished (after the first full observation), and
    /// after a reload.
    pub fn ready(&self) -> Result<(), NotifyError> {
        self.notify("READY=1")
    }

    /// `READY=1` with a status line in the same datagram.
    pub fn ready_with_status(&self, status: &str) -> Result<(), NotifyError> {
        self.notify(&format!("READY=1\nSTATUS={}", one_line(status)))
    }

    /// `STATUS=…`: the line `systemctl status` shows.
    pub fn status(&self, status: &str) -> Result<(), NotifyError> {
        self.notify(&format!("STATUS={}", one_line(status)))
    }

    /// `WATCHDOG=1`: the loop is alive. Send every [`watchdog_interval`].
    pub fn watchdog(&self) -> Result<(), NotifyError> {
        self.notify("WATCHDOG=1")
    }

    /// `RELOADING=1`: a reload (SIGHUP) started; send `READY=1` when done.
    pub fn reloading(&self) -> Result<(), NotifyError> {
        self.notify("RELOADING=1")
    }

    /// `STOPPING=1`: shutdown started.
    pub fn stopping(&self) -> Result<(), NotifyError> {
        self.notify("STOPPING=1")
    }
}

/// A newline in `STATUS=` would start a new assignment.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, if the
/// watchdog is enabled for this process (`$WATCHDOG_PID` unset or ours).
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    watchdog_interval_from(usec.as_deref(), pid.as_deref(), std::process::id())
}

/// [`watchdog_interval`] from explicit values, for tests. Half the timeout,
/// as systemd recommends, so one late tick does not kill us.
pub fn watchdog_interval_from(
    usec: Option<&str>,
    pid: Option<&str>,
    my_pid: u32,
) -> Option<Duration> {
    if let Some(pid) = pid
        && pid.trim().parse::<u32>().ok() != Some(my_pid)
    {
        return None;
    }
    let usec: u64 = usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_is_half_the_timeout_and_only_for_our_pid() {
        let half = Some(Duration::from_secs(15));
        assert_eq!(watchdog_interval_from(Some("30000000"), None, 7), half);
        assert_eq!(watchdog_interval_from(Some("30000000"), Some("7"), 7), half);
        assert_eq!(watchdog_interval_from(Some("30000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval_from(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval_from(Some("x"), None, 7), None);
        assert_eq!(watchdog_interval_from(None, Some("7"), 7), None);
    }

    #[test]
    fn disabled_is_a_no_op() {
        let n = Notifier::disabled();
        assert!(!n.is_enabled());
        n.ready().unwrap();
    }

    #[test]
    fn relative_or_vsock_addresses_are_rejected() {
        for bad in ["relative/path", "vsock:2:1234"] {
            let err = Notifier::connect(bad).unwrap_err();
            assert!(err.to_string().contains("NOTIFY_SOCKET"), "{err}");
        }
    }

    #[test]
    fn sends_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::connect(path.to_str().unwrap()).unwrap();
        n.ready_with_status("watching 3 attachments\nsecond line")
            .unwrap();
        n.watchdog().unwrap();
        n.stopping().unwrap();
        let mut buf = [0u8; 256];
        let mut got = Vec::new();
        for _ in 0..3 {
            let len = server.recv(&mut buf).unwrap();
            got.push(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
        assert_eq!(
            got,
            [
                "READY=1\nSTATUS=watching 3 attachments second line",
                "WATCHDOG=1",
                "STOPPING=1"
            ]
        );
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        let name = format!("lunguard-test-notify-{}", std::process::id());
        let server =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        let n = Notifier::connect(&format!("@{name}")).unwrap();
        n.status("reconciling").unwrap();
        let mut buf = [0u8; 64];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STATUS=reconciling");
    }
}
