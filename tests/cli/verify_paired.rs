//! Paired credentials (`[providers.verify.partner]` in
//! `rules/providers/paired.toml`) through the real binary: the pairs are
//! found in realistic files (an AWS credentials file, a Terraform provider
//! block, a `.env`, a service-account key file, a connection string), and
//! the stand-in on 127.0.0.1 recomputes every signature with its own code
//! (SigV4, Azure Shared Key, RS256 over the JWT) and checks every Basic
//! pair, so a wrong signer or a wrong partner fails the test: the stand-in
//! answers a request it cannot verify with 418, never with the scripted
//! status.
//!
//! Then each row of each paired table, a redirect, an echo, a stall and a
//! dropped connection, and what must never happen: a secret in a request
//! (the signed kinds send none), a secret without its partner sent anywhere
//! (`unknown (no pair)`), a partner of the wrong shape used.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fake_provider::{Reply, Request, Server};
use crate::util::{offline, run, tempdir, write, Run};

const PAIRED: &[&str] = &["aws", "twilio", "algolia", "paypal", "gcp", "azure"];

/// Each paired provider's secret rule.
const SECRET_RULES: &[(&str, &str)] = &[
    ("aws", "aws-secret-access-key"),
    ("twilio", "twilio-auth-token"),
    ("algolia", "algolia-admin-api-key"),
    ("paypal", "paypal-client-secret"),
    ("gcp", "gcp-service-account-key"),
    ("azure", "azure-storage-account-key"),
];

pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random-looking characters of `alphabet`, the same for the same seed.
fn from(alphabet: &str, seed: &str, n: usize) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut out = String::new();
    let mut block = 0u32;
    while out.len() < n {
        let digest = Sha256::digest(format!("{seed}/{block}"));
        for b in digest {
            if out.len() < n {
                out.push(chars[b as usize % chars.len()]);
            }
        }
        block += 1;
    }
    out
}

const UPPER32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HEX: &str = "0123456789abcdef";
const B64ISH: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+";
const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// The credentials the files hold, and the stand-in knows.
#[derive(Clone)]
struct Creds {
    aws: Vec<(String, String)>,
    twilio: (String, String),
    algolia: (String, String),
    paypal: (String, String),
    gcp_email: String,
    /// PKCS#8 PEM with real newlines.
    gcp_pem: String,
    azure: (String, String),
}

impl Creds {
    fn new(seed: &str) -> Creds {
        let aws = (0..2)
            .map(|i| {
                (
                    format!("AKIA{}", from(UPPER32, &format!("{seed}aws-id{i}"), 16)),
                    from(B64ISH, &format!("{seed}aws-secret{i}"), 40),
                )
            })
            .collect();
        let azure_key: Vec<u8> = (0..2)
            .flat_map(|i| Sha256::digest(format!("{seed}azure{i}")).to_vec())
            .collect();
        Creds {
            aws,
            twilio: (
                format!("AC{}", from(HEX, &format!("{seed}twilio-sid"), 32)),
                from(HEX, &format!("{seed}twilio-token"), 32),
            ),
            algolia: (
                from(
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                    &format!("{seed}algolia-app"),
                    10,
                ),
                from(HEX, &format!("{seed}algolia-key"), 32),
            ),
            paypal: (
                format!("A{}", from(URLSAFE, &format!("{seed}paypal-id"), 79)),
                format!("E{}", from(URLSAFE, &format!("{seed}paypal-secret"), 79)),
            ),
            gcp_email: "deployer@acme-prod-4821.iam.gserviceaccount.com".into(),
            gcp_pem: rsa_key(),
            azure: ("acmelogs".into(), b64(azure_key)),
        }
    }

    /// Every secret (not the partners), by provider.
    fn secrets(&self) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> =
            self.aws.iter().map(|(_, s)| ("aws", s.clone())).collect();
        out.push(("twilio", self.twilio.1.clone()));
        out.push(("algolia", self.algolia.1.clone()));
        out.push(("paypal", self.paypal.1.clone()));
        out.push((
            "gcp",
            self.gcp_pem
                .replace('\n', "\\n")
                .trim_end_matches("\\n")
                .to_string(),
        ));
        out.push(("azure", self.azure.1.clone()));
        out
    }
}

