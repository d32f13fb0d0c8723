//! The CI formats: jsonl, JUnit XML, Markdown, and `--report FORMAT=FILE`
//! writing several from one scan.

use crate::util::*;

fn tree(dir: &std::path::Path) {
    write(
        dir,
        "app/config.py",
        format!("KUNAVO_API_KEY = \"{KUNAVO}\"  # <b>&\"'\n"),
    );
    write(dir, "a|b`c.env", format!("GH={GITHUB}\n"));
}

fn scan(dir: &std::path::Path, args: &[&str]) -> Run {
    run(leakhound().current_dir(dir).arg("scan").args(args))
}

#[test]
fn jsonl_is_one_finding_per_line_then_stats() {
    let dir = tempdir();
    tree(dir.path());
    let r = scan(dir.path(), &["--format", "jsonl"]);
    assert_eq!(r.code, 1);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    // The same objects as the JSON report's findings.
    let json = scan(dir.path(), &["--format", "json"]).json();
    assert_eq!(lines[0], json["findings"][0]);
    assert_eq!(lines[1], json["findings"][1]);
    let last = &lines[2];
    assert!(last.get("rule_id").is_none());
    assert_eq!(last["stats"]["findings"], 2);
    assert_eq!(last["tool"]["name"], "leakhound");
    assert!(!r.stdout.contains(KUNAVO));
}

