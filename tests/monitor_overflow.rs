//! Netlink overflow must surface as `Event::Overflow`, and the monitor must
//! keep delivering afterwards — on a real `NETLINK_KOBJECT_UEVENT` socket.
//!
//! The test never creates a uevent on this machine's devices. It re-runs
//! itself in a fresh network namespace (`unshare --net`; uevent sockets are
//! per namespace, so nobody else hears it) and there multicasts
//! kernel-format uevents to group 1 from its own socket (root may send to
//! the group), with the monitor's receive buffer at the kernel's minimum.
//! Unicast to the monitor's port would not do: a full receiver makes a
//! user-space *unicast* sender wait (or get EAGAIN), never the receiver
//! ENOBUFS — only broadcast delivery overruns.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

use lunguard::observe::monitor::wire::encode_kernel;
use lunguard::observe::monitor::{Event, Group, MonitorConfig, NetlinkMonitor, UeventSource};
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, getsockname,
    sendto, socket,
};

const CHILD: &str = "LUNGUARD_OVERFLOW_TEST_IN_NETNS";

#[test]
fn overflow_is_reported_and_delivery_continues() {
    if std::env::var_os(CHILD).is_some() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(in_namespace());
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let root = nix::unistd::geteuid().is_root();
    // As root a plain new netns; otherwise a user namespace mapping us to
    // root inside it (where unprivileged user namespaces are allowed).
    let ns_args: &[&str] = if root {
        &["--net"]
    } else {
        &["--user", "--map-root-user", "--net"]
    };
    let out = Command::new("unshare")
        .args(ns_args)
        .arg(&exe)
        .args([
            "--exact",
            "overflow_is_reported_and_delivery_continues",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("run unshare (util-linux) to get a private network namespace");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "child failed: {:?}", out.status);
}

fn sender() -> (std::os::fd::OwnedFd, u32) {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkKObjectUEvent,
    )
    .unwrap();
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).unwrap();
    let port = getsockname::<NetlinkAddr>(fd.as_raw_fd()).unwrap().pid();
    (fd, port)
}

fn send(fd: &std::os::fd::OwnedFd, seq: u32) -> bool {
    let seq = seq.to_string();
    let devpath = "/devices/platform/host9/session9/target9:0:0/9:0:0:1";
    let msg = encode_kernel(
        "change",
        devpath,
        [
            ("ACTION", "change"),
            ("DEVPATH", devpath),
            ("SUBSYSTEM", "scsi"),
            ("DEVTYPE", "scsi_device"),
            ("SEQNUM", seq.as_str()),
        ],
    );
    // Multicast to group 1 (the mask bit), like the kernel does.
    sendto(
        fd.as_raw_fd(),
        &msg,
        &NetlinkAddr::new(0, 1),
        MsgFlags::empty(),
    )
    .is_ok()
}

async fn drain(m: &mut NetlinkMonitor) -> (u64, u64, Vec<u64>) {
    let (mut events, mut overflows, mut seqs) = (0, 0, Vec::new());
    while let Ok(next) = tokio::time::timeout(Duration::from_millis(200), m.next()).await {
        match next.unwrap() {
            Event::Overflow => overflows += 1,
            Event::Uevent(ev) => {
                events += 1;
                seqs.extend(ev.seqnum);
            }
        }
    }
    (events, overflows, seqs)
}

async fn in_namespace() {
    let (tx, port) = sender();
    let mut config = MonitorConfig::new(Group::Kernel);
    config.receive_buffer = 1; // the kernel rounds up to its minimum
    config.trusted_sender_port = Some(port);
    let mut m = NetlinkMonitor::open(config).unwrap();
    let rcvbuf = m.receive_buffer();

    // Flood without reading.
    let total = 3000;
    let sent = (0..total).filter(|i| send(&tx, *i)).count();
    let (received, overflows, _) = drain(&mut m).await;
    println!(
        "overflow test: receive buffer {rcvbuf:?} bytes; sent {sent}, received {received}, lost {}, overflow events {overflows}",
        sent as u64 - received
    );
    assert_eq!(
        sent, total as usize,
        "every send succeeds: broadcast never blocks the sender"
    );
    assert!(
        overflows >= 1,
        "ENOBUFS must be reported as Event::Overflow"
    );
    assert!(
        received < sent as u64,
        "the tiny buffer must have dropped events"
    );

    // Afterwards the socket still delivers, in order. One at a time: the
    // minimum buffer holds only about two of these datagrams.
    let mut seqs = Vec::new();
    for i in 0..5 {
        assert!(send(&tx, 10_000 + i));
        let (after, overflows_after, mut s) = drain(&mut m).await;
        assert_eq!((after, overflows_after), (1, 0));
        seqs.append(&mut s);
    }
    println!(
        "after the overflow: sent 5 one at a time, received {}",
        seqs.len()
    );
    assert_eq!(seqs, [10_000, 10_001, 10_002, 10_003, 10_004]);
    let stats = m.stats();
    println!("monitor stats: {stats:?}");
    assert_eq!(stats.untrusted, 0);

    trust_rules(&tx).await;
}

/// Without a trusted test port: kernel-group messages from a user port are
/// dropped (only the kernel, port 0, is trusted there); udev-group messages
/// in libudev format from uid 0 are accepted.
async fn trust_rules(tx: &std::os::fd::OwnedFd) {
    let mut kernel = NetlinkMonitor::open(MonitorConfig::new(Group::Kernel)).unwrap();
    let mut udev = NetlinkMonitor::open(MonitorConfig::new(Group::Udev)).unwrap();
    assert!(send(tx, 1));
    let (got, _, _) = drain(&mut kernel).await;
    assert_eq!(got, 0, "a forged kernel uevent must be dropped");
    assert_eq!(kernel.stats().untrusted, 1);

    let devpath = "/devices/virtual/block/dm-2";
    let msg = lunguard::observe::monitor::wire::encode_udev([
        ("ACTION", "change"),
        ("DEVPATH", devpath),
        ("SUBSYSTEM", "block"),
        ("DM_NAME", "mpatha"),
        ("DM_UUID", "mpath-3600140500291fe600020000feed00000"),
        ("SEQNUM", "7"),
    ]);
    sendto(
        tx.as_raw_fd(),
        &msg,
        &NetlinkAddr::new(0, 2),
        MsgFlags::empty(),
    )
    .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(2), udev.next())
        .await
        .expect("udev-group message delivered")
        .unwrap();
    let Event::Uevent(ev) = ev else {
        panic!("expected an event, got {ev:?}")
    };
    assert_eq!(ev.source, lunguard::observe::uevent::Source::Udev);
    assert_eq!(
        lunguard::observe::uevent::keys(&ev),
        [lunguard::model::Key::Map("mpatha".parse().unwrap())]
    );
    println!("trust rules: forged kernel event dropped, uid-0 udev event delivered");
}
