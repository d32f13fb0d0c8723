//! Every built-in provider's verification table (rules/providers/*.toml),
//! row by row, through the binary: a loopback stand-in serves each row's
//! status (and a body that satisfies the row) for a key of that provider,
//! and the finding's verdict, status and detail must be the row's. The
//! five gateways also have hand-written tests in verify.rs; this one covers
//! every table, including those added later, from the data itself.
//!
//! The keys are the rules' own examples, as the binary finds and attributes
//! them; a key the binary reports as ambiguous (its rule names alternatives)
//! is used only when its provider has no other, and is then sent with
//! `--verify-ambiguous PROVIDER`. A provider with no example key attributed
//! to it cannot be checked this way, and the test fails naming it rather
//! than skipping it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use leakhound::provider::{ProviderSpec, ResponseRule};

use crate::fake_provider::{Reply, Request, Server};
use crate::util::{leakhound, offline, run, tempdir, write};

/// A key the binary finds, unambiguously attributed to its provider, with
/// the example text it was found in.
#[derive(Clone, Debug)]
struct Key {
    secret: String,
    text: String,
    ambiguous: bool,
}

/// Does `row` settle an answer of `status` with `body` for `key` (the
/// documented semantics: same status, the key starts with the row's
/// prefix, the body holds one of its strings, ASCII case-insensitive)?
fn settles(row: &ResponseRule, status: u16, body: &str, key: &str) -> bool {
    row.status == status
        && match &row.secret_prefix {
            Some(p) => key.starts_with(p.as_str()),
            None => true,
        }
        && (row.body_contains.is_empty()
            || row
                .body_contains
                .iter()
                .any(|n| body.to_ascii_lowercase().contains(&n.to_ascii_lowercase())))
}

/// A key and body for which row `i` is the first that settles the answer.
fn input_for(spec: &ProviderSpec, i: usize, keys: &[Key]) -> Option<(Key, String)> {
    let rows = &spec.verify.responses;
    let row = &rows[i];
    let bodies: Vec<String> = if row.body_contains.is_empty() {
        vec!["{}".to_string()]
    } else {
        row.body_contains
            .iter()
            .map(|n| format!("{{{n}}}"))
            .collect()
    };
    for key in keys {
        for body in &bodies {
            let first = rows
                .iter()
                .position(|r| settles(r, row.status, body, &key.secret));
            if first == Some(i) {
                return Some((key.clone(), body.clone()));
            }
        }
    }
    None
}

