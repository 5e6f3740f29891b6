//! The uevent source: a netlink socket on udevd's group (post-rules, with
//! `ID_*`/`DM_NAME`) or, when udevd is not running, the kernel's group —
//! and the one guarantee the rest of the daemon relies on: **a lost event is
//! reported** ([`Event::Overflow`], from `ENOBUFS` or a truncated datagram),
//! so the daemon can run a full resync instead of missing a change.
//!
//! Filtering (subsystems, sender trust) happens here, in user space: the
//! receive buffer is raised (8 MiB by default, `SO_RCVBUFFORCE`) instead of
//! attaching libudev's BPF filter. Tests inject events through
//! `ChannelSource` (tests only); [`UeventSource`] is the seam.
//!
//! Owns the socket; hands out owned [`Uevent`]s only.

mod socket;
pub mod wire;

use std::future::Future;
use std::path::Path;

use nix::errno::Errno;
#[cfg(any(test, feature = "test-support"))]
use tokio::sync::mpsc;

use crate::observe::uevent::Uevent;

use socket::{Datagram, Recv, UeventSocket};

/// udevd's control socket: present while udevd runs.
pub const UDEV_CONTROL: &str = "/run/udev/control";

/// Subsystems whose events can concern a key (`observe::uevent::keys`).
/// Filtered here, in user space: no udev tag rule (nothing could match on a
/// tag without a BPF socket filter, and kernel events never carry tags).
pub const SUBSYSTEMS: &[&str] = &[
    "scsi",
    "scsi_device",
    "scsi_disk",
    "scsi_host",
    "block",
    "iscsi_session",
    "iscsi_connection",
];

/// Default receive buffer: a login of a few hundred LUNs emits ~10 events
/// per LUN per source within a second.
pub const DEFAULT_RECEIVE_BUFFER: usize = 8 << 20;

/// What a source yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// One device event.
    Uevent(Uevent),
    /// Events were lost (netlink `ENOBUFS`, a truncated datagram): nothing
    /// can say which keys they concerned, so the daemon must resync
    /// everything.
    Overflow,
}

/// Why a source cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// Setting up the socket failed.
    #[error(
        "cannot open the uevent netlink socket: {what}: {errno} (needs Linux with NETLINK_KOBJECT_UEVENT; group membership works unprivileged, SO_RCVBUFFORCE needs CAP_NET_ADMIN)"
    )]
    Open {
        /// The failing call.
        what: &'static str,
        /// Its error.
        errno: Errno,
    },
    /// Receiving failed with something other than an overflow.
    #[error("receiving from the uevent netlink socket failed: {0}")]
    Recv(Errno),
    /// Registering with the tokio reactor or waiting on it failed.
    #[error("uevent socket readiness: {0}")]
    Io(#[source] std::io::Error),
    /// An injected source has no more events.
    #[error("the uevent source was closed")]
    Closed,
}

/// A stream of uevents; the daemon's seam between the kernel and the loop.
pub trait UeventSource: Send {
    /// The next event or overflow.
    fn next(&mut self) -> impl Future<Output = Result<Event, MonitorError>> + Send;
}

/// Which netlink multicast group to join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Group 1: raw kernel events, before udev rules.
    Kernel,
    /// Group 2: udevd's events after rule processing.
    Udev,
}

impl Group {
    /// Udev if udevd is running (its control socket `udev_control`
    /// exists), else the kernel: joining group 2 without udevd receives
    /// nothing at all.
    pub fn choose(udev_control: &Path) -> Self {
        if udev_control.exists() {
            Self::Udev
        } else {
            Self::Kernel
        }
    }

    fn mask(self) -> u32 {
        match self {
            Self::Kernel => 1,
            Self::Udev => 2,
        }
    }

    /// `kernel` or `udev`, for logs and alerts.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kernel => "kernel",
            Self::Udev => "udev",
        }
    }
}

/// Monitor settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorConfig {
    /// Group to join.
    pub group: Group,
    /// Subsystems to pass on; empty passes everything.
    pub subsystems: Vec<String>,
    /// Requested receive buffer in bytes.
    pub receive_buffer: usize,
    /// Also accept messages from this netlink port id (a test's sender;
    /// never set by the daemon). Without it, only the kernel (port 0) is
    /// trusted on the kernel group and only uid 0 on the udev group, and
    /// unicast messages are dropped — libudev's rules.
    pub trusted_sender_port: Option<u32>,
}

impl MonitorConfig {
    /// Defaults for `group`: [`SUBSYSTEMS`], [`DEFAULT_RECEIVE_BUFFER`].
    pub fn new(group: Group) -> Self {
        Self {
            group,
            subsystems: SUBSYSTEMS.iter().map(|s| (*s).to_owned()).collect(),
            receive_buffer: DEFAULT_RECEIVE_BUFFER,
            trusted_sender_port: None,
        }
    }
}

/// Counters since the monitor was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonitorStats {
    /// Datagrams received.
    pub received: u64,
    /// Events handed out.
    pub delivered: u64,
    /// Overflows reported.
    pub overflows: u64,
    /// Dropped: not from a trusted sender.
    pub untrusted: u64,
    /// Dropped: not a uevent.
    pub malformed: u64,
    /// Dropped: subsystem not wanted.
    pub filtered: u64,
}

