//! `scan --verify` and `verify REPORT.json` against a real HTTP server on
//! 127.0.0.1 (tests/cli/fake_provider.rs), reached through the
//! `[providers.NAME] base_url` override. Nothing here touches the internet:
//! every provider a test's keys belong to is pointed at the local server.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake_provider::{Reply, Request, Server};
use crate::util::{alnum, kunavo, leakhound, offline, pinaivu, run, tempdir, write, Run};

/// The binary, kept off the internet (see `offline`).
fn lh() -> std::process::Command {
    let mut cmd = leakhound();
    offline(&mut cmd);
    cmd
}

// ------------------------------------------------------------ fixtures

fn konnect_live(label: &str) -> String {
    format!("sk_live_{}", alnum(label, 32))
}

fn konnect_test(label: &str) -> String {
    format!("sk_test_{}", alnum(label, 32))
}

fn kindo(label: &str) -> String {
    alnum(label, 32)
}

fn synstar(label: &str) -> String {
    format!("sk-{}", alnum(label, 40))
}

/// A file in which `key` is found and attributed to `provider`.
fn leak(dir: &Path, provider: &str, key: &str) {
    let text = match provider {
        "kunavo" => format!("export KUNAVO_API_KEY=\"{key}\"\n"),
        "pinaivu" => format!("PINAIVU_API_KEY={key}\n"),
        "konnect" => format!("# chat service (https://api.konnect.ai/v1)\nKONNECT_API_KEY={key}\n"),
        "kindo" => format!("KINDO_API_KEY={key}\n"),
        "synstar" => format!(
            "client = OpenAI(\n    api_key=\"{key}\",\n    base_url=\"https://www.kkiai.com/v1\",\n)\n"
        ),
        other => panic!("no fixture for {other}"),
    };
    let tail = &key[key.len() - 8..];
    write(dir, &format!("src/{provider}-{tail}.txt"), text);
}

/// `.leakhound.toml` pointing every provider of the gateways at `server`
/// (`{server}/{provider}/v1`), plus `extra`.
fn config(dir: &Path, server: &Server, extra: &str) {
    let mut toml = String::new();
    for p in ["kunavo", "pinaivu", "konnect", "kindo", "synstar"] {
        toml.push_str(&format!(
            "[providers.{p}]\nbase_url = \"{}/{p}/v1\"\n\n",
            server.url()
        ));
    }
    // Short waits between retries keep the tests fast.
    toml.push_str("[verify]\nmax_wait = 0.2\n\n");
    toml.push_str(extra);
    write(dir, ".leakhound.toml", toml);
}

/// A server answering each key with its scripted reply (404 for others).
fn scripted(replies: HashMap<String, Reply>) -> Server {
    Server::start(move |req, _| {
        replies
            .get(&req.key())
            .cloned()
            .unwrap_or_else(|| Reply::status(404))
    })
}

/// `scan . --format json --show-secrets --verify ARGS` in `dir`, with the
/// test's config named (a discovered one may not set provider URLs).
fn scan_verify(dir: &Path, args: &[&str]) -> Run {
    run(lh()
        .current_dir(dir)
        .args([
            "scan",
            ".",
            "-c",
            ".leakhound.toml",
            "--format",
            "json",
            "--show-secrets",
            "--verify",
        ])
        .args(args))
}

/// Verification objects by raw secret.
fn verdicts(run: &Run) -> HashMap<String, Value> {
    run.findings()
        .into_iter()
        .map(|f| {
            (
                f["secret"].as_str().unwrap().to_string(),
                f["verification"].clone(),
            )
        })
        .collect()
}

/// One row of a provider's status table: the reply, then what the
/// finding's verification must say.
struct Row {
    key: String,
    reply: Reply,
    verdict: &'static str,
    status: u16,
    detail: &'static str,
    reason: Option<&'static str>,
}

fn row(key: String, reply: Reply, verdict: &'static str, detail: &'static str) -> Row {
    Row {
        key,
        status: reply.status,
        reply,
        verdict,
        detail,
        reason: None,
    }
}

impl Row {
    fn reason(mut self, r: &'static str) -> Row {
        self.reason = Some(r);
        self
    }
}

/// Scan one file per row, every key answered as its row says, and check
/// every verdict. Returns the server for further assertions.
fn check_table(provider: &str, rows: Vec<Row>) -> Server {
    let server = scripted(
        rows.iter()
            .map(|r| (r.key.clone(), r.reply.clone()))
            .collect(),
    );
    let dir = tempdir();
    config(dir.path(), &server, "");
    for r in &rows {
        leak(dir.path(), provider, &r.key);
    }
    let out = scan_verify(dir.path(), &[]);
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
    let got = verdicts(&out);
    assert_eq!(got.len(), rows.len(), "{}", out.stdout);
    for r in &rows {
        let v = &got[&r.key];
        let what = format!("{provider} HTTP {}: {v}", r.status);
        assert_eq!(v["verdict"], r.verdict, "{what}");
        assert_eq!(v["status"], r.status, "{what}");
        assert_eq!(v["provider"], provider, "{what}");
        assert!(
            v["detail"].as_str().unwrap().contains(r.detail),
            "{what}: detail should contain {:?}",
            r.detail
        );
        match r.reason {
            Some(reason) => assert_eq!(v["reason"], reason, "{what}"),
            None if r.verdict == "unknown" => assert_eq!(v["reason"], "status", "{what}"),
            None => assert!(v.get("reason").is_none(), "{what}"),
        }
    }
    for req in server.requests() {
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, format!("/{provider}/v1/models"));
    }
    server
}