/// The built-in rules' examples, scanned once: per provider, the keys the
/// binary reports unambiguously for it.
fn keys_by_provider(dir: &Path) -> HashMap<String, Vec<Key>> {
    let rules = leakhound::rules::builtin_rules().expect("built-in rules compile");
    let mut texts = BTreeMap::new();
    for rule in &rules {
        for (i, ex) in rule.spec.examples.iter().enumerate() {
            let rel = format!("{}-{i}.txt", rule.id());
            write(dir, &rel, &ex.text);
            texts.insert(rel, ex.text.clone());
        }
    }
    let r = run(leakhound().current_dir(dir).args([
        "scan",
        ".",
        "--no-config",
        "-f",
        "json",
        "--show-secrets",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let mut out: HashMap<String, Vec<Key>> = HashMap::new();
    for f in r.findings() {
        let provider = f["provider"].as_str().unwrap().to_string();
        let secret = f["secret"].as_str().unwrap().to_string();
        let text = texts[f["path"].as_str().unwrap()].clone();
        let keys = out.entry(provider).or_default();
        if !keys.iter().any(|k| k.secret == secret) {
            keys.push(Key {
                secret,
                text,
                ambiguous: f["ambiguous"] == true,
            });
        }
    }
    for keys in out.values_mut() {
        if keys.iter().any(|k| !k.ambiguous) {
            keys.retain(|k| !k.ambiguous);
        }
    }
    out
}

/// What one provider's key is served in one round, and what must come of it.
struct Case {
    provider: String,
    key: Key,
    reply: Reply,
    path: String,
    verdict: String,
    detail: String,
}

/// Does `req` carry `key`: in a header or the path, or inside HTTP Basic
/// credentials?
fn carries(req: &Request, key: &str) -> bool {
    use base64::Engine as _;
    req.text().contains(key)
        || req.header("authorization").iter().any(|a| {
            a.strip_prefix("Basic ")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .is_some_and(|user_pass| String::from_utf8_lossy(&user_pass).contains(key))
        })
}

/// Scan one file per case with `--verify` against a stand-in serving each
/// case's reply to its key; check every verdict and every request.
fn check_round(cases: &[Case], problems: &mut Vec<String>) {
    let replies: Vec<(String, Reply)> = cases
        .iter()
        .map(|c| (c.key.secret.clone(), c.reply.clone()))
        .collect();
    let server = Server::start(move |req, _| {
        replies
            .iter()
            .find(|(k, _)| carries(req, k))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| Reply::status(599))
    });
    let dir = tempdir();
    let mut config = String::new();
    for c in cases {
        config.push_str(&format!(
            "[providers.{0}]\nbase_url = \"{1}/{0}\"\n\n",
            c.provider,
            server.url()
        ));
        write(dir.path(), &format!("src/{}.txt", c.provider), &c.key.text);
    }
    config.push_str("[verify]\nretries = 0\nmax_wait = 0.1\n");
    write(dir.path(), "verify.toml", config);
    let ambiguous: Vec<&str> = cases
        .iter()
        .filter(|c| c.key.ambiguous)
        .map(|c| c.provider.as_str())
        .collect();
    let mut cmd = leakhound();
    offline(&mut cmd);
    cmd.current_dir(dir.path()).args([
        "scan",
        "src",
        "-c",
        "verify.toml",
        "-f",
        "json",
        "--show-secrets",
        "--verify",
        "--no-verify-cache",
    ]);
    if !ambiguous.is_empty() {
        cmd.arg("--verify-ambiguous").arg(ambiguous.join(","));
    }
    let r = run(&mut cmd);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let findings = r.findings();
    let requests = server.requests();
    for c in cases {
        let what = format!("{} HTTP {} ({})", c.provider, c.reply.status, c.reply.body);
        let Some(f) = findings
            .iter()
            .find(|f| f["secret"] == c.key.secret.as_str())
        else {
            problems.push(format!("{what}: the key was not found"));
            continue;
        };
        let v = &f["verification"];
        if v["verdict"] != c.verdict.as_str()
            || v["status"] != c.reply.status
            || !v["detail"].as_str().unwrap_or("").contains(&c.detail)
        {
            problems.push(format!(
                "{what}: expected {} `{}`, got {v}",
                c.verdict, c.detail
            ));
        }
        let sent: Vec<_> = requests
            .iter()
            .filter(|q| carries(q, &c.key.secret))
            .collect();
        if sent.len() != 1 || sent[0].method != "GET" || sent[0].path != c.path {
            problems.push(format!(
                "{what}: expected one GET {}, got {:?}",
                c.path,
                sent.iter()
                    .map(|q| format!("{} {}", q.method, q.path))
                    .collect::<Vec<_>>()
            ));
        }
    }
}

#[test]
fn every_provider_status_table_row_through_the_binary() {
    let examples = tempdir();
    let keys = keys_by_provider(examples.path());
    let specs = leakhound::provider::builtin_providers().expect("built-in provider specs parse");
    let mut problems = Vec::new();
    // Round n serves row n of every table (one key per provider per scan,
    // so the rounds are as many as the longest table), then a status no
    // table lists.
    let mut rounds: Vec<Vec<Case>> = Vec::new();
    for (_, spec) in &specs {
        let usable: Vec<Key> = keys
            .get(&spec.id)
            .map(|ks| {
                ks.iter()
                    .filter(|k| {
                        spec.verify.secret_prefixes.is_empty()
                            || spec
                                .verify
                                .secret_prefixes
                                .iter()
                                .any(|p| k.secret.starts_with(p.as_str()))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if usable.is_empty() {
            problems.push(format!(
                "{}: no example key the binary attributes to it unambiguously",
                spec.id
            ));
            continue;
        }
        let path = format!("/{}{}", spec.id, spec.verify.path);
        let rows = &spec.verify.responses;
        for i in 0..=rows.len() {
            let case = if i == rows.len() {
                Case {
                    provider: spec.id.clone(),
                    key: usable[0].clone(),
                    reply: Reply::status(418),
                    path: path.clone(),
                    verdict: "unknown".into(),
                    detail: format!("HTTP 418 is not in {}'s status table", spec.name),
                }
            } else {
                let Some((key, body)) = input_for(spec, i, &usable) else {
                    problems.push(format!(
                        "{} row {} (status {}): no example key and body reach it \
                         (an earlier row always settles it first)",
                        spec.id,
                        i + 1,
                        rows[i].status
                    ));
                    continue;
                };
                Case {
                    provider: spec.id.clone(),
                    key,
                    reply: Reply::status(rows[i].status).body(&body),
                    path: path.clone(),
                    verdict: serde_json::to_value(rows[i].verdict)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_string(),
                    detail: rows[i].detail.clone(),
                }
            };
            if rounds.len() <= i {
                rounds.resize_with(i + 1, Vec::new);
            }
            rounds[i].push(case);
        }
    }
    let mut cases_run = 0;
    for round in &rounds {
        cases_run += round.len();
        check_round(round, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let rows: usize = specs.iter().map(|(_, s)| s.verify.responses.len()).sum();
    assert_eq!(cases_run, rows + specs.len());
}
