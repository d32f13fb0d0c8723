//! `scan --git`, `--all-objects`, `--range` and `--since` on repositories
//! built here with the git CLI.

use serde_json::Value;

use crate::gitutil::{findings, git, kunavo_key, pinaivu_key, scan_json, scan_text, secrets, Repo};

fn only(report: &Value) -> &Value {
    let all = findings(report);
    assert_eq!(all.len(), 1, "expected one finding: {report:#}");
    &all[0]
}

fn by_secret<'a>(report: &'a Value, secret: &str) -> &'a Value {
    findings(report)
        .iter()
        .find(|f| f["secret"] == secret)
        .unwrap_or_else(|| panic!("no finding for {secret}: {report:#}"))
}

#[test]
fn key_added_then_removed_is_found_at_the_commit_that_added_it() {
    let r = Repo::init();
    let key = kunavo_key(1);
    r.write("config/app.env", &format!("# app\nKUNAVO_API_KEY={key}\n"));
    let added = r.commit("Add app config");
    r.write(
        "config/app.env",
        "# app\nKUNAVO_API_KEY=${KUNAVO_API_KEY}\n",
    );
    r.commit("Read the key from the environment");

    let (code, report, _) = scan_json(r.path(), &["--git", ".", "--show-secrets"]);
    assert_eq!(code, 1);
    let f = only(&report);
    assert_eq!(f["secret"], key);
    assert_eq!(f["path"], "config/app.env");
    assert_eq!(f["line"], 2);
    assert_eq!(f["source"], "git");
    let c = &f["commit"];
    assert_eq!(c["id"], added);
    assert_eq!(c["author_name"], "Ada Lovelace");
    assert_eq!(c["author_email"], "ada@example.com");
    assert_eq!(c["date"], "2023-11-15T00:13:20+00:00");
    assert_eq!(c["summary"], "Add app config");
    assert_eq!(report["stats"]["commits"], 2);
    assert_eq!(report["stats"]["blobs"], 2);
}

#[test]
fn deleted_file_is_found() {
    let r = Repo::init();
    r.write("README", "hello\n");
    r.write(
        "secrets/prod.env",
        &format!("PINAIVU_API_KEY={}\n", pinaivu_key(2)),
    );
    let added = r.commit("Add prod env");
    r.git(&["rm", "-q", "secrets/prod.env"]);
    r.commit("Remove prod env");
    assert!(!r.path().join("secrets/prod.env").exists());

    let (code, report, _) = scan_json(r.path(), &["--git"]);
    assert_eq!(code, 1);
    let f = only(&report);
    assert_eq!(f["path"], "secrets/prod.env");
    assert_eq!(f["rule_id"], "pinaivu-api-key");
    assert_eq!(f["commit"]["id"], added);
}

#[test]
fn renamed_file_is_one_finding_naming_both_paths() {
    let r = Repo::init();
    r.write("old/keys.env", &format!("KEY={}\n", kunavo_key(3)));
    let added = r.commit("Add keys");
    r.git(&["mv", "old", "new"]);
    let renamed = r.commit("Move keys");

    let (_, report, _) = scan_json(r.path(), &["--git"]);
    let f = only(&report);
    assert_eq!(f["path"], "old/keys.env");
    assert_eq!(f["commit"]["id"], added);
    assert_eq!(
        f["commit"]["other_locations"],
        serde_json::json!([{ "path": "new/keys.env", "commit": renamed }])
    );
}

