//! Command-line interface: one module per subcommand, each a thin layer over
//! the library crates.

use clap::{Parser, Subcommand};

pub mod compare;
pub mod generate;
pub mod pipeline;
pub mod run;
pub mod validate;
pub mod verify;

/// Every threshold and check held.
pub const EXIT_OK: u8 = 0;
/// A threshold or check failed.
pub const EXIT_FAILED: u8 = 1;
/// An error stopped the command (bad input, unreadable file, ...).
pub const EXIT_ERROR: u8 = 2;

/// Outcome of a command that ran to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
}

impl From<Outcome> for std::process::ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Pass => std::process::ExitCode::from(EXIT_OK),
            Outcome::Fail => std::process::ExitCode::from(EXIT_FAILED),
        }
    }
}

#[derive(Debug, Parser)]
#[command(name = "watchload", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Judge a pipeline's watch sessions against the truth of a run.
    Verify(verify::VerifyArgs),
    /// Generate a scenario's traffic and truth into a run directory.
    Generate(generate::GenerateArgs),
    /// Check scenario files and print every problem (exit 2 if any).
    Validate(validate::ValidateArgs),
    /// Run a scenario end to end against Kafka: load, pipeline, verdict.
    Run(run::RunArgs),
    /// Run the reference sessionizer on Kafka or on an events.jsonl file.
    Pipeline(pipeline::PipelineArgs),
    /// Compare a report with a baseline report; exit 1 on a regression.
    Compare(compare::CompareArgs),
}

pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

pub fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Verify(args) => verify::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Run(args) => run::run(args),
        Command::Pipeline(args) => pipeline::run(args),
        Command::Compare(args) => compare::run(args),
    }
}
