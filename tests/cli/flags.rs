//! The flags users bring from gitleaks and trufflehog (issue 26, items
//! 6-8): path and rule selection, sizes with units, `-v`, `--only-verified`
//! alone, `.gitleaksignore`, what `-o` says, the silent hook, `scan
//! --help`. Each scan flag is run in the four ways a scan reads a
//! repository: the tree, `--git`, `--range` and `--staged`.

use std::collections::HashMap;

use crate::fake_provider::{Reply, Server};
use crate::gitutil::{findings, git_output, kunavo_key, leakhound, pinaivu_key, Repo};

#[derive(Clone, Copy, Debug)]
enum Mode {
    Tree,
    Git,
    Range,
    Staged,
}

const MODES: [Mode; 4] = [Mode::Tree, Mode::Git, Mode::Range, Mode::Staged];

/// A repository with a base commit, and `files` added after it: committed
/// (the tree, `--git` and `--range` scans) or only staged (`--staged`).
/// Returns the repository and the arguments that select the mode.
fn scenario(mode: Mode, files: &[(&str, String)]) -> (Repo, Vec<String>) {
    let r = Repo::init();
    r.write("README", "hello\n");
    let base = r.commit("Start");
    for (path, text) in files {
        r.write(path, text);
    }
    let args = match mode {
        Mode::Tree => {
            r.commit("Add");
            vec![]
        }
        Mode::Git => {
            r.commit("Add");
            vec!["--git".to_string()]
        }
        Mode::Range => {
            r.commit("Add");
            vec!["--range".to_string(), format!("{base}..HEAD")]
        }
        Mode::Staged => {
            r.git(&["add", "-A"]);
            vec!["--staged".to_string()]
        }
    };
    (r, args)
}

