//! The rule file format: what a `[[rules]]` entry of `rules/*.toml` or a
//! user's `.leakhound.toml` holds. `build.rs` includes this file too: it
//! reads the built-in rule files into these types and writes them out as
//! Rust statics, so that the built-in rules are compiled in already parsed
//! and a scan's startup neither parses nor copies them (a pre-commit hook
//! runs on every commit). Hence the text fields are `Cow<'static, …>`:
//! borrowed from the binary for the built-in rules, owned for a user's.
//!
//! Nothing here may depend on the rest of the crate.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Text of a rule: borrowed from the binary, or owned (a user's rule).
pub type Text = Cow<'static, str>;
/// A list in a rule: borrowed from the binary, or owned.
pub type List<T> = Cow<'static, [T]>;

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
    pub id: Text,
    pub description: Text,
    pub provider: Text,
    pub severity: Severity,
    pub regex: Text,
    pub keywords: List<Text>,
    #[serde(default)]
    pub min_entropy: Option<f64>,
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub window: Option<usize>,
    #[serde(default)]
    pub alternatives: List<Text>,
    #[serde(default)]
    pub references: List<Text>,
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
    pub examples: List<Example>,
    #[serde(default)]
    pub negative_examples: List<NegativeExample>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    pub any: List<Text>,
    /// Weaker evidence: names that other providers' keys also travel under
    /// (`OPENAI_API_KEY` carries any OpenAI-compatible gateway's key). It
    /// attributes a key when no other provider's evidence is as near; a
    /// provider's host or name in the same block beats it.
    #[serde(default)]
    pub weak: List<Text>,
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
    pub rules: List<Text>,
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
    pub text: Text,
    pub secret: Text,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NegativeExample {
    pub text: Text,
}

/// A rule file: `[[rules]]` entries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
}
