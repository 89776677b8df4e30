//! `watchload validate`: check scenario files and print every problem of
//! every file. Exit 0 when all are valid, 2 when any is not.

use clap::Args;
use std::path::PathBuf;
use watchload_generator::calibrate::calibrate;
use watchload_generator::scenario::{load_file, Problem, Scenario};

use super::{Outcome, EXIT_ERROR};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files (TOML).
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<Outcome> {
    let mut invalid = 0;
    for path in &args.scenarios {
        let lines = problems_of(path);
        if lines.is_empty() {
            println!("{}: ok", path.display());
        } else {
            invalid += 1;
            for line in lines {
                println!("{line}");
            }
        }
    }
    if invalid > 0 {
        eprintln!(
            "watchload: {invalid} of {} scenario(s) invalid",
            args.scenarios.len()
        );
        std::process::exit(i32::from(EXIT_ERROR));
    }
    Ok(Outcome::Pass)
}

/// Every problem of one file, one line each, prefixed with the file.
fn problems_of(path: &std::path::Path) -> Vec<String> {
    let origin = path.display().to_string();
    let (scenario, text) = match load_file(path) {
        Ok(loaded) => loaded,
        Err(err) => return err.lines(),
    };
    let mut problems = check_thresholds(&scenario);
    if let Err(err) = calibrate(&scenario, scenario.seed) {
        problems.push(Problem::new("load.peak_rate", err.to_string()));
    }
    problems
        .into_iter()
        .map(|p| {
            let line = watchload_generator::scenario::load::locate(&text, &p.key);
            match line {
                Some(line) => format!("{origin}:{line}: {}", p.describe()),
                None => format!("{origin}: {}", p.describe()),
            }
        })
        .collect()
}

/// Problems with the `thresholds` of a scenario: one per expression that
/// neither the verifier nor a run knows how to check.
fn check_thresholds(scenario: &Scenario) -> Vec<Problem> {
    let extra = watchload_verifier::threshold::RUN_METRICS;
    match watchload_verifier::threshold::parse_thresholds_with(&scenario.thresholds, extra) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .iter()
            .map(|e| Problem::new("thresholds", e.to_string()))
            .collect(),
    }
}
