//! The parts of the allowlist that look at more than a path or a secret:
//! stopwords, path regexes, and `[[allowlists]]` scoped to some rules,
//! with an `or`/`and` condition and a choice of what their regexes are
//! matched against. They exist so that a team's exceptions can be written
//! per rule, and so that gitleaks allowlists (`config import-gitleaks`)
//! carry over with their meaning.
//!
//! [`Allowlist`] is the compiled whole: `[allowlist]` (path globs, secret
//! regexes, fingerprints, stopwords, path regexes) plus the scoped lists.
//! Paths are checked before a file is read, everything else after a rule
//! matched (on the match path only, so plain loops are fine).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::bytes::Regex;
use serde::Deserialize;

use crate::error::{Error, Result};

/// `[[allowlists]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopedAllowlistSpec {
    /// Why the exception exists (shown nowhere; for the reader).
    #[serde(default)]
    pub description: Option<String>,
    /// Rule ids this allowlist applies to; empty = every rule.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Regexes matched against the path as reported (`src/a.py`).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Regexes matched against `regex_target`.
    #[serde(default)]
    pub regexes: Vec<String>,
    /// `secret` (default) or `line`: the whole line holding the secret.
    #[serde(default)]
    pub regex_target: RegexTarget,
    /// Words; a secret containing one (ignoring case) is allowed.
    #[serde(default)]
    pub stopwords: Vec<String>,
    /// `or` (default): any criterion allows; `and`: every criterion given
    /// must hold.
    #[serde(default)]
    pub condition: Condition,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegexTarget {
    #[default]
    Secret,
    Line,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    #[default]
    Or,
    And,
}

/// A compiled scoped allowlist.
#[derive(Clone, Debug)]
pub struct ScopedAllowlist {
    rules: Vec<String>,
    paths: Vec<Regex>,
    regexes: Vec<Regex>,
    regex_target: RegexTarget,
    stopwords: Vec<String>,
    condition: Condition,
}

impl ScopedAllowlist {
    fn allows(&self, rule_id: &str, path: &str, secret: &str, line: &[u8]) -> bool {
        if !self.rules.is_empty() && !self.rules.iter().any(|r| r == rule_id) {
            return false;
        }
        let target = match self.regex_target {
            RegexTarget::Secret => secret.as_bytes(),
            RegexTarget::Line => line,
        };
        let mut checks = Vec::with_capacity(3);
        if !self.paths.is_empty() {
            checks.push(self.paths.iter().any(|r| r.is_match(path.as_bytes())));
        }
        if !self.regexes.is_empty() {
            checks.push(self.regexes.iter().any(|r| r.is_match(target)));
        }
        if !self.stopwords.is_empty() {
            checks.push(has_stopword(&self.stopwords, secret));
        }
        match self.condition {
            Condition::Or => checks.iter().any(|&c| c),
            Condition::And => !checks.is_empty() && checks.iter().all(|&c| c),
        }
    }
}

/// Lowercased stopwords, so matching ignores case.
pub(crate) fn compile_stopwords(words: &[String]) -> Vec<String> {
    words
        .iter()
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

fn has_stopword(stopwords: &[String], secret: &str) -> bool {
    let lower = secret.to_lowercase();
    stopwords.iter().any(|w| lower.contains(w.as_str()))
}

/// Compile regexes for an allowlist field; errors name the config file and
/// the field.
pub(crate) fn compile_regexes(
    patterns: &[String],
    field: &str,
    origin: &str,
) -> Result<Vec<Regex>> {
    patterns
        .iter()
        .map(|p| {
            Regex::new(p).map_err(|e| Error::Config {
                path: PathBuf::from(origin),
                message: format!("{field}: {e}"),
            })
        })
        .collect()
}

/// Compile `[[allowlists]]`; `known_rule` tells whether a rule id exists,
/// so that a typo does not silently allow nothing.
pub(crate) fn compile_scoped(
    specs: &[ScopedAllowlistSpec],
    origin: &str,
    known_rule: impl Fn(&str) -> bool,
) -> Result<Vec<ScopedAllowlist>> {
    let mut out = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let field = |name: &str| format!("allowlists[{i}].{name}");
        let fail = |message: String| Error::Config {
            path: PathBuf::from(origin),
            message,
        };
        if let Some(unknown) = spec.rules.iter().find(|r| !known_rule(r)) {
            return Err(fail(format!("{}: no rule `{unknown}`", field("rules"))));
        }
        if spec.paths.is_empty() && spec.regexes.is_empty() && spec.stopwords.is_empty() {
            return Err(fail(format!(
                "allowlists[{i}]: needs at least one of paths, regexes, stopwords"
            )));
        }
        out.push(ScopedAllowlist {
            rules: spec.rules.clone(),
            paths: compile_regexes(&spec.paths, &field("paths"), origin)?,
            regexes: compile_regexes(&spec.regexes, &field("regexes"), origin)?,
            regex_target: spec.regex_target,
            stopwords: compile_stopwords(&spec.stopwords),
            condition: spec.condition,
        });
    }
    Ok(out)
}

