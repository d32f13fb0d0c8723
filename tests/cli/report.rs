//! Report formats: text, JSON, SARIF (validated against the official
//! schema), GitHub annotations; redaction in all of them; color rules.

use crate::util::*;

fn tree_with_keys() -> tempfile::TempDir {
    let dir = tempdir();
    write(
        dir.path(),
        "app/config.py",
        format!("import os\nKUNAVO_API_KEY = \"{KUNAVO}\"\n"),
    );
    write(
        dir.path(),
        "deploy.env",
        format!("PINAIVU_API_KEY={PINAIVU}\r\nGH={GITHUB}\r\n"),
    );
    dir
}

fn scan(dir: &std::path::Path, args: &[&str]) -> Run {
    run(leakhound().current_dir(dir).arg("scan").args(args))
}

#[test]
fn text_report_lists_location_rule_provider_severity_and_masked_line() {
    let dir = tree_with_keys();
    let r = scan(dir.path(), &[]);
    assert_eq!(r.code, 1);
    let out = &r.stdout;
    assert!(
        out.contains("app/config.py:2:19  kunavo-api-key  kunavo  critical"),
        "{out}"
    );
    assert!(out.contains("secret   sk-kunavo-u8jz…"), "{out}");
    assert!(
        out.contains("line     KUNAVO_API_KEY = \"sk-kunavo-u8jz…\""),
        "{out}"
    );
    // CRLF: no carriage return leaks into the snippet.
    assert!(
        out.contains("line     PINAIVU_API_KEY=sk-pnv-DL7D…\n"),
        "{out}"
    );
    assert!(
        out.contains("3 findings (3 critical) in 2 files scanned"),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "no color when piped");
}

#[test]
fn color_only_when_asked_or_on_a_terminal_and_never_with_no_color() {
    let dir = tree_with_keys();
    assert!(scan(dir.path(), &["--color", "always"])
        .stdout
        .contains("\x1b["));
    assert!(!scan(dir.path(), &["--color", "auto"])
        .stdout
        .contains('\x1b'));
    // On a terminal, `auto` colours; NO_COLOR turns that off (and an
    // empty NO_COLOR does not, as no-color.org says); `--color always`
    // still wins. `--quiet`: no progress bar, whose redraws use escapes too.
    let term = |args: &[&str], env: &[(&str, &str)]| {
        let (shown, code) =
            on_terminal(dir.path(), &[&["scan", "--quiet"][..], args].concat(), env);
        assert_eq!(code, 1, "{shown}");
        assert!(shown.contains("kunavo-api-key"), "{shown}");
        shown
    };
    assert!(term(&["--color", "auto"], &[]).contains("\x1b["));
    assert!(term(&[], &[]).contains("\x1b["), "auto is the default");
    assert!(term(&["--color", "auto"], &[("NO_COLOR", "")]).contains("\x1b["));
    let plain = term(&["--color", "auto"], &[("NO_COLOR", "1")]);
    assert!(!plain.contains('\x1b'), "{plain:?}");
    assert!(!term(&["--color", "never"], &[]).contains('\x1b'));
    assert!(term(&["--color", "always"], &[("NO_COLOR", "1")]).contains("\x1b["));
}

#[test]
fn json_report_has_the_documented_fields() {
    let dir = tree_with_keys();
    let r = scan(dir.path(), &["--format", "json"]);
    assert_eq!(r.code, 1);
    let v = r.json();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "kunavo-api-key")
        .unwrap()
        .clone();
    for key in [
        "rule_id",
        "provider",
        "severity",
        "path",
        "line",
        "column",
        "end_column",
        "secret",
        "fingerprint",
        "source",
        "commit",
        "verification",
    ] {
        assert!(f.get(key).is_some(), "missing {key} in {f}");
    }
    assert_eq!(f["path"], "app/config.py");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(2), Some(19))
    );
    assert_eq!(f["end_column"].as_u64(), Some(19 + KUNAVO.len() as u64));
    assert_eq!(f["secret"], "sk-kunavo-u8jz…");
    assert_eq!(f["source"], "file");
    assert!(f["commit"].is_null() && f["verification"].is_null());
    assert_eq!(f["fingerprint"].as_str().unwrap().len(), 32);
    let stats = &v["stats"];
    assert_eq!(stats["files"], 2);
    assert_eq!(stats["findings"], 3);
    assert!(stats["bytes"].as_u64().unwrap() > 100);
}

