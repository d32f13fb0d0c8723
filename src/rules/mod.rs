//! Rules are data: `rules/*.toml` is compiled into the binary and users add
//! their own through `.leakhound.toml`. This module owns the file format
//! (`RuleSpec`), its compiled form (`Rule`) and the collection the matcher is
//! built from (`RuleSet`). The linter that checks a rule's examples runs the
//! matcher, so it sits above the engine, in `lint.rs`; it serves both
//! `leakhound rules check` and the test suite.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{describe_toml_error, Error, Result};

pub mod known;

macro_rules! builtin {
    ($name:literal) => {
        (
            concat!("rules/", $name, ".toml"),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/rules/",
                $name,
                ".toml"
            )),
        )
    };
}

macro_rules! builtin_json {
    ($name:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/rules/", $name, ".json"))
    };
}

/// The built-in rule files, embedded at compile time: one file per provider
/// family; the name is used in error messages and `rules list`. A new file
/// is added here and in [`BUILTIN_RULE_JSON`] (and its rules are then
/// checked by the test suite).
pub const BUILTIN_RULE_FILES: &[(&str, &str)] = &[
    builtin!("gateways"),
    builtin!("ai"),
    builtin!("ai-ml"),
    builtin!("vcs"),
    builtin!("registries"),
    builtin!("cloud"),
    builtin!("infra"),
    builtin!("devops"),
    builtin!("observability"),
    builtin!("analytics"),
    builtin!("security"),
    builtin!("messaging"),
    builtin!("crm"),
    builtin!("saas"),
    builtin!("payments"),
    builtin!("crypto-exchanges"),
    builtin!("commerce"),
    builtin!("productivity"),
    builtin!("social"),
    builtin!("data-apis"),
    builtin!("crypto"),
    builtin!("structured"),
    builtin!("generic"),
];

/// The same files as JSON, in the same order, which `build.rs` derives
/// from them: read at startup instead of the TOML (many times faster).
const BUILTIN_RULE_JSON: &[&str] = &[
    builtin_json!("gateways"),
    builtin_json!("ai"),
    builtin_json!("ai-ml"),
    builtin_json!("vcs"),
    builtin_json!("registries"),
    builtin_json!("cloud"),
    builtin_json!("infra"),
    builtin_json!("devops"),
    builtin_json!("observability"),
    builtin_json!("analytics"),
    builtin_json!("security"),
    builtin_json!("messaging"),
    builtin_json!("crm"),
    builtin_json!("saas"),
    builtin_json!("payments"),
    builtin_json!("crypto-exchanges"),
    builtin_json!("commerce"),
    builtin_json!("productivity"),
    builtin_json!("social"),
    builtin_json!("data-apis"),
    builtin_json!("crypto"),
    builtin_json!("structured"),
    builtin_json!("generic"),
];

/// How bad a leak of this kind is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A rule as written in a TOML file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub description: String,
    pub provider: String,
    pub severity: Severity,
    pub regex: String,
    pub keywords: Vec<String>,
    #[serde(default)]
    pub min_entropy: Option<f64>,
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub window: Option<usize>,
    #[serde(default)]
    pub alternatives: Vec<String>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub context: Option<ContextSpec>,
    /// A generic detector: its candidates must also pass the randomness and
    /// word-likeness checks (`engine::generic`), and its findings are marked
    /// `generic`. The regex may name the key's capture group `key`.
    #[serde(default)]
    pub generic: bool,
    /// Other rules whose matches complete this rule's credential (the AWS
    /// key id for the secret access key): found near it in the same file,
    /// they are linked to its finding as `parts`.
    #[serde(default)]
    pub parts: Option<PartsSpec>,
    /// The rule finds one half of a credential that is no secret alone (a
    /// Twilio account sid, an Algolia application id): it is never reported
    /// by itself, only linked as a part of another rule's finding.
    #[serde(default)]
    pub part_only: bool,
    #[serde(default)]
    pub examples: Vec<Example>,
    #[serde(default)]
    pub negative_examples: Vec<NegativeExample>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    pub any: Vec<String>,
    /// Weaker evidence: names that other providers' keys also travel under
    /// (`OPENAI_API_KEY` carries any OpenAI-compatible gateway's key). It
    /// attributes a key when no other provider's evidence is as near; a
    /// provider's host or name in the same block beats it.
    #[serde(default)]
    pub weak: Vec<String>,
    #[serde(default)]
    pub lines: usize,
    /// The evidence must sit on the key's line or in its block (its INI
    /// section, YAML parent, call or object, paragraph): `engine::evidence`.
    #[serde(default)]
    pub block: bool,
    #[serde(default = "default_true")]
    pub required: bool,
}