#[test]
fn unmerged_branch_tag_and_remote_tracking_ref_are_scanned() {
    let r = Repo::init();
    r.write("README", "hello\n");
    r.commit("Start");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write("feature.env", &format!("KEY={}\n", kunavo_key(4)));
    let on_branch = r.commit("Feature work");
    r.git(&["checkout", "-q", "main"]);

    r.git(&["checkout", "-q", "-b", "release"]);
    r.write("release.env", &format!("KEY={}\n", kunavo_key(5)));
    let tagged = r.commit("Release work");
    r.git(&["tag", "-a", "v1", "-m", "v1"]);
    r.git(&["checkout", "-q", "main"]);
    r.git(&["branch", "-q", "-D", "release"]);

    r.git(&["checkout", "-q", "-b", "fetched"]);
    r.write("remote.env", &format!("KEY={}\n", kunavo_key(6)));
    let remote = r.commit("Someone else's work");
    r.git(&["checkout", "-q", "main"]);
    r.git(&["update-ref", "refs/remotes/origin/fetched", &remote]);
    r.git(&["branch", "-q", "-D", "fetched"]);

    let (_, report, _) = scan_json(r.path(), &["--git", "--show-secrets"]);
    assert_eq!(findings(&report).len(), 3, "{report:#}");
    assert_eq!(
        by_secret(&report, &kunavo_key(4))["commit"]["id"],
        on_branch
    );
    assert_eq!(by_secret(&report, &kunavo_key(5))["commit"]["id"], tagged);
    assert_eq!(by_secret(&report, &kunavo_key(6))["commit"]["id"], remote);
}

#[test]
fn merge_commit_credits_the_branch_commit_and_an_evil_merge_itself() {
    let r = Repo::init();
    r.write("README", "hello\n");
    r.commit("Start");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write("feature.env", &format!("KEY={}\n", kunavo_key(7)));
    let branch_commit = r.commit("Feature key");
    r.git(&["checkout", "-q", "main"]);
    r.write("main.txt", "main work\n");
    r.commit("Main work");
    r.git(&["merge", "-q", "--no-ff", "--no-commit", "feature"]);
    r.write("merge.env", &format!("KEY={}\n", kunavo_key(8)));
    let merge = r.commit("Merge feature");
    assert_eq!(
        git(r.path(), &["rev-list", "--parents", "-n1", "HEAD"])
            .split(' ')
            .count(),
        3
    );

    let (_, report, _) = scan_json(r.path(), &["--git", "--show-secrets"]);
    assert_eq!(findings(&report).len(), 2, "{report:#}");
    assert_eq!(
        by_secret(&report, &kunavo_key(7))["commit"]["id"],
        branch_commit
    );
    assert_eq!(by_secret(&report, &kunavo_key(8))["commit"]["id"], merge);
    assert!(by_secret(&report, &kunavo_key(7))["commit"]["other_locations"].is_null());
}

#[test]
fn key_kept_while_its_file_is_edited_is_reported_once_at_its_first_commit() {
    let r = Repo::init();
    let key = kunavo_key(26);
    r.write("settings.py", &format!("KEY = \"{key}\"\n"));
    let added = r.commit("Add settings");
    for i in 0..5 {
        r.write("settings.py", &format!("# edit {i}\nKEY = \"{key}\"\n"));
        r.commit(&format!("Edit {i}"));
    }
    // Edited again in the working tree, key still there.
    r.write("settings.py", &format!("# uncommitted\nKEY = \"{key}\"\n"));

    let (_, report, _) = scan_json(r.path(), &["--git"]);
    let f = only(&report);
    assert_eq!(f["commit"]["id"], added);
    assert_eq!(f["line"], 1);
    assert_eq!(report["stats"]["blobs"], 6);
}

#[test]
fn same_key_in_many_files_is_scanned_once_per_blob() {
    let r = Repo::init();
    let key = kunavo_key(9);
    let text = format!("KUNAVO_API_KEY={key}\n");
    for i in 0..25 {
        r.write(&format!("services/s{i:02}/.env"), &text);
    }
    r.write(
        "docs/setup.md",
        &format!("Set it up:\n\n    export KUNAVO_API_KEY={key}\n"),
    );
    let commit = r.commit("Configure services");

    let (_, report, _) = scan_json(r.path(), &["--git"]);
    let all = findings(&report);
    assert_eq!(all.len(), 2, "{report:#}");
    let env = all
        .iter()
        .find(|f| f["path"] == "services/s00/.env")
        .expect("the first path of the shared blob");
    let others = env["commit"]["other_locations"].as_array().unwrap();
    assert_eq!(others.len(), 24);
    assert!(others.iter().all(|l| l["commit"] == commit));
    assert_eq!(others[23]["path"], "services/s24/.env");
    assert_eq!(report["stats"]["blobs"], 2);
}

