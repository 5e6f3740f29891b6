//! Alerts: every finding and action outcome as a structured journald record
//! with a fixed `MESSAGE_ID` per kind, so operators can filter, count and
//! look up what lunguard did (`journalctl MESSAGE_ID=…`, catalog in
//! systemd/lunguard.catalog, fields in docs/alerts.md).
//!
//! This module owns the alert data (`Alert`, `AlertKind`, `Priority`), the
//! conversions from findings and executor journal events, the journald native
//! protocol (spoken directly over a Unix datagram socket; no libsystemd), the
//! one-line text form (stderr fallback, `demo`), and rate limiting. It must
//! not decide anything: callers choose what to emit; `FindingChanges` helps
//! them emit findings only when they change.

mod changes;
mod convert;
pub mod field;
mod journald;
mod kind;
mod limit;
mod line;
mod sink;

use std::fmt;

pub use changes::FindingChanges;
pub use journald::{DEFAULT_SOCKET, Journald, MAX_VALUE_BYTES, SendError, encode};
pub use kind::AlertKind;
pub use limit::{Clock, MonotonicClock, RateLimit, RateLimited, RateLimiter};
pub use line::format_line;
#[cfg(any(test, feature = "test-support"))]
pub use sink::MemorySink;
pub use sink::{Alerter, LineWriter, NoAlerts};

/// syslog priority, as journald's `PRIORITY` field (0 = emerg … 7 = debug).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// 0: system is unusable.
    Emerg = 0,
    /// 1: act immediately.
    Alert = 1,
    /// 2: critical.
    Crit = 2,
    /// 3: error.
    Err = 3,
    /// 4: warning.
    Warning = 4,
    /// 5: normal but significant.
    Notice = 5,
    /// 6: informational.
    Info = 6,
    /// 7: debug.
    Debug = 7,
}

impl Priority {
    /// The numeric value journald expects.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

/// One alert: what journald receives (as fields) and what the stderr fallback
/// and `demo` print (as one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Its kind (gives `MESSAGE_ID` and `LUNGUARD_KIND`).
    pub kind: AlertKind,
    /// `PRIORITY`.
    pub priority: Priority,
    /// `MESSAGE`: one human sentence.
    pub message: String,
    /// Extra fields, in order; a name may repeat (journald keeps every
    /// value, and `journalctl HCTL=…` matches any of them).
    pub fields: Vec<(&'static str, String)>,
    /// The subject the rate limit counts per (with the kind): an H:C:T:L, a
    /// map, a target. Not sent.
    pub key: String,
}

impl Alert {
    /// An alert with the kind's default priority, no fields and an empty key.
    pub fn new(kind: AlertKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            priority: kind.default_priority(),
            message: message.into(),
            fields: Vec::new(),
            key: String::new(),
        }
    }

    /// Adds a field. `name` should be one of the constants in [`field`]:
    /// journald drops fields whose names are not `[A-Z0-9_]`, not starting
    /// with `_` (those are trusted fields only journald may set).
    pub fn with(mut self, name: &'static str, value: impl fmt::Display) -> Self {
        self.fields.push((name, value.to_string()));
        self
    }

    /// Sets the priority.
    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the rate-limit key.
    pub fn keyed(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// The first value of field `name`, if any.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every field journald receives, in order: `MESSAGE`, `MESSAGE_ID`,
    /// `PRIORITY`, `SYSLOG_IDENTIFIER`, `LUNGUARD_KIND`, then `fields`.
    pub fn journal_fields(&self) -> Vec<(&'static str, String)> {
        let mut all = vec![
            (field::MESSAGE, self.message.clone()),
            (field::MESSAGE_ID, self.kind.message_id().to_owned()),
            (field::PRIORITY, self.priority.as_u8().to_string()),
            (field::SYSLOG_IDENTIFIER, field::IDENTIFIER.to_owned()),
            (field::LUNGUARD_KIND, self.kind.name().to_owned()),
        ];
        all.extend(self.fields.iter().cloned());
        all
    }
}

impl fmt::Display for Alert {
    /// The one-line form, as [`format_line`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_line(self))
    }
}
