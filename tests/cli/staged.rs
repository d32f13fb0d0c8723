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

/// Every kind of staged change, scanned twice: once with the index read
/// directly (cache tree, direct diff of blobs) and once through libgit2's
/// diff, which a deletion beside additions calls for. Both must report the
/// same keys at the same lines, and only the added ones.
#[test]
fn the_index_read_directly_and_through_libgit2_agree() {
    let r = Repo::init();
    let old = |n: u64| format!("OLD_{n}={}\n", kunavo_key(100 + n));
    r.write("keep/unchanged.env", &old(1));
    r.write("deep/a/b/c/modified.env", &format!("# top\n{}", old(2)));
    r.write("mode.env", &old(3));
    r.write("typechange", &old(4));
    r.write("dir-to-file/inner.env", &old(5));
    r.write("deleted.env", &old(6));
    r.commit("Start");

    // A modified file: one new line between old ones.
    r.write(
        "deep/a/b/c/modified.env",
        &format!("# top\nNEW_A={}\n{}", pinaivu_key(201), old(2)),
    );
    // A new file in a new directory, and one beside unchanged files.
    r.write(
        "fresh/dir/new.env",
        &format!("NEW_B={}\n", pinaivu_key(202)),
    );
    r.write("keep/new.env", &format!("NEW_C={}\n", pinaivu_key(203)));
    // A mode change only: no line is new.
    r.git(&["update-index", "--chmod=+x", "mode.env"]);
    // A file that becomes a directory and a directory that becomes a file.
    std::fs::remove_file(r.path().join("typechange")).unwrap();
    r.write(
        "typechange/inside.env",
        &format!("NEW_D={}\n{}", pinaivu_key(204), old(4)),
    );
    std::fs::remove_dir_all(r.path().join("dir-to-file")).unwrap();
    r.write("dir-to-file", &format!("NEW_E={}\n", pinaivu_key(205)));
    r.git(&["add", "-A"]);

    let expected: Vec<(String, u64)> = vec![
        ("deep/a/b/c/modified.env".into(), 2),
        ("dir-to-file".into(), 1),
        ("fresh/dir/new.env".into(), 1),
        ("keep/new.env".into(), 1),
        ("typechange/inside.env".into(), 1),
    ];
    let found = |args: &[&str]| {
        let (code, report, stderr) = scan_json(r.path(), args);
        assert_eq!(code, 1, "{stderr}");
        let mut got: Vec<(String, u64)> = findings(&report)
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_string(),
                    f["line"].as_u64().unwrap(),
                )
            })
            .collect();
        got.sort();
        let mut keys = secrets(&report);
        keys.sort();
        (got, keys)
    };
    let (direct, direct_keys) = found(&["--staged", "--show-secrets"]);
    assert_eq!(direct, expected);
    let mut new_keys: Vec<String> = (201..=205).map(pinaivu_key).collect();
    new_keys.sort();
    assert_eq!(direct_keys, new_keys, "only the added keys");

    // With a file deleted beside the added ones (a possible rename), the
    // changes go through libgit2's diff and rename detection instead.
    r.git(&["rm", "-q", "deleted.env"]);
    assert_eq!(
        found(&["--staged", "--show-secrets"]),
        (direct, direct_keys)
    );
}

/// A file deleted and another added in the same commit may be a rename:
/// libgit2's rename detection decides, so a moved key is not reported as
/// new, and a moved file with a new line reports that line only.
#[test]
fn a_moved_file_with_a_new_line_reports_that_line_only() {
    let r = Repo::init();
    r.write(
        "old/name.env",
        &format!("A={}\nB=1\nC=2\nD=3\n", kunavo_key(301)),
    );
    r.commit("Start");
    r.git(&["mv", "old/name.env", "new-name.env"]);
    r.write(
        "new-name.env",
        &format!(
            "A={}\nB=1\nC=2\nD=3\nE={}\n",
            kunavo_key(301),
            pinaivu_key(302)
        ),
    );
    r.git(&["add", "-A"]);
    let (code, report, _) = scan_json(r.path(), &["--staged", "--show-secrets"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), vec![pinaivu_key(302)]);
    assert_eq!(findings(&report)[0]["line"], 5);
}
