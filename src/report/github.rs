//! GitHub Actions workflow commands: one `::error` (or `::warning` for low
//! and medium severity) per finding, which the runner turns into an
//! annotation on the file and line. With verification, a live key is always
//! an `::error` and a dead one a `::notice`.
//!
//! GitHub shows at most 10 annotations of each kind per step and drops the
//! rest, so the most urgent go first (live keys, then by severity) and at
//! most 10 of each kind are written; a closing line says how many were
//! left out (the Action's job summary lists every finding).

use std::io::{self, Write};

use super::ReportContext;
use crate::finding::{Finding, Verdict};
use crate::rules::Severity;

/// Annotations of one kind GitHub shows per step.
pub const ANNOTATION_LIMIT: usize = 10;

/// A verdict says more than the rule's severity: a live key is an error
/// whatever the rule, a dead one only a notice.
fn level(f: &Finding) -> &'static str {
    match (f.verification.as_ref().map(|v| v.verdict), f.severity) {
        (Some(Verdict::Live), _) => "error",
        (Some(Verdict::Dead), _) => "notice",
        (_, Severity::Critical | Severity::High) => "error",
        (_, Severity::Medium | Severity::Low) => "warning",
    }
}

/// Most urgent first: live keys, then unverified or unknown, then dead;
/// within each, by severity; otherwise the report's order.
fn urgency(f: &Finding) -> (u8, u8, std::cmp::Reverse<crate::finding::Confidence>) {
    let verdict = match f.verification.as_ref().map(|v| v.verdict) {
        Some(Verdict::Live) => 0,
        None | Some(Verdict::Unknown) => 1,
        Some(Verdict::Dead) => 2,
    };
    let severity = match f.severity {
        Severity::Critical => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
    };
    (verdict, severity, std::cmp::Reverse(f.confidence))
}

pub fn write(out: &mut dyn Write, findings: &[Finding], ctx: &ReportContext) -> io::Result<()> {
    let mut ranked: Vec<&Finding> = findings.iter().collect();
    ranked.sort_by_key(|f| urgency(f)); // stable: the report's order breaks ties
    let mut written = std::collections::HashMap::new();
    let mut left_out = 0;
    for f in ranked {
        let level = level(f);
        let n = written.entry(level).or_insert(0usize);
        if *n == ANNOTATION_LIMIT {
            left_out += 1;
            continue;
        }
        *n += 1;
        let mut message = format!(
            "{} ({}, {}, {} confidence): {}",
            f.description,
            f.provider,
            f.severity.as_str(),
            f.confidence,
            f.shown_secret(ctx.options.show_secrets)
        );
        if let Some(commit) = f.short_commit() {
            message.push_str(&format!(" in commit {commit}"));
        }
        if let Some(v) = &f.verification {
            message.push_str(&format!(" [verified {}]", v.summary()));
        }
        message.push_str(
            ". Rotate the key; to accept a false positive add `leakhound:allow` on the line.",
        );
        writeln!(
            out,
            "::{level} file={},line={},endLine={},col={},endColumn={},title={}::{}",
            escape_property(&f.path),
            f.line,
            f.end_line,
            f.column,
            f.end_column,
            escape_property(&format!(
                "leakhound: {} ({} confidence)",
                f.rule_id, f.confidence
            )),
            escape_data(&message),
        )?;
    }
    if left_out > 0 {
        writeln!(
            out,
            "leakhound: {left_out} of {} findings not annotated: GitHub shows at most {ANNOTATION_LIMIT} \
             annotations of each kind per step (live keys and the most severe come first); \
             the job summary and the SARIF report list them all",
            findings.len()
        )?;
    }
    // What the log would otherwise never show: why files were left out, and
    // the notes (a shallow clone, submodules not followed). A config that
    // skips or suppresses everything is visible here.
    let stats = ctx.stats;
    for note in &stats.notes {
        writeln!(out, "::notice title=leakhound::{}", escape_data(note))?;
    }
    if !stats.skipped.is_empty() || stats.suppressed > 0 || !stats.errors.is_empty() {
        writeln!(
            out,
            "::notice title=leakhound::{}",
            escape_data(&format!(
                "{} files scanned; {} skipped (too large, allowlisted or links out of the tree), \
                 {} findings suppressed (allow comments, allowlist, baseline), {} unreadable",
                stats.files,
                stats.skipped.len(),
                stats.suppressed,
                stats.errors.len()
            ))
        )?;
    }
    Ok(())
}

/// Escaping for a workflow command's message: made safe to print first
/// (`text::sanitize`: control characters, `##[`), then escaped as the
/// runner reads it.
fn escape_data(s: &str) -> String {
    crate::text::sanitize(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping for a workflow command's properties (`file=`, `title=`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        // A newline never reaches the runner: it is shown as `\n`.
        assert_eq!(escape_data("a%b\nc"), "a%25b\\nc");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(escape_data("b\u{1b}]0;T\u{7}x"), "b\\u{1b}]0;T\\u{7}x");
        assert_eq!(escape_data("x ##[error]y"), "x ##\\[error]y");
    }
}
