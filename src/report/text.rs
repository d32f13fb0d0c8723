//! The human report: one block per finding, then a summary. Color only when
//! the config says so (a terminal, NO_COLOR unset); file contents are
//! sanitized before they get here.

use std::io::{self, Write};

use indicatif::DecimalBytes;

use super::ReportContext;
use crate::finding::{Finding, Verdict};
use crate::rules::Severity;
use crate::text::sanitize;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const LIVE: &str = "\x1b[1;31m";

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
            Some(c) => format!("{} {location}", sanitize(c)),
            None => location,
        };
        writeln!(
            out,
            "{}  {}  {}  {}",
            paint(BOLD, &location),
            sanitize(&f.rule_id),
            sanitize(&f.provider),
            paint(severity_color(f.severity), f.severity.as_str())
        )?;
        writeln!(
            out,
            "  {}  {}",
            paint(DIM, "secret "),
            sanitize(f.shown_secret(ctx.options.show_secrets))
        )?;
        writeln!(out, "  {}  {}", paint(DIM, "line   "), sanitize(&f.snippet))?;
        if f.generic {
            writeln!(
                out,
                "  {}  generic rule: a random value under a secret-like name",
                paint(DIM, "note   ")
            )?;
        }
        for p in &f.parts {
            writeln!(
                out,
                "  {}  {} {} at line {}",
                paint(DIM, "part   "),
                sanitize(&p.rule_id),
                sanitize(p.shown_secret(ctx.options.show_secrets)),
                p.line
            )?;
        }
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
                sanitize(&f.alternatives.join(", "))
            )?;
        }
        if let Some(c) = &f.commit {
            writeln!(
                out,
                "  {}  {} {} <{}> {} {}{}",
                paint(DIM, "commit "),
                sanitize(&c.id),
                sanitize(&c.author_name),
                sanitize(&c.author_email),
                sanitize(&c.date),
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
                    sanitize(crate::report::short_id(&loc.commit))
                )?;
            }
        }
        if let Some(v) = &f.verification {
            let mut line = v.summary();
            if let Some(p) = v.provider.as_deref().filter(|p| *p != f.provider) {
                line.push_str(&format!(" [asked {p}]"));
            }
            let line = match v.verdict {
                Verdict::Live => paint(LIVE, &line),
                _ => line,
            };
            writeln!(out, "  {}  {}", paint(DIM, "verify "), sanitize(&line))?;
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
        "{} finding{}{breakdown} in {scanned}, {}, {:.2} s; {} suppressed, {} known example{}, {} skipped, {} error{}",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        DecimalBytes(s.bytes),
        s.elapsed_ms as f64 / 1000.0,
        s.suppressed,
        s.known_examples,
        if s.known_examples == 1 { "" } else { "s" },
        s.skipped.len(),
        s.errors.len(),
        if s.errors.len() == 1 { "" } else { "s" },
    )?;
    if let Some(v) = &s.verification {
        writeln!(
            out,
            "verification: {} live, {} dead, {} unknown; {} key{} checked, {} request{}, {} from cache{}",
            v.live,
            v.dead,
            v.unknown,
            v.keys,
            if v.keys == 1 { "" } else { "s" },
            v.requests,
            if v.requests == 1 { "" } else { "s" },
            v.cached,
            if v.interrupted {
                "; interrupted, unfinished checks are unknown"
            } else {
                ""
            }
        )?;
    }
    for note in &s.notes {
        writeln!(out, "note: {}", sanitize(note))?;
    }
    if let Some(stale) = s.stale_baseline.as_ref().filter(|v| !v.is_empty()) {
        writeln!(
            out,
            "{} stale baseline entr{} (no longer found; `leakhound baseline create` refreshes the baseline):",
            stale.len(),
            if stale.len() == 1 { "y" } else { "ies" }
        )?;
        for e in stale {
            writeln!(
                out,
                "stale: {}  {}  {}",
                sanitize(&e.path),
                sanitize(&e.rule_id),
                sanitize(&e.fingerprint)
            )?;
        }
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
