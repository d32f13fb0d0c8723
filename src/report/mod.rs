//! Report writers, one per format, behind one dispatch. Every writer gets
//! the same findings and statistics; only `show_secrets` lets a raw secret
//! through, and every writer goes through `Finding::shown_secret` for it.

mod exposure;
mod github;
mod html;
mod json;
mod jsonl;
mod junit;
mod markdown;
mod sarif;
mod text;

use std::io::{self, Write};
use std::path::PathBuf;

use crate::finding::Finding;
use crate::rules::RuleSet;
use crate::scan::Stats;

pub use json::read_report;

/// How a report is written; `config` resolves it (the terminal is looked
/// at there, once).
#[derive(Clone, Debug)]
pub struct Options {
    pub format: Format,
    pub output: Option<PathBuf>,
    pub show_secrets: bool,
    pub color: bool,
    pub quiet: bool,
}

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Github,
    Jsonl,
    Junit,
    Markdown,
    Html,
}

/// What the writers need besides the findings.
pub struct ReportContext<'a> {
    pub options: &'a Options,
    pub rules: &'a RuleSet,
    pub stats: &'a Stats,
    /// The scanned paths as the user named them (the repository of a git
    /// scan); the HTML report groups findings by them.
    pub roots: &'a [String],
    /// The configuration files the run read, least specific first; the
    /// text summary names them (or says there were none).
    pub config_files: &'a [PathBuf],
}

/// Write the report in the configured format.
pub fn write(out: &mut dyn Write, findings: &[Finding], ctx: &ReportContext) -> io::Result<()> {
    match ctx.options.format {
        Format::Text => text::write(out, findings, ctx),
        Format::Json => json::write(out, findings, ctx),
        Format::Sarif => sarif::write(out, findings, ctx),
        Format::Github => github::write(out, findings, ctx),
        Format::Jsonl => jsonl::write(out, findings, ctx),
        Format::Junit => junit::write(out, findings, ctx),
        Format::Markdown => markdown::write(out, findings, ctx),
        Format::Html => html::write(out, findings, ctx),
    }
}

impl Finding {
    /// The short commit id, for reports of history findings.
    pub fn short_commit(&self) -> Option<&str> {
        self.commit.as_ref().map(|c| short_id(&c.id))
    }
}

/// The first seven characters of a commit id (ids read back from a JSON
/// report may be anything, so this never slices inside a character).
pub fn short_id(id: &str) -> &str {
    id.char_indices().nth(7).map_or(id, |(i, _)| &id[..i])
}