fn default_true() -> bool {
    true
}

/// `[rules.parts]`: the rules whose matches complete this rule's credential.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartsSpec {
    /// Rule ids, by preference: the nearest match of any of them is linked.
    pub rules: Vec<String>,
    /// How many lines away a part may be (0 = anywhere in the file).
    #[serde(default = "default_part_lines")]
    pub lines: usize,
}

fn default_part_lines() -> usize {
    DEFAULT_PART_LINES
}

/// Parts of one credential are usually written next to each other: in an
/// env file, a config block, one constructor call.
pub const DEFAULT_PART_LINES: usize = 10;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub text: String,
    pub secret: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NegativeExample {
    pub text: String,
}

/// A rule file: `[[rules]]` entries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

pub const DEFAULT_PRIORITY: i32 = 50;
pub const DEFAULT_WINDOW: usize = 512;
/// A window larger than this would make the regex cost follow the file size
/// again on files full of keyword hits.
const MAX_WINDOW: usize = 64 * 1024;

/// Evidence that attributes a key to a provider.
#[derive(Debug)]
pub struct Context {
    pub regexes: Vec<Regex>,
    /// `ContextSpec::weak`, compiled.
    pub weak: Vec<Regex>,
    /// 0 = anywhere in the buffer; N = within N lines of the secret.
    pub lines: usize,
    /// Only evidence in the key's line or block counts.
    pub block: bool,
    pub required: bool,
}

/// A rule: its spec, and its regexes compiled on first use. With hundreds
/// of built-in rules, compiling every regex at startup would cost more than
/// scanning a small change (a pre-commit hook); a rule whose keywords never
/// occur is never compiled. User rules are compiled at load
/// ([`Rule::compile`]) so that a bad regex is an error before the scan; the
/// built-in ones ([`Rule::builtin`]) are compiled by the test suite.
#[derive(Debug)]
pub struct Rule {
    pub spec: RuleSpec,
    compiled: OnceLock<Compiled>,
    pub priority: i32,
    pub window: usize,
    /// Where the rule came from: `rules/ai.toml` or a user file.
    pub origin: String,
}

/// A rule's regexes.
#[derive(Debug)]
struct Compiled {
    regex: Regex,
    /// Index of the capture group holding the secret.
    secret_group: usize,
    context: Option<Context>,
}

impl Rule {
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    pub fn provider(&self) -> &str {
        &self.spec.provider
    }

    pub fn regex(&self) -> &Regex {
        &self.compiled().regex
    }

    /// Index of the capture group holding the secret.
    pub fn secret_group(&self) -> usize {
        self.compiled().secret_group
    }

    pub fn context(&self) -> Option<&Context> {
        self.compiled().context.as_ref()
    }

    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            compile_parts(&self.spec, &self.origin)
                .expect("a rule's regexes were checked when it was loaded or by the test suite")
        })
    }

    /// Compile one rule, checking everything that can be checked without
    /// examples, regexes included.
    pub fn compile(spec: RuleSpec, origin: &str) -> Result<Rule> {
        let rule = Rule::builtin(spec, origin)?;
        let compiled = compile_parts(&rule.spec, origin)?;
        let _ = rule.compiled.set(compiled);
        Ok(rule)
    }

    /// Check a built-in rule's fields; its regexes compile on first use
    /// (`lint::tests` compiles every one).
    pub fn builtin(spec: RuleSpec, origin: &str) -> Result<Rule> {
        let fail = |message: String| Error::Rule {
            origin: origin.to_string(),
            rule: spec.id.clone(),
            message,
        };
        if !is_kebab_case(&spec.id) {
            return Err(fail("id must be kebab-case (a-z, 0-9, '-')".into()));
        }
        if !is_provider_id(&spec.provider) {
            return Err(fail(format!(
                "provider `{}` must be one lowercase word (a-z, 0-9)",
                spec.provider
            )));
        }
        if spec.keywords.is_empty() || spec.keywords.iter().any(|k| k.trim().is_empty()) {
            return Err(fail(
                "keywords must hold at least one non-empty literal".into(),
            ));
        }
        if spec.context.as_ref().is_some_and(|c| c.any.is_empty()) {
            return Err(fail("context.any must hold at least one regex".into()));
        }
        if let Some(e) = spec.min_entropy {
            if !(0.0..=8.0).contains(&e) {
                return Err(fail(format!("min_entropy {e} is outside 0..=8")));
            }
        }
        if spec.parts.as_ref().is_some_and(|p| p.rules.is_empty()) {
            return Err(fail("parts.rules must name at least one rule".into()));
        }
        if spec.part_only && spec.parts.is_some() {
            return Err(fail("a part_only rule cannot have parts of its own".into()));
        }
        let window = spec.window.unwrap_or(DEFAULT_WINDOW);
        if window == 0 || window > MAX_WINDOW {
            return Err(fail(format!("window must be in 1..={MAX_WINDOW}")));
        }
        Ok(Rule {
            priority: spec.priority.unwrap_or(DEFAULT_PRIORITY),
            window,
            compiled: OnceLock::new(),
            origin: origin.to_string(),
            spec,
        })
    }
}