/// A fresh 2048-bit RSA key in PKCS#8 PEM, made by `openssl` (ring cannot
/// make RSA keys). A missing `openssl` fails the test.
pub(crate) fn rsa_key() -> String {
    let dir = tempdir();
    let path = dir.path().join("key.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("`openssl` makes the service-account test key; install it");
    assert!(status.success(), "openssl genpkey failed");
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    pem
}

/// The realistic files the pairs sit in.
fn write_files(dir: &Path, c: &Creds) {
    write(
        dir,
        "home/.aws/credentials",
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\nregion = eu-west-1\n",
            c.aws[0].0, c.aws[0].1
        ),
    );
    write(
        dir,
        "infra/main.tf",
        format!(
            "terraform {{\n  required_version = \">= 1.5\"\n}}\n\nprovider \"aws\" {{\n  region     = \"eu-west-1\"\n  access_key = \"{}\"\n  secret_key = \"{}\"\n}}\n",
            c.aws[1].0, c.aws[1].1
        ),
    );
    write(
        dir,
        "app/.env",
        format!(
            "NODE_ENV=production\nTWILIO_ACCOUNT_SID={}\nTWILIO_AUTH_TOKEN={}\n\nALGOLIA_APP_ID={}\nALGOLIA_ADMIN_API_KEY={}\n\nPAYPAL_CLIENT_ID={}\nPAYPAL_CLIENT_SECRET={}\n",
            c.twilio.0, c.twilio.1, c.algolia.0, c.algolia.1, c.paypal.0, c.paypal.1
        ),
    );
    let key_file = serde_json::json!({
        "type": "service_account",
        "project_id": "acme-prod-4821",
        "private_key_id": hex(&Sha256::digest("key id"))[..40],
        "private_key": c.gcp_pem,
        "client_email": c.gcp_email,
        "client_id": "104583927461029384756",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://evil.example/token",
    });
    write(
        dir,
        "deploy/service-account.json",
        serde_json::to_string_pretty(&key_file).unwrap(),
    );
    write(
        dir,
        "web/appsettings.json",
        format!(
            "{{\n  \"ConnectionStrings\": {{\n    \"Storage\": \"DefaultEndpointsProtocol=https;AccountName={};AccountKey={};EndpointSuffix=core.windows.net\"\n  }}\n}}\n",
            c.azure.0, c.azure.1
        ),
    );
}

fn config(dir: &Path, server: &Server, extra: &str) {
    let mut toml = String::new();
    for id in PAIRED {
        toml.push_str(&format!(
            "[providers.{id}]\nbase_url = \"{}/{id}\"\n\n",
            server.url()
        ));
    }
    toml.push_str("[verify]\nretries = 0\nmax_wait = 0.2\n");
    toml.push_str(extra);
    write(dir, ".leakhound.toml", toml);
}

fn scan_verify(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = crate::util::leakhound();
    offline(&mut cmd);
    run(cmd
        .current_dir(dir)
        .args([
            "scan",
            ".",
            "--config",
            ".leakhound.toml",
            "--format",
            "json",
            "--show-secrets",
            "--verify",
        ])
        .args(args))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

fn header<'a>(req: &'a Request, name: &str) -> &'a str {
    req.header(name).first().copied().unwrap_or("")
}

