//! `leakhound config check` and `leakhound rules check`: everything wrong
//! with one configuration file, reported at once, and judged as `scan`
//! judges it where it sits.
//!
//! A scan stops at the first error of its configuration (it must not run
//! half-configured); a check goes on: each top-level section and each
//! `[[rules]]` entry is parsed on its own, so a typo in one does not hide
//! the others, and every later check (trust, settings and their bounds,
//! allowlists, rule compilation, duplicate ids, examples) runs on what
//! parsed. The trust is the one `scan` gives the file: the project's
//! `.leakhound.toml` that `scan` finds by itself may not set what a
//! discovered file may not set, so `config check` refuses there exactly
//! what `scan` refuses.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{settings, ConfigFile, Layer, Setting, Trust, Value};
use crate::engine::Matcher;
use crate::error::{describe_toml_error, line_col};
use crate::rules::{self, Rule, RuleSet, RuleSpec};

/// What one file's check found.
#[derive(Debug)]
pub struct Checked {
    /// The file, as named.
    pub origin: String,
    /// How `scan` would trust it.
    pub trust: Trust,
    /// What makes `scan` refuse the file (exit status 2).
    pub errors: Vec<String>,
    /// Rules whose examples fail (exit status 1).
    pub problems: Vec<crate::lint::Problem>,
    /// Worth knowing, not failing: imported rules without examples.
    pub warnings: Vec<String>,
    /// `[[rules]]` entries in the file.
    pub rules: usize,
    /// Examples and negative examples run.
    pub examples: usize,
}

impl Checked {
    /// 0 clean (warnings allowed), 1 failing examples, 2 a file `scan`
    /// refuses.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if !self.problems.is_empty() {
            1
        } else {
            0
        }
    }

    /// For stderr: one line per error and warning, each naming the file.
    pub fn diagnostics(&self) -> Vec<String> {
        let o = crate::text::sanitize(&self.origin);
        self.errors
            .iter()
            .map(|e| format!("leakhound: error: {o}: {}", crate::text::sanitize_lines(e)))
            .chain(self.warnings.iter().map(|w| {
                format!(
                    "leakhound: warning: {o}: {}",
                    crate::text::sanitize_lines(w)
                )
            }))
            .collect()
    }

    /// For stdout: one line per failing example, then a summary.
    pub fn report(&self) -> Vec<String> {
        let o = crate::text::sanitize(&self.origin);
        let mut out: Vec<String> = self.problems.iter().map(|p| p.to_string()).collect();
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let trust = match self.trust {
            Trust::Trusted => "read as a trusted file (--config, or your user config)",
            Trust::Discovered => {
                "read as the project config `scan` finds by itself (trusted less; see docs/verify.md#trust-in-configuration-files)"
            }
        };
        out.push(format!(
            "{o}: {}, {} checked, {}, {}, {}; {trust}",
            plural(self.rules, "rule", "rules"),
            plural(self.examples, "example", "examples"),
            plural(self.problems.len(), "problem", "problems"),
            plural(self.errors.len(), "error", "errors"),
            plural(self.warnings.len(), "warning", "warnings"),
        ));
        out
    }
}

/// How `scan`, run from the current directory without `--config`, would
/// trust `path`: less when it is the project config `scan` finds by itself,
/// fully otherwise (a file named with `--config`).
pub fn trust_of(path: &Path) -> Trust {
    let found = super::discover_config().and_then(|p| std::fs::canonicalize(p).ok());
    match (found, std::fs::canonicalize(path).ok()) {
        (Some(a), Some(b)) if a == b => Trust::Discovered,
        _ => Trust::Trusted,
    }
}

/// The `[[rules]]` entries with where each starts.
#[derive(Deserialize)]
struct RulesOnly {
    #[serde(default)]
    rules: Vec<toml::Spanned<toml::Value>>,
}

