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
//!
//! gitleaks' own rule ids (`generic-api-key`, `github-pat`, …) name
//! leakhound's rules through [`RULE_IDS`], in `disabledRules`,
//! `targetRules` and `.gitleaksignore` fingerprints ([`Ignore`]);
//! docs/gitleaks.md lists the table.

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
            let mapped = leakhound_ids(id);
            if is_builtin(id) {
                disabled.push(id.clone());
            } else if !mapped.is_empty() {
                disabled.extend(mapped.iter().map(|m| m.to_string()));
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
        let mapped = leakhound_ids(t);
        if known(&id) {
            rules.push(id);
        } else if !mapped.is_empty() {
            rules.extend(mapped.iter().map(|m| m.to_string()));
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

/// gitleaks' rule ids (its default configuration, v8) and the leakhound
/// rules that find the same keys. docs/gitleaks.md is this table (a test
/// keeps the two alike); `leakhound rules list` shows every rule.
pub const RULE_IDS: &[(&str, &[&str])] = &[
    ("generic-api-key", &["generic-secret-assignment"]),
    ("github-pat", &["github-pat-classic"]),
    ("github-fine-grained-pat", &["github-pat-fine-grained"]),
    ("github-oauth", &["github-oauth-token"]),
    (
        "github-app-token",
        &["github-app-user-token", "github-app-installation-token"],
    ),
    ("github-refresh-token", &["github-refresh-token"]),
    ("gitlab-pat", &["gitlab-pat"]),
    ("gitlab-ptt", &["gitlab-pipeline-trigger-token"]),
    ("gitlab-rrt", &["gitlab-runner-registration-token"]),
    (
        "gitlab-runner-authentication-token",
        &["gitlab-runner-token"],
    ),
    ("gitlab-deploy-token", &["gitlab-deploy-token"]),
    ("gitlab-cicd-job-token", &["gitlab-cicd-job-token"]),
    ("gitlab-feed-token", &["gitlab-feed-token"]),
    (
        "gitlab-incoming-mail-token",
        &["gitlab-incoming-mail-token"],
    ),
    ("gitlab-kubernetes-agent-token", &["gitlab-agent-token"]),
    ("gitlab-oauth-app-secret", &["gitlab-oauth-app-secret"]),
    ("gitlab-scim-token", &["gitlab-scim-token"]),
    ("gitlab-session-cookie", &["gitlab-session-cookie"]),
    (
        "gitlab-feature-flag-client-token",
        &["gitlab-feature-flag-client-token"],
    ),
    ("aws-access-token", &["aws-access-key-id"]),
    (
        "private-key",
        &[
            "pem-private-key",
            "openssh-private-key",
            "pgp-private-key",
            "putty-private-key",
        ],
    ),
    ("jwt", &["jwt-token"]),
    ("slack-bot-token", &["slack-bot-token"]),
    ("slack-user-token", &["slack-user-token"]),
    ("slack-app-token", &["slack-app-token"]),
    ("slack-config-access-token", &["slack-config-access-token"]),
    (
        "slack-config-refresh-token",
        &["slack-config-refresh-token"],
    ),
    ("slack-webhook-url", &["slack-webhook-url"]),
    (
        "stripe-access-token",
        &[
            "stripe-secret-key",
            "stripe-restricted-key",
            "stripe-test-secret-key",
        ],
    ),
    (
        "openai-api-key",
        &[
            "openai-project-key",
            "openai-service-account-key",
            "openai-admin-key",
            "openai-legacy-key",
        ],
    ),
    ("anthropic-api-key", &["anthropic-api-key"]),
    ("anthropic-admin-api-key", &["anthropic-admin-key"]),
    ("gcp-api-key", &["google-api-key"]),
    ("twilio-api-key", &["twilio-api-key"]),
    ("sendgrid-api-token", &["sendgrid-api-key"]),
    (
        "mailgun-private-api-token",
        &["mailgun-api-key", "mailgun-api-key-legacy"],
    ),
    ("mailchimp-api-key", &["mailchimp-api-key"]),
    ("npm-access-token", &["npm-access-token"]),
    ("pypi-upload-token", &["pypi-upload-token"]),
    ("rubygems-api-token", &["rubygems-api-key"]),
    (
        "nuget-config-password",
        &["nuget-config-cleartext-password"],
    ),
    ("clojars-api-token", &["clojars-deploy-token"]),
    ("heroku-api-key", &["heroku-api-key-legacy"]),
    ("heroku-api-key-v2", &["heroku-api-key"]),
    ("digitalocean-pat", &["digitalocean-pat"]),
    ("digitalocean-access-token", &["digitalocean-oauth-token"]),
    (
        "digitalocean-refresh-token",
        &["digitalocean-refresh-token"],
    ),
    ("discord-api-token", &["discord-bot-token"]),
    ("telegram-bot-api-token", &["telegram-bot-token"]),
    ("shopify-access-token", &["shopify-access-token"]),
    ("shopify-custom-access-token", &["shopify-custom-app-token"]),
    (
        "shopify-private-app-access-token",
        &["shopify-private-app-token"],
    ),
    ("shopify-shared-secret", &["shopify-shared-secret"]),
    ("notion-api-token", &["notion-integration-token"]),
    ("linear-api-key", &["linear-api-key"]),
    ("postman-api-token", &["postman-api-key"]),
    ("pulumi-api-token", &["pulumi-access-token"]),
    ("doppler-api-token", &["doppler-token"]),
    (
        "dropbox-short-lived-api-token",
        &["dropbox-short-lived-token"],
    ),
    (
        "dropbox-long-lived-api-token",
        &["dropbox-long-lived-token"],
    ),
    ("datadog-access-token", &["datadog-api-key"]),
    ("new-relic-user-api-key", &["newrelic-user-api-key"]),
    ("new-relic-insert-key", &["newrelic-insert-key"]),
    ("sentry-access-token", &["sentry-auth-token"]),
    ("sentry-org-token", &["sentry-org-token"]),
    ("sentry-user-token", &["sentry-user-token"]),
    ("grafana-api-key", &["grafana-api-key"]),
    ("grafana-cloud-api-token", &["grafana-cloud-api-token"]),
    (
        "grafana-service-account-token",
        &["grafana-service-account-token"],
    ),
    ("vault-service-token", &["vault-service-token"]),
    ("vault-batch-token", &["vault-batch-token"]),
    ("huggingface-access-token", &["huggingface-access-token"]),
    (
        "huggingface-organization-api-token",
        &["huggingface-org-token"],
    ),
    ("okta-access-token", &["okta-api-token"]),
    ("twitter-bearer-token", &["twitter-bearer-token"]),
    ("twitter-api-secret", &["twitter-api-secret"]),
    ("twitter-access-token", &["twitter-access-token"]),
    ("facebook-access-token", &["facebook-access-token"]),
    ("facebook-secret", &["facebook-app-secret"]),
    ("azure-ad-client-secret", &["azure-ad-client-secret"]),
    ("age-secret-key", &["age-secret-key"]),
    ("1password-secret-key", &["1password-secret-key"]),
    (
        "1password-service-account-token",
        &["1password-service-account-token"],
    ),
    ("cloudflare-api-key", &["cloudflare-api-token"]),
    ("cloudflare-global-api-key", &["cloudflare-global-api-key"]),
    ("cloudflare-origin-ca-key", &["cloudflare-origin-ca-key"]),
    ("alibaba-access-key-id", &["alibaba-access-key-id"]),
    ("alibaba-secret-key", &["alibaba-access-key-secret"]),
    (
        "atlassian-api-token",
        &["atlassian-api-token", "atlassian-api-token-legacy"],
    ),
    ("databricks-api-token", &["databricks-token"]),
    (
        "flyio-access-token",
        &["flyio-macaroon-token", "flyio-oauth-token"],
    ),
    ("jfrog-api-key", &["jfrog-artifactory-api-key"]),
    ("jfrog-identity-token", &["jfrog-reference-token"]),
    ("square-access-token", &["square-access-token"]),
];

/// The leakhound rules a gitleaks rule id stands for ([`RULE_IDS`]); empty
/// when the table does not know it.
pub fn leakhound_ids(gitleaks_id: &str) -> &'static [&'static str] {
    RULE_IDS
        .iter()
        .find(|(g, _)| g.eq_ignore_ascii_case(gitleaks_id))
        .map_or(&[], |(_, ids)| ids)
}

/// `.gitleaksignore`: the findings gitleaks was told not to report, one
/// fingerprint a line, `file:rule-id:line` (a directory scan) or
/// `commit:file:rule-id:line` (a git scan); `#` starts a comment. The rule
/// id is gitleaks' (mapped through [`RULE_IDS`]) or leakhound's own.
#[derive(Debug, Default)]
pub struct Ignore {
    /// The file read, as its note and errors name it.
    pub path: std::path::PathBuf,
    entries: Vec<IgnoreEntry>,
}

#[derive(Debug)]
struct IgnoreEntry {
    commit: Option<String>,
    file: String,
    /// leakhound rule ids (the written id as well, in case it is one).
    rules: Vec<String>,
    line: usize,
}

/// The name gitleaks reads it under, at the root of the scanned tree.
pub const IGNORE_FILE_NAME: &str = ".gitleaksignore";

impl Ignore {
    /// Read a `.gitleaksignore`; a malformed line is an error naming the
    /// file and the line.
    pub fn load(path: &std::path::Path) -> Result<Ignore> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        Ignore::parse(&text, path)
    }

    /// Parse the text of a `.gitleaksignore` read from `path`.
    pub fn parse(text: &str, path: &std::path::Path) -> Result<Ignore> {
        let mut entries = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = parse_fingerprint(line).ok_or_else(|| Error::Config {
                path: path.to_path_buf(),
                message: format!(
                    "line {}: `{}` is not a gitleaks fingerprint (file:rule-id:line or commit:file:rule-id:line)",
                    n + 1,
                    crate::text::sanitize(line)
                ),
            })?;
            entries.push(entry);
        }
        Ok(Ignore {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// Fingerprints read.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file held no fingerprint.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Does a fingerprint name this finding? A fingerprint without a commit
    /// names the finding at that place in any commit, and outside git.
    pub fn covers(&self, finding: &crate::finding::Finding) -> bool {
        let path = finding.path.strip_prefix("./").unwrap_or(&finding.path);
        self.entries.iter().any(|e| {
            e.line == finding.line
                && e.file == path
                && e.rules.contains(&finding.rule_id)
                && match (&e.commit, &finding.commit) {
                    (None, _) => true,
                    (Some(c), Some(fc)) => fc.id.starts_with(c.as_str()),
                    (Some(_), None) => false,
                }
        })
    }
}

fn parse_fingerprint(text: &str) -> Option<IgnoreEntry> {
    let mut back = text.rsplitn(3, ':');
    let line: usize = back.next()?.trim().parse().ok()?;
    let rule = back.next()?.trim();
    let rest = back.next()?;
    if rule.is_empty() || rest.is_empty() {
        return None;
    }
    let (commit, file) = match rest.split_once(':') {
        Some((c, f))
            if (7..=64).contains(&c.len())
                && c.bytes().all(|b| b.is_ascii_hexdigit())
                && !f.is_empty() =>
        {
            (Some(c.to_ascii_lowercase()), f)
        }
        _ => (None, rest),
    };
    let mut rules: Vec<String> = leakhound_ids(rule).iter().map(|s| s.to_string()).collect();
    rules.push(rule.to_string());
    Some(IgnoreEntry {
        commit,
        file: file.strip_prefix("./").unwrap_or(file).to_string(),
        rules,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_rule_exists() {
        let builtin = rules::builtin_rules().unwrap();
        for (g, ids) in RULE_IDS {
            assert!(!ids.is_empty(), "{g}");
            for id in *ids {
                assert!(
                    builtin.iter().any(|r| r.id() == *id),
                    "{g} maps to {id}, which is not a built-in rule"
                );
            }
        }
        assert_eq!(leakhound_ids("GitHub-PAT"), &["github-pat-classic"]);
        assert!(leakhound_ids("no-such-rule").is_empty());
    }

    /// docs/gitleaks.md lists the whole table, row for row.
    #[test]
    fn the_mapping_is_documented() {
        let doc = include_str!("../docs/gitleaks.md");
        for (g, ids) in RULE_IDS {
            let row = format!(
                "| `{g}` | {} |",
                ids.iter()
                    .map(|i| format!("`{i}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            assert!(doc.contains(&row), "docs/gitleaks.md lacks the row {row}");
        }
    }

    #[test]
    fn gitleaksignore_lines() {
        let path = std::path::Path::new(".gitleaksignore");
        let ig = Ignore::parse(
            "# comment\n\nsrc/a.py:generic-api-key:3\n0123abcd4567:cfg/b.env:github-pat:12\nweird:name.txt:stripe-secret-key:1\n",
            path,
        )
        .unwrap();
        assert_eq!(ig.len(), 3);
        assert_eq!(ig.entries[0].file, "src/a.py");
        assert!(ig.entries[0]
            .rules
            .contains(&"generic-secret-assignment".to_string()));
        assert_eq!(ig.entries[1].commit.as_deref(), Some("0123abcd4567"));
        assert_eq!(ig.entries[1].file, "cfg/b.env");
        // Not hex: part of the file name.
        assert_eq!(ig.entries[2].commit, None);
        assert_eq!(ig.entries[2].file, "weird:name.txt");
        let e = Ignore::parse("a.py:rule\n", path).unwrap_err().to_string();
        assert!(e.contains(".gitleaksignore") && e.contains("line 1"), "{e}");
        assert!(Ignore::parse("a.py:rule:x\n", path).is_err());
    }

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
