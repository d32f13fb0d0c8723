//! The secrets section of the text, Markdown and HTML reports: each key
//! once, with where it still lives (`exposure`), its status and first-seen
//! date when a datastore keeps them, and a call-out for a key a commit
//! deleted while it is still live. The JSON report writes the same
//! secrets as its top-level `secrets` (`report::json`).

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::exposure::{Exposure, Secret};
use crate::finding::{Finding, Verdict};
use crate::text::sanitize;

/// The secrets with the verdicts their findings got (after `--verify`).
pub(super) fn current(secrets: &[Secret], findings: &[Finding]) -> Vec<Secret> {
    let mut secrets = secrets.to_vec();
    crate::exposure::apply_verdicts(&mut secrets, findings);
    secrets
}

fn short(id: &str) -> &str {
    crate::report::short_id(id)
}

fn exposure_of(s: &Secret) -> String {
    match s.exposure {
        Exposure::InHead => "in HEAD".into(),
        e => e.as_str().into(),
    }
}

fn status_of(s: &Secret) -> String {
    match (&s.lifecycle.status, &s.lifecycle.first_seen) {
        (Some(st), Some(first)) => format!("{} since {}", st.as_str(), date(first)),
        (Some(st), None) => st.as_str().into(),
        _ => String::new(),
    }
}