/// Check the configuration file at `path` as a file of trust `trust`.
pub fn check_file(path: &Path, trust: Trust) -> Checked {
    let origin = path.display().to_string();
    let mut c = Checked {
        origin: origin.clone(),
        trust,
        errors: Vec::new(),
        problems: Vec::new(),
        warnings: Vec::new(),
        rules: 0,
        examples: 0,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            c.errors.push(format!("cannot read: {e}"));
            return c;
        }
    };
    // Syntax first: past a syntax error nothing can be read.
    let sections: toml::Table = match toml::from_str(&text) {
        Ok(t) => t,
        Err(e) => {
            c.errors.push(describe_toml_error(&text, &e));
            return c;
        }
    };
    let line_of = |span: std::ops::Range<usize>| line_col(&text, span.start).0;

    // Each section alone, so that one section's error hides no other's.
    let mut good = toml::Table::new();
    for (key, value) in &sections {
        if key == "rules" {
            continue;
        }
        let mut one = toml::Table::new();
        one.insert(key.clone(), value.clone());
        match toml::Value::Table(one).try_into::<ConfigFile>() {
            Ok(_) => {
                good.insert(key.clone(), value.clone());
            }
            Err(e) => c.errors.push(section_error(key, &e)),
        }
    }

    // Each `[[rules]]` entry alone.
    let mut specs: Vec<(String, RuleSpec)> = Vec::new();
    if sections.contains_key("rules") {
        match toml::from_str::<RulesOnly>(&text) {
            Ok(r) => {
                c.rules = r.rules.len();
                for (i, entry) in r.rules.into_iter().enumerate() {
                    let line = line_of(entry.span());
                    let value = entry.into_inner();
                    let id = value
                        .get("id")
                        .and_then(|v| v.as_str())
                        .map(|s| format!(" `{}`", crate::text::sanitize(s)))
                        .unwrap_or_default();
                    let label = format!("line {line}: [[rules]] {}{id}", i + 1);
                    match value.try_into::<RuleSpec>() {
                        Ok(spec) => specs.push((label, spec)),
                        Err(e) => c.errors.push(format!("{label}: {}", one_line(&e))),
                    }
                }
            }
            Err(e) => c
                .errors
                .push(format!("rules: {}", describe_toml_error(&text, &e))),
        }
    }
    let file: ConfigFile = match toml::Value::Table(good).try_into() {
        Ok(f) => ConfigFile {
            rules: specs.iter().map(|(_, s)| s.clone()).collect(),
            ..f
        },
        Err(e) => {
            // Each section parsed alone; together they cannot fail.
            c.errors.push(one_line(&e));
            return c;
        }
    };
    let layer = Layer {
        path: PathBuf::from(&origin),
        file,
        trust,
    };
    check_layer(&layer, specs, &mut c);
    c
}

