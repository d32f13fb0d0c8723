//! `revoke REPORT.json` and `scan --verify --revoke` against a real admin
//! API on 127.0.0.1 (tests/cli/fake_provider.rs) that keeps state: keys are
//! live until revoked, the verification endpoints answer accordingly, so
//! "revoked" is proven the way leakhound proves it, by asking again. Every
//! provider is pointed at the local server through `.leakhound.toml`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::fake_provider::{Reply, Request, Server};
use crate::util::{alnum, kunavo, leakhound, offline, pinaivu, run, tempdir, write, Run};

const ADMIN_TOKEN: &str = "adm-Zq81nV0pLk3sRt7uWx2yB5cD";

// ------------------------------------------------------------ the provider

/// What the fake providers know about keys.
#[derive(Default)]
struct State {
    live: HashSet<String>,
    revoked: HashSet<String>,
    /// Live, but the admin API answers 500 for them.
    failing: HashSet<String>,
    /// Live, but unknown to the admin API (another account's key): 404.
    foreign: HashSet<String>,
    /// Revoked already, but verification still sees them live until the
    /// admin API is asked (a lagging replica): the admin API says 409.
    lagging: HashSet<String>,
    /// GitHub accepts (202) but has not revoked yet.
    github_slow: bool,
    /// The admin API takes 30 s to answer for these keys.
    stalled: HashSet<String>,
}

struct Api {
    server: Server,
    state: Arc<Mutex<State>>,
}

fn sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Api {
    fn start(live: &[&str]) -> Api {
        let state = Arc::new(Mutex::new(State {
            live: live.iter().map(|k| k.to_string()).collect(),
            ..State::default()
        }));
        let s = Arc::clone(&state);
        let server = Server::start(move |req, _| answer(&mut s.lock().unwrap(), req));
        Api { server, state }
    }

    fn with(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap());
    }

    fn is_live(&self, key: &str) -> bool {
        let s = self.state.lock().unwrap();
        s.live.contains(key) || s.lagging.contains(key)
    }

    /// Requests that are not verification checks.
    fn admin_requests(&self) -> Vec<Request> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }
}

