//! Reading a scenario file: TOML parse errors and semantic problems, each
//! named by file, line and key.

use super::check::{check, Problem};
use super::Scenario;
use std::fmt;
use std::path::{Path, PathBuf};
use toml_edit::{ImDocument, Item, Table, Value};

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the scenario format.
    #[error("{origin}:{line}:{column}: {key_part}{message}", key_part = key_prefix(key))]
    Parse {
        origin: String,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
    },
    /// The file parsed but some values are out of range or inconsistent.
    #[error("{origin}: {} problem(s):\n{}", problems.len(), ProblemList(problems))]
    Invalid {
        origin: String,
        problems: Vec<Problem>,
    },
}

fn key_prefix(key: &Option<String>) -> String {
    key.as_ref()
        .map(|k| format!("key `{k}`: "))
        .unwrap_or_default()
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {p}")?;
        }
        Ok(())
    }
}

impl ScenarioError {
    /// Every problem as one line each, prefixed with the file (and line).
    pub fn lines(&self) -> Vec<String> {
        match self {
            ScenarioError::Invalid { origin, problems } => problems
                .iter()
                .map(|p| match p.line {
                    Some(line) => format!("{origin}:{line}: {}", p.describe()),
                    None => format!("{origin}: {}", p.describe()),
                })
                .collect(),
            other => vec![other.to_string()],
        }
    }
}

/// Reads, parses and checks a scenario file.
///
/// # Errors
/// [`ScenarioError`] naming the file, and the line and key where known; all
/// semantic problems are reported at once.
pub fn load_file(path: &Path) -> Result<(Scenario, String), ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let scenario = parse_str(&text, &path.display().to_string())?;
    Ok((scenario, text))
}

/// Parses and checks scenario text; `origin` names it in errors.
///
/// # Errors
/// [`ScenarioError::Parse`] for the first syntax or type error,
/// [`ScenarioError::Invalid`] with every semantic problem.
pub fn parse_str(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    let scenario: Scenario = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        let key = e.span().and_then(|s| key_at(text, s.start));
        ScenarioError::Parse {
            origin: origin.to_string(),
            line,
            column,
            key,
            message: e.message().trim().to_string(),
        }
    })?;
    let mut problems = check(&scenario);
    if problems.is_empty() {
        return Ok(scenario);
    }
    for p in &mut problems {
        p.line = locate(text, &p.key);
    }
    Err(ScenarioError::Invalid {
        origin: origin.to_string(),
        problems,
    })
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, column)
}

/// The line of a dotted key (`load.peak_rate`), or of its nearest parent
/// present in the file.
pub fn locate(text: &str, key: &str) -> Option<usize> {
    let doc = ImDocument::parse(text).ok()?;
    let mut table = doc.as_table();
    let mut found = None;
    for part in key.split('.') {
        // `chaos[2]`: entry 2 of an array of tables.
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let Some((k, item)) = table.get_key_value(name) else {
            break;
        };
        found = k.span().or_else(|| item.span()).or(found);
        match (item, index) {
            (Item::Table(t), None) => table = t,
            (Item::ArrayOfTables(array), Some(i)) => {
                let Some(entry) = array.get(i) else { break };
                let first_key = entry.iter().next().and_then(|(k, _)| entry.key(k)?.span());
                found = entry.span().or(first_key).or(found);
                table = entry;
            }
            _ => break,
        }
    }
    found.map(|s| line_col(text, s.start).0)
}

/// The dotted key whose span contains `offset`, for parse errors.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let doc = ImDocument::parse(text).ok()?;
    let mut path = Vec::new();
    walk_table(doc.as_table(), offset, &mut path).then(|| path.join("."))
}

fn walk_table(table: &Table, offset: usize, path: &mut Vec<String>) -> bool {
    for (name, item) in table.iter() {
        let key_hit = table
            .key(name)
            .and_then(|k| k.span())
            .is_some_and(|s| s.contains(&offset));
        path.push(name.to_string());
        if key_hit {
            return true;
        }
        let hit = match item {
            Item::Table(t) => walk_table(t, offset, path),
            Item::Value(v) => walk_value(v, offset, path),
            _ => false,
        };
        if hit {
            return true;
        }
        path.pop();
    }
    false
}

fn walk_value(value: &Value, offset: usize, path: &mut Vec<String>) -> bool {
    if let Value::InlineTable(t) = value {
        for (name, v) in t.iter() {
            path.push(name.to_string());
            if walk_value(v, offset, path) {
                return true;
            }
            path.pop();
        }
    }
    value.span().is_some_and(|s| s.contains(&offset))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The smallest valid scenario, for tests to extend.
    pub(crate) const MINIMAL: &str = r#"
name = "t"
seed = 1
duration = "10m"

[population]
users = 10

[load]
peak_rate = "10/s"
"#;

    #[test]
    fn minimal_scenario_loads_with_defaults() {
        let s = parse_str(MINIMAL, "t.toml").unwrap();
        assert_eq!(s.behaviour.heartbeat.ms(), 10_000);
        assert_eq!(s.rules.session_gap.ms(), 30 * 60_000);
    }

    #[test]
    fn unknown_key_is_named_with_file_and_line() {
        let text = MINIMAL.replace("users = 10", "users = 10\nusres = 3");
        let err = parse_str(&text, "bad.toml").unwrap_err().to_string();
        assert!(err.starts_with("bad.toml:8:"), "{err}");
        assert!(err.contains("usres"), "{err}");
    }

    #[test]
    fn bad_duration_names_key_and_expectation() {
        let text = MINIMAL.replace("\"10m\"", "\"ten minutes\"");
        let err = parse_str(&text, "bad.toml").unwrap_err().to_string();
        assert!(err.starts_with("bad.toml:4:"), "{err}");
        assert!(err.contains("key `duration`"), "{err}");
        assert!(err.contains("expected a duration"), "{err}");
    }

    #[test]
    fn all_semantic_problems_reported_at_once_with_lines() {
        let text = MINIMAL
            .replace("users = 10", "users = 0")
            .replace("\"10/s\"", "\"0/s\"");
        let err = parse_str(&text, "bad.toml").unwrap_err();
        let lines = err.lines();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("bad.toml:7: population.users")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("bad.toml:10: load.peak_rate")),
            "{lines:?}"
        );
    }
}
