//! `leakhound config import-gitleaks`: a gitleaks v8 configuration
//! (`.gitleaks.toml`) turned into a `.leakhound.toml`, so a team can move
//! without rewriting its rules and exceptions.
//!
//! What maps:
//! - `[[rules]]` become `[[rules]]`: `regex` (the `secretGroup` group, or
//!   else the first group, or else the whole match, becomes the one
//!   capture group leakhound wants), `entropy` -> `min_entropy`,
//!   `keywords` (or, when a rule has none, the regex's literal prefixes:
//!   leakhound's prefilter needs a literal), `description`. Every imported
//!   rule gets `provider = "custom"` (so it is never sent to a real provider
//!   for verification) and `severity = "high"`.
//! - Allowlists, global or per rule, `[allowlist]` or `[[allowlists]]`,
//!   become `[[allowlists]]` with the same paths (regexes), regexes, their
//!   target, stopwords and condition, scoped to the rule or `targetRules`.
//! - `[extend] disabledRules` naming a built-in leakhound rule id becomes
//!   `disabled_rules`.
//!
//! What does not, each named in a warning: path-only rules (leakhound finds
//! secrets, not files), a rule's `path` condition, regexes that Rust's
//! `regex` refuses (look-around, backreferences), keyword-less rules whose
//! regex has no usable literal prefix, `commits` allowlists, `[extend]
//! path`/`url`. leakhound's built-in rules stay on whatever `useDefault`
//! says: they are the reason to switch.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use regex_syntax::ast::{self, Ast, GroupKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use serde::Deserialize;

use crate::error::{describe_toml_error, Error, Result};
use crate::rules::{self, List, Rule, RuleSpec, Severity, Text};

/// The provider of every imported rule: none that leakhound verifies
/// against, and how `rules check` knows a rule came from gitleaks.
pub const IMPORTED_PROVIDER: &str = "custom";