/// Compile a rule's regex and context regexes, and find its secret group.
fn compile_parts(spec: &RuleSpec, origin: &str) -> Result<Compiled> {
    let fail = |message: String| Error::Rule {
        origin: origin.to_string(),
        rule: spec.id.clone(),
        message,
    };
    let regex = compile_regex(&spec.regex).map_err(|e| fail(format!("bad regex: {e}")))?;
    let secret_group = match regex.capture_names().position(|n| n == Some("secret")) {
        Some(i) => i,
        None if regex.captures_len() == 2 => 1,
        None => {
            return Err(fail(format!(
                "regex must have exactly one capture group or one named `secret` (it has {})",
                regex.captures_len() - 1
            )))
        }
    };
    let context = match &spec.context {
        None => None,
        Some(c) => {
            let compile = |list: &[String]| {
                list.iter()
                    .map(|r| compile_regex(r).map_err(|e| fail(format!("bad context regex: {e}"))))
                    .collect::<Result<Vec<_>>>()
            };
            Some(Context {
                regexes: compile(&c.any)?,
                weak: compile(&c.weak)?,
                lines: c.lines,
                block: c.block,
                required: c.required,
            })
        }
    };
    Ok(Compiled {
        regex,
        secret_group,
        context,
    })
}

/// Rust regexes on bytes with Unicode off: ASCII-only `\w`, `\d`, `\s` and
/// `\b`, which is faster and lets `.` match any byte. A rule that needs
/// Unicode classes (`\p{L}`) is compiled with Unicode on instead.
fn compile_regex(pattern: &str) -> std::result::Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(32 * 1024 * 1024)
        .build()
        .or_else(|_| {
            RegexBuilder::new(pattern)
                .size_limit(32 * 1024 * 1024)
                .build()
        })
}

fn is_kebab_case(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_provider_id(p: &str) -> bool {
    !p.is_empty()
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Parse a rule file's text. `origin` names it in errors.
pub fn parse_rule_file(origin: &str, text: &str) -> Result<Vec<RuleSpec>> {
    let file: RuleFile = toml::from_str(text).map_err(|e| Error::RuleFile {
        origin: origin.to_string(),
        message: describe_toml_error(text, &e),
    })?;
    Ok(file.rules)
}

/// The rules a scan runs.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Per rule, the indices of its `parts` rules.
    parts: Vec<Vec<usize>>,
    /// Per rule, the indices of the rules that name it as a part.
    part_of: Vec<Vec<usize>>,
}

impl RuleSet {
    /// Build from compiled rules, refusing duplicate ids and parts that
    /// name no rule of the set.
    pub fn new(rules: Vec<Rule>) -> Result<RuleSet> {
        let mut seen = HashSet::new();
        for rule in &rules {
            if !seen.insert(rule.id().to_string()) {
                return Err(Error::Rule {
                    origin: rule.origin.clone(),
                    rule: rule.id().to_string(),
                    message: "duplicate rule id".into(),
                });
            }
        }
        let index: HashMap<&str, usize> =
            rules.iter().enumerate().map(|(i, r)| (r.id(), i)).collect();
        let mut parts: Vec<Vec<usize>> = vec![Vec::new(); rules.len()];
        let mut part_of: Vec<Vec<usize>> = vec![Vec::new(); rules.len()];
        for (i, rule) in rules.iter().enumerate() {
            for id in rule.spec.parts.iter().flat_map(|p| p.rules.iter()) {
                let Some(&j) = index.get(id.as_str()) else {
                    return Err(Error::Rule {
                        origin: rule.origin.clone(),
                        rule: rule.id().to_string(),
                        message: format!("parts.rules names `{id}`, which is not a rule"),
                    });
                };
                parts[i].push(j);
                part_of[j].push(i);
            }
        }
        Ok(RuleSet {
            rules,
            parts,
            part_of,
        })
    }

    /// Indices of the rules that complete rule `i`'s credential, by preference.
    pub fn parts_of(&self, i: usize) -> &[usize] {
        &self.parts[i]
    }

    /// Does any rule use rule `i`'s matches as a part?
    pub fn is_a_part(&self, i: usize) -> bool {
        !self.part_of[i].is_empty()
    }

    /// The built-in rules.
    pub fn builtin() -> Result<RuleSet> {
        RuleSet::new(builtin_rules()?)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id() == id)
    }
}

