//! JSON Lines: one finding per line (the same object as in the JSON
//! report), then one line `{"tool": ..., "stats": ...}`. Line-oriented
//! tools (`grep`, `jq -c`, log shippers) take findings one at a time, and a
//! reader tells the closing line apart by its `stats` key.

use std::io::{self, Write};

use serde_json::json;

use super::json::finding_to_json;
use super::ReportContext;
use crate::finding::Finding;
use crate::wire::Tool;

pub fn write(out: &mut dyn Write, findings: &[Finding], ctx: &ReportContext) -> io::Result<()> {
    for f in findings {
        serde_json::to_writer(&mut *out, &finding_to_json(f, ctx.options.show_secrets)?)?;
        writeln!(out)?;
    }
    let closing = json!({
        "tool": Tool::leakhound(),
        "stats": ctx.stats,
    });
    serde_json::to_writer(&mut *out, &closing)?;
    writeln!(out)
}
