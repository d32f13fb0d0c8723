//! `.leakhound.toml` features beyond the basics (scoped allowlists,
//! stopwords, path regexes) and `config import-gitleaks`.

use crate::util::*;

const GITLEAKS_TOML: &str = r#"
title = "acme gitleaks config"

[extend]
useDefault = true
disabledRules = ["generic-api-key", "acme-legacy-rule", "kunavo-api-key"]

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
        "`acme-legacy-rule` is not a leakhound rule",
        "1 commit left out",
        "wrote .leakhound.toml (3 rules imported, 3 skipped)",
    ] {
        assert!(err.contains(warning), "missing `{warning}` in:\n{err}");
    }
    let toml = std::fs::read_to_string(d.join(".leakhound.toml")).unwrap();
    assert!(
        // gitleaks' `generic-api-key` is leakhound's generic rule.
        toml.contains("disabled_rules = ['generic-secret-assignment', 'kunavo-api-key']"),
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

// ------------------------------------------------- precedence and discovery

/// The rule ids a JSON scan of `args` in `dir` reports.
fn rule_ids(dir: &std::path::Path, args: &[&str]) -> Vec<String> {
    let r = scan_json(dir, args);
    assert!(r.code == 0 || r.code == 1, "{args:?}: {}", r.stderr);
    let mut ids: Vec<String> = r
        .findings()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The rule ids of a JSON scan of standard input (`scan -`) in `dir`.
fn stdin_rule_ids(dir: &std::path::Path, input: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let r = run(leakhound()
        .current_dir(dir)
        .args(["scan", "--format", "json", "-"])
        .args(extra)
        .stdin(std::fs::File::open(input).unwrap()));
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    r.findings()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect()
}

/// The `config:` line of a text scan of `args` in `dir`.
fn config_line(dir: &std::path::Path, args: &[&str]) -> String {
    let r = run(leakhound().current_dir(dir).arg("scan").args(args));
    assert!(r.code == 0 || r.code == 1, "{args:?}: {}", r.stderr);
    r.stdout
        .lines()
        .find(|l| l.starts_with("config: "))
        .unwrap_or_else(|| panic!("no config line: {}", r.stdout))
        .to_string()
}

fn config_tree(d: &std::path::Path) {
    write(d, "tree/a.py", format!("K = '{KUNAVO}'\n"));
    write(d, "tree/b.env", format!("GH={GITHUB}\n"));
    write(d, "tree/sub/c.py", format!("K = '{KUNAVO}'\n"));
    write(d, "other/x.txt", "nothing\n");
    write(
        d,
        ".leakhound.toml",
        "disabled_rules = [\"kunavo-api-key\"]\n",
    );
    // Beside the scanned files: never read, whatever is scanned.
    write(
        d,
        "tree/.leakhound.toml",
        "disabled_rules = [\"github-pat-classic\"]\n",
    );
    write(
        d,
        "github-off.toml",
        "disabled_rules = [\"github-pat-classic\"]\n",
    );
}

#[test]
fn the_config_is_found_in_the_current_directory_whatever_is_scanned() {
    let dir = tempdir();
    let d = dir.path();
    config_tree(d);
    let github = ["github-pat-classic"];
    // The current directory's file, for a directory, a file, a
    // subdirectory, two paths and standard input alike.
    assert_eq!(rule_ids(d, &["tree"]), github);
    assert_eq!(rule_ids(d, &[]), github);
    assert_eq!(rule_ids(d, &["tree/a.py"]), Vec::<String>::new());
    assert_eq!(rule_ids(d, &["tree/sub"]), Vec::<String>::new());
    assert_eq!(rule_ids(d, &["other", "tree"]), github);
    assert_eq!(rule_ids(d, &["tree/a.py", "tree/b.env"]), github);
    assert_eq!(
        stdin_rule_ids(d, &d.join("tree/a.py"), &[]),
        Vec::<String>::new()
    );
    assert_eq!(
        stdin_rule_ids(d, &d.join("tree/a.py"), &["--no-config"]),
        ["kunavo-api-key"]
    );
    // Scanning from inside `tree` reads `tree/.leakhound.toml` (and only it).
    let t = d.join("tree");
    assert_eq!(rule_ids(&t, &[]), ["kunavo-api-key", "kunavo-api-key"]);
    assert_eq!(rule_ids(&t, &["a.py"]), ["kunavo-api-key"]);
    // --no-config reads none; --config replaces the found one (no merging).
    let all = ["github-pat-classic", "kunavo-api-key", "kunavo-api-key"];
    assert_eq!(rule_ids(d, &["tree", "--no-config"]), all);
    assert_eq!(
        rule_ids(d, &["tree", "--config", "github-off.toml"]),
        ["kunavo-api-key", "kunavo-api-key"]
    );
    // The text summary names the file read, or says there was none.
    assert_eq!(config_line(d, &["tree/a.py"]), "config: .leakhound.toml");
    assert_eq!(config_line(d, &["tree", "--no-config"]), "config: none");
    assert_eq!(
        config_line(d, &["tree", "-c", "github-off.toml"]),
        "config: github-off.toml"
    );
    let r = run(leakhound()
        .current_dir(d)
        .args(["scan", "-"])
        .stdin(std::fs::File::open(d.join("tree/b.env")).unwrap()));
    assert!(r.stdout.contains("config: .leakhound.toml"), "{}", r.stdout);
}

#[test]
fn the_config_is_found_at_the_repository_root_from_a_subdirectory() {
    let dir = tempdir();
    let d = dir.path();
    config_tree(d);
    std::fs::remove_file(d.join("tree/.leakhound.toml")).unwrap();
    crate::gitutil::git(d, &["init", "-q"]);
    let sub = d.join("tree/sub");
    // From a subdirectory with no file of its own: the repository root's.
    assert_eq!(rule_ids(&sub, &[]), Vec::<String>::new());
    assert_eq!(rule_ids(&sub, &["c.py"]), Vec::<String>::new());
    assert_eq!(
        rule_ids(&sub, &["../b.env", "c.py"]),
        ["github-pat-classic"]
    );
    assert_eq!(
        stdin_rule_ids(&sub, &sub.join("c.py"), &[]),
        Vec::<String>::new()
    );
    let root_file = std::fs::canonicalize(d).unwrap().join(".leakhound.toml");
    assert_eq!(
        config_line(&sub, &["c.py"]),
        format!("config: {}", root_file.display())
    );
    // A file in the current directory comes first (the root's is not read).
    write(&sub, ".leakhound.toml", "disabled_rules = []\n");
    assert_eq!(rule_ids(&sub, &["c.py"]), ["kunavo-api-key"]);
    assert_eq!(config_line(&sub, &["c.py"]), "config: .leakhound.toml");
    // Outside any repository, nothing above the current directory is read.
    let plain = tempdir();
    write(plain.path(), "a/c.py", format!("K = '{KUNAVO}'\n"));
    write(
        plain.path(),
        ".leakhound.toml",
        "disabled_rules = [\"kunavo-api-key\"]\n",
    );
    assert_eq!(rule_ids(&plain.path().join("a"), &[]), ["kunavo-api-key"]);
    assert_eq!(config_line(&plain.path().join("a"), &[]), "config: none");
}

#[test]
fn the_user_config_comes_first_and_the_summary_names_both() {
    let dir = tempdir();
    let d = dir.path();
    config_tree(d);
    write(
        d,
        "xdg/leakhound/config.toml",
        "disabled_rules = [\"github-pat-classic\"]\n",
    );
    let xdg = d.join("xdg");
    let r = run(leakhound()
        .current_dir(d)
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["scan", "tree", "--format", "json"]));
    assert_eq!(r.code, 0, "both files apply: {}", r.stdout);
    let r = run(leakhound()
        .current_dir(d)
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["scan", "tree"]));
    let user = xdg.join("leakhound/config.toml");
    assert!(
        r.stdout
            .contains(&format!("config: {}, .leakhound.toml", user.display())),
        "{}",
        r.stdout
    );
    // --config replaces the found file, not the user's.
    let r = run(leakhound()
        .current_dir(d)
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["scan", "tree", "-c", "github-off.toml", "--format", "json"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.findings().len(), 2, "{}", r.stdout);
}

#[test]
fn flags_beat_the_config_file_which_beats_the_defaults() {
    let dir = tempdir();
    let d = dir.path();
    // 4 KiB of text with a key at the end; a small file with another.
    write(
        d,
        "tree/big.txt",
        format!("{}K = '{KUNAVO}'\n", "filler line\n".repeat(340)),
    );
    write(d, "tree/small.env", format!("GH={GITHUB}\n"));
    write(d, "tree/.gitignore", "ignored.env\n");
    write(d, "tree/ignored.env", format!("P={PINAIVU}\n"));
    let all = ["github-pat-classic", "kunavo-api-key"];
    // Defaults: 100 MiB limit, .gitignore obeyed.
    assert_eq!(rule_ids(d, &["tree"]), all);
    // The file: a 2 KiB limit and no ignore files.
    write(
        d,
        ".leakhound.toml",
        "[scan]\nmax_file_size = \"2K\"\nno_ignore = true\n",
    );
    let r = scan_json(d, &["tree"]);
    // (sorted by path: tree/ignored.env, tree/small.env)
    assert_eq!(secrets(&r), [PINAIVU, GITHUB], "{}", r.stdout);
    let skipped = r.json()["stats"]["skipped"].clone();
    assert!(
        skipped.to_string().contains("big.txt"),
        "the skipped file is listed: {skipped}"
    );
    // The flag wins over the file, in both directions.
    let r = scan_json(d, &["tree", "--max-file-size", "1M"]);
    assert_eq!(secrets(&r).len(), 3, "{}", r.stdout);
    let r = scan_json(d, &["tree", "--max-file-size", "10"]);
    assert_eq!(r.code, 0, "every file is over 10 bytes: {}", r.stdout);
    // A size in bytes, and a bad one is an error naming the key.
    write(d, ".leakhound.toml", "[scan]\nmax_file_size = 8192\n");
    assert_eq!(rule_ids(d, &["tree"]), all);
    write(d, ".leakhound.toml", "[scan]\nmax_file_size = \"2Q\"\n");
    let r = scan_json(d, &["tree"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("scan.max_file_size"), "{}", r.stderr);
}

/// A GitHub token, base64-encoded after four bytes: its keyword `ghp_`
/// then leaves no fragment long enough to search for, so only
/// `--decode-all` decodes the run (issue 10: by default, runs carrying an
/// encoded keyword are decoded wherever they sit).
fn encoded_key() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("pat={GITHUB}"))
}

