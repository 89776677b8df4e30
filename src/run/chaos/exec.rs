//! `exec` faults: the user's shell commands, each bounded by a timeout, with
//! stdout and stderr captured into a log file of the report directory.
//!
//! The command is the user's own: watchload runs it as written (`sh -c`,
//! in watchload's working directory) and cannot know what it touches.
//! Pointing it at the right cluster is the scenario author's
//! responsibility (see docs/chaos.md).

use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// What one command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRun {
    /// The command as written.
    pub command: String,
    /// Exit code; `None` when killed (timeout) or not started.
    pub exit_code: Option<i32>,
    /// Whether it was killed for running past its timeout.
    pub timed_out: bool,
    /// Wall ms it ran.
    pub elapsed_ms: u64,
    /// Its output, relative to the report directory.
    pub log: String,
}

impl CommandRun {
    /// Whether it ran to completion with exit code 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// Environment every command gets.
#[derive(Debug, Clone)]
pub struct ExecEnv {
    /// The run's brokers (`WATCHLOAD_BOOTSTRAP`).
    pub bootstrap: String,
    /// The report directory (`WATCHLOAD_REPORT_DIR`).
    pub report_dir: std::path::PathBuf,
}

/// Runs `command` with `sh -c` in its own process group, killing the whole
/// group after `timeout`. Output goes to `dir/log_name`.
///
/// # Errors
///
/// When the log cannot be created or the shell cannot be started; a
/// command that fails or times out is not an error (see [`CommandRun`]).
pub async fn run(
    command: &str,
    timeout: Duration,
    env: &ExecEnv,
    log_name: &str,
) -> anyhow::Result<CommandRun> {
    use anyhow::Context;
    let log_path = env.report_dir.join(log_name);
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let err_log = log.try_clone().context("sharing the exec log")?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("WATCHLOAD_BOOTSTRAP", &env.bootstrap)
        .env("WATCHLOAD_REPORT_DIR", &env.report_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err_log))
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting `{command}`"))?;
    let pid = child.id();
    let (exit_code, timed_out) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => (status.code(), false),
        Ok(Err(error)) => {
            tracing::warn!(command, %error, "waiting for a chaos command failed");
            (None, false)
        }
        Err(_) => {
            tracing::warn!(
                command,
                timeout_ms = timeout.as_millis() as u64,
                "chaos command timed out; killing it"
            );
            if let Some(pid) = pid {
                kill_group(pid).await;
            }
            let _ = child.kill().await;
            (None, true)
        }
    };
    Ok(CommandRun {
        command: command.to_string(),
        exit_code,
        timed_out,
        elapsed_ms: started.elapsed().as_millis() as u64,
        log: relative(&log_path, &env.report_dir),
    })
}

/// SIGKILL to every process of the group the shell leads.
async fn kill_group(pid: u32) {
    let _ = tokio::process::Command::new("kill")
        .arg("-KILL")
        .arg("--")
        .arg(format!("-{pid}"))
        .status()
        .await;
}

fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(dir: &Path) -> ExecEnv {
        ExecEnv {
            bootstrap: "127.0.0.1:1".to_string(),
            report_dir: dir.to_path_buf(),
        }
    }

    #[tokio::test]
    async fn output_and_exit_code_are_captured() {
        let dir = tempfile::tempdir().unwrap();
        let run = run(
            "echo hello $WATCHLOAD_BOOTSTRAP; exit 3",
            Duration::from_secs(5),
            &env(dir.path()),
            "x.log",
        )
        .await
        .unwrap();
        assert_eq!(run.exit_code, Some(3));
        assert!(!run.timed_out && !run.succeeded());
        let text = std::fs::read_to_string(dir.path().join("x.log")).unwrap();
        assert_eq!(text, "hello 127.0.0.1:1\n");
    }

    #[tokio::test]
    async fn a_command_past_its_timeout_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let run = run(
            "sleep 30 & sleep 30",
            Duration::from_millis(300),
            &env(dir.path()),
            "slow.log",
        )
        .await
        .unwrap();
        assert!(run.timed_out);
        assert_eq!(run.exit_code, None);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
