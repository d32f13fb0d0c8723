//! `.leakhound.toml` features beyond the basics (scoped allowlists,
//! stopwords, path regexes) and `config import-gitleaks`.

use crate::util::*;

const GITLEAKS_TOML: &str = r#"
title = "acme gitleaks config"

[extend]
useDefault = true
disabledRules = ["generic-api-key", "kunavo-api-key"]

[[rules]]
id = "acme-internal-token"
description = "ACME internal service token"
regex = '''\b(acme_[A-Za-z0-9]{24})\b'''
keywords = ["acme_"]
entropy = 3.0
tags = ["internal"]

[rules.allowlist]
stopwords = ["testonly"]

[[rules]]
id = "acme_deploy_key"
description = "ACME deploy key"
regex = '''(?i)(acme)[_-]?deploy[_-]?key\s*[:=]\s*["']?([a-f0-9]{40})["']?'''
secretGroup = 2

[[rules]]
id = "acme-db-password"
description = "ACME database password"
regex = '''(?i)(?:db|database)_pass(?:word)?\s*=\s*"([^"\s]{12,})"'''
keywords = ["db_pass", "database_pass"]
path = '''\.env$'''

[[rules.allowlists]]
description = "test fixtures and documented examples"
paths = ['''^tests/''']
regexTarget = "line"
regexes = ['''see example''']

[[rules]]
id = "pkcs12-file"
description = "PKCS #12 file"
path = '''\.p12$'''

[[rules]]
id = "lookbehind-token"
description = "needs look-behind"
regex = '''(?<=token=)[a-z0-9]{32}'''
keywords = ["token="]

[[rules]]
id = "hex-blob"
description = "Hex blob"
regex = '''[a-f0-9]{64}'''

[allowlist]
description = "global allowlist"
paths = ['''(^|/)vendor/''', '''\.lock$''']
regexes = ['''^acme_STAGING''']
stopwords = ["sandbox"]
commits = ["4b0d5a3c"]
"#;

const TOKEN: &str = "acme_Qm7vT2xR9pL4sK8wN1bY6cF3";
const DEPLOY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4";
const DB: &str = "Xy9kLm2pQr7vWz4T";