#[test]
fn decode_all_from_the_flag_or_the_config() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "tree/blob.txt",
        format!("blob = \"{}\"\n", encoded_key()),
    );
    let r = scan_json(d, &["tree"]);
    assert_eq!(r.code, 0, "no encoded keyword, no decoding: {}", r.stdout);
    let r = scan_json(d, &["tree", "--decode-all"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let f = r.findings();
    assert_eq!(f.len(), 1, "{}", r.stdout);
    assert_eq!(f[0]["secret"], GITHUB);
    assert_eq!(f[0]["encoding"], "base64");
    assert!(f[0]["path"].as_str().unwrap().ends_with("blob.txt"));
    // The same from `[scan] decode_all`, and the text report says how it
    // was found without showing the key.
    write(d, ".leakhound.toml", "[scan]\ndecode_all = true\n");
    assert_eq!(rule_ids(d, &["tree"]), ["github-pat-classic"]);
    assert_eq!(scan_json(d, &["tree", "--no-config"]).code, 0);
    let text = run(leakhound().current_dir(d).args(["scan", "tree"]));
    assert_eq!(text.code, 1);
    assert!(text.stdout.contains("base64"), "{}", text.stdout);
    assert!(!text.stdout.contains(GITHUB), "{}", text.stdout);
}
