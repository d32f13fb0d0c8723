//! The rule set as a whole, through the binary: a tree with one file per
//! built-in example yields every example's secret, attributed to the right
//! provider; the providers' own documentation yields nothing; `rules check`
//! and `rules list` work on user files.

use crate::util::*;

#[test]
fn every_builtin_example_is_found_and_attributed() {
    let dir = tempdir();
    let rules = leakhound::rules::builtin_rules().expect("built-in rules compile");
    let mut expected = Vec::new();
    // Part-only rules (a Twilio account sid) are never reported alone:
    // their examples are checked as parts (tests/cli/breadth.rs).
    for rule in rules.iter().filter(|r| !r.spec.part_only) {
        for (i, ex) in rule.spec.examples.iter().enumerate() {
            let rel = format!("planted/{}-{i}.txt", rule.id());
            write(dir.path(), &rel, ex.text.as_bytes());
            expected.push((
                rel,
                ex.secret.to_string(),
                rule.provider().to_string(),
                rule.id().to_string(),
            ));
        }
    }
    // Every rule brings at least one example (the linter requires it), so
    // this covers every rule, however many there are.
    let without: Vec<&str> = rules
        .iter()
        .filter(|r| r.spec.examples.is_empty())
        .map(|r| r.id())
        .collect();
    assert!(without.is_empty(), "rules without examples: {without:?}");
    // Every confidence: a rule's example is found whatever its confidence
    // (a word-like password in a `.txt` is `low`).
    let run = scan_json(dir.path(), &["--min-confidence", "low", "planted"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    let mut missing = Vec::new();
    for (path, secret, provider, rule) in &expected {
        let hit = findings
            .iter()
            .find(|f| f["path"] == path.as_str() && f["secret"] == secret.as_str());
        match hit {
            None => missing.push(format!("{rule}: {path} not found")),
            Some(f) if f["provider"] != provider.as_str() => missing.push(format!(
                "{rule}: {path} attributed to {} by {}",
                f["provider"], f["rule_id"]
            )),
            Some(_) => {}
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn provider_documentation_and_placeholders_yield_nothing() {
    let dir = tempdir();
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/seeds");
    for entry in std::fs::read_dir(&seeds).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    write(
        dir.path(),
        "placeholders.md",
        r#"
Authorization: Bearer sk-kunavo-XXX
export KUNAVO_API_KEY="sk-kunavo-..."
export KUNAVO_API_KEY="sk-kunavo-new-..."
PINAIVU_API_KEY=sk-pnv-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
Authorization: Bearer sk_live_your_api_key_here
KONNECT_API_KEY=sk_live_your_api_key_here
SYNSTAR_KEY=sk-xxxxxxxxxxxxxxxx   # https://www.kkiai.com/v1
curl https://api.kindo.ai/v1/models -H "Authorization: Bearer YOUR_API_KEY"
curl https://api.kindo.ai/v1/models -H "x-api-key: YOUR_API_KEY"
KINDO_API_KEY=$KINDO_API_KEY
api_key = os.environ["KUNAVO_API_KEY"]
apiKey: process.env.KUNAVO_API_KEY,
"#,
    );
    let run = scan_json(dir.path(), &[]);
    assert_eq!(run.code, 0, "unexpected findings:\n{}", run.stdout);
    assert!(run.findings().is_empty());
}

#[test]
fn rules_list_shows_builtin_rules() {
    let run = run(leakhound().args(["rules", "list"]));
    assert_eq!(run.code, 0);
    for id in [
        "kunavo-api-key",
        "pinaivu-api-key",
        "konnect-live-api-key",
        "synstar-api-key",
        "kindo-api-key",
    ] {
        assert!(run.stdout.contains(id), "{id} missing");
    }
    // Exactly the embedded rules, each once.
    let json = run_json_list();
    let builtin = leakhound::rules::builtin_rules().unwrap();
    assert_eq!(json.len(), builtin.len());
    let listed: std::collections::BTreeSet<&str> =
        json.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let embedded: std::collections::BTreeSet<&str> = builtin.iter().map(|r| r.id()).collect();
    assert_eq!(listed, embedded);
}

fn run_json_list() -> Vec<serde_json::Value> {
    let r = run(leakhound().args(["rules", "list", "--format", "json"]));
    assert_eq!(r.code, 0);
    serde_json::from_str(&r.stdout).unwrap()
}

const USER_RULE: &str = r#"
[[rules]]
id = "acme-internal-token"
description = "ACME internal service token"
provider = "acme"
severity = "high"
regex = '''\b(acme_[A-Za-z0-9]{24})\b'''
keywords = ["acme_"]
min_entropy = 3.0

[[rules.examples]]
text = 'ACME_TOKEN = "acme_Qm7vT2xR9pL4sK8wN1bY6cF3"'
secret = "acme_Qm7vT2xR9pL4sK8wN1bY6cF3"

[[rules.negative_examples]]
text = 'ACME_TOKEN = "acme_xxxxxxxxxxxxxxxxxxxxxxxx"'
"#;

#[test]
fn rules_check_passes_a_good_user_file_and_scan_uses_it() {
    let dir = tempdir();
    write(dir.path(), ".leakhound.toml", USER_RULE);
    let r = run(leakhound()
        .current_dir(dir.path())
        .args(["rules", "check", ".leakhound.toml"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("1 rule, 2 examples checked, 0 problems"),
        "{}",
        r.stdout
    );

    write(
        dir.path(),
        "svc.py",
        "TOKEN = 'acme_Hn5Tx1Qw8Zr3Lm6Vp2Bk9Sd4'\n",
    );
    let s = scan_json(dir.path(), &[]);
    assert_eq!(s.code, 1);
    assert_eq!(s.findings()[0]["rule_id"], "acme-internal-token");
    assert_eq!(s.findings()[0]["provider"], "acme");
}

#[test]
fn rules_check_reports_failing_examples() {
    let dir = tempdir();
    let broken = USER_RULE.replace(
        "secret = \"acme_Qm7vT2xR9pL4sK8wN1bY6cF3\"",
        "secret = \"acme_Qm7vT2xR9pL4sK8wN1bY6cF4\"",
    );
    write(dir.path(), "rules.toml", broken);
    let r = run(leakhound()
        .current_dir(dir.path())
        .args(["rules", "check", "rules.toml"]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("rule `acme-internal-token`: example 1 does not yield its secret"),
        "{}",
        r.stdout
    );
}

#[test]
fn rules_check_names_file_line_and_column_of_bad_toml_and_regex() {
    let dir = tempdir();
    write(
        dir.path(),
        "bad.toml",
        "[[rules]]\nid = \"x\"\nregex = '''(unclosed'''\nnot valid toml\n",
    );
    let r = run(leakhound()
        .current_dir(dir.path())
        .args(["rules", "check", "bad.toml"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.toml: 4:"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"));

    write(
        dir.path(),
        "badre.toml",
        USER_RULE.replace("[A-Za-z0-9]{24}", "[A-Za-z0-9{24}"),
    );
    let r = run(leakhound()
        .current_dir(dir.path())
        .args(["rules", "check", "badre.toml"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("badre.toml: rule `acme-internal-token`: bad regex"),
        "{}",
        r.stderr
    );
}
