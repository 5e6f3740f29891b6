//! The simulated netlink: every change the sim makes is announced as the
//! kernel event and then the udev event a real kernel and udevd would send,
//! with one shared `SEQNUM` per pair, to every subscriber.
//!
//! The property sets follow the recorded streams in
//! `tests/fixtures/*/uevents.txt`: kernel events carry only what the kernel
//! puts there (no `ID_*`, no `DM_NAME` on a dm add), udev events add what
//! the rules import (`ID_SERIAL`, `ID_WWN`, `DM_NAME`, `DM_UUID`, …).

use std::collections::BTreeMap;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::observe::uevent::{Action, Source, Uevent};

/// The first `SEQNUM` handed out (a booted machine is past its first
/// thousand events; starting there makes the streams look like recordings).
const FIRST_SEQNUM: u64 = 1000;

/// One event to announce: kernel properties, plus what udev adds.
#[derive(Debug, Clone)]
pub(super) struct Ev {
    action: Action,
    devpath: String,
    subsystem: &'static str,
    kernel: Vec<(&'static str, String)>,
    udev: Vec<(&'static str, String)>,
}

impl Ev {
    /// An event for `/sys<devpath>` (`devpath` starts with `/devices`).
    pub(super) fn new(action: Action, devpath: impl Into<String>, subsystem: &'static str) -> Self {
        Self {
            action,
            devpath: devpath.into(),
            subsystem,
            kernel: Vec::new(),
            udev: Vec::new(),
        }
    }

    /// A property both sources carry.
    pub(super) fn prop(mut self, key: &'static str, value: impl ToString) -> Self {
        self.kernel.push((key, value.to_string()));
        self
    }

    /// A property only the udev event carries (imported by rules).
    pub(super) fn udev_prop(mut self, key: &'static str, value: impl ToString) -> Self {
        self.udev.push((key, value.to_string()));
        self
    }
}

/// Sequence numbers and subscribers.
#[derive(Debug, Default)]
pub(super) struct Bus {
    sent: u64,
    subscribers: Vec<UnboundedSender<Uevent>>,
}

impl Bus {
    /// A new receiver of every later event.
    pub(super) fn subscribe(&mut self) -> UnboundedReceiver<Uevent> {
        let (tx, rx) = unbounded_channel();
        self.subscribers.push(tx);
        rx
    }

    /// How many event pairs have been announced.
    pub(super) fn sent(&self) -> u64 {
        self.sent
    }

    /// Announces `ev` from the kernel, then from udev.
    pub(super) fn emit(&mut self, ev: Ev) {
        let seqnum = FIRST_SEQNUM + self.sent;
        self.sent += 1;
        let kernel = build(&ev, Source::Kernel, seqnum);
        let udev = build(&ev, Source::Udev, seqnum);
        // A dropped receiver is a subscriber that went away: forget it.
        self.subscribers
            .retain(|tx| tx.send(kernel.clone()).is_ok() && tx.send(udev.clone()).is_ok());
    }
}

fn build(ev: &Ev, source: Source, seqnum: u64) -> Uevent {
    let mut p: BTreeMap<String, String> = BTreeMap::new();
    p.insert("ACTION".into(), ev.action.as_str().to_owned());
    p.insert("DEVPATH".into(), ev.devpath.clone());
    p.insert("SUBSYSTEM".into(), ev.subsystem.to_owned());
    p.insert("SEQNUM".into(), seqnum.to_string());
    for (k, v) in &ev.kernel {
        p.insert((*k).to_owned(), v.clone());
    }
    if source == Source::Udev {
        for (k, v) in &ev.udev {
            p.insert((*k).to_owned(), v.clone());
        }
        // udev turns the kernel's relative DEVNAME into the node path.
        if let Some(name) = p.get("DEVNAME").filter(|n| !n.starts_with('/')) {
            let full = format!("/dev/{name}");
            p.insert("DEVNAME".into(), full);
        }
        p.insert("USEC_INITIALIZED".into(), (seqnum * 1000).to_string());
    }
    Uevent {
        action: ev.action.clone(),
        devpath: ev.devpath.clone(),
        subsystem: ev.subsystem.to_owned(),
        devtype: p.get("DEVTYPE").cloned(),
        devname: p.get("DEVNAME").cloned(),
        seqnum: Some(seqnum),
        source,
        properties: p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subscriber_gets_kernel_then_udev_with_one_seqnum() {
        let mut bus = Bus::default();
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        bus.emit(
            Ev::new(Action::Add, "/devices/virtual/block/dm-0", "block")
                .prop("DEVNAME", "dm-0")
                .udev_prop("DM_NAME", "mpatha"),
        );
        for rx in [&mut a, &mut b] {
            let k = rx.try_recv().unwrap();
            let u = rx.try_recv().unwrap();
            assert_eq!((k.source, u.source), (Source::Kernel, Source::Udev));
            assert_eq!(k.seqnum, u.seqnum);
            assert_eq!(k.devname.as_deref(), Some("dm-0"));
            assert_eq!(u.devname.as_deref(), Some("/dev/dm-0"));
            assert_eq!((k.get("DM_NAME"), u.get("DM_NAME")), (None, Some("mpatha")));
        }
        drop(a);
        bus.emit(Ev::new(Action::Remove, "/devices/x", "block"));
        assert_eq!(bus.subscribers.len(), 1);
        assert_eq!(bus.sent(), 2);
    }
}
