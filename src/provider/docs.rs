//! The provider-check table of docs/verify.md, generated from the specs so
//! it cannot drift from them: a test compares the file with this output
//! (`LEAKHOUND_BLESS=1 cargo test --lib provider::docs` rewrites it).

use super::{Check, ProviderSpec};
use crate::finding::Verdict;

/// Markers around the generated part of docs/verify.md.
pub const BEGIN: &str =
    "<!-- provider-checks:begin (generated from rules/providers/*.toml; do not edit) -->";
pub const END: &str = "<!-- provider-checks:end -->";

/// One Markdown table row per provider check, sorted by provider id.
pub fn markdown_table(specs: &[(&str, ProviderSpec)]) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    for (origin, spec) in specs {
        let Ok(check) = Check::new(spec, None, origin) else {
            continue;
        };
        let v = &spec.verify;
        let mut kinds: Vec<String> = v.secret_prefixes.iter().map(|p| format!("`{p}`")).collect();
        kinds.extend(v.rules.iter().map(|r| format!("rule `{r}`")));
        let mut kinds = if kinds.is_empty() {
            "all".to_string()
        } else {
            kinds.join(", ")
        };
        if let Some(p) = &v.partner {
            let rules: Vec<String> = p.rules.iter().map(|r| format!("`{r}`")).collect();
            kinds.push_str(&format!(" + its {} ({})", p.name, rules.join("/")));
        }
        let mut request = format!(
            "`{} {}`",
            if check.post { "POST" } else { "GET" },
            check.display_endpoint()
        );
        if let Some(form) = &v.form {
            request.push_str(&format!(" (form `{form}`)"));
        }
        let hosts = check.hosts();
        if hosts.len() > 1 {
            let others: Vec<String> = hosts[1..].iter().map(|h| format!("`{h}`")).collect();
            request.push_str(&format!("; also at {}", others.join(", ")));
        }
        if let Some(rps) = v.requests_per_second {
            request.push_str(&format!(", at most {rps}/s"));
        }
        if let Some(c) = v.concurrency {
            request.push_str(&format!(", {c} at a time"));
        }
        let statuses: Vec<String> = v
            .responses
            .iter()
            .map(|r| {
                let mut s = r.status.to_string();
                if !r.body_contains.is_empty() {
                    let needles: Vec<String> =
                        r.body_contains.iter().map(|n| format!("`{n}`")).collect();
                    s.push_str(&format!(" + {}", needles.join("/")));
                }
                if let Some(p) = &r.secret_prefix {
                    s.push_str(&format!(" + key `{p}`"));
                }
                let verdict = match r.verdict {
                    Verdict::Live => "**live**",
                    Verdict::Dead => "dead",
                    Verdict::Unknown => "unknown",
                };
                format!("{s} {verdict}")
            })
            .collect();
        let mut learns: Vec<String> = Vec::new();
        if let Some(h) = &v.identity_header {
            learns.push(format!("`{h}` header"));
        }
        learns.extend(v.identity.iter().map(|p| format!("`{p}`")));
        if let Some(h) = &v.scopes_header {
            learns.push(format!("scopes: `{h}` header"));
        }
        if let Some(p) = &v.scopes {
            learns.push(format!("scopes: `{p}`"));
        }
        let doc = spec
            .references
            .first()
            .map(|r| format!("[docs]({r})"))
            .unwrap_or_default();
        let row = format!(
            "| {} (`{}`) | {} | {} | {} | {} | {} | {} | {} |",
            spec.name,
            spec.id,
            request,
            check.auth.describe(),
            kinds,
            statuses.join("; "),
            if learns.is_empty() {
                "-".to_string()
            } else {
                learns.join(", ")
            },
            v.side_effects.as_deref().unwrap_or("none (read-only)"),
            doc,
        );
        rows.push((spec.id.clone(), row.replace('\n', " ")));
    }
    rows.sort();
    let mut out = String::from(
        "| provider | request | key sent as | key kinds | statuses (first match wins; others unknown) | identity, scopes | side effects | documentation |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (_, row) in &rows {
        out.push_str(row);
        out.push('\n');
    }
    out.push_str(&format!("\n{} providers have a check.\n", rows.len()));
    out
}

/// docs/verify.md holds two generated tables; their tests take this lock
/// so that blessing both at once cannot lose one's rewrite.
#[cfg(test)]
pub(crate) static DOCS_FILE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::builtin_providers;

    /// docs/verify.md holds exactly the table the specs generate.
    #[test]
    fn docs_table_matches_the_specs() {
        let _file = DOCS_FILE.lock().unwrap_or_else(|e| e.into_inner());
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/verify.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
            panic!("docs/verify.md lacks the {BEGIN} / {END} markers");
        };
        let current = &doc[b + BEGIN.len()..e];
        let table = format!("\n{}", markdown_table(&builtin_providers().unwrap()));
        if current != table {
            if std::env::var_os("LEAKHOUND_BLESS").is_some() {
                let updated = format!("{}{BEGIN}{table}{}", &doc[..b], &doc[e..]);
                std::fs::write(path, updated).unwrap();
            } else {
                panic!(
                    "docs/verify.md's provider table is stale: \
                     run LEAKHOUND_BLESS=1 cargo test --lib provider::docs"
                );
            }
        }
    }
}
