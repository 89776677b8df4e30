//! `watchload verify`: judge a pipeline's watch sessions against the truth
//! of a generated run, print a summary, write `report.json` and
//! `report.md`, and exit by the thresholds.

use super::Outcome;
use anyhow::Context;
use std::path::PathBuf;
use watchload_verifier::run_dir::RunDir;
use watchload_verifier::threshold::{self, parse_thresholds_with, scenario_thresholds};
use watchload_verifier::{markdown, JsonlSource, OutputMode, VerifyOptions};

/// Arguments of `watchload verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The generated run directory (truth.jsonl, excluded.jsonl,
    /// manifest.json).
    #[arg(long, value_name = "RUN_DIR")]
    pub truth: PathBuf,

    /// The pipeline's output: JSONL files, or directories of *.jsonl files.
    #[arg(long, value_name = "PATH", required = true, num_args = 1..)]
    pub sessions: Vec<PathBuf>,

    /// A TOML field mapping for an output schema other than watchload's.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,

    /// A threshold such as `f1 >= 0.999` or `watch_ms_error_p99 <= 1s`;
    /// repeatable, checked together with the scenario's thresholds.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,

    /// Ignore the `thresholds` of the scenario recorded in the manifest.
    #[arg(long)]
    pub no_scenario_thresholds: bool,

    /// How repeated output is read: `final-view` (last version per key
    /// wins, tombstones delete) or `append` (every record is a session).
    #[arg(long, value_name = "MODE", default_value = "final-view")]
    pub output_mode: OutputMode,

    /// Where report.json and report.md go [default: RUN_DIR/verify].
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,

    /// Print the JSON report on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,

    /// Number of spill buckets [default: about 64 MiB of input each].
    #[arg(long, value_name = "N")]
    pub buckets: Option<usize>,

    /// Directory for the temporary spill files [default: system temp dir].
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,

    /// Also write the thresholds and checks as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    let thresholds = collect_thresholds(&args)?;

    let options = VerifyOptions {
        mapping: args.mapping.clone(),
        output_mode: args.output_mode,
        buckets: args.buckets,
        workers: None,
        spill_dir: args.spill_dir.clone(),
    };
    let mut source = JsonlSource::open(&args.sessions)?;
    let mut report = watchload_verifier::verify(&args.truth, &mut source, &options)?;
    let pass = threshold::apply(&mut report, &thresholds);

    let dir = args
        .report_dir
        .clone()
        .unwrap_or_else(|| args.truth.join("verify"));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create report directory {}", dir.display()))?;
    let json = serde_json::to_string_pretty(&report)?;
    let json_path = dir.join("report.json");
    std::fs::write(&json_path, format!("{json}\n"))
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    let md_path = dir.join("report.md");
    std::fs::write(&md_path, markdown::render(&report, true))
        .with_context(|| format!("cannot write {}", md_path.display()))?;

    if let Some(path) = &args.junit {
        let suite = crate::gate::verify_cases::suite(&report, started.elapsed().as_secs_f64());
        crate::gate::junit::write(path, &[suite])?;
    }

    if args.json {
        println!("{json}");
    } else {
        print!("{}", markdown::render(&report, false));
        println!(
            "\nreport: {} and {}",
            json_path.display(),
            md_path.display()
        );
    }
    Ok(if pass { Outcome::Pass } else { Outcome::Fail })
}

/// Flag thresholds plus the scenario's, all parsed before any work so a
/// typo fails fast with every problem listed. A scenario threshold on a
/// run metric (lag, throughput, broker data loss: `RUN_METRICS`) is left
/// out with a note, as only `watchload run` measures those; on the command
/// line it is an error.
fn collect_thresholds(args: &VerifyArgs) -> anyhow::Result<Vec<threshold::Threshold>> {
    let mut scenario = Vec::new();
    if !args.no_scenario_thresholds {
        let manifest = RunDir::open(&args.truth)?.manifest()?;
        if let Some(text) = manifest.scenario_text {
            let from_scenario = scenario_thresholds(&text).map_err(|e| {
                anyhow::anyhow!("{}: {e}", args.truth.join("manifest.json").display())
            })?;
            scenario = from_scenario.unwrap_or_default();
        }
    }
    let invalid = |errors: Vec<threshold::ThresholdError>| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("invalid thresholds:\n  {}", lines.join("\n  "))
    };
    let is_run_metric = |t: &threshold::Threshold| {
        threshold::RUN_METRICS
            .iter()
            .any(|(name, _)| *name == t.metric)
    };
    let mut out = Vec::new();
    for t in parse_thresholds_with(&scenario, threshold::RUN_METRICS).map_err(invalid)? {
        if is_run_metric(&t) {
            eprintln!(
                "note: scenario threshold `{}` left out: a run metric, measured by `watchload run` only",
                t.expr
            );
        } else {
            out.push(t);
        }
    }
    for t in parse_thresholds_with(&args.thresholds, threshold::RUN_METRICS).map_err(invalid)? {
        if is_run_metric(&t) {
            anyhow::bail!(
                "threshold `{}`: `{}` is a run metric, measured by `watchload run` only",
                t.expr,
                t.metric
            );
        }
        out.push(t);
    }
    Ok(out)
}
