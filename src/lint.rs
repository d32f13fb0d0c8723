//! The rule linter. One function serves `leakhound rules check FILE` and the
//! test over every built-in rule: each example must match and capture the
//! stated secret, no negative example may match, and every example run
//! through the *whole* rule set must be attributed to the rule's provider, so
//! prefix collisions (`sk_live_`, bare `sk-`) show up here and not in users'
//! reports.

use crate::engine::{Matcher, Scratch};
use crate::rules::{Rule, RuleSet};

/// What the linter found wrong with one rule.
#[derive(Debug)]
pub struct Problem {
    pub rule: String,
    pub origin: String,
    pub message: String,
    pub kind: Kind,
}

/// What sort of problem: a caller may take missing examples more lightly
/// (a rule imported from gitleaks has none to begin with).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The rule has no examples, or no negative examples.
    NoExamples,
    /// An example or negative example fails, or the rule does not compile.
    Failure,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: rule `{}`: {}", self.origin, self.rule, self.message)
    }
}

/// Check the rules at `under_test` (indices into `full`'s rules) against
/// their own examples, alone and within the whole set.
pub fn check(full: &Matcher, under_test: &[usize]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut scratch = Scratch::default();
    for &idx in under_test {
        let rule = &full.rules().rules()[idx];
        let mut problem = |kind: Kind, message: String| {
            problems.push(Problem {
                rule: rule.id().to_string(),
                origin: rule.origin.clone(),
                message,
                kind,
            })
        };
        // Alone, a rule's parts are not in the set: they are linked by the
        // scan, not matched by the rule.
        let mut spec = rule.spec.clone();
        spec.parts = None;
        let alone = match Rule::compile(spec, &rule.origin).and_then(|r| RuleSet::new(vec![r])) {
            Ok(set) => Matcher::new(set),
            Err(e) => {
                problem(Kind::Failure, e.to_string());
                continue;
            }
        };
        if rule.spec.examples.is_empty() {
            problem(Kind::NoExamples, "has no examples".into());
        }
        if rule.spec.negative_examples.is_empty() {
            problem(Kind::NoExamples, "has no negative examples".into());
        }
        for (i, ex) in rule.spec.examples.iter().enumerate() {
            let found = alone.find(ex.text.as_bytes(), &mut scratch);
            if !found.iter().any(|m| m.secret == ex.secret.as_bytes()) {
                let got: Vec<String> = found
                    .iter()
                    .map(|m| String::from_utf8_lossy(&m.secret).into_owned())
                    .collect();
                problem(
                    Kind::Failure,
                    format!(
                        "example {} does not yield its secret (got {} match{}{})",
                        i + 1,
                        got.len(),
                        if got.len() == 1 { "" } else { "es" },
                        if got.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", got.join(", "))
                        }
                    ),
                );
                continue;
            }
            let in_full = full.find(ex.text.as_bytes(), &mut scratch);
            match in_full.iter().find(|m| m.secret == ex.secret.as_bytes()) {
                None => problem(Kind::Failure, format!(
                    "example {}: the whole rule set loses its secret (an overlapping rule wins with another span)",
                    i + 1
                )),
                Some(m) => {
                    let winner = &full.rules().rules()[m.rule];
                    if winner.provider() != rule.provider() {
                        problem(Kind::Failure, format!(
                            "example {} is attributed to `{}` by rule `{}` in the whole rule set",
                            i + 1,
                            winner.provider(),
                            winner.id()
                        ));
                    }
                }
            }
        }
        for (i, ex) in rule.spec.negative_examples.iter().enumerate() {
            let found = alone.find(ex.text.as_bytes(), &mut scratch);
            // A published example value (rules/known-examples.toml) is never
            // reported, so a negative example may hold one.
            if let Some(m) = found.iter().find(|m| !m.known_example) {
                problem(
                    Kind::Failure,
                    format!(
                        "negative example {} matches: {}",
                        i + 1,
                        String::from_utf8_lossy(&m.secret)
                    ),
                );
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in rule passes its own examples, alone and in the set.
    #[test]
    fn builtin_rules_pass_their_examples() {
        let set = RuleSet::builtin().expect("built-in rules compile");
        let n = set.len();
        let matcher = Matcher::new(set);
        let all: Vec<usize> = (0..n).collect();
        let problems = check(&matcher, &all);
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            problems.is_empty(),
            "{} problems:\n{}",
            problems.len(),
            text.join("\n")
        );
    }

    #[test]
    fn builtin_rule_coverage() {
        let set = RuleSet::builtin().unwrap();
        // Exact, so that a rule lost in a merge shows up here; a new rule
        // updates these numbers (and docs/rules.md's table).
        assert_eq!(set.len(), 1046, "built-in rules");
        let providers: std::collections::HashSet<&str> =
            set.rules().iter().map(|r| r.provider()).collect();
        assert_eq!(providers.len(), 829, "providers with a built-in rule");
        let generic: Vec<&str> = set
            .rules()
            .iter()
            .filter(|r| r.spec.generic)
            .map(|r| r.id())
            .collect();
        assert_eq!(generic, ["generic-secret-assignment"]);
        // The generic rule loses to every provider rule.
        let floor = set
            .rules()
            .iter()
            .filter(|r| !r.spec.generic)
            .map(|r| r.priority)
            .min();
        assert!(floor > Some(set.get("generic-secret-assignment").unwrap().priority));
        for provider in ["kunavo", "pinaivu", "konnect", "synstar", "kindo"] {
            assert!(
                set.rules().iter().any(|r| r.provider() == provider),
                "no rule for {provider}"
            );
        }
    }

    #[test]
    fn a_broken_example_is_reported() {
        let toml = r#"
[[rules]]
id = "demo-key"
description = "demo"
provider = "demo"
severity = "low"
regex = '''\b(demo_[a-z0-9]{10})\b'''
keywords = ["demo_"]
[[rules.examples]]
text = "x = demo_q8w7e6r5t4" # leakhound:allow (a made-up example)
secret = "demo_q8w7e6r5t4" # leakhound:allow (a made-up example)
[[rules.examples]]
text = "x = demo_short"
secret = "demo_short"
[[rules.negative_examples]]
text = "demo_a1b2c3d4e5"
"#;
        let specs = crate::rules::parse_rule_file("t.toml", toml).unwrap();
        let rules = specs
            .into_iter()
            .map(|s| Rule::compile(s, "t.toml").unwrap())
            .collect();
        let m = Matcher::new(RuleSet::new(rules).unwrap());
        let problems = check(&m, &[0]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].message.contains("example 2"));
        assert!(problems[1].message.contains("negative example 1"));
    }
}
