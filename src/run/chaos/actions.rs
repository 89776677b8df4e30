//! Carrying out each fault action and its undo.

use super::exec::{self, CommandRun, ExecEnv};
use super::{wall, ChaosTargets, PipelineSpec};
use crate::run::pipeline::{self, Pipeline, PipelineChoice, PipelineTarget};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Arc;
use watchload_generator::scenario::{ChaosAction, ChaosEntry};
use watchload_kafka::Cluster;
use watchload_pipeline::kafka::Progress;

/// Refuses a plan these targets cannot carry out, before anything starts.
pub fn check_targets(plan: &[ChaosEntry], targets: &ChaosTargets) -> anyhow::Result<()> {
    for (i, e) in plan.iter().enumerate() {
        let action = e.action.as_str();
        if e.action.needs_embedded() {
            let Some(embedded) = targets.cluster.embedded() else {
                anyhow::bail!(
                    "chaos[{i}]: {action} needs the embedded cluster, but the run targets {}; \
                     use an exec action for a real cluster",
                    targets.cluster.bootstrap()
                );
            };
            let broker = e.broker.unwrap_or(0);
            anyhow::ensure!(
                (1..=embedded.brokers()).contains(&broker),
                "chaos[{i}]: the embedded cluster has brokers 1 to {}, not {broker}",
                embedded.brokers()
            );
            ensure_loopback(embedded.bootstrap())?;
        }
        if e.action.targets_pipeline() {
            anyhow::ensure!(
                targets.pipeline.is_some()
                    && !matches!(targets.spec.choice, PipelineChoice::External),
                "chaos[{i}]: {action} needs a pipeline started by watchload \
                 (the reference pipeline or --pipeline-cmd), not --no-pipeline"
            );
        }
    }
    Ok(())
}

/// Every `host:port` of `bootstrap` resolves to 127.0.0.0/8 only.
fn ensure_loopback(bootstrap: &str) -> anyhow::Result<()> {
    for server in bootstrap.split(',').map(str::trim) {
        let addrs: Vec<IpAddr> = server
            .to_socket_addrs()
            .map_err(|e| anyhow::anyhow!("resolving embedded broker {server}: {e}"))?
            .map(|a| a.ip())
            .collect();
        let loopback = |ip: &IpAddr| matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 127);
        anyhow::ensure!(
            !addrs.is_empty() && addrs.iter().all(loopback),
            "refusing broker faults: embedded broker {server} is not on 127.0.0.0/8"
        );
    }
    Ok(())
}

/// The targets while the plan runs.
#[derive(Debug)]
pub struct Targets {
    cluster: Arc<Cluster>,
    pipeline: Option<Pipeline>,
    spec: PipelineSpec,
    /// The crashed reference pipeline's progress, until it is restarted.
    crashed: Option<Option<Arc<Progress>>>,
    env: ExecEnv,
}

/// Commands run by a step and its problem, if any.
pub type StepOutcome = (Vec<CommandRun>, Option<String>);

impl Targets {
    /// Takes over the targets.
    pub fn new(t: ChaosTargets) -> Targets {
        let env = ExecEnv {
            bootstrap: t.cluster.bootstrap().to_string(),
            report_dir: t.spec.dir.clone(),
        };
        Targets {
            cluster: t.cluster,
            pipeline: t.pipeline,
            spec: t.spec,
            crashed: None,
            env,
        }
    }

    /// Hands the pipeline back (started again if a restart was pending).
    pub fn into_pipeline(self) -> Option<Pipeline> {
        self.pipeline
    }

    /// Starts fault `index`.
    pub async fn inject(&mut self, index: usize, e: &ChaosEntry) -> StepOutcome {
        let broker = e.broker.unwrap_or(0);
        let result = match e.action {
            ChaosAction::BrokerDown => self.embedded(move |c| c.broker_down(broker)).await,
            ChaosAction::BrokerLatency => {
                let delay = wall(e.latency.map_or(0, |l| l.ms()));
                self.embedded(move |c| c.broker_latency(broker, delay))
                    .await
            }
            ChaosAction::PipelineRestart => self.crash().await,
            ChaosAction::PipelinePause => self.pause(true).await,
            ChaosAction::Exec => {
                let command = e.command.clone().unwrap_or_default();
                return self.exec(index, "inject", &command, e).await;
            }
        };
        (Vec::new(), result.err().map(|e| format!("{e:#}")))
    }

