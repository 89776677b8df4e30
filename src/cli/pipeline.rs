//! `watchload pipeline`: the reference sessionizer, on Kafka (a consumer
//! group in, sessions and dead-letter topics out) or on a run directory's
//! `events.jsonl` (file mode).

use anyhow::{bail, Context};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;
use watchload_generator::scenario::units::parse_duration;
use watchload_model::SessionRules;
use watchload_pipeline::file::{run_file, FilePaths};
use watchload_pipeline::kafka::{run_until_signal, KafkaSettings};
use watchload_pipeline::{Defect, Defects, Sessionizer, SessionizerConfig, Stats};

use super::Outcome;

#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Kafka bootstrap servers (Kafka mode), e.g. `localhost:9092`.
    #[arg(long, conflicts_with = "input")]
    pub bootstrap: Option<String>,

    /// Topic the events are read from (Kafka mode).
    #[arg(long, default_value = "watchload.events")]
    pub input_topic: String,

    /// Topic the session changelog is written to, keyed by session_id
    /// (Kafka mode).
    #[arg(long, default_value = "watchload.sessions")]
    pub output_topic: String,

    /// Topic poison records are written to, with reason headers (Kafka mode).
    #[arg(long, default_value = "watchload.dlq")]
    pub dlq_topic: String,

    /// Consumer group id; checkpoints are committed under it (Kafka mode).
    #[arg(long, default_value = "watchload-pipeline")]
    pub group: String,

    /// librdkafka property for both clients, as `key=value`; repeatable.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_property)]
    pub properties: Vec<(String, String)>,

    /// How often outputs are awaited and offsets committed (Kafka mode).
    #[arg(long, default_value = "1s", value_parser = parse_ms)]
    pub commit_interval: i64,

    /// Emit open sessions at SIGTERM/ctrl-c, for a stream that has ended
    /// (Kafka mode). File mode always does so at the end of the file.
    #[arg(long)]
    pub flush_on_shutdown: bool,

    /// `events.jsonl` of a generated run (file mode; partition 0, in file
    /// order).
    #[arg(long, requires = "output")]
    pub input: Option<PathBuf>,

    /// Where file mode writes the session changelog (JSONL).
    #[arg(long, requires = "input")]
    pub output: Option<PathBuf>,

    /// Where file mode writes dead letters (JSONL); counted only if absent.
    #[arg(long, requires = "input")]
    pub dead_letters: Option<PathBuf>,

    /// A gap between events of a user strictly longer than this splits
    /// the watch session [default: the run's manifest.json in file mode,
    /// else 30m].
    #[arg(long, value_parser = parse_ms)]
    pub session_gap: Option<i64>,

    /// Cap on each step of playing time between two events of a playback
    /// [default: the run's manifest.json in file mode, else 20s].
    #[arg(long, value_parser = parse_ms)]
    pub max_step: Option<i64>,

    /// Events later than this behind stream time are dropped [default: the
    /// run's manifest.json in file mode, else 5m].
    #[arg(long, value_parser = parse_ms)]
    pub allowed_lateness: Option<i64>,

    /// Margin around the lateness bound; widens how long state is kept
    /// [default: the run's manifest.json in file mode, else 1s].
    #[arg(long, value_parser = parse_ms)]
    pub lateness_margin: Option<i64>,

    /// Switch on a deliberate bug (see docs/pipeline.md); repeatable.
    #[arg(long = "defect", value_name = "NAME")]
    pub defects: Vec<Defect>,
}

pub fn run(args: PipelineArgs) -> anyhow::Result<Outcome> {
    let config = SessionizerConfig {
        rules: rules(&args)?,
        defects: args.defects.iter().copied().collect::<Defects>(),
    };

    let stats = match (&args.bootstrap, &args.input, &args.output) {
        (Some(bootstrap), None, _) => {
            let mut settings = KafkaSettings::new(
                bootstrap,
                &args.input_topic,
                &args.output_topic,
                &args.dlq_topic,
                &args.group,
            );
            settings.properties = args.properties.clone();
            settings.commit_interval = Duration::from_millis(args.commit_interval.max(1) as u64);
            settings.flush_on_shutdown = args.flush_on_shutdown;
            run_until_signal(&settings, config)?
        }
        (None, Some(input), Some(output)) => {
            let flush = !config.defects.has(Defect::NoFlushOnShutdown);
            let mut sessionizer = Sessionizer::new(config)?;
            let paths = FilePaths {
                input: input.clone(),
                output: output.clone(),
                dead_letters: args.dead_letters.clone(),
                arrival_times: beside(input, "records.jsonl"),
            };
            run_file(&mut sessionizer, &paths, flush)
                .with_context(|| format!("file mode on {}", input.display()))?
        }
        _ => bail!("give either --bootstrap (Kafka mode) or --input and --output (file mode)"),
    };
    print_summary(&stats);
    Ok(Outcome::Pass)
}

/// The session rules: each flag given, else (file mode) the rules in the
/// `manifest.json` beside the events file, else the defaults.
fn rules(args: &PipelineArgs) -> anyhow::Result<SessionRules> {
    let base = match args
        .input
        .as_deref()
        .and_then(|i| beside(i, "manifest.json"))
    {
        Some(path) => {
            let rules = manifest_rules(&path)?;
            tracing::info!(manifest = %path.display(), ?rules, "session rules from the manifest");
            rules
        }
        None => SessionRules::default(),
    };
    Ok(SessionRules {
        session_gap_ms: args.session_gap.unwrap_or(base.session_gap_ms),
        max_step_ms: args.max_step.unwrap_or(base.max_step_ms),
        allowed_lateness_ms: args.allowed_lateness.unwrap_or(base.allowed_lateness_ms),
        lateness_margin_ms: args.lateness_margin.unwrap_or(base.lateness_margin_ms),
    })
}

/// `name` in the directory of `file`, when it exists.
fn beside(file: &Path, name: &str) -> Option<PathBuf> {
    let path = file.parent().unwrap_or(Path::new(".")).join(name);
    path.is_file().then_some(path)
}

/// The `rules` of a run's manifest; defaults when it has none.
fn manifest_rules(path: &Path) -> anyhow::Result<SessionRules> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    match manifest.get("rules") {
        Some(rules) => serde_json::from_value(rules.clone())
            .with_context(|| format!("{}: key `rules`", path.display())),
        None => Ok(SessionRules::default()),
    }
}

fn print_summary(stats: &Stats) {
    eprintln!(
        "records {}, admitted {}, duplicates {}, late {}, poison {}, upserts {}, \
         tombstones {}, replayed {}",
        stats.records,
        stats.admitted,
        stats.duplicates,
        stats.late,
        stats.poison_total(),
        stats.upserts,
        stats.tombstones,
        stats.replayed
    );
}

fn parse_ms(text: &str) -> Result<i64, String> {
    parse_duration(text).map(|d| d.ms())
}

fn parse_property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}
