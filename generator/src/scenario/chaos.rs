//! The run-time parts of a scenario that only `watchload run` reads:
//! faults scripted on the load's timeline (`[[chaos]]`), what counts as
//! recovered after each (`[recovery]`), and how long to wait for the last
//! output (`[wait]`). `watchload generate` ignores them.

use super::check::Problem;
use super::{Millis, Scenario};
use serde::{Deserialize, Serialize};

/// Longest time an `exec` command may run when `timeout` is not given.
pub const DEFAULT_EXEC_TIMEOUT: Millis = Millis::secs(30);

/// What a `[[chaos]]` entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChaosAction {
    /// Takes a broker of the embedded cluster down for `duration`.
    BrokerDown,
    /// Adds `latency` to every request to a broker of the embedded cluster
    /// for `duration`.
    BrokerLatency,
    /// Kills the pipeline watchload started (a crash: no final commit) and
    /// starts it again after `duration` (default: at once).
    PipelineRestart,
    /// Freezes the pipeline watchload started for `duration`.
    PipelinePause,
    /// Runs `command` in a shell, and `undo` after `duration`.
    Exec,
}

impl ChaosAction {
    /// The name as written in scenarios and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ChaosAction::BrokerDown => "broker-down",
            ChaosAction::BrokerLatency => "broker-latency",
            ChaosAction::PipelineRestart => "pipeline-restart",
            ChaosAction::PipelinePause => "pipeline-pause",
            ChaosAction::Exec => "exec",
        }
    }

    /// Whether the action works on the embedded cluster only.
    pub fn needs_embedded(self) -> bool {
        matches!(self, ChaosAction::BrokerDown | ChaosAction::BrokerLatency)
    }

    /// Whether the action acts on the pipeline watchload started.
    pub fn targets_pipeline(self) -> bool {
        matches!(
            self,
            ChaosAction::PipelineRestart | ChaosAction::PipelinePause
        )
    }
}

/// One `[[chaos]]` entry: a fault at a wall-clock offset from the start of
/// the load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosEntry {
    /// Wall-clock offset from the start of the load at which the fault
    /// starts, e.g. "10s".
    pub at: Millis,
    /// How long the fault lasts: the undo runs this long after the start.
    /// Required for `broker-down`, `broker-latency` and `pipeline-pause`;
    /// for `pipeline-restart` the time the pipeline stays down (default 0);
    /// for `exec` the delay before `undo` (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Millis>,
    /// What to do.
    pub action: ChaosAction,
    /// `broker-down`, `broker-latency`: the embedded broker, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<i32>,
    /// `broker-latency`: the added round-trip time, e.g. "500ms".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Millis>,
    /// `exec`: shell command run at `at` (`sh -c`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// `exec`: shell command run after `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<String>,
    /// `exec`: longest time each command may run before it is killed
    /// (default "30s").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Millis>,
}

impl ChaosEntry {
    /// How long the fault lasts (0 when not given).
    pub fn length(&self) -> Millis {
        self.duration.unwrap_or(Millis(0))
    }

    /// The `exec` timeout, default [`DEFAULT_EXEC_TIMEOUT`].
    pub fn exec_timeout(&self) -> Millis {
        self.timeout.unwrap_or(DEFAULT_EXEC_TIMEOUT)
    }

    /// What the fault acts on, for logs and reports: `broker 2`,
    /// `pipeline`, or the command.
    pub fn target(&self) -> String {
        match self.action {
            ChaosAction::BrokerDown | ChaosAction::BrokerLatency => {
                format!("broker {}", self.broker.unwrap_or(0))
            }
            ChaosAction::PipelineRestart | ChaosAction::PipelinePause => "pipeline".to_string(),
            ChaosAction::Exec => self.command.clone().unwrap_or_default(),
        }
    }
}

/// `[recovery]`: when a run counts as recovered after a fault.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Recovery {
    /// Bound on the lag p99 of the sessions due in each second.
    pub lag: Millis,
    /// Share of the pre-fault output rate (sessions out per second) the
    /// output rate must be back to.
    pub output_rate: f64,
    /// How long both conditions must hold, without a break, to count.
    pub hold: Millis,
}

