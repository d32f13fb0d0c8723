//! The human report: one block per finding, then a summary. Color only when
//! the config says so (`--color`, and for `auto` a terminal with NO_COLOR
//! unset or CLICOLOR_FORCE set, as anstream decides); styles are anstyle's.
//!
//! Text from scanned files is sanitized first and painted after, never the
//! other way round: sanitizing painted text would turn the colour codes into
//! visible `\u{1b}[…m` escapes.

use std::collections::BTreeMap;
use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use indicatif::DecimalBytes;

use super::ReportContext;
use crate::finding::{Finding, Verdict};
use crate::rules::Severity;
use crate::text::sanitize;

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const LIVE: Style = AnsiColor::Red.on_default().bold();

/// More findings than fit on a screen: the report ends with a count per rule.
const SCREENFUL: usize = 20;

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Critical => AnsiColor::Red.on_default().bold(),
        Severity::High => AnsiColor::Red.on_default(),
        Severity::Medium => AnsiColor::Yellow.on_default(),
        Severity::Low => AnsiColor::Cyan.on_default(),
    }
}

pub fn write(out: &mut dyn Write, findings: &[Finding], ctx: &ReportContext) -> io::Result<()> {
    let color = ctx.options.color;
    let paint = |style: Style, text: &str| {
        if color {
            format!("{style}{text}{style:#}")
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
            "{}  {}  {}  {}  {} confidence",
            paint(BOLD, &location),
            sanitize(&f.rule_id),
            sanitize(&f.provider),
            paint(severity_style(f.severity), f.severity.as_str()),
            f.confidence
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
                "  {}  generic rule: a value under a secret's name",
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
        if let Some(e) = &f.evidence {
            writeln!(out, "  {}  {}", paint(DIM, "by     "), sanitize(e))?;
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
            if let Some(repo) = &c.repository {
                writeln!(out, "  {}  {}", paint(DIM, "repo   "), sanitize(repo))?;
            }
            if let Some(url) = &c.url {
                writeln!(out, "  {}  {}", paint(DIM, "link   "), sanitize(url))?;
            }
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
            let line = sanitize(&line);
            let line = match v.verdict {
                Verdict::Live => paint(LIVE, &line),
                _ => line,
            };
            writeln!(out, "  {}  {line}", paint(DIM, "verify "))?;
            if let Some(identity) = &v.identity {
                writeln!(out, "  {}  {}", paint(DIM, "owner  "), sanitize(identity))?;
            }
            if !v.scopes.is_empty() {
                writeln!(
                    out,
                    "  {}  {}",
                    paint(DIM, "scopes "),
                    sanitize(&v.scopes.join(", "))
                )?;
            }
        }
        writeln!(out)?;
    }
    super::exposure::write_text(out, &ctx.stats.secrets, findings)?;
    if !ctx.options.quiet {
        if findings.len() > SCREENFUL {
            write_rule_counts(out, findings)?;
        }
        write_summary(out, findings, ctx)?;
    }
    Ok(())
}

/// After more than a screenful of findings: how many each rule found, most
/// first, so the shape of the result is visible without scrolling back.
fn write_rule_counts(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in findings {
        *counts.entry(f.rule_id.as_str()).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let width = counts
        .iter()
        .map(|(_, n)| n.to_string().len())
        .max()
        .unwrap_or(1);
    writeln!(out, "findings by rule:")?;
    for (rule, n) in counts {
        writeln!(out, "  {n:>width$}  {}", sanitize(rule))?;
    }
    writeln!(out)
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
            format!(
                "{}, {}, {}",
                crate::text::plural(c, "commit"),
                crate::text::plural(b, "blob"),
                crate::text::plural(s.files, "uncommitted file")
            )
        }
        (Some(c), Some(b)) => {
            let mut text = format!(
                "{}, {}",
                crate::text::plural(c, "commit"),
                crate::text::plural(b, "blob")
            );
            if let Some(r) = s.repositories {
                text = format!("{r} repositor{}, {text}", if r == 1 { "y" } else { "ies" });
            }
            if let Some(k) = s.blobs_skipped {
                text.push_str(&format!(" ({k} skipped: scanned before)"));
            }
            text
        }
        _ => format!(
            "{} file{} scanned",
            s.files,
            if s.files == 1 { "" } else { "s" }
        ),
    };
    // The time is the whole run's; verification's share is named.
    let verifying = match s.verification.as_ref().map(|v| v.elapsed_ms) {
        Some(ms) => format!(" ({:.2} s verifying)", ms as f64 / 1000.0),
        None => String::new(),
    };
    // Only when ignore rules kept something out: most trees have nothing
    // to say here.
    let ignored = if s.ignored > 0 {
        format!(", {} ignored", s.ignored)
    } else {
        String::new()
    };
    writeln!(
        out,
        "{} finding{}{breakdown} in {scanned}, {}, {:.2} s{verifying}; {} suppressed, {} known example{}, {} skipped{ignored}, {} error{}",
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
    if !s.held_back.is_empty() {
        writeln!(
            out,
            "held back: {} finding{} below the minimum confidence ({} medium, {} low); `--min-confidence low` reports them",
            s.held_back.total(),
            if s.held_back.total() == 1 { "" } else { "s" },
            s.held_back.medium,
            s.held_back.low,
        )?;
    }
    if let Some(v) = &s.verification {
        writeln!(
            out,
            "verification: {} live, {} dead, {} unknown; {} key{} checked, {} request{}, {} from cache, {:.2} s{}",
            v.live,
            v.dead,
            v.unknown,
            v.keys,
            if v.keys == 1 { "" } else { "s" },
            v.requests,
            if v.requests == 1 { "" } else { "s" },
            v.cached,
            v.elapsed_ms as f64 / 1000.0,
            if v.interrupted {
                "; interrupted, unfinished checks are unknown"
            } else {
                ""
            }
        )?;
        for (provider, c) in &v.providers {
            let mut line = format!(
                "  {}: {} checked, {} live, {} dead, {} unknown",
                sanitize(provider),
                c.checked,
                c.live,
                c.dead,
                c.unknown
            );
            if c.not_verifiable > 0 {
                line.push_str(&format!(", {} not verifiable", c.not_verifiable));
            }
            writeln!(out, "{line}")?;
        }
        if !v.hosts.is_empty() {
            let hosts: Vec<String> = v
                .hosts
                .iter()
                .map(|(h, n)| format!("{} ({n})", sanitize(h)))
                .collect();
            writeln!(out, "  hosts: {}", hosts.join(", "))?;
        }
        if v.unverified > 0 {
            writeln!(
                out,
                "  unverified: {} finding{} of verifiable rules could not be checked (unknown)",
                v.unverified,
                if v.unverified == 1 { "" } else { "s" }
            )?;
        }
    }
    if ctx.config_files.is_empty() {
        writeln!(out, "config: none")?;
    } else {
        let names: Vec<String> = ctx
            .config_files
            .iter()
            .map(|p| sanitize(&p.display().to_string()))
            .collect();
        writeln!(out, "config: {}", names.join(", "))?;
    }
    for note in &s.notes {
        writeln!(out, "note: {}", sanitize(note))?;
    }
    if s.ignored > 0 {
        writeln!(
            out,
            "ignored: {} path{} kept out by .gitignore/.ignore rules (a directory counts once; --no-ignore scans them)",
            s.ignored,
            if s.ignored == 1 { "" } else { "s" }
        )?;
    }
    for path in &s.ignored_credentials {
        writeln!(
            out,
            "hint: {} is ignored but looks like a credential file; `leakhound scan --no-ignore` scans it",
            sanitize(path)
        )?;
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
