//! `scan --range` on histories shaped like real pull requests: merges in
//! both directions, renames, a base that is not an ancestor of the head;
//! each key must be reported once, at the commit that wrote it. And
//! `--all-objects` naming what no commit holds.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::gitutil::{findings, git, kunavo_key, scan_json, Repo};

/// Secret -> (commit id, path, line) of every finding.
fn by_commit(report: &Value) -> BTreeMap<String, (String, String, u64)> {
    let mut out = BTreeMap::new();
    for f in findings(report) {
        let secret = f["secret"].as_str().expect("shown secret").to_string();
        let place = (
            f["commit"]["id"].as_str().expect("commit id").to_string(),
            f["path"].as_str().expect("path").to_string(),
            f["line"].as_u64().expect("line"),
        );
        assert!(out.insert(secret, place).is_none(), "{report:#}");
    }
    out
}

/// Lines of filler text so that a one-line edit keeps a file similar
/// enough for git's rename detection.
fn filler(tag: &str) -> String {
    (0..40)
        .map(|i| format!("{tag} line {i} of some ordinary configuration\n"))
        .collect()
}

#[test]
fn merge_heavy_range_blames_each_key_on_the_commit_that_wrote_it() {
    let r = Repo::init();
    r.write("shared.txt", &filler("shared"));
    r.commit("Base");
    r.git(&["tag", "base"]);
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write("f.env", &format!("A={}\n", kunavo_key(40)));
    let f1 = r.commit("Feature adds A");
    r.git(&["checkout", "-q", "main"]);
    r.write("m.env", &format!("B={}\n", kunavo_key(41)));
    let m1 = r.commit("Main adds B");
    r.git(&["checkout", "-q", "feature"]);
    r.git(&["merge", "-q", "--no-edit", "main"]);
    r.write(
        "f.env",
        &format!("A={}\nC={}\n", kunavo_key(40), kunavo_key(42)),
    );
    let f2 = r.commit("Feature adds C");
    // Both sides edit shared.txt; the merge combines them without conflict,
    // so its blob differs from both parents but it writes no line itself.
    r.write(
        "shared.txt",
        &format!("{}G={}\n", filler("shared"), kunavo_key(43)),
    );
    let f3 = r.commit("Feature appends G");
    r.git(&["checkout", "-q", "main"]);
    r.write("shared.txt", &format!("# header\n{}", filler("shared")));
    r.commit("Main prepends a header");
    r.write(
        "m.env",
        &format!("B={}\nD={}\n", kunavo_key(41), kunavo_key(44)),
    );
    let m2 = r.commit("Main adds D");
    r.git(&["checkout", "-q", "feature"]);
    // An evil merge: the merge commit itself writes E.
    r.git(&["merge", "-q", "--no-commit", "main"]);
    r.write("e.env", &format!("E={}\n", kunavo_key(45)));
    let x2 = r.commit("Merge main, and add E");
    let merged = std::fs::read_to_string(r.path().join("shared.txt")).unwrap();
    assert!(
        merged.starts_with("# header\n") && merged.contains("G="),
        "{merged}"
    );

    let (code, report, _) = scan_json(r.path(), &["--range", "base..feature", "--show-secrets"]);
    assert_eq!(code, 1);
    let got = by_commit(&report);
    let want: BTreeMap<String, (String, String, u64)> = [
        (40, &f1, "f.env", 1),
        (41, &m1, "m.env", 1),
        (42, &f2, "f.env", 2),
        (43, &f3, "shared.txt", 41),
        (44, &m2, "m.env", 2),
        (45, &x2, "e.env", 1),
    ]
    .into_iter()
    .map(|(seed, c, p, l)| (kunavo_key(seed), (c.clone(), p.to_string(), l)))
    .collect();
    assert_eq!(got, want, "{report:#}");
    assert_eq!(report["stats"]["commits"], 8);
}