impl Default for Recovery {
    fn default() -> Self {
        Recovery {
            lag: Millis::secs(5),
            output_rate: 0.5,
            hold: Millis::secs(3),
        }
    }
}

/// `[wait]`: how waiting for the pipeline's last output ends (the command
/// line's `--quiet` and `--deadline` override).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Wait {
    /// No new output record for this long ends the wait.
    pub quiet: Millis,
    /// The wait ends at the latest this long after the flush.
    pub deadline: Millis,
}

impl Default for Wait {
    fn default() -> Self {
        Wait {
            quiet: Millis::secs(5),
            deadline: Millis::mins(2),
        }
    }
}

/// The key of entry `i` (0-based) of `[[chaos]]`, as problems name it.
pub fn entry_key(i: usize, field: &str) -> String {
    format!("chaos[{i}].{field}")
}

/// Every problem of the `[[chaos]]`, `[recovery]`, `[wait]` and `[kafka]`
/// sections.
pub fn check(s: &Scenario) -> Vec<Problem> {
    let mut out = Vec::new();
    for (i, entry) in s.chaos.iter().enumerate() {
        check_entry(s, i, entry, &mut out);
    }
    let r = &s.recovery;
    if r.lag.ms() <= 0 {
        out.push(Problem::new("recovery.lag", "expected a positive duration"));
    }
    if !(r.output_rate.is_finite() && (0.0..=1.0).contains(&r.output_rate)) {
        out.push(Problem::new(
            "recovery.output_rate",
            format!("expected a share between 0 and 1, got {}", r.output_rate),
        ));
    }
    if r.hold.ms() < 1_000 {
        out.push(Problem::new(
            "recovery.hold",
            "expected at least 1s (recovery is judged per second)",
        ));
    }
    if s.wait.quiet.ms() <= 0 {
        out.push(Problem::new("wait.quiet", "expected a positive duration"));
    }
    if s.wait.deadline.ms() <= 0 {
        out.push(Problem::new(
            "wait.deadline",
            "expected a positive duration",
        ));
    }
    for message in s.kafka.problems() {
        // `kafka.partitions must be ...` or `kafka.topics.events: ...`.
        let key = message
            .split([' ', ':'])
            .next()
            .unwrap_or("kafka")
            .to_string();
        let rest = message[key.len()..].trim_start_matches(':').trim();
        out.push(Problem::new(&key, rest));
    }
    out
}