fn date(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

/// What the refs that reach it are, shortest first: `HEAD (tip),
/// refs/tags/v1 (tip), refs/heads/main`.
fn refs_of(s: &Secret) -> String {
    let mut names: Vec<String> = s
        .refs
        .iter()
        .map(|r| {
            let mut n = r.name.clone();
            if let Some(repo) = &r.repository {
                n = format!("{repo} {n}");
            }
            if r.tip {
                n.push_str(" (tip)");
            }
            n
        })
        .collect();
    names.dedup();
    if names.len() > 8 {
        let more = names.len() - 8;
        names.truncate(8);
        names.push(format!("and {more} more"));
    }
    names.join(", ")
}

/// "deleted but live: rotate it", where it applies.
fn call_out(s: &Secret) -> Option<String> {
    if !(s.deleted_but_live
        || (s.verdict == Some(Verdict::Live) && s.branches.iter().any(|b| b.removed_by.is_some())))
    {
        return None;
    }
    let by: Vec<String> = s
        .branches
        .iter()
        .filter_map(|b| {
            let c = b.removed_by.as_ref()?;
            Some(format!("{} on {}", short(&c.id), b.name))
        })
        .collect();
    Some(format!(
        "deleted but live: rotate it (deleted by {}; deleting a key does not turn it off)",
        by.join(", ")
    ))
}

pub(super) fn write_text(
    out: &mut dyn Write,
    secrets: &[Secret],
    findings: &[Finding],
) -> io::Result<()> {
    if secrets.is_empty() {
        return Ok(());
    }
    let secrets = current(secrets, findings);
    writeln!(
        out,
        "{} secret{} (each key once; live and in HEAD first):",
        secrets.len(),
        if secrets.len() == 1 { "" } else { "s" }
    )?;
    for s in &secrets {
        let mut head = format!(
            "  {}  {}  {}  {}",
            sanitize(short(&s.id)),
            sanitize(&s.provider),
            sanitize(&s.secret),
            exposure_of(s)
        );
        if let Some(v) = s.verdict {
            head.push_str(&format!("  {v}"));
        }
        let status = status_of(s);
        if !status.is_empty() {
            head.push_str(&format!("  {status}"));
        }
        writeln!(out, "{head}")?;
        if let Some(c) = &s.introduced {
            writeln!(
                out,
                "    introduced  {} {} {} {}",
                sanitize(short(&c.id)),
                sanitize(&c.author_name),
                sanitize(date(&c.date)),
                sanitize(&c.summary)
            )?;
        }
        writeln!(out, "    paths       {}", sanitize(&s.paths.join(", ")))?;
        if !s.refs.is_empty() {
            writeln!(out, "    reached by  {}", sanitize(&refs_of(s)))?;
        }
        for b in s.branches.iter().filter(|b| b.removed_by.is_some()) {
            let c = b.removed_by.as_ref().expect("filtered");
            writeln!(
                out,
                "    removed     from {} by {} {} {}",
                sanitize(&b.name),
                sanitize(short(&c.id)),
                sanitize(date(&c.date)),
                sanitize(&c.summary)
            )?;
        }
        if let Some(base) = s.base {
            writeln!(
                out,
                "    base        {}",
                match base {
                    crate::exposure::BaseState::New => "new in this range",
                    crate::exposure::BaseState::InBase =>
                        "already in the base's history (an old leak)",
                }
            )?;
        }
        if let Some(why) = &s.lifecycle.unreadable {
            writeln!(out, "    unreadable  {}", sanitize(why))?;
        }
        if let Some(c) = call_out(s) {
            writeln!(out, "    ! {}", sanitize(&c))?;
        }
    }
    writeln!(out)
}

/// Markdown: one table row per secret.
pub(super) fn write_markdown(
    out: &mut dyn Write,
    secrets: &[Secret],
    findings: &[Finding],
    code: impl Fn(&str) -> String,
) -> io::Result<()> {
    if secrets.is_empty() {
        return Ok(());
    }
    let secrets = current(secrets, findings);
    // A range (a pull request): new in it, or an old leak of the base's?
    let ranged = secrets.iter().any(|s| s.base.is_some());
    writeln!(out)?;
    writeln!(out, "### Secrets: each key once, worst first")?;
    writeln!(out)?;
    if ranged {
        writeln!(
            out,
            "| id | key | provider | new or old | exposure | verdict | introduced |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|")?;
    } else {
        writeln!(
            out,
            "| id | key | provider | exposure | verdict | status | introduced | reached by |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    }
    for s in &secrets {
        let introduced = s
            .introduced
            .as_ref()
            .map(|c| format!("{} {}", code(short(&c.id)), code(date(&c.date))))
            .unwrap_or_default();
        let mut exposure = exposure_of(s);
        if let Some(c) = call_out(s) {
            exposure = format!("{exposure}: **{}**", code(&c));
        }
        if ranged {
            let base = match s.base {
                Some(crate::exposure::BaseState::InBase) => {
                    "already in the base branch's history: an old leak, not this change's; rotate it"
                }
                Some(crate::exposure::BaseState::New) => "new in this change",
                None => "",
            };
            writeln!(
                out,
                "| {} | {} | {} | {base} | {} | {} | {} |",
                code(short(&s.id)),
                code(&s.secret),
                code(&s.provider),
                exposure,
                s.verdict.map_or("not verified", |v| v.as_str()),
                introduced,
            )?;
            continue;
        }
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            code(short(&s.id)),
            code(&s.secret),
            code(&s.provider),
            exposure,
            s.verdict.map_or("not verified", |v| v.as_str()),
            code(&status_of(s)),
            introduced,
            code(&refs_of(s)),
        )?;
    }
    Ok(())
}

/// HTML: a table after the findings; `esc` is the page's escaper.
pub(super) fn write_html(
    page: &mut String,
    secrets: &[Secret],
    findings: &[Finding],
    esc: impl Fn(&str) -> String,
) {
    if secrets.is_empty() {
        return;
    }
    let secrets = current(secrets, findings);
    page.push_str("<section class=\"secrets\"><h2>Secrets: each key once, worst first</h2>\n<table>\n<thead><tr><th>id</th><th>key</th><th>provider</th><th>exposure</th><th>verdict</th><th>status</th><th>introduced</th><th>reached by</th></tr></thead>\n<tbody>\n");
    for s in &secrets {
        let introduced = s
            .introduced
            .as_ref()
            .map(|c| format!("{} {}", short(&c.id), date(&c.date)))
            .unwrap_or_default();
        let call = call_out(s)
            .map(|c| format!("<br><strong class=\"warn\">{}</strong>", esc(&c)))
            .unwrap_or_default();
        let _ = writeln!(
            page,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}{call}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(short(&s.id)),
            esc(&s.secret),
            esc(&s.provider),
            esc(&exposure_of(s)),
            esc(s.verdict.map_or("not verified", |v| v.as_str())),
            esc(&status_of(s)),
            esc(&introduced),
            esc(&refs_of(s)),
        );
    }
    page.push_str("</tbody>\n</table></section>\n");
}
