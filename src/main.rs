//! `watchload`: simulate playback traffic, know the true watch sessions, and
//! judge any pipeline's sessions against them.
//!
//! Exit codes: 0 success (every threshold held), 1 a threshold or check
//! failed, 2 an error (bad input, unreadable files, a broker unreachable).

mod cli;
mod run;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(args.verbose);
    match cli::dispatch(args) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("watchload: error: {err:#}");
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}