#[test]
fn key_only_in_an_amended_away_commit_needs_all_objects() {
    let r = Repo::init();
    r.write("app.env", &format!("KEY={}\n", kunavo_key(10)));
    let amended_away = r.commit("Add config");
    r.write("app.env", "KEY=${KEY}\n");
    r.git(&["commit", "-q", "-a", "--amend", "-m", "Add config"]);
    assert_ne!(r.head(), amended_away);

    let (code, report, _) = scan_json(r.path(), &["--git"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(findings(&report).is_empty());

    let (code, report, _) = scan_json(r.path(), &["--git", "--all-objects"]);
    assert_eq!(code, 1);
    let f = only(&report);
    assert_eq!(f["path"], "app.env");
    assert_eq!(f["commit"]["id"], amended_away);
    assert_eq!(f["commit"]["unreachable"], true);

    let (_, text, _) = scan_text(r.path(), &["--git", "--all-objects"]);
    assert!(
        text.contains("(unreachable: no ref reaches this commit)"),
        "{text}"
    );
}

#[test]
fn dangling_blob_is_found_with_all_objects_and_labelled() {
    let r = Repo::init();
    r.write("README", "hello\n");
    r.commit("Start");
    r.write("scratch.env", &format!("KEY={}\n", kunavo_key(11)));
    let blob = r.git(&["hash-object", "-w", "scratch.env"]);
    std::fs::remove_file(r.path().join("scratch.env")).unwrap();

    let (_, report, _) = scan_json(r.path(), &["--git"]);
    assert!(findings(&report).is_empty(), "{report:#}");
    let (_, report, _) = scan_json(r.path(), &["--git", "--all-objects"]);
    let f = only(&report);
    assert_eq!(f["path"], format!("<dangling blob {blob}>"));
    assert!(f["commit"].is_null());
}

#[test]
fn stash_is_scanned() {
    let r = Repo::init();
    r.write("app.env", "KEY=\n");
    r.commit("Start");
    r.write("app.env", &format!("KEY={}\n", kunavo_key(12)));
    r.git(&["stash", "-q"]);
    r.write("app.env", &format!("KEY={}\n", kunavo_key(13)));
    r.git(&["stash", "-q"]);
    assert_eq!(
        std::fs::read_to_string(r.path().join("app.env")).unwrap(),
        "KEY=\n"
    );

    let (_, report, _) = scan_json(r.path(), &["--git", "--show-secrets"]);
    let mut found = secrets(&report);
    found.sort();
    let mut want = vec![kunavo_key(12), kunavo_key(13)];
    want.sort();
    assert_eq!(found, want, "both stash entries: {report:#}");
}

#[test]
fn working_tree_and_history_are_not_reported_twice() {
    let r = Repo::init();
    r.write("committed.env", &format!("KEY={}\n", kunavo_key(14)));
    r.write("tracked.env", "KEY=\n");
    let commit = r.commit("Start");
    r.write("untracked.env", &format!("KEY={}\n", kunavo_key(15)));
    r.write("tracked.env", &format!("KEY={}\n", kunavo_key(16)));

    let (_, report, _) = scan_json(r.path(), &["--git", "--show-secrets"]);
    assert_eq!(findings(&report).len(), 3, "{report:#}");
    let committed = by_secret(&report, &kunavo_key(14));
    assert_eq!(committed["source"], "git");
    assert_eq!(committed["commit"]["id"], commit);
    for (seed, path) in [(15, "untracked.env"), (16, "tracked.env")] {
        let f = by_secret(&report, &kunavo_key(seed));
        assert_eq!(f["source"], "file");
        assert_eq!(f["path"], path);
        assert!(f["commit"].is_null());
    }
    assert_eq!(report["stats"]["files"], 2);
    let (_, text, _) = scan_text(r.path(), &["--git"]);
    assert!(
        text.contains("in 1 commit, 2 blobs, 2 uncommitted files"),
        "{text}"
    );
}

#[test]
fn repository_without_commits() {
    let r = Repo::init();
    r.write("new.env", &format!("KEY={}\n", kunavo_key(27)));
    let (code, report, _) = scan_json(r.path(), &["--git"]);
    assert_eq!(code, 1);
    assert_eq!(only(&report)["source"], "file");
    let (code, _, err) = scan_text(r.path(), &["--since", "HEAD~1"]);
    assert_eq!(code, 2);
    assert!(err.contains("no commits yet"), "{err}");
}

#[test]
fn parallel_workers_read_packs_and_alternates() {
    let r = Repo::init();
    for batch in 0..3 {
        for i in 0..20 {
            let n = 100 + batch * 20 + i;
            r.write(&format!("svc{n}/.env"), &format!("KEY={}\n", kunavo_key(n)));
        }
        r.commit(&format!("Batch {batch}"));
    }
    r.git(&["gc", "-q"]);
    let (code, report, _) = scan_json(r.path(), &["--git", "-j", "2"]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report).len(), 60, "{report:#}");
    assert_eq!(report["stats"]["errors"], serde_json::json!([]));

    // A `--shared` clone holds no objects of its own: they are read through
    // objects/info/alternates, by every worker.
    let clones = tempfile::tempdir().unwrap();
    git(
        clones.path(),
        &[
            "clone",
            "-q",
            "--shared",
            r.path().to_str().unwrap(),
            "shared",
        ],
    );
    let (code, report, _) = scan_json(&clones.path().join("shared"), &["--git", "-j", "2"]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report).len(), 60);
    assert_eq!(report["stats"]["errors"], serde_json::json!([]));
}

