//! Rules are data: `rules/*.toml` is compiled into the binary and users add
//! their own through `.leakhound.toml`. This module owns the file format
//! (`RuleSpec`), its compiled form (`Rule`) and the collection the matcher is
//! built from (`RuleSet`). The linter that checks a rule's examples runs the
//! matcher, so it sits above the engine, in `lint.rs`; it serves both
//! `leakhound rules check` and the test suite.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex::bytes::{Regex, RegexBuilder};

use crate::error::{describe_toml_error, Error, Result};

pub mod known;
mod spec;

use spec::RuleFile;
pub use spec::{
    ContextSpec, Example, List, NegativeExample, PartsSpec, RuleSpec, Severity, Text,
    DEFAULT_PART_LINES,
};

/// The built-in rule files as `build.rs` read them: `builtin_specs(name)`
/// is `rules/NAME.toml`'s rules, or `None` if that file did not parse
/// (the TOML text is then parsed at run time, which words the error).
mod generated {
    use super::spec::*;
    use std::borrow::Cow;
    include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));
}

/// The built-in rule files, embedded at compile time, in the order their
/// rules run: one file per provider family; the name is used in error
/// messages and `rules list`. `build.rs` holds the list (a new file is
/// added there, and its rules are then checked by the test suite) and
/// compiles each file in parsed.
pub use generated::BUILTIN_RULE_FILES;

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
    /// The longest match the regex can make, in bytes, if it has a bound.
    max_len: Option<usize>,
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

    /// The longest match the rule's regex can make, in bytes; `None` when
    /// it has no bound (a `*` or `+` in it).
    pub fn max_len(&self) -> Option<usize> {
        self.compiled().max_len
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
            rule: spec.id.to_string(),
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
        rule: spec.id.to_string(),
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
            let compile = |list: &[Text]| {
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
        max_len: max_len(&spec.regex),
        regex,
        secret_group,
        context,
    })
}

/// The longest match of `pattern` in bytes, read the way `compile_regex`
/// reads it (bytes first, Unicode if that fails: a Unicode class's bound
/// counts four bytes a character, which only errs long).
fn max_len(pattern: &str) -> Option<usize> {
    let parse = |unicode: bool| {
        regex_syntax::ParserBuilder::new()
            .unicode(unicode)
            .utf8(unicode)
            .build()
            .parse(pattern)
            .ok()
    };
    let hir = parse(false).or_else(|| parse(true))?;
    hir.properties().maximum_len()
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
        let mut seen: HashSet<&str> = HashSet::with_capacity(rules.len());
        for rule in &rules {
            if !seen.insert(rule.id()) {
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
                let Some(&j) = index.get(id.as_ref()) else {
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

/// Are `rules` exactly the built-in rules, in their order: none disabled,
/// none added, each the compiled-in spec (not a copy changed since)? The
/// matcher then uses the plan compiled in for them.
pub fn is_builtin_set(rules: &RuleSet) -> bool {
    let same = |a: &str, b: &str| std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len();
    let mut builtin = BUILTIN_RULE_FILES
        .iter()
        .flat_map(|(origin, _)| generated::builtin_specs(file_name(origin)).unwrap_or(&[]));
    let all_match = rules.rules().iter().all(|r| {
        builtin.next().is_some_and(|b| {
            same(&r.spec.id, &b.id)
                && std::ptr::eq(r.spec.keywords.as_ptr(), b.keywords.as_ptr())
                && r.spec.keywords.len() == b.keywords.len()
                && std::ptr::eq(r.spec.examples.as_ptr(), b.examples.as_ptr())
                && r.spec.examples.len() == b.examples.len()
        })
    });
    all_match && builtin.next().is_none()
}

/// `rules/NAME.toml` → `NAME`.
fn file_name(origin: &str) -> &str {
    origin
        .strip_prefix("rules/")
        .and_then(|n| n.strip_suffix(".toml"))
        .expect("BUILTIN_RULE_FILES names rules/NAME.toml")
}

/// Every built-in rule, from the parsed form `build.rs` made of each file
/// (nothing is parsed or copied); should a file not have parsed there, its
/// TOML text is parsed, which words the error as for any rule file.
pub fn builtin_rules() -> Result<Vec<Rule>> {
    let mut rules = Vec::with_capacity(1024);
    for (origin, text) in BUILTIN_RULE_FILES {
        match generated::builtin_specs(file_name(origin)) {
            Some(specs) => {
                for spec in specs {
                    rules.push(Rule::builtin(spec.clone(), origin)?);
                }
            }
            None => {
                for spec in parse_rule_file(origin, text)? {
                    rules.push(Rule::builtin(spec, origin)?);
                }
            }
        }
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn spec(regex: &str) -> RuleSpec {
        RuleSpec {
            id: "demo-key".into(),
            description: "demo".into(),
            provider: "demo".into(),
            severity: Severity::High,
            regex: regex.to_string().into(),
            keywords: Cow::Borrowed(&[Cow::Borrowed("demo_")]),
            min_entropy: None,
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
    fn compiled_form_of_the_builtin_rules_is_their_toml() {
        for (origin, text) in BUILTIN_RULE_FILES {
            let from_toml = parse_rule_file(origin, text).unwrap();
            let name = &origin["rules/".len()..origin.len() - ".toml".len()];
            let compiled = generated::builtin_specs(name).unwrap();
            assert_eq!(
                format!("{from_toml:?}"),
                format!("{compiled:?}"),
                "{origin}"
            );
            assert!(!from_toml.is_empty(), "{origin}");
            assert!(
                compiled
                    .iter()
                    .all(|s| matches!(s.id, Cow::Borrowed(_))
                        && matches!(s.examples, Cow::Borrowed(_))),
                "{origin}: borrowed from the binary"
            );
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
