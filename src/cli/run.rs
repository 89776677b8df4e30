//! `watchload run SCENARIO`: the whole loop against Kafka in one command
//! (see `docs/run.md`).

use crate::run::{execute, PipelineChoice, RunOptions};
use anyhow::Context;
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use super::Outcome;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,

    /// Brokers of a real cluster (`host:port,...`); `embedded` (the
    /// default) starts a 3-broker mock cluster in this process.
    #[arg(long)]
    pub bootstrap: Option<String>,

    /// Start this shell command as the pipeline under test instead of the
    /// reference pipeline; it gets WATCHLOAD_BOOTSTRAP,
    /// WATCHLOAD_INPUT_TOPIC, WATCHLOAD_OUTPUT_TOPIC, WATCHLOAD_DLQ_TOPIC
    /// and WATCHLOAD_GROUP_ID, and SIGTERM at the end.
    #[arg(long, conflicts_with = "no_pipeline")]
    pub pipeline_cmd: Option<String>,

    /// Start no pipeline: one already runs against the cluster.
    #[arg(long)]
    pub no_pipeline: bool,

    /// Consumer group of a pipeline started with --pipeline-cmd or already
    /// running, to sample its lag on the events topic.
    #[arg(long)]
    pub group_id: Option<String>,

    /// librdkafka property for every client, as `key=value` (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub property: Vec<String>,

    /// Name the topics `PREFIX.events`, `PREFIX.sessions` and `PREFIX.dlq`
    /// (default prefix `watchload`); a fresh prefix keeps runs on a shared
    /// cluster apart.
    #[arg(long)]
    pub topic_prefix: Option<String>,

    /// Partitions of the topics the run creates (default 6). The embedded
    /// cluster keeps about 5 MiB per partition: larger runs need more.
    #[arg(long)]
    pub partitions: Option<i32>,

    /// Where report directories go.
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,

    /// Seed, overriding the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Waiting for output ends after this long without a new output record
    /// (once the pipeline has consumed every event), e.g. "5s"; default the
    /// scenario's `wait.quiet` (5s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub quiet: Option<Duration>,

    /// Waiting for output ends at the latest this long after the flush;
    /// default the scenario's `wait.deadline` (2m).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub deadline: Option<Duration>,

    /// Also write the thresholds and checks as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,

    /// Switch on a deliberate bug in the reference pipeline, to prove the
    /// verdict catches it (see docs/defects.md); repeatable.
    #[arg(long = "defect", value_name = "NAME", conflicts_with_all = ["pipeline_cmd", "no_pipeline"])]
    pub defects: Vec<watchload_pipeline::Defect>,

    /// How the end of the stream reaches the pipeline: `flush-records`
    /// (far-future records on every partition) or `shutdown` (stop the
    /// pipeline, which must emit its open sessions as it stops).
    #[arg(
        long,
        value_name = "MODE",
        default_value = "flush-records",
        conflicts_with = "no_pipeline"
    )]
    pub end_of_stream: crate::run::EndOfStream,
}

pub fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let mut properties = Vec::new();
    for p in &args.property {
        let (key, value) = watchload_kafka::parse_property(p).with_context(|| format!("-X {p}"))?;
        properties.push((key, value));
    }
    let pipeline = match (&args.pipeline_cmd, args.no_pipeline) {
        (Some(command), _) => PipelineChoice::Command(command.clone()),
        (None, true) => PipelineChoice::External,
        (None, false) => PipelineChoice::Reference,
    };
    let result = execute(RunOptions {
        scenario: args.scenario,
        bootstrap: args.bootstrap,
        pipeline,
        group_id: args.group_id,
        properties,
        topic_prefix: args.topic_prefix,
        partitions: args.partitions,
        report_root: args.report_dir,
        seed: args.seed,
        quiet: args.quiet,
        deadline: args.deadline,
        progress: std::io::stderr().is_terminal(),
        junit: args.junit,
        defects: args.defects.iter().copied().collect(),
        end_of_stream: args.end_of_stream,
    })?;
    print!("{}", result.report.summary());
    println!("  report: {}", result.dir.display());
    Ok(if result.passed {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}
