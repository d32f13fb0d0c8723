//! Audits at organisation scale (docs/audit.md): remote repositories served
//! by a real `git daemon` on 127.0.0.1, hosting APIs stood in for by a
//! loopback HTTP server, the datastore, shards and merging.

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake_provider::{Reply, Server};
use crate::gitutil::{findings, git, isolate, kunavo_key, leakhound, scan_json, Repo};

/// A `git daemon` exporting every repository under `base`, on an
/// ephemeral port of 127.0.0.1; killed when dropped.
struct Daemon {
    child: Child,
    port: u16,
    base: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let base = tempfile::tempdir().expect("temp dir");
        for _ in 0..20 {
            // git daemon cannot report the port it bound, so an ephemeral
            // port is picked first; retried if another process takes it.
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("an ephemeral port")
                .port();
            let mut c = Command::new("git");
            isolate(&mut c);
            let mut child = c
                .args([
                    "daemon",
                    "--export-all",
                    "--reuseaddr",
                    "--informative-errors",
                    "--listen=127.0.0.1",
                ])
                .arg(format!("--port={port}"))
                .arg(format!("--base-path={}", base.path().display()))
                .arg(base.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("git daemon runs (git daemon --help)");
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Daemon { child, port, base };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("git daemon did not start");
    }

    /// Serve `repo` as `NAME.git` (a bare copy); returns its git:// URL.
    fn serve(&self, repo: &Repo, name: &str) -> String {
        let dest = self.base.path().join(format!("{name}.git"));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        let _ = std::fs::remove_dir_all(&dest);
        git(
            self.base.path(),
            &[
                "clone",
                "-q",
                "--bare",
                &repo.path().display().to_string(),
                &dest.display().to_string(),
            ],
        );
        self.url(name)
    }

    /// Push `repo`'s branches to the served copy `NAME.git`.
    fn update(&self, repo: &Repo, name: &str) {
        let dest = self.base.path().join(format!("{name}.git"));
        git(
            repo.path(),
            &[
                "push",
                "-q",
                &dest.display().to_string(),
                "+refs/heads/*:refs/heads/*",
            ],
        );
    }

    fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}.git", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A repository with one commit adding a key at `path`.
fn repo_with_key(seed: u64, path: &str) -> (Repo, String) {
    let repo = Repo::init();
    let key = kunavo_key(seed);
    repo.write(path, &format!("KUNAVO_API_KEY = \"{key}\"\n"));
    repo.write("README.md", &format!("project {seed}\n"));
    repo.commit("add config");
    (repo, key)
}

/// `leakhound scan --show-secrets ARGS` as JSON, in a fresh directory.
fn audit(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["--show-secrets"];
    all.extend_from_slice(args);
    scan_json(dir, &all)
}

fn repos_of(report: &Value) -> BTreeSet<String> {
    findings(report)
        .iter()
        .map(|f| f["commit"]["repository"].as_str().unwrap_or("").to_string())
        .collect()
}

/// (repository, path, fingerprint, commit) of every finding, for comparing
/// two reports.
fn identity(report: &Value) -> BTreeSet<(String, String, String, String)> {
    findings(report)
        .iter()
        .map(|f| {
            (
                f["commit"]["repository"].as_str().unwrap_or("").to_string(),
                f["path"].as_str().unwrap_or("").to_string(),
                f["fingerprint"].as_str().unwrap_or("").to_string(),
                f["commit"]["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn errors(report: &Value) -> Vec<String> {
    report["stats"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["path"].as_str().unwrap(),
                e["reason"].as_str().unwrap()
            )
        })
        .collect()
}

fn clone_dir(work: &Path) -> String {
    work.join("clones").display().to_string()
}

#[test]
fn git_urls_are_mirrored_scanned_named_and_fetched_again() {
    let daemon = Daemon::start();
    let (a, key_a) = repo_with_key(1, "config/app.toml");
    let (b, key_b) = repo_with_key(2, "settings.env");
    let url_a = daemon.serve(&a, "acme/a");
    let url_b = daemon.serve(&b, "acme/b");
    let work = tempfile::tempdir().unwrap();
    let clones = clone_dir(work.path());
    let args = [
        "--git-url",
        url_a.as_str(),
        "--git-url",
        url_b.as_str(),
        "--clone-dir",
        clones.as_str(),
    ];
    let (code, report, stderr) = audit(work.path(), &args);
    assert_eq!(code, 1, "{stderr}\n{report}");
    let fs = findings(&report);
    assert_eq!(fs.len(), 2, "{report}");
    let by_repo: Vec<(String, String)> = fs
        .iter()
        .map(|f| {
            (
                f["commit"]["repository"].as_str().unwrap().to_string(),
                f["secret"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        by_repo.contains(&(url_a.clone(), key_a.clone())),
        "{by_repo:?}"
    );
    assert!(
        by_repo.contains(&(url_b.clone(), key_b.clone())),
        "{by_repo:?}"
    );
    assert_eq!(report["stats"]["repositories"], 2);
    // Bare mirrors, one per URL, under the clone directory.
    let mirrors: Vec<PathBuf> = std::fs::read_dir(&clones)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(mirrors.len(), 2, "{mirrors:?}");
    for m in &mirrors {
        assert!(
            m.join("HEAD").is_file() && !m.join(".git").exists(),
            "{m:?}"
        );
    }
    let notes = report["stats"]["notes"].to_string();
    assert!(notes.contains("2 cloned, 0 fetched"), "{notes}");

    // A new commit on the server: the next run fetches it.
    let key_c = kunavo_key(3);
    a.write("later.txt", &format!("token={key_c}\n"));
    a.commit("later");
    daemon.update(&a, "acme/a");
    let (code, report, stderr) = audit(work.path(), &args);
    assert_eq!(code, 1, "{stderr}");
    let notes = report["stats"]["notes"].to_string();
    assert!(notes.contains("0 cloned, 2 fetched"), "{notes}");
    let secrets: Vec<&str> = findings(&report)
        .iter()
        .map(|f| f["secret"].as_str().unwrap())
        .collect();
    assert!(secrets.contains(&key_c.as_str()), "{report}");
    assert_eq!(secrets.len(), 3);

    // The text report names the repository.
    let out = leakhound()
        .current_dir(work.path())
        .args(["scan", "--color", "never"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("repo     {url_a}")), "{text}");
    assert!(text.contains("2 repositories"), "{text}");
}

/// `scan --git URL…`: URLs where the paths go are audited like `--git-url`;
/// a mix of URLs and local paths is refused.
#[test]
fn scan_git_takes_urls_as_its_paths() {
    let daemon = Daemon::start();
    let (a, key_a) = repo_with_key(11, "config/app.toml");
    let (b, key_b) = repo_with_key(12, "settings.env");
    let url_a = daemon.serve(&a, "acme/a");
    let url_b = daemon.serve(&b, "acme/b");
    let work = tempfile::tempdir().unwrap();
    let clones = clone_dir(work.path());
    let (code, report, stderr) = audit(
        work.path(),
        &["--git", &url_a, &url_b, "--clone-dir", &clones],
    );
    assert_eq!(code, 1, "{stderr}\n{report}");
    assert_eq!(
        repos_of(&report),
        BTreeSet::from([url_a.clone(), url_b.clone()])
    );
    let mut secrets: Vec<String> = findings(&report)
        .iter()
        .map(|f| f["secret"].as_str().unwrap().to_string())
        .collect();
    secrets.sort();
    let mut want = vec![key_a, key_b];
    want.sort();
    assert_eq!(secrets, want);

    std::fs::create_dir(work.path().join("local")).unwrap();
    let mixed = leakhound()
        .current_dir(work.path())
        .args(["scan", "--git", &url_a, "local", "--clone-dir", &clones])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&mixed.stderr);
    assert_eq!(mixed.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not both"), "{stderr}");
}

#[test]
fn a_url_list_with_bad_entries_reports_them_and_audits_the_rest() {
    let daemon = Daemon::start();
    let (a, key) = repo_with_key(4, "a.env");
    let good = daemon.serve(&a, "good");
    let work = tempfile::tempdir().unwrap();
    let dead_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let list = format!(
        "# the audit\n{good}\n\n{}\ngit://127.0.0.1:{dead_port}/gone.git\nhttps://alice:hunter2secret@127.0.0.1:1/x.git\next::sh -c evil\n",
        daemon.url("missing")
    );
    std::fs::write(work.path().join("urls.txt"), list).unwrap();
    let clones = clone_dir(work.path());
    let (code, report, stderr) = audit(
        work.path(),
        &["--git-urls", "urls.txt", "--clone-dir", clones.as_str()],
    );
    // Findings make it 1 even with errors.
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(crate::gitutil::secrets(&report), vec![key]);
    let errs = errors(&report);
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(
        errs.iter().any(|e| e.starts_with(&daemon.url("missing"))),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("gone.git") && e.contains("git failed")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("https://***@127.0.0.1:1/x.git") && e.contains("credential")),
        "{errs:#?}"
    );
    assert!(errs.iter().any(|e| e.contains("ext::")), "{errs:#?}");
    let all = format!("{report}{stderr}");
    assert!(!all.contains("hunter2secret"), "{all}");
    // No half-made mirror of a failed clone is left behind.
    let left: Vec<_> = std::fs::read_dir(&clones).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");

    // Nothing but failures: exit 2.
    let (code, _, stderr) = audit(
        work.path(),
        &[
            "--git-url",
            &daemon.url("missing"),
            "--clone-dir",
            clones.as_str(),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn audit_flags_are_checked() {
    let work = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = leakhound()
            .current_dir(work.path())
            .arg("scan")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--datastore", "x.db"]);
    assert_eq!(code, 2);
    assert!(err.contains("--datastore is for audits"), "{err}");
    let (code, err) = run(&["--git-url", "git://127.0.0.1:1/x.git", "--shard", "3/2"]);
    assert_eq!(code, 2);
    assert!(err.contains("--shard `3/2`"), "{err}");
    let (code, err) = run(&[
        "--github-org",
        "acme",
        "--api-url",
        "http://ghe.example.com/api/v3",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("must be https"), "{err}");
    let (code, err) = run(&["--git-url", "git://127.0.0.1:1/x.git", "src"]);
    assert_eq!(code, 2);
    assert!(err.contains("leave out PATH"), "{err}");
    let (code, err) = run(&[
        "--git-url",
        "git://x/y",
        "--datastore",
        "a.db",
        "--verify",
        "--revoke",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--revoke cannot be combined with --datastore"),
        "{err}"
    );
    let (code, err) = run(&["--git-url", "git://x/y", "--shard", "auto"]);
    assert_eq!(code, 2);
    assert!(err.contains("JOB_COMPLETION_INDEX"), "{err}");
}

/// A query parameter of a request path.
fn query_param(path: &str, name: &str) -> Option<usize> {
    path.split(['?', '&'])
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        .and_then(|p| p.parse().ok())
}

/// The most repositories the stand-ins put on one page, whatever
/// `per_page` asks (GitHub's and GitLab's cap is 100; this one's is small,
/// so that a few repositories make several pages).
const FAKE_MAX_PER_PAGE: usize = 2;

/// A GitHub API stand-in: `/orgs/acme/repos` in pages of `per_page` (30
/// when not given, as GitHub; at most `FAKE_MAX_PER_PAGE`), linked with
/// `Link: rel="next"`; the second page is rate limited once (429 with
/// `Retry-After: 1`), in the middle of the listing.
fn github_api(token: &'static str, repos: Vec<Value>) -> Server {
    let limited = std::sync::atomic::AtomicBool::new(false);
    Server::start(move |req, _| {
        if req.header("authorization").first().copied() != Some(&format!("Bearer {token}")[..]) {
            return Reply::status(401).body("{\"message\":\"Bad credentials\"}");
        }
        let page = query_param(&req.path, "page").unwrap_or(1);
        let per_page = query_param(&req.path, "per_page")
            .unwrap_or(30)
            .clamp(1, FAKE_MAX_PER_PAGE);
        if !req.path.starts_with("/orgs/acme/repos?") {
            return Reply::status(404);
        }
        if page == 2 && !limited.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Reply::status(429)
                .header("Retry-After", "1")
                .header("X-RateLimit-Remaining", "0")
                .body("{\"message\":\"API rate limit exceeded\"}");
        }
        let slice: Vec<Value> = repos
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .cloned()
            .collect();
        let mut reply = Reply::status(200).body(&Value::Array(slice).to_string());
        if page * per_page < repos.len() {
            let host = req
                .header("host")
                .first()
                .copied()
                .unwrap_or_default()
                .to_string();
            reply = reply.header(
                "Link",
                &format!(
                    "<http://{host}/orgs/acme/repos?per_page=100&type=all&page={}>; rel=\"next\", <http://{host}/orgs/acme/repos?page=1>; rel=\"first\"",
                    page + 1
                ),
            );
        }
        reply
    })
}

fn gh_repo(name: &str, clone_url: &str, fork: bool, archived: bool) -> Value {
    serde_json::json!({
        "full_name": format!("acme/{name}"),
        "clone_url": clone_url,
        "html_url": format!("https://github.example/acme/{name}"),
        "fork": fork,
        "archived": archived,
        "private": false,
    })
}

/// `leakhound scan --format json OWNER... --api-url API --clone-dir CLONES
/// EXTRA...` in `work`, with the hosting token in the environment (`var`).
fn audit_owner(
    work: &Path,
    (var, token): (&str, &str),
    owner: &[&str],
    api: &Server,
    clones: &str,
    extra: &[&str],
) -> std::process::Output {
    leakhound()
        .current_dir(work)
        .env(var, token)
        .args(["scan", "--format", "json"])
        .args(owner)
        .args(["--api-url", &api.url(), "--clone-dir", clones])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_github_org_is_listed_page_by_page_and_audited() {
    let daemon = Daemon::start();
    let mut repos = Vec::new();
    let mut keys = Vec::new();
    for (i, name) in ["one", "two", "three", "forked", "old"].iter().enumerate() {
        let (r, key) = repo_with_key(10 + i as u64, "app/secrets.env");
        let url = daemon.serve(&r, &format!("acme/{name}"));
        repos.push(gh_repo(name, &url, *name == "forked", *name == "old"));
        keys.push((name.to_string(), key));
    }
    let token = "ghp_testtokenvalue0123456789abcdefABCDEF";
    let api = github_api(token, repos);
    let work = tempfile::tempdir().unwrap();
    let clones = clone_dir(work.path());
    let run = |extra: &[&str], token: &str| {
        let out = audit_owner(
            work.path(),
            ("GITHUB_TOKEN", token),
            &["--github-org", "acme"],
            &api,
            &clones,
            extra,
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code().unwrap(), stdout, stderr)
    };
    let (code, stdout, stderr) = run(&[], token);
    assert_eq!(code, 1, "{stderr}\n{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let names: BTreeSet<String> = repos_of(&report)
        .into_iter()
        .map(|u| {
            u.rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".git")
                .to_string()
        })
        .collect();
    // Forks are left out by default; archived repositories are in.
    assert_eq!(
        names,
        ["one", "two", "three", "old"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        "{report}"
    );
    // Links to the line on the web host the API named.
    let f = findings(&report)
        .iter()
        .find(|f| {
            f["commit"]["repository"]
                .as_str()
                .unwrap()
                .ends_with("/acme/one.git")
        })
        .unwrap();
    assert_eq!(
        f["commit"]["url"].as_str().unwrap(),
        format!(
            "https://github.example/acme/one/blob/{}/app/secrets.env#L1",
            f["commit"]["id"].as_str().unwrap()
        )
    );
    // Three pages were read (the second twice: rate limited once in the
    // middle of the listing, then waited out), each asking for 100 and
    // carrying the token; it never reached a report or the terminal.
    let pages = api.requests_to("/orgs/acme/repos");
    let numbers: Vec<usize> = pages
        .iter()
        .map(|r| query_param(&r.path, "page").unwrap_or(1))
        .collect();
    assert_eq!(numbers, [1, 2, 2, 3], "{pages:?}");
    assert!(
        pages
            .iter()
            .all(|r| query_param(&r.path, "per_page") == Some(100)),
        "{pages:?}"
    );
    assert!(
        pages[2].at - pages[1].at >= Duration::from_secs(1),
        "Retry-After not waited"
    );
    assert!(!stdout.contains(token) && !stderr.contains(token));

    let (code, stdout, _) = run(&["--forks", "--no-archived", "--exclude", "acme/t*"], token);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let names: BTreeSet<String> = repos_of(&report)
        .into_iter()
        .map(|u| {
            u.rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".git")
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        ["one", "forked"].iter().map(|s| s.to_string()).collect(),
        "{report}"
    );

    // A refused token: said, and exit 2.
    let (code, stdout, stderr) = run(&[], "wrong-token-value");
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("refused GITHUB_TOKEN (HTTP 401)"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-token-value"));
}

#[test]
fn rate_limits_are_waited_out_or_reported() {
    let daemon = Daemon::start();
    let (r, _) = repo_with_key(20, "k.env");
    let url = daemon.serve(&r, "acme/limited");
    let repos = serde_json::json!([gh_repo("limited", &url, false, false)]).to_string();
    let first = std::sync::atomic::AtomicBool::new(true);
    let api = Server::start(move |_, _| {
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Reply::status(403)
                .header("Retry-After", "1")
                .header("X-RateLimit-Remaining", "0")
                .body("{\"message\":\"API rate limit exceeded\"}");
        }
        Reply::status(200).body(&repos)
    });
    let work = tempfile::tempdir().unwrap();
    let clones = clone_dir(work.path());
    let started = Instant::now();
    let (code, report, stderr) = audit(
        work.path(),
        &[
            "--github-org",
            "acme",
            "--api-url",
            &api.url(),
            "--clone-dir",
            &clones,
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(findings(&report).len(), 1);
    assert_eq!(api.requests().len(), 2);

    // A reset far away is not waited for.
    let api = Server::start(|_, _| {
        let reset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600;
        Reply::status(403)
            .header("X-RateLimit-Remaining", "0")
            .header("X-RateLimit-Reset", &reset.to_string())
    });
    let (code, report, stderr) = audit(
        work.path(),
        &[
            "--github-org",
            "acme",
            "--api-url",
            &api.url(),
            "--clone-dir",
            &clones,
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    let errs = errors(&report);
    assert!(errs.iter().any(|e| e.contains("rate limited")), "{errs:?}");

    // Rate limited on every try (429, `Retry-After: 0`): the retries run
    // out, the listing says so, exit 2; bounded, never a hang.
    let api = Server::start(|_, _| {
        Reply::status(429)
            .header("Retry-After", "0")
            .body("{\"message\":\"API rate limit exceeded\"}")
    });
    let (code, report, stderr) = audit(
        work.path(),
        &[
            "--github-org",
            "acme",
            "--api-url",
            &api.url(),
            "--clone-dir",
            &clones,
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    let errs = errors(&report);
    assert!(
        errs.iter()
            .any(|e| e.contains("rate limited") && e.contains("429")),
        "{errs:?}"
    );
    let tries = api.requests().len();
    assert!((2..=21).contains(&tries), "{tries} requests");
}

#[test]
fn a_gitlab_group_is_listed_with_x_next_page() {
    let daemon = Daemon::start();
    let mut projects = Vec::new();
    for (i, name) in ["alpha", "beta", "gamma"].iter().enumerate() {
        let (r, _) = repo_with_key(30 + i as u64, "deploy/.env");
        let url = daemon.serve(&r, &format!("grp/sub/{name}"));
        projects.push(serde_json::json!({
            "path_with_namespace": format!("grp/sub/{name}"),
            "http_url_to_repo": url,
            "web_url": format!("https://gitlab.example/grp/sub/{name}"),
            "archived": false,
        }));
    }
    let token = "glpat-testtokenvalue0123456789";
    let limited = std::sync::atomic::AtomicBool::new(false);
    let api = Server::start(move |req, _| {
        if req.header("private-token").first().copied() != Some(token) {
            return Reply::status(401);
        }
        if !req.path.starts_with("/groups/grp%2Fsub/projects?")
            || !req.path.contains("include_subgroups=true")
        {
            return Reply::status(404);
        }
        let page = query_param(&req.path, "page").unwrap_or(1);
        // GitLab's default page is 20; this stand-in's pages hold one.
        let per_page = query_param(&req.path, "per_page").unwrap_or(20).clamp(1, 1);
        // GitLab's rate limit, once, on the second page: 429 with
        // `Retry-After` and its `RateLimit-*` headers (no `X-` prefix).
        if page == 2 && !limited.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Reply::status(429)
                .header("Retry-After", "1")
                .header("RateLimit-Limit", "600")
                .header("RateLimit-Remaining", "0")
                .body("Retry later");
        }
        let slice: Vec<Value> = projects
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .cloned()
            .collect();
        let next = if page * per_page < projects.len() {
            (page + 1).to_string()
        } else {
            String::new()
        };
        Reply::status(200)
            .header("X-Next-Page", &next)
            .body(&Value::Array(slice).to_string())
    });
    let work = tempfile::tempdir().unwrap();
    let clones = clone_dir(work.path());
    let out = audit_owner(
        work.path(),
        ("GITLAB_TOKEN", token),
        &["--gitlab-group", "grp/sub"],
        &api,
        &clones,
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(repos_of(&report).len(), 3, "{report}");
    // Three pages, the second twice (rate limited once, waited out), each
    // asking for 100.
    let pages: Vec<usize> = api
        .requests()
        .iter()
        .map(|r| query_param(&r.path, "page").unwrap_or(1))
        .collect();
    assert_eq!(pages, [1, 2, 2, 3]);
    assert!(api
        .requests()
        .iter()
        .all(|r| query_param(&r.path, "per_page") == Some(100)));
    let f = &findings(&report)[0];
    assert!(
        f["commit"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://gitlab.example/grp/sub/alpha/-/blob/"),
        "{f}"
    );
}

#[test]
fn a_hosting_token_reaches_git_as_a_header_for_its_host_only() {
    // The API and the "git host" are the same loopback server: git's smart
    // HTTP request for the repository arrives there, and is refused.
    let token = "ghp_clonetokenvalue0123456789abcdefXYZ";
    let api = Server::start(move |req, _| {
        if req.path.starts_with("/orgs/") {
            let host = req.header("host")[0].to_string();
            let list = serde_json::json!([{
                "full_name": "acme/private",
                "clone_url": format!("http://{host}/acme/private.git"),
                "html_url": format!("http://{host}/acme/private"),
                "fork": false,
                "archived": false,
            }, {
                "full_name": "acme/elsewhere",
                "clone_url": format!("http://localhost:{}/acme/elsewhere.git", host.rsplit(':').next().unwrap()),
                "html_url": format!("http://{host}/acme/elsewhere"),
                "fork": false,
                "archived": false,
            }]);
            return Reply::status(200).body(&list.to_string());
        }
        Reply::status(404).body("not here")
    });
    let work = tempfile::tempdir().unwrap();
    let clones = clone_dir(work.path());
    let out = audit_owner(
        work.path(),
        ("GITHUB_TOKEN", token),
        &["--github-org", "acme"],
        &api,
        &clones,
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(!stdout.contains(token) && !stderr.contains(token));
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"))
    );
    let git_requests = api.requests_to("/acme/private.git/");
    assert!(!git_requests.is_empty(), "{:?}", api.requests());
    for r in &git_requests {
        assert_eq!(r.header("authorization"), vec![basic.as_str()], "{r:?}");
    }
    // A clone URL on another host than the repository's web page gets no
    // token.
    let other = api.requests_to("/acme/elsewhere.git/");
    assert!(!other.is_empty());
    for r in &other {
        assert!(r.header("authorization").is_empty(), "{r:?}");
    }
}

#[test]
fn a_datastore_makes_the_second_audit_incremental() {
    let daemon = Daemon::start();
    let (a, key_a) = repo_with_key(40, "a/config.env");
    a.write("docs/guide.md", "nothing here\n");
    a.commit("docs");
    // A fork: the same history and one more commit.
    let fork = Repo::init();
    git(
        fork.path(),
        &["pull", "-q", &a.path().display().to_string(), "main"],
    );
    let key_f = kunavo_key(41);
    fork.write("fork.env", &format!("KUNAVO_KEY={key_f}\n"));
    fork.commit("fork only");
    let url_a = daemon.serve(&a, "a");
    let url_f = daemon.serve(&fork, "fork");
    let work = tempfile::tempdir().unwrap();
    let clones = clone_dir(work.path());
    let db = work.path().join("audit.db").display().to_string();
    let args = [
        "--git-url",
        url_a.as_str(),
        "--git-url",
        url_f.as_str(),
        "--clone-dir",
        clones.as_str(),
        "--datastore",
        db.as_str(),
        // One thread: `a` is scanned and recorded before the fork (small
        // repositories scanned at once share only what was recorded before
        // them; small_repositories_are_scanned_several_at_a_time).
        "--threads",
        "1",
    ];
    let (code, first, stderr) = audit(work.path(), &args);
    assert_eq!(code, 1, "{stderr}");
    // a: 3 blobs (config, README, guide); the fork adds 1: the blobs it
    // shares with `a` are read once.
    assert_eq!(first["stats"]["blobs"], 4, "{first}");
    assert_eq!(first["stats"]["blobs_skipped"], 3, "{first}");
    // The fork's copy of a's key is reported for the fork too.
    let ids = identity(&first);
    assert_eq!(ids.len(), 3, "{ids:#?}");
    assert_eq!(
        ids.iter().filter(|(r, ..)| r == &url_f).count(),
        2,
        "{ids:#?}"
    );
    // Redacted, always: the datastore holds no raw key.
    let all = first.to_string();
    assert!(!all.contains(&key_a) && !all.contains(&key_f), "{all}");
    // The fork skipped the blob of a's key, but its secret still names the
    // fork: the blob's keys are known from a's record.
    let shared = first["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["paths"][0] == "a/config.env")
        .unwrap();
    assert_eq!(
        shared["repositories"],
        serde_json::json!([url_a, url_f]),
        "{shared:#}"
    );

    let (code, second, _) = audit(work.path(), &args);
    assert_eq!(code, 1);
    assert_eq!(second["stats"]["blobs"], 0, "{second}");
    assert_eq!(second["stats"]["blobs_skipped"], 7, "{second}");
    assert_eq!(identity(&second), ids);

    // One new commit: only its new blob is read.
    let key_n = kunavo_key(42);
    a.write("new.env", &format!("KUNAVO_KEY={key_n}\n"));
    a.commit("new key");
    daemon.update(&a, "a");
    let (code, third, _) = audit(work.path(), &args);
    assert_eq!(code, 1);
    assert_eq!(third["stats"]["blobs"], 1, "{third}");
    assert_eq!(identity(&third).len(), 4);

    // `report --datastore` writes the same findings, filtered on demand.
    let out = leakhound()
        .current_dir(work.path())
        .args(["report", "--datastore", &db, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let from_store: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(identity(&from_store), identity(&third));
    let out = leakhound()
        .current_dir(work.path())
        .args([
            "report",
            "--datastore",
            &db,
            "--format",
            "json",
            "--repository",
            &url_f,
        ])
        .output()
        .unwrap();
    let only_fork: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(repos_of(&only_fork), BTreeSet::from([url_f.clone()]));
    // The HTML report groups findings by their remote repository.
    let out = leakhound()
        .current_dir(work.path())
        .args(["report", "--datastore", &db, "--format", "html"])
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.contains(&format!("data-repo=\"{url_f}\"")), "{html}");
    assert!(html.contains(&format!("data-repo=\"{url_a}\"")));
}

/// Small repositories are scanned several at once (one thread each) and
/// recorded in order: the same findings and secrets as one at a time.
#[test]
fn small_repositories_are_scanned_several_at_a_time() {
    let daemon = Daemon::start();
    let mut urls = Vec::new();
    for i in 0..5 {
        let (r, _) = repo_with_key(70 + i, &format!("svc{i}/.env"));
        urls.push(daemon.serve(&r, &format!("org/s{i}")));
    }
    let work = tempfile::tempdir().unwrap();
    let clones = clone_dir(work.path());
    let run = |threads: &str, db: &str| {
        let mut args = vec!["--clone-dir", clones.as_str(), "--datastore", db];
        args.extend(["--threads", threads]);
        for u in &urls {
            args.extend(["--git-url", u.as_str()]);
        }
        let (code, report, stderr) = audit(work.path(), &args);
        assert_eq!(code, 1, "{stderr}");
        report
    };
    let alone = run("1", "one.db");
    let together = run("3", "three.db");
    let notes = |r: &Value| r["stats"]["notes"].to_string();
    assert!(!notes(&alone).contains("at a time"), "{}", notes(&alone));
    assert!(
        notes(&together).contains("5 small ones scanned up to 3 at a time"),
        "{}",
        notes(&together)
    );
    assert_eq!(identity(&alone).len(), 5);
    assert_eq!(identity(&alone), identity(&together));
    assert_eq!(alone["stats"]["blobs"], together["stats"]["blobs"]);
    let secrets = |r: &Value| -> BTreeSet<(String, String)> {
        r["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["paths"].to_string(), s["repositories"].to_string()))
            .collect()
    };
    assert_eq!(secrets(&alone).len(), 5);
    assert_eq!(secrets(&alone), secrets(&together));
}

#[test]
fn shards_cover_every_repository_once_and_merge_to_the_unsharded_report() {
    let daemon = Daemon::start();
    let mut urls = Vec::new();
    for i in 0..6 {
        let (r, _) = repo_with_key(50 + i, &format!("svc{i}/.env"));
        urls.push(daemon.serve(&r, &format!("org/r{i}")));
    }
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("urls.txt"), urls.join("\n")).unwrap();
    let clones = clone_dir(work.path());
    let base = ["--git-urls", "urls.txt", "--clone-dir", clones.as_str()];
    let with = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        audit(work.path(), &args)
    };
    let (code, whole, stderr) = with(&["--datastore", "whole.db"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(repos_of(&whole).len(), 6);

    let n = 3;
    let mut covered = Vec::new();
    let mut shards = Vec::new();
    for i in 1..=n {
        let db = format!("shard{i}.db");
        let (code, report, stderr) = with(&["--shard", &format!("{i}/{n}"), "--datastore", &db]);
        assert!(code == 0 || code == 1, "{stderr}");
        covered.extend(repos_of(&report).into_iter().filter(|r| !r.is_empty()));
        shards.push(db);
    }
    covered.sort();
    let mut expected = urls.clone();
    expected.sort();
    assert_eq!(covered, expected, "every repository in exactly one shard");

    // `auto` reads a Kubernetes Indexed Job's variables (0-based).
    let out = leakhound()
        .current_dir(work.path())
        .env("JOB_COMPLETION_INDEX", "0")
        .env("JOB_COMPLETIONS", "3")
        .args(["scan", "--format", "json", "--shard", "auto"])
        .args(base)
        .output()
        .unwrap();
    let auto: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, first, _) = with(&["--shard", "1/3"]);
    assert_eq!(repos_of(&auto), repos_of(&first));

    let out = leakhound()
        .current_dir(work.path())
        .args(["datastore", "merge"])
        .args(&shards)
        .args(["-o", "all.db"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = |db: &str| {
        let out = leakhound()
            .current_dir(work.path())
            .args(["report", "--datastore", db, "--format", "json"])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let merged = report("all.db");
    assert_eq!(identity(&merged), identity(&whole));
    assert_eq!(identity(&report("whole.db")), identity(&whole));
    assert_eq!(identity(&merged).len(), 6);

    // A corrupt input is named; the others are merged, exit 2.
    std::fs::write(work.path().join("bad.db"), vec![b'x'; 8192]).unwrap();
    let out = leakhound()
        .current_dir(work.path())
        .args(["datastore", "merge", "bad.db", &shards[0], "-o", "again.db"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad.db: not a leakhound datastore"),
        "{stderr}"
    );
    assert!(
        stderr.contains("merged 1 datastore into again.db"),
        "{stderr}"
    );
}

#[test]
fn a_corrupt_or_newer_datastore_is_refused_clearly() {
    let daemon = Daemon::start();
    let (a, _) = repo_with_key(60, "x.env");
    let url = daemon.serve(&a, "x");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("bad.db"), vec![b'x'; 8192]).unwrap();
    let clones = clone_dir(work.path());
    let out = leakhound()
        .current_dir(work.path())
        .args([
            "scan",
            "--git-url",
            &url,
            "--clone-dir",
            &clones,
            "--datastore",
            "bad.db",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad.db: not a leakhound datastore"),
        "{stderr}"
    );
    let out = leakhound()
        .current_dir(work.path())
        .args(["report", "--datastore", "missing.db"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.db"));

    // A real datastore, then the same file as a newer leakhound would have
    // left it (its schema version one past this build's).
    let audit = |db: &str| {
        leakhound()
            .current_dir(work.path())
            .args([
                "scan",
                "--git-url",
                &url,
                "--clone-dir",
                &clones,
                "--datastore",
                db,
            ])
            .output()
            .unwrap()
    };
    let out = audit("newer.db");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = rusqlite::Connection::open(work.path().join("newer.db")).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, leakhound::datastore::SCHEMA_VERSION);
    conn.pragma_update(None, "user_version", version + 1)
        .unwrap();
    drop(conn);
    let newer = format!("datastore schema {}", version + 1);
    for out in [
        audit("newer.db"),
        leakhound()
            .current_dir(work.path())
            .args(["report", "--datastore", "newer.db"])
            .output()
            .unwrap(),
    ] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("newer.db") && stderr.contains("written by a newer leakhound"),
            "{stderr}"
        );
        assert!(stderr.contains(&newer), "{stderr}");
    }
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/audit")
}

fn load_yaml(name: &str) -> Vec<yaml_rust2::Yaml> {
    let text = std::fs::read_to_string(examples().join(name)).unwrap();
    yaml_rust2::YamlLoader::load_from_str(&text).unwrap()
}

#[test]
fn the_audit_examples_pass_their_validators() {
    // Not skipped when missing: .ci/run installs both.
    let out = Command::new("actionlint")
        .arg("-no-color")
        .arg(examples().join("github-org-audit.yml"))
        .output()
        .expect("actionlint is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "actionlint:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let validate = |files: &[PathBuf]| {
        Command::new("kubernetes-validate")
            .args(["--strict", "--no-warn"])
            .args(files)
            .output()
            .expect("kubernetes-validate is installed (.ci/run installs it)")
    };
    let manifests = [
        examples().join("k8s-indexed-job.yaml"),
        examples().join("k8s-merge-job.yaml"),
    ];
    let out = validate(&manifests);
    assert!(
        out.status.success(),
        "kubernetes-validate:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The validator can fail: a misspelt field is refused.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    let text = std::fs::read_to_string(&manifests[0]).unwrap();
    std::fs::write(&broken, text.replace("completionMode:", "completionMod:")).unwrap();
    assert!(!validate(&[broken]).status.success());
}

/// The `--flags` of every `leakhound SUBCOMMAND …` command in `script`.
fn leakhound_flags(script: &str) -> Vec<(Vec<String>, String)> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        // Commands that run leakhound (not `cargo install leakhound`).
        let line = line.trim_start();
        if !line.starts_with("leakhound ") {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let sub: Vec<String> = words[1..]
            .iter()
            .take_while(|w| !w.starts_with('-'))
            .take(2)
            .filter(|w| ["scan", "report", "datastore", "merge"].contains(w))
            .map(|w| w.to_string())
            .collect();
        for w in &words {
            if w.starts_with("--") {
                out.push((sub.clone(), w.trim_end_matches(['"', '\'']).to_string()));
            }
            if ["||", ">>", ";"].contains(w) {
                break;
            }
        }
    }
    out
}

#[test]
fn the_audit_examples_agree_with_leakhound_and_themselves() {
    let job = load_yaml("k8s-indexed-job.yaml");
    let job = job
        .iter()
        .find(|d| d["kind"].as_str() == Some("Job"))
        .expect("a Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let completions = spec["completions"].as_i64().unwrap();
    let container = &spec["template"]["spec"]["containers"][0];
    let env = container["env"].as_vec().unwrap();
    let var = |name: &str| {
        env.iter()
            .find(|e| e["name"].as_str() == Some(name))
            .map(|e| e["value"].as_str().unwrap_or("").to_string())
    };
    // Kubernetes sets JOB_COMPLETION_INDEX itself, but not the count.
    assert_eq!(var("JOB_COMPLETIONS"), Some(completions.to_string()));
    // The images and the installed version are this release's.
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        container["image"].as_str(),
        Some(format!("ghcr.io/leakhound/leakhound:{version}-audit").as_str())
    );
    let audit_script = container["args"][0].as_str().unwrap();
    assert!(audit_script.contains("--shard auto"), "{audit_script}");
    assert!(audit_script.contains("--datastore \"/data/shards/shard-$JOB_COMPLETION_INDEX.db\""));
    let merge = &load_yaml("k8s-merge-job.yaml")[0];
    let merge_container = &merge["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(merge_container["image"], container["image"]);
    let merge_script = merge_container["args"][0].as_str().unwrap();
    assert!(merge_script.contains("datastore merge /data/shards/shard-*.db"));

    let wf = &load_yaml("github-org-audit.yml")[0];
    assert_eq!(wf["env"]["LEAKHOUND_VERSION"].as_str(), Some(version));
    let shards: Vec<i64> = wf["jobs"]["shard"]["strategy"]["matrix"]["shard"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|s| s.as_i64().unwrap())
        .collect();
    let n = shards.len() as i64;
    assert_eq!(shards, (1..=n).collect::<Vec<_>>());
    let steps = |job: &str| -> String {
        wf["jobs"][job]["steps"]
            .as_vec()
            .unwrap()
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(steps("shard").contains(&format!("--shard \"$SHARD/{n}\"")));
    assert!(steps("merge").contains("datastore merge shard-*.db"));

    // Every flag the examples pass exists.
    let help = |sub: &[String]| {
        let out = leakhound().args(sub).arg("--help").output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let scripts = [audit_script, merge_script, &steps("shard"), &steps("merge")];
    let mut checked = 0;
    for script in scripts {
        for (sub, flag) in leakhound_flags(script) {
            assert!(!sub.is_empty(), "{script}");
            assert!(
                help(&sub).contains(&flag),
                "leakhound {sub:?} has no {flag}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked}");
}

/// `git http-backend` behind a small HTTP/1.1 server on 127.0.0.1 (one
/// thread per connection, `Connection: close`): repositories under
/// `base/private/` are served only to requests whose `Authorization` is
/// `auth`.
struct HttpGit {
    port: u16,
    base: tempfile::TempDir,
}

impl HttpGit {
    fn start(auth: String) -> HttpGit {
        use std::io::{BufRead, BufReader, Read, Write};
        let base = tempfile::tempdir().unwrap();
        let root = base.path().to_path_buf();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, auth) = (root.clone(), auth.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("GET").to_string();
                    let target = parts.next().unwrap_or("/").to_string();
                    let mut headers: Vec<(String, String)> = Vec::new();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                            break;
                        }
                        if let Some((n, v)) = h.split_once(':') {
                            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
                        }
                    }
                    let header = |n: &str| {
                        headers
                            .iter()
                            .find(|(k, _)| k == n)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    };
                    let length: usize = header("content-length").parse().unwrap_or(0);
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let mut out = stream;
                    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                    if path.starts_with("/private/") && header("authorization") != auth {
                        let _ = out.write_all(
                            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                        return;
                    }
                    let mut cgi = Command::new("git");
                    isolate(&mut cgi);
                    let mut child = cgi
                        .arg("http-backend")
                        .env("GIT_PROJECT_ROOT", &root)
                        .env("GIT_HTTP_EXPORT_ALL", "1")
                        .env("REQUEST_METHOD", &method)
                        .env("PATH_INFO", path)
                        .env("QUERY_STRING", query)
                        .env("CONTENT_TYPE", header("content-type"))
                        .env("CONTENT_LENGTH", length.to_string())
                        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
                        .env("GIT_PROTOCOL", header("git-protocol"))
                        .env("REMOTE_ADDR", "127.0.0.1")
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap();
                    child.stdin.take().unwrap().write_all(&body).unwrap();
                    let mut response = Vec::new();
                    child
                        .stdout
                        .take()
                        .unwrap()
                        .read_to_end(&mut response)
                        .unwrap();
                    child.wait().unwrap();
                    let split = response
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .map(|i| (i, 4))
                        .or_else(|| {
                            response
                                .windows(2)
                                .position(|w| w == b"\n\n")
                                .map(|i| (i, 2))
                        })
                        .unwrap_or((response.len(), 0));
                    let head = String::from_utf8_lossy(&response[..split.0]).into_owned();
                    let mut status = "200 OK".to_string();
                    let mut reply = String::new();
                    for h in head.lines() {
                        match h.split_once(':') {
                            Some((n, v)) if n.eq_ignore_ascii_case("status") => {
                                status = v.trim().to_string()
                            }
                            Some(_) => reply.push_str(&format!("{h}\r\n")),
                            None => {}
                        }
                    }
                    let payload = &response[(split.0 + split.1).min(response.len())..];
                    let _ = out.write_all(
                        format!(
                            "HTTP/1.1 {status}\r\n{reply}Content-Length: {}\r\nConnection: close\r\n\r\n",
                            payload.len()
                        )
                        .as_bytes(),
                    );
                    let _ = out.write_all(payload);
                });
            }
        });
        HttpGit { port, base }
    }

    /// Serve `repo` at `/NAME.git`.
    fn serve(&self, repo: &Repo, name: &str) -> String {
        let dest = self.base.path().join(format!("{name}.git"));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        git(
            self.base.path(),
            &[
                "clone",
                "-q",
                "--bare",
                &repo.path().display().to_string(),
                &dest.display().to_string(),
            ],
        );
        format!("http://127.0.0.1:{}/{name}.git", self.port)
    }
}

#[test]
fn http_repositories_are_cloned_through_http_backend_with_the_token_as_a_header() {
    use base64::Engine;
    let token = "ghp_httpbackendtoken0123456789abcdefQRS";
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"))
    );
    let server = HttpGit::start(auth);
    let (public, key_public) = repo_with_key(70, "public.env");
    let (private, key_private) = repo_with_key(71, "private.env");
    let public_url = server.serve(&public, "public");
    let private_url = server.serve(&private, "private/app");
    let web = private_url.trim_end_matches(".git").to_string();
    let listing = serde_json::json!([{
        "full_name": "acme/app",
        "clone_url": private_url,
        "html_url": web,
        "fork": false,
        "archived": false,
    }])
    .to_string();
    let api = Server::start(move |_, _| Reply::status(200).body(&listing));
    let work = tempfile::tempdir().unwrap();
    let clones = clone_dir(work.path());
    let run = |token: &str| {
        let out = leakhound()
            .current_dir(work.path())
            .env("GITHUB_TOKEN", token)
            .args([
                "scan",
                "--format",
                "json",
                "--show-secrets",
                "--git-url",
                &public_url,
            ])
            .args(["--github-org", "acme", "--api-url", &api.url()])
            .args(["--clone-dir", &clones])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code().unwrap(), stdout, stderr)
    };
    let (code, stdout, stderr) = run(token);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let secrets = crate::gitutil::secrets(&report);
    assert!(
        secrets.contains(&key_public) && secrets.contains(&key_private),
        "{report}"
    );
    assert!(!stdout.contains(token) && !stderr.contains(token));
    // The mirror's config holds no token either.
    for mirror in std::fs::read_dir(&clones).unwrap() {
        let config = std::fs::read_to_string(mirror.unwrap().path().join("config")).unwrap();
        assert!(
            !config.contains(token) && !config.contains("extraHeader"),
            "{config}"
        );
    }

    // A wrong token: the private repository fails (its mirror is fetched
    // with the wrong header), the public one is still audited.
    let (code, stdout, stderr) = run("ghp_wrongtoken");
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let errs = errors(&report);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("private/app.git") && errs[0].contains("git failed"),
        "{errs:?}"
    );
    assert!(!stdout.contains("ghp_wrongtoken") && !stderr.contains("ghp_wrongtoken"));
}

#[test]
fn mirrors_go_to_the_user_cache_directory_by_default() {
    let daemon = Daemon::start();
    let (a, _) = repo_with_key(80, "a.env");
    let url = daemon.serve(&a, "cached");
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let out = leakhound()
        .current_dir(work.path())
        .env("XDG_CACHE_HOME", &cache)
        .args(["scan", "--format", "json", "--git-url", &url])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mirrors: Vec<_> = std::fs::read_dir(cache.join("leakhound/clones"))
        .unwrap()
        .collect();
    assert_eq!(mirrors.len(), 1);
}

#[test]
fn verdicts_of_new_findings_are_recorded_with_the_datastore() {
    let daemon = Daemon::start();
    let (a, live) = repo_with_key(90, "live.env");
    let (b, dead) = repo_with_key(91, "dead.env");
    let url_a = daemon.serve(&a, "va");
    let url_b = daemon.serve(&b, "vb");
    let live_key = live.clone();
    let provider = Server::start(move |req, _| {
        if req.key() == live_key {
            Reply::status(200).body("{\"data\":[]}")
        } else {
            Reply::status(401).body("{\"error\":\"invalid api key\"}")
        }
    });
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("verify.toml"),
        format!(
            "[providers.kunavo]\nbase_url = \"{}/kunavo/v1\"\n",
            provider.url()
        ),
    )
    .unwrap();
    let clones = clone_dir(work.path());
    let args = [
        "-c",
        "verify.toml",
        "--git-url",
        url_a.as_str(),
        "--git-url",
        url_b.as_str(),
        "--clone-dir",
        clones.as_str(),
        "--datastore",
        "v.db",
        "--verify",
    ];
    let verdicts = |report: &Value| -> BTreeSet<(String, String)> {
        findings(report)
            .iter()
            .map(|f| {
                (
                    f["commit"]["repository"].as_str().unwrap().to_string(),
                    f["verification"]["verdict"]
                        .as_str()
                        .unwrap_or("none")
                        .to_string(),
                )
            })
            .collect()
    };
    let expected = BTreeSet::from([
        (url_a.clone(), "live".to_string()),
        (url_b.clone(), "dead".to_string()),
    ]);
    let (code, first, stderr) = audit(work.path(), &args);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(verdicts(&first), expected, "{first}");
    assert_eq!(first["stats"]["verification"]["live"], 1);
    let asked = provider.requests().len();
    assert_eq!(asked, 2);
    let all = format!("{first}{stderr}");
    assert!(
        !all.contains(&live) && !all.contains(&dead),
        "redacted: {all}"
    );

    // Nothing new: each key is read back from its blob and asked again
    // (docs/audit.md, "Exposure"), and the same verdicts are reported.
    let (code, second, _) = audit(work.path(), &args);
    assert_eq!(code, 1);
    assert_eq!(provider.requests().len(), asked * 2);
    assert_eq!(verdicts(&second), expected);
    let (code, _, _) = audit(work.path(), &[&args[..], &["--fail-on", "live"]].concat());
    assert_eq!(code, 1);
    let out = leakhound()
        .current_dir(work.path())
        .args(["report", "--datastore", "v.db", "--format", "json"])
        .output()
        .unwrap();
    let stored: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdicts(&stored), expected);
    let out = leakhound()
        .current_dir(work.path())
        .args([
            "report",
            "--datastore",
            "v.db",
            "--format",
            "json",
            "--verdict",
            "live",
        ])
        .output()
        .unwrap();
    let live_only: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        verdicts(&live_only),
        BTreeSet::from([(url_a.clone(), "live".to_string())])
    );
}

/// `chattr +i` on a directory while alive: not even root may create a
/// file in it. Undone on drop so the temporary directory can go.
struct Immutable(PathBuf);

impl Immutable {
    fn set(dir: &Path) -> Immutable {
        let out = Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .output()
            .expect("chattr runs");
        assert!(
            out.status.success(),
            "chattr +i (e2fsprogs, on ext4): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Immutable(dir.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).output();
    }
}

#[test]
fn a_datastore_write_that_fails_is_reported_and_the_audit_goes_on() {
    let daemon = Daemon::start();
    let (a, key_a) = repo_with_key(100, "a.env");
    let (b, key_b) = repo_with_key(101, "b.env");
    let url_a = daemon.serve(&a, "full-a");
    let url_b = daemon.serve(&b, "full-b");
    let work = tempfile::tempdir().unwrap();
    let clones = clone_dir(work.path());
    // An empty audit creates the datastore.
    std::fs::write(work.path().join("none.txt"), "# nothing\n").unwrap();
    let db = work.path().join("store/full.db").display().to_string();
    let (code, _, stderr) = audit(
        work.path(),
        &[
            "--git-urls",
            "none.txt",
            "--clone-dir",
            &clones,
            "--datastore",
            &db,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    // Its directory takes no new file, so no transaction can write its
    // journal: every record fails, as on a full disk.
    let _guard = Immutable::set(&work.path().join("store"));
    let (code, report, stderr) = audit(
        work.path(),
        &[
            "--git-url",
            &url_a,
            "--git-url",
            &url_b,
            "--clone-dir",
            &clones,
            "--datastore",
            &db,
        ],
    );
    let errs = errors(&report);
    assert_eq!(errs.len(), 2, "{errs:?}\n{stderr}");
    assert!(errs.iter().all(|e| e.contains("not recorded")), "{errs:?}");
    // Both repositories' findings are still reported.
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        repos_of(&report),
        BTreeSet::from([url_a.clone(), url_b.clone()])
    );
    let secrets = crate::gitutil::secrets(&report);
    assert!(secrets.contains(&key_a) && secrets.contains(&key_b));
}