/// The checks `scan` makes on a parsed file, each on its own.
fn check_layer(layer: &Layer, specs: Vec<(String, RuleSpec)>, c: &mut Checked) {
    let errors = &mut c.errors;
    let mut push = |r: crate::error::Result<()>| {
        if let Err(e) = r {
            errors.push(strip_origin(&e.to_string(), &layer.origin()));
        }
    };
    let file = &layer.file;
    if layer.trust == Trust::Discovered {
        match super::discovered_refusals(file) {
            Ok(refused) => {
                for (what, why) in refused {
                    push(Err(super::refusal(layer, &what, why)));
                }
            }
            Err(e) => push(Err(e)),
        }
        // Rules a discovered file may not add are refused above; the
        // rest of its rules are checked like a trusted file's.
    }
    for (name, settings) in &file.providers {
        let one = ConfigFile {
            providers: [(name.clone(), settings.clone())].into_iter().collect(),
            ..ConfigFile::default()
        };
        push(super::check_provider_settings(&one, &layer.origin()));
    }
    let layers = std::slice::from_ref(layer);
    fn setting<T: Value>(s: &Setting<T>, layers: &[Layer]) -> crate::error::Result<()> {
        s.resolve(None, layers).map(|_| ())
    }
    push(setting(&settings::MAX_FILE_SIZE, layers));
    push(setting(&settings::THREADS, layers));
    push(setting(&settings::NO_IGNORE, layers));
    push(setting(&settings::FOLLOW, layers));
    push(setting(&settings::DECODE_ALL, layers));
    push(setting(&settings::ARCHIVES, layers));
    push(setting(&settings::ARCHIVE_DEPTH, layers));
    push(setting(&settings::ARCHIVE_MAX_BYTES, layers));
    push(setting(&settings::ARCHIVE_MAX_RATIO, layers));
    push(setting(&settings::ARCHIVE_MAX_ENTRIES, layers));
    push(setting(&settings::CONCURRENCY, layers));
    push(setting(&settings::PER_PROVIDER, layers));
    push(setting(&settings::TIMEOUT, layers));
    push(setting(&settings::CONNECT_TIMEOUT, layers));
    push(setting(&settings::RETRIES, layers));
    push(setting(&settings::MAX_WAIT, layers));
    push(setting(&settings::CACHE_TTL, layers));
    if !file.verify.ambiguous.is_empty() {
        push(Err(layer.fail(
            "verify.ambiguous: ambiguous keys are sent only to the providers --verify-ambiguous names on the command line".into(),
        )));
    }
    push(super::compile_allowlist(layers, &file.allowlist, Vec::new()).map(|_| ()));

    // Rules: the built-in ones minus the disabled, then each of the file's.
    let mut rules = match rules::builtin_rules() {
        Ok(r) => r,
        Err(e) => {
            push(Err(e));
            return;
        }
    };
    for id in &file.disabled_rules {
        if !rules.iter().any(|r| r.id() == id) {
            push(Err(layer.fail(format!(
                "disabled_rules: no built-in rule `{}`",
                crate::text::sanitize(id)
            ))));
        }
    }
    rules.retain(|r| !file.disabled_rules.iter().any(|d| d == r.id()));
    let builtin = rules.len();
    for (label, spec) in specs {
        if rules.iter().any(|r| r.id() == spec.id) {
            push(Err(layer.fail(format!(
                "{label}: duplicate rule id (a built-in rule or an earlier one has it)"
            ))));
            continue;
        }
        match Rule::compile(spec, &layer.origin()) {
            Ok(rule) => rules.push(rule),
            Err(e) => push(Err(layer.fail(format!(
                "{} ({label})",
                strip_origin(&e.to_string(), &layer.origin())
            )))),
        }
    }
    // A rule whose `parts` name no rule would make the whole set fail:
    // reported, and the others checked without it.
    let mut i = builtin;
    while i < rules.len() {
        let missing = rules[i]
            .spec
            .parts
            .iter()
            .flat_map(|p| p.rules.iter())
            .find(|id| !rules.iter().any(|r| r.id() == id.as_ref()))
            .map(|id| id.to_string());
        match missing {
            Some(id) => {
                push(Err(layer.fail(format!(
                    "rule `{}`: parts.rules names `{}`, which is not a rule",
                    rules[i].id(),
                    crate::text::sanitize(&id)
                ))));
                rules.remove(i);
            }
            None => i += 1,
        }
    }
    let set = match RuleSet::new(rules) {
        Ok(set) => set,
        Err(e) => {
            push(Err(e));
            return;
        }
    };
    push(
        crate::allowlist::compile_scoped(&file.allowlists, &layer.origin(), |id| {
            set.get(id).is_some()
        })
        .map(|_| ()),
    );
    let under_test: Vec<usize> = (builtin..set.len()).collect();
    c.examples = under_test
        .iter()
        .map(|&i| {
            let r = &set.rules()[i];
            r.spec.examples.len() + r.spec.negative_examples.len()
        })
        .sum();
    let matcher = Matcher::new(set);
    for p in crate::lint::check(&matcher, &under_test) {
        // `config import-gitleaks` writes rules without examples (gitleaks
        // rules have none); they are marked `provider = "custom"`.
        let imported = matcher
            .rules()
            .get(&p.rule)
            .is_some_and(|r| r.provider() == crate::gitleaks::IMPORTED_PROVIDER);
        if imported && p.kind == crate::lint::Kind::NoExamples {
            c.warnings.push(format!(
                "rule `{}`: {} (an imported rule: add some and run `leakhound rules check` again)",
                crate::text::sanitize(&p.rule),
                p.message
            ));
        } else {
            c.problems.push(p);
        }
    }
}