fn count_for(server: &Server, key: &str) -> usize {
    server.requests().iter().filter(|r| r.key() == key).count()
}

// ------------------------------------------------------------ status tables

#[test]
fn kunavo_status_table() {
    let k = |i: u32| kunavo(&format!("kunavo-table-{i}"));
    let quota = r#"{"error":{"message":"monthly spend cap reached","type":"insufficient_quota","code":"insufficient_quota"}}"#;
    let server = check_table(
        "kunavo",
        vec![
            row(k(1), Reply::status(200), "live", "key works"),
            row(k(2), Reply::status(401), "dead", "invalid or revoked"),
            row(
                k(3),
                Reply::status(402).body(quota),
                "live",
                "monthly spend cap exhausted",
            ),
            row(
                k(4),
                Reply::status(402),
                "unknown",
                "without insufficient_quota",
            ),
            row(k(5), Reply::status(403), "unknown", "no permission"),
            row(
                k(6),
                Reply::status(429).header("Retry-After", "0"),
                "unknown",
                "rate limit or quota",
            )
            .reason("retries"),
            row(
                k(7),
                Reply::status(418),
                "unknown",
                "not in Kunavo's status table",
            ),
            row(
                k(8),
                Reply::status(503).header("Retry-After", "0"),
                "unknown",
                "server error",
            )
            .reason("retries"),
        ],
    );
    // 402 is settled at once; 429 and 503 are asked 1 + 2 retries times.
    assert_eq!(count_for(&server, &k(3)), 1);
    assert_eq!(count_for(&server, &k(6)), 3);
    assert_eq!(count_for(&server, &k(8)), 3);
}

#[test]
fn pinaivu_status_table() {
    let k = |i: u32| pinaivu(&format!("pinaivu-table-{i}"));
    let server = check_table(
        "pinaivu",
        vec![
            row(k(1), Reply::status(200), "live", "key works"),
            row(
                k(2),
                Reply::status(401),
                "dead",
                "malformed or not recognised",
            ),
            row(k(3), Reply::status(403), "unknown", "revoked or restricted"),
            row(
                k(4),
                Reply::status(429),
                "unknown",
                "rate limit or quota: retry later",
            )
            .reason("retries"),
        ],
    );
    assert_eq!(count_for(&server, &k(4)), 3, "429 is retried twice");
    assert_eq!(count_for(&server, &k(3)), 1, "403 is not retried");
}

#[test]
fn kindo_status_table() {
    let k = |i: u32| kindo(&format!("kindo-table-{i}"));
    let server = check_table(
        "kindo",
        vec![
            row(k(1), Reply::status(200), "live", "key works"),
            row(
                k(2),
                Reply::status(401),
                "dead",
                "missing, malformed or revoked",
            ),
            row(
                k(3),
                Reply::status(403),
                "live",
                "lacks permission for the model",
            ),
            row(
                k(4),
                Reply::status(500).header("Retry-After", "0"),
                "unknown",
                "server error",
            )
            .reason("retries"),
        ],
    );
    assert!(!server.requests().is_empty());
}

#[test]
fn konnect_status_table() {
    let server = check_table(
        "konnect",
        vec![
            row(
                konnect_test("konnect-1"),
                Reply::status(200),
                "live",
                "test key works (mock responses only)",
            ),
            row(
                konnect_live("konnect-2"),
                Reply::status(200),
                "live",
                "production key works",
            ),
            row(
                konnect_live("konnect-3"),
                Reply::status(401),
                "dead",
                "invalid",
            ),
            row(
                konnect_live("konnect-4"),
                Reply::status(403),
                "unknown",
                "no permission",
            ),
            row(
                konnect_live("konnect-5"),
                Reply::status(429),
                "unknown",
                "quota or rate limit",
            )
            .reason("retries"),
        ],
    );
    assert_eq!(count_for(&server, &konnect_live("konnect-5")), 3);
}

#[test]
fn konnect_test_keys_are_low_severity_but_live() {
    let key = konnect_test("konnect-severity");
    let server = scripted(HashMap::from([(key.clone(), Reply::status(200))]));
    let dir = tempdir();
    config(dir.path(), &server, "");
    leak(dir.path(), "konnect", &key);
    let out = scan_verify(dir.path(), &[]);
    let f = &out.findings()[0];
    assert_eq!(f["severity"], "low");
    assert_eq!(f["verification"]["verdict"], "live");
}

