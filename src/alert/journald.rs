//! The journald native protocol, spoken directly: one datagram per record to
//! `/run/systemd/journal/socket`, each field either `KEY=value\n` or, when
//! the value contains a newline, `KEY\n` + 64-bit little-endian length +
//! value + `\n` (see systemd's `man 7 systemd.journal-fields` and the
//! "Native Journal Protocol" document).
//!
//! Large records: journald accepts bigger ones through a memfd passed over
//! the socket; we do not, and instead cut each value at [`MAX_VALUE_BYTES`]
//! with a note saying how much was dropped. A record is a handful of short
//! fields, so this keeps every datagram far below the socket's send buffer.
//! When the socket is missing or a send fails, [`Journald`] writes the
//! one-line form to stderr instead (or the writer it was given).

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::{Alert, Alerter, field, format_line};

/// Where journald listens for native-protocol datagrams.
pub const DEFAULT_SOCKET: &str = "/run/systemd/journal/socket";

/// Longest value sent, in bytes; longer ones are cut (see module docs).
pub const MAX_VALUE_BYTES: usize = 32 * 1024;

/// How long a send may block on a full socket buffer before we give up and
/// fall back: a stalled journald must not stall the reconcile loop.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a record could not be handed to journald.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Could not create the client socket.
    #[error("cannot create a Unix datagram socket for journald: {0}")]
    Socket(#[source] io::Error),
    /// The send failed (socket missing, journald not running, buffer full).
    #[error("cannot send to journald at {path}: {source}", path = path.display())]
    Send {
        /// The socket path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Encodes an alert as one native-protocol datagram. Fields with invalid
/// names are dropped (journald would drop them too); values are cut at
/// [`MAX_VALUE_BYTES`].
pub fn encode(alert: &Alert) -> Vec<u8> {
    let mut buf = Vec::with_capacity(512);
    for (name, value) in alert.journal_fields() {
        if !field::is_valid(name) {
            continue;
        }
        let value = truncate(&value);
        if value.contains('\n') {
            buf.extend_from_slice(name.as_bytes());
            buf.push(b'\n');
            buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
            buf.extend_from_slice(value.as_bytes());
            buf.push(b'\n');
        } else {
            buf.extend_from_slice(name.as_bytes());
            buf.push(b'=');
            buf.extend_from_slice(value.as_bytes());
            buf.push(b'\n');
        }
    }
    buf
}

fn truncate(value: &str) -> std::borrow::Cow<'_, str> {
    if value.len() <= MAX_VALUE_BYTES {
        return value.into();
    }
    let mut end = MAX_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{} [truncated by lunguard: {} more bytes]",
        &value[..end],
        value.len() - end
    )
    .into()
}

/// Sends alerts to journald; falls back to one line per alert on stderr (or
/// the given writer) when that fails.
pub struct Journald {
    path: PathBuf,
    socket: Result<UnixDatagram, String>,
    fallback: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Journald {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journald")
            .field("path", &self.path)
            .field("socket", &self.socket.as_ref().map(|_| "open"))
            .finish_non_exhaustive()
    }
}

impl Default for Journald {
    fn default() -> Self {
        Self::new()
    }
}

impl Journald {
    /// To the system journal, falling back to stderr.
    pub fn new() -> Self {
        Self::with_socket(DEFAULT_SOCKET)
    }

    /// To the journald socket at `path` (tests bind a fake one), falling back
    /// to stderr.
    pub fn with_socket(path: impl Into<PathBuf>) -> Self {
        let socket = UnixDatagram::unbound()
            .and_then(|s| s.set_write_timeout(Some(SEND_TIMEOUT)).map(|()| s))
            .map_err(|e| e.to_string());
        Self {
            path: path.into(),
            socket,
            fallback: Mutex::new(Box::new(io::stderr())),
        }
    }

    /// Replaces the fallback writer (tests capture it).
    pub fn with_fallback(mut self, writer: Box<dyn Write + Send>) -> Self {
        self.fallback = Mutex::new(writer);
        self
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends one alert to journald, without fallback.
    pub fn send(&self, alert: &Alert) -> Result<(), SendError> {
        let socket = self
            .socket
            .as_ref()
            .map_err(|e| SendError::Socket(io::Error::other(e.clone())))?;
        socket
            .send_to(&encode(alert), &self.path)
            .map(|_| ())
            .map_err(|source| SendError::Send {
                path: self.path.clone(),
                source,
            })
    }
}

impl Alerter for Journald {
    fn emit(&self, alert: &Alert) {
        if self.send(alert).is_err() {
            let mut w = self.fallback.lock().unwrap_or_else(PoisonError::into_inner);
            // Nowhere left to report a failing stderr; dropping is all we can do.
            let _ = writeln!(w, "{}", format_line(alert));
            let _ = w.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertKind;

    #[test]
    fn values_with_newlines_use_the_binary_form() {
        let a = Alert::new(AlertKind::StateRejected, "rejected").with(field::DIAGNOSTICS, "a\nb");
        let buf = encode(&a);
        let mut expected = b"DIAGNOSTICS\n".to_vec();
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(b"a\nb\n");
        assert!(buf.ends_with(&expected));
        assert!(
            buf.starts_with(b"MESSAGE=rejected\nMESSAGE_ID=7bd3ba212a8e47a9b5fec22dd1d0f084\n")
        );
    }

    #[test]
    fn long_values_are_cut_with_a_note() {
        let long = "é".repeat(MAX_VALUE_BYTES);
        let cut = truncate(&long);
        assert!(cut.len() < MAX_VALUE_BYTES + 64);
        assert!(cut.ends_with(&format!(
            "[truncated by lunguard: {} more bytes]",
            long.len() - MAX_VALUE_BYTES
        )));
    }

    #[test]
    fn invalid_field_names_are_dropped() {
        let a = Alert::new(AlertKind::Converged, "ok")
            .with("_PID", "1")
            .with("lower", "x");
        let text = String::from_utf8(encode(&a)).unwrap();
        assert!(!text.contains("_PID") && !text.contains("lower"));
    }
}
