//! Baselines: the findings a team has accepted, so that a scan reports only
//! new ones. `leakhound baseline create` writes one; `scan --baseline FILE`
//! reads it (a JSON report works too) and drops every finding whose
//! fingerprint it holds. Entries that no finding of the run matched are
//! *stale*: the secret was removed or the file moved, and the entry can go.
//!
//! A baseline is committed to the repository, so it holds fingerprints
//! (which take the secret only through a hash), rule ids, paths and the
//! redacted secret, never a raw secret: the writer has no way to print one.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{Error, Result};
use crate::finding::Finding;
use crate::wire::{Report, Tool};

/// The file `baseline create` writes by default.
pub const DEFAULT_BASELINE_FILE: &str = ".leakhound-baseline.json";

/// Fingerprints of findings accepted earlier.
#[derive(Debug, Default)]
pub struct Baseline {
    /// Each accepted fingerprint with the rule id and path it was found at,
    /// to name stale entries (see `baseline.rs`).
    pub entries: BTreeMap<String, Entry>,
}

/// What a baseline knows of an accepted finding besides its fingerprint.
#[derive(Debug, Default)]
pub struct Entry {
    pub rule_id: String,
    pub path: String,
}

/// A baseline entry that no finding of this run matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleEntry {
    pub fingerprint: String,
    pub rule_id: String,
    pub path: String,
}

impl Baseline {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, fingerprint: &str) -> bool {
        self.entries.contains_key(fingerprint)
    }
}

/// Read a baseline: a file written by `baseline create` or any leakhound
/// JSON report (both have `findings[].fingerprint`).
pub fn load(path: &Path) -> Result<Baseline> {
    let fail = |message: String| Error::Config {
        path: path.to_path_buf(),
        message,
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read baseline: {e}")))?;
    let report: Report<IgnoredAny> = Report::parse(&text, &[]).map_err(fail)?;
    let entries = report
        .findings
        .into_iter()
        .map(|f| {
            let entry = Entry {
                rule_id: f.rule_id,
                path: f.path,
            };
            (f.fingerprint, entry)
        })
        .collect();
    Ok(Baseline { entries })
}

/// Drop the findings the baseline holds and list the entries that matched
/// nothing as stale; returns how many were dropped, and the stale entries.
/// An entry only counts as stale when its path lies under one of the
/// scanned `roots`: a scan of `src/` says nothing about an entry in `docs/`.
pub fn apply(
    baseline: &Baseline,
    roots: &[PathBuf],
    findings: &mut Vec<Finding>,
) -> (usize, Vec<StaleEntry>) {
    let before = findings.len();
    let mut matched: HashSet<String> = HashSet::new();
    findings.retain(|f| {
        if baseline.contains(&f.fingerprint) {
            matched.insert(f.fingerprint.clone());
            false
        } else {
            true
        }
    });
    let stale = baseline
        .entries
        .iter()
        .filter(|(fp, e)| !matched.contains(*fp) && is_under_any(&e.path, roots))
        .map(|(fp, e)| StaleEntry {
            fingerprint: fp.clone(),
            rule_id: e.rule_id.clone(),
            path: e.path.clone(),
        })
        .collect();
    (before - findings.len(), stale)
}

/// Is the reported `path` inside one of the scan roots (as given on the
/// command line; reports show paths with a leading `./` stripped)?
fn is_under_any(path: &str, roots: &[PathBuf]) -> bool {
    roots.iter().any(|root| {
        if root.as_os_str() == "-" {
            return path == "<stdin>";
        }
        let root = root.to_string_lossy();
        let root = root.strip_prefix("./").unwrap_or(&root);
        let root = root.trim_end_matches('/');
        if root.is_empty() || root == "." {
            return !Path::new(path).is_absolute();
        }
        // `dist/app.jar!a.yml` is inside `dist/app.jar`.
        path == root
            || path
                .strip_prefix(root)
                .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('!'))
    })
}

/// Write `findings` as a baseline file: one entry per finding with its
/// fingerprint, rule, path, line (for the reader; matching ignores it) and
/// redacted secret.
pub fn write(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    let entries: Vec<_> = findings
        .iter()
        .map(|f| {
            json!({
                "fingerprint": f.fingerprint,
                "rule_id": f.rule_id,
                "provider": f.provider,
                "path": f.path,
                "line": f.line,
                "secret": f.redacted,
                "secret_redacted": true,
            })
        })
        .collect();
    let file = json!({
        "tool": Tool::leakhound(),
        "baseline": 1,
        "findings": entries,
    });
    serde_json::to_writer_pretty(&mut *out, &file)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_entries_are_only_judged_under_the_scanned_roots() {
        let roots = |r: &[&str]| r.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert!(is_under_any("a.py", &roots(&["."])));
        assert!(is_under_any("src/a.py", &roots(&["./src/"])));
        assert!(is_under_any("src/a.py", &roots(&["src/a.py"])));
        assert!(is_under_any(
            "dist/app.jar!a.yml",
            &roots(&["dist/app.jar"])
        ));
        assert!(!is_under_any(
            "dist/app.jar2!a.yml",
            &roots(&["dist/app.jar"])
        ));
        assert!(!is_under_any("srcx/a.py", &roots(&["src"])));
        assert!(!is_under_any("docs/a.md", &roots(&["src", "-"])));
        assert!(is_under_any("<stdin>", &roots(&["-"])));
        assert!(!is_under_any("/abs/a.py", &roots(&["."])));
    }
}
