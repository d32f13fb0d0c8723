//! Exposure (docs/audit.md, "Exposure and the lifecycle of a leak"): one
//! secret over many findings, which refs still reach it, and its status
//! over audits. Every repository is built here with the git CLI.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;

use crate::fake_provider::{Reply, Server};
use crate::gitutil::{findings, git, kunavo_key, scan_json, Repo};

/// The admin token `revoke` presents to the Kunavo stand-in.
const ADMIN_TOKEN: &str = "adm-Exp0sureT3st-9vQ2";

/// The report's secret whose findings include one at `path`.
fn secret_at<'a>(report: &'a Value, path: &str) -> &'a Value {
    report["secrets"]
        .as_array()
        .unwrap_or_else(|| panic!("no secrets in {report:#}"))
        .iter()
        .find(|s| s["paths"].as_array().unwrap().iter().any(|p| p == path))
        .unwrap_or_else(|| panic!("no secret at {path}: {:#}", report["secrets"]))
}

fn ref_names(secret: &Value) -> Vec<String> {
    secret["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

fn ref_of<'a>(secret: &'a Value, name: &str) -> &'a Value {
    secret["refs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} not among {:?}", ref_names(secret)))
}

fn branch_of<'a>(secret: &'a Value, name: &str) -> &'a Value {
    secret["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no branch {name} in {secret:#}"))
}

/// A history with one key of each exposure:
/// - `old`: introduced in `config/app.env`, copied to `deploy/run.sh`,
///   removed from both on `main`, still on the tag `v1` and the branch
///   `release`;
/// - `current`: in HEAD;
/// - `pushed`: committed on `main` and reset away (as a force-push
///   leaves it): only the reflog reaches it.
struct Fixture {
    repo: Repo,
    old: String,
    current: String,
    pushed: String,
    introduced: String,
    copied: String,
    removed: String,
}

fn fixture() -> Fixture {
    let repo = Repo::init();
    let (old, current, pushed) = (kunavo_key(2401), kunavo_key(2402), kunavo_key(2403));
    repo.write("README.md", "hello\n");
    repo.commit("Start");
    repo.write("config/app.env", &format!("KUNAVO_API_KEY={old}\n"));
    let introduced = repo.commit("Add app config");
    repo.write(
        "deploy/run.sh",
        &format!("#!/bin/sh\nexport KUNAVO_API_KEY={old}\n"),
    );
    let copied = repo.commit("Add deploy script");
    repo.git(&["tag", "v1"]);
    repo.git(&["branch", "release"]);
    repo.write("config/app.env", "KUNAVO_API_KEY=${KUNAVO_API_KEY}\n");
    std::fs::remove_file(repo.path().join("deploy/run.sh")).unwrap();
    let removed = repo.commit("Read the key from the environment");
    repo.write("src/client.env", &format!("KUNAVO_API_KEY={current}\n"));
    repo.commit("Add client config");
    repo.write("tmp/push.env", &format!("KUNAVO_API_KEY={pushed}\n"));
    repo.commit("Oops");
    repo.git(&["reset", "-q", "--hard", "HEAD~1"]);
    repo.write("notes.txt", "rewritten\n");
    repo.commit("Rewrite");
    Fixture {
        repo,
        old,
        current,
        pushed,
        introduced,
        copied,
        removed,
    }
}

