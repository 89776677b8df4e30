//! `watchload compare BASELINE_REPORT NEW_REPORT`: flags regressions in
//! correctness, lag and throughput beyond tolerances (see `docs/ci.md`).
//! Exit 0 no regression, 1 a regression, 2 an error (unreadable report,
//! unknown report kind, different schema versions, bad tolerance).

use super::Outcome;
use crate::gate::compare::metrics::LoadedReport;
use crate::gate::compare::{self, table};
use crate::gate::junit;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `watchload compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline `report.json` (of `watchload run` or `watchload verify`).
    pub baseline: PathBuf,

    /// The new `report.json` to judge against the baseline.
    pub new: PathBuf,

    /// How much a metric may worsen, as `METRIC=TOLERANCE`: `off`, `0`, a
    /// share of the baseline (`10%`), an amount in the metric's unit
    /// (`50ms`, `0.001`), or both (`10%+50ms`); repeatable. Defaults are
    /// in docs/ci.md.
    #[arg(long = "tolerance", value_name = "METRIC=TOLERANCE")]
    pub tolerances: Vec<String>,

    /// Print the comparison as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Also write the comparison as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Also write one JUnit test case per gated metric to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

fn load(path: &Path) -> anyhow::Result<LoadedReport> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    LoadedReport::from_json(json).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Runs the command.
pub fn run(args: CompareArgs) -> anyhow::Result<Outcome> {
    let tolerances = compare::parse_tolerances(&args.tolerances)?;
    let baseline = load(&args.baseline)?;
    let new = load(&args.new)?;
    let comparison = compare::compare(
        (&args.baseline.display().to_string(), &baseline),
        (&args.new.display().to_string(), &new),
        &tolerances,
    )?;

    let json = serde_json::to_string_pretty(&comparison)?;
    if let Some(path) = &args.output {
        std::fs::write(path, format!("{json}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.junit {
        junit::write(path, &[compare::junit_suite(&comparison)])?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{}", table::render(&comparison));
    }
    Ok(if comparison.regressions == 0 {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}