#[test]
fn renames_inside_a_range_report_only_the_lines_they_add() {
    let r = Repo::init();
    r.write(
        "old/a.env",
        &format!("{}K={}\n", filler("a"), kunavo_key(50)),
    );
    r.write(
        "old/b.env",
        &format!("{}K2={}\n", filler("b"), kunavo_key(51)),
    );
    r.commit("Base with two keys");
    r.git(&["tag", "base"]);
    // Renamed and edited: only the new line is added.
    r.git(&["rm", "-q", "old/a.env"]);
    r.write(
        "new/a.env",
        &format!(
            "{}K={}\nL={}\n",
            filler("a"),
            kunavo_key(50),
            kunavo_key(52)
        ),
    );
    let renamed = r.commit("Move a.env and add L");
    // Renamed unchanged: nothing is added.
    r.git(&["rm", "-q", "old/b.env"]);
    r.write(
        "new/b.env",
        &format!("{}K2={}\n", filler("b"), kunavo_key(51)),
    );
    r.commit("Move b.env");

    let (code, report, _) = scan_json(r.path(), &["--range", "base..HEAD", "--show-secrets"]);
    assert_eq!(code, 1);
    let got = by_commit(&report);
    let want: BTreeMap<_, _> = [(kunavo_key(52), (renamed, "new/a.env".to_string(), 42))].into();
    assert_eq!(got, want, "{report:#}");
}

#[test]
fn range_whose_base_is_not_an_ancestor_of_its_head() {
    let r = Repo::init();
    r.write("r.env", &format!("R={}\n", kunavo_key(60)));
    r.commit("Root key");
    r.git(&["checkout", "-q", "-b", "other"]);
    r.write("o.env", &format!("X={}\n", kunavo_key(61)));
    r.commit("Other adds X");
    r.git(&["checkout", "-q", "main"]);
    r.write(
        "r.env",
        &format!("R={}\nY={}\n", kunavo_key(60), kunavo_key(62)),
    );
    let y = r.commit("Main adds Y");
    r.write("o.env", &format!("X={}\n", kunavo_key(61)));
    let x_again = r.commit("Main writes the same X");

    // other..main: what main has that other does not; X was added on main
    // independently, in a commit other does not reach.
    let (code, report, _) = scan_json(r.path(), &["--range", "other..main", "--show-secrets"]);
    assert_eq!(code, 1);
    let got = by_commit(&report);
    let want: BTreeMap<_, _> = [
        (kunavo_key(61), (x_again, "o.env".to_string(), 1)),
        (kunavo_key(62), (y, "r.env".to_string(), 2)),
    ]
    .into();
    assert_eq!(got, want, "{report:#}");
    assert_eq!(report["stats"]["commits"], 2);
}

#[test]
fn all_objects_names_a_blob_only_the_index_holds_by_its_path() {
    let r = Repo::init();
    r.write("README", "hello\n");
    r.commit("Start");
    // Staged with a key, then fixed in the working tree only.
    r.write("app.env", &format!("KEY={}\n", kunavo_key(70)));
    r.git(&["add", "app.env"]);
    let staged = git(r.path(), &["rev-parse", ":app.env"]);
    r.write("app.env", "KEY=${KEY}\n");
    // Written to the object database with no path anywhere.
    r.write("scratch.env", &format!("KEY={}\n", kunavo_key(71)));
    let loose = r.git(&["hash-object", "-w", "scratch.env"]);
    std::fs::remove_file(r.path().join("scratch.env")).unwrap();
    assert_ne!(staged, loose);

    let (code, report, _) = scan_json(r.path(), &["--git", "--show-secrets"]);
    assert_eq!(code, 0, "{report:#}");
    let (code, report, _) = scan_json(r.path(), &["--git", "--all-objects", "--show-secrets"]);
    assert_eq!(code, 1);
    let all = findings(&report);
    assert_eq!(all.len(), 2, "{report:#}");
    let named = all.iter().find(|f| f["secret"] == kunavo_key(70)).unwrap();
    assert_eq!(named["path"], "app.env", "{report:#}");
    assert_eq!(named["source"], "staged");
    assert!(named["commit"].is_null());
    let unnamed = all.iter().find(|f| f["secret"] == kunavo_key(71)).unwrap();
    assert_eq!(unnamed["path"], format!("<dangling blob {loose}>"));
}
