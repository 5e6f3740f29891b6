//! The real `lunguard daemon` binary over a simulated host's tree (sim::Lab), with its config,
//! state directory, database and control socket in a scratch directory: for the commands that
//! talk to a running daemon (`status`, `attach --wait`, `detach --wait`). Observe mode unless
//! the caller says otherwise: the test host has no iscsiadm or multipath to act with.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use lunguard::sim::{Lab, ScanMode, scratch_root};

/// A lab host and the files a daemon over it needs.
pub struct SimHost {
    pub dir: tempfile::TempDir,
    pub lab: Lab,
    pub config: PathBuf,
    pub state: PathBuf,
}

impl SimHost {
    /// A lab with `luns` LUNs logged in on both portals, `declared` of them in `state/lab.toml`,
    /// and a config naming the lab's roots; `top` goes at the config's top level, `tables` (whole
    /// tables such as `[daemon]`) after it.
    pub fn new(luns: u64, declared: &[u64], top: &str, tables: &str) -> Self {
        let dir = tempfile::tempdir_in(scratch_root()).unwrap();
        let lab = Lab::new(dir.path().join("host"), luns).unwrap();
        for p in &lab.portals {
            lab.sim.login(&lab.target, p, ScanMode::Automatic).unwrap();
        }
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        if !declared.is_empty() {
            std::fs::write(state.join("lab.toml"), lab.state_file(declared)).unwrap();
        }
        let roots = lab.sim.roots();
        let config = dir.path().join("lunguard.toml");
        std::fs::write(
            &config,
            format!(
                "{top}\nstate_dir = {:?}\ndatabase = {:?}\ncontrol_socket = {:?}\n{tables}\n[roots]\nsys = {:?}\nproc = {:?}\ndev = {:?}\niscsi_nodes = {:?}\nmultipath_wwids = {:?}\nudev_data = {:?}\n",
                state,
                dir.path().join("db"),
                dir.path().join("run/control.sock"),
                roots.sys,
                roots.proc,
                roots.dev,
                roots.iscsi_nodes,
                roots.multipath_wwids,
                roots.udev_data
            ),
        )
        .unwrap();
        Self {
            dir,
            lab,
            config,
            state,
        }
    }

    /// `--sysfs-root`, `--proc-root`, `--dev-root` of the lab.
    pub fn root_args(&self) -> Vec<String> {
        let r = self.lab.sim.roots();
        [
            ("--sysfs-root", r.sys),
            ("--proc-root", r.proc),
            ("--dev-root", r.dev),
            ("--iscsi-nodes-root", r.iscsi_nodes),
        ]
        .into_iter()
        .flat_map(|(f, p)| [f.to_owned(), p.to_string_lossy().into_owned()])
        .collect()
    }

    /// Starts `lunguard daemon --config` over the lab; killed when dropped.
    pub fn daemon(&self) -> Daemon {
        Daemon(
            Command::new(env!("CARGO_BIN_EXE_lunguard"))
                .args(["daemon", "--config"])
                .arg(&self.config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }

    /// [`SimHost::daemon`], returned once it has finished a pass and answers on its control
    /// socket (`status` gets its snapshot); panics after 30 s.
    pub fn daemon_ready(&self) -> Daemon {
        let d = self.daemon();
        let start = std::time::Instant::now();
        let mut args = vec!["status".to_owned(), "--json".to_owned()];
        args.extend(self.root_args());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        loop {
            let out = self.lunguard(&args);
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            if v["source"] == "daemon" {
                return d;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "the daemon never answered: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Runs `lunguard ARGS --config CONFIG`.
    pub fn lunguard(&self, args: &[&str]) -> Output {
        lunguard_in(args, &self.config)
    }
}

/// Runs `lunguard ARGS --config CONFIG`.
pub fn lunguard_in(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lunguard"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

/// A running daemon, SIGKILLed when dropped.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