/// A section's error, on one line: `[allowlist]: unknown field …`.
fn section_error(key: &str, e: &toml::de::Error) -> String {
    format!("[{}]: {}", crate::text::sanitize(key), one_line(e))
}

fn one_line(e: &toml::de::Error) -> String {
    e.message().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An error's text without the `FILE: ` its Display begins with (the report
/// names the file once per line already).
fn strip_origin(text: &str, origin: &str) -> String {
    text.strip_prefix(origin)
        .and_then(|t| t.strip_prefix(": "))
        .unwrap_or(text)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(text: &str, trust: Trust) -> Checked {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        check_file(&path, trust)
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
disabled_rules = ["no-such-rule", "also-not-a-rule"]
[scan]
threads = 100000
[allowlist]
pathz = ["x"]
[[rules]]
id = "one"
description = "d"
provider = "acme"
severity = "high"
regx = "x"
keywords = ["x"]
[[rules]]
id = "two"
description = "d"
provider = "acme"
severity = "high"
regex = '''(unclosed'''
keywords = ["x"]
[[rules]]
id = "aws-access-key-id"
description = "d"
provider = "acme"
severity = "high"
regex = '''\b(acme_[a-z]{8})\b'''
keywords = ["acme_"]
"#;
        let c = check_text(text, Trust::Trusted);
        let all = c.errors.join("\n");
        for needle in [
            "no-such-rule",
            "also-not-a-rule",
            "scan.threads",
            "pathz",
            "[[rules]] 1 `one`",
            "regx",
            "[[rules]] 2 `two`",
            "duplicate rule id",
        ] {
            assert!(all.contains(needle), "no `{needle}` in:\n{all}");
        }
        assert_eq!(c.errors.len(), 7, "{all}");
        assert_eq!(c.exit_code(), 2);
        assert_eq!(c.rules, 3);
    }

    #[test]
    fn a_discovered_file_is_refused_what_scan_refuses() {
        let text = "[providers.kindo]\nbase_url = \"https://kindo.example.com/v1\"\n[scan]\nfollow = true\n";
        let trusted = check_text(text, Trust::Trusted);
        assert!(trusted.errors.is_empty(), "{:?}", trusted.errors);
        let found = check_text(text, Trust::Discovered);
        let all = found.errors.join("\n");
        assert!(all.contains("[providers.kindo]"), "{all}");
        assert!(all.contains("[scan] follow"), "{all}");
        assert_eq!(found.exit_code(), 2);
    }

    #[test]
    fn imported_rules_without_examples_are_warnings() {
        let text = r#"
[[rules]]
id = "corp-token"
description = "d"
provider = "custom"
severity = "high"
regex = '''\b(corp_[a-z0-9]{12})\b'''
keywords = ["corp_"]
[[rules]]
id = "own-token"
description = "d"
provider = "own"
severity = "high"
regex = '''\b(own_[a-z0-9]{12})\b'''
keywords = ["own_"]
"#;
        let c = check_text(text, Trust::Trusted);
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c.warnings.iter().all(|w| w.contains("corp-token")));
        assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
        assert!(c.problems.iter().all(|p| p.rule == "own-token"));
        assert_eq!(c.exit_code(), 1);
    }
}