/// `leakhound scan MODE-ARGS ARGS -f json --show-secrets --no-config` in
/// the repository: exit code, report, stderr.
fn scan(r: &Repo, mode_args: &[String], args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = leakhound()
        .current_dir(r.path())
        .arg("scan")
        .args(mode_args)
        .args(args)
        .args(["-f", "json", "--show-secrets"])
        .output()
        .expect("leakhound runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().expect("exit code"), report, stderr)
}

/// The secrets found, sorted.
fn found(report: &serde_json::Value) -> Vec<String> {
    let mut s: Vec<String> = findings(report)
        .iter()
        .map(|f| f["secret"].as_str().expect("secret").to_string())
        .collect();
    s.sort();
    s
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Two keys of two providers, one under `src/`, one under `tests/`.
fn two_keys(seed: u64) -> (Vec<(&'static str, String)>, String, String) {
    let k = kunavo_key(seed);
    let p = pinaivu_key(seed + 1);
    (
        vec![
            ("src/app.env", format!("KUNAVO_API_KEY={k}\n")),
            ("tests/fixture.env", format!("PINAIVU_API_KEY={p}\n")),
        ],
        k,
        p,
    )
}

#[test]
fn exclude_and_include_path_in_every_mode() {
    for (i, mode) in MODES.into_iter().enumerate() {
        let (files, k, p) = two_keys(100 + 10 * i as u64);
        let (r, m) = scenario(mode, &files);
        let (code, report, _) = scan(&r, &m, &[]);
        assert_eq!(code, 1, "{mode:?}");
        assert_eq!(
            found(&report),
            sorted(vec![k.clone(), p.clone()]),
            "{mode:?}"
        );

        let (code, report, _) = scan(&r, &m, &["--exclude-path", "tests/**"]);
        assert_eq!(code, 1, "{mode:?}");
        assert_eq!(found(&report), vec![k.clone()], "{mode:?}");

        let (code, report, _) = scan(&r, &m, &["--include-path", "tests/**"]);
        assert_eq!(code, 1, "{mode:?}");
        assert_eq!(found(&report), vec![p.clone()], "{mode:?}");

        // Exclusions win over inclusions.
        let (code, report, _) = scan(
            &r,
            &m,
            &["--include-path", "tests/**", "--exclude-path", "*.env"],
        );
        assert_eq!(code, 0, "{mode:?}");
        assert!(found(&report).is_empty(), "{mode:?}");
    }
}

#[test]
fn a_bad_path_glob_names_the_flag() {
    let (r, m) = scenario(Mode::Tree, &[]);
    for flag in ["--exclude-path", "--include-path"] {
        let out = leakhound()
            .current_dir(r.path())
            .arg("scan")
            .args(&m)
            .args([flag, "src/[a"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag) && err.contains("src/[a"), "{err}");
    }
}

#[test]
fn rule_provider_and_disable_rule_in_every_mode() {
    for (i, mode) in MODES.into_iter().enumerate() {
        let (files, k, p) = two_keys(200 + 10 * i as u64);
        let (r, m) = scenario(mode, &files);
        let (_, report, _) = scan(&r, &m, &["--rule", "kunavo-api-key"]);
        assert_eq!(found(&report), vec![k.clone()], "{mode:?}");
        let (_, report, _) = scan(&r, &m, &["--provider", "pinaivu"]);
        assert_eq!(found(&report), vec![p.clone()], "{mode:?}");
        // The generic rule still sees `KUNAVO_API_KEY=…`: off too, only
        // the other key is left.
        let (_, report, _) = scan(&r, &m, &["--disable-rule", "kunavo-api-key"]);
        let rules: Vec<&str> = findings(&report)
            .iter()
            .map(|f| f["rule_id"].as_str().unwrap())
            .collect();
        assert!(!rules.contains(&"kunavo-api-key"), "{mode:?}: {rules:?}");
        assert!(rules.contains(&"pinaivu-api-key"), "{mode:?}: {rules:?}");
        let (_, report, _) = scan(
            &r,
            &m,
            &["--disable-rule", "kunavo-api-key,generic-secret-assignment"],
        );
        assert_eq!(found(&report), vec![p.clone()], "{mode:?}");
        let (code, report, _) = scan(
            &r,
            &m,
            &["--provider", "pinaivu", "--disable-rule", "pinaivu-api-key"],
        );
        assert_eq!(code, 0, "{mode:?}");
        assert!(found(&report).is_empty(), "{mode:?}");
    }
}

#[test]
fn an_unknown_rule_or_provider_is_an_error_with_a_hint() {
    let (r, m) = scenario(Mode::Tree, &[]);
    for (flag, value, hint) in [
        ("--rule", "kunavo-api-kye", "kunavo-api-key"),
        ("--disable-rule", "kunavo-api-kye", "kunavo-api-key"),
        ("--provider", "kunav", "kunavo"),
    ] {
        let out = leakhound()
            .current_dir(r.path())
            .arg("scan")
            .args(&m)
            .args([flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag) && err.contains(value), "{err}");
        assert!(err.contains(&format!("did you mean `{hint}`")), "{err}");
    }
}

#[test]
fn max_file_size_with_units_in_every_mode() {
    for (i, mode) in MODES.into_iter().enumerate() {
        let small = kunavo_key(300 + i as u64);
        let big = pinaivu_key(310 + i as u64);
        // 3000 bytes: over 2k, under 1.5M.
        let padding = "# padding\n".repeat(300);
        let (r, m) = scenario(
            mode,
            &[
                ("small.env", format!("KUNAVO_API_KEY={small}\n")),
                ("big.env", format!("{padding}PINAIVU_API_KEY={big}\n")),
            ],
        );
        for size in ["1.5M", "1MB", "500k", "4000"] {
            let (_, report, _) = scan(&r, &m, &["--max-file-size", size]);
            assert_eq!(
                found(&report),
                sorted(vec![small.clone(), big.clone()]),
                "{mode:?} {size}"
            );
        }
        for size in ["2k", "2KB", "0.5K", "2048"] {
            let (code, report, stderr) = scan(&r, &m, &["--max-file-size", size, "-v"]);
            assert_eq!(code, 1, "{mode:?} {size}");
            assert_eq!(found(&report), vec![small.clone()], "{mode:?} {size}");
            assert!(
                stderr.contains("skipped big.env")
                    && stderr.contains("larger than --max-file-size"),
                "{mode:?} {size}: {stderr}"
            );
        }
    }
}

#[test]
fn a_bad_size_names_the_flag_and_the_value() {
    let (r, m) = scenario(Mode::Tree, &[]);
    for bad in ["1X", "1.5", "abc", "-1M", "1.2.3K"] {
        let out = leakhound()
            .current_dir(r.path())
            .arg("scan")
            .args(&m)
            .arg(format!("--max-file-size={bad}"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--max-file-size") && err.contains(bad),
            "{bad}: {err}"
        );
    }
}

#[test]
fn verbose_says_what_was_skipped_and_why_in_every_mode() {
    for (i, mode) in MODES.into_iter().enumerate() {
        let (mut files, k, p) = two_keys(400 + 10 * i as u64);
        let allowed = kunavo_key(405 + 10 * i as u64);
        files.push((
            "src/allowed.env",
            format!("KUNAVO_API_KEY={allowed} # leakhound:allow\n"),
        ));
        let (r, m) = scenario(mode, &files);
        let (code, report, stderr) = scan(&r, &m, &["-v", "--exclude-path", "tests/**"]);
        assert_eq!(code, 1, "{mode:?}");
        assert_eq!(found(&report), vec![k.clone()], "{mode:?}");
        assert!(
            stderr.contains("skipped tests/fixture.env: excluded by path glob `tests/**`"),
            "{mode:?}: {stderr}"
        );
        assert!(
            stderr.contains(
                "not reported src/allowed.env:1: a kunavo-api-key finding suppressed by an inline allow comment"
            ),
            "{mode:?}: {stderr}"
        );
        let (_, _, stderr) = scan(&r, &m, &["--verbose", "--include-path", "tests/**"]);
        assert!(
            stderr.contains("skipped src/app.env: matches no --include-path glob"),
            "{mode:?}: {stderr}"
        );
        // Never a secret, raw or in part.
        for key in [&k, &p, &allowed] {
            assert!(!stderr.contains(&key[12..]), "{mode:?}: {stderr}");
        }
        // Without -v, none of it.
        let (_, _, stderr) = scan(&r, &m, &["--exclude-path", "tests/**"]);
        assert!(!stderr.contains("skipped"), "{mode:?}: {stderr}");
    }
}

#[test]
fn only_verified_alone_verifies_in_every_mode() {
    for (i, mode) in MODES.into_iter().enumerate() {
        let live = kunavo_key(500 + i as u64);
        let dead = kunavo_key(510 + i as u64);
        let replies = HashMap::from([
            (live.clone(), Reply::status(200)),
            (dead.clone(), Reply::status(401)),
        ]);
        let server = Server::start(move |req, _| {
            replies
                .get(&req.key())
                .cloned()
                .unwrap_or_else(|| Reply::status(404))
        });
        // A trusted config (named with -c) outside the repository points
        // the provider at the local server.
        let conf = tempfile::tempdir().unwrap();
        let conf_path = conf.path().join("leakhound.toml");
        std::fs::write(
            &conf_path,
            format!(
                "[providers.kunavo]\nbase_url = \"{}/kunavo/v1\"\n[verify]\nmax_wait = 0.2\n",
                server.url()
            ),
        )
        .unwrap();
        let (r, m) = scenario(
            mode,
            &[
                ("live.env", format!("KUNAVO_API_KEY={live}\n")),
                ("dead.env", format!("KUNAVO_API_KEY={dead}\n")),
            ],
        );
        let (code, report, stderr) = scan(
            &r,
            &m,
            &["--only-verified", "-c", conf_path.to_str().unwrap()],
        );
        assert_eq!(code, 1, "{mode:?}: {stderr}");
        assert_eq!(found(&report), vec![live.clone()], "{mode:?}");
        assert_eq!(
            findings(&report)[0]["verification"]["verdict"],
            "live",
            "{mode:?}"
        );
        assert_eq!(server.requests().len(), 2, "{mode:?}");
    }
}

#[test]
fn gitleaksignore_in_every_mode() {
    for (i, mode) in MODES.into_iter().enumerate() {
        let (files, k, p) = two_keys(600 + 10 * i as u64);
        let mut files = files;
        files.push((
            ".gitleaksignore",
            "# accepted\nsrc/app.env:kunavo-api-key:1\ntests/fixture.env:pinaivu-api-key:2\n"
                .to_string(),
        ));
        let (r, m) = scenario(mode, &files);
        let (code, report, stderr) = scan(&r, &m, &["-v"]);
        assert_eq!(code, 1, "{mode:?}");
        // Line 2 holds no key: the pinaivu finding (line 1) stays.
        assert_eq!(found(&report), vec![p.clone()], "{mode:?}");
        assert_eq!(report["stats"]["suppressed"], 1, "{mode:?}");
        let notes = report["stats"]["notes"].to_string();
        assert!(
            notes.contains(".gitleaksignore: 2 fingerprints read, 1 finding suppressed"),
            "{mode:?}: {notes}"
        );
        assert!(
            stderr.contains("not reported src/app.env:1: a kunavo-api-key finding suppressed by .gitleaksignore"),
            "{mode:?}: {stderr}"
        );
        let (_, report, _) = scan(&r, &m, &["--no-gitleaksignore"]);
        assert_eq!(
            found(&report),
            sorted(vec![k.clone(), p.clone()]),
            "{mode:?}"
        );
        let (_, report, _) = scan(&r, &m, &["--no-config"]);
        assert_eq!(
            found(&report),
            sorted(vec![k.clone(), p.clone()]),
            "{mode:?}"
        );
    }
}

#[test]
fn gitleaksignore_with_commits_and_gitleaks_rule_ids() {
    let gh = format!("ghp_{}", "R8s2Kq9LmN4pX7tV1wZ3yB6cD0eH5jKaB3dE");
    let k = kunavo_key(700);
    let (r, m) = scenario(
        Mode::Git,
        &[
            ("gh.env", format!("GITHUB_TOKEN={gh}\n")),
            ("src/app.env", format!("KUNAVO_API_KEY={k}\n")),
        ],
    );
    let head = r.head();
    let other = "0".repeat(40);
    // A named file outside the repository; the commit abbreviated, as
    // gitleaks' users paste it, or another commit's (which hides nothing).
    let dir = tempfile::tempdir().unwrap();
    let ignore = dir.path().join("ignore");
    std::fs::write(
        &ignore,
        format!(
            "{}:gh.env:github-pat:1\n{other}:src/app.env:kunavo-api-key:1\n",
            &head[..12]
        ),
    )
    .unwrap();
    let (_, report, _) = scan(&r, &m, &["--gitleaksignore", ignore.to_str().unwrap()]);
    assert_eq!(found(&report), vec![k.clone()]);

    // A line that is not a fingerprint: exit 2, naming the file and line.
    std::fs::write(&ignore, "gh.env:github-pat:1\nnot a fingerprint\n").unwrap();
    let out = leakhound()
        .current_dir(r.path())
        .args(["scan", "--gitleaksignore", ignore.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ignore: line 2"), "{err}");
}

#[test]
fn import_gitleaks_maps_gitleaks_rule_ids() {
    let dir = tempfile::tempdir().unwrap();
    let gl = dir.path().join(".gitleaks.toml");
    std::fs::write(
        &gl,
        "[extend]\nuseDefault = true\ndisabledRules = [\"generic-api-key\", \"github-pat\"]\n\n\
         [[allowlists]]\ntargetRules = [\"aws-access-token\"]\npaths = ['''^fixtures/''']\n",
    )
    .unwrap();
    let out = leakhound()
        .current_dir(dir.path())
        .args(["config", "import-gitleaks"])
        .arg(&gl)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let toml = String::from_utf8_lossy(&out.stdout);
    assert!(
        toml.contains(r#"disabled_rules = ['generic-secret-assignment', 'github-pat-classic']"#),
        "{toml}"
    );
    assert!(toml.contains(r#"rules = ['aws-access-key-id']"#), "{toml}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("generic-api-key"), "{err}");
}

#[test]
fn output_file_is_announced_unless_quiet_in_every_mode() {
    for (i, mode) in MODES.into_iter().enumerate() {
        let (files, _, _) = two_keys(800 + 10 * i as u64);
        let (r, m) = scenario(mode, &files);
        let out_dir = tempfile::tempdir().unwrap();
        let report = out_dir.path().join("report.sarif");
        let side = out_dir.path().join("side.json");
        let run = |extra: &[&str]| {
            leakhound()
                .current_dir(r.path())
                .arg("scan")
                .args(&m)
                .args(["-f", "sarif", "-o"])
                .arg(&report)
                .arg("--report")
                .arg(format!("json={}", side.display()))
                .args(extra)
                .output()
                .unwrap()
        };
        let out = run(&[]);
        assert_eq!(out.status.code(), Some(1), "{mode:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| l.contains("wrote")).collect();
        assert_eq!(
            lines,
            vec![
                format!(
                    "leakhound: wrote 2 findings to {} (sarif report)",
                    report.display()
                ),
                format!(
                    "leakhound: wrote 2 findings to {} (json report)",
                    side.display()
                ),
            ],
            "{mode:?}"
        );
        assert!(report.is_file() && side.is_file());
        let out = run(&["--quiet"]);
        assert_eq!(out.status.code(), Some(1), "{mode:?}");
        assert!(
            out.stderr.is_empty(),
            "{mode:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // One finding: singular.
        let out = run(&["--rule", "kunavo-api-key"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("wrote 1 finding to"), "{mode:?}: {err}");
    }
}

#[test]
fn the_hook_is_silent_on_a_clean_commit() {
    let r = Repo::init();
    r.write("README", "hello\n");
    r.commit("Start");
    let out = leakhound()
        .current_dir(r.path())
        .arg("install-hook")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    r.write("notes.txt", "nothing secret here\n");
    r.git(&["add", "-A"]);
    let out = git_output(r.path(), &["commit", "-q", "-m", "Clean"]);
    assert!(out.status.success());
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A key still blocks, with the findings and the advice.
    r.write("prod.env", &format!("KUNAVO_API_KEY={}\n", kunavo_key(900)));
    r.git(&["add", "-A"]);
    let out = git_output(r.path(), &["commit", "-q", "-m", "Key"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("prod.env") && err.contains("commit blocked"),
        "{err}"
    );
}

#[test]
fn scan_help_has_examples_exit_statuses_and_one_way_of_showing_defaults() {
    let out = leakhound().args(["scan", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for part in [
        "Examples:",
        "leakhound scan --staged",
        "Exit status:",
        "0  no findings",
        "2  error",
    ] {
        assert!(help.contains(part), "{part}: {help}");
    }
    assert!(!help.contains("(default"), "{help}");
    assert!(!help.contains("Default:"), "{help}");
    assert!(!help.contains("Default 1"), "{help}");
    // The core flags, then git, verification, revocation, the audits.
    let at = |heading: &str| {
        help.find(&format!("\n{heading}:\n"))
            .unwrap_or_else(|| panic!("no {heading}: {help}"))
    };
    let order = [
        at("Options"),
        at("Git"),
        at("Verification"),
        at("Revocation"),
        at("Audit (docs/audit.md)"),
        at("Examples"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{help}");
    // --rule and --provider pick rules: they are core flags now.
    assert!(help.find("--rule <ID>").unwrap() < at("Git"), "{help}");
    assert!(
        help.find("--provider <PROVIDER>").unwrap() < at("Git"),
        "{help}"
    );
}

#[test]
fn summaries_count_in_the_singular_too() {
    let r = Repo::init();
    r.write("a.env", &format!("KUNAVO_API_KEY={}\n", kunavo_key(950)));
    r.commit("One");
    let out = leakhound()
        .current_dir(r.path())
        .args(["scan", "--git", "--color", "never"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 finding "), "{text}");
    assert!(text.contains("in 1 commit, 1 blob,"), "{text}");
    assert!(
        !text.contains("1 commits") && !text.contains("1 blobs"),
        "{text}"
    );
}
