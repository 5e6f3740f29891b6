//! `Alerter`: where alerts go. The daemon uses `RateLimited<Journald>`;
//! tests capture with `MemorySink`; `demo` prints with `LineWriter`.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

#[cfg(any(test, feature = "test-support"))]
use super::AlertKind;
use super::{Alert, format_line};

/// Receives alerts. Emitting never fails the caller: an alert that cannot be
/// delivered is written to a fallback or dropped, never turned into an error
/// that could stop a reconcile.
pub trait Alerter: Send + Sync {
    /// Delivers one alert.
    fn emit(&self, alert: &Alert);

    /// Sends whatever is held back (a rate limiter's "suppressed N" summaries). The daemon calls
    /// it after every pass and on its watchdog tick, so a summary is never later than that.
    fn flush(&self) {}
}

impl<A: Alerter + ?Sized> Alerter for &A {
    fn emit(&self, alert: &Alert) {
        (**self).emit(alert);
    }

    fn flush(&self) {
        (**self).flush();
    }
}

impl<A: Alerter + ?Sized> Alerter for Arc<A> {
    fn emit(&self, alert: &Alert) {
        (**self).emit(alert);
    }

    fn flush(&self) {
        (**self).flush();
    }
}

impl<A: Alerter + ?Sized> Alerter for Box<A> {
    fn emit(&self, alert: &Alert) {
        (**self).emit(alert);
    }

    fn flush(&self) {
        (**self).flush();
    }
}

/// Drops every alert.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAlerts;

impl Alerter for NoAlerts {
    fn emit(&self, _: &Alert) {}
}

#[cfg(any(test, feature = "test-support"))]
/// Keeps every alert in memory, for tests.
#[derive(Debug, Default)]
pub struct MemorySink {
    alerts: Mutex<Vec<Alert>>,
}

#[cfg(any(test, feature = "test-support"))]
impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything emitted so far.
    pub fn alerts(&self) -> Vec<Alert> {
        self.lock().clone()
    }

    /// Everything emitted so far, emptying the sink.
    pub fn take(&self) -> Vec<Alert> {
        std::mem::take(&mut *self.lock())
    }

    /// The kinds emitted so far, in order.
    pub fn kinds(&self) -> Vec<AlertKind> {
        self.lock().iter().map(|a| a.kind).collect()
    }

    /// The one-line forms emitted so far, in order.
    pub fn lines(&self) -> Vec<String> {
        self.lock().iter().map(format_line).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Alert>> {
        self.alerts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Alerter for MemorySink {
    fn emit(&self, alert: &Alert) {
        self.lock().push(alert.clone());
    }
}

/// Writes each alert as its one-line form ([`format_line`]).
#[derive(Debug)]
pub struct LineWriter<W> {
    out: Mutex<W>,
}

impl LineWriter<io::Stderr> {
    /// To stderr.
    pub fn stderr() -> Self {
        Self::new(io::stderr())
    }
}

impl LineWriter<io::Stdout> {
    /// To stdout (`demo`).
    pub fn stdout() -> Self {
        Self::new(io::stdout())
    }
}

impl<W: Write + Send> LineWriter<W> {
    /// To `out`.
    pub fn new(out: W) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<W: Write + Send> Alerter for LineWriter<W> {
    fn emit(&self, alert: &Alert) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        // A closed stdout/stderr has nowhere to report to.
        let _ = writeln!(out, "{}", format_line(alert));
        let _ = out.flush();
    }
}
