//! Issue 23: a `dead` verdict needs proof, and a key goes only to declared
//! hosts. Each test runs the real binary against stand-ins on 127.0.0.1;
//! the declared hosts of a spec are pointed at the stand-in one by one
//! (`[providers.NAME.hosts]`), so the test can answer each region, cloud
//! or sandbox differently.
//!
//! Every test here fails on the code before issue 23: it either uses the
//! per-host override (unknown to the old config: exit 2), or asserts a
//! verdict the old tables gave wrongly (`dead` for a live EU key, a
//! sandbox pair, a wrong partner, a skewed clock, SecurityTrails' 403,
//! Sanity's anonymous 200), or a key shape the old rules missed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fake_provider::{Reply, Request, Server};
use crate::util::{alnum, leakhound, run, tempdir, write};
use crate::verify_paired::{b64, rsa_key};
use crate::verify_specs::{body_for, examples, scan_verify, specs, verdicts, Spec};

type Script = Arc<Mutex<HashMap<String, Reply>>>;

/// The first path segment names what the request was meant for.
fn segment(req: &Request) -> String {
    req.path.split('/').nth(1).unwrap_or_default().to_string()
}

fn segment_server() -> (Server, Script) {
    let script: Script = Arc::new(Mutex::new(HashMap::new()));
    let s = Arc::clone(&script);
    let server = Server::start(move |req, _| {
        s.lock()
            .unwrap()
            .get(&segment(req))
            .cloned()
            .unwrap_or_else(|| Reply::status(404))
    });
    (server, script)
}

fn requests_to(server: &Server, seg: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| segment(r) == seg)
        .count()
}

const VERIFY: &str = "[verify]\nretries = 0\nmax_wait = 0.2\nconcurrency = 16\nper_provider = 4\n";

/// A reply answering `spec`'s first row of `verdict`.
fn reply_for(spec: &Spec, verdict: &str) -> (Reply, String) {
    let row = spec
        .rows
        .iter()
        .find(|r| r.verdict == verdict)
        .unwrap_or_else(|| panic!("{}: no {verdict} row", spec.id));
    let body = body_for(spec, row.body_contains.first().map(String::as_str), "owner");
    (Reply::status(row.status).body(&body), row.detail.clone())
}

/// The multi-host specs without a partner, each with one key of its own
/// found in a file, the config pointing every declared host at
/// `{server}/{id}-{i}`.
struct Regions {
    dir: tempfile::TempDir,
    specs: Vec<Spec>,
    /// (provider, secret) of each spec's key.
    keys: Vec<(String, String)>,
}

