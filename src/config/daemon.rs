//! `[daemon]`: knobs of the guard loop (`lunguard daemon`) — the uevent
//! socket's receive buffer, the debounce of event bursts, the periodic
//! full resync and the metrics file. Read once at start (a SIGHUP reload does not change them).
//!
//! Plain data with documented defaults (docs/config.md); no IO.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration;
use crate::observe::monitor::DEFAULT_RECEIVE_BUFFER;

/// Smallest receive buffer accepted: below this the kernel's own minimum
/// applies anyway, and a single udev event may not fit.
pub const MIN_RECEIVE_BUFFER: u64 = 4096;
/// Largest receive buffer accepted (`setsockopt` takes an `int`, which the
/// kernel doubles).
pub const MAX_RECEIVE_BUFFER: u64 = 1 << 30;
/// Longest debounce accepted: a pass waits at most this long after a burst.
pub const MAX_DEBOUNCE: Duration = Duration::from_secs(10);
/// Shortest resync interval accepted.
pub const MIN_RESYNC_INTERVAL: Duration = Duration::from_secs(1);

/// `[daemon]` in lunguard.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonSettings {
    /// Bytes of receive buffer requested for the uevent netlink socket. When
    /// it fills, events are lost; the daemon notices (ENOBUFS) and resyncs.
    pub uevent_receive_buffer: u64,
    /// Quiet time after the last uevent before a pass runs.
    #[serde(with = "duration")]
    pub debounce: Duration,
    /// A full pass runs at least this often, events or not.
    #[serde(with = "duration")]
    pub resync_interval: Duration,
    /// Where to write Prometheus metrics after every pass (node_exporter's textfile collector
    /// reads `*.prom` files of one directory); none by default.
    pub metrics_textfile: Option<std::path::PathBuf>,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        Self {
            uevent_receive_buffer: DEFAULT_RECEIVE_BUFFER as u64,
            debounce: Duration::from_millis(50),
            resync_interval: Duration::from_secs(300),
            metrics_textfile: None,
        }
    }
}

impl DaemonSettings {
    /// The receive buffer as the monitor takes it (validated to fit).
    pub fn receive_buffer(&self) -> usize {
        usize::try_from(self.uevent_receive_buffer).unwrap_or(usize::MAX)
    }
}