#[test]
fn synstar_status_table() {
    let k = |i: u32| synstar(&format!("synstar-table-{i}"));
    let server = check_table(
        "synstar",
        vec![
            row(k(1), Reply::status(200), "live", "key works"),
            row(
                k(2),
                Reply::status(401).body(r#"{"error":{"message":"invalid token"}}"#),
                "dead",
                "invalid, deleted, disabled or expired",
            ),
            row(
                k(3),
                Reply::status(401).body(r#"{"error":{"message":"token quota is exhausted"}}"#),
                "live",
                "balance or quota exhausted",
            ),
            row(
                k(4),
                Reply::status(402),
                "live",
                "balance or quota exhausted",
            ),
            // Issue 23: the docs list a disabled key and a key without
            // model permission among the invalid-key causes, so a 403
            // proves neither way (it was `live` before).
            row(
                k(5),
                Reply::status(403),
                "unknown",
                "disabled key or a key without access to the model",
            ),
            row(
                k(6),
                Reply::status(429).body(r#"{"error":{"message":"insufficient quota"}}"#),
                "live",
                "balance or quota exhausted",
            ),
            row(k(7), Reply::status(429), "unknown", "rate limited").reason("retries"),
        ],
    );
    assert_eq!(
        count_for(&server, &k(6)),
        1,
        "a quota 429 is settled, not retried"
    );
    assert_eq!(count_for(&server, &k(7)), 3);
}

// ------------------------------------------------------------ how keys are sent

#[test]
fn kindo_gets_exactly_one_auth_header() {
    let key = kindo("kindo-header");
    let server = Server::start(|req, _| {
        // Kindo's precedence: with both headers Bearer wins, a malformed
        // Authorization is rejected. Answer live only to the clean form.
        let auth = req.header("authorization");
        let ok =
            auth.len() == 1 && auth[0].starts_with("Bearer ") && req.header("x-api-key").is_empty();
        Reply::status(if ok { 200 } else { 401 })
    });
    let dir = tempdir();
    config(dir.path(), &server, "");
    leak(dir.path(), "kindo", &key);
    // The same key behind an x-api-key header near a Kindo host.
    write(
        dir.path(),
        "deploy/curl.sh",
        format!("curl https://api.kindo.ai/v1/models \\\n  -H \"x-api-key: {key}\"\n"),
    );
    let out = scan_verify(dir.path(), &[]);
    let findings = out.findings();
    assert_eq!(findings.len(), 2, "{}", out.stdout);
    for f in &findings {
        assert_eq!(f["verification"]["verdict"], "live", "{f}");
    }
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "one key, one request");
    let r = &reqs[0];
    assert_eq!(
        r.header("authorization"),
        vec![format!("Bearer {key}").as_str()]
    );
    assert!(r.header("x-api-key").is_empty(), "{}", r.text());
    let carrying_key = r.headers.iter().filter(|(_, v)| v.contains(&key)).count();
    assert_eq!(carrying_key, 1, "{}", r.text());
}

#[test]
fn redirect_is_not_followed_and_the_target_never_sees_the_key() {
    let key = kunavo("kunavo-redirect");
    let elsewhere = Server::start(|_, _| Reply::status(200));
    let location = format!("{}/v1/models", elsewhere.url());
    let server = Server::start(move |_, _| Reply::status(302).header("Location", &location));
    let dir = tempdir();
    config(dir.path(), &server, "");
    leak(dir.path(), "kunavo", &key);
    let out = scan_verify(dir.path(), &[]);
    let v = &verdicts(&out)[&key];
    assert_eq!(v["verdict"], "unknown");
    assert_eq!(v["reason"], "redirect");
    assert_eq!(v["status"], 302);
    assert_eq!(server.requests().len(), 1);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect target got a request: {:?}",
        elsewhere.requests()
    );
}

#[test]
fn ambiguous_keys_go_nowhere_unless_the_provider_is_named() {
    let key = synstar("ambiguous-sk");
    let server = scripted(HashMap::from([(key.clone(), Reply::status(200))]));
    let dir = tempdir();
    // A generic bare `sk-` rule naming its alternatives, as the built-in
    // generic rules do: without provider evidence its hits are ambiguous.
    let rule = r#"
[[rules]]
id = "test-generic-sk"
description = "Bare sk- key (OpenAI, SynStar or DeepSeek)"
provider = "openai"
severity = "high"
regex = '''\b(sk-[A-Za-z0-9]{40})\b'''
keywords = ["sk-"]
priority = 10
alternatives = ["synstar", "deepseek"]
"#;
    config(dir.path(), &server, rule);
    write(
        dir.path(),
        "app.py",
        format!("client = Client(api_key=\"{key}\")\n"),
    );

    let out = scan_verify(dir.path(), &[]);
    let f = &out.findings()[0];
    assert_eq!(f["ambiguous"], true, "{f}");
    let v = &f["verification"];
    assert_eq!(v["verdict"], "unknown");
    assert_eq!(v["reason"], "not-verifiable");
    assert!(
        v["detail"].as_str().unwrap().contains("--verify-ambiguous"),
        "{v}"
    );
    assert!(server.requests().is_empty(), "an ambiguous key was sent");

    // Naming a provider that is not a candidate changes nothing.
    let out = scan_verify(dir.path(), &["--verify-ambiguous", "kunavo"]);
    assert_eq!(
        out.findings()[0]["verification"]["reason"],
        "not-verifiable"
    );
    assert!(server.requests().is_empty());

    let out = scan_verify(dir.path(), &["--verify-ambiguous", "synstar"]);
    let v = &out.findings()[0]["verification"];
    assert_eq!(v["verdict"], "live", "{v}");
    assert_eq!(v["provider"], "synstar");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/synstar/v1/models");
}

#[test]
fn verify_ambiguous_needs_verify() {
    let dir = tempdir();
    let out =
        run(lh()
            .current_dir(dir.path())
            .args(["scan", ".", "--verify-ambiguous", "synstar"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("needs --verify"), "{}", out.stderr);
}

#[test]
fn base_url_must_be_https_or_loopback() {
    for url in [
        "http://api.kunavo.example/v1",
        "ftp://127.0.0.1/v1",
        "https://u:p@h.example/v1",
    ] {
        let dir = tempdir();
        write(
            dir.path(),
            ".leakhound.toml",
            format!("[providers.kunavo]\nbase_url = \"{url}\"\n"),
        );
        leak(dir.path(), "kunavo", &kunavo("kunavo-bad-url"));
        let out = run(lh().current_dir(dir.path()).args([
            "scan",
            ".",
            "-c",
            ".leakhound.toml",
            "--verify",
        ]));
        assert_eq!(out.code, 2, "{url}: {}", out.stdout);
        assert!(
            out.stderr.contains("[providers.kunavo] base_url"),
            "{url}: {}",
            out.stderr
        );
    }
}

// ------------------------------------------------------------ faults and load

#[test]
fn server_error_then_success_is_live() {
    let key = kunavo("kunavo-500-then-200");
    let server = Server::start(|_, n| {
        if n == 0 {
            Reply::status(500)
        } else {
            Reply::status(200)
        }
    });
    let dir = tempdir();
    config(dir.path(), &server, "");
    leak(dir.path(), "kunavo", &key);
    let out = scan_verify(dir.path(), &[]);
    let v = &verdicts(&out)[&key];
    assert_eq!(v["verdict"], "live", "{v}");
    assert_eq!(v["status"], 200);
    assert_eq!(server.requests().len(), 2);
    let summary = &out.json()["stats"]["verification"];
    assert_eq!(summary["requests"], 2);
    assert_eq!(summary["live"], 1);
}

#[test]
fn retry_after_is_honoured() {
    let key = pinaivu("pinaivu-retry-after");
    let server = Server::start(|_, n| {
        if n == 0 {
            Reply::status(429).header("Retry-After", "1")
        } else {
            Reply::status(200)
        }
    });
    let dir = tempdir();
    config(dir.path(), &server, "");
    leak(dir.path(), "pinaivu", &key);
    let out = scan_verify(dir.path(), &["--verify-max-wait", "5s"]);
    assert_eq!(verdicts(&out)[&key]["verdict"], "live");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
}

#[test]
fn retry_after_beyond_the_cap_ends_the_check() {
    let key = pinaivu("pinaivu-retry-after-long");
    let server = Server::start(|_, _| Reply::status(429).header("Retry-After", "120"));
    let dir = tempdir();
    config(dir.path(), &server, "");
    leak(dir.path(), "pinaivu", &key);
    let started = Instant::now();
    let out = scan_verify(dir.path(), &["--verify-max-wait", "2s"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    let v = &verdicts(&out)[&key];
    assert_eq!(v["verdict"], "unknown");
    assert_eq!(v["reason"], "retries");
    assert!(
        v["detail"].as_str().unwrap().contains("Retry-After 120 s"),
        "{v}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn timeout_is_unknown() {
    let key = kunavo("kunavo-timeout");
    // The answer is held until the scan has ended (an event, not a delay a
    // loaded machine may outlast): a client that did not time out would
    // wait for it, a minute, and get `live`.
    let gate = Gate::default();
    let held = gate.clone();
    let server = Server::start(move |_, _| {
        held.wait(Duration::from_secs(60));
        Reply::status(200)
    });
    let dir = tempdir();
    config(dir.path(), &server, "");
    leak(dir.path(), "kunavo", &key);
    let out = scan_verify(dir.path(), &["--verify-timeout", "500ms"]);
    gate.open();
    assert_eq!(server.requests().len(), 1);
    let v = &verdicts(&out)[&key];
    assert_eq!(v["verdict"], "unknown", "{v}");
    assert_eq!(v["reason"], "timeout", "{v}");
    assert!(v["status"].is_null());
}

#[test]
fn connection_refused_is_unknown() {
    let key = kunavo("kunavo-refused");
    // A port that was free a moment ago and has no listener now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempdir();
    write(
        dir.path(),
        ".leakhound.toml",
        format!("[providers.kunavo]\nbase_url = \"http://127.0.0.1:{port}/v1\"\n"),
    );
    leak(dir.path(), "kunavo", &key);
    let out = scan_verify(dir.path(), &[]);
    let v = &verdicts(&out)[&key];
    assert_eq!(v["verdict"], "unknown");
    assert_eq!(v["reason"], "connection", "{v}");
    assert_eq!(v["detail"], "connection refused", "{v}");
    // The transport error's text (which names the URL) is never passed
    // on; the host appears only in the count of requests per host.
    assert!(
        !out.stderr.contains(&key) && !v["detail"].as_str().unwrap().contains("127.0.0.1"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.json()["stats"]["verification"]["hosts"][format!("127.0.0.1:{port}")],
        1
    );
}

#[test]
fn tls_failure_is_unknown() {
    use std::io::{Read, Write};
    let key = kunavo("kunavo-tls");
    // A server that answers plain HTTP to an https:// base URL.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&received);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
        }
    });
    let dir = tempdir();
    write(
        dir.path(),
        ".leakhound.toml",
        format!("[providers.kunavo]\nbase_url = \"https://127.0.0.1:{port}/v1\"\n"),
    );
    leak(dir.path(), "kunavo", &key);
    let out = scan_verify(dir.path(), &[]);
    let v = &verdicts(&out)[&key];
    assert_eq!(v["verdict"], "unknown");
    assert_eq!(v["reason"], "tls", "{v}");
    let got = received.lock().unwrap().clone();
    assert!(!got.is_empty(), "no TLS handshake arrived");
    assert!(
        !String::from_utf8_lossy(&got).contains(&key[10..]),
        "the key went out before TLS was up"
    );
}

#[test]
fn each_unique_key_is_verified_once() {
    let key = kunavo("kunavo-dup");
    let server = scripted(HashMap::from([(key.clone(), Reply::status(200))]));
    let dir = tempdir();
    config(dir.path(), &server, "");
    for i in 0..3 {
        write(
            dir.path(),
            &format!("copy{i}/.env"),
            format!("KUNAVO_API_KEY={key}\n"),
        );
    }
    let out = scan_verify(dir.path(), &[]);
    let findings = out.findings();
    assert_eq!(findings.len(), 3);
    for f in &findings {
        assert_eq!(f["verification"]["verdict"], "live");
    }
    assert_eq!(server.requests().len(), 1);
    assert_eq!(out.json()["stats"]["verification"]["keys"], 1);
}

#[test]
fn concurrency_is_bounded_per_provider_and_a_slow_provider_stalls_no_other() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    // Kunavo answers nothing until all four Pinaivu keys have been asked
    // (or 10 s have passed): if Pinaivu waited behind Kunavo, Kunavo's
    // first answer would come only after the 10 s and Pinaivu's requests
    // after it. Ordered by events, not by a time margin, so a loaded
    // machine cannot make it fail.
    let pinaivu_asked = Arc::new(AtomicUsize::new(0));
    let asked = Arc::clone(&pinaivu_asked);
    let server = Server::start(move |req: &Request, _| {
        if req.path.starts_with("/kunavo/") {
            let end = Instant::now() + Duration::from_secs(10);
            while asked.load(Ordering::SeqCst) < 4 && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(10));
            }
            Reply::status(200).delay(Duration::from_millis(100))
        } else {
            asked.fetch_add(1, Ordering::SeqCst);
            Reply::status(200)
        }
    });
    let dir = tempdir();
    config(dir.path(), &server, "");
    for i in 0..4 {
        leak(dir.path(), "kunavo", &kunavo(&format!("kunavo-slow-{i}")));
        leak(
            dir.path(),
            "pinaivu",
            &pinaivu(&format!("pinaivu-fast-{i}")),
        );
    }
    let out = scan_verify(
        dir.path(),
        &[
            "--verify-concurrency",
            "3",
            "--verify-per-provider",
            "1",
            "--verify-timeout",
            "30",
        ],
    );
    assert_eq!(out.findings().len(), 8);
    assert!(out
        .findings()
        .iter()
        .all(|f| f["verification"]["verdict"] == "live"));
    assert_eq!(server.max_in_flight("kunavo"), 1);
    assert_eq!(server.max_in_flight("pinaivu"), 1);
    // All of Pinaivu was asked while Kunavo's first request was pending.
    let requests = server.requests();
    let first_kunavo = requests
        .iter()
        .position(|r| r.path.starts_with("/kunavo/"))
        .unwrap();
    let second_kunavo = requests
        .iter()
        .skip(first_kunavo + 1)
        .position(|r| r.path.starts_with("/kunavo/"))
        .map(|i| i + first_kunavo + 1)
        .unwrap();
    let pinaivu_before: usize = requests[..second_kunavo]
        .iter()
        .filter(|r| r.path.starts_with("/pinaivu/"))
        .count();
    assert_eq!(
        pinaivu_before,
        4,
        "Pinaivu waited behind Kunavo: {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

#[test]
fn cache_avoids_asking_again_and_never_stores_the_key() {
    let key = kunavo("kunavo-cache");
    let server = scripted(HashMap::from([(key.clone(), Reply::status(200))]));
    let dir = tempdir();
    config(dir.path(), &server, "");
    leak(dir.path(), "kunavo", &key);
    let cache = tempdir();
    let cache_dir = cache.path().to_str().unwrap();

    let first = scan_verify(dir.path(), &["--verify-cache", cache_dir]);
    assert_eq!(verdicts(&first)[&key]["verdict"], "live");
    assert_eq!(server.requests().len(), 1);

    let second = scan_verify(dir.path(), &["--verify-cache", cache_dir]);
    let v = &verdicts(&second)[&key];
    assert_eq!(v["verdict"], "live");
    assert_eq!(v["cached"], true);
    assert_eq!(server.requests().len(), 1, "the cache was not used");
    assert_eq!(second.json()["stats"]["verification"]["cached"], 1);

    let expired = scan_verify(
        dir.path(),
        &["--verify-cache", cache_dir, "--verify-cache-ttl", "0s"],
    );
    assert!(verdicts(&expired)[&key].get("cached").is_none());
    assert_eq!(server.requests().len(), 2, "an expired entry was used");

    for entry in std::fs::read_dir(cache.path()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(&key), "the cache holds the key: {text}");
        assert!(
            !text.contains(&key[10..]),
            "the cache holds the key: {text}"
        );
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_verification_and_still_writes_the_report() {
    let slow = kunavo("kunavo-ctrl-c");
    // Two fast keys of one provider, checked one at a time
    // (`--verify-per-provider 1`): the second one's request arriving is
    // the event that says the first check has completed, where a sleep
    // would only make it likely.
    let fast_keys = [pinaivu("pinaivu-ctrl-c"), pinaivu("pinaivu-ctrl-c-2")];
    let server = Server::start(|req: &Request, _| {
        if req.path.starts_with("/kunavo/") {
            Reply::status(200).delay(Duration::from_secs(30))
        } else {
            Reply::status(200)
        }
    });
    let dir = tempdir();
    config(dir.path(), &server, "");
    leak(dir.path(), "kunavo", &slow);
    for k in &fast_keys {
        leak(dir.path(), "pinaivu", k);
    }
    let report = dir.path().join("report.json");
    let mut child = lh()
        .current_dir(dir.path())
        .args(["scan", "src", "-c", ".leakhound.toml", "--format", "json"])
        .args([
            "--show-secrets",
            "--verify",
            "--verify-per-provider",
            "1",
            "--verify-timeout",
            "60s",
            "-o",
        ])
        .arg(&report)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_requests(&server, "/kunavo/", 1, Duration::from_secs(30));
    let fast = wait_for_requests(&server, "/pinaivu/", 2, Duration::from_secs(30)).swap_remove(0);
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "no exit after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Findings were reported: exit 1.
    assert_eq!(status.code(), Some(1));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let by_secret: HashMap<&str, &Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["secret"].as_str().unwrap(), &f["verification"]))
        .collect();
    assert_eq!(by_secret[fast.as_str()]["verdict"], "live");
    assert_eq!(by_secret[slow.as_str()]["verdict"], "unknown");
    assert_eq!(by_secret[slow.as_str()]["reason"], "interrupted");
    assert_eq!(json["stats"]["verification"]["interrupted"], true);
}

/// A fake provider's answer held until the test opens the gate.
#[derive(Clone, Default)]
struct Gate(std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl Gate {
    /// Block until the gate is open, or `limit` has passed.
    fn wait(&self, limit: Duration) {
        let (open, changed) = &*self.0;
        let guard = open.lock().unwrap();
        let _ = changed
            .wait_timeout_while(guard, limit, |open| !*open)
            .unwrap();
    }

    fn open(&self) {
        let (open, changed) = &*self.0;
        *open.lock().unwrap() = true;
        changed.notify_all();
    }
}

/// Wait until `server` has had `n` requests whose path starts with
/// `prefix` (or panic after `limit`); the keys they carried, in order of
/// arrival.
fn wait_for_requests(server: &Server, prefix: &str, n: usize, limit: Duration) -> Vec<String> {
    let end = Instant::now() + limit;
    loop {
        let mut reqs = server.requests_to(prefix);
        if reqs.len() >= n {
            reqs.sort_by_key(|r| r.at);
            return reqs.iter().map(|r| r.key()).collect();
        }
        assert!(Instant::now() < end, "fewer than {n} requests to {prefix}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Send SIGINT to `child`.
#[cfg(unix)]
fn interrupt(child: &std::process::Child) {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Wait for `child` to exit within `limit`; kill it and fail otherwise.
fn exit_within(child: &mut std::process::Child, limit: Duration, what: &str) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(unix)]
#[test]
fn a_second_ctrl_c_exits_at_once() {
    use std::io::Read;
    // One key in 1,500 files: one slow check, and a report far larger than
    // a pipe holds. Nobody reads stdout, so after the first Ctrl-C the
    // process stops verifying and then blocks writing the report; only
    // the second Ctrl-C can end it.
    let key = kunavo("kunavo-twice");
    let server = Server::start(|_: &Request, _| Reply::status(200).delay(Duration::from_secs(30)));
    let dir = tempdir();
    config(dir.path(), &server, "");
    for i in 0..1500 {
        write(
            dir.path(),
            &format!("src/d{}/f{i}.env", i % 10),
            format!("KUNAVO_API_KEY={key}\n"),
        );
    }
    let mut child = lh()
        .current_dir(dir.path())
        .args(["scan", "src", "-c", ".leakhound.toml", "--format", "json"])
        .args(["--show-secrets", "--verify", "--verify-timeout", "60s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    server.wait_for(1, Duration::from_secs(60));
    interrupt(&child);
    // The first one is handled: the process lives on, writing.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first Ctrl-C ended the process"
    );
    interrupt(&child);
    let code = exit_within(&mut child, Duration::from_secs(10), "after a second Ctrl-C");
    assert_eq!(code, 130);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!stderr.contains(&key), "{stderr}");
    assert_eq!(server.requests().len(), 1);
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_verify_report_and_still_writes_the_report() {
    let slow = kunavo("kunavo-verify-report-ctrl-c");
    // As above: two fast keys, checked one at a time, so that the second
    // one's request says the first check has completed.
    let fast_keys = [
        pinaivu("pinaivu-verify-report-ctrl-c"),
        pinaivu("pinaivu-verify-report-ctrl-c-2"),
    ];
    let server = Server::start(|req: &Request, _| {
        if req.path.starts_with("/kunavo/") {
            Reply::status(200).delay(Duration::from_secs(30))
        } else {
            Reply::status(200)
        }
    });
    let dir = tempdir();
    config(dir.path(), &server, "");
    leak(dir.path(), "kunavo", &slow);
    for k in &fast_keys {
        leak(dir.path(), "pinaivu", k);
    }
    // A report made without verification, verified afterwards.
    let made = run(lh().current_dir(dir.path()).args([
        "scan",
        "src",
        "--no-config",
        "-f",
        "json",
        "--show-secrets",
        "-o",
        "report.json",
    ]));
    assert_eq!(made.code, 1, "{}", made.stderr);
    assert!(server.requests().is_empty());
    let mut child = lh()
        .current_dir(dir.path())
        .args([
            "verify",
            "report.json",
            "-c",
            ".leakhound.toml",
            "-f",
            "json",
        ])
        .args([
            "--show-secrets",
            "--verify-per-provider",
            "1",
            "--verify-timeout",
            "60s",
            "-o",
            "verified.json",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_requests(&server, "/kunavo/", 1, Duration::from_secs(30));
    let fast = wait_for_requests(&server, "/pinaivu/", 2, Duration::from_secs(30)).swap_remove(0);
    interrupt(&child);
    // Well within the slow check's 30 s: the interrupt does not wait for it.
    let code = exit_within(&mut child, Duration::from_secs(25), "after Ctrl-C");
    assert_eq!(code, 1, "findings were reported");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("verified.json")).unwrap())
            .unwrap();
    let by_secret: HashMap<&str, &Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["secret"].as_str().unwrap(), &f["verification"]))
        .collect();
    assert_eq!(by_secret[fast.as_str()]["verdict"], "live");
    assert_eq!(by_secret[slow.as_str()]["verdict"], "unknown");
    assert_eq!(by_secret[slow.as_str()]["reason"], "interrupted");
    assert_eq!(json["stats"]["verification"]["interrupted"], true);
}

// ------------------------------------------------------------ reporting and gating

#[test]
fn only_verified_and_fail_on_live() {
    let live = kunavo("kunavo-gate-live");
    let dead = kunavo("kunavo-gate-dead");
    let server = scripted(HashMap::from([
        (live.clone(), Reply::status(200)),
        (dead.clone(), Reply::status(401)),
    ]));
    let dir = tempdir();
    config(dir.path(), &server, "");
    leak(dir.path(), "kunavo", &live);
    leak(dir.path(), "kunavo", &dead);

    let out = scan_verify(dir.path(), &["--only-verified"]);
    let secrets: Vec<String> = verdicts(&out).into_keys().collect();
    assert_eq!(secrets, vec![live.clone()]);
    assert_eq!(out.code, 1);

    let out = scan_verify(dir.path(), &["--fail-on", "live"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.findings().len(), 2);

    // Only the dead key left: findings, but nothing live.
    std::fs::remove_file(
        dir.path()
            .join(format!("src/kunavo-{}.txt", &live[live.len() - 8..])),
    )
    .unwrap();
    let out = scan_verify(dir.path(), &["--fail-on", "live"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let out = scan_verify(dir.path(), &["--fail-on", "any"]);
    assert_eq!(out.code, 1);

    // `--only-verified` alone implies `--verify` (tests/cli/flags.rs).
    let out = run(lh().current_dir(dir.path()).args([
        "scan",
        ".",
        "-c",
        ".leakhound.toml",
        "--fail-on",
        "live",
    ]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("needs --verify"), "{}", out.stderr);
}

#[test]
fn verdicts_in_every_format() {
    let live = kunavo("kunavo-formats-live");
    let dead = kunavo("kunavo-formats-dead");
    let quota = kunavo("kunavo-formats-quota");
    let server = scripted(HashMap::from([
        (live.clone(), Reply::status(200)),
        (dead.clone(), Reply::status(401)),
        (
            quota.clone(),
            Reply::status(402).body(r#"{"error":{"code":"insufficient_quota"}}"#),
        ),
    ]));
    let dir = tempdir();
    config(dir.path(), &server, "");
    for k in [&live, &dead, &quota] {
        leak(dir.path(), "kunavo", k);
    }
    let fmt = |format: &str| {
        run(lh().current_dir(dir.path()).args([
            "scan",
            ".",
            "-c",
            ".leakhound.toml",
            "--verify",
            "--color",
            "never",
            "--format",
            format,
        ]))
    };

    let text = fmt("text");
    assert!(
        text.stdout.contains("live (HTTP 200): key works"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("dead (HTTP 401): invalid or revoked"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("live (HTTP 402): monthly spend cap exhausted (insufficient_quota)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("verification: 2 live, 1 dead, 0 unknown"),
        "{}",
        text.stdout
    );

    let sarif: Value = serde_json::from_str(&fmt("sarif").stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for r in results {
        let verdict = r["properties"]["verification"]["verdict"].as_str().unwrap();
        assert_eq!(r["properties"]["verdict"], verdict);
        let want = if verdict == "live" { "error" } else { "note" };
        assert_eq!(r["level"], want, "{r}");
        assert!(r["message"]["text"].as_str().unwrap().contains("verified"));
    }

    let gh = fmt("github");
    let lines: Vec<&str> = gh.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", gh.stdout);
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("::error ")).count(),
        2
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("::notice ")).count(),
        1
    );
    assert!(
        gh.stdout.contains("[verified dead (HTTP 401)"),
        "{}",
        gh.stdout
    );
}

#[test]
fn a_redacted_run_never_prints_a_raw_secret() {
    // Every gateway, every verdict path, and error bodies that echo the key
    // (as some providers do): none of it may reach any output.
    let keys = [
        ("kunavo", kunavo("redact-kunavo")),
        ("pinaivu", pinaivu("redact-pinaivu")),
        ("konnect", konnect_live("redact-konnect")),
        ("kindo", kindo("redact-kindo")),
        ("synstar", synstar("redact-synstar")),
    ];
    let statuses = [401u16, 403, 429, 200, 302];
    let script: HashMap<String, Reply> = keys
        .iter()
        .zip(statuses)
        .map(|((_, k), status)| {
            let body = format!(r#"{{"error":{{"message":"Incorrect API key provided: {k}"}}}}"#);
            let reply = Reply::status(status)
                .body(&body)
                .header("Retry-After", "0")
                .header("Location", &format!("http://127.0.0.1:9/{k}"));
            (k.clone(), reply)
        })
        .collect();
    let server = scripted(script);
    let dir = tempdir();
    config(dir.path(), &server, "");
    for (p, k) in &keys {
        leak(dir.path(), p, k);
    }
    let report = dir.path().join("saved.json");
    for format in ["text", "json", "sarif", "github"] {
        let out = run(lh().current_dir(dir.path()).args([
            "scan",
            "src",
            "-c",
            ".leakhound.toml",
            "--verify",
            "--color",
            "always",
            "--format",
            format,
        ]));
        assert_eq!(out.code, 1, "{format}: {}", out.stderr);
        for (_, k) in &keys {
            assert!(
                !out.stdout.contains(k.as_str()),
                "{format} stdout leaks {k}"
            );
            assert!(
                !out.stderr.contains(k.as_str()),
                "{format} stderr leaks {k}"
            );
        }
    }
    // The verify subcommand, on a report written with --show-secrets.
    let saved = run(lh().current_dir(dir.path()).args([
        "scan",
        "src",
        "-c",
        ".leakhound.toml",
        "--format",
        "json",
        "--show-secrets",
        "-o",
        report.to_str().unwrap(),
    ]));
    assert_eq!(saved.code, 1);
    for format in ["text", "json", "sarif", "github"] {
        let out = run(lh().current_dir(dir.path()).args([
            "verify",
            "-c",
            ".leakhound.toml",
            report.to_str().unwrap(),
            "--format",
            format,
        ]));
        assert_eq!(out.code, 1, "{format}: {}", out.stderr);
        for (_, k) in &keys {
            assert!(
                !out.stdout.contains(k.as_str()),
                "verify {format} leaks {k}"
            );
            assert!(
                !out.stderr.contains(k.as_str()),
                "verify {format} leaks {k}"
            );
        }
    }
}

#[test]
fn verify_subcommand_reverifies_a_saved_report() {
    let key = kunavo("kunavo-reverify");
    let server = scripted(HashMap::from([(key.clone(), Reply::status(401))]));
    let dir = tempdir();
    config(dir.path(), &server, "");
    leak(dir.path(), "kunavo", &key);
    let report = dir.path().join("report.json");
    let saved = run(lh().current_dir(dir.path()).args([
        "scan",
        "src",
        "-c",
        ".leakhound.toml",
        "-f",
        "json",
        "--show-secrets",
        "-o",
        report.to_str().unwrap(),
    ]));
    assert_eq!(saved.code, 1);
    assert!(server.requests().is_empty(), "a plain scan verified");

    let out = run(lh().current_dir(dir.path()).args([
        "verify",
        "-c",
        ".leakhound.toml",
        report.to_str().unwrap(),
        "-f",
        "json",
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let f = &out.findings()[0];
    assert_eq!(f["verification"]["verdict"], "dead");
    assert_eq!(f["secret_redacted"], true);
    assert_eq!(
        f["path"],
        "src/kunavo-".to_string() + &key[key.len() - 8..] + ".txt"
    );
    assert_eq!(server.requests().len(), 1);

    let gated = run(lh().current_dir(dir.path()).args([
        "verify",
        "-c",
        ".leakhound.toml",
        report.to_str().unwrap(),
        "--fail-on",
        "live",
    ]));
    assert_eq!(gated.code, 0, "{}", gated.stdout);
    let only = run(lh().current_dir(dir.path()).args([
        "verify",
        "-c",
        ".leakhound.toml",
        report.to_str().unwrap(),
        "-f",
        "json",
        "--only-verified",
    ]));
    assert_eq!(only.findings().len(), 0);
}

#[test]
fn verify_refuses_a_redacted_report() {
    let key = kunavo("kunavo-redacted-report");
    let dir = tempdir();
    leak(dir.path(), "kunavo", &key);
    let report = dir.path().join("report.json");
    let saved = run(lh().current_dir(dir.path()).args([
        "scan",
        "src",
        "-f",
        "json",
        "-o",
        report.to_str().unwrap(),
    ]));
    assert_eq!(saved.code, 1);
    let out = run(lh()
        .current_dir(dir.path())
        .args(["verify", report.to_str().unwrap()]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("redacted"), "{}", out.stderr);
    assert!(out.stderr.contains("--show-secrets"), "{}", out.stderr);
    assert!(out.stderr.contains("scan --verify"), "{}", out.stderr);
}

// ------------------------------------------------------------ text report

/// A live verdict in colour is painted, not escaped: the colour codes reach
/// the terminal as codes, never as a visible `\u{1b}[…m`. And the summary's
/// time includes verification (here a slow provider).
#[test]
fn live_verdict_is_coloured_and_the_time_includes_verification() {
    let dir = tempdir();
    let key = kunavo("colour-live");
    leak(dir.path(), "kunavo", &key);
    let server = scripted(HashMap::from([(
        key.clone(),
        Reply::status(200).delay(Duration::from_millis(700)),
    )]));
    config(dir.path(), &server, "");
    let r = run(lh().current_dir(dir.path()).args([
        "scan",
        ".",
        "-c",
        ".leakhound.toml",
        "--verify",
        "--color",
        "always",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        !r.stdout.contains("\\u{1b}"),
        "colour escaped:\n{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\x1b[1m\x1b[31mlive (HTTP 200)"),
        "live verdict not painted red:\n{}",
        r.stdout
    );
    let summary = r
        .stdout
        .lines()
        .find(|l| l.starts_with("1 finding"))
        .expect("summary line");
    let secs: f64 = summary
        .split(", ")
        .find_map(|part| {
            part.strip_suffix(" s")
                .or_else(|| part.split(" s (").next().filter(|_| part.contains(" s (")))
        })
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no time in {summary:?}"));
    assert!(secs >= 0.7, "time leaves out verification: {summary}");
    assert!(summary.contains(" s verifying)"), "{summary}");
}