    /// Ends fault `index`.
    pub async fn undo(&mut self, index: usize, e: &ChaosEntry) -> StepOutcome {
        let broker = e.broker.unwrap_or(0);
        let result = match e.action {
            ChaosAction::BrokerDown => self.embedded(move |c| c.broker_up(broker)).await,
            ChaosAction::BrokerLatency => {
                self.embedded(move |c| c.broker_latency(broker, std::time::Duration::ZERO))
                    .await
            }
            ChaosAction::PipelineRestart => self.restart(),
            ChaosAction::PipelinePause => self.pause(false).await,
            ChaosAction::Exec => match e.undo.clone() {
                Some(undo) => return self.exec(index, "undo", &undo, e).await,
                None => Ok(()),
            },
        };
        (Vec::new(), result.err().map(|e| format!("{e:#}")))
    }

    /// Runs a mock-cluster operation on a blocking thread.
    async fn embedded<F>(&self, op: F) -> anyhow::Result<()>
    where
        F: FnOnce(&watchload_kafka::EmbeddedCluster) -> Result<(), watchload_kafka::ClusterError>
            + Send
            + 'static,
    {
        let cluster = Arc::clone(&self.cluster);
        tokio::task::spawn_blocking(move || {
            let embedded = cluster
                .embedded()
                .ok_or_else(|| anyhow::anyhow!("the run has no embedded cluster"))?;
            op(embedded).map_err(anyhow::Error::from)
        })
        .await
        .map_err(|e| anyhow::anyhow!("the mock-cluster call panicked: {e}"))?
    }

    async fn crash(&mut self) -> anyhow::Result<()> {
        let pipeline = self
            .pipeline
            .take()
            .ok_or_else(|| anyhow::anyhow!("the pipeline is not running"))?;
        self.crashed = Some(pipeline.crash().await);
        Ok(())
    }

    fn restart(&mut self) -> anyhow::Result<()> {
        let progress = self
            .crashed
            .take()
            .ok_or_else(|| anyhow::anyhow!("the pipeline was not crashed, so not restarted"))?;
        let s = &self.spec;
        let target = PipelineTarget {
            settings: &s.settings,
            bootstrap: &s.bootstrap,
            group: &s.group,
            rules: s.rules,
            dir: &s.dir,
            defects: s.defects.clone(),
            flush_on_shutdown: s.flush_on_shutdown,
            restarts: s.restarts.clone(),
            embedded: s.embedded,
        };
        self.pipeline = Some(pipeline::restart(&s.choice, &target, progress)?);
        Ok(())
    }

    async fn pause(&self, paused: bool) -> anyhow::Result<()> {
        let pipeline = self
            .pipeline
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the pipeline is not running"))?;
        pipeline.set_paused(paused).await
    }

    async fn exec(&self, index: usize, step: &str, command: &str, e: &ChaosEntry) -> StepOutcome {
        let log = format!("chaos-{index}-{step}.log");
        match exec::run(command, wall(e.exec_timeout().ms()), &self.env, &log).await {
            Ok(run) => {
                let problem = (!run.succeeded()).then(|| match run.exit_code {
                    Some(code) => format!("`{command}` exited with {code} (see {})", run.log),
                    None if run.timed_out => format!("`{command}` timed out (see {})", run.log),
                    None => format!("`{command}` was killed by a signal (see {})", run.log),
                });
                (vec![run], problem)
            }
            Err(error) => (Vec::new(), Some(format!("{error:#}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_brokers_may_be_faulted() {
        assert!(ensure_loopback("127.0.0.1:9092,127.0.0.2:9093").is_ok());
        assert!(ensure_loopback("10.1.2.3:9092").is_err());
        assert!(ensure_loopback("127.0.0.1:9092,192.168.1.1:9092").is_err());
    }
}
