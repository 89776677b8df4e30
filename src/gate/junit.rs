//! JUnit XML: one `<testsuites>` holding one `<testsuite>` per command,
//! one `<testcase>` per threshold or check, a `<failure>` with the
//! measured value for each that failed. This is the subset of the format
//! that Jenkins, GitLab, GitHub test reporters and Azure all read.

use anyhow::Context;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use std::path::Path;
use watchload_verifier::report::ThresholdResult;

/// One test suite.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    /// Suite name, e.g. `watchload verify quickstart`.
    pub name: String,
    /// Wall seconds the command took.
    pub time_s: f64,
    /// Key figures shown beside the cases (`<properties>`).
    pub properties: Vec<(String, String)>,
    /// The test cases, in order.
    pub cases: Vec<Case>,
}

/// One test case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Group of the case (`threshold`, `check`, `regression`).
    pub classname: String,
    /// What was tested, e.g. `f1 >= 0.999`.
    pub name: String,
    /// `None` when it passed.
    pub failure: Option<Failure>,
}

/// Why a case failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// One line with the measured value.
    pub message: String,
    /// Longer text (may be empty).
    pub detail: String,
}

impl Case {
    /// A case that passed when `failure` is `None`.
    pub fn new(classname: &str, name: impl Into<String>, failure: Option<Failure>) -> Case {
        Case {
            classname: classname.to_string(),
            name: name.into(),
            failure,
        }
    }

    /// A case that fails with `message` unless `ok`.
    pub fn check(classname: &str, name: impl Into<String>, ok: bool, message: String) -> Case {
        let failure = (!ok).then(|| Failure {
            message,
            detail: String::new(),
        });
        Case::new(classname, name, failure)
    }
}

/// One case per threshold, failed with the measured value when it did not
/// hold.
pub fn threshold_cases(thresholds: &[ThresholdResult]) -> Vec<Case> {
    thresholds
        .iter()
        .map(|t| {
            let message = format!("actual value {}", t.actual);
            Case::check("threshold", &t.expr, t.passed, message)
        })
        .collect()
}

impl Suite {
    /// Failed cases.
    pub fn failures(&self) -> usize {
        self.cases.iter().filter(|c| c.failure.is_some()).count()
    }
}

/// The XML of `suites`.
pub fn render(suites: &[Suite]) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail.
    let _ = write_all(&mut w, suites);
    let mut text = String::from_utf8(w.into_inner()).unwrap_or_default();
    text.push('\n');
    text
}

fn write_all(w: &mut Writer<Vec<u8>>, suites: &[Suite]) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(Suite::failures).sum();
    let time: f64 = suites.iter().map(|s| s.time_s).sum();
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "watchload"));
    root.push_attribute(("tests", tests.to_string().as_str()));
    root.push_attribute(("failures", failures.to_string().as_str()));
    root.push_attribute(("errors", "0"));
    root.push_attribute(("time", format!("{time:.3}").as_str()));
    w.write_event(Event::Start(root))?;
    for suite in suites {
        write_suite(w, suite)?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))
}

fn write_suite(w: &mut Writer<Vec<u8>>, suite: &Suite) -> std::io::Result<()> {
    let mut start = BytesStart::new("testsuite");
    start.push_attribute(("name", suite.name.as_str()));
    start.push_attribute(("tests", suite.cases.len().to_string().as_str()));
    start.push_attribute(("failures", suite.failures().to_string().as_str()));
    start.push_attribute(("errors", "0"));
    start.push_attribute(("skipped", "0"));
    start.push_attribute(("time", format!("{:.3}", suite.time_s).as_str()));
    w.write_event(Event::Start(start))?;
    if !suite.properties.is_empty() {
        w.write_event(Event::Start(BytesStart::new("properties")))?;
        for (name, value) in &suite.properties {
            let mut p = BytesStart::new("property");
            p.push_attribute(("name", name.as_str()));
            p.push_attribute(("value", value.as_str()));
            w.write_event(Event::Empty(p))?;
        }
        w.write_event(Event::End(BytesEnd::new("properties")))?;
    }
    for case in &suite.cases {
        let mut start = BytesStart::new("testcase");
        start.push_attribute(("classname", case.classname.as_str()));
        start.push_attribute(("name", case.name.as_str()));
        start.push_attribute(("time", "0"));
        match &case.failure {
            None => w.write_event(Event::Empty(start))?,
            Some(failure) => {
                w.write_event(Event::Start(start))?;
                let mut f = BytesStart::new("failure");
                f.push_attribute(("message", failure.message.as_str()));
                f.push_attribute(("type", case.classname.as_str()));
                if failure.detail.is_empty() {
                    w.write_event(Event::Empty(f))?;
                } else {
                    w.write_event(Event::Start(f))?;
                    w.write_event(Event::Text(BytesText::new(&failure.detail)))?;
                    w.write_event(Event::End(BytesEnd::new("failure")))?;
                }
                w.write_event(Event::End(BytesEnd::new("testcase")))?;
            }
        }
    }
    w.write_event(Event::End(BytesEnd::new("testsuite")))
}

/// Writes [`render`] of `suites` to `path`.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write(path: &Path, suites: &[Suite]) -> anyhow::Result<()> {
    std::fs::write(path, render(suites)).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::Reader;

    fn suite() -> Suite {
        Suite {
            name: "watchload verify <q&a>".into(),
            time_s: 1.5,
            properties: vec![("f1".into(), "0.5".into())],
            cases: vec![
                Case::check("threshold", "f1 >= 0.999", false, "actual 0.5".into()),
                Case::check("check", "output decoded", true, String::new()),
                Case::new(
                    "check",
                    "a \"quoted\" name",
                    Some(Failure {
                        message: "m".into(),
                        detail: "line 1\n<line 2>".into(),
                    }),
                ),
            ],
        }
    }

    /// Element names and attribute `name`s in document order.
    fn outline(xml: &str) -> Vec<(String, Option<String>)> {
        let mut reader = Reader::from_str(xml);
        let mut out = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) | Event::Empty(e) => {
                    let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                    let attr = e
                        .try_get_attribute("name")
                        .unwrap()
                        .map(|a| a.unescape_value().unwrap().into_owned());
                    out.push((name, attr));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    #[test]
    fn escapes_names_and_nests_failures_in_their_case() {
        let xml = render(&[suite()]);
        let o = outline(&xml);
        let names: Vec<&str> = o.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "testsuites",
                "testsuite",
                "properties",
                "property",
                "testcase",
                "failure",
                "testcase",
                "testcase",
                "failure"
            ]
        );
        assert_eq!(o[1].1.as_deref(), Some("watchload verify <q&a>"));
        assert_eq!(o[7].1.as_deref(), Some("a \"quoted\" name"));
        assert!(xml.contains("tests=\"3\" failures=\"2\""), "{xml}");
        assert!(xml.contains("&lt;line 2&gt;"), "{xml}");
    }
}
