//! Accuracy where keys hide (issue 10): keys right after escape sequences,
//! base64 anywhere, attribution by the nearest evidence, opaque keys through
//! compatible clients, identifiers that look like keys, and paired AWS
//! secrets in infrastructure code. Each family has realistic files and the
//! negative cases beside it.

use base64::Engine as _;

use crate::util::*;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn b64url(s: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// (path, rule id, secret) of every finding, sorted.
fn found(run: &Run) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = run
        .findings()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["rule_id"].as_str().unwrap().to_string(),
                f["secret"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn has(run: &Run, path: &str, secret: &str) -> bool {
    found(run).iter().any(|(p, _, s)| p == path && s == secret)
}

// ------------------------------------------------------------ 1. escapes

#[test]
fn keys_right_after_escape_sequences_are_found() {
    let dir = tempdir();
    let d = dir.path();
    let k = kunavo("escapes");
    let p = pinaivu("escapes");
    // Every escape whose last character is a word character.
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "fixtures/keys.tsv",
            format!("name\\tkey\\nprod\\t{k}\\n\n"),
            k.as_str(),
        ),
        (
            "logs/req.log",
            format!("GET /cb?api_key%3D{k}%26region%3Deu HTTP/1.1\n"),
            k.as_str(),
        ),
        (
            "logs/q.log",
            format!("POST /hook body=token%3A{p}%0A\n"),
            p.as_str(),
        ),
        (
            "logs/quoted.log",
            format!("GET /x?cfg=%7B%22key%22%3A%22{p}%22%7D\n"),
            p.as_str(),
        ),
        (
            "app/strings.json",
            format!("{{\"env\": \"KEY=\\u0022{k}\\u0022\"}}\n"),
            k.as_str(),
        ),
        (
            "app/nested.json",
            format!("{{\"script\": \"line one\\n{p}\\nline three\"}}\n"),
            p.as_str(),
        ),
        (
            "deploy/run.sh",
            format!("ssh host \"export KEY=\\\"{k}\\\"\"\n"),
            k.as_str(),
        ),
        (
            "web/index.html",
            format!("<div data-cfg=\"{{&quot;k&quot;:&quot;{p}&quot;}}\"></div>\n"),
            p.as_str(),
        ),
        (
            "web/app.xml",
            format!("<setting value=\"&#34;{k}&#34;\"/>\n"),
            k.as_str(),
        ),
        (
            "src/hex.c",
            format!("const char *s = \"\\x22{p}\\x22\";\n"),
            p.as_str(),
        ),
    ];
    for (path, text, _) in &cases {
        write(d, path, text);
    }
    let r = scan_json(d, &[]);
    for (path, _, secret) in &cases {
        assert!(has(&r, path, secret), "{path}: {:?}", found(&r));
    }
    // The location is the key's, not the escape's.
    let tsv = r
        .findings()
        .into_iter()
        .find(|f| f["path"] == "fixtures/keys.tsv")
        .unwrap();
    assert_eq!(tsv["column"], 18);
}

#[test]
fn an_escaped_backslash_before_a_word_is_no_escape() {
    let dir = tempdir();
    // `\\t` is a backslash and the letter t: `tsk-pnv-…` is one word, and
    // 32 characters after `sk-pnv-` the word goes on.
    let p = pinaivu("backslash");
    write(dir.path(), "a.txt", format!("path = \"C:\\\\t{p}\"\n"));
    let r = scan_json(dir.path(), &[]);
    assert!(found(&r).is_empty(), "{:?}", found(&r));
}

// ------------------------------------------------------------- 2. base64

