//! The raw `NETLINK_KOBJECT_UEVENT` socket, non-blocking under tokio's
//! `AsyncFd`, and the one place a receive error becomes an overflow.
//!
//! Our own socket rather than libudev's (`udev::MonitorSocket`) or
//! tokio-udev's stream: both turn every failed receive into "no event"
//! (`udev_monitor_receive_device` returns NULL for EAGAIN, a filtered
//! message and ENOBUFS alike; tokio-udev was seen to deliver 9 of 2000
//! events without an error), and a lost event that is not reported is one
//! the daemon never resyncs for.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
    UnixCredentials, bind, getsockname, getsockopt, recvmsg, setsockopt, socket, sockopt,
};
use tokio::io::unix::AsyncFd;

use super::MonitorError;

/// One received datagram's metadata (the bytes are in the caller's buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Datagram {
    /// Bytes received (at most the buffer's size).
    pub len: usize,
    /// Sender's netlink port id; 0 is the kernel.
    pub sender_port: u32,
    /// Multicast group mask it was sent to; 0 for unicast.
    pub sender_groups: u32,
    /// Sender's uid from `SCM_CREDENTIALS`, if the kernel attached them.
    pub uid: Option<u32>,
    /// The datagram was longer than the buffer and was cut.
    pub truncated: bool,
}

/// What one receive yielded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recv {
    /// A datagram.
    Datagram(Datagram),
    /// The kernel dropped datagrams for this socket (ENOBUFS): events were
    /// lost. The socket keeps working; what was queued is still delivered.
    Overflow,
}

/// What the receive loop does with one `recvmsg` result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Hand this out.
    Yield(Recv),
    /// Nothing queued: wait for readiness.
    WouldBlock,
    /// Interrupted: try again at once.
    Retry,
    /// Anything else: the socket is broken.
    Fail(Errno),
}

/// Maps one receive result; separate from the syscall so the overflow path
/// is tested without provoking the kernel.
pub(crate) fn classify(result: nix::Result<Datagram>) -> Step {
    match result {
        Ok(d) => Step::Yield(Recv::Datagram(d)),
        Err(Errno::ENOBUFS) => Step::Yield(Recv::Overflow),
        Err(Errno::EAGAIN) => Step::WouldBlock,
        Err(Errno::EINTR) => Step::Retry,
        Err(e) => Step::Fail(e),
    }
}

/// A uevent netlink socket bound to one multicast group.
#[derive(Debug)]
pub(crate) struct UeventSocket {
    fd: AsyncFd<OwnedFd>,
    port: u32,
}