/// Compile every built-in rule, read from the JSON form `build.rs` made of
/// each file; should that ever fail, the TOML text is parsed, which words
/// the error as for any rule file.
pub fn builtin_rules() -> Result<Vec<Rule>> {
    let mut rules = Vec::new();
    for ((origin, text), json) in BUILTIN_RULE_FILES.iter().zip(BUILTIN_RULE_JSON) {
        let specs = match serde_json::from_str::<RuleFile>(json) {
            Ok(file) => file.rules,
            Err(_) => parse_rule_file(origin, text)?,
        };
        for spec in specs {
            rules.push(Rule::builtin(spec, origin)?);
        }
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(regex: &str) -> RuleSpec {
        RuleSpec {
            id: "demo-key".into(),
            description: "demo".into(),
            provider: "demo".into(),
            severity: Severity::High,
            regex: regex.into(),
            keywords: vec!["demo_".into()],
            min_entropy: None,
            priority: None,
            window: None,
            alternatives: vec![],
            references: vec![],
            context: None,
            generic: false,
            parts: None,
            part_only: false,
            examples: vec![],
            negative_examples: vec![],
        }
    }

    #[test]
    fn secret_group_is_named_or_single() {
        let r = Rule::compile(spec(r"(demo_[a-z]+)"), "t").unwrap();
        assert_eq!(r.secret_group(), 1);
        let r = Rule::compile(spec(r"(x)?(?P<secret>demo_[a-z]+)"), "t").unwrap();
        assert_eq!(r.secret_group(), 2);
        let e = Rule::compile(spec(r"(x)(demo_[a-z]+)"), "t").unwrap_err();
        assert!(e.to_string().contains("exactly one capture group"), "{e}");
    }

    #[test]
    fn bad_ids_and_regexes_are_refused() {
        let mut s = spec(r"(demo_[a-z]+)");
        s.id = "Demo_Key".into();
        assert!(Rule::compile(s, "t").is_err());
        let e = Rule::compile(spec(r"(demo_[a-z+)"), "t").unwrap_err();
        assert!(e.to_string().contains("bad regex"), "{e}");
    }

    #[test]
    fn json_form_of_the_builtin_rules_is_their_toml() {
        assert_eq!(BUILTIN_RULE_FILES.len(), BUILTIN_RULE_JSON.len());
        for ((origin, text), json) in BUILTIN_RULE_FILES.iter().zip(BUILTIN_RULE_JSON) {
            let from_toml = parse_rule_file(origin, text).unwrap();
            let from_json = serde_json::from_str::<RuleFile>(json).unwrap().rules;
            assert_eq!(
                format!("{from_toml:?}"),
                format!("{from_json:?}"),
                "{origin}"
            );
            assert!(!from_toml.is_empty(), "{origin}");
        }
        let files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/rules"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml") && n != "known-examples.toml")
            .collect();
        assert_eq!(
            files.len(),
            BUILTIN_RULE_FILES.len(),
            "every rules/*.toml is built in"
        );
    }

    #[test]
    fn toml_errors_name_line_and_column() {
        // A syntax error: where it is.
        let e = parse_rule_file("user.toml", "[[rules]]\nid = \"x\"\nbogus = = 1\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("user.toml: 3:9: "), "{msg}");
        // An unknown key in a complete rule: the key.
        let rule = "[[rules]]\nid = \"x\"\ndescription = \"d\"\nprovider = \"p\"\n\
                    severity = \"low\"\nregex = \"(x)\"\nkeywords = [\"x\"]\nbogus = 1\n";
        let msg = parse_rule_file("user.toml", rule).unwrap_err().to_string();
        assert!(msg.starts_with("user.toml: 8:1: "), "{msg}");
        assert!(msg.contains("bogus"), "{msg}");
    }
}
