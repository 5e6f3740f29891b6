//! Alerts on the wire: a fake journald (a Unix datagram socket bound in a
//! temp dir) receives and parses what `Journald` sends, in both the simple
//! and the binary (newline-containing value) forms; without journald the
//! same fields go to the fallback writer as one line.

// Helpers outside #[test] fns unwrap fixed test data too.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};

use lunguard::alert::{Alert, AlertKind, Alerter, Journald, MAX_VALUE_BYTES, field};
use lunguard::config::{Diagnostic, LoadErrors};
use lunguard::model::Hctl;
use lunguard::plan::{Finding, FindingKind, Subject};

/// Parses one native-protocol datagram into (name, value) pairs.
fn parse(mut buf: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let nl = buf
            .iter()
            .position(|&b| b == b'\n')
            .expect("field ends with \\n");
        let line = &buf[..nl];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            out.push((
                String::from_utf8(line[..eq].to_vec()).unwrap(),
                String::from_utf8(line[eq + 1..].to_vec()).unwrap(),
            ));
            buf = &buf[nl + 1..];
        } else {
            let name = String::from_utf8(line.to_vec()).unwrap();
            let rest = &buf[nl + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            let value = String::from_utf8(rest[8..8 + len].to_vec()).unwrap();
            assert_eq!(rest[8 + len], b'\n', "binary field {name} ends with \\n");
            out.push((name, value));
            buf = &rest[8 + len + 1..];
        }
    }
    out
}

fn fake_journald() -> (tempfile::TempDir, UnixDatagram, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("socket");
    let server = UnixDatagram::bind(&path).unwrap();
    (dir, server, path)
}

fn recv(server: &UnixDatagram) -> Vec<(String, String)> {
    let mut buf = vec![0u8; 256 * 1024];
    let len = server.recv(&mut buf).unwrap();
    parse(&buf[..len])
}

fn get<'a>(fields: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn unwanted_finding() -> Finding {
    Finding {
        subject: Subject::Path {
            hctl: "3:0:0:2".parse::<Hctl>().unwrap(),
        },
        attachment: None,
        kind: FindingKind::Unwanted {
            why: "not declared".into(),
            action: "remove".into(),
        },
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn finding_reaches_journald_with_message_id_priority_and_fields() {
    let (_dir, server, path) = fake_journald();
    let fallback = Captured::default();
    let j = Journald::with_socket(&path).with_fallback(Box::new(fallback.clone()));
    j.emit(&Alert::from_finding(&unwanted_finding()));
    let f = recv(&server);
    assert_eq!(
        get(&f, "MESSAGE"),
        ["3:0:0:2: unwanted (not declared): remove"]
    );
    assert_eq!(
        get(&f, "MESSAGE_ID"),
        [AlertKind::UnwantedDevice.message_id()]
    );
    assert_eq!(get(&f, "PRIORITY"), ["4"]);
    assert_eq!(get(&f, "SYSLOG_IDENTIFIER"), ["lunguard"]);
    assert_eq!(get(&f, "LUNGUARD_KIND"), ["unwanted_device"]);
    assert_eq!(get(&f, "HCTL"), ["3:0:0:2"]);
    assert_eq!(get(&f, "PLANNED"), ["remove"]);
    assert!(
        fallback.0.lock().unwrap().is_empty(),
        "no fallback when journald works"
    );
}

#[test]
fn multi_line_values_use_the_binary_form() {
    let (_dir, server, path) = fake_journald();
    let errors = LoadErrors(vec![
        Diagnostic::file(
            "/etc/lunguard/state.d/a.toml",
            "duplicate attachment name \"db\"",
        ),
        Diagnostic::file("/etc/lunguard/state.d/b.toml", "unknown field `lnu`"),
    ]);
    Journald::with_socket(&path).emit(&Alert::state_rejected(&errors));
    let f = recv(&server);
    assert_eq!(
        get(&f, "MESSAGE_ID"),
        [AlertKind::StateRejected.message_id()]
    );
    assert_eq!(
        get(&f, "DIAGNOSTICS"),
        [
            "/etc/lunguard/state.d/a.toml: duplicate attachment name \"db\"\n\
             /etc/lunguard/state.d/b.toml: unknown field `lnu`"
        ]
    );
    assert_eq!(
        get(&f, "STATE_FILE"),
        [
            "/etc/lunguard/state.d/a.toml",
            "/etc/lunguard/state.d/b.toml"
        ]
    );
}

#[test]
fn oversized_values_are_truncated_with_a_note() {
    let (_dir, server, path) = fake_journald();
    let huge = "x".repeat(MAX_VALUE_BYTES * 4);
    Journald::with_socket(&path)
        .emit(&Alert::new(AlertKind::ActionFailed, "big").with(field::ERROR, &huge));
    let f = recv(&server);
    let err = get(&f, "ERROR")[0];
    assert!(err.len() < MAX_VALUE_BYTES + 100);
    assert!(err.ends_with(&format!(
        "[truncated by lunguard: {} more bytes]",
        MAX_VALUE_BYTES * 3
    )));
}

#[test]
fn without_journald_the_same_fields_go_to_stderr_as_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let fallback = Captured::default();
    let j = Journald::with_socket(dir.path().join("no-such-socket"))
        .with_fallback(Box::new(fallback.clone()));
    j.emit(&Alert::from_finding(&unwanted_finding()));
    let text = String::from_utf8(fallback.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text,
        format!(
            "lunguard: 3:0:0:2: unwanted (not declared): remove MESSAGE_ID={} PRIORITY=4 \
             LUNGUARD_KIND=unwanted_device HCTL=3:0:0:2 REASON=\"not declared\" PLANNED=remove\n",
            AlertKind::UnwantedDevice.message_id()
        )
    );
}