#[test]
fn decode_all_finds_everything_the_default_finds() {
    let dir = tempdir();
    let d = dir.path();
    let docker_pat = "dckr_pat_Zp4Wq8Ns2Lx6Rv0Tb3Hc7Jm1Kd5";
    let auth = b64(&format!("deploy:{docker_pat}"));
    let cfg = b64(&format!(
        r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}}}}}}"#
    ));
    write(
        d,
        "k8s/pull.yaml",
        format!("kind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {cfg}\n"),
    );
    // `"auth":` is both a rule's keyword and a trigger word: the value
    // after it is decoded although `ghp_` after `bot:` leaves no fragment.
    let auth = b64(&format!("bot:{GITHUB}"));
    write(
        d,
        "k8s/ghcr.yaml",
        format!(
            "kind: Secret\ndata:\n  .dockerconfigjson: {}\n",
            b64(&format!(
                r#"{{"auths": {{"ghcr.io": {{"auth": "{auth}"}}}}}}"#
            ))
        ),
    );
    let default = found(&scan_json(d, &[]));
    let all = found(&scan_json(d, &["--decode-all"]));
    assert!(
        default.iter().any(|(_, _, s)| s == docker_pat),
        "{default:?}"
    );
    assert!(
        default
            .iter()
            .any(|(p, _, s)| p == "k8s/ghcr.yaml" && s == GITHUB),
        "{default:?}"
    );
    for f in &default {
        assert!(all.contains(f), "--decode-all misses {f:?}: {all:?}");
    }
}

#[test]
fn base64_keys_are_found_wherever_they_sit() {
    let dir = tempdir();
    let d = dir.path();
    let k = kunavo("b64-anywhere");
    let p = pinaivu("b64-anywhere");
    let g = GITHUB;
    // No trigger word anywhere: the encoded keyword alone gets the run decoded.
    write(
        d,
        "deploy/.env",
        format!("LLM_CONFIG_B64={}\n", b64(&format!("{{\"key\":\"{k}\"}}"))),
    );
    write(
        d,
        "app/settings.json",
        format!("{{\"llm\": {{\"blob\": \"{}\"}}}}\n", b64(&p)),
    );
    write(
        d,
        "chart/values.yaml",
        format!("llm:\n  encodedKey: {}\n", b64(&format!("key: {k}\n"))),
    );
    write(
        d,
        "web/page.html",
        format!(
            "<a href=\"data:text/plain;base64,{}\">x</a>\n",
            b64(&format!("token {g}"))
        ),
    );
    write(
        d,
        "app/url.txt",
        format!("state={}\n", b64url(format!("\u{fb}\u{ff}:{k}").as_bytes())),
    );
    let r = scan_json(d, &[]);
    for (path, secret) in [
        ("deploy/.env", k.as_str()),
        ("app/settings.json", p.as_str()),
        ("chart/values.yaml", k.as_str()),
        ("web/page.html", g),
        ("app/url.txt", k.as_str()),
    ] {
        let f = r
            .findings()
            .into_iter()
            .find(|f| f["path"] == path && f["secret"] == secret)
            .unwrap_or_else(|| panic!("{path}: {:?}", found(&r)));
        assert_eq!(f["encoding"], "base64", "{path}");
    }
}

#[test]
fn encoded_placeholders_and_plain_base64_are_not_findings() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "docs/example.yaml",
        format!(
            "a: {}\nb: {}\nc: {}\n",
            b64("KUNAVO_API_KEY=sk-kunavo-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
            b64("Authorization: Bearer sk-pnv-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            b64("just some text that happens to be encoded, nothing else"),
        ),
    );
    let r = scan_json(d, &["--decode-all"]);
    assert_eq!(r.code, 0, "{:?}", found(&r));
    let r = scan_json(d, &[]);
    assert_eq!(r.code, 0, "{:?}", found(&r));
}

// ------------------------------------------------------- 3. attribution

/// Copy the named fixtures of tests/data/accuracy into a temp dir.
fn fixtures(names: &[&str]) -> tempfile::TempDir {
    let dir = tempdir();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/accuracy");
    for n in names {
        std::fs::copy(src.join(n), dir.path().join(n)).unwrap();
    }
    dir
}

