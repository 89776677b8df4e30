//! `watchload`: simulate playback traffic, know the true watch sessions, and
//! judge any pipeline's sessions against them.
//!
//! Exit codes: 0 success (every threshold held), 1 a threshold or check
//! failed, 2 an error (bad input, unreadable files, a broker unreachable).

mod cli;
mod gate;
mod run;

use clap::Parser;
use std::process::ExitCode;

// mimalloc: the verifier allocates and frees many small strings per record;
// glibc malloc was about a quarter of its time in a profile taken before
// the compact spill.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