/// Why the request does not carry a valid signature or pair for the
/// stand-in's credentials, or `None` if it does. Written from the
/// providers' documentation, apart from the code under test.
fn check_request(req: &Request, c: &Creds, server: &str) -> Option<String> {
    let provider = req.path.split('/').nth(1).unwrap_or_default();
    let basic = |user: &str, password: &str| format!("Basic {}", b64(format!("{user}:{password}")));
    match provider {
        "aws" => {
            let auth = header(req, "authorization");
            let rest = auth.strip_prefix("AWS4-HMAC-SHA256 Credential=")?;
            let (credential, rest) = rest.split_once(", SignedHeaders=")?;
            let (signed, signature) = rest.split_once(", Signature=")?;
            let mut scope = credential.split('/');
            let key_id = scope.next()?;
            let (day, region, service) = (scope.next()?, scope.next()?, scope.next()?);
            let Some((_, secret)) = c.aws.iter().find(|(id, _)| id == key_id) else {
                return Some(format!("unknown key id {key_id}"));
            };
            if (region, service) != ("us-east-1", "sts") {
                return Some(format!("scope {region}/{service}"));
            }
            let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
            let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
            pairs.sort_unstable();
            if pairs != ["Action=GetCallerIdentity", "Version=2011-06-15"] {
                return Some(format!("query {query}"));
            }
            let mut canonical = format!("{}\n{path}\n{}\n", req.method, pairs.join("&"));
            for name in signed.split(';') {
                canonical.push_str(&format!("{name}:{}\n", header(req, name).trim()));
            }
            canonical.push_str(&format!("\n{signed}\n{}", hex(&Sha256::digest(&req.body))));
            let amz_date = header(req, "x-amz-date");
            let to_sign = format!(
                "AWS4-HMAC-SHA256\n{amz_date}\n{day}/{region}/{service}/aws4_request\n{}",
                hex(&Sha256::digest(canonical.as_bytes()))
            );
            let mut key = hmac(format!("AWS4{secret}").as_bytes(), day.as_bytes());
            for part in [region, service, "aws4_request"] {
                key = hmac(&key, part.as_bytes());
            }
            let expected = hex(&hmac(&key, to_sign.as_bytes()));
            (!signed.split(';').any(|h| h == "host") || expected != signature)
                .then(|| "SigV4 signature does not verify".into())
        }
        "twilio" => {
            let (sid, token) = &c.twilio;
            (req.path != format!("/twilio/Accounts/{sid}.json")
                || header(req, "authorization") != basic(sid, token))
            .then(|| format!("twilio pair wrong ({})", req.path))
        }
        "algolia" => {
            let (app, key) = &c.algolia;
            (req.path != "/algolia/keys"
                || header(req, "x-algolia-application-id") != app
                || header(req, "x-algolia-api-key") != key
                || !req.header("authorization").is_empty())
            .then(|| "algolia pair wrong".into())
        }
        "paypal" => {
            let (id, secret) = &c.paypal;
            (req.method != "POST"
                || req.path != "/paypal/v1/oauth2/token"
                || req.body != "grant_type=client_credentials"
                || header(req, "content-type") != "application/x-www-form-urlencoded"
                || header(req, "authorization") != basic(id, secret))
            .then(|| "paypal client credentials wrong".into())
        }
        "gcp" => check_jwt(req, c, &format!("{server}/gcp/token")),
        "azure" => {
            let (account, key) = &c.azure;
            let auth = header(req, "authorization");
            let Some(sig) = auth.strip_prefix(&format!("SharedKey {account}:")) else {
                return Some(format!("azure auth {auth:?}"));
            };
            let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
            let mut to_sign = format!("{}\n{}", req.method, "\n".repeat(11));
            let mut ms: Vec<(String, String)> = req
                .headers
                .iter()
                .filter(|(n, _)| n.starts_with("x-ms-"))
                .cloned()
                .collect();
            ms.sort();
            if !ms.iter().any(|(n, _)| n == "x-ms-date") {
                return Some("no x-ms-date".into());
            }
            for (n, v) in &ms {
                to_sign.push_str(&format!("{n}:{v}\n"));
            }
            to_sign.push_str(&format!("/{account}{path}"));
            let mut q: Vec<(String, String)> = query
                .split('&')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                .collect();
            q.sort();
            for (k, v) in q {
                to_sign.push_str(&format!("\n{k}:{v}"));
            }
            let key = base64::engine::general_purpose::STANDARD
                .decode(key)
                .unwrap();
            (b64(hmac(&key, to_sign.as_bytes())) != sig)
                .then(|| "Shared Key signature does not verify".into())
        }
        other => Some(format!("unexpected provider {other}")),
    }
}

