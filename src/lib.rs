//! leakhound finds leaked API keys in file trees, git history and standard
//! input, and can verify and revoke them.
//!
//! The library takes a resolved [`config::Config`]; only `main.rs`,
//! `cli.rs`, `config.rs` and the subcommands' [`commands`] (which take the
//! parsed arguments) know about command-line parsing. A scan is:
//! sources ([`source`]) -> the matcher ([`engine`]) -> findings
//! ([`finding`]) -> optionally [`verify`] (after the scan, never on its
//! workers) -> a report ([`report`]). Live keys can then be revoked through
//! the providers' admin APIs ([`revoke`]). docs/architecture.md walks
//! through the data path and where each change goes.
//!
//! ## Module order
//!
//! Top to bottom: a module may name (`crate::…`) only the modules listed
//! below it, never one above it, so the layers cannot form a cycle. Unit
//! tests (`#[cfg(test)]`) may reach anywhere. The `layering` test in
//! `tests/cli/` reads this list and every file in `src/`, and fails on a
//! reference upwards or to a module missing from the list.
//!
//! - `commands`: one module per subcommand, wiring `config` to the library
//! - `config`: flags and `.leakhound.toml` assembled into each module's options
//! - `cli`: the clap types
//! - `hook`: `install-hook`, the pre-commit hook
//! - `gitleaks`: `config import-gitleaks`, gitleaks' rule ids, `.gitleaksignore`
//! - `lint`: `rules check`, the rule linter
//! - `audit`: remote repositories and organisations, shards, incremental rescans
//! - `datastore`: the audit's SQLite datastore, merged across shards
//! - `source`: file trees, stdin, git history, ranges, the staged index, and
//!   the archives inside them (`source::archive`)
//! - `hosting`: listing repositories through the GitHub and GitLab APIs
//! - `report`: one writer per format
//! - `scan`: the pipeline from buffers to findings, and its statistics
//! - `exposure`: a secret's sightings, reachability and lifecycle, over scans and the datastore
//! - `revoke`: turning live keys off, the audit log
//! - `verify`: verdicts for findings, bounded and cached
//! - `provider`: what a provider is: base URL, auth, checks, revoke specs; the HTTP client
//! - `baseline`: accepted findings, read and written
//! - `wire`: the JSON report as one serde type, written and read back
//! - `allowlist`: the scoped allowlists
//! - `engine`: the matcher
//! - `finding`: a finding, its fingerprint and redaction
//! - `rules`: rules as data, loaded and compiled
//! - `error`: the library's error type
//! - `text`: character boundaries, sanitizing text for a terminal

pub mod allowlist;
pub mod audit;
pub mod baseline;
pub mod cli;
pub mod commands;
pub mod config;
pub mod datastore;
pub mod engine;
pub mod error;
pub mod exposure;
pub mod finding;
pub mod gitleaks;
pub mod hook;
pub mod hosting;
pub mod lint;
pub mod provider;
pub mod report;
pub mod revoke;
pub mod rules;
pub mod scan;
pub mod source;
pub mod text;
pub mod verify;
pub mod wire;

pub use error::{Error, Result};

use engine::Matcher;
use scan::{GitScan, ScanOutcome};

/// Scan everything the options name (paths and `-` for stdin), apply the
/// baseline and sort the findings.
pub fn run_scan(options: &scan::Options, matcher: &Matcher) -> ScanOutcome {
    let (stdin, paths): (Vec<_>, Vec<_>) = options
        .paths
        .iter()
        .cloned()
        .partition(|p| p.as_os_str() == "-");
    let mut outcome = source::fs::scan_paths(options, matcher, &paths);
    // A plain scan of a git directory reads compressed objects and finds
    // nothing: say so rather than report it clean.
    for path in paths.iter().filter(|p| source::git::is_git_dir(p)) {
        outcome.stats.notes.push(format!(
            "{} is a git repository's own directory (a bare repository or a .git): a plain \
             scan reads its objects compressed and finds nothing in them; scan its history \
             with `leakhound scan --git {}`",
            source::fs::display_path(path),
            source::fs::display_path(path)
        ));
    }
    if !stdin.is_empty() {
        let s = source::fs::scan_stdin(options, matcher);
        outcome.findings.extend(s.findings);
        let elapsed = outcome.stats.elapsed_ms + s.stats.elapsed_ms;
        outcome.stats.merge(s.stats);
        outcome.stats.elapsed_ms = elapsed;
    }
    scan::apply_baseline(options, &mut outcome);
    scan::sort_findings(&mut outcome.findings);
    outcome.stats.findings = outcome.findings.len();
    outcome
}

/// Audit remote repositories (`--git-url`, `--github-org`, …): list,
/// shard, mirror, scan each history, record in the datastore; apply the
/// baseline and sort the findings.
pub fn run_audit(
    audit: &audit::Options,
    options: &scan::Options,
    matcher: &Matcher,
) -> Result<audit::Audit> {
    let mut done = audit::run(audit, options, matcher)?;
    scan::apply_baseline(options, &mut done.outcome);
    scan::sort_findings(&mut done.outcome.findings);
    done.outcome.stats.findings = done.outcome.findings.len();
    Ok(done)
}

/// Scan the git repository as `options.git` says (history, a range or the
/// staged changes), apply the baseline and sort the findings. A repository
/// that will not open or a revision that does not exist is an error.
pub fn run_git_scan(options: &scan::Options, matcher: &Matcher) -> Result<ScanOutcome> {
    let mut outcome = match &options.git {
        Some(GitScan::History { all_objects }) => {
            source::git::scan_history(options, matcher, *all_objects)?
        }
        Some(GitScan::Range { base, head }) => {
            source::git::scan_range(options, matcher, base, head)?
        }
        Some(GitScan::Staged) => source::staged::scan_staged(options, matcher)?,
        None => return Err(Error::Usage("not a git scan".into())),
    };
    scan::apply_baseline(options, &mut outcome);
    scan::sort_findings(&mut outcome.findings);
    outcome.stats.findings = outcome.findings.len();
    Ok(outcome)
}