impl Allowlist {
    /// The checks that need the rule, the path and the line as well as the
    /// secret: global stopwords and path regexes, and scoped allowlists.
    pub fn allows_match(&self, rule_id: &str, path: &str, secret: &str, line: &[u8]) -> bool {
        has_stopword(&self.stopwords, secret)
            || self
                .path_regexes
                .iter()
                .any(|r| r.is_match(path.as_bytes()))
            || self
                .scoped
                .iter()
                .any(|s| s.allows(rule_id, path, secret, line))
            || self.is_config_example(path, secret)
    }

    /// Is `secret`, found in `path`, an example of a rule of the
    /// configuration file `path` is (one in use)?
    fn is_config_example(&self, path: &str, secret: &str) -> bool {
        self.config_examples.iter().any(|c| {
            !secret.is_empty()
                && c.texts.iter().any(|t| t.contains(secret))
                && std::fs::canonicalize(path).is_ok_and(|p| p == c.file)
        })
    }
}

/// The examples of the rules of a configuration file in use: in that file
/// they are there on purpose and are not reported.
#[derive(Debug, Default)]
pub struct ConfigExamples {
    /// The configuration file, resolved.
    pub file: PathBuf,
    /// Each example's text and secret, and each negative example's text.
    pub texts: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistSpec {
    /// Globs of paths never scanned (`tests/fixtures/**`).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Regexes; a secret matching one is not reported.
    #[serde(default)]
    pub regexes: Vec<String>,
    /// Finding fingerprints or secret SHA-256 digests not reported.
    #[serde(default)]
    pub fingerprints: Vec<String>,
    /// Regexes matched against the path as reported; a match is not
    /// reported (gitleaks' path allowlists are regexes).
    #[serde(default)]
    pub path_regexes: Vec<String>,
    /// Words; a secret containing one (ignoring case) is not reported.
    #[serde(default)]
    pub stopwords: Vec<String>,
}

/// Compiled allowlist.
#[derive(Debug, Default)]
pub struct Allowlist {
    pub paths: GlobSet,
    pub roots: Vec<PathBuf>,
    pub regexes: Vec<regex::Regex>,
    pub fingerprints: HashSet<String>,
    pub path_regexes: Vec<regex::bytes::Regex>,
    /// Lowercase.
    pub stopwords: Vec<String>,
    pub scoped: Vec<ScopedAllowlist>,
    /// `paths` as written, so that a log names the glob that matched.
    pub path_globs: Vec<String>,
    /// `--include-path`: when set, a path no glob of it covers is not
    /// scanned either (tried as `paths` are).
    pub include: Option<GlobSet>,
    /// With `--verbose`: each path kept out, and why.
    pub excluded: Option<std::sync::Mutex<Vec<(String, String)>>>,
    /// Rule examples of the configuration files in use.
    pub config_examples: Vec<ConfigExamples>,
}

impl Allowlist {
    /// Is `path` (as walked, or relative to its root) kept out of the scan:
    /// covered by a path glob, or outside `--include-path`? Logged when
    /// `excluded` is set.
    pub fn allows_path(&self, path: &Path) -> bool {
        if self.paths.is_empty() && self.include.is_none() {
            return false;
        }
        let Some(why) = self.excluded_by(path) else {
            return false;
        };
        if let Some(log) = &self.excluded {
            let shown = path.strip_prefix("./").unwrap_or(path);
            log.lock()
                .expect("exclusion log lock: never held across a panic")
                .push((shown.to_string_lossy().into_owned(), why));
        }
        true
    }

    fn excluded_by(&self, path: &Path) -> Option<String> {
        let shown = path.strip_prefix("./").unwrap_or(path);
        let rels: Vec<&Path> = std::iter::once(shown)
            .chain(self.roots.iter().filter_map(|r| path.strip_prefix(r).ok()))
            .collect();
        if !self.paths.is_empty() {
            for rel in &rels {
                if let Some(&i) = self.paths.matches(rel).first() {
                    let glob = self.path_globs.get(i).map_or("?", String::as_str);
                    return Some(format!(
                        "excluded by path glob `{glob}` (--exclude-path or [allowlist] paths)"
                    ));
                }
            }
        }
        match &self.include {
            Some(include) if !rels.iter().any(|rel| include.is_match(rel)) => {
                Some("matches no --include-path glob".into())
            }
            _ => None,
        }
    }

