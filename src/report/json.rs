//! The JSON report: one object with `tool`, `findings` and `stats`, written
//! through `wire::Report`, the type `verify`, `revoke` and `--baseline` read
//! back. Its schema is documented in docs/report-format.md.

use std::io::{self, Write};

use std::path::Path;

use serde_json::Value;

use super::ReportContext;
use crate::engine::Encoding;
use crate::error::{Error, Result};
use crate::finding::{self, Finding, Part, SourceKind};
use crate::rules::{RuleSet, Severity};
use crate::scan::Stats;
use crate::wire::{Report, ReportFinding, Tool};

pub fn write(out: &mut dyn Write, findings: &[Finding], ctx: &ReportContext) -> io::Result<()> {
    let show = ctx.options.show_secrets;
    let report = Report {
        tool: Tool::leakhound(),
        findings: findings
            .iter()
            .map(|f| ReportFinding::new(f, show))
            .collect(),
        stats: ctx.stats,
    };
    let mut value = sorted(&report)?;
    with_secrets(&mut value, findings, ctx.stats)?;
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)
}

/// A history scan's secrets (`exposure`) as the report's top-level
/// `secrets`, with the verdicts the findings got since the scan.
fn with_secrets(value: &mut Value, findings: &[Finding], stats: &Stats) -> serde_json::Result<()> {
    if stats.secrets.is_empty() {
        return Ok(());
    }
    let mut secrets = stats.secrets.clone();
    crate::exposure::apply_verdicts(&mut secrets, findings);
    if let Some(map) = value.as_object_mut() {
        if let Some(stats) = map.get_mut("stats").and_then(Value::as_object_mut) {
            stats.remove("secrets");
        }
        map.insert("secrets".into(), serde_json::to_value(&secrets)?);
    }
    Ok(())
}

/// One finding as a JSON object, as in the report's `findings`.
pub fn finding_to_json(f: &Finding, show_secrets: bool) -> serde_json::Result<Value> {
    sorted(&ReportFinding::new(f, show_secrets))
}

/// As the JSON report has always been written: object keys in alphabetical
/// order. `serde_json::Value`'s maps are sorted, so going through one does
/// it, for nested objects (stats, commit, verification) too.
fn sorted<T: serde::Serialize>(value: &T) -> serde_json::Result<Value> {
    serde_json::to_value(value)
}

/// The fields `verify` needs of each finding (every one a report holds
/// but `commit`, `verification`, `encoding`, `ambiguous`, `alternatives`
/// and `snippet`).
const REQUIRED: &[&str] = &[
    "rule_id",
    "description",
    "provider",
    "severity",
    "path",
    "line",
    "column",
    "end_line",
    "end_column",
    "secret",
    "secret_redacted",
    "fingerprint",
    "source",
];

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
    let report: Report<Stats> = Report::parse(&text, REQUIRED).map_err(fail)?;
    let total = report.findings.len();
    let mut findings = Vec::with_capacity(total);
    let mut redacted = 0;
    for (i, f) in report.findings.into_iter().enumerate() {
        if f.secret_redacted || f.parts.iter().any(|p| p.secret_redacted) {
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
        let missing = |field: &str| fail(format!("findings[{i}]: `{field}` is null"));
        let severity = f.severity.ok_or_else(|| missing("severity"))?;
        let source = f.source.ok_or_else(|| missing("source"))?;
        findings.push(to_finding(f, severity, source, rules));
    }
    if redacted > 0 {
        return Err(fail(format!(
            "{redacted} of {total} findings have redacted secrets, so their keys cannot be \
             verified again; write the report with `leakhound scan --format json \
             --show-secrets` (and keep it private), or scan again with `leakhound scan --verify`"
        )));
    }
    Ok((findings, report.stats))
}

/// Redact as the scan did: keep the rule's literal prefix when the key
/// starts with one of its keywords.
fn literal_prefix_len(rules: &RuleSet, rule_id: &str, secret: &str) -> usize {
    rules
        .get(rule_id)
        .into_iter()
        .flat_map(|r| r.spec.keywords.iter())
        .filter(|k| {
            secret
                .get(..k.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(k))
        })
        .map(|k| k.len())
        .max()
        .unwrap_or(0)
}

/// A finding read back; `verification` is dropped (reading a report back
/// is for verifying it again).
fn to_finding(
    f: ReportFinding,
    severity: Severity,
    source: SourceKind,
    rules: &RuleSet,
) -> Finding {
    let prefix_len = literal_prefix_len(rules, &f.rule_id, &f.secret);
    let parts = f
        .parts
        .into_iter()
        .map(|p| Part {
            redacted: finding::redact(&p.secret, literal_prefix_len(rules, &p.rule_id, &p.secret)),
            rule_id: p.rule_id,
            secret: p.secret,
            line: p.line,
            column: p.column,
        })
        .collect();
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
        severity,
        path: f.path,
        line: f.line,
        column: f.column,
        end_line: f.end_line,
        end_column: f.end_column,
        secret: f.secret,
        fingerprint: f.fingerprint,
        source,
        commit: f.commit,
        verification: None,
        encoding,
        ambiguous: f.ambiguous,
        alternatives: f.alternatives,
        by_context,
        evidence: f.evidence,
        snippet: f.snippet,
        generic: f.generic,
        confidence: f.confidence.unwrap_or_default(),
        parts,
    }
}
