//! A Markdown summary for places that render it: a GitHub Actions job
//! summary (`$GITHUB_STEP_SUMMARY`), a pull-request comment. A heading with
//! the count, a table of findings, a line of statistics.
//!
//! These pages are read by everyone who can see the repository's CI, so the
//! writer always redacts, whatever `--show-secrets` says. Paths and secrets
//! come from scanned files and are attacker-controlled: they only appear
//! inside code spans (where Markdown and HTML are not interpreted), with
//! table pipes escaped and control characters made visible.

use std::io::{self, Write};

use super::ReportContext;
use crate::finding::Finding;
use crate::rules::Severity;
use crate::text::sanitize;

/// GitHub caps a job summary at 1 MiB; a row is well under 500 bytes, so
/// a thousand rows fit and list every finding of all but the largest scans.
const MAX_ROWS: usize = 1000;

pub fn write(out: &mut dyn Write, findings: &[Finding], ctx: &ReportContext) -> io::Result<()> {
    let stats = ctx.stats;
    if findings.is_empty() {
        writeln!(out, "## leakhound: no secrets found")?;
    } else {
        writeln!(
            out,
            "## leakhound: {} finding{}{}",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            breakdown(findings)
        )?;
        writeln!(out)?;
        write_table(out, findings)?;
        super::exposure::write_markdown(out, &stats.secrets, findings, code)?;
    }
    writeln!(out)?;
    let scanned = match (stats.commits, stats.blobs) {
        (Some(c), Some(b)) => format!("{c} commits, {b} blobs"),
        _ => format!(
            "{} file{}",
            stats.files,
            if stats.files == 1 { "" } else { "s" }
        ),
    };
    writeln!(
        out,
        "Scanned {scanned} ({} bytes) in {:.2} s; {} suppressed, {} skipped, {} unreadable.",
        stats.bytes,
        stats.elapsed_ms as f64 / 1000.0,
        stats.suppressed,
        stats.skipped.len(),
        stats.errors.len()
    )?;
    if !stats.held_back.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Held back below the minimum confidence: {} medium, {} low (`--min-confidence low` reports them).",
            stats.held_back.medium, stats.held_back.low
        )?;
    }
    if !findings.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Rotate each key at its provider first: removing it from the code does not \
             remove it from the history. A false positive is accepted with a \
             `leakhound:allow` comment on its line or a baseline \
             (`leakhound baseline create`)."
        )?;
    }
    if let Some(stale) = &stats.stale_baseline {
        if !stale.is_empty() {
            writeln!(out)?;
            writeln!(
                out,
                "<details><summary>{} baseline entr{} no longer found</summary>\n",
                stale.len(),
                if stale.len() == 1 { "y" } else { "ies" }
            )?;
            for s in stale {
                writeln!(
                    out,
                    "- {} {} {}",
                    code(&s.rule_id),
                    code(&s.path),
                    code(&s.fingerprint)
                )?;
            }
            writeln!(out, "\n</details>")?;
        }
    }
    if !stats.errors.is_empty() {
        writeln!(out)?;
        writeln!(out, "Files that could not be read:\n")?;
        for e in stats.errors.iter().take(MAX_ROWS) {
            writeln!(out, "- {}: {}", code(&e.path), code(&e.reason))?;
        }
    }
    Ok(())
}

fn write_table(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    let has_commit = findings.iter().any(|f| f.commit.is_some());
    let has_verification = findings.iter().any(|f| f.verification.is_some());
    let mut header = vec![
        "Severity",
        "Confidence",
        "File",
        "Line",
        "Rule",
        "Provider",
        "Secret",
    ];
    if has_commit {
        header.push("Commit");
    }
    if has_verification {
        header.push("Verified");
    }
    writeln!(out, "| {} |", header.join(" | "))?;
    writeln!(out, "|{}", "---|".repeat(header.len()))?;
    for f in findings.iter().take(MAX_ROWS) {
        let mut row = vec![
            f.severity.as_str().to_string(),
            f.confidence.as_str().to_string(),
            code(&f.path),
            f.line.to_string(),
            code(&f.rule_id),
            code(&f.provider),
            // Always redacted: this page is not the place for a key.
            code(&f.redacted),
        ];
        if has_commit {
            row.push(f.short_commit().map(code).unwrap_or_default());
        }
        if has_verification {
            row.push(
                f.verification
                    .as_ref()
                    .map(|v| v.verdict.to_string())
                    .unwrap_or_default(),
            );
        }
        writeln!(out, "| {} |", row.join(" | "))?;
    }
    if findings.len() > MAX_ROWS {
        writeln!(out)?;
        writeln!(
            out,
            "… and {} more; the SARIF or JSON report has them all.",
            findings.len() - MAX_ROWS
        )?;
    }
    Ok(())
}

fn breakdown(findings: &[Finding]) -> String {
    let parts: Vec<String> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ]
    .into_iter()
    .filter_map(|sev| {
        let n = findings.iter().filter(|f| f.severity == sev).count();
        (n > 0).then(|| format!("{n} {}", sev.as_str()))
    })
    .collect();
    format!(" ({})", parts.join(", "))
}

/// `s` as an inline code span that is safe in a table cell: control
/// characters escaped, pipes escaped (GitHub's tables split on them even
/// inside code), and a backtick fence longer than any backtick run inside.
fn code(s: &str) -> String {
    let s = sanitize(s).replace('|', "\\|");
    let longest_run = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    if longest_run > 0 || s.starts_with(' ') || s.ends_with(' ') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_survive_pipes_backticks_and_control_characters() {
        assert_eq!(code("src/a.py"), "`src/a.py`");
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("``x"), "``` ``x ```");
        assert_eq!(code("a\nb"), "`a\\nb`");
    }
}