fn regions(server: &Server) -> Regions {
    let specs: Vec<Spec> = specs().into_iter().filter(|s| s.hosts.len() > 1).collect();
    let dir = tempdir();
    let mut toml = String::new();
    let examples = examples();
    for spec in &specs {
        let (_, _, text, _) = examples
            .iter()
            .find(|(p, rule, _, secret)| p == &spec.id && spec.applies(rule, secret))
            .unwrap_or_else(|| panic!("{}: no example key", spec.id));
        write(
            dir.path(),
            &format!("keys/{}.txt", spec.id),
            format!("{text}\n"),
        );
        toml.push_str(&format!("[providers.{}.hosts]\n", spec.id));
        for (i, h) in spec.hosts.iter().enumerate() {
            toml.push_str(&format!("\"{h}\" = \"{}/{}-{i}\"\n", server.url(), spec.id));
        }
        toml.push('\n');
    }
    toml.push_str(VERIFY);
    write(dir.path(), ".leakhound.toml", toml);
    let found = run(leakhound().current_dir(dir.path()).args([
        "scan",
        ".",
        "--config",
        ".leakhound.toml",
        "--format",
        "json",
        "--show-secrets",
    ]));
    let keys: Vec<(String, String)> = found
        .findings()
        .iter()
        .filter(|f| f["ambiguous"] != true)
        .map(|f| {
            (
                f["provider"].as_str().unwrap().to_string(),
                f["secret"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(p, _)| specs.iter().any(|s| &s.id == p))
        .collect();
    for spec in &specs {
        assert!(
            keys.iter().any(|(p, _)| p == &spec.id),
            "{}: its example key was not found: {}",
            spec.id,
            found.stdout
        );
    }
    Regions { dir, specs, keys }
}

/// New Relic EU, Honeycomb EU, Opsgenie EU, Intercom EU/AU, Segment EU,
/// Snyk's regions, Datadog's sites, Sentry's regions: a key that only its
/// own region knows is live, not dead; dead needs every region's invalid
/// answer; a region that does not answer leaves it unknown.
#[test]
fn a_key_is_dead_only_when_every_region_says_so() {
    let (server, script) = segment_server();
    let fx = regions(&server);
    let ids: Vec<&str> = fx.specs.iter().map(|s| s.id.as_str()).collect();
    for wanted in [
        "newrelic",
        "honeycomb",
        "opsgenie",
        "intercom",
        "segment",
        "snyk",
        "datadog",
        "sentry",
    ] {
        assert!(
            ids.contains(&wanted),
            "{wanted} declares no regions: {ids:?}"
        );
    }

    // Round 1: every host but the last gives the invalid answer, the last
    // (an EU, AU or other site) says the key works.
    {
        let mut s = script.lock().unwrap();
        s.clear();
        for spec in &fx.specs {
            let n = spec.hosts.len();
            for i in 0..n {
                let (reply, _) = reply_for(spec, if i + 1 == n { "live" } else { "dead" });
                s.insert(format!("{}-{i}", spec.id), reply);
            }
        }
    }
    let out = scan_verify(fx.dir.path(), &[]);
    let v = verdicts(&out);
    for (provider, secret) in &fx.keys {
        let got = &v[&(provider.clone(), secret.clone())];
        assert_eq!(got["verdict"], "live", "{provider}: {got}");
    }
    let stats = &out.json()["stats"]["verification"];
    let total: u64 = stats["hosts"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(stats["requests"].as_u64().unwrap(), total, "{stats}");

    // Round 2: every host says invalid: dead, every host asked once.
    let before: HashMap<String, usize> = fx
        .specs
        .iter()
        .flat_map(|s| (0..s.hosts.len()).map(move |i| format!("{}-{i}", s.id)))
        .map(|seg| {
            let n = requests_to(&server, &seg);
            (seg, n)
        })
        .collect();
    {
        let mut s = script.lock().unwrap();
        s.clear();
        for spec in &fx.specs {
            for i in 0..spec.hosts.len() {
                s.insert(format!("{}-{i}", spec.id), reply_for(spec, "dead").0);
            }
        }
    }
    let out = scan_verify(fx.dir.path(), &[]);
    let v = verdicts(&out);
    for (provider, secret) in &fx.keys {
        let spec = fx.specs.iter().find(|s| &s.id == provider).unwrap();
        let got = &v[&(provider.clone(), secret.clone())];
        assert_eq!(got["verdict"], "dead", "{provider}: {got}");
        assert!(
            got["detail"].as_str().unwrap().contains("at every host"),
            "{provider}: {got}"
        );
        for i in 0..spec.hosts.len() {
            let seg = format!("{provider}-{i}");
            assert!(
                requests_to(&server, &seg) > before[&seg],
                "{provider}: host {} was not asked",
                spec.hosts[i]
            );
        }
    }

    // Round 3: one region gives an answer no row settles: unknown, and the
    // detail names every host's answer.
    {
        let mut s = script.lock().unwrap();
        for spec in &fx.specs {
            s.insert(format!("{}-1", spec.id), Reply::status(418));
        }
    }
    let out = scan_verify(fx.dir.path(), &[]);
    let v = verdicts(&out);
    for (provider, secret) in &fx.keys {
        let spec = fx.specs.iter().find(|s| &s.id == provider).unwrap();
        let got = &v[&(provider.clone(), secret.clone())];
        assert_eq!(got["verdict"], "unknown", "{provider}: {got}");
        assert_eq!(got["reason"], "status", "{provider}: {got}");
        let detail = got["detail"].as_str().unwrap();
        assert!(detail.contains("not settled"), "{provider}: {detail}");
        assert!(detail.contains("HTTP 418"), "{provider}: {detail}");
        // Each host's answer is named: the others' invalid answers too.
        assert_eq!(
            detail.matches("dead").count(),
            spec.hosts.len() - 1,
            "{provider}: {detail}"
        );
    }
}

/// `allow_hosts` holds verification to the hosts it names: a region outside
/// it gets nothing and the key is `unknown (egress-denied)`; the report
/// counts the requests per host contacted.
#[test]
fn allow_hosts_restrict_where_keys_go() {
    let (server, script) = segment_server();
    let dir = tempdir();
    let key = format!("NRAK-{}", alnum("nr-egress", 27).to_ascii_uppercase());
    write(dir.path(), "app/.env", format!("NEW_RELIC_API_KEY={key}\n"));
    let port = server.addr.port();
    // The US host goes to 127.0.0.1, the EU host to `localhost`: the
    // allow-list names only the first.
    write(
        dir.path(),
        ".leakhound.toml",
        format!(
            "[providers.newrelic.hosts]\n\"api.newrelic.com\" = \"http://127.0.0.1:{port}/us\"\n\"api.eu.newrelic.com\" = \"http://localhost:{port}/eu\"\n\n{VERIFY}allow_hosts = [\"127.0.0.1\"]\n"
        ),
    );
    {
        let mut s = script.lock().unwrap();
        s.insert("us".into(), Reply::status(401));
        s.insert("eu".into(), Reply::status(200));
    }
    let out = scan_verify(dir.path(), &[]);
    let v = verdicts(&out);
    let got = &v[&("newrelic".to_string(), key.clone())];
    assert_eq!(got["verdict"], "unknown", "{got}\n{}", out.stderr);
    assert_eq!(got["reason"], "egress-denied", "{got}");
    assert!(
        got["detail"].as_str().unwrap().contains("localhost"),
        "{got}"
    );
    assert_eq!(requests_to(&server, "eu"), 0, "the EU host got a request");
    assert_eq!(requests_to(&server, "us"), 1);
    let hosts = &out.json()["stats"]["verification"]["hosts"];
    assert_eq!(
        hosts,
        &serde_json::json!({ format!("127.0.0.1:{port}"): 1 }),
        "{hosts}"
    );

    // Without the restriction the EU host is asked and the key is live;
    // both hosts are counted.
    write(
        dir.path(),
        ".leakhound.toml",
        format!(
            "[providers.newrelic.hosts]\n\"api.newrelic.com\" = \"http://127.0.0.1:{port}/us\"\n\"api.eu.newrelic.com\" = \"http://localhost:{port}/eu\"\n\n{VERIFY}"
        ),
    );
    let out = scan_verify(dir.path(), &[]);
    let got = &verdicts(&out)[&("newrelic".to_string(), key.clone())];
    assert_eq!(got["verdict"], "live", "{got}");
    let hosts = &out.json()["stats"]["verification"]["hosts"];
    assert_eq!(hosts[format!("127.0.0.1:{port}")], 1, "{hosts}");
    assert_eq!(hosts[format!("localhost:{port}")], 1, "{hosts}");
    // The text summary names them too.
    let text = run(leakhound().current_dir(dir.path()).args([
        "scan",
        ".",
        "--config",
        ".leakhound.toml",
        "--verify",
    ]));
    assert!(
        text.stdout.contains(&format!(
            "hosts: 127.0.0.1:{port} (1), localhost:{port} (1)"
        )),
        "{}",
        text.stdout
    );
    // A bad entry is a configuration error naming the file.
    write(
        dir.path(),
        ".leakhound.toml",
        format!("{VERIFY}allow_hosts = [\"https://api.newrelic.com/v2\"]\n"),
    );
    let bad = scan_verify(dir.path(), &[]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("allow_hosts"), "{}", bad.stderr);
    assert!(bad.stderr.contains(".leakhound.toml"), "{}", bad.stderr);
}

// ------------------------------------------------------------ Azure Storage

fn azure_key(seed: &str) -> String {
    let bytes: Vec<u8> = (0..2)
        .flat_map(|i| Sha256::digest(format!("{seed}{i}")).to_vec())
        .collect();
    b64(bytes)
}

/// The storage account a Shared Key request signs for.
fn shared_key_account(req: &Request) -> String {
    req.header("authorization")
        .first()
        .and_then(|a| a.strip_prefix("SharedKey "))
        .and_then(|a| a.split(':').next())
        .unwrap_or_default()
        .to_string()
}

/// A China connection string is asked in China only, a US Government one
/// (by its BlobEndpoint) there only; a string naming a host Azure is not
/// declared at (Azurite on 127.0.0.1) sends nothing anywhere; a string
/// naming no cloud is dead only if all three clouds refuse it.
#[test]
fn azure_connection_strings_choose_among_the_declared_clouds() {
    let account_by_segment: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&account_by_segment);
    let denied = "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code></Error>";
    let server = Server::start(move |req, _| {
        let seg = segment(req);
        let account = shared_key_account(req);
        seen.lock().unwrap().push((seg.clone(), account.clone()));
        match (seg.as_str(), account.as_str()) {
            ("cn", "acmecn") | ("gov", "acmegov") => Reply::status(200).body("<x/>"),
            _ => Reply::status(403).body(denied),
        }
    });
    // Azurite's endpoint: a live server that must hear nothing.
    let trap = Server::start(|_, _| Reply::status(200));
    let dir = tempdir();
    let (cn, gov, local, public) = (
        azure_key("china-account"),
        azure_key("gov"),
        azure_key("local"),
        azure_key("public"),
    );
    write(
        dir.path(),
        "cn/appsettings.json",
        format!("{{\"Storage\": \"DefaultEndpointsProtocol=https;AccountName=acmecn;AccountKey={cn};EndpointSuffix=core.chinacloudapi.cn\"}}\n"),
    );
    write(
        dir.path(),
        "gov/appsettings.json",
        format!("{{\"Storage\": \"DefaultEndpointsProtocol=https;BlobEndpoint=https://acmegov.blob.core.usgovcloudapi.net/;AccountName=acmegov;AccountKey={gov}\"}}\n"),
    );
    write(
        dir.path(),
        "local/appsettings.json",
        format!(
            "{{\"Storage\": \"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={local};BlobEndpoint={}/devstoreaccount1;\"}}\n",
            trap.url()
        ),
    );
    write(
        dir.path(),
        "public/appsettings.json",
        format!("{{\"Storage\": \"DefaultEndpointsProtocol=https;AccountName=acmepub;AccountKey={public}\"}}\n"),
    );
    let url = server.url();
    write(
        dir.path(),
        ".leakhound.toml",
        format!(
            "[providers.azure.hosts]\n\"{{partner}}.blob.core.windows.net\" = \"{url}/pub\"\n\"{{partner}}.blob.core.chinacloudapi.cn\" = \"{url}/cn\"\n\"{{partner}}.blob.core.usgovcloudapi.net\" = \"{url}/gov\"\n\n{VERIFY}"
        ),
    );
    let out = scan_verify(dir.path(), &[]);
    let v = verdicts(&out);
    let az = |k: &str| {
        v.get(&("azure".to_string(), k.to_string()))
            .unwrap_or_else(|| panic!("no finding for {k}: {}", out.stdout))
            .clone()
    };
    assert_eq!(az(&cn)["verdict"], "live", "{}", az(&cn));
    assert_eq!(az(&gov)["verdict"], "live", "{}", az(&gov));
    let local_v = az(&local);
    assert_eq!(local_v["verdict"], "unknown", "{local_v}");
    assert_eq!(local_v["reason"], "not-verifiable", "{local_v}");
    assert!(
        local_v["detail"].as_str().unwrap().contains("127.0.0.1"),
        "{local_v}"
    );
    let public_v = az(&public);
    assert_eq!(public_v["verdict"], "dead", "{public_v}");
    assert!(
        public_v["detail"]
            .as_str()
            .unwrap()
            .contains("at every host"),
        "{public_v}"
    );
    assert!(
        trap.requests().is_empty(),
        "Azurite's endpoint was contacted"
    );
    let seen = account_by_segment.lock().unwrap().clone();
    let asked = |account: &str| -> Vec<String> {
        let mut s: Vec<String> = seen
            .iter()
            .filter(|(_, a)| a == account)
            .map(|(s, _)| s.clone())
            .collect();
        s.sort();
        s
    };
    assert_eq!(asked("acmecn"), ["cn"]);
    assert_eq!(asked("acmegov"), ["gov"]);
    assert_eq!(asked("devstoreaccount1"), Vec::<String>::new());
    assert_eq!(asked("acmepub"), ["cn", "gov", "pub"]);
}

/// Azurite's published emulator key is a documentation value, not a leak.
#[test]
fn azurites_published_key_is_not_reported() {
    let dir = tempdir();
    // Azurite's well-known key, in two pieces so this file holds no key.
    let key = format!(
        "{}{}",
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq",
        "/K1SZFPTOtr/KBHBeksoGMGw=="
    );
    write(
        dir.path(),
        "docker-compose.env",
        format!("AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};BlobEndpoint=http://azurite:10000/devstoreaccount1;\n"),
    );
    let out = run(leakhound()
        .current_dir(dir.path())
        .args(["scan", ".", "--format", "json"]));
    assert!(
        !out.findings()
            .iter()
            .any(|f| f["rule_id"] == "azure-storage-account-key"),
        "{}",
        out.stdout
    );
    assert!(
        out.json()["stats"]["known_examples"].as_u64().unwrap() >= 1,
        "{}",
        out.stdout
    );
}

/// A Shared Key signature refused while the server's clock is an hour
/// from ours says nothing about the key; Azure's own skew answer neither.
#[test]
fn azure_refusals_under_clock_skew_are_unknown() {
    let script: Script = Arc::new(Mutex::new(HashMap::new()));
    let s = Arc::clone(&script);
    let server = Server::start(move |_, _| s.lock().unwrap()["reply"].clone());
    let dir = tempdir();
    let key = azure_key("skew");
    write(
        dir.path(),
        "web.config",
        format!("<add key=\"Storage\" value=\"DefaultEndpointsProtocol=https;AccountName=acmeskew;AccountKey={key};EndpointSuffix=core.windows.net\" />\n"),
    );
    write(
        dir.path(),
        ".leakhound.toml",
        format!(
            "[providers.azure]\nbase_url = \"{}/az\"\n\n{VERIFY}",
            server.url()
        ),
    );
    let denied = "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><AuthenticationErrorDetail>Signature mismatch</AuthenticationErrorDetail></Error>";
    let verdict = |reply: Reply| -> Value {
        script.lock().unwrap().insert("reply".into(), reply);
        let out = scan_verify(dir.path(), &[]);
        verdicts(&out)[&("azure".to_string(), key.clone())].clone()
    };
    let hour_ago = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(3600));
    let v = verdict(Reply::status(403).body(denied).header("Date", &hour_ago));
    assert_eq!(v["verdict"], "unknown", "{v}");
    assert_eq!(v["reason"], "clock-skew", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("60 min"), "{v}");
    let now = httpdate::fmt_http_date(SystemTime::now());
    let v = verdict(Reply::status(403).body(denied).header("Date", &now));
    assert_eq!(v["verdict"], "dead", "{v}");
    let too_old = "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><AuthenticationErrorDetail>Request date header too old: 'Fri, 01 Jan 2021 00:00:00 GMT'</AuthenticationErrorDetail></Error>";
    let v = verdict(Reply::status(403).body(too_old));
    assert_eq!(v["verdict"], "unknown", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("clock"), "{v}");
}

// ------------------------------------------------------------ pairs

/// Twilio, PayPal and Algolia answer a wrong partner as a dead key: a
/// refusal is dead only for a pair written on one line; for a partner
/// found on another line (the nearest candidate, perhaps another key's) it
/// is `unknown (pair)`. PayPal is asked at the live API and the sandbox.
#[test]
fn a_refused_pair_is_dead_only_when_written_together() {
    let (server, script) = segment_server();
    let sid = |s: &str| format!("AC{}", hex_of(s, 32));
    let (sid_a, token_a) = (sid("a-sid"), hex_of("a-token", 32));
    let (sid_b, token_b) = (sid("b-sid"), hex_of("b-token", 32));
    let app = |s: &str| alnum(s, 10).to_ascii_uppercase();
    let (app_a, key_a) = (app("app-a"), hex_of("alg-a", 32));
    let (app_b, key_b) = (app("app-b"), hex_of("alg-b", 32));
    let pp = |c: char, s: &str, n: usize| format!("{c}{}", alnum(s, n));
    // A 60-character pair (PayPal's own examples' length) and an 80 one.
    let (pp_id_a, pp_secret_a) = (pp('A', "pp-id-a", 59), pp('E', "pp-secret-a", 59));
    let (pp_id_b, pp_secret_b) = (pp('A', "pp-id-b", 79), pp('E', "pp-secret-b", 79));
    let dir = tempdir();
    write(
        dir.path(),
        "a/.env",
        format!(
            "TWILIO_ACCOUNT_SID={sid_a}\nTWILIO_AUTH_TOKEN={token_a}\n\nALGOLIA_APP_ID={app_a}\nALGOLIA_ADMIN_API_KEY={key_a}\n\nPAYPAL_CLIENT_ID={pp_id_a}\nPAYPAL_CLIENT_SECRET={pp_secret_a}\n"
        ),
    );
    write(
        dir.path(),
        "b/app.py",
        format!(
            "client = Client(\"{sid_b}\", \"{token_b}\")\nindex = algoliasearch(\"{app_b}\", \"{key_b}\")\nPAYPAL = {{\"paypal_client_id\": \"{pp_id_b}\", \"paypal_client_secret\": \"{pp_secret_b}\"}}\n"
        ),
    );
    let url = server.url();
    write(
        dir.path(),
        ".leakhound.toml",
        format!(
            "[providers.twilio]\nbase_url = \"{url}/twilio\"\n\n[providers.algolia]\nbase_url = \"{url}/algolia\"\n\n[providers.paypal.hosts]\n\"api-m.paypal.com\" = \"{url}/paypal-live\"\n\"api-m.sandbox.paypal.com\" = \"{url}/paypal-sandbox\"\n\n{VERIFY}"
        ),
    );
    let refused = |seg: &str| match seg {
        "twilio" => Reply::status(401).body("{\"code\":20003}"),
        "algolia" => Reply::status(403).body("{\"message\":\"Invalid Application-ID or API key\"}"),
        _ => Reply::status(401).body("{\"error\":\"invalid_client\"}"),
    };
    {
        let mut s = script.lock().unwrap();
        for seg in ["twilio", "algolia", "paypal-live", "paypal-sandbox"] {
            s.insert(seg.into(), refused(seg));
        }
    }
    let out = scan_verify(dir.path(), &[]);
    let v = verdicts(&out);
    let get = |p: &str, k: &str| v[&(p.to_string(), k.to_string())].clone();
    for (p, k) in [
        ("twilio", &token_a),
        ("algolia", &key_a),
        ("paypal", &pp_secret_a),
    ] {
        let got = get(p, k);
        assert_eq!(got["verdict"], "unknown", "{p}: {got}");
        assert_eq!(got["reason"], "pair", "{p}: {got}");
    }
    for (p, k) in [
        ("twilio", &token_b),
        ("algolia", &key_b),
        ("paypal", &pp_secret_b),
    ] {
        let got = get(p, k);
        assert_eq!(got["verdict"], "dead", "{p}: {got}");
    }
    // Both PayPal hosts were asked about each pair before a dead.
    assert_eq!(requests_to(&server, "paypal-live"), 2);
    assert_eq!(requests_to(&server, "paypal-sandbox"), 2);

    // A sandbox pair: the live API refuses it, the sandbox takes it.
    script.lock().unwrap().insert(
        "paypal-sandbox".into(),
        Reply::status(200).body("{\"app_id\":\"APP-1\"}"),
    );
    let out = scan_verify(dir.path(), &[]);
    let v = verdicts(&out);
    for k in [&pp_secret_a, &pp_secret_b] {
        let got = &v[&("paypal".to_string(), k.to_string())];
        assert_eq!(got["verdict"], "live", "{got}");
    }
}

fn hex_of(seed: &str, n: usize) -> String {
    Sha256::digest(seed)
        .iter()
        .chain(Sha256::digest(format!("{seed}+")).iter())
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..n]
        .to_string()
}

/// A key file of a default service account (Compute Engine's
/// `NNN-compute@developer`, App Engine's `@appspot`) is verified with its
/// e-mail as the partner, not left `no-pair`.
#[test]
fn default_service_accounts_are_partners() {
    let server = Server::start(|_, _| {
        Reply::status(200).body("{\"access_token\":\"x\",\"expires_in\":3599}")
    });
    let pem = rsa_key();
    let dir = tempdir();
    for (name, email) in [
        (
            "compute",
            "418273645512-compute@developer.gserviceaccount.com",
        ),
        ("appspot", "acme-prod-4821@appspot.gserviceaccount.com"),
    ] {
        let key_file = serde_json::json!({
            "type": "service_account",
            "project_id": "acme-prod-4821",
            "private_key_id": hex_of(name, 40),
            "private_key": pem,
            "client_email": email,
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        write(
            dir.path(),
            &format!("{name}/key.json"),
            serde_json::to_string_pretty(&key_file).unwrap(),
        );
    }
    write(
        dir.path(),
        ".leakhound.toml",
        format!(
            "[providers.gcp]\nbase_url = \"{}/gcp\"\n\n{VERIFY}",
            server.url()
        ),
    );
    let out = scan_verify(dir.path(), &[]);
    let gcp: Vec<Value> = out
        .findings()
        .into_iter()
        .filter(|f| f["rule_id"] == "gcp-service-account-key")
        .collect();
    assert_eq!(gcp.len(), 2, "{}", out.stdout);
    for f in &gcp {
        assert_eq!(f["verification"]["verdict"], "live", "{f}");
        assert!(
            f["verification"]["identity"]
                .as_str()
                .unwrap()
                .contains(".gserviceaccount.com"),
            "{f}"
        );
    }
    assert_eq!(server.requests().len(), 2);
}

// ------------------------------------------------------------ key shapes and tables

/// BombBomb's JWT keys and Infisical's `st.<uuid>.<hex>.<hex>` service
/// tokens are found and verified (sent in their one header).
#[test]
fn current_bombbomb_and_infisical_keys_are_verified() {
    let (server, script) = segment_server();
    let b64url = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let jwt = format!(
        "{}.{}.{}",
        b64url("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"),
        b64url(&format!(
            "{{\"sub\":\"{}\",\"aud\":\"bombbomb\",\"exp\":1796083200}}",
            alnum("bb-sub", 16)
        )),
        alnum("bb-sig", 43)
    );
    let uuid = {
        let h = hex_of("infisical-uuid", 32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    };
    let st = format!("st.{uuid}.{}.{}", hex_of("inf-a", 32), hex_of("inf-b", 32));
    let dir = tempdir();
    write(dir.path(), "a/.env", format!("BOMBBOMB_API_KEY={jwt}\n"));
    write(dir.path(), "b/.env", format!("INFISICAL_TOKEN={st}\n"));
    write(
        dir.path(),
        ".leakhound.toml",
        format!(
            "[providers.bombbomb]\nbase_url = \"{0}/bombbomb/v2\"\n\n[providers.infisical]\nbase_url = \"{0}/infisical/api/v2\"\n\n{VERIFY}",
            server.url()
        ),
    );
    {
        let mut s = script.lock().unwrap();
        s.insert("bombbomb".into(), Reply::status(200).body("[]"));
        s.insert(
            "infisical".into(),
            Reply::status(200).body("{\"name\":\"ci\"}"),
        );
    }
    let out = scan_verify(dir.path(), &[]);
    let v = verdicts(&out);
    assert_eq!(
        v[&("bombbomb".to_string(), jwt.clone())]["verdict"],
        "live",
        "{}",
        out.stdout
    );
    assert_eq!(
        v[&("infisical".to_string(), st.clone())]["verdict"],
        "live",
        "{}",
        out.stdout
    );
    for req in server.requests() {
        match segment(&req).as_str() {
            "bombbomb" => {
                assert_eq!(req.path, "/bombbomb/v2/lists/");
                assert_eq!(req.header("authorization"), vec![jwt.as_str()]);
            }
            _ => {
                assert_eq!(req.path, "/infisical/api/v2/service-token");
                assert_eq!(
                    req.header("authorization"),
                    vec![format!("Bearer {st}").as_str()]
                );
            }
        }
    }
    // Both answer 401 for a dead key.
    {
        let mut s = script.lock().unwrap();
        s.insert("bombbomb".into(), Reply::status(401));
        s.insert("infisical".into(), Reply::status(401));
    }
    let v = verdicts(&scan_verify(dir.path(), &[]));
    assert_eq!(v[&("bombbomb".to_string(), jwt)]["verdict"], "dead");
    assert_eq!(v[&("infisical".to_string(), st)]["verdict"], "dead");
}

/// SecurityTrails' 403 is not documented as an invalid key, and Sanity's
/// 200 without a user id is no proof the token is invalid: both unknown.
#[test]
fn undocumented_refusals_are_unknown() {
    let (server, script) = segment_server();
    let st_key = alnum("securitytrails-key", 32);
    let sanity = format!("sk{}", alnum("sanity-token", 80));
    let dir = tempdir();
    let examples = examples();
    // The rules' own example texts with these keys in place of theirs.
    let text_of = |provider: &str, mine: &str| -> String {
        let (_, _, text, secret) = examples
            .iter()
            .find(|(p, _, _, _)| p == provider)
            .unwrap_or_else(|| panic!("no {provider} example"));
        text.replace(secret.as_str(), mine)
    };
    write(
        dir.path(),
        "a.txt",
        text_of("securitytrails", &st_key) + "\n",
    );
    write(dir.path(), "b.txt", text_of("sanity", &sanity) + "\n");
    write(
        dir.path(),
        ".leakhound.toml",
        format!(
            "[providers.securitytrails]\nbase_url = \"{0}/securitytrails/v1\"\n\n[providers.sanity]\nbase_url = \"{0}/sanity/v1\"\n\n{VERIFY}",
            server.url()
        ),
    );
    {
        let mut s = script.lock().unwrap();
        s.insert("securitytrails".into(), Reply::status(403));
        s.insert("sanity".into(), Reply::status(200).body("{}"));
    }
    let out = scan_verify(dir.path(), &[]);
    let v = verdicts(&out);
    let found: BTreeMap<String, String> = out
        .findings()
        .iter()
        .map(|f| {
            (
                f["provider"].as_str().unwrap().to_string(),
                f["secret"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for provider in ["securitytrails", "sanity"] {
        let secret = found
            .get(provider)
            .unwrap_or_else(|| panic!("no {provider} finding: {}", out.stdout));
        let got = &v[&(provider.to_string(), secret.clone())];
        assert_eq!(got["verdict"], "unknown", "{provider}: {got}");
        assert_eq!(got["reason"], "status", "{provider}: {got}");
    }
}

/// `allow_hosts` holds revocation to the same hosts: an admin API outside
/// it gets nothing, the key is left live and the run says why; the hosts
/// the calls went to are listed.
#[test]
fn allow_hosts_restrict_revocation_too() {
    let key = crate::util::kunavo("egress-revoke");
    let admin = Arc::new(Mutex::new(0usize));
    let seen = Arc::clone(&admin);
    let server = Server::start(move |req, _| {
        if req.method == "POST" {
            *seen.lock().unwrap() += 1;
            return Reply::status(200).body("{\"revoked\":true}");
        }
        Reply::status(200)
    });
    let port = server.addr.port();
    let dir = tempdir();
    write(dir.path(), "src/.env", format!("KUNAVO_API_KEY={key}\n"));
    let config = |allow: &str| {
        write(
            dir.path(),
            ".leakhound.toml",
            format!(
                "[providers.kunavo]\nbase_url = \"http://127.0.0.1:{port}/kunavo/v1\"\n\n\
                 [providers.kunavo.revoke]\nurl = \"http://localhost:{port}/kunavo/v1/admin/keys/revoke\"\n\
                 token_env = \"EGRESS_TEST_ADMIN\"\nbody = '{{\"key\": \"{{{{key}}}}\"}}'\n\n{VERIFY}{allow}"
            ),
        );
    };
    config("allow_hosts = [\"127.0.0.1\"]\n");
    let r = run(leakhound()
        .current_dir(dir.path())
        .env("EGRESS_TEST_ADMIN", "adm-egress-test-token")
        .args([
            "scan",
            "src",
            "-c",
            ".leakhound.toml",
            "--verify",
            "--revoke",
            "--yes",
        ]));
    assert_eq!(*admin.lock().unwrap(), 0, "the admin API got a call");
    assert!(
        r.stderr.contains("egress denied"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    // Allowed, the call goes out and its host is counted.
    config("allow_hosts = [\"127.0.0.1\", \"localhost\"]\n");
    let r = run(leakhound()
        .current_dir(dir.path())
        .env("EGRESS_TEST_ADMIN", "adm-egress-test-token")
        .args([
            "scan",
            "src",
            "-c",
            ".leakhound.toml",
            "--verify",
            "--revoke",
            "--yes",
        ]));
    assert_eq!(*admin.lock().unwrap(), 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("admin API hosts contacted: localhost:{port} (1)")),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
}

// ------------------------------------------------------------ fail closed

/// With no network, `--fail-on live`, `--only-verified` and `revoke` warn
/// that keys could not be checked (stderr and the summary), and
/// `--fail-on unverified` fails; a settled (dead) key passes it.
#[test]
fn keys_that_could_not_be_checked_never_pass_silently() {
    // A port that was free a moment ago and has no listener now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let key = crate::util::kunavo("fail-closed");
    let dir = tempdir();
    write(dir.path(), "src/.env", format!("KUNAVO_API_KEY={key}\n"));
    write(
        dir.path(),
        ".leakhound.toml",
        format!("[providers.kunavo]\nbase_url = \"http://127.0.0.1:{port}/v1\"\n\n{VERIFY}"),
    );
    let scan = |args: &[&str]| {
        run(leakhound()
            .current_dir(dir.path())
            .args(["scan", "src", "-c", ".leakhound.toml", "--verify"])
            .args(args))
    };
    let warning = "1 finding of verifiable rules could not be checked";
    let r = scan(&["--fail-on", "live"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(warning), "{}", r.stderr);
    assert!(
        r.stderr.contains("--fail-on live cannot vouch"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout
            .contains("unverified: 1 finding of verifiable rules could not be checked"),
        "{}",
        r.stdout
    );
    let r = scan(&["--only-verified"]);
    assert!(r.stderr.contains(warning), "{}", r.stderr);
    assert!(r.stderr.contains("--only-verified"), "{}", r.stderr);
    let r = scan(&["--fail-on", "unverified", "--format", "json"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["stats"]["verification"]["unverified"], 1);
    // A saved report, revoked while the provider cannot be reached: the
    // key is not revoked, and the run says it could not be checked.
    let saved = run(leakhound().current_dir(dir.path()).args([
        "scan",
        "src",
        "-c",
        ".leakhound.toml",
        "--show-secrets",
        "-f",
        "json",
        "-o",
        "report.json",
    ]));
    assert_eq!(saved.code, 1, "{}", saved.stderr);
    let r = run(leakhound().current_dir(dir.path()).args([
        "revoke",
        "report.json",
        "-c",
        ".leakhound.toml",
    ]));
    assert!(
        r.stderr
            .contains("1 key could not be checked (verdict unknown)"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(r.stdout.contains("could not be checked"), "{}", r.stdout);

    // The provider answers: a dead key is settled, `unverified` passes
    // and nothing is said.
    let server = Server::start(|_, _| Reply::status(401));
    write(
        dir.path(),
        ".leakhound.toml",
        format!(
            "[providers.kunavo]\nbase_url = \"{}/v1\"\n\n{VERIFY}",
            server.url()
        ),
    );
    let r = scan(&["--fail-on", "unverified"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("could not be checked"), "{}", r.stderr);
    // Without --verify the gate is refused.
    let r = run(leakhound().current_dir(dir.path()).args([
        "scan",
        "src",
        "-c",
        ".leakhound.toml",
        "--fail-on",
        "unverified",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--fail-on unverified needs --verify"),
        "{}",
        r.stderr
    );
}

/// `--verify-allow-host` wins over the file, and names bad entries.
#[test]
fn the_allow_host_flag_replaces_the_files_list() {
    let (server, script) = segment_server();
    script
        .lock()
        .unwrap()
        .insert("v1".into(), Reply::status(200));
    let key = crate::util::kunavo("allow-flag");
    let dir = tempdir();
    write(dir.path(), "src/.env", format!("KUNAVO_API_KEY={key}\n"));
    write(
        dir.path(),
        ".leakhound.toml",
        format!(
            "[providers.kunavo]\nbase_url = \"{}/v1\"\n\n{VERIFY}allow_hosts = [\"api.kunavo.com\"]\n",
            server.url()
        ),
    );
    let scan = |args: &[&str]| {
        run(leakhound()
            .current_dir(dir.path())
            .args([
                "scan",
                "src",
                "-c",
                ".leakhound.toml",
                "--verify",
                "-f",
                "json",
            ])
            .args(args))
    };
    let r = scan(&[]);
    assert_eq!(
        r.findings()[0]["verification"]["reason"],
        "egress-denied",
        "{}",
        r.stdout
    );
    assert!(server.requests().is_empty());
    let r = scan(&["--verify-allow-host", "127.0.0.1"]);
    assert_eq!(
        r.findings()[0]["verification"]["verdict"],
        "live",
        "{}",
        r.stdout
    );
    assert_eq!(server.requests().len(), 1);
    let r = scan(&["--verify-allow-host", "*."]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--verify-allow-host"), "{}", r.stderr);
}

/// `leakhound rules hosts`: every verifiable rule with every host its keys
/// may go to, regions and revocation included; a config's overrides apply.
#[test]
fn rules_hosts_lists_every_host_a_key_may_go_to() {
    let r = run(leakhound().args(["rules", "hosts"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("newrelic-user-api-key "))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        line.contains("api.newrelic.com, api.eu.newrelic.com"),
        "{line}"
    );
    let github = r
        .stdout
        .lines()
        .find(|l| l.starts_with("github-pat-classic "))
        .unwrap();
    assert!(github.contains("[revoke: api.github.com]"), "{github}");
    assert!(r.stdout.contains("verifiable rules;"), "{}", r.stdout);
    let json = run(leakhound().args(["rules", "hosts", "--format", "json"]));
    let rows: Value = serde_json::from_str(&json.stdout).unwrap();
    let azure = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "azure-storage-account-key")
        .unwrap();
    assert_eq!(azure["verify"].as_array().unwrap().len(), 3, "{azure}");
    // `rules list --verifiable` and the manifest agree on the rules.
    let listed = run(leakhound().args(["rules", "list", "--verifiable", "--format", "json"]));
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(
        listed.as_array().unwrap().len(),
        rows.as_array().unwrap().len()
    );
    // A configured base URL replaces the declared hosts.
    let dir = tempdir();
    write(
        dir.path(),
        "lh.toml",
        "[providers.newrelic]\nbase_url = \"https://nr-proxy.acme.example/v2\"\n",
    );
    let r = run(leakhound()
        .current_dir(dir.path())
        .args(["rules", "hosts", "--config", "lh.toml"]));
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("newrelic-user-api-key "))
        .unwrap();
    assert!(line.ends_with("nr-proxy.acme.example"), "{line}");
}
