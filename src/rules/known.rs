//! Published example keys: values printed in vendors' documentation (AWS's
//! `AKIAIOSFODNN7EXAMPLE`, Stripe's docs test key, the jwt.io token). They
//! match their rules, but they are not leaks; the matcher marks a secret
//! equal to one of them, and the scan suppresses and counts it. The list is
//! data, `rules/known-examples.toml`, compiled in.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::{describe_toml_error, Error, Result};

pub const KNOWN_EXAMPLES_FILE: (&str, &str) = (
    "rules/known-examples.toml",
    include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/known-examples.toml"
    )),
);

/// One published example value.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownExample {
    pub value: String,
    /// Who published it, in a few words.
    pub source: String,
    /// The page it was published on.
    pub reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KnownFile {
    examples: Vec<KnownExample>,
}

/// Parse a known-examples file.
pub fn parse_known_examples(origin: &str, text: &str) -> Result<Vec<KnownExample>> {
    let file: KnownFile = toml::from_str(text).map_err(|e| Error::RuleFile {
        origin: origin.to_string(),
        message: describe_toml_error(text, &e),
    })?;
    Ok(file.examples)
}

/// The built-in list, parsed on first use.
pub fn builtin_known_examples() -> &'static [KnownExample] {
    static LIST: OnceLock<Vec<KnownExample>> = OnceLock::new();
    LIST.get_or_init(|| {
        let (origin, text) = KNOWN_EXAMPLES_FILE;
        parse_known_examples(origin, text)
            .expect("rules/known-examples.toml is checked by the test suite")
    })
}

/// Is `secret` exactly a published example value?
pub fn is_known_example(secret: &[u8]) -> bool {
    static SET: OnceLock<HashSet<&'static [u8]>> = OnceLock::new();
    SET.get_or_init(|| {
        builtin_known_examples()
            .iter()
            .map(|e| e.value.as_bytes())
            .collect()
    })
    .contains(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_parses_and_has_no_duplicates() {
        let (origin, text) = KNOWN_EXAMPLES_FILE;
        let list = parse_known_examples(origin, text).unwrap();
        assert!(list.len() >= 10, "{}", list.len());
        let mut seen = HashSet::new();
        for e in &list {
            assert!(seen.insert(&e.value), "duplicate {}", e.value);
            assert!(e.reference.starts_with("https://"), "{}", e.value);
            assert!(!e.source.trim().is_empty());
        }
        assert!(is_known_example(b"AKIAIOSFODNN7EXAMPLE"));
        // One letter off AWS's example, built here so that scanning this
        // file does not report it.
        let near = format!("{}F", "AKIAIOSFODNN7EXAMPL");
        assert!(!is_known_example(near.as_bytes()));
        assert!(!is_known_example(b"AKIAIOSFODNN7EXAMPL"));
    }
}
