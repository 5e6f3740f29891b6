//! The `plan` and `apply` commands: build an [`Engine`] from the command
//! line, run passes, print what was found and done, and pick the exit code.

pub mod apply;
pub mod check;
pub mod daemon;
pub mod declare;
pub mod demo;
pub mod doctor;
pub mod health;
pub mod history;
pub mod plan;
mod render;
pub mod status;

use std::path::PathBuf;

use crate::config::{self, Config, IfMissing, LoadErrors, Ownership};
use crate::desire::store::SledStore;
use crate::engine::{Engine, EngineError};
use crate::observe::Inspector;
use crate::observe::Roots;

/// Why a command could not run (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The config file is invalid; each error names file:line:column.
    #[error("invalid config:\n{0}")]
    Config(LoadErrors),
    /// The database or another part of the engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Write(#[from] std::io::Error),
    /// JSON rendering or parsing failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The running daemon could not be asked.
    #[error(transparent)]
    Control(#[from] crate::control::ControlError),
    /// A state file or the state directory could not be written.
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        /// What was being done ("create", "sync", …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `--wait` could not reach a daemon (exit 2: the change itself was made).
    #[error("{0}")]
    NoDaemon(String),
}

/// The overrides every engine command takes.
#[derive(Debug, Clone, Default)]
pub struct EngineArgs {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--state-dir DIR`.
    pub state_dir: Option<PathBuf>,
    /// `--database DIR`.
    pub database: Option<PathBuf>,
    /// `--fixture DIR`: observe a recorded tree instead of the config's roots (`plan` only:
    /// nothing may act on a recording).
    pub fixture: Option<PathBuf>,
}

impl From<&crate::cli::EngineOpts> for EngineArgs {
    fn from(o: &crate::cli::EngineOpts) -> Self {
        Self {
            config: o.config.clone(),
            state_dir: o.state_dir.clone(),
            database: o.database.clone(),
            fixture: None,
        }
    }
}

/// Loads the config (`--config`, else the default path, which may be absent) with the command
/// line's state and database overrides.
pub fn load_config(args: &EngineArgs) -> Result<Config, CommandError> {
    let (path, if_missing) = match &args.config {
        Some(p) => (p.clone(), IfMissing::Error),
        None => (PathBuf::from(config::DEFAULT_PATH), IfMissing::Defaults),
    };
    let mut config: Config = Config::load(&path, if_missing, Ownership::for_this_process())
        .map_err(CommandError::Config)?;
    if let Some(d) = &args.state_dir {
        config.state_dir = d.clone();
    }
    if let Some(d) = &args.database {
        config.database = d.clone();
    }
    Ok(config)
}

/// Loads the config (with the command line's overrides) and opens the engine.
pub fn engine(args: &EngineArgs) -> Result<Engine, CommandError> {
    let ownership = Ownership::for_this_process();
    let mut config = load_config(args)?;
    let Some(fx) = &args.fixture else {
        return Ok(Engine::open(config, ownership)?);
    };
    // A recorded tree says nothing about this host's device-mapper or multipathd: asking them
    // would mix two machines' facts, so the inspector knows nothing.
    let r = Roots::fixture(fx);
    config.roots.sys = r.sys;
    config.roots.proc = r.proc;
    config.roots.dev = r.dev;
    config.roots.iscsi_nodes = r.iscsi_nodes;
    config.roots.multipath_wwids = r.multipath_wwids;
    config.roots.udev_data = r.udev_data;
    let store = SledStore::open(&config.database).map_err(EngineError::from)?;
    Ok(Engine::with_store(
        config,
        ownership,
        Box::new(store),
        Inspector::none(),
    ))
}