#[test]
fn sarif_report_validates_against_the_official_schema() {
    let dir = tree_with_keys();
    let r = scan(dir.path(), &["--format", "sarif"]);
    assert_eq!(r.code, 1);
    let sarif = r.json();
    let schema_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // What GitHub code scanning needs.
    let run0 = &sarif["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for res in results {
        assert!(res["ruleId"].is_string());
        assert!(["error", "warning", "note"].contains(&res["level"].as_str().unwrap()));
        let region = &res["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1);
        assert!(res["partialFingerprints"]["leakhound/v1"].is_string());
    }
    // A broken document is rejected, so the validation above means something.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn github_format_emits_workflow_commands() {
    let dir = tree_with_keys();
    let r = scan(dir.path(), &["--format", "github"]);
    assert_eq!(r.code, 1);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("file=app/config.py"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        line.starts_with("::error file=app/config.py,line=2,endLine=2,col=19,endColumn="),
        "{line}"
    );
    assert!(
        line.contains("title=leakhound%3A kunavo-api-key (high confidence)::"),
        "{line}"
    );
    assert_eq!(r.stdout.lines().count(), 3);
}

#[test]
fn no_format_prints_a_raw_secret_unless_asked() {
    let dir = tree_with_keys();
    for format in ["text", "json", "sarif", "github"] {
        let r = scan(dir.path(), &["--format", format]);
        for key in [KUNAVO, PINAIVU, GITHUB] {
            assert!(
                !r.stdout.contains(key) && !r.stderr.contains(key),
                "{format} leaks {key}"
            );
            // Not even most of it.
            assert!(
                !r.stdout.contains(&key[..key.len() - 8]),
                "{format} leaks most of {key}"
            );
        }
        let shown = scan(dir.path(), &["--format", format, "--show-secrets"]);
        assert!(
            shown.stdout.contains(KUNAVO),
            "{format} --show-secrets hides the key"
        );
    }
}

#[test]
fn output_file_and_quiet() {
    let dir = tree_with_keys();
    let r = scan(dir.path(), &["--format", "json", "--output", "report.json"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(saved["findings"].as_array().unwrap().len(), 3);

    let q = scan(dir.path(), &["--quiet"]);
    assert_eq!(q.code, 1);
    assert!(!q.stdout.contains("findings ("), "{}", q.stdout);
    assert!(q.stdout.contains("kunavo-api-key"));
}

#[test]
fn a_snippet_never_shows_another_secret_on_the_same_line() {
    let dir = tempdir();
    write(dir.path(), "two.env", format!("A={KUNAVO} B={PINAIVU}\n"));
    for format in ["text", "json", "sarif", "github", "junit", "jsonl"] {
        let r = scan(dir.path(), &["--format", format]);
        assert_eq!(r.code, 1);
        for key in [KUNAVO, PINAIVU] {
            assert!(
                !r.stdout.contains(&key[..key.len() - 8]),
                "{format} shows {key}:\n{}",
                r.stdout
            );
        }
    }
}

#[test]
fn clicolor_force_colours_a_pipe_and_no_color_wins_over_nothing_else() {
    let dir = tree_with_keys();
    let forced = run(leakhound()
        .current_dir(dir.path())
        .env("CLICOLOR_FORCE", "1")
        .args(["scan", "--color", "auto"]));
    assert!(forced.stdout.contains("\x1b["), "CLICOLOR_FORCE ignored");
    assert!(!forced.stdout.contains("\\u{1b}"), "{}", forced.stdout);
    let never = run(leakhound()
        .current_dir(dir.path())
        .env("CLICOLOR_FORCE", "1")
        .args(["scan", "--color", "never"]));
    assert!(!never.stdout.contains('\x1b'));
}

#[test]
fn output_dash_is_standard_output() {
    let dir = tree_with_keys();
    let r = scan(dir.path(), &["--format", "json", "--output", "-"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.findings().len(), 3);
    assert!(!dir.path().join("-").exists(), "wrote a file named -");
}

/// `-o` onto a FIFO (or a device such as `/dev/null`) writes into it; it is
/// never replaced by a regular file through the temp-file rename (as root,
/// `-o /dev/null` used to turn the device into a file).
#[test]
fn output_onto_a_fifo_writes_into_it_and_keeps_it() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tree_with_keys();
    let out = tempdir();
    let fifo = out.path().join("report.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let r = scan(
        dir.path(),
        &["--format", "json", "-o", fifo.to_str().unwrap()],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the FIFO was replaced: {kind:?}");
    let report: serde_json::Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
    assert_eq!(report["findings"].as_array().unwrap().len(), 3);
    let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "a temp file was left beside the FIFO");
}

#[test]
fn summary_counts_files_scanned_in_the_singular_too() {
    let dir = tempdir();
    write(dir.path(), "only.env", format!("K={KUNAVO}\n"));
    let r = scan(dir.path(), &[]);
    assert!(
        r.stdout
            .contains("1 finding (1 critical) in 1 file scanned,"),
        "{}",
        r.stdout
    );
    // No per-rule table for a short report.
    assert!(!r.stdout.contains("findings by rule:"));
}

#[test]
fn a_long_report_ends_with_a_count_per_rule() {
    let dir = tempdir();
    for i in 0..22 {
        write(
            dir.path(),
            &format!("k{i}.env"),
            format!("KUNAVO_API_KEY={}\n", kunavo(&format!("many-{i}"))),
        );
    }
    write(dir.path(), "gh.env", format!("GH={GITHUB}\n"));
    let r = scan(dir.path(), &[]);
    let table = r
        .stdout
        .split("findings by rule:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no per-rule count:\n{}", r.stdout));
    assert!(
        table.starts_with("  22  kunavo-api-key\n   1  github-pat-classic\n\n23 findings"),
        "{table}"
    );
}

#[test]
fn a_private_key_is_shown_as_its_key_type() {
    let dir = tempdir();
    let body: String = (0..12)
        .map(|i| format!("{}\n", alnum(&format!("pem-{i}"), 64)))
        .collect();
    let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----\n");
    write(dir.path(), "id_rsa", &pem);
    let r = scan(dir.path(), &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("secret   -----BEGIN RSA PRIVATE KEY-----…"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(&body[..64]), "key material shown");
}