    /// Scan only the paths one of `globs` covers (`--include-path`).
    pub fn set_include(&mut self, globs: &[String]) -> Result<()> {
        if globs.is_empty() {
            return Ok(());
        }
        let mut b = GlobSetBuilder::new();
        for g in globs {
            b.add(Glob::new(g).map_err(|e| Error::Usage(format!("--include-path `{g}`: {e}")))?);
        }
        self.include = Some(
            b.build()
                .map_err(|e| Error::Usage(format!("--include-path: {e}")))?,
        );
        Ok(())
    }
}

impl Allowlist {
    /// Compile `[allowlist]`; `roots` are the scanned paths, against which
    /// path globs are also tried.
    pub fn compile(spec: &AllowlistSpec, roots: Vec<PathBuf>, origin: &str) -> Result<Allowlist> {
        let fail = |message: String| Error::Config {
            path: PathBuf::from(origin),
            message,
        };
        let mut globs = GlobSetBuilder::new();
        for g in &spec.paths {
            globs.add(Glob::new(g).map_err(|e| fail(format!("allowlist.paths: {e}")))?);
        }
        let regexes = spec
            .regexes
            .iter()
            .map(|r| regex::Regex::new(r).map_err(|e| fail(format!("allowlist.regexes: {e}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Allowlist {
            paths: globs
                .build()
                .map_err(|e| fail(format!("allowlist.paths: {e}")))?,
            roots,
            regexes,
            fingerprints: spec.fingerprints.iter().map(|f| f.to_lowercase()).collect(),
            path_regexes: compile_regexes(&spec.path_regexes, "allowlist.path_regexes", origin)?,
            stopwords: compile_stopwords(&spec.stopwords),
            scoped: Vec::new(),
            path_globs: spec.paths.clone(),
            include: None,
            excluded: None,
            config_examples: Vec::new(),
        })
    }
}

impl Allowlist {
    pub fn allows_secret(&self, secret: &str) -> bool {
        self.regexes.iter().any(|r| r.is_match(secret))
    }

    pub fn allows_fingerprint(&self, fingerprint: &str, secret: &[u8]) -> bool {
        if self.fingerprints.is_empty() {
            return false;
        }
        self.fingerprints.contains(fingerprint)
            || self
                .fingerprints
                .contains(&crate::finding::sha256_hex(secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scoped(spec: ScopedAllowlistSpec) -> ScopedAllowlist {
        compile_scoped(&[spec], "t.toml", |r| r.starts_with("acme")).unwrap()[0].clone()
    }

    #[test]
    fn scoped_allowlists_apply_to_their_rules_only() {
        let a = scoped(ScopedAllowlistSpec {
            rules: vec!["acme-token".into()],
            stopwords: vec!["TEST".into()],
            ..Default::default()
        });
        assert!(a.allows("acme-token", "a.py", "acme_test_123", b""));
        assert!(!a.allows("other", "a.py", "acme_test_123", b""));
        assert!(!a.allows("acme-token", "a.py", "acme_live_123", b""));
    }

    #[test]
    fn conditions_and_targets() {
        let and = scoped(ScopedAllowlistSpec {
            paths: vec![r"^tests/".into()],
            regexes: vec![r"fixture".into()],
            regex_target: RegexTarget::Line,
            condition: Condition::And,
            ..Default::default()
        });
        assert!(and.allows("x", "tests/a.py", "k", b"k = 1  # fixture"));
        assert!(!and.allows("x", "src/a.py", "k", b"k = 1  # fixture"));
        assert!(!and.allows("x", "tests/a.py", "k", b"k = 1"));
        let or = ScopedAllowlist {
            condition: Condition::Or,
            ..and.clone()
        };
        assert!(or.allows("x", "src/a.py", "k", b"# fixture"));
    }

    #[test]
    fn unknown_rules_and_empty_allowlists_are_errors() {
        let e = compile_scoped(
            &[ScopedAllowlistSpec {
                rules: vec!["nope".into()],
                stopwords: vec!["x".into()],
                ..Default::default()
            }],
            "t.toml",
            |_| false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no rule `nope`"), "{e}");
        let e = compile_scoped(&[ScopedAllowlistSpec::default()], "t.toml", |_| true).unwrap_err();
        assert!(e.to_string().contains("at least one"), "{e}");
    }
}
