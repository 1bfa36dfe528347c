//! The `local-host` command line: `local-host run` delivers message files to the app, fires timers, waits until
//! nothing is left to do and prints a summary ([`run`]); `local-host status <id>` prints what the app's status
//! function answers ([`status`]); `local-host resend <returnId>` re-sends a return's messages from the audit copy
//! of a run ([`resend`]); `local-host redrive <returnId>` re-drives a return's failed notification ([`redrive`]);
//! `local-host engine` only starts the local engine. The exit code tells how it
//! went ([`exit`], also in `--help`); what is logged is in [`logging`].

pub mod exit;
pub mod logging;
pub mod redrive;
pub mod resend;
pub mod run;
pub mod status;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub use exit::{ExitStatus, EXIT_CODES};
pub use redrive::RedriveArgs;
pub use resend::ResendArgs;
pub use run::RunArgs;
pub use status::StatusArgs;

use crate::engine::EngineLauncher;

/// Plays the Azure Functions host and the Durable Functions extension for local runs.
#[derive(Debug, Parser)]
#[command(name = "local-host", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the app: deliver messages, fire timers, wait until idle, print a summary.
    #[command(after_help = EXIT_CODES)]
    Run(Box<RunArgs>),
    /// Print what the app's status function answers for one id (a return id, by default through ReturnStatus).
    #[command(after_help = EXIT_CODES)]
    Status(StatusArgs),
    /// Re-send a return's messages from the audit copy of a run (`run --audit FILE`) to a serving local-host's
    /// re-send function (recovering events lost with a failed entity batch).
    #[command(after_help = EXIT_CODES)]
    Resend(ResendArgs),
    /// Re-drive a return's notification whose orchestration failed, through a serving local-host's re-drive
    /// function (never a second email).
    #[command(after_help = EXIT_CODES)]
    Redrive(RedriveArgs),
    /// Start the local durable engine and print its address until interrupted.
    Engine(EngineArgs),
}

/// `local-host engine` options.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// The project folder holding scripts/local_engine.py.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub project_root: PathBuf,
}

pub(crate) fn parse_setting(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got \"{text}\"")),
    }
}

pub(crate) fn parse_ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!("expected a number from 0 to 1, got \"{text}\"")),
    }
}

pub(crate) fn seconds(value: f64, flag: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("--{flag} must be a non-negative number of seconds"))
}

/// Parses the command line and runs it; usage errors exit with [`ExitStatus::CouldNotRun`] (clap's own code, 2,
/// would read as "not idle").
pub async fn main_from_args() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => {
            let verbose = matches!(&cli.command, Command::Run(args) if args.verbose);
            logging::init(verbose);
            main(cli).await
        }
        Err(error) => {
            let _ = error.print();
            if error.use_stderr() {
                ExitStatus::CouldNotRun.into()
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

/// Runs the command line; the exit code is an [`ExitStatus`].
pub async fn main(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Run(args) => run::run(*args).await,
        Command::Status(args) => status::status(args).await,
        Command::Resend(args) => resend::resend(args).await,
        Command::Redrive(args) => redrive::redrive(args).await,
        Command::Engine(args) => engine(args).await.map(|()| ExitStatus::Success),
    };
    match outcome {
        Ok(status) => status.into(),
        Err(message) => {
            eprintln!("local-host: {message}");
            ExitStatus::CouldNotRun.into()
        }
    }
}

async fn engine(args: EngineArgs) -> Result<(), String> {
    let launcher = EngineLauncher::discover(&args.project_root)
        .ok_or_else(|| format!("no scripts/local_engine.py in {} or above", args.project_root.display()))?;
    let engine = launcher.start().await.map_err(|error| error.to_string())?;
    println!("{}", engine.address());
    let _ = tokio::signal::ctrl_c().await;
    engine.stop().await;
    Ok(())
}