/// (line, provider, evidence) of each finding in `path`, in line order.
fn attributed(run: &Run, path: &str) -> Vec<(u64, String, String)> {
    let mut v: Vec<_> = run
        .findings()
        .iter()
        .filter(|f| f["path"] == path)
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["provider"].as_str().unwrap().to_string(),
                f["evidence"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn colliding_shapes_go_to_the_nearest_evidence() {
    let dir = fixtures(&[
        "payments-and-chat.env",
        "settings.ini",
        "clients.py",
        "gateway.env",
    ]);
    let r = scan_json(dir.path(), &[]);
    let row = |l: u64, p: &str, e: &str| (l, p.to_string(), e.to_string());
    // A Stripe key in a file that also configures Konnect stays Stripe's.
    assert_eq!(
        attributed(&r, "payments-and-chat.env"),
        [
            row(2, "stripe", "STRIPE_SECRET_KEY, line 2"),
            row(6, "konnect", "KONNECT_API_KEY, line 6"),
        ]
    );
    // INI sections.
    assert_eq!(
        attributed(&r, "settings.ini"),
        [
            row(3, "stripe", "stripe, line 2"),
            row(7, "konnect", "api.konnect.ai, line 6"),
        ]
    );
    // One OpenAI-compatible client pointed at SynStar, one plain OpenAI client.
    assert_eq!(
        attributed(&r, "clients.py"),
        [
            row(4, "synstar", "synstar, line 3"),
            row(8, "openai", "OpenAI, line 8"),
        ]
    );
    // OPENAI_API_KEY carries the key of the gateway its base URL names.
    assert_eq!(
        attributed(&r, "gateway.env"),
        [row(2, "synstar", "www.kkiai.com, line 1")]
    );
    // The loser is named as an alternative, and nothing is ambiguous.
    for f in r.findings() {
        assert_eq!(f["ambiguous"], false, "{f}");
        assert_eq!(f["alternatives"].as_array().unwrap().len(), 1, "{f}");
    }
}

#[test]
fn a_definitive_shape_beats_nearby_evidence() {
    let dir = fixtures(&["definitive.env"]);
    let r = scan_json(dir.path(), &[]);
    let got: Vec<(String, String)> = r
        .findings()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["provider"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "stripe-account-secret-key".to_string(),
                "stripe".to_string()
            ),
            ("openai-legacy-key".to_string(), "openai".to_string()),
        ]
    );
}

#[test]
fn every_format_names_the_evidence() {
    let dir = fixtures(&["payments-and-chat.env"]);
    let d = dir.path();
    let jsonl = run(leakhound()
        .current_dir(d)
        .args(["scan", "--format", "jsonl", "."]));
    assert!(
        jsonl
            .stdout
            .contains("\"evidence\":\"KONNECT_API_KEY, line 6\""),
        "{}",
        jsonl.stdout
    );
    let sarif = run(leakhound()
        .current_dir(d)
        .args(["scan", "--format", "sarif", "."]));
    let v: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    let evidence: Vec<&str> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["properties"]["evidence"].as_str().unwrap())
        .collect();
    assert_eq!(
        evidence,
        ["STRIPE_SECRET_KEY, line 2", "KONNECT_API_KEY, line 6"]
    );
    let text = run(leakhound().current_dir(d).args(["scan", "."]));
    assert!(
        text.stdout.contains("KONNECT_API_KEY, line 6"),
        "{}",
        text.stdout
    );
    // And the JSON report.
    let report = scan_json(d, &[]);
    let back = &report.findings()[1];
    assert_eq!(back["evidence"], "KONNECT_API_KEY, line 6");
}

// ------------------------------------------- 4. compatible clients (Kindo)