/// The JWT bearer grant: the assertion's RS256 signature under the key
/// file's public key, and its claims.
fn check_jwt(req: &Request, c: &Creds, audience: &str) -> Option<String> {
    if req.method != "POST" || header(req, "content-type") != "application/x-www-form-urlencoded" {
        return Some("not a form POST".into());
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(req.body.as_bytes())
        .into_owned()
        .collect();
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return Some("grant_type".into());
    }
    let jwt = form.get("assertion")?;
    let (signing_input, sig) = jwt.rsplit_once('.')?;
    let (_, claims) = signing_input.split_once('.')?;
    let decode = |s: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()
    };
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            c.gcp_pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        pair.public().as_ref().to_vec(),
    );
    if public
        .verify(signing_input.as_bytes(), &decode(sig)?)
        .is_err()
    {
        return Some("RS256 signature does not verify".into());
    }
    let claims: Value = serde_json::from_slice(&decode(claims)?).ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let iat = claims["iat"].as_i64()?;
    let exp = claims["exp"].as_i64()?;
    (claims["iss"] != c.gcp_email.as_str()
        || claims["aud"] != audience
        || !claims["scope"]
            .as_str()
            .is_some_and(|s| s.starts_with("https://"))
        || (iat - now).abs() > 300
        || exp <= iat
        || exp - iat > 3600)
        .then(|| format!("claims {claims}"))
}

type Script = Arc<Mutex<HashMap<String, Reply>>>;

/// The stand-in: each request is checked (`check_request`); a good one gets
/// its provider's scripted reply, a bad one 418 and a note in `bad`.
fn stand_in(creds: &Creds) -> (Server, Script, Arc<Mutex<Vec<String>>>) {
    let script: Script = Arc::new(Mutex::new(HashMap::new()));
    let bad = Arc::new(Mutex::new(Vec::new()));
    let url = Arc::new(Mutex::new(String::new()));
    let (s, b, c, u) = (
        Arc::clone(&script),
        Arc::clone(&bad),
        creds.clone(),
        Arc::clone(&url),
    );
    let server = Server::start(move |req, _| {
        let provider = req.path.split('/').nth(1).unwrap_or_default().to_string();
        let base = u.lock().unwrap().clone();
        if let Some(why) = check_request(req, &c, &base) {
            b.lock().unwrap().push(format!("{provider}: {why}"));
            return Reply::status(418).body("{\"error\":\"bad signature\"}");
        }
        s.lock()
            .unwrap()
            .get(&provider)
            .cloned()
            .unwrap_or_else(|| Reply::status(404))
    });
    *url.lock().unwrap() = server.url();
    (server, script, bad)
}

/// Verification by secret.
fn by_secret(out: &Run) -> HashMap<String, Value> {
    out.findings()
        .into_iter()
        .map(|f| {
            (
                f["secret"].as_str().unwrap().to_string(),
                f["verification"].clone(),
            )
        })
        .collect()
}

fn live_replies(c: &Creds) -> HashMap<String, Reply> {
    HashMap::from([
        (
            "aws".to_string(),
            Reply::status(200).body(
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/ci-deployer</Arn><UserId>AIDAEXAMPLEUSERID</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>",
            ),
        ),
        (
            "twilio".to_string(),
            Reply::status(200).body(&format!(
                "{{\"sid\":\"{}\",\"friendly_name\":\"Acme SMS\",\"status\":\"active\",\"type\":\"Full\"}}",
                c.twilio.0
            )),
        ),
        ("algolia".to_string(), Reply::status(200).body("{\"keys\":[]}")),
        (
            "paypal".to_string(),
            Reply::status(200).body(
                "{\"scope\":\"https://uri.paypal.com/services/invoicing openid\",\"access_token\":\"A21AAtokenNeverUsed\",\"token_type\":\"Bearer\",\"app_id\":\"APP-80W284485P519543T\",\"expires_in\":32400}",
            ),
        ),
        (
            "gcp".to_string(),
            Reply::status(200)
                .body("{\"access_token\":\"ya29.never-used\",\"expires_in\":3599,\"token_type\":\"Bearer\"}"),
        ),
        (
            "azure".to_string(),
            Reply::status(200).body("<?xml version=\"1.0\" encoding=\"utf-8\"?><StorageServiceProperties></StorageServiceProperties>"),
        ),
    ])
}

