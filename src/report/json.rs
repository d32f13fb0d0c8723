//! The JSON report: one object with `tool`, `findings` and `stats`. Its
//! schema is documented in docs/report-format.md; `verify`, `revoke` and
//! `--baseline` read it back.

use std::io::{self, Write};

use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Value};

use super::ReportContext;
use crate::engine::Encoding;
use crate::error::{Error, Result};
use crate::finding::{self, CommitInfo, Finding, SourceKind};
use crate::rules::{RuleSet, Severity};
use crate::scan::Stats;

pub fn write(out: &mut dyn Write, findings: &[Finding], ctx: &ReportContext) -> io::Result<()> {
    let show = ctx.options.show_secrets;
    let report = json!({
        "tool": { "name": "leakhound", "version": env!("CARGO_PKG_VERSION") },
        "findings": findings.iter().map(|f| finding_to_json(f, show)).collect::<Vec<_>>(),
        "stats": ctx.stats,
    });
    serde_json::to_writer_pretty(&mut *out, &report)?;
    writeln!(out)
}

/// One finding as a JSON object.
pub fn finding_to_json(f: &Finding, show_secrets: bool) -> Value {
    json!({
        "rule_id": f.rule_id,
        "description": f.description,
        "provider": f.provider,
        "severity": f.severity.as_str(),
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_line": f.end_line,
        "end_column": f.end_column,
        "secret": f.shown_secret(show_secrets),
        "secret_redacted": !show_secrets,
        "fingerprint": f.fingerprint,
        "source": f.source,
        "commit": f.commit,
        "verification": f.verification,
        "encoding": f.encoding,
        "ambiguous": f.ambiguous,
        "alternatives": f.alternatives,
        "snippet": f.snippet,
    })
}

/// A finding as `finding_to_json` wrote it; `verification` is not read back
/// (reading a report back is for verifying it again).
#[derive(Deserialize)]
struct JsonFinding {
    rule_id: String,
    description: String,
    provider: String,
    severity: Severity,
    path: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    secret: String,
    secret_redacted: bool,
    fingerprint: String,
    source: SourceKind,
    #[serde(default)]
    commit: Option<CommitInfo>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    ambiguous: bool,
    #[serde(default)]
    alternatives: Vec<String>,
    #[serde(default)]
    snippet: String,
}

/// Read a JSON report back for `leakhound verify`. Refuses a report whose
/// secrets are redacted: there is nothing to verify in it, and no other
/// place holds the keys.
pub fn read_report(path: &Path, rules: &RuleSet) -> Result<(Vec<Finding>, Stats)> {
    let fail = |message: String| Error::Report {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| fail(format!("{}:{}: not valid JSON: {e}", e.line(), e.column())))?;
    let list = value
        .get("findings")
        .and_then(Value::as_array)
        .ok_or_else(|| fail("not a leakhound JSON report: no `findings` array".into()))?;
    let mut findings = Vec::with_capacity(list.len());
    let mut redacted = 0;
    for (i, item) in list.iter().enumerate() {
        let f: JsonFinding = serde_json::from_value(item.clone())
            .map_err(|e| fail(format!("findings[{i}]: {e}")))?;
        if f.secret_redacted {
            redacted += 1;
            continue;
        }
        // Where a key goes follows from the rule that found it, never from a
        // field of a file that anyone may have edited.
        match rules.get(&f.rule_id) {
            Some(r) if r.provider() == f.provider => {}
            Some(r) => {
                return Err(fail(format!(
                    "findings[{i}]: rule `{}` finds {} keys, but the report says provider `{}`; \
                     the report was changed or comes from other rules",
                    r.id(),
                    r.provider(),
                    crate::text::sanitize(&f.provider)
                )))
            }
            None => {
                return Err(fail(format!(
                    "findings[{i}]: no rule `{}`; name the config that defines it with --config",
                    crate::text::sanitize(&f.rule_id)
                )))
            }
        }
        findings.push(to_finding(f, rules));
    }
    if redacted > 0 {
        return Err(fail(format!(
            "{redacted} of {} findings have redacted secrets, so their keys cannot be \
             verified again; write the report with `leakhound scan --format json \
             --show-secrets` (and keep it private), or scan again with `leakhound scan --verify`",
            list.len()
        )));
    }
    let stats = value
        .get("stats")
        .cloned()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();
    Ok((findings, stats))
}

fn to_finding(f: JsonFinding, rules: &RuleSet) -> Finding {
    // Redact as the scan did: keep the rule's literal prefix when the key
    // starts with one of its keywords.
    let prefix_len = rules
        .get(&f.rule_id)
        .into_iter()
        .flat_map(|r| r.spec.keywords.iter())
        .filter(|k| {
            f.secret
                .get(..k.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(k))
        })
        .map(String::len)
        .max()
        .unwrap_or(0);
    // As the scan decided it: a rule for shapeless keys chose the provider
    // from nearby words.
    let by_context = rules
        .get(&f.rule_id)
        .is_some_and(|r| r.spec.context.is_some())
        && prefix_len == 0
        && !f.ambiguous;
    let encoding = [Encoding::Base64, Encoding::Percent]
        .into_iter()
        .map(Encoding::as_str)
        .find(|e| f.encoding.as_deref() == Some(*e));
    Finding {
        redacted: finding::redact(&f.secret, prefix_len),
        rule_id: f.rule_id,
        description: f.description,
        provider: f.provider,
        severity: f.severity,
        path: f.path,
        line: f.line,
        column: f.column,
        end_line: f.end_line,
        end_column: f.end_column,
        secret: f.secret,
        fingerprint: f.fingerprint,
        source: f.source,
        commit: f.commit,
        verification: None,
        encoding,
        ambiguous: f.ambiguous,
        alternatives: f.alternatives,
        by_context,
        snippet: f.snippet,
    }
}