#[test]
fn junit_has_a_failed_testcase_per_finding_and_escapes_xml() {
    let dir = tempdir();
    tree(dir.path());
    let r = scan(dir.path(), &["--format", "junit"]);
    assert_eq!(r.code, 1);
    let x = &r.stdout;
    assert!(
        x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        "{x}"
    );
    assert!(
        x.contains(r#"<testsuites name="leakhound" tests="2" failures="2" errors="0""#),
        "{x}"
    );
    assert!(
        x.contains(r#"<testsuite name="app/config.py" tests="1" failures="1" errors="0">"#),
        "{x}"
    );
    assert!(
        x.contains(r#"<testcase name="kunavo-api-key at 1:19" classname="app/config.py" file="app/config.py" line="1">"#),
        "{x}"
    );
    assert!(x.contains(r#"<failure type="kunavo-api-key" message="Kunavo API key (kunavo, critical): sk-kunavo-u8jz…">"#), "{x}");
    // The snippet's markup is escaped, not interpreted.
    assert!(x.contains("# &lt;b&gt;&amp;\"'"), "{x}");
    assert!(!x.contains("<b>"), "{x}");
    assert_eq!(x.matches("<testcase ").count(), 2);
    assert_eq!(x.matches("</testsuite>").count(), 2);
    assert!(!x.contains(KUNAVO) && !x.contains(GITHUB), "{x}");

    // A clean scan is one passing test case.
    let clean = tempdir();
    write(clean.path(), "a.txt", "nothing\n");
    let r = scan(clean.path(), &["--format", "junit"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains(r#"tests="1" failures="0""#),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("<failure"), "{}", r.stdout);
}

#[test]
fn markdown_is_a_redacted_table_even_with_show_secrets() {
    let dir = tempdir();
    tree(dir.path());
    let r = scan(dir.path(), &["--format", "markdown", "--show-secrets"]);
    assert_eq!(r.code, 1);
    let md = &r.stdout;
    assert!(
        md.starts_with("## leakhound: 2 findings (2 critical)\n"),
        "{md}"
    );
    assert!(
        md.contains(
            "| Severity | File | Line | Rule | Provider | Secret |\n|---|---|---|---|---|---|\n"
        ),
        "{md}"
    );
    // A path with a pipe and a backtick stays in its cell.
    assert!(
        md.contains(
            "| critical | `` a\\|b`c.env `` | 1 | `github-pat-classic` | `github` | `ghp_R8s2…` |"
        ),
        "{md}"
    );
    assert!(!md.contains(KUNAVO) && !md.contains(GITHUB), "{md}");
}

#[test]
fn one_scan_writes_several_reports() {
    let dir = tempdir();
    tree(dir.path());
    let r = scan(
        dir.path(),
        &[
            "--format",
            "github",
            "--report",
            "sarif=out/x.sarif",
            "--report",
            "junit=x.xml",
            "--report",
            "json=x.json",
            "--report",
            "markdown=x.md",
            "--report",
            "jsonl=x.jsonl",
        ],
    );
    // The output directory must exist: a report file is not a directory tree.
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot write out/x.sarif"),
        "{}",
        r.stderr
    );
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let r = scan(
        dir.path(),
        &[
            "--format",
            "github",
            "--report",
            "sarif=out/x.sarif",
            "--report",
            "junit=x.xml",
            "--report",
            "json=x.json",
            "--report",
            "markdown=x.md",
            "--report",
            "jsonl=x.jsonl",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.starts_with("::error "), "{}", r.stdout);
    let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
    let sarif: serde_json::Value = serde_json::from_str(&read("out/x.sarif")).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 2);
    assert!(read("x.xml").contains("<testsuites"));
    let json: serde_json::Value = serde_json::from_str(&read("x.json")).unwrap();
    assert_eq!(json["findings"].as_array().unwrap().len(), 2);
    assert!(read("x.md").starts_with("## leakhound"));
    // JSON lines: one line per finding, then the stats.
    let jsonl: Vec<serde_json::Value> = read("x.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line of x.jsonl is JSON"))
        .collect();
    assert_eq!(jsonl.len(), 3, "{jsonl:?}");
    let mut rules: Vec<&str> = jsonl[..2]
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    rules.sort();
    assert_eq!(rules, ["github-pat-classic", "kunavo-api-key"]);
    assert_eq!(jsonl[2]["stats"]["findings"], 2, "{:?}", jsonl[2]);
    // Redacted like the other reports.
    assert!(!read("x.jsonl").contains(KUNAVO));
    // Bad --report values are usage errors.
    let r = scan(dir.path(), &["--report", "pdf=x.pdf"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("`pdf` is not a format"), "{}", r.stderr);
}

#[test]
fn sarif_fingerprints_are_stable_across_runs_and_line_moves() {
    let dir = tempdir();
    tree(dir.path());
    let fingerprints = |dir: &std::path::Path| -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&scan(dir, &["--format", "sarif"]).stdout).unwrap();
        let mut fps: Vec<String> = v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["partialFingerprints"]["leakhound/v1"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        fps.sort();
        fps
    };
    let first = fingerprints(dir.path());
    assert_eq!(first.len(), 2);
    assert_eq!(first, fingerprints(dir.path()));
    write(
        dir.path(),
        "app/config.py",
        format!("\n\n# a comment\nKUNAVO_API_KEY = \"{KUNAVO}\"\n"),
    );
    assert_eq!(first, fingerprints(dir.path()));
}

/// A tree with a live Kunavo key, a dead GitHub key and a link that cannot
/// be read, scanned with `--verify` against a loopback stand-in: every CI
/// format shows the verdicts and lists the unreadable file.
#[cfg(unix)]
#[test]
fn ci_formats_show_verdicts_and_unreadable_files() {
    use crate::fake_provider::{Reply, Server};
    let server = Server::start(|req, _| {
        let live = req.path.starts_with("/kunavo/") && req.key() == KUNAVO;
        Reply::status(if live { 200 } else { 401 })
    });
    let dir = tempdir();
    let d = dir.path();
    tree(d);
    std::os::unix::fs::symlink(d.join("gone.txt"), d.join("broken-link")).unwrap();
    write(
        d,
        "verify.toml",
        format!(
            "[providers.kunavo]\nbase_url = \"{0}/kunavo/v1\"\n\n\
             [providers.github]\nbase_url = \"{0}/github\"\n\n\
             [verify]\nmax_wait = 0.1\nretries = 0\n",
            server.url()
        ),
    );
    let scan_as = |format: &str| {
        let mut cmd = leakhound();
        offline(&mut cmd);
        let r = run(cmd.current_dir(d).args([
            "scan",
            ".",
            "--follow",
            "-c",
            "verify.toml",
            "--verify",
            "-f",
            format,
        ]));
        assert_eq!(r.code, 1, "{format}: {}\n{}", r.stdout, r.stderr);
        assert!(!r.stdout.contains(KUNAVO) && !r.stdout.contains(GITHUB));
        r
    };

    let jsonl = scan_as("jsonl");
    let lines: Vec<serde_json::Value> = jsonl
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", jsonl.stdout);
    let verdict = |rule: &str| {
        lines
            .iter()
            .find(|l| l["rule_id"] == rule)
            .map(|l| l["verification"]["verdict"].clone())
    };
    assert_eq!(verdict("kunavo-api-key"), Some("live".into()));
    assert_eq!(verdict("github-pat-classic"), Some("dead".into()));
    let errors = lines[2]["stats"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["path"], "broken-link");

    let md = scan_as("markdown").stdout;
    assert!(
        md.contains("| Severity | File | Line | Rule | Provider | Secret | Verified |"),
        "{md}"
    );
    assert!(
        md.contains("| `kunavo-api-key` | `kunavo` | `sk-kunavo-u8jz…` | live |"),
        "{md}"
    );
    assert!(
        md.contains("| `github-pat-classic` | `github` | `ghp_R8s2…` | dead |"),
        "{md}"
    );
    assert!(md.contains("1 unreadable."), "{md}");
    assert!(
        md.contains("Files that could not be read:\n\n- `broken-link`: "),
        "{md}"
    );

    let x = scan_as("junit").stdout;
    assert!(
        x.contains(r#"<testsuites name="leakhound" tests="3" failures="2" errors="1""#),
        "{x}"
    );
    assert!(x.contains("verification: live: "), "{x}");
    assert!(x.contains("verification: dead: "), "{x}");
    assert!(
        x.contains(r#"<testcase name="broken-link" classname="leakhound.errors">"#),
        "{x}"
    );
    assert!(x.contains(r#"<error message="cannot read: "#), "{x}");
    let doc = roxmltree::Document::parse(&x).unwrap_or_else(|e| panic!("{e}:\n{x}"));
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, 3);
}