#[test]
fn bare_repository_works() {
    let r = Repo::init();
    r.write("app.env", &format!("KEY={}\n", kunavo_key(17)));
    let commit = r.commit("Add config");
    let bare = tempfile::tempdir().unwrap();
    git(
        bare.path(),
        &[
            "clone",
            "-q",
            "--bare",
            r.path().to_str().unwrap(),
            "repo.git",
        ],
    );

    let (code, report, _) = scan_json(bare.path(), &["--git", "repo.git"]);
    assert_eq!(code, 1);
    assert_eq!(only(&report)["commit"]["id"], commit);
}

#[test]
fn not_a_repository_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = scan_text(dir.path(), &["--git", "."]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("not a git repository"), "{err}");
}

#[test]
fn missing_and_corrupt_objects_are_counted_and_the_scan_goes_on() {
    let r = Repo::init();
    r.write("a.env", &format!("KEY={}\n", kunavo_key(18)));
    r.write("b.env", &format!("KEY={}\n", kunavo_key(19)));
    r.write("c.env", &format!("KEY={}\n", kunavo_key(20)));
    r.commit("Add configs");
    let object = |name: &str| {
        let id = git(r.path(), &["rev-parse", &format!("HEAD:{name}")]);
        let path = r.path().join(".git/objects").join(&id[..2]).join(&id[2..]);
        (id, path)
    };
    let (missing, path) = object("a.env");
    std::fs::remove_file(path).unwrap();
    let (corrupt, path) = object("b.env");
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"this is not zlib").unwrap();

    let (code, report, stderr) = scan_json(r.path(), &["--git", "--show-secrets"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), vec![kunavo_key(20)]);
    let errors = report["stats"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{report:#}");
    assert!(errors
        .iter()
        .any(|e| e["path"] == format!("a.env (blob {missing})")));
    assert!(errors
        .iter()
        .any(|e| e["path"] == format!("b.env (blob {corrupt})")));
    assert!(
        stderr.contains(&missing),
        "reported on stderr too: {stderr}"
    );
}

#[test]
fn blob_over_the_size_limit_is_skipped_and_counted() {
    let r = Repo::init();
    let big = format!("KEY={}\n{}", kunavo_key(21), "x".repeat(4000));
    r.write("big.env", &big);
    r.commit("Add big file");

    let (code, report, _) = scan_json(r.path(), &["--git", "--max-file-size", "1K"]);
    assert_eq!(code, 0);
    assert!(findings(&report).is_empty());
    let skipped = report["stats"]["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0]["path"]
        .as_str()
        .unwrap()
        .starts_with("big.env (blob "));
    assert!(skipped[0]["reason"]
        .as_str()
        .unwrap()
        .contains("--max-file-size"));
}

#[test]
fn submodules_are_not_followed_and_the_report_says_so() {
    let r = Repo::init();
    r.write("README", "hello\n");
    let start = r.commit("Start");
    r.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{start},vendor/lib"),
    ]);
    r.git(&["commit", "-q", "-m", "Add submodule"]);

    let (code, report, _) = scan_json(r.path(), &["--git"]);
    assert_eq!(code, 0, "{report:#}");
    let notes = report["stats"]["notes"].to_string();
    assert!(
        notes.contains("submodules are not followed: vendor/lib"),
        "{notes}"
    );
}

