//! `watchload generate`: run a scenario into a run directory (events,
//! side files, truth, manifest), or stream events to stdout with `--out -`.

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use watchload_generator::rundir::EVENTS;
use watchload_generator::scenario::load_file;
use watchload_generator::sink::{FileSink, Sink, StdoutSink};
use watchload_generator::{run as run_scenario, RunConfig, RunSummary, Shard};

use super::Outcome;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,

    /// Run directory to write (created if missing), or `-` to write only the
    /// events to stdout (no truth, no side files; summary on stderr).
    #[arg(long)]
    pub out: PathBuf,

    /// Seed, overriding the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Generate only users whose index modulo N is I, as `I/N`.
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,

    /// Send as fast as possible, ignoring the scenario's `load.paced`.
    #[arg(long)]
    pub unpaced: bool,
}

pub fn run(args: GenerateArgs) -> anyhow::Result<Outcome> {
    let (scenario, text) = load_file(&args.scenario)?;
    let to_stdout = args.out.as_os_str() == "-";
    let cfg = RunConfig {
        scenario: &scenario,
        scenario_text: &text,
        seed: args.seed.unwrap_or(scenario.seed),
        shard: args.shard,
        paced: scenario.load.paced && !args.unpaced,
        run_dir: (!to_stdout).then(|| args.out.clone()),
    };

    let mut sink: Box<dyn Sink> = if to_stdout {
        Box::new(StdoutSink::new())
    } else {
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot create run directory {}", args.out.display()))?;
        Box::new(FileSink::create(&args.out.join(EVENTS))?)
    };

    let bar = progress_bar();
    let summary = run_scenario(&cfg, sink.as_mut(), &mut |p| {
        bar.set_position((p.done * 1000.0) as u64);
        bar.set_message(format!("{} records", p.records));
    })
    .with_context(|| format!("generating {}", args.scenario.display()))?;
    bar.finish_and_clear();

    let text = render(&summary, &cfg, &args);
    if to_stdout {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    Ok(Outcome::Pass)
}

/// A progress bar over simulated time, drawn only on a terminal.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(1000);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let style = ProgressStyle::with_template("{bar:40} {percent:>3}% simulated, {msg} ({elapsed})")
        .expect("static template");
    bar.set_style(style);
    bar
}

fn render(s: &RunSummary, cfg: &RunConfig<'_>, args: &GenerateArgs) -> String {
    use std::fmt::Write;
    let c = &s.counts;
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {} seed {} shard {} run tag {}",
        cfg.scenario.name, cfg.seed, cfg.shard, s.run_tag
    );
    let _ = writeln!(
        out,
        "records {} (events {}, poison {}) from {} users in {:.2}s ({:.0} records/s)",
        c.records,
        c.events,
        c.poison,
        c.users,
        secs,
        c.records as f64 / secs
    );
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(out, "labels: {}", labels.join(", "));
    if cfg.run_dir.is_some() {
        let _ = writeln!(
            out,
            "truth: {} sessions ({} tolerated); duplicates {}, expired {}, ambiguous {}",
            c.truth_sessions, c.tolerated_sessions, c.duplicates, c.expired, c.ambiguous
        );
        let _ = writeln!(out, "run directory: {}", args.out.display());
    }
    match &s.pacing {
        Some(p) => {
            let _ = writeln!(
                out,
                "paced at time_scale {} (target peak {:.0}/s): lag p50 {}us p99 {}us max {}us, \
                 {} misses over {}us",
                cfg.scenario.time_scale,
                s.target_wall_rate,
                p.lag_p50_us,
                p.lag_p99_us,
                p.lag_max_us,
                p.misses,
                p.miss_threshold_us
            );
        }
        None => {
            let _ = writeln!(
                out,
                "unpaced (target peak when paced {:.0}/s)",
                s.target_wall_rate
            );
        }
    }
    out
}