#[test]
fn each_key_is_one_secret_with_its_exposure_and_refs() {
    let f = fixture();
    let (code, report, stderr) = scan_json(f.repo.path(), &["--git", ".", "--all-objects"]);
    assert_eq!(code, 1, "{stderr}");
    let raw = report.to_string();
    for key in [&f.old, &f.current, &f.pushed] {
        assert!(!raw.contains(key.as_str()), "a raw key in the report");
    }
    let secrets = report["secrets"].as_array().expect("secrets");
    assert_eq!(secrets.len(), 3, "{secrets:#?}");
    // Ids are keyed hashes: 32 hex digits, none a plain SHA-256 prefix.
    for s in secrets {
        let id = s["id"].as_str().unwrap();
        assert_eq!(id.len(), 32);
        for key in [&f.old, &f.current, &f.pushed] {
            let plain = sha256_hex(key.as_bytes());
            assert!(!plain.starts_with(id), "a plain hash");
        }
    }

    // One key, two files, two findings: one secret.
    let old = secret_at(&report, "config/app.env");
    assert_eq!(old["exposure"], "in-history", "{old:#}");
    assert_eq!(
        old["paths"],
        serde_json::json!(["config/app.env", "deploy/run.sh"])
    );
    assert_eq!(old["findings"].as_array().unwrap().len(), 2);
    assert_eq!(findings(&report).len(), 4);
    assert_eq!(old["introduced"]["id"], f.introduced.as_str());
    assert_eq!(old["introduced"]["author_name"], "Ada Lovelace");
    assert!(old["introduced"]["date"]
        .as_str()
        .unwrap()
        .starts_with("2023-11-15"));
    // Commits that hold it: the introduction and the copy (on main, the
    // tag and the branch alike).
    assert_eq!(old["commits"], 2);
    assert_eq!(ref_of(old, "refs/tags/v1")["kind"], "tag");
    assert_eq!(ref_of(old, "refs/tags/v1")["tip"], true);
    assert_eq!(ref_of(old, "refs/heads/release")["kind"], "branch");
    assert_eq!(ref_of(old, "refs/heads/release")["tip"], true);
    assert_eq!(ref_of(old, "refs/heads/main")["tip"], false);
    assert_eq!(ref_of(old, "HEAD")["kind"], "head");
    assert_eq!(ref_of(old, "HEAD")["tip"], false);
    let main = branch_of(old, "refs/heads/main");
    assert_eq!(main["first"]["id"], f.introduced.as_str());
    assert_eq!(main["last"]["id"], f.copied.as_str());
    assert_eq!(main["commits"], 2);
    assert_eq!(main["removed_by"]["id"], f.removed.as_str());
    assert_eq!(
        main["removed_by"]["summary"],
        "Read the key from the environment"
    );
    let release = branch_of(old, "refs/heads/release");
    assert_eq!(release["last"]["id"], f.copied.as_str());
    assert!(release.get("removed_by").is_none(), "{release:#}");

    let current = secret_at(&report, "src/client.env");
    assert_eq!(current["exposure"], "in-head", "{current:#}");
    assert_eq!(ref_of(current, "HEAD")["tip"], true);
    assert_eq!(ref_of(current, "refs/heads/main")["tip"], true);
    assert!(!ref_names(current).contains(&"refs/tags/v1".to_string()));

    // Reset away: only the reflogs reach it.
    let pushed = secret_at(&report, "tmp/push.env");
    assert_eq!(pushed["exposure"], "unreachable", "{pushed:#}");
    let kinds: Vec<&str> = pushed["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert!(
        !kinds.is_empty() && kinds.iter().all(|k| *k == "reflog"),
        "{kinds:?}"
    );
    // main@{0} is the rewrite, @{1} the reset, @{2} the commit reset away.
    assert!(
        ref_names(pushed).contains(&"refs/heads/main@{2}".to_string()),
        "{:?}",
        ref_names(pushed)
    );

    // Worst first.
    assert_eq!(secrets[0]["exposure"], "in-head");
    assert_eq!(secrets[2]["exposure"], "unreachable");
}