#[test]
fn import_gitleaks_converts_rules_and_allowlists_and_names_what_it_skips() {
    let dir = tempdir();
    let d = dir.path();
    write(d, ".gitleaks.toml", GITLEAKS_TOML);
    let r = run(leakhound().current_dir(d).args([
        "config",
        "import-gitleaks",
        "--output",
        ".leakhound.toml",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let err = &r.stderr;
    for warning in [
        "rule `pkcs12-file`: has no regex",
        "rule `lookbehind-token`: regex not supported by Rust's regex crate",
        "rule `hex-blob`: has no keywords and its regex has no literal prefix",
        "rule `acme_deploy_key`: imported as `acme-deploy-key`",
        "rule `acme_deploy_key`: no keywords; using the regex's literal prefixes",
        "rule `acme-db-password`: path condition `\\.env$` dropped",
        "`generic-api-key` is not a leakhound rule",
        "1 commit left out",
        "wrote .leakhound.toml (3 rules imported, 3 skipped)",
    ] {
        assert!(err.contains(warning), "missing `{warning}` in:\n{err}");
    }
    let toml = std::fs::read_to_string(d.join(".leakhound.toml")).unwrap();
    assert!(
        toml.contains("disabled_rules = ['kunavo-api-key']"),
        "{toml}"
    );
    assert!(toml.contains("provider = 'custom'"), "{toml}");
    // The secret group became the one capture group; other groups do not capture.
    assert!(
        toml.contains(
            r#"(?i)(?:acme)[_-]?deploy[_-]?key\s*[:=]\s*["']?(?P<secret>[a-f0-9]{40})["']?"#
        ),
        "{toml}"
    );

    // Not overwritten without --force.
    let r = run(leakhound().current_dir(d).args([
        "config",
        "import-gitleaks",
        "-o",
        ".leakhound.toml",
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("exists; pass --force"), "{}", r.stderr);
    // Standard output by default.
    let r = run(leakhound()
        .current_dir(d)
        .args(["config", "import-gitleaks"]));
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, toml);

    // The result is a working configuration.
    write(d, "src/a.py", format!("ACME_TOKEN = \"{TOKEN}\"\n"));
    write(d, "src/b.py", "T = \"acme_TESTONLYxR9pL4sK8wN1bY6\"\n");
    write(d, "vendor/c.py", format!("ACME_TOKEN = \"{TOKEN}\"\n"));
    write(d, "src/c.py", "T = \"acme_STAGINGxR9pL4sK8wN1bY6c\"\n");
    write(d, "src/s.py", "T = \"acme_SANDBOXxR9pL4sK8wN1bY6c\"\n");
    write(d, "src/d.py", format!("ACME_DEPLOY_KEY = \"{DEPLOY}\"\n"));
    write(d, "src/f.env", format!("DB_PASSWORD = \"{DB}\"\n"));
    write(d, "tests/e.env", format!("DB_PASSWORD = \"{DB}\"\n"));
    write(
        d,
        "src/g.env",
        format!("DB_PASSWORD = \"{DB}\"  # see example\n"),
    );
    write(d, "src/h.py", format!("K = '{KUNAVO}'\n"));
    let r = scan_json(d, &[]);
    let mut found: Vec<(String, String, String)> = r
        .findings()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["rule_id"].as_str().unwrap().to_string(),
                f["secret"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(_, rule, _)| rule.starts_with("acme") || rule == "kunavo-api-key")
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (
                "src/a.py".into(),
                "acme-internal-token".into(),
                TOKEN.into()
            ),
            ("src/d.py".into(), "acme-deploy-key".into(), DEPLOY.into()),
            ("src/f.env".into(), "acme-db-password".into(), DB.into()),
        ],
        "{}",
        r.stdout
    );
}

#[test]
fn import_gitleaks_refuses_a_file_that_is_not_toml() {
    let dir = tempdir();
    write(dir.path(), "bad.toml", "[[rules]\nid = 1\n");
    let r =
        run(leakhound()
            .current_dir(dir.path())
            .args(["config", "import-gitleaks", "bad.toml"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.toml: 1:8:"), "{}", r.stderr);
    let r = run(leakhound()
        .current_dir(dir.path())
        .args(["config", "import-gitleaks"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot read .gitleaks.toml"),
        "{}",
        r.stderr
    );
}

#[test]
fn scoped_allowlists_stopwords_and_path_regexes() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "src/a.py", format!("K = '{KUNAVO}'\nG = '{GITHUB}'\n"));
    write(
        d,
        "fixtures/b.py",
        format!("K = '{KUNAVO}'\nG = '{GITHUB}'\n"),
    );
    write(
        d,
        "src/c.py",
        format!("P = '{PINAIVU}'  # rotated in INC-42\n"),
    );
    assert_eq!(scan_json(d, &[]).findings().len(), 5);
    write(
        d,
        ".leakhound.toml",
        r#"
[allowlist]
path_regexes = ['^fixtures/.*\.py$']

[[allowlists]]
description = "the GitHub token in src/a.py is a revoked demo token"
rules = ["github-pat-classic"]
paths = ['^src/a\.py$']

[[allowlists]]
description = "rotated keys are marked in a comment"
regexes = ['rotated in INC-\d+']
regex_target = "line"
"#,
    );
    let r = scan_json(d, &[]);
    assert_eq!(secrets(&r), vec![KUNAVO.to_string()], "{}", r.stdout);
    // Path regexes are judged per finding (globs skip the file unread).
    assert_eq!(r.json()["stats"]["suppressed"], 4, "{}", r.stdout);

    // Stopwords (ignoring case), and the AND condition.
    write(
        d,
        ".leakhound.toml",
        r#"
[allowlist]
stopwords = ["U8JZPDE"]

[[allowlists]]
rules = ["github-pat-classic"]
paths = ['^fixtures/']
stopwords = ["R8s2"]
condition = "and"
"#,
    );
    let r = scan_json(d, &[]);
    let mut got = secrets(&r);
    got.sort();
    assert_eq!(
        got,
        vec![GITHUB.to_string(), PINAIVU.to_string()],
        "{}",
        r.stdout
    );
}

#[test]
fn bad_scoped_allowlists_are_errors_naming_the_field() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "a.py", "x = 1\n");
    for (toml, message) in [
        (
            "[[allowlists]]\nrules = [\"nope\"]\nstopwords = [\"x\"]\n",
            "allowlists[0].rules: no rule `nope`",
        ),
        (
            "[[allowlists]]\nrules = []\n",
            "allowlists[0]: needs at least one of",
        ),
        (
            "[[allowlists]]\npaths = ['(']\n",
            "allowlists[0].paths: regex parse error",
        ),
        (
            "[[allowlists]]\nregexes = ['x']\nregex_target = \"match\"\n",
            "unknown variant `match`",
        ),
        (
            "[allowlist]\npath_regexes = ['[']\n",
            "allowlist.path_regexes",
        ),
    ] {
        write(d, ".leakhound.toml", toml);
        let r = scan_json(d, &[]);
        assert_eq!(r.code, 2, "{toml}");
        assert!(r.stderr.contains(message), "{toml}: {}", r.stderr);
        assert!(r.stderr.contains(".leakhound.toml"), "{}", r.stderr);
    }
}
