//! Audits against hostile servers and a clone directory someone else wrote
//! (issue 25, N2–N4, N9, N10; shared/security-repros 15–17, 22, 23): a
//! hosting API that never stops listing, a clone host that redirects
//! elsewhere, hooks and config planted in a mirror, a git server that never
//! answers, and the clone directory's permissions. Real git, real servers
//! on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake_provider::{Reply, Server};
use crate::gitutil::{git, kunavo_key, leakhound, secrets, Repo};

/// A token built at run time (no literal key in the source).
fn token(seed: u64) -> String {
    format!("ghp_{}", &kunavo_key(seed)["sk-kunavo-".len()..][..36])
}

/// A repository with one commit adding a key.
fn repo_with_key(seed: u64) -> (Repo, String) {
    let repo = Repo::init();
    let key = kunavo_key(seed);
    repo.write("app/secrets.env", &format!("KUNAVO_API_KEY = \"{key}\"\n"));
    repo.commit("add config");
    (repo, key)
}

fn errors(report: &Value) -> Vec<String> {
    report["stats"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| format!("{}: {}", e["path"], e["reason"]))
        .collect()
}

fn notes(report: &Value) -> Vec<String> {
    report["stats"]["notes"]
        .as_array()
        .map(|n| n.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn output_json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A request a [`Loopback`] server received.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    authorization: Option<String>,
}

/// A bare HTTP/1.1 server on 127.0.0.1 that answers each request with
/// `handler(path)` (status line and headers, body) and records what it got.
/// `Connection: close`, one thread per connection.
struct Loopback {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

type Answer = (String, Vec<u8>);

impl Loopback {
    fn start(handler: impl Fn(&str) -> Answer + Send + Sync + 'static) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, handler) = (Arc::clone(&log), Arc::clone(&handler));
                std::thread::spawn(move || answer(stream, &log, &*handler));
            }
        });
        Loopback { port, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer(stream: TcpStream, log: &Mutex<Vec<Seen>>, handler: &dyn Fn(&str) -> Answer) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut authorization = None;
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            match n.trim().to_ascii_lowercase().as_str() {
                "authorization" => authorization = Some(v.trim().to_string()),
                "content-length" => length = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    log.lock().unwrap().push(Seen {
        path: path.clone(),
        authorization,
    });
    let (head, body) = handler(&path);
    let mut out = stream;
    let _ = out.write_all(
        format!(
            "HTTP/1.1 {head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let _ = out.write_all(&body);
}

/// A page of `n` GitHub repositories named `acme/{prefix}{i}`, on a host
/// that does not exist (they are filtered out or never reached).
fn listing(prefix: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            serde_json::json!({
                "full_name": format!("acme/{prefix}{i}"),
                "clone_url": format!("https://git.invalid/acme/{prefix}{i}.git"),
                "html_url": format!("https://git.invalid/acme/{prefix}{i}"),
            })
        })
        .collect()
}

/// The page number of a listing request (1 without `page=`).
fn page_of(path: &str) -> usize {
    path.split(['?', '&'])
        .find_map(|p| p.strip_prefix("page="))
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
}

/// `Link: rel="next"` to page `n` of the same server.
fn next_link(req: &crate::fake_provider::Request, n: usize) -> String {
    let host = req.header("host").first().copied().unwrap_or_default();
    format!("<http://{host}/orgs/acme/repos?per_page=100&page={n}>; rel=\"next\"")
}

/// The output of `child` once it has exited; killed (and the test failed)
/// if it has not within `limit`.
fn stopped_within(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let end = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("leakhound did not stop after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// N2 (script 15): a listing that never ends is stopped by the first
/// Ctrl-C, promptly, between pages or in the middle of one.
#[test]
fn the_first_interrupt_stops_a_hosting_listing() {
    let api = Server::start(|req, _| {
        let page = page_of(&req.path);
        Reply::status(200)
            .body(&Value::Array(listing(&format!("p{page}-"), 100)).to_string())
            .header("Link", &next_link(req, page + 1))
            .delay(Duration::from_millis(150))
    });
    let work = tempfile::tempdir().unwrap();
    let child = leakhound()
        .current_dir(work.path())
        .env_remove("GITHUB_TOKEN")
        .args(["scan", "--format", "json", "--github-org", "acme"])
        .args(["--api-url", &api.url(), "--exclude", "**"])
        .arg("--clone-dir")
        .arg(work.path().join("clones"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    api.wait_for(3, Duration::from_secs(30));
    let asked = api.requests().len();
    // SAFETY: a signal to the child this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = stopped_within(child, Duration::from_secs(30));
    // The first Ctrl-C writes the report of what was done: exit 2, not
    // the second signal's 130.
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let report = output_json(&out);
    assert!(
        notes(&report).iter().any(|n| n.contains("interrupted")),
        "{report}"
    );
    // At most the page in flight when the signal came, and no other.
    let total = api.requests().len();
    assert!(
        total <= asked + 1,
        "{asked} pages before Ctrl-C, {total} in all"
    );
}

/// N2: a page larger than the page bound is not read; rate limits are
/// bounded over the whole listing, not page by page; what was listed before
/// the listing stopped is still audited.
#[test]
fn a_hosting_listing_is_bounded_and_keeps_what_it_listed() {
    let work = tempfile::tempdir().unwrap();
    let clones = work.path().join("clones");
    let run = |api: &Server| {
        leakhound()
            .current_dir(work.path())
            .env_remove("GITHUB_TOKEN")
            .args(["scan", "--format", "json", "--show-secrets"])
            .args(["--github-org", "acme", "--api-url", &api.url()])
            .arg("--clone-dir")
            .arg(&clones)
            .output()
            .unwrap()
    };

    // A page over 4 MiB (today's 100 repositories are some 600 KB).
    let big = Value::Array(listing(&"x".repeat(200), 25_000)).to_string();
    assert!(big.len() > 5 << 20);
    let api = Server::start(move |_, _| Reply::status(200).body(&big));
    let out = run(&api);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let errs = errors(&output_json(&out));
    assert!(
        errs.iter().any(|e| e.contains("page over 4 MiB")),
        "{errs:?}"
    );

    // 4,001 repositories a page (more than asked for, each page small):
    // the listing stops at 100,000, with an error, past page 24. A name
    // over 4 KiB leaves its repository out, counted.
    let page = Value::Array(listing("r", 4001)).to_string();
    let long = serde_json::json!([{
        "full_name": format!("acme/{}", "n".repeat(5000)),
        "clone_url": "https://git.invalid/acme/long.git",
        "html_url": "https://git.invalid/acme/long",
    }])
    .to_string();
    let api = Server::start(move |req, _| {
        let n = page_of(&req.path);
        Reply::status(200)
            .body(if n == 1 { &long } else { &page })
            .header("Link", &next_link(req, n + 1))
    });
    let out = leakhound()
        .current_dir(work.path())
        .env_remove("GITHUB_TOKEN")
        .args(["scan", "--format", "json", "--github-org", "acme"])
        .args(["--api-url", &api.url(), "--exclude", "acme/r*"])
        .arg("--clone-dir")
        .arg(&clones)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let errs = errors(&output_json(&out));
    assert!(
        errs.iter()
            .any(|e| e.contains("stopped at 100000 repositories")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("1 repository left out") && e.contains("longer than 4096")),
        "{errs:?}"
    );
    assert_eq!(api.requests().len(), 26);

    // Every page is rate limited once (Retry-After: 0) before it is
    // answered, 40 pages in all: at most 20 waits in one listing. The one
    // real repository, on page 1, is audited all the same.
    let (repo, key) = repo_with_key(251);
    let url = format!("file://{}", repo.path().display());
    let limited = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let api = Server::start(move |req, _| {
        let page = page_of(&req.path);
        if limited.lock().unwrap().insert(page) {
            return Reply::status(429).header("Retry-After", "0");
        }
        let mut repos = listing(&format!("p{page}-"), 2);
        if page == 1 {
            repos.push(serde_json::json!({
                "full_name": "acme/real",
                "clone_url": url,
                "html_url": "https://git.invalid/acme/real",
            }));
        }
        let mut reply = Reply::status(200).body(&Value::Array(repos).to_string());
        if page < 40 {
            reply = reply.header("Link", &next_link(req, page + 1));
        }
        reply
    });
    let out = run(&api);
    let report = output_json(&out);
    let errs = errors(&report);
    assert!(
        errs.iter()
            .any(|e| e.contains("after 20 waits in this listing")),
        "{errs:?}"
    );
    assert_eq!(api.requests().len(), 41, "20 pages answered, 21 refused");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(secrets(&report).contains(&key), "{report}");
    // The other repositories of the listing were not cloned (they are on a
    // host that does not exist): errors, one each.
    assert!(errs.iter().any(|e| e.contains("git.invalid")), "{errs:?}");
}

/// N3 (script 16): the hosting token goes to git for the clone URL's
/// origin; a clone host that redirects to another origin does not take it
/// there. (Also: the API's client follows no redirect either.)
#[test]
fn a_redirecting_clone_host_does_not_hand_the_token_on() {
    let (repo, _) = repo_with_key(252);
    let www = tempfile::tempdir().unwrap();
    let served = www.path().join("x.git");
    git(
        www.path(),
        &[
            "clone",
            "-q",
            "--bare",
            &repo.path().display().to_string(),
            &served.display().to_string(),
        ],
    );
    git(&served, &["update-server-info"]);
    // C: a dumb-HTTP git server for the repository, on another origin.
    let root = www.path().to_path_buf();
    let other = Loopback::start(move |path| {
        let file = root.join(path.split('?').next().unwrap().trim_start_matches('/'));
        match std::fs::read(&file) {
            Ok(bytes) if file.is_file() => ("200 OK".into(), bytes),
            _ => ("404 Not Found".into(), Vec::new()),
        }
    });
    // B: the clone host, which redirects everything to C.
    let c_port = other.port;
    let host = Loopback::start(move |path| {
        (
            format!("302 Found\r\nLocation: http://localhost:{c_port}{path}"),
            Vec::new(),
        )
    });
    let b = host.port;
    let api = Server::start(move |_, _| {
        Reply::status(200).body(
            &serde_json::json!([{
                "full_name": "acme/x",
                "clone_url": format!("http://127.0.0.1:{b}/x.git"),
                "html_url": format!("http://127.0.0.1:{b}/acme/x"),
            }])
            .to_string(),
        )
    });
    let secret = token(253);
    let work = tempfile::tempdir().unwrap();
    let out = leakhound()
        .current_dir(work.path())
        .env("GITHUB_TOKEN", &secret)
        .args(["scan", "--format", "json", "--github-org", "acme"])
        .args(["--api-url", &api.url()])
        .arg("--clone-dir")
        .arg(work.path().join("clones"))
        .output()
        .unwrap();
    let report = output_json(&out);
    use base64::Engine;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{secret}"));
    // The clone host got the token, as the API named it.
    let at_b = host.seen();
    assert!(
        at_b.iter().any(|r| r.path.starts_with("/x.git/")),
        "{at_b:?}"
    );
    assert!(
        at_b.iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Basic {basic}")[..])),
        "{at_b:?}"
    );
    // The redirect's target never did.
    let at_c = other.seen();
    assert!(
        at_c.iter().all(|r| r.authorization.is_none()),
        "the token reached the redirect's target: {at_c:?}"
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let errs = errors(&report);
    assert!(
        errs.iter()
            .any(|e| e.contains("acme/x") || e.contains("x.git")),
        "{errs:?}"
    );
    assert!(errs.iter().any(|e| e.contains("redirect")), "{errs:?}");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(&secret) && !text.contains(&basic));

    // The API itself redirecting: refused, the target is never asked.
    let api = Server::start(move |req, _| {
        Reply::status(302).header(
            "Location",
            &format!("http://localhost:{c_port}{}", req.path),
        )
    });
    let before = other.seen().len();
    let out = leakhound()
        .current_dir(work.path())
        .env("GITHUB_TOKEN", &secret)
        .args(["scan", "--format", "json", "--github-org", "acme"])
        .args(["--api-url", &api.url()])
        .arg("--clone-dir")
        .arg(work.path().join("clones"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(errors(&output_json(&out))
        .iter()
        .any(|e| e.contains("redirect")));
    assert_eq!(other.seen().len(), before);
}

/// The keys of a mirror's config, as git reads them.
fn config_keys(mirror: &Path) -> Vec<String> {
    let list = git(
        mirror,
        &[
            "config",
            "--file",
            &mirror.join("config").display().to_string(),
            "--list",
        ],
    );
    list.lines()
        .map(|l| l.split('=').next().unwrap().to_string())
        .collect()
}

/// The one mirror in `clones`.
fn the_mirror(clones: &Path) -> std::path::PathBuf {
    let mirrors: Vec<_> = std::fs::read_dir(clones)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(mirrors.len(), 1, "{mirrors:?}");
    mirrors[0].clone()
}

/// N4 (script 17): hooks and config planted in a mirror of the clone
/// directory do not run when the next audit fetches into it; its config
/// is written anew; a mirror with alternates is cloned afresh.
#[test]
fn hooks_and_config_planted_in_a_mirror_do_not_run() {
    let (src, key_one) = repo_with_key(254);
    let work = tempfile::tempdir().unwrap();
    let clones = work.path().join("clones");
    let url = format!("file://{}", src.path().display());
    let audit = || {
        leakhound()
            .current_dir(work.path())
            .env("GITHUB_TOKEN", token(255))
            .args([
                "scan",
                "--format",
                "json",
                "--show-secrets",
                "--git-url",
                &url,
            ])
            .arg("--clone-dir")
            .arg(&clones)
            .output()
            .unwrap()
    };
    let out = audit();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let mirror = the_mirror(&clones);
    let expected = config_keys(&mirror);

    // Plant: a hook, an upload-pack command (run by git for file:// URLs),
    // and an included config naming a hooks directory of its own.
    let marks = work.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    let hook = |name: &str, dir: &Path| {
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join(name);
        std::fs::write(
            &file,
            format!(
                "#!/bin/sh\necho \"$GITHUB_TOKEN\" > '{}/{name}'\ncat > /dev/null\n",
                marks.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    hook("reference-transaction", &mirror.join("hooks"));
    let other_hooks = work.path().join("other-hooks");
    hook("reference-transaction", &other_hooks);
    let included = work.path().join("included.config");
    std::fs::write(
        &included,
        format!("[core]\n\thooksPath = {}\n", other_hooks.display()),
    )
    .unwrap();
    let mut config = std::fs::read_to_string(mirror.join("config")).unwrap();
    config.push_str(&format!(
        "[remote \"origin\"]\n\tuploadpack = touch '{}/uploadpack'; git-upload-pack\n[include]\n\tpath = {}\n[credential]\n\thelper = !touch '{}/credential'\n",
        marks.display(),
        included.display(),
        marks.display()
    ));
    std::fs::write(mirror.join("config"), config).unwrap();

    let key_two = kunavo_key(256);
    src.write("b.env", &format!("KUNAVO_API_KEY = \"{key_two}\"\n"));
    src.commit("two");
    let out = audit();
    let planted: Vec<_> = std::fs::read_dir(&marks)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(planted.is_empty(), "planted code ran: {planted:?}");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // The fetch worked: the new commit's key is reported.
    let found = secrets(&output_json(&out));
    assert!(
        found.contains(&key_one) && found.contains(&key_two),
        "{found:?}"
    );
    assert_eq!(config_keys(&mirror), expected);
    assert!(config_keys(&mirror).contains(&"remote.origin.url".to_string()));

    // Alternates make git read objects from elsewhere: such a mirror is not
    // one of ours, and is cloned afresh (a note says so).
    let elsewhere = work.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(
        mirror.join("objects/info/alternates"),
        format!("{}\n", elsewhere.display()),
    )
    .unwrap();
    let out = audit();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = output_json(&out);
    assert!(
        notes(&report)
            .iter()
            .any(|n| n.contains("cloned afresh") && n.contains("alternates")),
        "{report}"
    );
    assert!(!mirror.join("objects/info/alternates").exists());

    // Files git writes in place (FETCH_HEAD, reflogs) as links to a file of
    // the user's: git does not write through them.
    let victim = work.path().join("victim.txt");
    std::fs::write(&victim, "mine\n").unwrap();
    let logs = mirror.join("logs/refs/heads");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::hard_link(&victim, logs.join("main")).unwrap();
    std::fs::hard_link(&victim, logs.join("master")).unwrap();
    let _ = std::fs::remove_file(mirror.join("FETCH_HEAD"));
    std::fs::hard_link(&victim, mirror.join("FETCH_HEAD")).unwrap();
    src.write("c.txt", "three\n");
    src.commit("three");
    let out = audit();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "mine\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    std::fs::remove_file(mirror.join("FETCH_HEAD")).unwrap();
    std::os::unix::fs::symlink(&victim, mirror.join("FETCH_HEAD")).unwrap();
    src.write("d.txt", "four\n");
    src.commit("four");
    let out = audit();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "mine\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        notes(&output_json(&out))
            .iter()
            .any(|n| n.contains("cloned afresh") && n.contains("symbolic link")),
        "{out:?}"
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// N10 (script 23): the clone cache, created under umask 022, is private
/// to the user, and so is every mirror in it; a clone directory left open
/// to others is made private with a note.
#[test]
fn the_clone_cache_is_private_to_the_user() {
    let (src, _) = repo_with_key(257);
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let url = format!("file://{}", src.path().display());
    let audit = || {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "umask 022; exec \"$@\"", "sh"])
            .arg(env!("CARGO_BIN_EXE_leakhound"))
            .args(["scan", "--format", "json", "--git-url", &url])
            .current_dir(work.path())
            .env("XDG_CACHE_HOME", &cache)
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1");
        cmd.output().unwrap()
    };
    let out = audit();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let clones = cache.join("leakhound/clones");
    let mirror = the_mirror(&clones);
    for dir in [
        cache.clone(),
        cache.join("leakhound"),
        clones.clone(),
        mirror.clone(),
        mirror.join("objects"),
        mirror.join("objects/pack"),
        mirror.join("refs"),
    ] {
        assert_eq!(
            mode(&dir) & 0o077,
            0,
            "{} is {:o}",
            dir.display(),
            mode(&dir)
        );
    }
    for file in std::fs::read_dir(mirror.join("objects/pack")).unwrap() {
        let file = file.unwrap().path();
        assert_eq!(mode(&file) & 0o077, 0, "{}", file.display());
    }

    // Opened up (an older leakhound, a copy): made private again.
    std::fs::set_permissions(&clones, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = audit();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(mode(&clones), 0o700);
    assert!(
        notes(&output_json(&out))
            .iter()
            .any(|n| n.contains("made private")),
        "{out:?}"
    );
}

/// Processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(format!(
                    "{}: {cmdline}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    found
}

/// A git server that accepts, reads the request line, and never answers,
/// holding every connection until the test ends. Each request line is sent
/// on the channel. Returns a URL on it unique to this test process.
fn hanging_git_server(name: &str) -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            let _ = BufReader::new(stream.try_clone().unwrap()).read_line(&mut line);
            let _ = tx.send(line);
            held.push(stream);
        }
    });
    let url = format!(
        "http://127.0.0.1:{port}/acme/{name}-{}.git",
        std::process::id()
    );
    (url, rx)
}

/// Wait (a little, for the kernel to finish a kill) until no process has
/// `url` in its command line; a helper that lives on fails the test.
fn assert_nothing_left(url: &str) {
    // Killed processes leave /proc at once (a zombie has no command line).
    let end = Instant::now() + Duration::from_secs(3);
    loop {
        let left = processes_with(url);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < end,
            "still running after leakhound exited: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// N9 (script 22): `--clone-timeout` ends git and its transport helper
/// (`git-remote-http`), not git alone: nothing of the clone outlives
/// leakhound, even with the server still holding the connection.
#[test]
fn the_clone_timeout_kills_git_and_its_transport_helper() {
    let (url, requests) = hanging_git_server("hang");
    let work = tempfile::tempdir().unwrap();
    let out = leakhound()
        .current_dir(work.path())
        .args(["scan", "--format", "json", "--git-url", &url])
        .args(["--clone-timeout", "1s"])
        .arg("--clone-dir")
        .arg(work.path().join("clones"))
        .output()
        .unwrap();
    // The helper did reach the server.
    let request = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(request.contains("/acme/hang-"), "{request}");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let errs = errors(&output_json(&out));
    assert!(
        errs.iter().any(|e| e.contains("--clone-timeout")),
        "{errs:?}"
    );
    assert_nothing_left(&url);
}

/// N9: git runs in a process group of its own (the terminal's Ctrl-C no
/// longer reaches it), so leakhound ends it: on the first Ctrl-C, and on
/// the second one, which exits at once.
#[test]
fn ctrl_c_during_a_clone_kills_git_and_its_transport_helper() {
    for signals in [1, 2] {
        let (url, requests) = hanging_git_server(&format!("ctrl-c-{signals}"));
        let work = tempfile::tempdir().unwrap();
        let child = leakhound()
            .current_dir(work.path())
            .args(["scan", "--format", "json", "--git-url", &url])
            .arg("--clone-dir")
            .arg(work.path().join("clones"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        requests.recv_timeout(Duration::from_secs(30)).unwrap();
        for _ in 0..signals {
            // SAFETY: a signal to the child this test started.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGINT);
            }
        }
        let out = stopped_within(child, Duration::from_secs(30));
        if signals == 1 {
            assert_eq!(out.status.code(), Some(2), "{out:?}");
            let report = output_json(&out);
            assert!(
                notes(&report).iter().any(|n| n.contains("interrupted")),
                "{report}"
            );
        }
        assert_nothing_left(&url);
    }
}