/// Which commits hold a key is worked out from the walk's own tree
/// comparisons, not by reading trees: a key at two paths stays until the
/// last one goes, a deleted directory takes what it held, a file that
/// becomes a directory takes its content, and a merge that brings the key
/// back holds it again.
#[test]
fn a_key_is_held_until_its_last_path_goes() {
    let repo = Repo::init();
    let key = kunavo_key(2460);
    let line = format!("KUNAVO_API_KEY={key}\n");
    repo.write("README.md", "hello\n");
    repo.commit("Start");
    repo.write("a/k.env", &line);
    repo.write("b/k.env", &line);
    repo.write("c", &line);
    let introduced = repo.commit("The key at three paths");
    std::fs::remove_dir_all(repo.path().join("a")).unwrap();
    repo.commit("Drop a/");
    repo.git(&["tag", "two-left"]);
    std::fs::remove_file(repo.path().join("c")).unwrap();
    repo.write("c/inside.txt", "no key\n");
    repo.commit("c becomes a directory");
    repo.git(&["tag", "one-left"]);
    repo.git(&["branch", "side"]);
    std::fs::remove_dir_all(repo.path().join("b")).unwrap();
    let removed = repo.commit("Drop b/");
    repo.git(&["tag", "none-left"]);
    // On a side branch the key is copied to a new file, and main merges
    // it: the merge holds it again.
    repo.git(&["checkout", "-q", "side"]);
    repo.write("d.env", &line);
    repo.commit("Copy on side");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--no-edit", "side"]);
    let merged = repo.head();

    let (code, report, stderr) = scan_json(repo.path(), &["--git", "."]);
    assert_eq!(code, 1, "{stderr}");
    let secrets = report["secrets"].as_array().expect("secrets");
    assert_eq!(secrets.len(), 1, "{secrets:#?}");
    let s = &secrets[0];
    assert_eq!(s["introduced"]["id"], introduced.as_str());
    assert_eq!(ref_of(s, "refs/tags/two-left")["tip"], true, "{s:#}");
    assert_eq!(ref_of(s, "refs/tags/one-left")["tip"], true, "{s:#}");
    assert_eq!(ref_of(s, "refs/tags/none-left")["tip"], false, "{s:#}");
    // The merge holds it again (d.env from side): in HEAD.
    assert_eq!(s["exposure"], "in-head", "{s:#}");
    assert_eq!(ref_of(s, "HEAD")["tip"], true);
    // Held by: the introduction, "Drop a/", "c becomes a directory",
    // "Copy on side" and the merge; not by "Drop b/".
    assert_eq!(s["commits"], 5, "{s:#}");
    let main = branch_of(s, "refs/heads/main");
    assert_eq!(main["last"]["id"], merged.as_str(), "{main:#}");
    assert!(main.get("removed_by").is_none(), "{main:#}");
    let side = branch_of(s, "refs/heads/side");
    assert_eq!(side["commits"], 4, "{side:#}");
    assert!(side.get("removed_by").is_none(), "{side:#}");
    let _ = removed;
}

#[test]
fn ids_differ_between_runs_and_a_commit_that_is_gc_d_away_is_dangling() {
    let f = fixture();
    let (_, a, _) = scan_json(f.repo.path(), &["--git", "."]);
    let (_, b, _) = scan_json(f.repo.path(), &["--git", "."]);
    // A key per run: the same key has another id in another run.
    assert_ne!(
        secret_at(&a, "src/client.env")["id"],
        secret_at(&b, "src/client.env")["id"]
    );
    // Without --all-objects the reset commit is not read at all.
    assert_eq!(a["secrets"].as_array().unwrap().len(), 2);
    // The reflogs expired: the commit is dangling.
    git(
        f.repo.path(),
        &["reflog", "expire", "--expire=now", "--all"],
    );
    let (_, c, _) = scan_json(f.repo.path(), &["--git", ".", "--all-objects"]);
    let pushed = secret_at(&c, "tmp/push.env");
    assert_eq!(pushed["exposure"], "unreachable");
    assert_eq!(pushed["refs"][0]["kind"], "dangling", "{pushed:#}");
}

