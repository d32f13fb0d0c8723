//! `scan --staged`: what `git commit` would add, read from the index.

use crate::gitutil::{findings, kunavo_key, pinaivu_key, scan_json, scan_text, secrets, Repo};

#[test]
fn only_added_lines_are_reported_with_their_staged_line_numbers() {
    let r = Repo::init();
    r.write("app.env", &format!("OLD={}\n", kunavo_key(40)));
    r.commit("Old key");
    r.write(
        "app.env",
        &format!(
            "# one\n# two\n# three\nOLD={}\n# five\nNEW={}\n",
            kunavo_key(40),
            pinaivu_key(41)
        ),
    );
    r.git(&["add", "app.env"]);

    let (code, report, _) = scan_json(r.path(), &["--staged", "--show-secrets"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), vec![pinaivu_key(41)]);
    let f = &findings(&report)[0];
    assert_eq!(f["path"], "app.env");
    assert_eq!(f["line"], 6);
    assert_eq!(f["source"], "staged");
    assert!(f["commit"].is_null());
}

#[test]
fn the_index_is_read_not_the_working_tree() {
    let r = Repo::init();
    r.write("README", "hello\n");
    r.commit("Start");
    r.write("staged.env", &format!("KEY={}\n", kunavo_key(42)));
    r.git(&["add", "staged.env"]);
    r.write("staged.env", "KEY=${KEY}\n");
    r.write("README", &format!("hello\nKEY={}\n", kunavo_key(43)));

    let (code, report, _) = scan_json(r.path(), &["--staged", "--show-secrets"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), vec![kunavo_key(42)]);
    assert_eq!(findings(&report)[0]["path"], "staged.env");
}

#[test]
fn works_before_the_first_commit() {
    let r = Repo::init();
    r.write(
        "src/config.py",
        &format!("\n\nAPI_KEY = \"{}\"\n", kunavo_key(44)),
    );
    r.git(&["add", "-A"]);
    let (code, report, _) = scan_json(r.path(), &["--staged"]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report)[0]["path"], "src/config.py");
    assert_eq!(findings(&report)[0]["line"], 3);
}

#[test]
fn renaming_a_file_adds_no_lines() {
    let r = Repo::init();
    r.write("a.env", &format!("KEY={}\n", kunavo_key(45)));
    r.commit("Key");
    r.git(&["mv", "a.env", "b.env"]);
    let (code, report, _) = scan_json(r.path(), &["--staged"]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn nothing_staged_is_clean_and_a_blocked_scan_says_what_to_do() {
    let r = Repo::init();
    r.write("README", "hello\n");
    r.commit("Start");
    let (code, out, _) = scan_text(r.path(), &["--staged"]);
    assert_eq!(code, 0, "{out}");

    r.write(
        "deploy.env",
        &format!("# deploy\nKUNAVO_API_KEY={}\n", kunavo_key(46)),
    );
    r.git(&["add", "deploy.env"]);
    let (code, out, err) = scan_text(r.path(), &["--staged"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("deploy.env:2:16  kunavo-api-key"), "{out}");
    assert!(!out.contains(&kunavo_key(46)), "redacted: {out}");
    assert!(err.contains("commit blocked"), "{err}");
    assert!(err.contains("leakhound:allow"), "{err}");
    assert!(err.contains("--no-verify"), "{err}");
}

#[test]
fn bare_repository_has_nothing_staged() {
    let r = Repo::init();
    let dir = tempfile::tempdir().unwrap();
    crate::gitutil::git(
        dir.path(),
        &["clone", "-q", "--bare", r.path().to_str().unwrap(), "b.git"],
    );
    let (code, _, err) = scan_text(dir.path(), &["--staged", "b.git"]);
    assert_eq!(code, 2);
    assert!(err.contains("bare repository"), "{err}");
}
