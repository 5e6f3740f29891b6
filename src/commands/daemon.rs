//! `lunguard daemon` on a real host: wires the real inputs, actuator, alerts and notifications
//! into [`Daemon`] in the order the design demands — uevent monitor first, then the state watch
//! and signals, then the database and the first full pass.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::alert::{Alerter, Journald, RateLimit, RateLimited};
use crate::commands::{CommandError, EngineArgs, engine};
use crate::config::{DaemonSettings, Ownership};
use crate::control::{self, Request};
use crate::daemon::schedule::Timing;
use crate::daemon::{ActuatorFor, Daemon, Input, Options, inputs};
use crate::desire::watch::{StateDirWatch, WatchConfig};
use crate::exit::Exit;
use crate::notify::Notifier;
use crate::observe::monitor::{Group, MonitorConfig, NetlinkMonitor, UDEV_CONTROL};

/// Runs the daemon until TERM/INT. Exit 0 on a clean stop.
pub fn main(config: Option<PathBuf>) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(config))
}

async fn run(config_path: Option<PathBuf>) -> anyhow::Result<Exit> {
    let args = EngineArgs {
        config: config_path.clone(),
        ..EngineArgs::default()
    };
    let config = crate::commands::load_config(&args)?;
    let (tx, rx) = mpsc::channel::<Input>(4096);

    // 1. Subscribe before anything is read, so nothing between the first read and the
    //    subscription can be missed.
    let group = Group::choose(Path::new(UDEV_CONTROL));
    let monitor = NetlinkMonitor::open(MonitorConfig {
        receive_buffer: config.daemon.receive_buffer(),
        ..MonitorConfig::new(group)
    })?;
    info!(group = group.name(), buffer = ?monitor.receive_buffer(), "uevent monitor open");
    inputs::monitor(monitor, tx.clone(), format!("netlink {}", group.name()));
    match StateDirWatch::open(&config.state_dir, WatchConfig::default()) {
        Ok(w) => {
            inputs::state_dir(w, tx.clone());
        }
        Err(e) => {
            warn!(error = %e, dir = %config.state_dir.display(), "not watching the state directory (SIGHUP and the periodic resync still reload it)")
        }
    }
    inputs::signals(tx.clone())?;

    // 2. Then the database and the rest.
    let engine = engine(&args).map_err(|e| match e {
        CommandError::Engine(e) => anyhow::anyhow!(e),
        e => anyhow::anyhow!(e),
    })?;
    // The runtime directory is the control socket's (`/run/lunguard`), as for removal markers.
    let run_dir = config
        .control_socket
        .parent()
        .unwrap_or(Path::new("/run/lunguard"))
        .to_owned();
    let engine = engine.with_quarantine(&run_dir);
    let cfg = engine.config().clone();
    // The same constructor as `apply --once`: DryRun in observe mode, else Real with markers.
    let actuator = crate::engine::actuator_for(&cfg, false);
    let alerter: Arc<dyn Alerter> =
        Arc::new(RateLimited::new(Journald::new(), RateLimit::default()));
    let notifier = Notifier::from_env()?;
    let daemon = Daemon::new(
        engine,
        actuator,
        alerter,
        notifier,
        Options {
            timing: timing(&config.daemon),
            // HUP re-reads the config it started with: --config, else the default path (which
            // may be absent: then the defaults stay in force).
            config_path: Some(config_path.unwrap_or_else(|| crate::config::DEFAULT_PATH.into())),
            ownership: Ownership::for_this_process(),
            // `mode` may change on SIGHUP: the actuator follows it.
            actuator_for: Some(ActuatorFor(Arc::new(|c| {
                crate::engine::actuator_for(c, false)
            }))),
            ..Options::default()
        },
    );
    serve_control(&cfg.control_socket, &daemon);
    let shared = daemon.engine();
    let summary = daemon.run(rx).await;
    // Stopped (or failed): nothing keeps the list current any more.
    shared
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear_quarantine();
    let summary = summary?;
    info!(?summary, "stopped");
    Ok(Exit::Ok)
}

/// The loop's timing from `[daemon]`: a burst is never held back longer than the default cap or
/// the debounce, whichever is longer.
fn timing(d: &DaemonSettings) -> Timing {
    let t = Timing::default();
    Timing {
        debounce: d.debounce,
        debounce_cap: t.debounce_cap.max(d.debounce),
        resync: d.resync_interval,
        ..t
    }
}

/// Answers `plan` and `snapshot` from the latest pass and `history` from the store, on the
/// control socket.
fn serve_control(path: &Path, daemon: &Daemon) {
    let latest = daemon.latest();
    let latest_snapshot = daemon.latest_snapshot();
    let engine = daemon.engine();
    let listener = match control::bind(path) {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %e, "no control socket: plan and history cannot reach this daemon");
            return;
        }
    };
    let served = control::serve(listener, move |req| match req {
        Request::Plan => {
            let doc = latest
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let doc = doc.ok_or("no pass has finished yet; try again in a moment")?;
            serde_json::to_string(&doc).map_err(|e| e.to_string())
        }
        Request::History(n) => {
            let e = engine.lock().unwrap_or_else(PoisonError::into_inner);
            let h = e.store().history(n).map_err(|e| e.to_string())?;
            serde_json::to_string(&h).map_err(|e| e.to_string())
        }
        Request::Health => {
            let at = latest_snapshot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .map(|l| l.at)
                .ok_or("no pass has finished yet; try again in a moment")?;
            let mode = latest
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .and_then(|d| d.mode)
                .unwrap_or_default();
            let doc = crate::engine::HealthDocument {
                schema_version: 1,
                last_pass_at: crate::model::rfc3339(at),
                mode,
            };
            serde_json::to_string(&doc).map_err(|e| e.to_string())
        }
        Request::Snapshot => {
            // Only the Arc is taken under the lock: serializing thousands of paths must not
            // hold up the next pass.
            let latest = latest_snapshot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .ok_or("no pass has finished yet; try again in a moment")?;
            let doc = crate::engine::SnapshotDocument {
                taken_at: crate::model::rfc3339(latest.at),
                sys: latest.roots.sys,
                proc: latest.roots.proc,
                dev: latest.roots.dev,
                iscsi_nodes: latest.roots.iscsi_nodes,
                snapshot: (*latest.snapshot).clone(),
            };
            serde_json::to_string(&doc).map_err(|e| e.to_string())
        }
    });
    if let Err(e) = served {
        warn!(error = %e, "control socket thread did not start");
    }
}