#[cfg(unix)]
#[test]
fn non_utf8_paths_and_commit_messages() {
    use std::os::unix::ffi::OsStrExt;
    let r = Repo::init();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.env");
    std::fs::write(r.path().join(name), format!("KEY={}\n", kunavo_key(22))).unwrap();
    let msg = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(msg.path(), b"Caf\xe9 config\n").unwrap();
    r.git(&["add", "-A"]);
    r.git(&[
        "-c",
        "i18n.commitEncoding=ISO-8859-1",
        "commit",
        "-q",
        "-F",
        msg.path().to_str().unwrap(),
    ]);

    let (code, report, _) = scan_json(r.path(), &["--git"]);
    assert_eq!(code, 1);
    let f = only(&report);
    assert_eq!(f["path"], "caf\u{fffd}.env");
    assert_eq!(f["commit"]["summary"], "Café config");
}

#[test]
fn shallow_clone_history_is_scanned_and_noted() {
    let r = Repo::init();
    r.write("old.env", &format!("KEY={}\n", kunavo_key(23)));
    r.commit("Old key");
    r.write("README", "one\n");
    r.commit("One");
    r.write("new.env", &format!("KEY={}\n", kunavo_key(24)));
    let newest = r.commit("New key");
    let clones = tempfile::tempdir().unwrap();
    let url = format!("file://{}", r.path().display());
    git(
        clones.path(),
        &["clone", "-q", "--depth", "2", &url, "shallow"],
    );
    let shallow = clones.path().join("shallow");
    let boundary = git(&shallow, &["rev-parse", "HEAD~1"]);

    let (code, report, _) = scan_json(&shallow, &["--git", "--show-secrets"]);
    assert_eq!(code, 1);
    assert_eq!(report["stats"]["commits"], 2);
    assert!(report["stats"]["notes"]
        .to_string()
        .contains("shallow clone"));
    // The old key is in the boundary commit's tree: history before it is gone.
    assert_eq!(
        by_secret(&report, &kunavo_key(23))["commit"]["id"],
        boundary
    );
    assert_eq!(by_secret(&report, &kunavo_key(24))["commit"]["id"], newest);
}

