//! The JSON report as data: one serde type, [`Report`], that
//! `report::json` writes (`--format json`, and each line of `jsonl`) and
//! that both readers read back: `report::read_report` (for `verify` and
//! `revoke`) and `baseline::load` (a baseline file is a report whose
//! findings carry fewer fields). docs/report-format.md documents it.
//!
//! It sits below `baseline` and `report` so that both can use it without
//! importing each other; the statistics are a type parameter for the same
//! reason (`scan::Stats` lives above `baseline`).
//!
//! Reading is lenient in the type (a baseline holds only fingerprint, rule,
//! provider, path, line and the redacted secret) and strict where a reader
//! needs more: [`Report::parse`] takes the fields each finding must have.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::finding::{CommitInfo, Confidence, Finding, SourceKind, Verification};
use crate::rules::Severity;

/// A JSON report: the tool, the findings, the statistics (`S` is
/// `scan::Stats`, or whatever a reader wants of them).
#[derive(Debug, Serialize, Deserialize)]
pub struct Report<S> {
    #[serde(default)]
    pub tool: Tool,
    pub findings: Vec<ReportFinding>,
    #[serde(default)]
    pub stats: S,
}

/// Who wrote a report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    /// This build of leakhound.
    pub fn leakhound() -> Tool {
        Tool {
            name: "leakhound".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// One finding as the JSON report holds it; the fields are documented in
/// docs/report-format.md. Every field but `fingerprint` may be missing on
/// reading (see [`Report::parse`] for the fields a reader insists on).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReportFinding {
    #[serde(default)]
    pub rule_id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub line: usize,
    #[serde(default)]
    pub column: usize,
    #[serde(default)]
    pub end_line: usize,
    #[serde(default)]
    pub end_column: usize,
    /// Raw only when the report was written with `--show-secrets`.
    #[serde(default)]
    pub secret: String,
    /// A missing flag counts as redacted: nothing is taken for a raw key
    /// unless the report says it is one.
    #[serde(default = "redacted_unless_said")]
    pub secret_redacted: bool,
    pub fingerprint: String,
    #[serde(default)]
    pub source: Option<SourceKind>,
    #[serde(default)]
    pub commit: Option<CommitInfo>,
    #[serde(default)]
    pub verification: Option<Verification>,
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub ambiguous: bool,
    #[serde(default)]
    pub alternatives: Vec<String>,
    #[serde(default)]
    pub snippet: String,
    /// Written only when true (docs/report-format.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generic: bool,
    /// `high`, `medium` or `low` (docs/rules.md); missing in reports
    /// written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    /// Written only when there are parts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<ReportPart>,
    /// What chose the provider (`KONNECT_BASE_URL, line 5`); written only
    /// when a rule's context was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// One part of a multi-part credential as the JSON report holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReportPart {
    pub rule_id: String,
    /// Raw only when the report was written with `--show-secrets`.
    pub secret: String,
    #[serde(default = "redacted_unless_said")]
    pub secret_redacted: bool,
    pub line: usize,
    pub column: usize,
}

fn redacted_unless_said() -> bool {
    true
}

impl ReportFinding {
    /// A finding as a report shows it: the raw secret only with
    /// `show_secrets`.
    pub fn new(f: &Finding, show_secrets: bool) -> ReportFinding {
        ReportFinding {
            rule_id: f.rule_id.clone(),
            description: f.description.clone(),
            provider: f.provider.clone(),
            severity: Some(f.severity),
            path: f.path.clone(),
            line: f.line,
            column: f.column,
            end_line: f.end_line,
            end_column: f.end_column,
            secret: f.shown_secret(show_secrets).to_string(),
            secret_redacted: !show_secrets,
            fingerprint: f.fingerprint.clone(),
            source: Some(f.source),
            commit: f.commit.clone(),
            verification: f.verification.clone(),
            encoding: f.encoding.map(str::to_string),
            ambiguous: f.ambiguous,
            alternatives: f.alternatives.clone(),
            snippet: f.snippet.clone(),
            generic: f.generic,
            confidence: Some(f.confidence),
            parts: f
                .parts
                .iter()
                .map(|p| ReportPart {
                    rule_id: p.rule_id.clone(),
                    secret: p.shown_secret(show_secrets).to_string(),
                    secret_redacted: !show_secrets,
                    line: p.line,
                    column: p.column,
                })
                .collect(),
            evidence: f.evidence.clone(),
        }
    }
}

impl<S: DeserializeOwned + Default> Report<S> {
    /// Read a report (or a baseline) from its text. Every finding needs a
    /// `fingerprint` string and each field in `required`; `tool` and
    /// `stats` that do not parse are taken as missing. The error is a
    /// message without the file's name, for the caller to wrap.
    pub fn parse(text: &str, required: &[&str]) -> Result<Report<S>, String> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("{}:{}: not valid JSON: {e}", e.line(), e.column()))?;
        let list = value
            .get("findings")
            .and_then(Value::as_array)
            .ok_or("not a leakhound JSON report: no `findings` array")?;
        let mut findings = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            if !item.get("fingerprint").is_some_and(Value::is_string) {
                return Err(format!("findings[{i}] has no `fingerprint` string"));
            }
            if let Some(field) = required.iter().find(|f| item.get(**f).is_none()) {
                return Err(format!("findings[{i}]: missing field `{field}`"));
            }
            let f: ReportFinding =
                serde_json::from_value(item.clone()).map_err(|e| format!("findings[{i}]: {e}"))?;
            findings.push(f);
        }
        Ok(Report {
            tool: lenient(&value, "tool"),
            findings,
            stats: lenient(&value, "stats"),
        })
    }
}

/// `value[key]` as a `T`, or the default when it is missing or malformed.
fn lenient<T: DeserializeOwned + Default>(value: &Value, key: &str) -> T {
    value
        .get(key)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}