/// The converted configuration and what was left out.
#[derive(Debug)]
pub struct Imported {
    /// The `.leakhound.toml` text.
    pub toml: String,
    /// One line per thing not converted, naming it.
    pub warnings: Vec<String>,
    /// Rules converted.
    pub rules: usize,
    /// Rules skipped.
    pub skipped: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GitleaksConfig {
    title: Option<String>,
    extend: Option<Extend>,
    #[serde(default)]
    rules: Vec<GitleaksRule>,
    allowlist: Option<GitleaksAllowlist>,
    #[serde(default)]
    allowlists: Vec<GitleaksAllowlist>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Extend {
    use_default: Option<bool>,
    path: Option<String>,
    url: Option<String>,
    #[serde(default)]
    disabled_rules: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GitleaksRule {
    id: String,
    description: Option<String>,
    regex: Option<String>,
    secret_group: Option<usize>,
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    path: Option<String>,
    /// Read so that it is not reported as unknown; leakhound has no tags.
    #[serde(default)]
    #[allow(dead_code)]
    tags: Vec<String>,
    allowlist: Option<GitleaksAllowlist>,
    #[serde(default)]
    allowlists: Vec<GitleaksAllowlist>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GitleaksAllowlist {
    description: Option<String>,
    condition: Option<String>,
    regex_target: Option<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    commits: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    target_rules: Vec<String>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

/// Convert the gitleaks configuration `text`; `origin` names it in errors
/// and in the output's header.
pub fn import(text: &str, origin: &str) -> Result<Imported> {
    let config: GitleaksConfig = toml::from_str(text).map_err(|e| Error::RuleFile {
        origin: origin.to_string(),
        message: describe_toml_error(text, &e),
    })?;
    let builtin = rules::builtin_rules()?;
    let is_builtin = |id: &str| builtin.iter().any(|r| r.id() == id);
    let mut warnings = Vec::new();
    for key in config.other.keys() {
        warnings.push(format!(
            "`{key}`: not a gitleaks setting leakhound knows; left out"
        ));
    }

    let mut disabled = Vec::new();
    let mut use_default = None;
    if let Some(extend) = &config.extend {
        use_default = extend.use_default;
        if let Some(p) = extend.path.as_ref().or(extend.url.as_ref()) {
            warnings.push(format!(
                "[extend] `{p}`: extended configurations are not followed; import that file too"
            ));
        }
        for id in &extend.disabled_rules {
            if is_builtin(id) {
                disabled.push(id.clone());
            } else {
                warnings.push(format!(
                    "[extend] disabledRules: `{id}` is not a leakhound rule (see `leakhound rules list`); left out"
                ));
            }
        }
    }

    let mut allowlists: Vec<(Vec<String>, &GitleaksAllowlist)> = Vec::new();
    for a in config.allowlist.iter().chain(&config.allowlists) {
        allowlists.push((a.target_rules.clone(), a));
    }

    let mut converted: Vec<RuleSpec> = Vec::new();
    let mut skipped = 0;
    for rule in config.rules.iter() {
        match convert_rule(rule, &is_builtin, &mut warnings) {
            Ok(spec) => {
                for a in rule.allowlist.iter().chain(&rule.allowlists) {
                    allowlists.push((vec![spec.id.to_string()], a));
                }
                converted.push(spec);
            }
            Err(why) => {
                warnings.push(format!("rule `{}`: {why}; skipped", rule.id));
                skipped += 1;
            }
        }
    }
    // A targetRules entry may name a rule by its gitleaks id: keep those
    // that exist, warn about the rest.
    let known = |id: &str| is_builtin(id) || converted.iter().any(|r| r.id == id);

    let mut out = String::new();
    writeln!(
        out,
        "# Converted from {origin} by `leakhound config import-gitleaks`."
    )
    .expect("writing to a String cannot fail");
    if let Some(title) = &config.title {
        let _ = writeln!(out, "# gitleaks title: {}", one_line(title));
    }
    let _ = writeln!(
        out,
        "# leakhound's built-in rules stay on (`leakhound rules list`){}; turn\n\
         # some off with disabled_rules. Imported rules have no examples: add some\n\
         # and check them with `leakhound rules check .leakhound.toml`.\n",
        match use_default {
            Some(true) => "",
            Some(false) | None =>
                ",\n# although this gitleaks configuration did not extend gitleaks' defaults",
        }
    );
    if !disabled.is_empty() {
        let _ = writeln!(out, "disabled_rules = {}\n", string_array(&disabled));
    }

    for (targets, a) in &allowlists {
        write_allowlist(&mut out, targets, a, &known, &mut warnings);
    }
    for spec in &converted {
        write_rule(&mut out, spec);
    }
    Ok(Imported {
        toml: out,
        warnings,
        rules: converted.len(),
        skipped,
    })
}

fn convert_rule(
    rule: &GitleaksRule,
    is_builtin: &impl Fn(&str) -> bool,
    warnings: &mut Vec<String>,
) -> Result<RuleSpec, String> {
    let name = &rule.id;
    let Some(regex) = &rule.regex else {
        return Err("has no regex (a path-only rule flags files, leakhound flags secrets)".into());
    };
    let mut id = kebab(&rule.id);
    if id.is_empty() {
        return Err("id has no letters or digits".into());
    }
    if is_builtin(&id) {
        let renamed = format!("{id}-imported");
        warnings.push(format!(
            "rule `{name}`: a built-in leakhound rule has this id; imported as `{renamed}`"
        ));
        id = renamed;
    } else if id != rule.id {
        warnings.push(format!(
            "rule `{name}`: imported as `{id}` (ids are kebab-case)"
        ));
    }
    let regex = secret_group_regex(regex, rule.secret_group)?;
    let keywords = if rule.keywords.is_empty() {
        match literal_prefixes(&regex) {
            Some(k) => {
                warnings.push(format!(
                    "rule `{name}`: no keywords; using the regex's literal prefixes {}",
                    string_array(&k)
                ));
                k
            }
            None => {
                return Err(
                    "has no keywords and its regex has no literal prefix to use as one \
                     (leakhound's prefilter needs one: add `keywords`)"
                        .into(),
                )
            }
        }
    } else {
        let mut k: Vec<String> = rule
            .keywords
            .iter()
            .filter(|k| !k.trim().is_empty())
            .map(|k| k.to_lowercase())
            .collect();
        k.dedup();
        k
    };
    if let Some(p) = &rule.path {
        warnings.push(format!(
            "rule `{name}`: path condition `{p}` dropped; the rule applies to every file"
        ));
    }
    for key in rule.other.keys() {
        warnings.push(format!("rule `{name}`: `{key}` is not converted; left out"));
    }
    let spec = RuleSpec {
        id: id.clone().into(),
        description: rule
            .description
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| format!("{} (imported from gitleaks)", rule.id))
            .into(),
        provider: IMPORTED_PROVIDER.into(),
        severity: Severity::High,
        regex: regex.into(),
        keywords: keywords.into_iter().map(Text::from).collect(),
        min_entropy: rule.entropy.filter(|e| *e > 0.0).map(|e| e.min(8.0)),
        priority: None,
        window: None,
        alternatives: List::default(),
        references: List::default(),
        context: None,
        generic: false,
        parts: None,
        part_only: false,
        examples: List::default(),
        negative_examples: List::default(),
    };
    // The same checks a scan makes when it loads the file.
    if let Err(e) = Rule::compile(spec.clone(), "import") {
        return Err(match e {
            Error::Rule { message, .. } => message,
            other => other.to_string(),
        });
    }
    Ok(spec)
}

/// Rewrite a gitleaks regex so that its secret is leakhound's one capture
/// group: the `secret_group`-th group if given, else the first group, else
/// the whole match. Other groups become non-capturing. Errors say why the
/// regex cannot be used.
fn secret_group_regex(pattern: &str, secret_group: Option<usize>) -> Result<String, String> {
    let parsed = ast::parse::Parser::new().parse(pattern).map_err(|e| {
        format!(
            "regex not supported by Rust's regex crate: {}",
            last_line(&e.to_string())
        )
    })?;
    // Rust's regex refuses some patterns the parser takes (a too-large
    // repetition, say): compile to be sure.
    regex::bytes::Regex::new(pattern).map_err(|e| {
        format!(
            "regex not supported by Rust's regex crate: {}",
            last_line(&e.to_string())
        )
    })?;
    let mut groups = Vec::new();
    collect_groups(&parsed, &mut groups);
    groups.sort_by_key(|g| g.index);
    let wanted = match secret_group {
        Some(0) | None => groups.first().map(|g| g.index),
        Some(n) => {
            if !groups.iter().any(|g| g.index as usize == n) {
                return Err(format!(
                    "secretGroup {n} but the regex has {} group{}",
                    groups.len(),
                    if groups.len() == 1 { "" } else { "s" }
                ));
            }
            Some(n as u32)
        }
    };
    let Some(wanted) = wanted else {
        return Ok(format!("(?P<secret>{pattern})"));
    };
    // Edit the openers from the back so earlier offsets stay valid.
    let mut edits: Vec<&Group> = groups.iter().collect();
    edits.sort_by_key(|g| std::cmp::Reverse(g.open_start));
    let mut out = pattern.to_string();
    for g in edits {
        let opener = if g.index == wanted {
            "(?P<secret>"
        } else {
            "(?:"
        };
        out.replace_range(g.open_start..g.open_end, opener);
    }
    Ok(out)
}

struct Group {
    index: u32,
    /// Byte range of `(`, `(?P<name>` or `(?<name>`.
    open_start: usize,
    open_end: usize,
}

fn collect_groups(node: &Ast, out: &mut Vec<Group>) {
    match node {
        Ast::Group(g) => {
            let index = match &g.kind {
                GroupKind::CaptureIndex(i) => Some(*i),
                GroupKind::CaptureName { name, .. } => Some(name.index),
                GroupKind::NonCapturing(_) => None,
            };
            if let Some(index) = index {
                out.push(Group {
                    index,
                    open_start: g.span.start.offset,
                    open_end: g.ast.span().start.offset,
                });
            }
            collect_groups(&g.ast, out);
        }
        Ast::Repetition(r) => collect_groups(&r.ast, out),
        Ast::Alternation(a) => a.asts.iter().for_each(|n| collect_groups(n, out)),
        Ast::Concat(c) => c.asts.iter().for_each(|n| collect_groups(n, out)),
        _ => {}
    }
}

/// Lowercase literal prefixes that every match starts with, usable as
/// keywords: at most 16, each at least 3 characters long.
fn literal_prefixes(pattern: &str) -> Option<Vec<String>> {
    let hir = match regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
    {
        Ok(hir) => hir,
        Err(_) => regex_syntax::Parser::new().parse(pattern).ok()?,
    };
    let mut extractor = Extractor::new();
    // Classes of up to 4 characters expand (`(?i)` letters, `[_-]`);
    // larger ones (`[0-9]`) end the prefix.
    extractor.kind(ExtractKind::Prefix).limit_class(4);
    let seq = extractor.extract(&hir);
    let mut keywords: Vec<String> = seq
        .literals()?
        .iter()
        .map(|l| String::from_utf8_lossy(l.as_bytes()).to_lowercase())
        .collect();
    keywords.sort();
    keywords.dedup();
    let usable = !keywords.is_empty()
        && keywords.len() <= 16
        && keywords.iter().all(|k| k.trim().chars().count() >= 3);
    usable.then_some(keywords)
}

fn write_allowlist(
    out: &mut String,
    targets: &[String],
    a: &GitleaksAllowlist,
    known: &impl Fn(&str) -> bool,
    warnings: &mut Vec<String>,
) {
    let label = match (targets.first(), &a.description) {
        (Some(_), Some(d)) | (None, Some(d)) => one_line(d),
        (Some(t), None) => format!("allowlist of rule {t}"),
        (None, None) => "global allowlist".into(),
    };
    let mut rules = Vec::new();
    for t in targets {
        let id = kebab(t);
        if known(&id) {
            rules.push(id);
        } else {
            warnings.push(format!(
                "allowlist `{label}`: targets rule `{t}`, which was not imported; left out of it"
            ));
        }
    }
    if !targets.is_empty() && rules.is_empty() {
        warnings.push(format!(
            "allowlist `{label}`: none of its rules were imported; skipped"
        ));
        return;
    }
    if !a.commits.is_empty() {
        warnings.push(format!(
            "allowlist `{label}`: {} commit{} left out (use fingerprints or a baseline)",
            a.commits.len(),
            if a.commits.len() == 1 { "" } else { "s" }
        ));
    }
    for key in a.other.keys() {
        warnings.push(format!(
            "allowlist `{label}`: `{key}` is not converted; left out"
        ));
    }
    let regex_target = match a.regex_target.as_deref() {
        None | Some("secret") => None,
        Some("line") => Some("line"),
        Some("match") => {
            warnings.push(format!(
                "allowlist `{label}`: regexTarget \"match\" becomes \"line\" (the whole line is matched)"
            ));
            Some("line")
        }
        Some(other) => {
            warnings.push(format!(
                "allowlist `{label}`: unknown regexTarget `{other}`; matched against the secret"
            ));
            None
        }
    };
    let condition = match a
        .condition
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("OR") => None,
        Some("AND") => Some("and"),
        Some(other) => {
            warnings.push(format!(
                "allowlist `{label}`: unknown condition `{other}`; treated as OR"
            ));
            None
        }
    };
    let (mut regexes, mut paths) = (Vec::new(), Vec::new());
    for (field, from, to) in [
        ("regexes", &a.regexes, &mut regexes),
        ("paths", &a.paths, &mut paths),
    ] {
        for r in from {
            match regex::bytes::Regex::new(r) {
                Ok(_) => to.push(r.clone()),
                Err(e) => warnings.push(format!(
                    "allowlist `{label}`: {field} `{r}` not supported by Rust's regex crate ({}); left out",
                    last_line(&e.to_string())
                )),
            }
        }
    }
    if regexes.is_empty() && paths.is_empty() && a.stopwords.is_empty() {
        if a.commits.is_empty() {
            warnings.push(format!("allowlist `{label}`: nothing to convert; skipped"));
        }
        return;
    }
    let _ = writeln!(out, "[[allowlists]]");
    let _ = writeln!(out, "description = {}", toml_string(&label));
    if !rules.is_empty() {
        let _ = writeln!(out, "rules = {}", string_array(&rules));
    }
    if !paths.is_empty() {
        let _ = writeln!(out, "paths = {}", string_array(&paths));
    }
    if !regexes.is_empty() {
        let _ = writeln!(out, "regexes = {}", string_array(&regexes));
    }
    if let Some(t) = regex_target {
        let _ = writeln!(out, "regex_target = \"{t}\"");
    }
    if !a.stopwords.is_empty() {
        let _ = writeln!(out, "stopwords = {}", string_array(&a.stopwords));
    }
    if let Some(c) = condition {
        let _ = writeln!(out, "condition = \"{c}\"");
    }
    let _ = writeln!(out);
}

fn write_rule(out: &mut String, spec: &RuleSpec) {
    let _ = writeln!(out, "[[rules]]");
    let _ = writeln!(out, "id = {}", toml_string(&spec.id));
    let _ = writeln!(out, "description = {}", toml_string(&spec.description));
    let _ = writeln!(out, "provider = {}", toml_string(&spec.provider));
    let _ = writeln!(out, "severity = \"{}\"", spec.severity.as_str());
    let _ = writeln!(out, "regex = {}", toml_string(&spec.regex));
    let _ = writeln!(out, "keywords = {}", string_array(&spec.keywords));
    if let Some(e) = spec.min_entropy {
        let _ = writeln!(out, "min_entropy = {e:?}");
    }
    let _ = writeln!(out);
}

/// A TOML string: a literal string (no escapes, readable for regexes) when
/// possible, else a basic string with escapes.
fn toml_string(s: &str) -> String {
    if !s.contains('\'') && !s.chars().any(char::is_control) {
        format!("'{s}'")
    } else {
        toml::Value::String(s.to_string()).to_string()
    }
}

fn string_array<S: AsRef<str>>(items: &[S]) -> String {
    let parts: Vec<String> = items.iter().map(|s| toml_string(s.as_ref())).collect();
    format!("[{}]", parts.join(", "))
}

/// A gitleaks id as a leakhound id: lowercase, `_`, `.` and spaces as `-`.
fn kebab(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            _ if !out.is_empty() && !out.ends_with('-') => out.push('-'),
            _ => {}
        }
    }
    out.trim_end_matches('-').to_string()
}

fn one_line(s: &str) -> String {
    crate::text::sanitize(s.lines().next().unwrap_or_default().trim())
}

fn last_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_group_becomes_the_one_capture_group() {
        assert_eq!(
            secret_group_regex(r"(?i)(acme)[_-]token\s*=\s*([a-z0-9]{32})", Some(2)).unwrap(),
            r"(?i)(?:acme)[_-]token\s*=\s*(?P<secret>[a-z0-9]{32})"
        );
        assert_eq!(
            secret_group_regex(r"key=(?P<k>[a-z]+)", None).unwrap(),
            r"key=(?P<secret>[a-z]+)"
        );
        assert_eq!(
            secret_group_regex(r"acme_[a-z]{8}", None).unwrap(),
            r"(?P<secret>acme_[a-z]{8})"
        );
        // Nested groups keep their offsets.
        assert_eq!(
            secret_group_regex(r"((a)(b))(c)", Some(3)).unwrap(),
            r"(?:(?:a)(?P<secret>b))(?:c)"
        );
        assert!(secret_group_regex(r"(a)", Some(2)).is_err());
        let e = secret_group_regex(r"(?=x)abc", None).unwrap_err();
        assert!(e.contains("not supported"), "{e}");
        assert!(secret_group_regex(r"(a)\1", None).is_err());
    }

    #[test]
    fn keywords_come_from_literal_prefixes() {
        assert_eq!(
            literal_prefixes(r"\b(acme_[a-z0-9]{24})\b"),
            Some(vec!["acme_".to_string()])
        );
        assert_eq!(
            literal_prefixes(r"(?i)(?:zq|xr)tok-[a-z]{8}"),
            Some(vec!["xrtok-".to_string(), "zqtok-".to_string()])
        );
        assert_eq!(literal_prefixes(r"[a-f0-9]{32}"), None);
        assert_eq!(literal_prefixes(r"ab[0-9]+"), None);
    }

    #[test]
    fn ids_become_kebab_case() {
        assert_eq!(kebab("ACME_internal.Token"), "acme-internal-token");
        assert_eq!(kebab("--x--"), "x");
        assert_eq!(kebab("__"), "");
    }

    #[test]
    fn toml_strings_round_trip() {
        for s in [r"\b(x)\b", "it's", "a\"b", "tab\there"] {
            let text = format!("v = {}", toml_string(s));
            let v: toml::Value = toml::from_str(&text).unwrap();
            assert_eq!(v["v"].as_str(), Some(s), "{text}");
        }
    }
}