#[test]
fn history_findings_carry_their_commit_in_every_format() {
    let r = Repo::init();
    r.write(
        "deploy/app.env",
        &format!("# deploy\nKEY={}\n", kunavo_key(25)),
    );
    let commit = r.commit("Deploy config");
    r.git(&["rm", "-q", "-r", "deploy"]);
    r.commit("Drop deploy");
    let short = &commit[..7];

    let (_, text, _) = scan_text(r.path(), &["--git"]);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .starts_with(&format!("{short} deploy/app.env:2:")),
        "{text}"
    );
    assert!(text.contains(&format!("commit   {commit} Ada Lovelace <ada@example.com>")));

    let (_, json, _) = scan_json(r.path(), &["--git"]);
    assert_eq!(only(&json)["commit"]["id"], commit);

    let out = crate::gitutil::leakhound()
        .current_dir(r.path())
        .args(["scan", "--git", "--format", "sarif"])
        .output()
        .unwrap();
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["properties"]["commit"]["id"], commit);
    let location = &result["locations"][0];
    assert_eq!(
        location["physicalLocation"]["artifactLocation"]["uri"],
        "deploy/app.env"
    );
    assert_eq!(location["physicalLocation"]["region"]["startLine"], 2);
    assert_eq!(location["properties"]["commit"], commit);
    // The location is one `git blame` can follow: run it.
    let blame = location["properties"]["gitBlame"].as_str().unwrap();
    assert_eq!(
        blame,
        format!("git blame -L 2,2 {commit} -- deploy/app.env")
    );
    let args: Vec<&str> = blame.split(' ').skip(1).collect();
    let blamed = git(r.path(), &args);
    // (`^` marks a root commit.)
    assert!(
        blamed.trim_start_matches('^').starts_with(short),
        "{blamed}"
    );
    assert!(blamed.contains("KEY=sk-kunavo-"), "{blamed}");

    let out = crate::gitutil::leakhound()
        .current_dir(r.path())
        .args(["scan", "--git", "--format", "github"])
        .output()
        .unwrap();
    let github = String::from_utf8_lossy(&out.stdout);
    assert!(github.contains(&format!("in commit {short}")), "{github}");

    // The other four formats.
    let report = |format: &str| {
        let out = crate::gitutil::leakhound()
            .current_dir(r.path())
            .args(["scan", "--git", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let jsonl = report("jsonl");
    let line: Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(line["commit"]["id"], commit, "{jsonl}");
    assert_eq!(line["path"], "deploy/app.env", "{jsonl}");

    let junit = report("junit");
    assert!(junit.contains(&format!("in commit {short}")), "{junit}");
    assert!(
        junit.contains(&format!(
            "commit: {commit} Ada Lovelace &lt;ada@example.com&gt; Deploy config"
        )),
        "{junit}"
    );

    let markdown = report("markdown");
    assert!(markdown.contains(&format!("`{short}`")), "{markdown}");
    assert!(markdown.contains("deploy/app.env"), "{markdown}");

    let html = report("html");
    assert!(
        html.contains(&format!("<code title=\"{commit}\">{short}</code>")),
        "the HTML report lacks the commit cell"
    );
}

// ---------------------------------------------------------------- ranges

/// main: a committed key; feature: three commits adding two keys (one of
/// them removed again) and a harmless change.
fn pull_request() -> (Repo, [String; 3]) {
    let r = Repo::init();
    r.write("app.env", &format!("OLD={}\n", kunavo_key(30)));
    r.commit("Old key on main");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write(
        "app.env",
        &format!("OLD={}\n# added\nNEW={}\n", kunavo_key(30), kunavo_key(31)),
    );
    let c1 = r.commit("Add new key");
    r.write("tmp.env", &format!("TMP={}\n", kunavo_key(32)));
    let c2 = r.commit("Add temporary key");
    r.git(&["rm", "-q", "tmp.env"]);
    let c3 = r.commit("Remove temporary key");
    (r, [c1, c2, c3])
}

#[test]
fn range_reports_only_lines_its_commits_added() {
    let (r, [c1, c2, _]) = pull_request();
    let (code, report, _) = scan_json(r.path(), &["--range", "main..feature", "--show-secrets"]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report).len(), 2, "{report:#}");
    let new = by_secret(&report, &kunavo_key(31));
    assert_eq!(new["line"], 3);
    assert_eq!(new["path"], "app.env");
    assert_eq!(new["commit"]["id"], c1);
    // Added and removed again inside the range: still leaked.
    assert_eq!(by_secret(&report, &kunavo_key(32))["commit"]["id"], c2);
    assert_eq!(report["stats"]["commits"], 3);
}

#[test]
fn since_is_the_range_up_to_head() {
    let (r, [_, c2, _]) = pull_request();
    let (_, report, _) = scan_json(r.path(), &["--since", "HEAD~2", "--show-secrets"]);
    assert_eq!(secrets(&report), vec![kunavo_key(32)]);
    assert_eq!(only(&report)["commit"]["id"], c2);
    let (code, _, _) = scan_json(r.path(), &["--since", "HEAD"]);
    assert_eq!(code, 0);
}

#[test]
fn range_does_not_blame_a_merge_for_what_it_brings_in() {
    let (r, _) = pull_request();
    r.git(&["checkout", "-q", "main"]);
    r.write("main.env", &format!("MAIN={}\n", kunavo_key(33)));
    r.commit("Key on main");
    r.git(&["checkout", "-q", "feature"]);
    r.git(&["merge", "-q", "--no-edit", "main"]);
    let (_, report, _) = scan_json(r.path(), &["--range", "main..HEAD", "--show-secrets"]);
    let mut found = secrets(&report);
    found.sort();
    let mut want = vec![kunavo_key(31), kunavo_key(32)];
    want.sort();
    assert_eq!(found, want, "{report:#}");
}

#[test]
fn missing_base_is_explained() {
    let (r, _) = pull_request();
    let (code, out, err) = scan_text(r.path(), &["--range", "origin/main..HEAD"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("cannot find BASE `origin/main`"), "{err}");
    let (code, _, err) = scan_text(r.path(), &["--range", "main"]);
    assert_eq!(code, 2);
    assert!(err.contains("expected BASE..HEAD"), "{err}");
}

#[test]
fn range_on_a_shallow_clone() {
    let (r, [_, c2, _]) = pull_request();
    let clones = tempfile::tempdir().unwrap();
    let url = format!("file://{}", r.path().display());
    git(
        clones.path(),
        &[
            "clone", "-q", "--depth", "2", "--branch", "feature", &url, "ci",
        ],
    );
    let ci = clones.path().join("ci");

    // The last commit and its parent are there: the check works.
    let (code, report, _) = scan_json(&ci, &["--since", "HEAD~1"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["stats"]["commits"], 1);
    let (code, report, _) = scan_json(&ci, &["--range", "HEAD~1..HEAD"]);
    assert_eq!(code, 0);
    assert_eq!(report["stats"]["commits"], 1);

    // The base commit was never fetched.
    let base = git(r.path(), &["rev-parse", "main"]);
    let (code, _, err) = scan_text(&ci, &["--range", &format!("{base}..HEAD")]);
    assert_eq!(code, 2);
    assert!(err.contains("shallow clone"), "{err}");
    assert!(err.contains("fetch-depth: 0"), "{err}");

    // The base is there but the history between is not.
    git(&ci, &["fetch", "-q", "--depth", "1", "origin", "main"]);
    let (code, _, err) = scan_text(&ci, &["--range", "FETCH_HEAD..HEAD"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("where this shallow clone's history ends"),
        "{err}"
    );
    assert!(err.contains(&c2), "names the boundary commit: {err}");
}

#[test]
fn range_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::gitutil::leakhound()
        .current_dir(dir.path())
        .args(["scan", "--staged", "--git"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::fs::create_dir(dir.path().join("b")).unwrap();
    let (code, _, err) = scan_text(dir.path(), &["--git", "a", "b"]);
    assert_eq!(code, 2);
    assert!(err.contains("one repository path"), "{err}");
}
