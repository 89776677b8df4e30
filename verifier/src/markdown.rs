//! The human summary: Markdown, printed on stdout and written as
//! `report.md`.

use crate::attribution::format_ms;
use crate::matching::Class;
use crate::report::Report;
use std::fmt::Write;

/// Renders the report as Markdown; `samples` adds the per-class samples
/// and malformed records (the stdout summary leaves them out).
pub fn render(report: &Report, samples: bool) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_all(&mut out, report, samples);
    out
}

fn write_all(out: &mut String, r: &Report, samples: bool) -> std::fmt::Result {
    writeln!(out, "# watchload verify: {}", r.verdict.to_uppercase())?;
    writeln!(out)?;
    let scenario = r
        .inputs
        .scenario
        .as_deref()
        .map_or(String::new(), |s| format!(", scenario `{s}`"));
    writeln!(
        out,
        "- truth: `{}`{scenario}: {} sessions ({} tolerated) of {} users, {} expired events",
        r.inputs.truth_dir,
        r.truth.sessions,
        r.truth.tolerated,
        r.truth.users,
        r.truth.excluded_events
    )?;
    let o = &r.output;
    writeln!(
        out,
        "- output: {} ({}): {} records, {} sessions, {} intermediate versions, {} malformed",
        r.inputs
            .sessions
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", "),
        r.inputs.output_mode,
        o.records,
        o.sessions,
        o.changelog.intermediate_versions,
        o.malformed
    )?;
    if !o.fields_absent.is_empty() {
        let absent: Vec<String> = o
            .fields_absent
            .iter()
            .map(|(f, n)| format!("{f} {n}"))
            .collect();
        writeln!(
            out,
            "- not compared (absent in output): {}",
            absent.join(", ")
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "precision {:.6}, recall {:.6}, F1 {:.6}",
        r.scores.precision, r.scores.recall, r.scores.f1
    )?;
    writeln!(out)?;
    writeln!(out, "| class | count | rate |")?;
    writeln!(out, "|---|---:|---:|")?;
    for class in Class::ALL {
        if let Some(stat) = r.classes.get(class.as_str()) {
            writeln!(
                out,
                "| {} | {} | {:.6} |",
                class.as_str(),
                stat.count,
                stat.rate
            )?;
        }
    }
    writeln!(out)?;
    let w = &r.watch_ms_error;
    writeln!(
        out,
        "watch-time error over {} pairs: p50 {}, p90 {}, p99 {}, max {}",
        w.pairs,
        format_ms(w.p50 as i64),
        format_ms(w.p90 as i64),
        format_ms(w.p99 as i64),
        format_ms(w.max as i64)
    )?;
    write_thresholds(out, r)?;
    write_attribution(out, r)?;
    if samples {
        write_samples(out, r)?;
        write_malformed(out, r)?;
    }
    Ok(())
}

fn write_thresholds(out: &mut String, r: &Report) -> std::fmt::Result {
    if r.thresholds.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "## Thresholds")?;
    writeln!(out)?;
    for t in &r.thresholds {
        let mark = if t.passed { "pass" } else { "FAIL" };
        writeln!(
            out,
            "- {mark}: `{}` (actual {})",
            t.expr,
            trim_float(t.actual)
        )?;
    }
    Ok(())
}

fn write_attribution(out: &mut String, r: &Report) -> std::fmt::Result {
    if r.attribution.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "## Attribution (findings per cause)")?;
    writeln!(out)?;
    for (class, causes) in &r.attribution {
        let list: Vec<String> = causes.iter().map(|(c, n)| format!("{c} {n}")).collect();
        writeln!(out, "- {class}: {}", list.join(", "))?;
    }
    Ok(())
}

fn write_samples(out: &mut String, r: &Report) -> std::fmt::Result {
    if r.samples.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "## Samples")?;
    for class in Class::ALL {
        let Some(samples) = r.samples.get(class.as_str()) else {
            continue;
        };
        writeln!(out)?;
        writeln!(out, "### {}", class.as_str())?;
        writeln!(out)?;
        for s in samples {
            let truths: Vec<&str> = s.truth.iter().map(|t| t.session_id.as_str()).collect();
            let outputs: Vec<&str> = s.output.iter().map(|o| o.origin.as_str()).collect();
            writeln!(
                out,
                "- user `{}`: {} (truth: {}; output: {})",
                s.user_id,
                s.summary,
                list_or_none(&truths),
                list_or_none(&outputs)
            )?;
            for e in &s.explanations {
                writeln!(out, "  - {}: {e}", s.class)?;
            }
        }
    }
    Ok(())
}

fn write_malformed(out: &mut String, r: &Report) -> std::fmt::Result {
    if r.output.malformed_samples.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "## Malformed records ({})", r.output.malformed)?;
    writeln!(out)?;
    for m in &r.output.malformed_samples {
        writeln!(out, "- `{}` line {}: {}", m.source, m.line, m.error)?;
    }
    Ok(())
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// A float without trailing zeros: `1`, `0.999`, `1500`.
fn trim_float(v: f64) -> String {
    let text = format!("{v:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}
