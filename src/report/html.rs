//! The HTML report: one self-contained page to open in a browser and triage
//! from. A summary (findings by provider, severity, verdict and repository),
//! then one sortable, filterable table row per finding with its redacted
//! secret and masked line, its commit and author, and the verifier's verdict.
//!
//! Self-contained means no network at all: the style and the script are
//! inline, no fonts or images are loaded, and a Content-Security-Policy
//! forbids everything else, so opening a report never calls anywhere.
//! Scripts are allowed by the SHA-256 of each inline script this writer
//! puts in the page, computed as the page is written, never by
//! `'unsafe-inline'`: were text from a repository ever to slip through the
//! escaping as a `<script>`, the browser would not run it.
//!
//! Everything a scanned repository controls (paths, snippets, commit
//! authors and messages, rule ids from a user's config) is HTML-escaped and
//! has its control characters made visible; the script only moves and hides
//! rows and never turns text into markup. Secrets go through
//! `Finding::shown_secret` like every report's, so they are redacted unless
//! `--show-secrets` is given.
//!
//! The filter and sort state lives in the URL fragment
//! (`#q=kunavo&severity=critical&verdict=live&sort=-line`), so a filtered
//! view can be bookmarked or shared, and a headless browser test can drive it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::ReportContext;
use crate::finding::{Finding, Verdict};
use crate::rules::Severity;
use crate::text::sanitize;

const STYLE: &str = include_str!("html/report.css");
const SCRIPT: &str = include_str!("html/report.js");

/// An inline `<script>` element holding `code`, added to `page`; its hash
/// goes into `hashes` for the page's Content-Security-Policy.
fn push_script(page: &mut String, hashes: &mut Vec<String>, code: &str) {
    use base64::Engine as _;
    use sha2::Digest as _;
    // The browser hashes exactly the text between the tags.
    let text = format!("\n{code}");
    let digest = sha2::Sha256::digest(text.as_bytes());
    hashes.push(format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    ));
    page.push_str("<script>");
    page.push_str(&text);
    page.push_str("</script>\n");
}

pub fn write(out: &mut dyn Write, findings: &[Finding], ctx: &ReportContext) -> io::Result<()> {
    // The body first: the head's policy lists the hashes of its scripts.
    let mut page = String::with_capacity(16 * 1024 + findings.len() * 1024);
    let mut scripts = Vec::new();
    let stats = ctx.stats;
    let title = format!(
        "leakhound: {} finding{}",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        page,
        "<header><h1>leakhound report</h1><p class=\"meta\">leakhound {} &middot; {} &middot; {}</p></header>",
        esc(env!("CARGO_PKG_VERSION")),
        esc(&scanned(ctx)),
        if ctx.options.show_secrets {
            "<strong class=\"warn\">secrets shown in full (--show-secrets): do not share this file</strong>"
        } else {
            "secrets redacted"
        }
    );
    page.push_str("<main>\n");
    write_summary(&mut page, findings, ctx);
    if findings.is_empty() {
        page.push_str("<p class=\"empty\">No secrets found.</p>\n");
    } else {
        write_controls(&mut page, findings);
        write_table(&mut page, findings, ctx);
    }
    write_notes(&mut page, stats);
    page.push_str("</main>\n");
    push_script(&mut page, &mut scripts, SCRIPT);
    page.push_str("</body>\n</html>\n");
    let head = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src {}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        scripts.join(" "),
        esc(&title)
    );
    out.write_all(head.as_bytes())?;
    out.write_all(page.as_bytes())
}

/// "3 files, 1.2 KB in 0.04 s" or the git equivalent.
fn scanned(ctx: &ReportContext) -> String {
    let s = ctx.stats;
    let what = match (s.commits, s.blobs) {
        (Some(c), Some(b)) => format!("{} and {}", plural(c, "commit"), plural(b, "blob")),
        _ => format!("{} scanned", plural(s.files, "file")),
    };
    format!(
        "{what}, {} bytes in {:.2} s",
        s.bytes,
        s.elapsed_ms as f64 / 1000.0
    )
}

