//! JUnit XML for CI systems that show test reports (GitLab, Jenkins,
//! Azure Pipelines, CircleCI): one `<testsuite>` per file with findings and
//! one failed `<testcase>` per finding, so each leak shows up as a failing
//! test named after its rule and position. Files that could not be read are
//! test cases with an `<error>`. A clean scan is one passing test case, so
//! the CI shows that the check ran.
//!
//! Everything from a scanned file (paths, snippets) is attacker-controlled:
//! it is sanitized (control characters escaped, which also removes those XML
//! 1.0 forbids) and then XML-escaped.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::ReportContext;
use crate::finding::Finding;
use crate::text::sanitize;

pub fn write(out: &mut dyn Write, findings: &[Finding], ctx: &ReportContext) -> io::Result<()> {
    let stats = ctx.stats;
    let mut by_path: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_path.entry(&f.path).or_default().push(f);
    }
    let errors = stats.errors.len();
    let tests = findings.len().max(1) + errors;
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="leakhound" tests="{tests}" failures="{}" errors="{errors}" time="{:.3}">"#,
        findings.len(),
        stats.elapsed_ms as f64 / 1000.0
    )?;
    if findings.is_empty() {
        writeln!(
            out,
            r#"  <testsuite name="leakhound" tests="1" failures="0" errors="0">"#
        )?;
        writeln!(
            out,
            r#"    <testcase name="no secrets found in {} files" classname="leakhound"/>"#,
            stats.files
        )?;
        writeln!(out, "  </testsuite>")?;
    }
    for (path, group) in &by_path {
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{n}" failures="{n}" errors="0">"#,
            attr(path),
            n = group.len()
        )?;
        for f in group {
            write_case(out, f, ctx)?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    if errors > 0 {
        writeln!(
            out,
            r#"  <testsuite name="leakhound: unreadable files" tests="{errors}" failures="0" errors="{errors}">"#
        )?;
        for e in &stats.errors {
            writeln!(
                out,
                r#"    <testcase name="{}" classname="leakhound.errors">"#,
                attr(&e.path)
            )?;
            writeln!(
                out,
                r#"      <error message="{}"/>"#,
                attr(&format!("cannot read: {}", e.reason))
            )?;
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

fn write_case(out: &mut dyn Write, f: &Finding, ctx: &ReportContext) -> io::Result<()> {
    let mut name = format!("{} at {}:{}", f.rule_id, f.line, f.column);
    if let Some(c) = f.short_commit() {
        name.push_str(&format!(" in commit {c}"));
    }
    writeln!(
        out,
        r#"    <testcase name="{}" classname="{}" file="{}" line="{}">"#,
        attr(&name),
        attr(&f.path),
        attr(&f.path),
        f.line
    )?;
    // Read by CI systems that show a test case's properties (Jenkins,
    // GitLab); `--min-confidence` decides what is listed at all.
    writeln!(out, "      <properties>")?;
    writeln!(
        out,
        r#"        <property name="confidence" value="{}"/>"#,
        f.confidence
    )?;
    writeln!(out, "      </properties>")?;
    let secret = f.shown_secret(ctx.options.show_secrets);
    let message = format!(
        "{} ({}, {}, {} confidence): {}",
        f.description,
        f.provider,
        f.severity.as_str(),
        f.confidence,
        secret
    );
    let mut body = vec![
        format!("rule: {}", f.rule_id),
        format!("confidence: {}", f.confidence),
        format!("location: {}:{}:{}", f.path, f.line, f.column),
        format!("secret: {secret}"),
        format!("line: {}", f.snippet),
        format!("fingerprint: {}", f.fingerprint),
    ];
    if let Some(c) = &f.commit {
        body.push(format!(
            "commit: {} {} <{}> {}",
            c.id, c.author_name, c.author_email, c.summary
        ));
    }
    if let Some(v) = &f.verification {
        body.push(format!("verification: {}: {}", v.verdict, v.detail));
    }
    if f.ambiguous && !f.alternatives.is_empty() {
        body.push(format!("could also be: {}", f.alternatives.join(", ")));
    }
    writeln!(
        out,
        r#"      <failure type="{}" message="{}">"#,
        attr(&f.rule_id),
        attr(&message)
    )?;
    for line in body {
        writeln!(out, "{}", text(&line))?;
    }
    writeln!(out, "      </failure>")?;
    writeln!(out, "    </testcase>")
}

/// Escape for an attribute value (double-quoted).
fn attr(s: &str) -> String {
    text(s).replace('"', "&quot;").replace('\'', "&apos;")
}

/// Escape for character data.
fn text(s: &str) -> String {
    sanitize(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_quotes_and_control_characters() {
        assert_eq!(text("a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(attr(r#"x="1" 'y'"#), "x=&quot;1&quot; &apos;y&apos;");
        // Control characters (forbidden in XML 1.0) become visible escapes.
        assert_eq!(text("a\u{1}b\u{1b}"), "a\\u{1}b\\u{1b}");
        // An escape is not escaped twice.
        assert_eq!(attr("&amp;"), "&amp;amp;");
    }
}
