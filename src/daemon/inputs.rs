//! The real input producers of `lunguard daemon`: signals (signal-hook, on a thread of its own),
//! the uevent monitor and the state-directory watch. Each converts what it sees into an owned
//! [`Input`] at once and sends it; nothing here decides anything.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;
use tokio::sync::mpsc;
use tracing::warn;

use super::Input;

/// Forwards TERM/INT (stop), HUP (reload) and USR1 (dump) until the receiver is gone.
pub fn signals(tx: mpsc::Sender<Input>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1])?;
    std::thread::Builder::new()
        .name("lunguard-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let input = match sig {
                    SIGHUP => Input::Reload,
                    SIGUSR1 => Input::Dump,
                    SIGTERM => Input::Stop {
                        signal: "TERM".into(),
                    },
                    _ => Input::Stop {
                        signal: "INT".into(),
                    },
                };
                if tx.blocking_send(input).is_err() {
                    return;
                }
            }
            warn!("signal iterator ended");
        })
}

/// Forwards a uevent source into the loop until it closes. When the loop is busy the channel
/// fills and this task waits; the kernel then drops datagrams with ENOBUFS, which the monitor
/// reports as an overflow and the loop answers with a full resync — lost events are never silent.
pub fn monitor<S>(
    mut source: S,
    tx: mpsc::Sender<Input>,
    name: String,
) -> tokio::task::JoinHandle<()>
where
    S: crate::observe::monitor::UeventSource + 'static,
{
    use crate::observe::monitor::{Event, MonitorError};
    tokio::spawn(async move {
        loop {
            let input = match source.next().await {
                Ok(Event::Uevent(u)) => Input::Uevent(u),
                Ok(Event::Overflow) => Input::Overflow {
                    source: name.clone(),
                },
                Err(MonitorError::Closed) => return,
                Err(e) => {
                    // Whatever failed, events may have been missed: resync, then keep reading.
                    warn!(error = %e, "uevent monitor error; resyncing");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    Input::Overflow {
                        source: name.clone(),
                    }
                }
            };
            if tx.send(input).await.is_err() {
                return;
            }
        }
    })
}

/// Forwards the state-directory watch into the loop. A watch error (the directory vanished and
/// could not be watched again) is reported and retried every second; each retry also asks for a
/// reload, so a directory that comes back is read.
pub fn state_dir(
    mut watch: crate::desire::watch::StateDirWatch,
    tx: mpsc::Sender<Input>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let why = match watch.next().await {
                Ok(t) => format!("{:?}: {:?}", t.cause, t.files),
                Err(e) => {
                    warn!(error = %e, dir = %watch.dir().display(), "state directory watch failed");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    format!("watch error: {e}")
                }
            };
            if tx.send(Input::StateChanged { why }).await.is_err() {
                return;
            }
        }
    })
}