#[test]
fn pairs_found_in_real_files_are_verified_with_checked_signatures() {
    let creds = Creds::new("live");
    let (server, script, bad) = stand_in(&creds);
    *script.lock().unwrap() = live_replies(&creds);
    let dir = tempdir();
    write_files(dir.path(), &creds);
    // A secret whose partner is not in its file, and a temporary key id.
    let lone = from(B64ISH, "lone aws secret", 40);
    write(
        dir.path(),
        "ci/deploy.env",
        format!("# aws deploy user\nAWS_SECRET_ACCESS_KEY={lone}\n"),
    );
    let temp_secret = from(B64ISH, "temporary aws secret", 40);
    let temp_id = format!("ASIA{}", from(UPPER32, "temporary aws id", 16));
    write(
        dir.path(),
        "ci/session.env",
        format!("AWS_ACCESS_KEY_ID={temp_id}\nAWS_SECRET_ACCESS_KEY={temp_secret}\n"),
    );
    config(dir.path(), &server, "");
    let out = scan_verify(dir.path(), &[]);
    assert!(out.code == 1, "{}", out.stderr);
    let v = by_secret(&out);
    assert!(bad.lock().unwrap().is_empty(), "{:?}", bad.lock().unwrap());
    for (provider, secret) in creds.secrets() {
        let got = v
            .get(&secret)
            .unwrap_or_else(|| panic!("{provider}: secret not found; findings: {:?}", v.keys()));
        assert_eq!(got["verdict"], "live", "{provider}: {got}");
        assert_eq!(got["provider"], provider, "{got}");
    }
    let aws = &v[&creds.aws[0].1];
    assert_eq!(
        aws["identity"],
        "Arn=arn:aws:iam::123456789012:user/ci-deployer, Account=123456789012"
    );
    assert!(v[&creds.twilio.1]["identity"]
        .as_str()
        .unwrap()
        .contains("friendly_name=Acme SMS"));
    assert_eq!(
        v[&creds.paypal.1]["scopes"],
        serde_json::json!(["https://uri.paypal.com/services/invoicing", "openid"])
    );
    let gcp_secret = creds.secrets()[5].1.clone();
    assert_eq!(
        v[&gcp_secret]["identity"],
        format!("service_account={}", creds.gcp_email)
    );
    assert_eq!(v[&creds.azure.1]["identity"], "account=acmelogs");
    // The lone secret and the temporary pair went nowhere.
    assert_eq!(v[&lone]["reason"], "no-pair", "{}", v[&lone]);
    assert!(
        v[&lone]["detail"]
            .as_str()
            .unwrap()
            .contains("no access key id"),
        "{}",
        v[&lone]
    );
    assert_eq!(
        v[&temp_secret]["reason"], "not-verifiable",
        "{}",
        v[&temp_secret]
    );
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        7,
        "one request per pair: {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    // The signed kinds never send their secret; no request carries the
    // lone secret, the temporary one or the key file's private key.
    for r in &requests {
        let text = r.text();
        for s in creds
            .aws
            .iter()
            .map(|(_, s)| s)
            .chain([&creds.azure.1, &lone, &temp_secret])
        {
            assert!(!text.contains(s.as_str()), "a secret went out: {}", r.path);
        }
        assert!(!text.contains("PRIVATE KEY"), "the private key went out");
        assert!(
            !text.contains(&gcp_secret[40..80]),
            "the private key went out"
        );
    }
    // The key file's token_uri is not where the JWT went.
    assert!(requests.iter().any(|r| r.path == "/gcp/token"));
    // The text report shows them and the per-provider counts.
    let summary = out.json()["stats"]["verification"]["providers"].clone();
    assert_eq!(summary["aws"]["live"], 2, "{summary}");
    assert_eq!(summary["aws"]["checked"], 2, "{summary}");
}