/// Largest datagram: udevd's are bounded by its 8 KiB property buffer, the
/// kernel's by `UEVENT_BUFFER_SIZE` (2 KiB); anything longer is reported as
/// an overflow, not parsed cut.
const DATAGRAM_MAX: usize = 64 << 10;

/// The netlink uevent source.
#[derive(Debug)]
pub struct NetlinkMonitor {
    socket: UeventSocket,
    config: MonitorConfig,
    buf: Vec<u8>,
    stats: MonitorStats,
}

impl NetlinkMonitor {
    /// Opens the socket and joins the group; call inside a tokio runtime,
    /// and before enumerating sysfs (subscribe, then list).
    pub fn open(config: MonitorConfig) -> Result<Self, MonitorError> {
        let socket = UeventSocket::open(config.group.mask(), config.receive_buffer)?;
        tracing::info!(
            group = config.group.name(),
            port = socket.port(),
            receive_buffer = socket.rcvbuf(),
            "uevent monitor subscribed"
        );
        Ok(Self {
            socket,
            config,
            buf: vec![0; DATAGRAM_MAX],
            stats: MonitorStats::default(),
        })
    }

    /// The socket's netlink port id.
    pub fn port(&self) -> u32 {
        self.socket.port()
    }

    /// The receive buffer the kernel granted, in bytes.
    pub fn receive_buffer(&self) -> Option<usize> {
        self.socket.rcvbuf()
    }

    /// The group joined.
    pub fn group(&self) -> Group {
        self.config.group
    }

    /// Counters so far.
    pub fn stats(&self) -> MonitorStats {
        self.stats
    }

    fn trusted(&self, d: &Datagram) -> bool {
        if self.config.trusted_sender_port == Some(d.sender_port) {
            return true;
        }
        if d.sender_groups == 0 {
            return false; // unicast: only ever from a named test sender
        }
        match self.config.group {
            Group::Kernel => d.sender_port == 0,
            Group::Udev => d.uid == Some(0),
        }
    }

    fn wanted(&self, ev: &Uevent) -> bool {
        self.config.subsystems.is_empty() || self.config.subsystems.contains(&ev.subsystem)
    }

    async fn receive(&mut self) -> Result<Event, MonitorError> {
        loop {
            let d = match self.socket.recv(&mut self.buf).await? {
                Recv::Overflow => {
                    self.stats.overflows += 1;
                    tracing::warn!(
                        group = self.config.group.name(),
                        "uevent socket overflowed (ENOBUFS): events were lost"
                    );
                    return Ok(Event::Overflow);
                }
                Recv::Datagram(d) => d,
            };
            self.stats.received += 1;
            if d.truncated {
                self.stats.overflows += 1;
                tracing::warn!(len = d.len, "uevent datagram truncated: treated as lost");
                return Ok(Event::Overflow);
            }
            if !self.trusted(&d) {
                self.stats.untrusted += 1;
                tracing::debug!(
                    port = d.sender_port,
                    groups = d.sender_groups,
                    uid = d.uid,
                    "uevent from an untrusted sender dropped"
                );
                continue;
            }
            let ev = match wire::parse_datagram(&self.buf[..d.len]) {
                Ok(ev) => ev,
                Err(e) => {
                    self.stats.malformed += 1;
                    // An outsider cannot send here (trusted senders only),
                    // but a format change could flood: log the first and
                    // then every thousandth.
                    if self.stats.malformed % 1000 == 1 {
                        tracing::warn!(error = %e, dropped = self.stats.malformed, "malformed uevent dropped");
                    }
                    continue;
                }
            };
            if !self.wanted(&ev) {
                self.stats.filtered += 1;
                continue;
            }
            self.stats.delivered += 1;
            tracing::trace!(event = %ev, "uevent");
            return Ok(Event::Uevent(ev));
        }
    }
}

impl UeventSource for NetlinkMonitor {
    async fn next(&mut self) -> Result<Event, MonitorError> {
        self.receive().await
    }
}

#[cfg(any(test, feature = "test-support"))]
/// An injected source: events sent on the paired [`mpsc::Sender`] come out
/// in order; when every sender is dropped it reports [`MonitorError::Closed`].
#[derive(Debug)]
pub struct ChannelSource {
    rx: mpsc::Receiver<Event>,
}

#[cfg(any(test, feature = "test-support"))]
impl ChannelSource {
    /// A source and the sender that feeds it (`capacity` events buffered).
    pub fn new(capacity: usize) -> (mpsc::Sender<Event>, Self) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (tx, Self { rx })
    }
}

#[cfg(any(test, feature = "test-support"))]
impl UeventSource for ChannelSource {
    async fn next(&mut self) -> Result<Event, MonitorError> {
        self.rx.recv().await.ok_or(MonitorError::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_udev_only_when_udevd_runs() {
        let dir = tempfile::tempdir().unwrap();
        let control = dir.path().join("control");
        assert_eq!(Group::choose(&control), Group::Kernel);
        std::fs::write(&control, "").unwrap();
        assert_eq!(Group::choose(&control), Group::Udev);
    }

    #[tokio::test]
    async fn channel_source_delivers_in_order_then_closes() {
        let (tx, mut src) = ChannelSource::new(4);
        tx.send(Event::Overflow).await.unwrap();
        drop(tx);
        assert_eq!(src.next().await.unwrap(), Event::Overflow);
        assert!(matches!(src.next().await, Err(MonitorError::Closed)));
    }
}
