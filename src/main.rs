//! The `lunguard` binary: parse the command line, set up logging to stderr,
//! dispatch, and turn the outcome into a documented exit code (see
//! `lunguard --help`): 0 ok, 1 findings, 2 usage or runtime error.

use std::io;
use std::process::ExitCode;

use clap::Parser;
use lunguard::cli::{Cli, Command};
use lunguard::commands::status::{self, StatusError};
use lunguard::exit::Exit;
use tracing::level_filters::LevelFilter;

fn main() -> ExitCode {
    // clap exits by itself: 0 for --help/--version, 2 for usage errors.
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    if let Err(e) = lunguard::engine::kill_hook::init_from_env() {
        eprintln!("lunguard: error: {e}");
        return ExitCode::from(Exit::Error.code());
    }
    let exit = match run(cli) {
        Ok(exit) => exit,
        Err(e) if is_broken_pipe(&e) => Exit::Ok, // `lunguard status | head`
        Err(e) if is_unusable_database(&e) => {
            eprintln!("lunguard: error: {e:#}");
            Exit::DatabaseDamaged
        }
        Err(e) => {
            eprintln!("lunguard: error: {e:#}");
            Exit::Error
        }
    };
    ExitCode::from(exit.code())
}

fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Status(args) => Ok(status::run(&args, &mut io::stdout().lock())?),
        Command::Check(args) => Ok(lunguard::commands::check::run(
            &args,
            &mut io::stdout().lock(),
        )?),
        Command::Plan(args) => Ok(lunguard::commands::plan::run(
            &lunguard::commands::EngineArgs {
                fixture: args.fixture.clone(),
                ..lunguard::commands::EngineArgs::from(&args.engine)
            },
            args.json,
            &mut io::stdout().lock(),
        )?),
        Command::History(args) => Ok(lunguard::commands::history::run(
            &lunguard::commands::EngineArgs::from(&args.engine),
            args.limit,
            &lunguard::commands::history::Filter {
                since: args.since,
                until: args.until,
                kinds: args.kind.clone(),
            },
            args.json,
            &mut io::stdout().lock(),
        )?),
        Command::Health(args) => Ok(lunguard::commands::health::run(
            &args,
            &mut io::stdout().lock(),
        )?),
        Command::Doctor(args) => Ok(lunguard::commands::doctor::run(
            &args,
            &mut io::stdout().lock(),
        )?),
        Command::Attach(args) => Ok(lunguard::commands::declare::attach(
            &args,
            &mut io::stdout().lock(),
        )?),
        Command::Detach(args) => Ok(lunguard::commands::declare::detach(
            &args,
            &mut io::stdout().lock(),
        )?),
        Command::Demo(args) => lunguard::commands::demo::run(args.keep),
        Command::Daemon(args) => lunguard::commands::daemon::main(args.config),
        Command::Apply(args) => Ok(lunguard::commands::apply::run(
            &lunguard::commands::EngineArgs::from(&args.engine),
            args.dry_run,
            args.json,
            &mut io::stdout().lock(),
        )?),
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_max_level(level)
        .with_target(false)
        .init();
}

/// A damaged database or one on a full filesystem, however the command wrapped the store's
/// error: exit 3, which the unit does not restart.
fn is_unusable_database(e: &anyhow::Error) -> bool {
    use lunguard::commands::CommandError;
    use lunguard::desire::StoreError;
    use lunguard::engine::EngineError;
    let store = match (
        e.downcast_ref::<StoreError>(),
        e.downcast_ref::<EngineError>(),
        e.downcast_ref::<CommandError>(),
    ) {
        (Some(s), _, _)
        | (_, Some(EngineError::Store(s)), _)
        | (_, _, Some(CommandError::Engine(EngineError::Store(s)))) => s,
        _ => return false,
    };
    matches!(
        store,
        StoreError::Corrupt { .. } | StoreError::NoSpace { .. }
    )
}

/// `lunguard … | head`: the reader went away. Not an error, whichever command was writing
/// (text or JSON).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    use lunguard::commands::CommandError;
    let json = |j: &serde_json::Error| j.io_error_kind() == Some(io::ErrorKind::BrokenPipe);
    match (
        e.downcast_ref::<StatusError>(),
        e.downcast_ref::<CommandError>(),
    ) {
        (Some(StatusError::Write(io)), _) | (_, Some(CommandError::Write(io))) => {
            io.kind() == io::ErrorKind::BrokenPipe
        }
        (Some(StatusError::Json(j)), _) | (_, Some(CommandError::Json(j))) => json(j),
        _ => false,
    }
}