/// Each row of each paired spec's table (read here with the toml crate, not
/// the library) against the stand-in, round `r` answering every provider
/// with its row `r` (its last row once it has no more).
#[test]
fn every_row_of_the_paired_tables() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/providers/paired.toml"),
    )
    .unwrap();
    let doc: toml::Value = toml::from_str(&text).unwrap();
    let mut tables: HashMap<String, Vec<(u16, String, Vec<String>)>> = HashMap::new();
    // Providers that answer a wrong partner as a dead key: the fixture's
    // partners sit on the line above their keys, so a dead row is `unknown
    // (pair)` for them (tested on one line in verify_hosts.rs).
    let mut mismatch: Vec<String> = Vec::new();
    for p in doc["providers"].as_array().unwrap() {
        if p["verify"]["partner"]
            .get("mismatch_looks_dead")
            .and_then(|v| v.as_bool())
            == Some(true)
        {
            mismatch.push(p["id"].as_str().unwrap().to_string());
        }
        let rows = p["verify"]["responses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["status"].as_integer().unwrap() as u16,
                    r["verdict"].as_str().unwrap().to_string(),
                    r.get("body_contains")
                        .and_then(|b| b.as_array())
                        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                        .unwrap_or_default(),
                )
            })
            .collect();
        tables.insert(p["id"].as_str().unwrap().to_string(), rows);
    }
    let mut ids: Vec<&String> = tables.keys().collect();
    ids.sort();
    assert_eq!(ids, {
        let mut p: Vec<&str> = PAIRED.to_vec();
        p.sort_unstable();
        p
    });
    let creds = Creds::new("rows");
    let (server, script, bad) = stand_in(&creds);
    let dir = tempdir();
    write_files(dir.path(), &creds);
    config(dir.path(), &server, "");
    let rounds = tables.values().map(Vec::len).max().unwrap();
    for round in 0..rounds {
        let mut expected: HashMap<&str, (String, u16)> = HashMap::new();
        {
            let mut s = script.lock().unwrap();
            s.clear();
            for (id, rows) in &tables {
                let (status, verdict, needles) = &rows[round.min(rows.len() - 1)];
                let body = match needles.first() {
                    Some(n) => format!("{{\"error\":\"{n}\"}}"),
                    None => "{}".to_string(),
                };
                s.insert(id.clone(), Reply::status(*status).body(&body));
                expected.insert(id.as_str(), (verdict.clone(), *status));
            }
        }
        let out = scan_verify(dir.path(), &[]);
        let v = by_secret(&out);
        for (provider, secret) in creds.secrets() {
            let got = &v[&secret];
            let (verdict, status) = &expected[provider];
            if verdict == "dead" && mismatch.iter().any(|m| m == provider) {
                assert_eq!(
                    got["verdict"], "unknown",
                    "round {round}, {provider}: {got}"
                );
                assert_eq!(got["reason"], "pair", "round {round}, {provider}: {got}");
                assert_eq!(got["status"], *status, "round {round}, {provider}: {got}");
                continue;
            }
            assert_eq!(
                got["verdict"],
                verdict.as_str(),
                "round {round}, {provider}: {got}"
            );
            assert_eq!(got["status"], *status, "round {round}, {provider}: {got}");
            if verdict == "unknown" {
                // 429 and 5xx are retried (here: none) before they settle.
                let reason = if *status == 429 || *status >= 500 {
                    "retries"
                } else {
                    "status"
                };
                assert_eq!(got["reason"], reason, "round {round}, {provider}: {got}");
            }
        }
    }
    assert!(bad.lock().unwrap().is_empty(), "{:?}", bad.lock().unwrap());
}

