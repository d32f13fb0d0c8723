//! `config check` and `rules check`: every problem of a file in one run,
//! judged as `scan` judges the file where it sits; what ignore rules kept
//! out of a tree scan is counted; a config's own rule examples are not
//! reported in it.

use crate::util::{leakhound, run, tempdir, write, Run};

fn in_dir(dir: &std::path::Path, args: &[&str]) -> Run {
    run(leakhound().current_dir(dir).args(args))
}

/// A file with six problems of different kinds.
const BROKEN: &str = r#"
disabled_rules = ["no-such-rule"]
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
id = "three"
description = "d"
provider = "acme"
severity = "high"
regex = '''\b(acme_[a-z0-9]{12})\b'''
keywords = ["acme_"]
[[rules.examples]]
text = "k = acme_short"
secret = "acme_short"
[[rules.negative_examples]]
text = "nothing here"
"#;

#[test]
fn rules_check_and_config_check_report_every_problem_in_one_run() {
    let dir = tempdir();
    write(dir.path(), "broken.toml", BROKEN);
    for args in [
        &["rules", "check", "broken.toml"][..],
        &["config", "check", "broken.toml"][..],
    ] {
        let r = in_dir(dir.path(), args);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        // What scan would refuse: on stderr, each naming the file.
        for needle in [
            "broken.toml: disabled_rules: no built-in rule `no-such-rule`",
            "broken.toml: scan.threads",
            "pathz",
            "[[rules]] 1 `one`",
            "regx",
            "broken.toml: rule `two`: bad regex",
            "[[rules]] 2 `two`",
        ] {
            assert!(
                r.stderr.contains(needle),
                "{args:?}: no `{needle}` in:\n{}",
                r.stderr
            );
        }
        // The failing example, and the counts, on stdout.
        assert!(
            r.stdout
                .contains("rule `three`: example 1 does not yield its secret"),
            "{args:?}: {}",
            r.stdout
        );
        assert!(
            r.stdout
                .contains("3 rules, 2 examples checked, 1 problem, 5 errors, 0 warnings"),
            "{args:?}: {}",
            r.stdout
        );
    }
    // `scan` refuses the same file, at its first error.
    let r = in_dir(dir.path(), &["scan", "--config", "broken.toml", "."]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn an_imported_gitleaks_config_warns_of_missing_examples() {
    let dir = tempdir();
    write(
        dir.path(),
        ".gitleaks.toml",
        "[[rules]]\nid = \"corp-token\"\nregex = '''corp_[a-z0-9]{16}'''\nkeywords = [\"corp_\"]\n",
    );
    let r = in_dir(
        dir.path(),
        &["config", "import-gitleaks", "-o", "imported.toml"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = in_dir(dir.path(), &["rules", "check", "imported.toml"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("warning: imported.toml: rule `corp-token`: has no examples"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("0 problems, 0 errors, 2 warnings"),
        "{}",
        r.stdout
    );
}

#[test]
fn config_check_without_a_file_checks_what_scan_reads() {
    let dir = tempdir();
    write(
        dir.path(),
        ".leakhound.toml",
        "[scan]\nfollow = true\n[verify]\ncache_dir = \"c\"\n",
    );
    let r = in_dir(dir.path(), &["config", "check"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("[scan] follow"), "{}", r.stderr);
    assert!(r.stderr.contains("[verify] cache_dir"), "{}", r.stderr);
    assert!(r.stdout.contains("trusted less"), "{}", r.stdout);
    // Named with --config, the same file is trusted, as scan trusts it.
    let r = in_dir(
        dir.path(),
        &["config", "check", "--config", ".leakhound.toml"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // No config at all: nothing to check, and it says so.
    let empty = tempdir();
    let r = in_dir(empty.path(), &["config", "check"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("no configuration file"), "{}", r.stdout);
}

#[test]
fn the_rule_examples_of_the_config_in_use_are_not_reported_in_it() {
    let dir = tempdir();
    let config = r#"[[rules]]
id = "acme-token"
description = "ACME token"
provider = "acme"
severity = "high"
regex = '''\b(acme_[A-Za-z0-9]{24})\b'''
keywords = ["acme_"]
[[rules.examples]]
text = 'T = "acme_Qm7vT2xR9pL4sK8wN1bY6cF3"'
secret = "acme_Qm7vT2xR9pL4sK8wN1bY6cF3"
[[rules.negative_examples]]
text = 'T = "acme_xxxxxxxxxxxxxxxxxxxxxxxx"'
"#;
    write(dir.path(), ".leakhound.toml", config);
    // The same text in another file (a rule file a pull request adds) is
    // not trusted to hide anything.
    write(dir.path(), "rules/extra.toml", config);
    let r = in_dir(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let paths: Vec<String> = r
        .findings()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        paths,
        ["rules/extra.toml", "rules/extra.toml"],
        "{}",
        r.stdout
    );
    assert_eq!(r.json()["stats"]["suppressed"], 2);
    // The rule's real matches elsewhere are reported as ever.
    write(dir.path(), "app.env", "T=acme_Zx8cV7bN6mQ5wE4rT3yU2iO1\n");
    let r = in_dir(dir.path(), &["scan", "--format", "json", "app.env"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // Named with --config from elsewhere, the file in use is the one named:
    // the discovered copy's examples are reported.
    write(dir.path(), "ci/leakhound.toml", config);
    let r = in_dir(
        dir.path(),
        &[
            "scan",
            "--format",
            "json",
            "--config",
            "ci/leakhound.toml",
            ".leakhound.toml",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.findings().len(), 2, "{}", r.stdout);
}

#[test]
fn ignored_files_are_counted_and_credential_names_hinted() {
    let dir = tempdir();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    write(dir.path(), ".gitignore", ".env\nbuild/\n*.log\n");
    write(dir.path(), ".env", "NOTHING=1\n");
    write(dir.path(), "build/a.txt", "x\n");
    write(dir.path(), "build/b.txt", "x\n");
    write(dir.path(), "run.log", "x\n");
    write(dir.path(), "src/main.rs", "fn main() {}\n");
    let r = in_dir(dir.path(), &["scan", "."]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // .env, build/ (a directory counts once) and run.log.
    assert!(
        r.stdout.contains("0 skipped, 3 ignored, 0 errors"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("hint: .env is ignored but looks like a credential file"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("hint: run.log"), "{}", r.stdout);
    let json = in_dir(dir.path(), &["scan", "--format", "json", "."]).json();
    assert_eq!(json["stats"]["ignored"], 3);
    assert_eq!(
        json["stats"]["ignored_credentials"],
        serde_json::json!([".env"])
    );
    // --no-ignore: nothing ignored, nothing said.
    let r = in_dir(dir.path(), &["scan", "--no-ignore", "."]);
    assert!(!r.stdout.contains("ignored"), "{}", r.stdout);
    assert!(!r.stdout.contains("hint:"), "{}", r.stdout);
}