#[test]
fn one_key_in_two_repositories_of_an_audit_is_one_secret() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.git");
    let b = dir.path().join("b.git");
    bare_clone(f.repo.path(), &a);
    bare_clone(f.repo.path(), &b);
    let clones = dir.path().join("clones");
    let (code, report, stderr) = scan_json(
        dir.path(),
        &[
            "--git-url",
            a.to_str().unwrap(),
            "--git-url",
            b.to_str().unwrap(),
            "--clone-dir",
            clones.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    let current = secret_at(&report, "src/client.env");
    assert_eq!(
        current["repositories"].as_array().unwrap().len(),
        2,
        "{current:#}"
    );
    assert_eq!(current["exposure"], "in-head");
    let old = secret_at(&report, "config/app.env");
    assert_eq!(old["exposure"], "in-history");
    // Each repository's tag, named with its repository.
    let tags = old["refs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] == "refs/tags/v1")
        .count();
    assert_eq!(tags, 2, "{old:#}");
    assert_eq!(report["secrets"].as_array().unwrap().len(), 2);
}

/// A work directory with `verify.toml` pointing Kunavo at `provider`, a
/// bare clone of `repo` in it, and the arguments of an audit of that clone
/// with a datastore and verification.
fn audit_with_verification(
    repo: &Repo,
    provider: &Server,
) -> (tempfile::TempDir, std::path::PathBuf, Vec<String>) {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("verify.toml"),
        format!(
            "[providers.kunavo]\nbase_url = \"{}/kunavo/v1\"\n",
            provider.url()
        ),
    )
    .unwrap();
    let bare = work.path().join("origin.git");
    bare_clone(repo.path(), &bare);
    let clones = work.path().join("clones");
    let args = [
        "-c",
        "verify.toml",
        "--git-url",
        bare.to_str().unwrap(),
        "--clone-dir",
        clones.to_str().unwrap(),
        "--datastore",
        "d.db",
        "--verify",
    ]
    .map(String::from)
    .to_vec();
    (work, bare, args)
}

/// `git clone --bare FROM TO`.
fn bare_clone(from: &std::path::Path, to: &std::path::Path) {
    let (from, to) = (from.to_str().unwrap(), to.to_str().unwrap());
    git(from.as_ref(), &["clone", "-q", "--bare", from, to]);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A loopback stand-in for Kunavo that says the key is live until told
/// it was revoked.
fn kunavo_stand_in(key: &str) -> (Server, Arc<AtomicBool>) {
    let revoked = Arc::new(AtomicBool::new(false));
    let (k, r) = (key.to_string(), Arc::clone(&revoked));
    let server = Server::start(move |req, _| {
        if req.key() == k && !r.load(Ordering::SeqCst) {
            Reply::status(200).body("{\"data\":[]}")
        } else {
            Reply::status(401).body("{\"error\":\"invalid api key\"}")
        }
    });
    (server, revoked)
}

#[test]
fn a_secret_stays_open_while_live_or_reachable_and_closes_when_both_end() {
    let repo = Repo::init();
    let key = kunavo_key(2410);
    repo.write("config/app.env", &format!("KUNAVO_API_KEY={key}\n"));
    repo.commit("Add config");
    repo.git(&["tag", "v1"]);
    repo.write("config/app.env", "KUNAVO_API_KEY=${KUNAVO_API_KEY}\n");
    let removed = repo.commit("Read the key from the environment");
    let (provider, revoked) = kunavo_stand_in(&key);
    let (work, bare, args) = audit_with_verification(&repo, &provider);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // Audit 1: live, and the tag still has it. Deleted on main, still
    // live: called out.
    let (code, first, stderr) = scan_json(work.path(), &args);
    assert_eq!(code, 1, "{stderr}");
    assert!(!first.to_string().contains(&key), "a raw key in the report");
    let s = &first["secrets"][0];
    assert_eq!(s["status"], "open", "{s:#}");
    assert_eq!(s["verdict"], "live");
    assert_eq!(s["exposure"], "in-history");
    assert_eq!(s["deleted_but_live"], true);
    assert_eq!(
        branch_of(s, "refs/heads/main")["removed_by"]["id"],
        removed.as_str()
    );
    assert!(s["first_seen"].as_str().unwrap().starts_with("20"));
    assert_eq!(s["verdicts"].as_array().unwrap().len(), 1);
    let id = s["id"].as_str().unwrap().to_string();
    let asked = provider.requests().len();
    assert!(asked >= 1);

    // The key is revoked. Audit 2: nothing new was found, and the key is
    // read back from its blob to verify it again: dead, but the tag still
    // reaches it, so it stays open.
    revoked.store(true, Ordering::SeqCst);
    let (code, second, stderr) = scan_json(work.path(), &args);
    assert_eq!(code, 1, "{stderr}");
    assert!(provider.requests().len() > asked, "verified again");
    let s = &second["secrets"][0];
    assert_eq!(s["id"], id.as_str(), "the datastore's key keeps ids stable");
    assert_eq!(s["status"], "open", "{s:#}");
    assert_eq!(s["verdict"], "dead");
    let verdicts: Vec<&str> = s["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["live", "dead"]);
    assert!(s.get("deleted_but_live").is_none());
    assert_eq!(ref_of(s, "refs/tags/v1")["tip"], true);

    // The tag is deleted: dead and reachable from no branch or tag.
    git(&bare, &["tag", "-d", "v1"]);
    let rewritten = Repo::init();
    rewritten.write("config/app.env", "KUNAVO_API_KEY=${KUNAVO_API_KEY}\n");
    rewritten.commit("History without the key");
    git(
        rewritten.path(),
        &["push", "-q", "--force", bare.to_str().unwrap(), "main:main"],
    );
    let (_, third, stderr) = scan_json(work.path(), &args);
    let s = &third["secrets"][0];
    assert_eq!(s["id"], id.as_str(), "{stderr}");
    assert_eq!(s["exposure"], "unreachable", "{s:#}");
    assert_eq!(s["status"], "closed", "{s:#}");
    assert!(s["closed_at"].as_str().unwrap().starts_with("20"));
    assert_eq!(
        s["closed_reason"],
        "dead and no longer reachable from any branch or tag"
    );
}

#[test]
fn a_key_whose_repository_is_gone_says_it_cannot_be_read_back() {
    let repo = Repo::init();
    let key = kunavo_key(2420);
    repo.write("app.env", &format!("KUNAVO_API_KEY={key}\n"));
    repo.commit("Add config");
    let work = tempfile::tempdir().unwrap();
    let bare = work.path().join("origin.git");
    bare_clone(repo.path(), &bare);
    let clones = work.path().join("clones");
    let args = [
        "--git-url",
        bare.to_str().unwrap(),
        "--clone-dir",
        clones.to_str().unwrap(),
        "--datastore",
        "d.db",
    ];
    let (code, first, stderr) = scan_json(work.path(), &args);
    assert_eq!(code, 1, "{stderr}");
    let s = &first["secrets"][0];
    assert_eq!(s["exposure"], "in-head");
    assert!(s.get("unreadable").is_none(), "{s:#}");
    std::fs::remove_dir_all(&bare).unwrap();
    let (_, second, stderr) = scan_json(work.path(), &args);
    let s = &second["secrets"][0];
    assert_eq!(s["status"], "open", "{stderr}\n{s:#}");
    assert!(
        s["unreadable"]
            .as_str()
            .unwrap_or_default()
            .contains("could not be cloned or fetched"),
        "{s:#}"
    );
}

#[test]
fn a_range_says_which_keys_it_brings_and_a_staged_scan_looks_nothing_up() {
    let repo = Repo::init();
    let (old, new) = (kunavo_key(2430), kunavo_key(2431));
    repo.write("a.env", &format!("KUNAVO_API_KEY={old}\n"));
    let base = repo.commit("Old key");
    repo.write("a.env", "KUNAVO_API_KEY=${KUNAVO_API_KEY}\n");
    repo.commit("Remove it");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("b.env", &format!("KUNAVO_API_KEY={old}\n"));
    repo.write("c.env", &format!("KUNAVO_API_KEY={new}\n"));
    repo.commit("Bring both");
    let range = format!("{base}..HEAD");
    let (code, report, stderr) = scan_json(repo.path(), &["--range", &range]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(secret_at(&report, "b.env")["base"], "in-base", "{report:#}");
    assert_eq!(secret_at(&report, "b.env")["exposure"], "in-head");
    assert_eq!(secret_at(&report, "c.env")["base"], "new");

    repo.write("d.env", &format!("KUNAVO_API_KEY={old}\n"));
    repo.git(&["add", "d.env"]);
    let (code, report, stderr) = scan_json(repo.path(), &["--staged"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(report.get("secrets").is_none(), "{report:#}");
}

/// `leakhound ARGS` in `dir`: exit code, stdout, stderr.
fn lh(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = crate::gitutil::leakhound()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("leakhound runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn open_secrets_are_listed_worst_first_and_closed_by_hand_or_by_revocation() {
    let repo = Repo::init();
    let (live, test, gone) = (kunavo_key(2440), kunavo_key(2441), kunavo_key(2442));
    repo.write("live.env", &format!("KUNAVO_API_KEY={live}\n"));
    repo.write("test.env", &format!("KUNAVO_API_KEY={test}\n"));
    repo.write("gone.env", &format!("KUNAVO_API_KEY={gone}\n"));
    repo.commit("Three keys");
    // A stand-in for Kunavo's verification and admin APIs: `live` and
    // `gone` work until `leakhound revoke` turns `gone` off.
    let live_set = Arc::new(std::sync::Mutex::new(vec![live.clone(), gone.clone()]));
    let state = Arc::clone(&live_set);
    let provider = Server::start(move |req, _| {
        let mut keys = state.lock().unwrap();
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", p) if p.ends_with("/v1/admin/keys/revoke") => {
                if req.key() != ADMIN_TOKEN {
                    return Reply::status(401);
                }
                let body = req.json();
                // The key, or its SHA-256 (Kunavo stores only hashes).
                let asked = |k: &String| {
                    body["key"].as_str() == Some(k.as_str())
                        || body["key_sha256"].as_str() == Some(sha256_hex(k.as_bytes()).as_str())
                };
                match keys.iter().position(asked) {
                    Some(i) => {
                        keys.remove(i);
                        Reply::status(200).body("{\"revoked\":true}")
                    }
                    None => Reply::status(404),
                }
            }
            _ if keys.contains(&req.key()) => Reply::status(200).body("{\"data\":[]}"),
            _ => Reply::status(401).body("{\"error\":\"invalid api key\"}"),
        }
    });
    let (work, bare, audit) = audit_with_verification(&repo, &provider);
    let audit: Vec<&str> = audit.iter().map(String::as_str).collect();
    let (code, first, stderr) = scan_json(work.path(), &audit);
    assert_eq!(code, 1, "{stderr}");
    let id_of =
        |report: &Value, path: &str| secret_at(report, path)["id"].as_str().unwrap().to_string();
    let (live_id, test_id, gone_id) = (
        id_of(&first, "live.env"),
        id_of(&first, "test.env"),
        id_of(&first, "gone.env"),
    );
    let gone_fingerprint = findings(&first)
        .iter()
        .find(|f| f["path"] == "gone.env")
        .unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();

    // All open; the live key in HEAD first.
    let (code, out, stderr) = lh(
        work.path(),
        &[
            "report",
            "--datastore",
            "d.db",
            "--open",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    let open: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = open["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    // The two live keys, then the dead one.
    assert_eq!(ids[2], test_id, "live first: {open:#}");
    assert_eq!(open["secrets"][2]["verdict"], "dead");
    assert_eq!(open["secrets"][0]["verdict"], "live");
    assert_eq!(open["secrets"][0]["status"], "open");
    assert_eq!(open["secrets"][0]["exposure"], "in-head");
    assert!(!out.contains(&live), "a raw key in the report");

    // By hand: a test password that was never real.
    let (code, _, stderr) = lh(
        work.path(),
        &[
            "datastore",
            "close",
            "d.db",
            &test_id[..9],
            "--reason",
            "a test key, never real",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = lh(work.path(), &["datastore", "close", "d.db", "0000000"]);
    assert_eq!(code, 2, "no --reason: {stderr}");
    let (code, _, stderr) = lh(
        work.path(),
        &["datastore", "close", "d.db", "0000000", "--reason", "x"],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("no secret with id 0000000"), "{stderr}");

    // The third key leaves the history (a force-push), and `revoke` turns
    // it off: its audit-log entry closes it.
    let rewritten = Repo::init();
    rewritten.write("live.env", &format!("KUNAVO_API_KEY={live}\n"));
    rewritten.write("test.env", &format!("KUNAVO_API_KEY={test}\n"));
    rewritten.commit("Without the third key");
    git(
        rewritten.path(),
        &["push", "-q", "--force", bare.to_str().unwrap(), "main:main"],
    );
    let (_, second, stderr) = scan_json(work.path(), &audit);
    let before = second["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == gone_id.as_str())
        .unwrap();
    // Reached by nothing, but live: open.
    assert_eq!(before["exposure"], "unreachable", "{before:#}");
    assert_eq!(before["status"], "open", "{before:#}");
    assert_eq!(before["verdict"], "live", "{before:#}");
    // `revoke` turns it off, from a report of the repository it was
    // leaked in (raw keys, as `revoke` needs), and writes its audit log.
    let report = work.path().join("leak.json");
    let (code, _, scan_err) = lh(
        repo.path(),
        &[
            "scan",
            ".",
            "-c",
            work.path().join("verify.toml").to_str().unwrap(),
            "--show-secrets",
            "--rule",
            "kunavo-api-key",
            "--include-path",
            "gone.env",
            "-f",
            "json",
            "-o",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{scan_err}");
    let out = crate::gitutil::leakhound()
        .current_dir(work.path())
        .env("KUNAVO_ADMIN_TOKEN", ADMIN_TOKEN)
        .args([
            "revoke",
            "leak.json",
            "-c",
            "verify.toml",
            "--yes",
            "--audit-log",
            "audit.jsonl",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("1 revoked"), "{said}");
    assert_eq!(
        *live_set.lock().unwrap(),
        vec![live.clone()],
        "gone is revoked"
    );
    let logged = std::fs::read_to_string(work.path().join("audit.jsonl")).unwrap();
    assert!(logged.contains(&gone_fingerprint), "{logged}");
    let (code, _, err) = lh(
        work.path(),
        &[
            "datastore",
            "link-revocations",
            "d.db",
            "--audit-log",
            "audit.jsonl",
        ],
    );
    assert_eq!(code, 0, "{stderr}\n{err}");
    assert!(
        err.contains("1 revocation linked, 1 secret closed"),
        "{err}"
    );

    let (code, out, _) = lh(
        work.path(),
        &["report", "--datastore", "d.db", "--format", "json"],
    );
    assert_eq!(code, 1);
    let all: Value = serde_json::from_str(&out).unwrap();
    let by_id = |id: &str| {
        all["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(&test_id)["status"], "closed");
    assert_eq!(by_id(&test_id)["closed_reason"], "a test key, never real");
    let gone_secret = by_id(&gone_id);
    assert_eq!(gone_secret["status"], "closed", "{gone_secret:#}");
    assert_eq!(gone_secret["exposure"], "unreachable");
    assert!(gone_secret["revocation"]
        .as_str()
        .unwrap()
        .ends_with("audit.jsonl:1"));
    assert_eq!(by_id(&live_id)["status"], "open");

    // Only the live one is open now; every format shows it.
    let (code, out, _) = lh(work.path(), &["report", "--datastore", "d.db", "--open"]);
    assert_eq!(code, 1);
    assert!(out.contains(&live_id[..7]), "{out}");
    assert!(
        !out.contains(&test_id[..7]) && !out.contains(&gone_id[..7]),
        "{out}"
    );
    assert!(out.contains("in HEAD  live  open since 20"), "{out}");
    for format in ["markdown", "html"] {
        let (_, out, _) = lh(
            work.path(),
            &[
                "report",
                "--datastore",
                "d.db",
                "--open",
                "--format",
                format,
            ],
        );
        assert!(
            out.contains(&live_id[..7]) && out.contains("open since"),
            "{out}"
        );
        assert!(!out.contains(&live));
    }
}

#[test]
fn no_exposure_leaves_the_secrets_out() {
    let f = fixture();
    let (code, report, _) = scan_json(f.repo.path(), &["--git", ".", "--no-exposure"]);
    assert_eq!(code, 1);
    assert!(report.get("secrets").is_none(), "{report:#}");
    assert_eq!(findings(&report).len(), 3);
}

#[test]
fn a_history_scan_writes_no_reflog_into_the_repository() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("m.git");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--mirror",
            f.repo.path().to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    assert!(!bare.join("logs").exists());
    let (code, report, _) = scan_json(dir.path(), &["--git", "m.git"]);
    assert_eq!(code, 1);
    assert!(report["secrets"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(!bare.join("logs").exists(), "a scan wrote reflogs");
}

/// Shards that share `LEAKHOUND_EXPOSURE_KEY` name a key alike, so
/// `datastore merge` carries their secrets and joins a key two shards saw
/// into one secret; shards with keys of their own keep their secrets apart,
/// and the merge says so.
#[test]
fn shards_that_share_an_exposure_key_merge_their_secrets() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.git"), dir.path().join("b.git"));
    for bare in [&a, &b] {
        bare_clone(f.repo.path(), bare);
    }
    let shared = "7f".repeat(32);
    let audit = |url: &std::path::Path, db: &str, key: Option<&str>| {
        let mut cmd = crate::gitutil::leakhound();
        cmd.current_dir(dir.path())
            .env_remove("LEAKHOUND_EXPOSURE_KEY")
            .args([
                "scan",
                "--git-url",
                url.to_str().unwrap(),
                "--datastore",
                db,
            ])
            .args([
                "--clone-dir",
                "clones",
                "--format",
                "json",
                "-o",
                "/dev/null",
            ]);
        if let Some(key) = key {
            cmd.env("LEAKHOUND_EXPOSURE_KEY", key);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let merged = |inputs: &[&str], output: &str| {
        let (code, _, stderr) = lh(
            dir.path(),
            &[&["datastore", "merge"][..], inputs, &["-o", output]].concat(),
        );
        assert_eq!(code, 0, "{stderr}");
        let (_, out, _) = lh(
            dir.path(),
            &["report", "--datastore", output, "--format", "json"],
        );
        let report: Value = serde_json::from_str(&out).unwrap();
        (report, stderr)
    };

    assert_eq!(audit(&a, "a.db", Some(&shared)).0, 1);
    assert_eq!(audit(&b, "b.db", Some(&shared)).0, 1);
    let (all, stderr) = merged(&["a.db", "b.db"], "all.db");
    assert!(stderr.contains("2 secrets added"), "{stderr}");
    let secrets = all["secrets"].as_array().unwrap();
    // The fixture's two keys a ref still reaches (the third is only in a
    // reflog, which a bare clone has not), each seen in both repositories.
    assert_eq!(secrets.len(), 2, "{all:#}");
    for s in secrets {
        assert_eq!(s["repositories"].as_array().unwrap().len(), 2, "{s:#}");
        assert_eq!(s["status"], "open");
    }
    let raw = all.to_string();
    assert!(!raw.contains(&f.old) && !raw.contains(&f.current));

    // Keys of their own: the second input's secrets stay out, and the
    // merge says why; its findings are merged.
    assert_eq!(audit(&a, "c.db", None).0, 1);
    assert_eq!(audit(&b, "d.db", None).0, 1);
    let (apart, stderr) = merged(&["c.db", "d.db"], "apart.db");
    assert!(
        stderr.contains("d.db: its 2 secrets are named with another key")
            && stderr.contains("LEAKHOUND_EXPOSURE_KEY"),
        "{stderr}"
    );
    for s in apart["secrets"].as_array().unwrap() {
        assert_eq!(s["repositories"].as_array().unwrap().len(), 1, "{s:#}");
    }
    assert_eq!(
        apart["findings"].as_array().unwrap().len(),
        all["findings"].as_array().unwrap().len()
    );

    // A key that is not 64 hex digits, or not the datastore's: exit 2.
    let (code, stderr) = audit(&a, "e.db", Some("not-a-key"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("LEAKHOUND_EXPOSURE_KEY is not 64 hex digits"),
        "{stderr}"
    );
    let (code, stderr) = audit(&a, "c.db", Some(&shared));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("another key than LEAKHOUND_EXPOSURE_KEY"),
        "{stderr}"
    );
}