fn plural(n: u64, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The verdict as the table shows and filters it: `not verified` when no
/// verification ran.
fn verdict_label(f: &Finding) -> &'static str {
    match f.verification.as_ref().map(|v| v.verdict) {
        Some(v) => v.as_str(),
        None => "not verified",
    }
}

/// Sort rank of a verdict: live keys first.
fn verdict_rank(f: &Finding) -> u8 {
    match f.verification.as_ref().map(|v| v.verdict) {
        Some(Verdict::Live) => 0,
        Some(Verdict::Unknown) => 1,
        None => 2,
        Some(Verdict::Dead) => 3,
    }
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Critical => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
    }
}

/// The scanned root a finding belongs to: the repository of a git scan, or
/// the longest scanned path the finding's path falls under.
fn repository(f: &Finding, ctx: &ReportContext) -> String {
    // An audit's finding names its remote repository.
    if let Some(r) = f.commit.as_ref().and_then(|c| c.repository.as_deref()) {
        return r.to_string();
    }
    if f.path == "<stdin>" {
        return "<stdin>".into();
    }
    let mut best: Option<&str> = None;
    for root in ctx.roots {
        let r = root.as_str();
        let under = matches!(
            f.source,
            crate::finding::SourceKind::Git | crate::finding::SourceKind::Staged
        ) || r == "."
            || f.path == r
            || f.path
                .strip_prefix(r)
                .is_some_and(|rest| rest.starts_with('/') || r.ends_with('/'));
        if under && best.map_or(true, |b| r.len() > b.len()) {
            best = Some(r);
        }
    }
    best.unwrap_or(".").to_string()
}

fn write_summary(page: &mut String, findings: &[Finding], ctx: &ReportContext) {
    let mut by_provider: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_repo: BTreeMap<String, usize> = BTreeMap::new();
    for f in findings {
        *by_provider.entry(f.provider.clone()).or_default() += 1;
        *by_repo.entry(repository(f, ctx)).or_default() += 1;
    }
    let severity: Vec<(String, usize)> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ]
    .into_iter()
    .map(|s| {
        let n = findings.iter().filter(|f| f.severity == s).count();
        (s.as_str().to_string(), n)
    })
    .filter(|(_, n)| *n > 0)
    .collect();
    let mut verdicts: BTreeMap<(u8, &str), usize> = BTreeMap::new();
    for f in findings {
        *verdicts
            .entry((verdict_rank(f), verdict_label(f)))
            .or_default() += 1;
    }
    let verdicts: Vec<(String, usize)> = verdicts
        .into_iter()
        .map(|((_, l), n)| (l.to_string(), n))
        .collect();
    let mut providers: Vec<(String, usize)> = by_provider.into_iter().collect();
    providers.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut repos: Vec<(String, usize)> = by_repo.into_iter().collect();
    repos.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let _ = write!(
        page,
        "<section class=\"summary\" id=\"summary\">\n<div class=\"total\"><span class=\"count\">{}</span> finding{}</div>\n",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" }
    );
    summary_box(page, "Severity", "severity", &severity);
    summary_box(page, "Verdict", "verdict", &verdicts);
    summary_box(page, "Provider", "provider", &providers);
    summary_box(page, "Repository", "repo", &repos);
    page.push_str("</section>\n");
}

/// One summary box; each entry is a link that filters the table to it.
fn summary_box(page: &mut String, title: &str, key: &str, rows: &[(String, usize)]) {
    let _ = write!(
        page,
        "<div class=\"box\" data-summary=\"{key}\"><h2>{title}</h2><table>"
    );
    if rows.is_empty() {
        page.push_str("<tr><td class=\"none\">none</td></tr>");
    }
    for (name, n) in rows {
        let _ = write!(
            page,
            "<tr><td><a href=\"#{key}={}\" class=\"pill {key}-{}\">{}</a></td><td class=\"n\">{n}</td></tr>",
            esc(&fragment_encode(name)),
            esc(&class_token(name)),
            esc(&sanitize(name))
        );
    }
    page.push_str("</table></div>\n");
}