/// A redirect is not followed, an echo brings no secret into a redacted
/// report, a stall times out and a dropped connection is `unknown`.
#[test]
fn paired_checks_refuse_redirects_and_survive_echoes_stalls_and_drops() {
    let creds = Creds::new("traps");
    let trap = Server::start(|_, _| Reply::status(200));
    let dir = tempdir();
    write_files(dir.path(), &creds);
    let mode = Arc::new(Mutex::new(String::new()));
    let m = Arc::clone(&mode);
    let trap_url = trap.url();
    let server = Server::start(move |req, _| match m.lock().unwrap().as_str() {
        "redirect" => Reply::status(302).header("Location", &format!("{trap_url}/steal")),
        "echo" => Reply::status(200).body(
            &serde_json::json!({
                "friendly_name": req.text(),
                "app_id": req.text(),
                "scope": req.text(),
                "_m": req.text(),
            })
            .to_string(),
        ),
        "stall" => Reply::status(200).delay(Duration::from_secs(3)),
        _ => Reply::reset(),
    });
    config(dir.path(), &server, "");
    for trap_mode in ["redirect", "echo", "stall", "reset"] {
        *mode.lock().unwrap() = trap_mode.to_string();
        let mut cmd = crate::util::leakhound();
        offline(&mut cmd);
        let out = run(cmd.current_dir(dir.path()).args([
            "scan",
            ".",
            "--config",
            ".leakhound.toml",
            "--format",
            "json",
            "--verify",
            "--verify-timeout",
            "1s",
        ]));
        for (provider, secret) in creds.secrets() {
            assert!(
                !out.stdout.contains(&secret) && !out.stderr.contains(&secret),
                "{trap_mode}: {provider}'s secret in the output"
            );
            let partner = match provider {
                "twilio" => &creds.twilio.0,
                "paypal" => &creds.paypal.0,
                _ => continue,
            };
            let basic = b64(format!("{partner}:{secret}"));
            assert!(
                !out.stdout.contains(&basic),
                "{trap_mode}: {provider}'s Basic pair"
            );
        }
        let findings = out.findings();
        for (id, rule) in SECRET_RULES {
            let f = findings
                .iter()
                .find(|f| f["rule_id"] == *rule)
                .unwrap_or_else(|| panic!("{trap_mode}: no finding of {rule}"));
            let v = &f["verification"];
            let reason = match trap_mode {
                "redirect" => Some("redirect"),
                "stall" => Some("timeout"),
                "reset" => Some("connection"),
                _ => None,
            };
            match reason {
                Some(r) => {
                    assert_eq!(v["verdict"], "unknown", "{trap_mode} {id}: {v}");
                    assert_eq!(v["reason"], r, "{trap_mode} {id}: {v}");
                }
                None => assert_eq!(v["verdict"], "live", "{trap_mode} {id}: {v}"),
            }
        }
    }
    assert!(trap.requests().is_empty(), "a redirect was followed");
}

/// A partner that would steer the request elsewhere is never used: an
/// Algolia application id is only [A-Z0-9]{10}, an Azure account name only
/// [a-z0-9]{3,24}; anything else found beside the key leaves it unverified
/// and unsent.
#[test]
fn partners_cannot_steer_the_request() {
    let creds = Creds::new("steer");
    let (server, script, _) = stand_in(&creds);
    *script.lock().unwrap() = live_replies(&creds);
    let dir = tempdir();
    let key = from(B64ISH, "steered azure key", 86);
    write(
        dir.path(),
        "conn.txt",
        format!(
            "AZURE_STORAGE=\"DefaultEndpointsProtocol=https;AccountName=Evil.Example;AccountKey={key}==\"\n"
        ),
    );
    config(dir.path(), &server, "");
    let out = scan_verify(dir.path(), &[]);
    let v = by_secret(&out);
    let got = &v[&format!("{key}==")];
    // The part rule does not take `Evil.Example`: no partner at all.
    assert_eq!(got["reason"], "no-pair", "{got}");
    assert!(server.requests().is_empty());
}

/// `leakhound verify REPORT.json` takes the partner from the report's
/// `parts` (written raw with `--show-secrets`), as a scan does.
#[test]
fn a_saved_report_is_verified_again_with_its_parts() {
    let creds = Creds::new("report");
    let (server, script, bad) = stand_in(&creds);
    *script.lock().unwrap() = live_replies(&creds);
    let dir = tempdir();
    write_files(dir.path(), &creds);
    config(dir.path(), &server, "");
    let saved = run(crate::util::leakhound().current_dir(dir.path()).args([
        "scan",
        ".",
        "--config",
        ".leakhound.toml",
        "--format",
        "json",
        "--show-secrets",
        "--output",
        "report.json",
    ]));
    assert_eq!(saved.code, 1, "{}", saved.stderr);
    assert!(server.requests().is_empty());
    let mut cmd = crate::util::leakhound();
    offline(&mut cmd);
    let out = run(cmd.current_dir(dir.path()).args([
        "verify",
        "report.json",
        "--config",
        ".leakhound.toml",
        "--format",
        "json",
        "--show-secrets",
    ]));
    let v = by_secret(&out);
    for (provider, secret) in creds.secrets() {
        assert_eq!(v[&secret]["verdict"], "live", "{provider}: {}", v[&secret]);
    }
    assert!(bad.lock().unwrap().is_empty(), "{:?}", bad.lock().unwrap());
}