fn answer(s: &mut State, req: &Request) -> Reply {
    let bearer = req.key();
    let live = |s: &State, k: &str| s.live.contains(k) || s.lagging.contains(k);
    let path = req.path.as_str();
    match (req.method.as_str(), path) {
        ("GET", "/github/user") => Reply::status(if live(s, &bearer) { 200 } else { 401 }),
        ("GET", "/slack/api/auth.test") => Reply::status(200).body(if live(s, &bearer) {
            r#"{"ok":true}"#
        } else {
            r#"{"ok":false,"error":"invalid_auth"}"#
        }),
        ("POST", "/slack/api/auth.revoke") => {
            if s.live.remove(&bearer) {
                s.revoked.insert(bearer);
                Reply::status(200).body(r#"{"ok":true,"revoked":true}"#)
            } else {
                Reply::status(200).body(r#"{"ok":false,"error":"invalid_auth"}"#)
            }
        }
        ("POST", "/github/credentials/revoke") => {
            if !req.header("authorization").is_empty() {
                return Reply::status(403);
            }
            let list = req.json()["credentials"].as_array().cloned();
            let Some(list) = list else {
                return Reply::status(422);
            };
            if !s.github_slow {
                for k in list.iter().filter_map(Value::as_str) {
                    if s.live.remove(k) {
                        s.revoked.insert(k.to_string());
                    }
                }
            }
            Reply::status(202)
        }
        ("GET", p) if p.ends_with("/v1/models") => {
            Reply::status(if live(s, &bearer) { 200 } else { 401 })
        }
        ("POST", p) if p.ends_with("/v1/admin/keys/revoke") => {
            if bearer != ADMIN_TOKEN {
                // Some APIs echo what they got; leakhound must not pass it on.
                return Reply::status(401).body(&format!(
                    r#"{{"error":"bad admin token {}","request":{}}}"#,
                    bearer,
                    json!(req.body)
                ));
            }
            let body = req.json();
            let all: Vec<String> = s
                .live
                .iter()
                .chain(&s.revoked)
                .chain(&s.lagging)
                .chain(&s.foreign)
                .cloned()
                .collect();
            let key = all.into_iter().find(|k| {
                body["key"].as_str() == Some(k.as_str())
                    || body["key_sha256"].as_str() == Some(sha256(k).as_str())
            });
            let Some(key) = key else {
                return Reply::status(404)
                    .body(&format!(r#"{{"error":"no such key {}"}}"#, req.body));
            };
            if s.failing.contains(&key) {
                return Reply::status(500).body(&format!(r#"{{"error":"boom for {key}"}}"#));
            }
            if s.foreign.contains(&key) {
                return Reply::status(404).body(&format!(r#"{{"error":"no such key {key}"}}"#));
            }
            if s.lagging.remove(&key) {
                s.revoked.insert(key);
                return Reply::status(409).body(r#"{"error":"already revoked"}"#);
            }
            if s.stalled.contains(&key) {
                return Reply::status(503).delay(std::time::Duration::from_secs(30));
            }
            if s.live.remove(&key) {
                s.revoked.insert(key);
                return Reply::status(200).body(r#"{"revoked":true}"#);
            }
            Reply::status(409).body(r#"{"error":"already revoked"}"#)
        }
        _ => Reply::status(404),
    }
}

// ------------------------------------------------------------ fixtures

fn github(label: &str) -> String {
    format!("ghp_{}", alnum(label, 36))
}

fn slack(label: &str) -> String {
    let digits = |n: usize| -> String {
        alnum(label, 40)
            .bytes()
            .map(|b| char::from(b'0' + b % 10))
            .take(n)
            .collect()
    };
    format!("xoxb-{}-{}-{}", digits(12), digits(13), alnum(label, 24))
}

/// A file in `dir/src` in which `key` is found and attributed to `provider`.
fn leak(dir: &Path, provider: &str, key: &str) {
    let text = match provider {
        "kunavo" => format!("export KUNAVO_API_KEY=\"{key}\"\n"),
        "pinaivu" => format!("PINAIVU_API_KEY={key}\n"),
        "github" => format!("GITHUB_TOKEN={key}\n"),
        "slack" => format!("SLACK_BOT_TOKEN={key}\n"),
        other => panic!("no fixture for {other}"),
    };
    let tail = &key[key.len() - 8..];
    write(dir, &format!("src/{provider}-{tail}.txt"), text);
}

/// `.leakhound.toml` pointing every provider at `api`, plus `extra`.
fn config(dir: &Path, api: &Api, extra: &str) {
    let url = api.server.url();
    let mut toml = String::new();
    for p in ["kunavo", "pinaivu", "konnect", "kindo", "synstar"] {
        toml.push_str(&format!("[providers.{p}]\nbase_url = \"{url}/{p}/v1\"\n\n"));
    }
    toml.push_str(&format!(
        "[providers.github]\nbase_url = \"{url}/github\"\n\n"
    ));
    toml.push_str(&format!(
        "[providers.slack]\nbase_url = \"{url}/slack/api\"\n\n"
    ));
    toml.push_str("[verify]\nmax_wait = 0.1\nretries = 0\n\n");
    toml.push_str(extra);
    write(dir, ".leakhound.toml", toml);
}

/// The binary, with admin tokens cleared and every non-loopback request
/// forced through a proxy that does not exist.
fn lh(dir: &Path) -> std::process::Command {
    let mut cmd = leakhound();
    cmd.current_dir(dir);
    offline(&mut cmd);
    for p in ["KUNAVO", "PINAIVU", "KONNECT", "SYNSTAR", "KINDO"] {
        cmd.env_remove(format!("{p}_ADMIN_TOKEN"));
    }
    cmd
}

/// `lh` with the right admin tokens for Kunavo and Pinaivu.
fn lh_tokens(dir: &Path) -> std::process::Command {
    let mut cmd = lh(dir);
    cmd.env("KUNAVO_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("PINAIVU_ADMIN_TOKEN", ADMIN_TOKEN);
    cmd
}

/// Scan `dir/src`, verify, and write `dir/report.json` with raw secrets.
fn report(dir: &Path) -> Run {
    let r = run(lh(dir).args([
        "scan",
        "src",
        "-c",
        ".leakhound.toml",
        "--verify",
        "--show-secrets",
        "-f",
        "json",
        "-o",
        "report.json",
    ]));
    assert!(r.code == 0 || r.code == 1, "scan failed: {}", r.stderr);
    r
}

fn revoke(cmd: &mut std::process::Command, args: &[&str]) -> Run {
    // Revocation settings are honoured only from a config named with -c.
    run(cmd
        .args(["revoke", "report.json", "-c", ".leakhound.toml"])
        .args(args))
}

/// The audit log's lines as JSON.
fn audit(dir: &Path, name: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
        .collect()
}

fn assert_no_secret(texts: &[&str], secrets: &[&str]) {
    for t in texts {
        for s in secrets {
            assert!(!t.contains(s), "a secret leaked:\n{t}");
        }
    }
}

/// Fingerprint of the finding holding `key` in `dir/report.json`.
fn fingerprint(dir: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["secret"] == key)
        .map(|f| f["fingerprint"].as_str().unwrap().to_string())
        .expect("the key is in the report")
}

// ------------------------------------------------------------ tests

#[test]
fn dry_run_changes_nothing_and_shows_the_plan() {
    let (k, p, g, s) = (kunavo("dry"), pinaivu("dry"), github("dry"), slack("dry"));
    let api = Api::start(&[&k, &p, &g, &s]);
    let dir = tempdir();
    for (prov, key) in [
        ("kunavo", &k),
        ("pinaivu", &p),
        ("github", &g),
        ("slack", &s),
    ] {
        leak(dir.path(), prov, key);
    }
    config(dir.path(), &api, "");
    report(dir.path());
    let r = revoke(&mut lh_tokens(dir.path()), &[]);
    assert_eq!(
        r.code, 1,
        "a dry run leaves live keys: {}\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains("dry run"), "{}", r.stdout);
    assert_eq!(r.stdout.matches("would revoke").count(), 4, "{}", r.stdout);
    let url = api.server.url();
    for line in [
        format!("POST {url}/kunavo/v1/admin/keys/revoke (body: the key's SHA-256)"),
        format!("POST {url}/pinaivu/v1/admin/keys/revoke (body: the key)"),
        format!("POST {url}/github/credentials/revoke (body: the keys (batched))"),
        format!("POST {url}/slack/api/auth.revoke (body: no body)"),
        "$KUNAVO_ADMIN_TOKEN (set)".to_string(),
        "none (unauthenticated endpoint)".to_string(),
        "the leaked key itself".to_string(),
        "assumed endpoint: Kunavo publishes no admin API".to_string(),
    ] {
        assert!(r.stdout.contains(&line), "no `{line}` in:\n{}", r.stdout);
    }
    assert!(
        api.admin_requests().is_empty(),
        "{:?}",
        api.admin_requests()
    );
    for key in [&k, &p, &g, &s] {
        assert!(api.is_live(key));
    }
    assert!(!dir.path().join("leakhound-audit.jsonl").exists());
    assert_no_secret(&[&r.stdout, &r.stderr], &[&k, &p, &g, &s, ADMIN_TOKEN]);
}

#[test]
fn yes_revokes_and_the_keys_then_verify_dead() {
    let (k, p, g, s) = (kunavo("yes"), pinaivu("yes"), github("yes"), slack("yes"));
    let g2 = github("yes-2");
    let api = Api::start(&[&k, &p, &g, &g2, &s]);
    let dir = tempdir();
    for (prov, key) in [
        ("kunavo", &k),
        ("pinaivu", &p),
        ("github", &g),
        ("github", &g2),
        ("slack", &s),
    ] {
        leak(dir.path(), prov, key);
    }
    config(dir.path(), &api, "");
    report(dir.path());
    let r = revoke(&mut lh_tokens(dir.path()), &["--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let revoked = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("revoked "))
        .count();
    assert_eq!(revoked, 5, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("5 revoked, 0 already revoked, 0 submitted, 0 failed"),
        "{}",
        r.stdout
    );
    for key in [&k, &p, &g, &g2, &s] {
        assert!(!api.is_live(key), "still live");
    }
    // How each admin API was called.
    let admin = api.admin_requests();
    let kunavo_call = admin
        .iter()
        .find(|r| r.path.starts_with("/kunavo"))
        .unwrap();
    assert_eq!(kunavo_call.json()["key_sha256"], sha256(&k));
    assert!(!kunavo_call.body.contains(&k), "Kunavo gets only the hash");
    assert_eq!(
        kunavo_call.header("authorization"),
        [format!("Bearer {ADMIN_TOKEN}")]
    );
    let github_calls: Vec<_> = admin
        .iter()
        .filter(|r| r.path.starts_with("/github"))
        .collect();
    assert_eq!(github_calls.len(), 1, "GitHub keys go in one batch");
    assert!(github_calls[0].header("authorization").is_empty());
    assert_eq!(
        github_calls[0].header("accept"),
        ["application/vnd.github+json"]
    );
    assert_eq!(
        github_calls[0].json()["credentials"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let slack_call = admin.iter().find(|r| r.path.starts_with("/slack")).unwrap();
    assert_eq!(slack_call.header("authorization"), [format!("Bearer {s}")]);
    // The report's keys verify dead now.
    let v = run(lh(dir.path()).args([
        "verify",
        "-c",
        ".leakhound.toml",
        "report.json",
        "-f",
        "json",
        "--show-secrets",
    ]));
    for f in v.findings() {
        assert_eq!(f["verification"]["verdict"], "dead", "{f}");
    }
    assert_no_secret(&[&r.stdout, &r.stderr], &[&k, &p, &g, &g2, &s, ADMIN_TOKEN]);
}

#[test]
fn a_wrong_admin_token_revokes_nothing_and_stops_early() {
    let (k1, k2) = (kunavo("wrong-1"), kunavo("wrong-2"));
    let api = Api::start(&[&k1, &k2]);
    let dir = tempdir();
    leak(dir.path(), "kunavo", &k1);
    leak(dir.path(), "kunavo", &k2);
    config(dir.path(), &api, "");
    report(dir.path());
    let r = revoke(
        lh(dir.path()).env("KUNAVO_ADMIN_TOKEN", "not-the-token"),
        &["--yes", "--audit-log", "audit.jsonl"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("admin token rejected"), "{}", r.stdout);
    assert!(r.stdout.contains("not attempted"), "{}", r.stdout);
    assert!(
        r.stdout.contains("still live or unconfirmed:"),
        "{}",
        r.stdout
    );
    assert_eq!(api.admin_requests().len(), 1, "the second key is not tried");
    assert!(api.is_live(&k1) && api.is_live(&k2));
    let lines = audit(dir.path(), "audit.jsonl");
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["outcome"] == "revoke-failed"));
    assert_no_secret(&[&r.stdout, &r.stderr], &[&k1, &k2, "not-the-token"]);
}

#[test]
fn a_missing_admin_token_is_an_error_naming_the_variable() {
    let k = kunavo("missing");
    let api = Api::start(&[&k]);
    let dir = tempdir();
    leak(dir.path(), "kunavo", &k);
    config(dir.path(), &api, "");
    report(dir.path());
    for args in [&["--yes"][..], &[][..]] {
        let r = revoke(&mut lh(dir.path()), args);
        assert_eq!(r.code, 2, "{args:?}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("KUNAVO_ADMIN_TOKEN"), "{}", r.stderr);
        assert!(r.stderr.contains("nothing was revoked"), "{}", r.stderr);
    }
    let r = revoke(lh(dir.path()).env("KUNAVO_ADMIN_TOKEN", ""), &["--yes"]);
    assert_eq!(r.code, 2, "an empty variable is a missing one");
    assert!(api.admin_requests().is_empty());
    assert!(api.is_live(&k));
    assert!(!dir.path().join("leakhound-audit.jsonl").exists());
}

#[test]
fn unknown_and_dead_keys() {
    let (foreign, dead, ok) = (pinaivu("foreign"), pinaivu("dead"), pinaivu("ok"));
    let api = Api::start(&[&ok]);
    api.with(|s| {
        s.foreign.insert(foreign.clone());
    });
    let dir = tempdir();
    for key in [&foreign, &dead, &ok] {
        leak(dir.path(), "pinaivu", key);
    }
    config(dir.path(), &api, "");
    report(dir.path());
    // The foreign key verifies live, but belongs to another account.
    api.with(|s| {
        s.live.insert(foreign.clone());
    });
    let r = revoke(&mut lh_tokens(dir.path()), &["--yes"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 revoked"), "{}", r.stdout);
    assert!(
        r.stdout.contains("the admin API does not know this key"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("not live: dead (HTTP 401)"),
        "{}",
        r.stdout
    );
    let fp = fingerprint(dir.path(), &foreign);
    let still = r.stdout.split("still live or unconfirmed:").nth(1).unwrap();
    assert!(still.contains(&fp), "{still}");
    assert!(!still.contains(&fingerprint(dir.path(), &dead)), "{still}");
    assert_no_secret(&[&r.stdout, &r.stderr], &[&foreign, &dead, &ok]);
}

#[test]
fn revoking_an_already_revoked_key_is_a_success() {
    let (lag, k) = (kunavo("lagging"), kunavo("plain"));
    let api = Api::start(&[&k]);
    api.with(|s| {
        s.lagging.insert(lag.clone());
    });
    let dir = tempdir();
    leak(dir.path(), "kunavo", &lag);
    leak(dir.path(), "kunavo", &k);
    config(dir.path(), &api, "");
    report(dir.path());
    // The admin API says 409 for the lagging key; verification confirms.
    let r = revoke(&mut lh_tokens(dir.path()), &["--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("1 revoked, 1 already revoked"),
        "{}",
        r.stdout
    );
    let lines = audit(dir.path(), "leakhound-audit.jsonl");
    let outcomes: HashSet<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, HashSet::from(["revoked", "already-revoked"]));
    // Running again: both are dead, nothing to do, still a success.
    let again = revoke(&mut lh_tokens(dir.path()), &["--yes"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("0 revoked"), "{}", again.stdout);
    assert_eq!(
        audit(dir.path(), "leakhound-audit.jsonl").len(),
        2,
        "nothing done, nothing logged"
    );
}

#[test]
fn a_server_error_mid_batch_revokes_the_rest_and_lists_what_remains() {
    let keys: Vec<String> = (0..3).map(|i| kunavo(&format!("batch-{i}"))).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let api = Api::start(&refs);
    api.with(|s| {
        s.failing.insert(keys[1].clone());
    });
    let dir = tempdir();
    for k in &keys {
        leak(dir.path(), "kunavo", k);
    }
    config(dir.path(), &api, "");
    report(dir.path());
    let r = revoke(&mut lh_tokens(dir.path()), &["--yes"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("2 revoked, 0 already revoked, 0 submitted, 1 failed"),
        "{}",
        r.stdout
    );
    assert!(!api.is_live(&keys[0]) && api.is_live(&keys[1]) && !api.is_live(&keys[2]));
    let still = r.stdout.split("still live or unconfirmed:").nth(1).unwrap();
    assert!(
        still.contains(&fingerprint(dir.path(), &keys[1])),
        "{still}"
    );
    assert!(still.contains("admin API server error"), "{still}");
    assert_eq!(
        still.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "{still}"
    );
    assert_no_secret(&[&r.stdout, &r.stderr], &refs);
}

#[test]
fn the_audit_log_records_every_action_without_the_key() {
    let (k, g) = (kunavo("audit"), github("audit"));
    let api = Api::start(&[&k, &g]);
    let dir = tempdir();
    leak(dir.path(), "kunavo", &k);
    leak(dir.path(), "github", &g);
    // The same key in a second file: one call, one line per finding.
    write(dir.path(), "src/again.env", format!("KUNAVO_API_KEY={k}\n"));
    config(dir.path(), &api, "");
    report(dir.path());
    let r = revoke(
        &mut lh_tokens(dir.path()),
        &["--yes", "--audit-log", "logs.jsonl"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("audit log: logs.jsonl"), "{}", r.stdout);
    assert_eq!(
        api.admin_requests()
            .iter()
            .filter(|r| r.path.starts_with("/kunavo"))
            .count(),
        1
    );
    let text = std::fs::read_to_string(dir.path().join("logs.jsonl")).unwrap();
    assert_no_secret(&[&text], &[&k, &g, ADMIN_TOKEN]);
    let lines = audit(dir.path(), "logs.jsonl");
    assert_eq!(lines.len(), 3, "{text}");
    let url = api.server.url();
    for l in &lines {
        let time = l["time"].as_str().unwrap();
        assert!(
            time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "{time}"
        );
        assert_eq!(l["outcome"], "revoked");
        assert!(
            l["verified_after"].as_str().unwrap().starts_with("dead"),
            "{l}"
        );
        assert!(l["fingerprint"].as_str().unwrap().len() == 32);
    }
    let kunavo_lines: Vec<&Value> = lines.iter().filter(|l| l["provider"] == "kunavo").collect();
    assert_eq!(kunavo_lines.len(), 2);
    let kl = kunavo_lines[0];
    assert_eq!(kl["rule"], "kunavo-api-key");
    assert_eq!(kl["key_sha256"], sha256(&k));
    assert!(kl["key"].as_str().unwrap().starts_with("sk-kunavo-"));
    assert!(kl["key"].as_str().unwrap().ends_with('…'));
    assert_eq!(
        kl["endpoint"],
        format!("POST {url}/kunavo/v1/admin/keys/revoke")
    );
    assert_eq!(kl["credential"], "$KUNAVO_ADMIN_TOKEN");
    assert_eq!(kl["status"], 200);
    let fps: HashSet<&str> = kunavo_lines
        .iter()
        .map(|l| l["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fps.len(), 2, "one line per finding");
    let gl = lines.iter().find(|l| l["provider"] == "github").unwrap();
    assert_eq!(gl["status"], 202);
    assert_eq!(gl["credential"], "none (unauthenticated endpoint)");
    // Appended, never rewritten.
    api.with(|s| {
        s.lagging.insert(k.clone());
    });
    revoke(
        &mut lh_tokens(dir.path()),
        &["--yes", "--audit-log", "logs.jsonl"],
    );
    assert_eq!(audit(dir.path(), "logs.jsonl").len(), 5);
}

#[test]
fn no_raw_key_or_token_in_any_output() {
    let (k, p, g) = (kunavo("leak"), pinaivu("leak"), github("leak"));
    let api = Api::start(&[&k, &p, &g]);
    api.with(|s| {
        s.failing.insert(p.clone());
    });
    let dir = tempdir();
    leak(dir.path(), "kunavo", &k);
    leak(dir.path(), "pinaivu", &p);
    leak(dir.path(), "github", &g);
    config(dir.path(), &api, "");
    report(dir.path());
    let secrets = [k.as_str(), p.as_str(), g.as_str(), ADMIN_TOKEN];
    let dry = revoke(&mut lh_tokens(dir.path()), &[]);
    assert_eq!(dry.code, 1, "a dry run leaves live keys: {}", dry.stderr);
    assert!(dry.stdout.contains("dry run"), "{}", dry.stdout);
    let wrong = revoke(
        lh(dir.path())
            .env("KUNAVO_ADMIN_TOKEN", "wrong-token-echoed")
            .env("PINAIVU_ADMIN_TOKEN", ADMIN_TOKEN),
        &["--yes"],
    );
    assert_eq!(wrong.code, 1, "{}\n{}", wrong.stdout, wrong.stderr);
    assert!(
        wrong.stdout.contains("admin token rejected"),
        "{}",
        wrong.stdout
    );
    assert!(api.is_live(&k) && api.is_live(&p), "nothing was revoked");
    let yes = revoke(&mut lh_tokens(dir.path()), &["--yes"]);
    // Pinaivu's admin API fails (500): that key stays live, the rest go.
    assert_eq!(yes.code, 1, "{}\n{}", yes.stdout, yes.stderr);
    assert!(
        yes.stdout.contains("admin API server error"),
        "{}",
        yes.stdout
    );
    assert!(api.is_live(&p) && !api.is_live(&k) && !api.is_live(&g));
    let log = std::fs::read_to_string(dir.path().join("leakhound-audit.jsonl")).unwrap();
    for r in [&dry, &wrong, &yes] {
        assert_no_secret(&[&r.stdout, &r.stderr], &secrets);
        assert!(
            !r.stdout.contains("wrong-token-echoed") && !r.stderr.contains("wrong-token-echoed")
        );
    }
    assert_no_secret(&[&log], &secrets);
    assert!(!log.contains("wrong-token-echoed"));
    // Through scan --revoke too, in every format.
    for format in ["text", "json", "sarif", "github"] {
        let r = run(lh_tokens(dir.path()).args([
            "scan",
            "src",
            "-c",
            ".leakhound.toml",
            "--verify",
            "--revoke",
            "-f",
            format,
        ]));
        // The Pinaivu key still cannot be revoked: findings remain.
        assert_eq!(r.code, 1, "{format}: {}", r.stderr);
        assert!(r.stdout.contains("pinaivu"), "{format}: {}", r.stdout);
        assert_no_secret(&[&r.stdout, &r.stderr], &secrets);
    }
}

#[test]
fn scan_verify_revoke_reports_the_state_afterwards() {
    let (k, p) = (kunavo("scan"), pinaivu("scan"));
    let api = Api::start(&[&k, &p]);
    let dir = tempdir();
    leak(dir.path(), "kunavo", &k);
    leak(dir.path(), "pinaivu", &p);
    config(dir.path(), &api, "");
    let base = ["scan", "src", "-c", ".leakhound.toml", "-f", "json"];
    let r = run(lh_tokens(dir.path()).args(base).arg("--revoke"));
    assert_eq!(r.code, 2, "--revoke needs --verify");
    assert!(r.stderr.contains("--revoke needs --verify"), "{}", r.stderr);
    let r = run(lh_tokens(dir.path()).args(base).args(["--verify", "--yes"]));
    assert_eq!(r.code, 2, "--yes needs --revoke");
    // Dry run: the report is on stdout, the plan on stderr.
    let r =
        run(lh_tokens(dir.path())
            .args(base)
            .args(["--verify", "--revoke", "--fail-on", "live"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("would revoke"), "{}", r.stderr);
    assert!(api.admin_requests().is_empty());
    // Only Kunavo, for real.
    let r = run(lh_tokens(dir.path()).args(base).args([
        "--verify",
        "--revoke",
        "--yes",
        "--provider",
        "kunavo",
        "--fail-on",
        "live",
    ]));
    assert_eq!(r.code, 1, "the Pinaivu key is still live: {}", r.stderr);
    assert!(r.stderr.contains("1 revoked"), "{}", r.stderr);
    let verdicts: Vec<(String, String)> = r
        .findings()
        .iter()
        .map(|f| {
            (
                f["provider"].as_str().unwrap().into(),
                f["verification"]["verdict"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        verdicts.contains(&("kunavo".into(), "dead".into())),
        "{verdicts:?}"
    );
    assert!(
        verdicts.contains(&("pinaivu".into(), "live".into())),
        "{verdicts:?}"
    );
    assert!(api.is_live(&p) && !api.is_live(&k));
    let r = run(lh_tokens(dir.path()).args(base).args([
        "--verify",
        "--revoke",
        "--yes",
        "--fail-on",
        "live",
    ]));
    assert_eq!(r.code, 0, "everything revoked: {}", r.stderr);
}

#[test]
fn filters_by_rule_and_fingerprint() {
    let (k1, k2, g) = (kunavo("filter-1"), kunavo("filter-2"), github("filter"));
    let api = Api::start(&[&k1, &k2, &g]);
    let dir = tempdir();
    for (prov, key) in [("kunavo", &k1), ("kunavo", &k2), ("github", &g)] {
        leak(dir.path(), prov, key);
    }
    config(dir.path(), &api, "");
    report(dir.path());
    let fp = fingerprint(dir.path(), &k2);
    let r = revoke(&mut lh_tokens(dir.path()), &["--yes", "--fingerprint", &fp]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(api.is_live(&k1) && !api.is_live(&k2) && api.is_live(&g));
    let r = revoke(
        &mut lh_tokens(dir.path()),
        &["--yes", "--rule", "github-pat-classic"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(api.is_live(&k1) && !api.is_live(&g));
    let r = revoke(&mut lh_tokens(dir.path()), &["--provider", "kunvao"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--provider kunvao"), "{}", r.stderr);
}

#[test]
fn github_revocation_is_submitted_until_it_takes_effect() {
    let g = github("slow");
    let api = Api::start(&[&g]);
    api.with(|s| s.github_slow = true);
    let dir = tempdir();
    leak(dir.path(), "github", &g);
    config(dir.path(), &api, "");
    report(dir.path());
    let r = revoke(&mut lh(dir.path()), &["--yes"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("revoke-submitted"), "{}", r.stdout);
    assert!(r.stdout.contains("revokes asynchronously"), "{}", r.stdout);
    assert_eq!(
        audit(dir.path(), "leakhound-audit.jsonl")[0]["outcome"],
        "revoke-submitted"
    );
}

#[test]
fn ambiguous_keys_are_never_revoked() {
    let key = format!("sk-{}", alnum("ambiguous", 40));
    let api = Api::start(&[&key]);
    let dir = tempdir();
    write(
        dir.path(),
        "src/app.py",
        format!("client = Client(api_key=\"{key}\")\n"),
    );
    // A bare `sk-` rule naming its alternatives, as the built-in generic
    // rules do: without provider evidence its hits are ambiguous.
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
    config(dir.path(), &api, rule);
    let r = run(lh_tokens(dir.path()).args([
        "scan",
        "src",
        "-c",
        ".leakhound.toml",
        "-f",
        "json",
        "--verify",
        "--verify-ambiguous",
        "synstar",
        "--revoke",
        "--yes",
    ]));
    let f = &r.findings()[0];
    assert_eq!(f["ambiguous"], true, "{f}");
    assert_eq!(f["verification"]["verdict"], "live", "{f}");
    assert!(r.stderr.contains("never revoked"), "{}", r.stderr);
    assert!(api.admin_requests().is_empty());
}

#[test]
fn bad_reports_and_configs_are_errors() {
    let k = kunavo("bad");
    let api = Api::start(&[&k]);
    let dir = tempdir();
    leak(dir.path(), "kunavo", &k);
    config(dir.path(), &api, "");
    // A redacted report holds no keys.
    run(lh(dir.path()).args([
        "scan",
        "src",
        "-c",
        ".leakhound.toml",
        "-f",
        "json",
        "-o",
        "report.json",
    ]));
    let r = revoke(&mut lh_tokens(dir.path()), &["--yes"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--show-secrets"), "{}", r.stderr);
    // An admin URL must obey the host rules.
    report(dir.path());
    for (extra, expect) in [
        (
            "[providers.kunavo.revoke]\nurl = \"http://admin.example.com/revoke\"\n",
            "loopback",
        ),
        (
            "[providers.kunavo.revoke]\nurl = \"https://admin.example.com/{{key}}\"\n",
            "never goes into a URL",
        ),
        (
            "[providers.nosuch.revoke]\nurl = \"https://admin.example.com/revoke\"\n",
            "[providers.nosuch]: no provider",
        ),
    ] {
        config(dir.path(), &api, extra);
        let r = revoke(&mut lh_tokens(dir.path()), &["--yes"]);
        assert_eq!(r.code, 2, "{extra}");
        assert!(r.stderr.contains(expect), "{extra}: {}", r.stderr);
    }
    assert!(api.admin_requests().is_empty());
    assert!(api.is_live(&k));
}

#[test]
fn a_configured_admin_url_replaces_the_assumed_one() {
    let k = kunavo("custom");
    let api = Api::start(&[&k]);
    let dir = tempdir();
    leak(dir.path(), "kunavo", &k);
    let url = api.server.url();
    config(
        dir.path(),
        &api,
        &format!(
            "[providers.kunavo.revoke]\nurl = \"{url}/kunavo/v1/admin/keys/revoke\"\n\
             token_env = \"ACME_KUNAVO_ADMIN\"\nbody = '{{\"key\": \"{{{{key}}}}\"}}'\n"
        ),
    );
    report(dir.path());
    let dry = revoke(lh(dir.path()).env("ACME_KUNAVO_ADMIN", ADMIN_TOKEN), &[]);
    assert!(
        dry.stdout.contains("$ACME_KUNAVO_ADMIN (set)"),
        "{}",
        dry.stdout
    );
    assert!(!dry.stdout.contains("assumed endpoint"), "{}", dry.stdout);
    let r = revoke(
        lh(dir.path()).env("ACME_KUNAVO_ADMIN", ADMIN_TOKEN),
        &["--yes"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(api.admin_requests()[0].json()["key"], k.as_str());
}

#[test]
fn revocation_settings_need_an_explicitly_named_config() {
    let k = kunavo("trust");
    let api = Api::start(&[&k]);
    let dir = tempdir();
    leak(dir.path(), "kunavo", &k);
    config(dir.path(), &api, "");
    report(dir.path());
    // The same config, found by itself in the current directory: refused,
    // and nothing is sent.
    let r = run(lh_tokens(dir.path()).args(["revoke", "report.json", "--yes"]));
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("is not trusted to choose where keys and admin tokens are sent"),
        "{}",
        r.stderr
    );
    assert!(api.admin_requests().is_empty());
    assert!(api.is_live(&k));
}

/// Ctrl-C while the admin API is slow to answer for the second key: the
/// process ends promptly, and the audit log, whole lines only, records the
/// first key, whose revocation went through before the interrupt.
#[cfg(unix)]
#[test]
fn ctrl_c_during_revocation_keeps_what_was_done_in_the_audit_log() {
    use std::time::{Duration, Instant};
    let (a, b) = (kunavo("ctrl-c-a"), kunavo("ctrl-c-b"));
    // Files sort by the key's last 8 characters: the later one stalls.
    let (first, second) = if a[a.len() - 8..] < b[b.len() - 8..] {
        (a, b)
    } else {
        (b, a)
    };
    let api = Api::start(&[&first, &second]);
    api.with(|s| {
        s.stalled.insert(second.clone());
    });
    let dir = tempdir();
    leak(dir.path(), "kunavo", &first);
    leak(dir.path(), "kunavo", &second);
    config(dir.path(), &api, "");
    report(dir.path());
    let mut child = lh_tokens(dir.path())
        .args(["revoke", "report.json", "-c", ".leakhound.toml", "--yes"])
        .args(["--audit-log", "audit.jsonl"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while api.admin_requests().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            api.admin_requests()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(10) {
            child.kill().ok();
            panic!("no exit within 10 s of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        status.code(),
        Some(2),
        "an interrupted revocation is an error"
    );
    assert!(!api.is_live(&first));
    let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "a partial line: {text}"
    );
    let lines = audit(dir.path(), "audit.jsonl");
    let fp = fingerprint(dir.path(), &first);
    assert!(
        lines
            .iter()
            .any(|l| l["fingerprint"] == fp.as_str() && l["outcome"] == "revoked"),
        "the first key's revocation is not in the audit log: {lines:?}"
    );
    // The call in flight is logged too: it may have gone through.
    let fp = fingerprint(dir.path(), &second);
    assert!(
        lines.iter().any(|l| l["fingerprint"] == fp.as_str()
            && l["outcome"] == "revoke-failed"
            && l["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("interrupted")),
        "the interrupted call is not in the audit log: {lines:?}"
    );
    assert_no_secret(&[&text], &[&first, &second, ADMIN_TOKEN]);
}
