//! The JSON report: one object with `tool`, `findings` and `stats`. Its
//! schema is documented in docs/report-format.md; `verify`, `revoke` and
//! `--baseline` read it back.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::ReportContext;
use crate::finding::Finding;

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