fn check_entry(s: &Scenario, i: usize, e: &ChaosEntry, out: &mut Vec<Problem>) {
    let mut push =
        |field: &str, message: String| out.push(Problem::new(&entry_key(i, field), message));
    let action = e.action.as_str();
    if e.at.ms() < 0 {
        push("at", "expected an offset of zero or more".into());
    }
    if let Some(d) = e.duration {
        if d.ms() < 0 {
            push("duration", "expected a duration of zero or more".into());
        }
    }
    let needs_duration = matches!(
        e.action,
        ChaosAction::BrokerDown | ChaosAction::BrokerLatency | ChaosAction::PipelinePause
    );
    if needs_duration && e.duration.map_or(true, |d| d.ms() <= 0) {
        push(
            "duration",
            format!("{action} needs a positive duration: every fault must end"),
        );
    }
    let wants = |field: &str| match field {
        "broker" => e.action.needs_embedded(),
        "latency" => e.action == ChaosAction::BrokerLatency,
        _ => e.action == ChaosAction::Exec,
    };
    let given = [
        ("broker", e.broker.is_some()),
        ("latency", e.latency.is_some()),
        ("command", e.command.is_some()),
        ("undo", e.undo.is_some()),
        ("timeout", e.timeout.is_some()),
    ];
    for (field, present) in given {
        if present && !wants(field) {
            push(field, format!("not used by action {action}"));
        }
    }
    if e.action.needs_embedded() {
        match e.broker {
            None => push("broker", format!("{action} needs broker = N (from 1)")),
            Some(b) if b < 1 => push("broker", format!("expected a broker id from 1, got {b}")),
            Some(b) if s.kafka.is_embedded() && b > s.kafka.embedded_brokers => push(
                "broker",
                format!(
                    "the embedded cluster has brokers 1 to {}, not {b}",
                    s.kafka.embedded_brokers
                ),
            ),
            Some(_) => {}
        }
    }
    if e.action == ChaosAction::BrokerLatency && e.latency.map_or(true, |l| l.ms() <= 0) {
        push("latency", "broker-latency needs a positive latency".into());
    }
    if e.action == ChaosAction::Exec {
        if e.command.as_deref().map_or(true, |c| c.trim().is_empty()) {
            push("command", "exec needs a non-empty command".into());
        }
        if e.undo.as_deref().is_some_and(|c| c.trim().is_empty()) {
            push("undo", "expected a non-empty command".into());
        }
        if e.timeout.is_some_and(|t| t.ms() <= 0) {
            push("timeout", "expected a positive duration".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::load::tests::MINIMAL as BASE;
    use crate::scenario::parse_str;

    fn with(extra: &str) -> String {
        format!("{BASE}\n{extra}")
    }

    #[test]
    fn a_full_chaos_plan_loads() {
        let text = with(
            r#"
[kafka]
partitions = 4
[kafka.producer]
message_timeout = "60s"

[recovery]
lag = "3s"
output_rate = 0.6

[wait]
quiet = "2s"

[[chaos]]
at = "5s"
duration = "4s"
action = "broker-down"
broker = 2

[[chaos]]
at = "12s"
action = "pipeline-restart"

[[chaos]]
at = "15s"
duration = "2s"
action = "exec"
command = "true"
undo = "true"
"#,
        );
        let s = parse_str(&text, "t.toml").unwrap();
        assert_eq!(s.chaos.len(), 3);
        assert_eq!(s.chaos[0].broker, Some(2));
        assert_eq!(s.chaos[1].length().ms(), 0);
        assert_eq!(s.kafka.partitions, 4);
        assert_eq!(s.recovery.lag.ms(), 3_000);
        assert_eq!(s.wait.quiet.ms(), 2_000);
        assert_eq!(s.wait.deadline.ms(), 120_000);
    }

    #[test]
    fn problems_name_the_entry_key_and_line() {
        let text = with(
            r#"
[[chaos]]
at = "5s"
action = "broker-down"
broker = 7

[[chaos]]
at = "6s"
action = "exec"
duration = "1s"
latency = "1s"
"#,
        );
        let err = parse_str(&text, "c.toml").unwrap_err();
        let lines = err.lines().join("\n");
        for want in [
            "c.toml:13: chaos[0].duration: broker-down needs a positive duration",
            "c.toml:16: chaos[0].broker: the embedded cluster has brokers 1 to 3, not 7",
            "chaos[1].latency: not used by action exec",
            "c.toml:18: chaos[1].command: exec needs a non-empty command",
        ] {
            assert!(lines.contains(want), "{want:?} not in:\n{lines}");
        }
    }

    #[test]
    fn an_unknown_action_or_key_is_refused() {
        let bad = with("[[chaos]]\nat = \"1s\"\naction = \"broker-explode\"\n");
        let err = parse_str(&bad, "c.toml").unwrap_err().to_string();
        assert!(err.contains("broker-explode"), "{err}");
        let typo = with("[[chaos]]\nat = \"1s\"\naction = \"exec\"\ncomand = \"x\"\n");
        let err = parse_str(&typo, "c.toml").unwrap_err().to_string();
        assert!(err.contains("comand"), "{err}");
    }

    #[test]
    fn kafka_and_recovery_problems_name_their_keys() {
        let text = with("[kafka]\npartitions = 0\n\n[recovery]\noutput_rate = 2.0\n");
        let lines = parse_str(&text, "k.toml").unwrap_err().lines().join("\n");
        assert!(lines.contains("kafka.partitions"), "{lines}");
        assert!(lines.contains("recovery.output_rate"), "{lines}");
    }
}
