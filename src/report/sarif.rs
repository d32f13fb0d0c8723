//! SARIF 2.1.0 as GitHub code scanning accepts it: the rules that fired under
//! `tool.driver.rules`, one result per finding with a physical location and
//! `partialFingerprints` (the finding fingerprint, stable across line moves,
//! so code scanning tracks an alert from run to run). Validated against the
//! official schema in the test suite.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{json, Value};

use super::ReportContext;
use crate::finding::{Finding, Verdict};
use crate::rules::Severity;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub's `security-severity` (0-10) for sorting alerts.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

pub fn write(out: &mut dyn Write, findings: &[Finding], ctx: &ReportContext) -> io::Result<()> {
    let mut rule_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rules_json = Vec::new();
    for f in findings {
        if rule_index.contains_key(f.rule_id.as_str()) {
            continue;
        }
        rule_index.insert(&f.rule_id, rules_json.len());
        let rule = ctx.rules.get(&f.rule_id);
        let help_uri = rule.and_then(|r| r.spec.references.first().cloned());
        let mut r = json!({
            "id": f.rule_id,
            "name": f.rule_id,
            "shortDescription": { "text": f.description },
            "fullDescription": { "text": format!("{} ({} credential)", f.description, f.provider) },
            "help": { "text": "Rotate the credential at its provider, then remove it from the code and its history. To accept a false positive, add `leakhound:allow` on the line or its fingerprint to the allowlist." },
            "defaultConfiguration": { "level": level(f.severity) },
            "properties": {
                "provider": f.provider,
                "severity": f.severity.as_str(),
                "security-severity": security_severity(f.severity),
                "tags": ["security", "secret", f.provider.as_str()],
            },
        });
        if let Some(uri) = help_uri {
            r["helpUri"] = json!(uri);
        }
        rules_json.push(r);
    }

    let results: Vec<Value> = findings
        .iter()
        .map(|f| result(f, rule_index[f.rule_id.as_str()], ctx))
        .collect();
    let sarif = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "leakhound",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/leakhound/leakhound",
                "rules": rules_json,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &sarif)?;
    writeln!(out)
}

fn result(f: &Finding, rule_index: usize, ctx: &ReportContext) -> Value {
    let mut message = format!(
        "{} ({}): {}",
        f.description,
        f.provider,
        f.shown_secret(ctx.options.show_secrets)
    );
    if f.ambiguous && !f.alternatives.is_empty() {
        message.push_str(&format!("; could also be {}", f.alternatives.join(", ")));
    }
    if let Some(v) = &f.verification {
        message.push_str(&format!("; verified {}", v.summary()));
    }
    let mut properties = json!({
        "provider": f.provider,
        "severity": f.severity.as_str(),
        "ambiguous": f.ambiguous,
        "alternatives": f.alternatives,
        "source": f.source,
        "confidence": f.confidence,
    });
    if let Some(enc) = f.encoding {
        properties["encoding"] = json!(enc);
    }
    if let Some(e) = &f.evidence {
        properties["evidence"] = json!(e);
    }
    if let Some(v) = &f.verification {
        properties["verification"] = json!(v);
        properties["verdict"] = json!(v.verdict);
    }
    if let Some(c) = &f.commit {
        properties["commit"] = json!(c);
    }
    let mut location = json!({
        "physicalLocation": {
            "artifactLocation": { "uri": path_to_uri(&f.path) },
            "region": {
                "startLine": f.line,
                "startColumn": f.column,
                "endLine": f.end_line,
                "endColumn": f.end_column.max(if f.end_line == f.line { f.column + 1 } else { 1 }),
                "snippet": { "text": f.snippet },
            },
        },
    });
    if let Some(c) = &f.commit {
        // Where `git blame` can find it: the path and line are those of the
        // file at the commit that introduced it, which may no longer exist
        // in the checked-out tree.
        location["message"] = json!({ "text": format!("introduced in commit {}", c.id) });
        location["properties"] = json!({
            "commit": c.id,
            "revision": format!("{}:{}", c.id, f.path),
            "gitBlame": format!("git blame -L {},{} {} -- {}", f.line, f.end_line.max(f.line), c.id, shell_quote(&f.path)),
        });
    }
    // A live key is an error whatever the rule's severity; a dead one a note.
    let level = match f.verification.as_ref().map(|v| v.verdict) {
        Some(Verdict::Live) => "error",
        Some(Verdict::Dead) => "note",
        _ => level(f.severity),
    };
    json!({
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": level,
        "rank": f.confidence.rank(),
        "message": { "text": message },
        "locations": [location],
        "partialFingerprints": { "leakhound/v1": f.fingerprint },
        "properties": properties,
    })
}

/// `path` quoted for a POSIX shell when it needs it.
fn shell_quote(path: &str) -> String {
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+,@%=:".contains(&b));
    if plain && !path.is_empty() {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', r"'\''"))
    }
}

/// A relative path as a URI reference: forward slashes, percent-encoded.
/// `!` is a legal path character in a URI and stays as it is, so that an
/// entry inside an archive reads `dist/app.jar!a.yml`, as in `jar:` URLs.
fn path_to_uri(path: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'!')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let path = path.replace('\\', "/");
    let encoded = percent_encoding::utf8_percent_encode(&path, KEEP).to_string();
    if path.starts_with('/') {
        format!("file://{encoded}")
    } else {
        encoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(path_to_uri("src/a b.py"), "src/a%20b.py");
        assert_eq!(path_to_uri("/tmp/x.env"), "file:///tmp/x.env");
        assert_eq!(
            path_to_uri("dist/app.jar!a b.yml"),
            "dist/app.jar!a%20b.yml"
        );
    }

    #[test]
    fn blame_paths_are_shell_quoted() {
        assert_eq!(shell_quote("src/a.env"), "src/a.env");
        assert_eq!(shell_quote("it's here"), r"'it'\''s here'");
    }
}