fn write_controls(page: &mut String, findings: &[Finding]) {
    page.push_str(
        "<form class=\"controls\" id=\"controls\" onsubmit=\"return false\">\n\
         <label>Filter <input type=\"search\" id=\"q\" placeholder=\"path, rule, provider, author…\" autocomplete=\"off\"></label>\n\
         <label>Severity <select id=\"severity\"><option value=\"\">all</option>",
    );
    for s in ["critical", "high", "medium", "low"] {
        let _ = write!(page, "<option value=\"{s}\">{s}</option>");
    }
    page.push_str(
        "</select></label>\n<label>Verdict <select id=\"verdict\"><option value=\"\">all</option>",
    );
    for v in ["live", "unknown", "not verified", "dead"] {
        let _ = write!(page, "<option value=\"{v}\">{v}</option>");
    }
    let _ = write!(
        page,
        "</select></label>\n<button type=\"button\" id=\"reset\">Reset</button>\n\
         <span class=\"shown\" id=\"shown\">{n} of {n} shown</span>\n</form>\n",
        n = findings.len()
    );
}

fn write_table(page: &mut String, findings: &[Finding], ctx: &ReportContext) {
    page.push_str(
        "<table class=\"findings\" id=\"findings\">\n<thead><tr>\
         <th data-key=\"severity\" aria-sort=\"none\">Severity</th>\
         <th data-key=\"verdict\" aria-sort=\"none\">Verdict</th>\
         <th data-key=\"provider\" aria-sort=\"none\">Provider / rule</th>\
         <th data-key=\"path\" aria-sort=\"none\">Location</th>\
         <th data-key=\"date\" aria-sort=\"none\">Commit</th>\
         <th data-key=\"secret\" aria-sort=\"none\">Secret</th>\
         </tr></thead>\n",
    );
    for (i, f) in findings.iter().enumerate() {
        let repo = repository(f, ctx);
        let secret = sanitize(f.shown_secret(ctx.options.show_secrets));
        let (author, date, summary, commit_id) = match &f.commit {
            Some(c) => (
                format!("{} <{}>", c.author_name, c.author_email),
                c.date.clone(),
                c.summary.clone(),
                c.id.clone(),
            ),
            None => Default::default(),
        };
        let _ = write!(
            page,
            "<tbody class=\"finding\" id=\"f{n}\" data-index=\"{i}\" data-severity=\"{sev}\" \
             data-severity-rank=\"{sev_rank}\" data-verdict=\"{verdict}\" data-verdict-rank=\"{verdict_rank}\" \
             data-provider=\"{provider}\" data-rule=\"{rule}\" data-path=\"{path}\" data-line=\"{line}\" \
             data-repo=\"{repo}\" data-date=\"{date}\" data-secret=\"{secret}\">\n<tr class=\"main\">",
            n = i + 1,
            sev = f.severity.as_str(),
            sev_rank = severity_rank(f.severity),
            verdict = esc(verdict_label(f)),
            verdict_rank = verdict_rank(f),
            provider = esc(&sanitize(&f.provider)),
            rule = esc(&sanitize(&f.rule_id)),
            path = esc(&sanitize(&f.path)),
            line = f.line,
            repo = esc(&sanitize(&repo)),
            date = esc(&sanitize(&date)),
            secret = esc(&secret),
        );
        let _ = write!(
            page,
            "<td><span class=\"sev sev-{s}\">{s}</span></td>",
            s = f.severity.as_str()
        );
        // Verdict and what the provider said.
        let _ = write!(
            page,
            "<td><span class=\"verdict verdict-{}\">{}</span>",
            esc(&class_token(verdict_label(f))),
            esc(verdict_label(f))
        );
        if let Some(v) = &f.verification {
            let mut detail = v.summary();
            if let Some(p) = v.provider.as_deref().filter(|p| *p != f.provider) {
                detail.push_str(&format!(" [asked {p}]"));
            }
            let _ = write!(
                page,
                "<div class=\"detail\">{}</div>",
                esc(&sanitize(&detail))
            );
        }
        page.push_str("</td>");
        let _ = write!(
            page,
            "<td><span class=\"provider\">{}</span><div class=\"rule\">{}</div><div class=\"desc\">{}</div></td>",
            esc(&sanitize(&f.provider)),
            esc(&sanitize(&f.rule_id)),
            esc(&sanitize(&f.description))
        );
        let _ = write!(
            page,
            "<td class=\"loc\"><code>{}:{}:{}</code>",
            esc(&sanitize(&f.path)),
            f.line,
            f.column
        );
        if repo != "." {
            let _ = write!(
                page,
                "<div class=\"repo\">in {}</div>",
                esc(&sanitize(&repo))
            );
        }
        if let Some(enc) = f.encoding {
            let _ = write!(
                page,
                "<div class=\"note\">{}-encoded in the file</div>",
                esc(enc)
            );
        }
        if !f.alternatives.is_empty() {
            let _ = write!(
                page,
                "<div class=\"note\">{} {}</div>",
                if f.ambiguous {
                    "ambiguous: could also be"
                } else {
                    "also matches"
                },
                esc(&sanitize(&f.alternatives.join(", ")))
            );
        }
        page.push_str("</td>");
        match &f.commit {
            Some(c) => {
                let _ = write!(
                    page,
                    "<td class=\"commit\"><code title=\"{}\">{}</code> <span class=\"date\">{}</span>\
                     <div class=\"author\">{}</div><div class=\"summary-line\">{}</div>",
                    esc(&sanitize(&commit_id)),
                    esc(&sanitize(super::short_id(&commit_id))),
                    esc(&sanitize(date.get(..10).unwrap_or(&date))),
                    esc(&sanitize(&author)),
                    esc(&sanitize(&summary))
                );
                if c.unreachable {
                    page.push_str(
                        "<div class=\"note\">unreachable: no ref reaches this commit</div>",
                    );
                }
                for loc in &c.other_locations {
                    let _ = write!(
                        page,
                        "<div class=\"note\">also at {} in {}</div>",
                        esc(&sanitize(&loc.path)),
                        esc(&sanitize(super::short_id(&loc.commit)))
                    );
                }
                page.push_str("</td>");
            }
            None => page.push_str("<td class=\"commit none\">&mdash;</td>"),
        }
        let _ = write!(
            page,
            "<td><code class=\"secret\">{}</code></td>",
            esc(&secret)
        );
        page.push_str("</tr>\n");
        let _ = write!(
            page,
            "<tr class=\"snippet\"><td colspan=\"6\"><code>{}</code></td></tr>\n</tbody>\n",
            esc(&sanitize(&f.snippet))
        );
    }
    page.push_str("</table>\n");
}