#[test]
fn kindo_keys_through_compatible_clients_are_found() {
    let dir = fixtures(&[
        "assistant.ini",
        "kindo-openai.env",
        "proxy.log",
        "claude.py",
    ]);
    let r = scan_json(dir.path(), &[]);
    let kindo: Vec<(String, String)> = r
        .findings()
        .iter()
        .filter(|f| f["provider"] == "kindo")
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["secret"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (path, secret) in [
        ("assistant.ini", "Qm7vT2xR9pL4sK8wN1bY6cF3hJ0dG5zA"),
        ("kindo-openai.env", "Rt3Yu7Io1Pa5Sd9Fg2Hj6Kl0Zx4Cv8Bn"),
        ("proxy.log", "Zp4Wq8Ns2Lx6Rv0Tb3Hc7Jm1Kd5Gf9Ye"),
        ("claude.py", "Vb6Nc1Xz8Lk3Jh7Gf2Ds9Aq4Wr0Ety5U"),
    ] {
        assert!(
            kindo.contains(&(path.to_string(), secret.to_string())),
            "{path}: {kindo:?}\n{:?}",
            found(&r)
        );
    }
    // The search section's token is not Kindo's: its section names another host.
    assert!(
        !kindo
            .iter()
            .any(|(_, s)| s == "Lp3Ks8Jd2Hf7Gm1Nb6Vc0Xz5Qa9Ws4Ed"),
        "{kindo:?}"
    );
}

// ------------------------------------------------------ 5. identifiers

#[test]
fn names_behind_a_key_prefix_are_not_keys() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "src/signing.py",
        "# middleware ids\n\
         PINAIVU_HANDLER = \"sk-pnv-paymentwebhooksignaturevalidator\"\n\
         PINAIVU_NEXT = \"sk-pnv-requestSigningMiddlewareHandlers\"\n\
         KUNAVO_ROUTE = \"sk-kunavo-request_signing_middleware_handler\"\n\
         STRIPE_HANDLER = \"sk_live_PaymentIntentWebhookHandler\"\n\
         CACHE_KEY = \"ghp_getUserPasswordHashFromSessionCaches\"\n",
    );
    let r = scan_json(d, &[]);
    assert_eq!(r.code, 0, "{:?}", found(&r));
    // Real keys in the same spots still are.
    let p = pinaivu("identifiers");
    write(d, "src/signing.py", format!("PINAIVU_HANDLER = \"{p}\"\n"));
    assert!(has(&scan_json(d, &[]), "src/signing.py", &p));
}

// ------------------------------------------------------- 6. AWS pairs

#[test]
fn aws_secret_keys_next_to_their_key_id_in_infrastructure_code() {
    let dir = fixtures(&[
        "main.tf",
        "storage.yaml",
        "ci-setup.sh",
        "template.yaml",
        "credentials",
        "no-key-id.tf",
    ]);
    let r = scan_json(dir.path(), &[]);
    for (path, secret, key_id) in [
        (
            "main.tf",
            "q7Rk2LmZ9xTw4Nv8Pb3Hc6Jd1Fs5Gy0Ua7We2QnB",
            "AKIAQ3EGT5NBWJ7LZ4XM",
        ),
        (
            "storage.yaml",
            "Mn4Bv8Cx2Zl6Kj0Hg5Fd9Sa3Qw7Er1Ty4Ui8OpLk",
            "AKIAW4PZK7QRN2HT5VXC",
        ),
        (
            "ci-setup.sh",
            "Pq2Wn7Xc4Vb9Lm3Kj8Hg1Fd6Sa5Zx0Cy7Tu2IoRe",
            "AKIAZ6YRM3KTP4WQ2NBD",
        ),
        (
            "template.yaml",
            "Hy6Tr1Ew5Qa9Zs3Xd7Cf2Vg8Bh4Nj0Mk6Lo1Pi9U",
            "AKIAR5TNX2LWQ7ZK3MPV",
        ),
        (
            "credentials",
            "Ls8Kd3Jf7Hg2Gm6Nb1Vc5Xz9Qa4Ws0Ed3Rf8Tg2Y",
            "AKIAT7KQM2ZXW5RNB3PL",
        ),
    ] {
        let f = r
            .findings()
            .into_iter()
            .find(|f| f["path"] == path && f["secret"] == secret)
            .unwrap_or_else(|| panic!("{path}: {:?}", found(&r)));
        assert_eq!(f["provider"], "aws", "{path}");
        assert_eq!(f["parts"][0]["secret"], key_id, "{path}: {f}");
    }
    // A secret_key with no AWS key id near it is not an AWS key.
    assert!(
        !found(&r).iter().any(|(p, _, _)| p == "no-key-id.tf"),
        "{:?}",
        found(&r)
    );
}