impl UeventSocket {
    /// Opens and binds the socket; asks for `rcvbuf` bytes of receive buffer
    /// with `SO_RCVBUFFORCE` (needs CAP_NET_ADMIN; not capped by
    /// `net.core.rmem_max`), falling back to `SO_RCVBUF`. Must be called
    /// inside a tokio runtime.
    pub(crate) fn open(groups: u32, rcvbuf: usize) -> Result<Self, MonitorError> {
        let open = |what: &'static str| move |errno| MonitorError::Open { what, errno };
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkKObjectUEvent,
        )
        .map_err(open("socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT)"))?;
        // Before bind: events arrive from the moment we join the group.
        if setsockopt(&fd, sockopt::RcvBufForce, &rcvbuf).is_err() {
            setsockopt(&fd, sockopt::RcvBuf, &rcvbuf).map_err(open("setsockopt(SO_RCVBUF)"))?;
        }
        // Sender credentials: udevd's messages are trusted only from uid 0.
        setsockopt(&fd, sockopt::PassCred, &true).map_err(open("setsockopt(SO_PASSCRED)"))?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups)).map_err(open("bind"))?;
        let port = getsockname::<NetlinkAddr>(fd.as_raw_fd())
            .map_err(open("getsockname"))?
            .pid();
        // `AsyncFd::new` is deprecated because an arbitrary `AsRawFd` may
        // change or close its fd behind the reactor's back; an `OwnedFd`
        // that only this struct holds cannot, which is exactly the contract
        // of the `unsafe fn register` replacement (not used: unsafe code is
        // confined to src/act/flush.rs).
        #[allow(deprecated)]
        let fd = AsyncFd::new(fd).map_err(MonitorError::Io)?;
        Ok(Self { fd, port })
    }

    /// This socket's netlink port id (what a unicast sender addresses).
    pub(crate) fn port(&self) -> u32 {
        self.port
    }

    /// The receive buffer the kernel granted (it doubles the request for
    /// bookkeeping and enforces a minimum).
    pub(crate) fn rcvbuf(&self) -> Option<usize> {
        getsockopt(self.fd.get_ref(), sockopt::RcvBuf).ok()
    }

    /// Waits for and receives one datagram into `buf`, or reports an
    /// overflow.
    pub(crate) async fn recv(&self, buf: &mut [u8]) -> Result<Recv, MonitorError> {
        loop {
            let mut guard = self.fd.readable().await.map_err(MonitorError::Io)?;
            loop {
                match classify(recv_once(self.fd.get_ref().as_fd(), buf)) {
                    Step::Yield(r) => return Ok(r),
                    Step::Retry => continue,
                    Step::WouldBlock => {
                        guard.clear_ready();
                        break;
                    }
                    Step::Fail(errno) => return Err(MonitorError::Recv(errno)),
                }
            }
        }
    }
}

fn recv_once(fd: std::os::fd::BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<Datagram> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!(UnixCredentials);
    let msg = recvmsg::<NetlinkAddr>(
        fd.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT,
    )?;
    // A cut control message hides the credentials: treat as absent.
    let uid = msg.cmsgs().ok().and_then(|mut it| {
        it.find_map(|c| match c {
            ControlMessageOwned::ScmCredentials(cred) => Some(cred.uid()),
            _ => None,
        })
    });
    Ok(Datagram {
        len: msg.bytes,
        sender_port: msg.address.map_or(0, |a| a.pid()),
        sender_groups: msg.address.map_or(0, |a| a.groups()),
        uid,
        truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram() -> Datagram {
        Datagram {
            len: 10,
            sender_port: 0,
            sender_groups: 1,
            uid: Some(0),
            truncated: false,
        }
    }

    #[test]
    fn enobufs_is_an_overflow_not_an_error() {
        assert_eq!(classify(Err(Errno::ENOBUFS)), Step::Yield(Recv::Overflow));
    }

    #[test]
    fn other_results() {
        assert_eq!(
            classify(Ok(datagram())),
            Step::Yield(Recv::Datagram(datagram()))
        );
        assert_eq!(classify(Err(Errno::EAGAIN)), Step::WouldBlock);
        assert_eq!(classify(Err(Errno::EINTR)), Step::Retry);
        assert_eq!(classify(Err(Errno::EBADF)), Step::Fail(Errno::EBADF));
    }

    /// The receive loop as a whole with an injected sequence of results:
    /// overflow in the middle of a stream is reported in order and the
    /// stream goes on.
    #[test]
    fn overflow_in_a_stream_is_reported_in_order() {
        let script = [
            Ok(datagram()),
            Err(Errno::EINTR),
            Err(Errno::ENOBUFS),
            Ok(datagram()),
            Err(Errno::EAGAIN),
        ];
        let steps: Vec<Step> = script.into_iter().map(classify).collect();
        let yielded: Vec<Recv> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Yield(r) => Some(*r),
                _ => None,
            })
            .collect();
        assert_eq!(
            yielded,
            [
                Recv::Datagram(datagram()),
                Recv::Overflow,
                Recv::Datagram(datagram())
            ]
        );
        assert_eq!(steps.last(), Some(&Step::WouldBlock));
    }
}