fn write_notes(page: &mut String, stats: &crate::scan::Stats) {
    let mut items = Vec::new();
    if let Some(v) = &stats.verification {
        items.push(format!(
            "verification: {} live, {} dead, {} unknown; {} checked, {} from cache{}",
            v.live,
            v.dead,
            v.unknown,
            plural(v.keys as u64, "key"),
            v.cached,
            if v.interrupted { "; interrupted" } else { "" }
        ));
    }
    items.push(format!(
        "{} suppressed, {} skipped, {} unreadable",
        stats.suppressed,
        stats.skipped.len(),
        stats.errors.len()
    ));
    items.extend(stats.notes.iter().map(|n| format!("note: {n}")));
    items.extend(
        stats
            .skipped
            .iter()
            .map(|e| format!("skipped: {}: {}", e.path, e.reason)),
    );
    items.extend(
        stats
            .errors
            .iter()
            .map(|e| format!("error: {}: {}", e.path, e.reason)),
    );
    page.push_str("<section class=\"notes\"><h2>Scan</h2><ul>\n");
    for item in items {
        let _ = writeln!(page, "<li>{}</li>", esc(&sanitize(&item)));
    }
    page.push_str(
        "</ul><p>Rotate each key at its provider first: removing it from the code does not \
         remove it from the history. A false positive is accepted with a \
         <code>leakhound:allow</code> comment on its line or a baseline \
         (<code>leakhound baseline create</code>).</p></section>\n",
    );
}

/// Escape text for HTML element content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value as the URL fragment carries it (the script decodes it with
/// `decodeURIComponent`).
fn fragment_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A CSS class suffix: lowercase letters and digits, the rest as `-`.
fn class_token(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn class_tokens_are_plain() {
        assert_eq!(class_token("not verified"), "not-verified");
        assert_eq!(class_token("a\"><b"), "a---b");
    }
}
