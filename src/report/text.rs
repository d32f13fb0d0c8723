//! The human report: one block per finding, then a summary. Color only when
//! the config says so (a terminal, NO_COLOR unset); file contents are
//! sanitized before they get here.

use std::io::{self, Write};

use super::ReportContext;
use crate::finding::{sanitize, Finding};
use crate::rules::Severity;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "\x1b[1;31m",
        Severity::High => "\x1b[31m",
        Severity::Medium => "\x1b[33m",
        Severity::Low => "\x1b[36m",
    }
}

pub fn write(out: &mut dyn Write, findings: &[Finding], ctx: &ReportContext) -> io::Result<()> {
    let color = ctx.options.color;
    let paint = |code: &'static str, text: &str| {
        if color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    };
    for f in findings {
        let location = format!("{}:{}:{}", sanitize(&f.path), f.line, f.column);
        let location = match f.short_commit() {
            Some(c) => format!("{c} {location}"),
            None => location,
        };
        writeln!(
            out,
            "{}  {}  {}  {}",
            paint(BOLD, &location),
            f.rule_id,
            f.provider,
            paint(severity_color(f.severity), f.severity.as_str())
        )?;
        writeln!(
            out,
            "  {}  {}",
            paint(DIM, "secret "),
            sanitize(f.shown_secret(ctx.options.show_secrets))
        )?;
        writeln!(out, "  {}  {}", paint(DIM, "line   "), f.snippet)?;
        if let Some(enc) = f.encoding {
            writeln!(
                out,
                "  {}  {enc}-encoded in the file",
                paint(DIM, "found  ")
            )?;
        }
        if !f.alternatives.is_empty() {
            let note = if f.ambiguous {
                "ambiguous: could also be"
            } else {
                "also matches"
            };
            writeln!(
                out,
                "  {}  {note} {}",
                paint(DIM, "note   "),
                f.alternatives.join(", ")
            )?;
        }
        if let Some(c) = &f.commit {
            writeln!(
                out,
                "  {}  {} {} <{}> {} {}{}",
                paint(DIM, "commit "),
                &c.id,
                sanitize(&c.author_name),
                sanitize(&c.author_email),
                c.date,
                sanitize(&c.summary),
                if c.unreachable {
                    " (unreachable: no ref reaches this commit)"
                } else {
                    ""
                }
            )?;
            for loc in &c.other_locations {
                writeln!(
                    out,
                    "  {}  {} in {}",
                    paint(DIM, "also at"),
                    sanitize(&loc.path),
                    &loc.commit[..loc.commit.len().min(7)]
                )?;
            }
        }
        if let Some(v) = &f.verification {
            let status = v.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
            writeln!(
                out,
                "  {}  {}{status}: {}",
                paint(DIM, "verify "),
                v.verdict,
                v.detail
            )?;
        }
        writeln!(out)?;
    }
    if !ctx.options.quiet {
        write_summary(out, findings, ctx)?;
    }
    Ok(())
}

fn write_summary(out: &mut dyn Write, findings: &[Finding], ctx: &ReportContext) -> io::Result<()> {
    let s = ctx.stats;
    let mut by_severity = Vec::new();
    for sev in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ] {
        let n = findings.iter().filter(|f| f.severity == sev).count();
        if n > 0 {
            by_severity.push(format!("{n} {}", sev.as_str()));
        }
    }
    let breakdown = if by_severity.is_empty() {
        String::new()
    } else {
        format!(" ({})", by_severity.join(", "))
    };
    let scanned = match (s.commits, s.blobs) {
        (Some(c), Some(b)) if s.files > 0 => {
            format!("{c} commits, {b} blobs, {} uncommitted files", s.files)
        }
        (Some(c), Some(b)) => format!("{c} commits, {b} blobs"),
        _ => format!("{} files", s.files),
    };
    writeln!(
        out,
        "{} finding{}{breakdown} in {scanned}, {}, {:.2} s; {} suppressed, {} skipped, {} error{}",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        human_bytes(s.bytes),
        s.elapsed_ms as f64 / 1000.0,
        s.suppressed,
        s.skipped.len(),
        s.errors.len(),
        if s.errors.len() == 1 { "" } else { "s" },
    )?;
    for note in &s.notes {
        writeln!(out, "note: {}", sanitize(note))?;
    }
    for e in &s.skipped {
        writeln!(
            out,
            "skipped: {}: {}",
            sanitize(&e.path),
            sanitize(&e.reason)
        )?;
    }
    for e in &s.errors {
        writeln!(out, "error: {}: {}", sanitize(&e.path), sanitize(&e.reason))?;
    }
    Ok(())
}

fn human_bytes(n: u64) -> String {
    const UNITS: &[&str] = &["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < UNITS.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
    }
}
