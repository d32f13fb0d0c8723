//! The hardening review (issue 16, `../shared/security-repros/`): a hostile
//! repository, a hostile server and bad luck. Each test is one reproduction
//! turned into a check through the real binary; servers are on 127.0.0.1.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::fake_provider::{Reply, Server};
use crate::util::{alnum, kunavo, leakhound, offline, pinaivu, run, tempdir, write, Run};

/// The binary, kept off the internet (see `offline`).
fn lh() -> std::process::Command {
    let mut cmd = leakhound();
    offline(&mut cmd);
    cmd
}

/// `[providers.NAME] base_url` for each of `providers`, at `server`.
fn providers_toml(server: &Server, providers: &[&str]) -> String {
    providers
        .iter()
        .map(|p| format!("[providers.{p}]\nbase_url = \"{}/{p}/v1\"\n", server.url()))
        .collect()
}

/// The keys a server was sent, whatever header carried them.
fn keys_sent(server: &Server) -> Vec<String> {
    server.requests().iter().map(|r| r.key()).collect()
}

fn refused(r: &Run, what: &str) {
    assert_eq!(r.code, 2, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(what), "{}", r.stderr);
    assert!(r.stderr.contains("not trusted"), "{}", r.stderr);
    assert!(r.stderr.contains("--config"), "{}", r.stderr);
}

// ------------------------------------------------------------------ C1

/// The tree of repro 01: a key inside, a link to a key outside, a link to
/// the scanner's own environment.
fn hostile_tree(root: &Path, outside_key: &str) -> std::path::PathBuf {
    write(
        root,
        "outside/runner-secret.env",
        format!("PINAIVU_API_KEY={outside_key}\n"),
    );
    let repo = root.join("repo");
    write(
        &repo,
        "app.env",
        format!("KUNAVO_API_KEY=\"{}\"\n", kunavo("c1-inside")),
    );
    std::os::unix::fs::symlink(
        root.join("outside/runner-secret.env"),
        repo.join("cache.env"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", repo.join("env.txt")).unwrap();
    repo
}

#[test]
fn c1_a_discovered_config_cannot_send_outside_keys_anywhere() {
    let server = Server::start(|_, _| Reply::status(401));
    let dir = tempdir();
    let outside = pinaivu("c1-outside");
    let env_key = kunavo("c1-environment");
    let repo = hostile_tree(dir.path(), &outside);
    write(
        &repo,
        ".leakhound.toml",
        format!(
            "[scan]\nfollow = true\n{}",
            providers_toml(&server, &["kunavo", "pinaivu"])
        ),
    );
    let r = run(lh().current_dir(&repo).env("DEPLOY_TOKEN", &env_key).args([
        "scan",
        ".",
        "--verify",
        "--fail-on",
        "live",
        "-q",
    ]));
    refused(&r, "[providers.kunavo]");
    assert!(keys_sent(&server).is_empty(), "{:?}", keys_sent(&server));

    // Each widening setting on its own is refused too.
    for (toml, what) in [
        ("[scan]\nfollow = true\n".to_string(), "[scan] follow"),
        ("[verify]\ncache_dir = \"/tmp/lh-c1\"\n".to_string(), "[verify] cache_dir"),
        (
            "[[rules]]\nid = \"innocent-looking-rule\"\ndescription = \"x\"\nprovider = \"kindo\"\n\
             severity = \"high\"\nregex = '''(?i)(?:secret|token|key)[a-z_]*\\s*[=:]\\s*([^\\s'\"]{8,})'''\n\
             keywords = [\"secret\", \"token\", \"key\"]\n"
                .to_string(),
            "innocent-looking-rule",
        ),
    ] {
        write(&repo, ".leakhound.toml", &toml);
        let r = run(lh().current_dir(&repo).args(["scan", ".", "-q"]));
        refused(&r, what);
    }
}

#[test]
fn c1_a_named_config_is_trusted_but_its_follow_stays_inside_the_tree() {
    let server = Server::start(|_, _| Reply::status(401));
    let dir = tempdir();
    let outside = pinaivu("c1-outside-2");
    let env_key = kunavo("c1-environment-2");
    let repo = hostile_tree(dir.path(), &outside);
    write(
        &repo,
        ".leakhound.toml",
        format!(
            "[scan]\nfollow = true\n{}",
            providers_toml(&server, &["kunavo", "pinaivu"])
        ),
    );
    // Named on the command line: the user vouches for it.
    let r = run(lh()
        .current_dir(dir.path())
        .env("DEPLOY_TOKEN", &env_key)
        .args([
            "scan",
            "repo",
            "--config",
            "repo/.leakhound.toml",
            "--verify",
        ])
        .args(["-f", "json", "--show-secrets"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let sent = keys_sent(&server);
    assert_eq!(
        sent,
        vec![kunavo("c1-inside")],
        "only the key inside the tree"
    );
    let skipped = r.json()["stats"]["skipped"].to_string();
    assert!(
        skipped.contains("cache.env") && skipped.contains("out of the scanned paths"),
        "{skipped}"
    );

    // `--follow` on the command line is the user's own choice.
    let r = run(lh()
        .current_dir(dir.path())
        .args([
            "scan",
            "repo",
            "--config",
            "repo/.leakhound.toml",
            "--follow",
        ])
        .args(["-f", "json", "--show-secrets"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(crate::util::secrets(&r).contains(&outside), "{}", r.stdout);
}

#[test]
fn c1_the_user_config_is_trusted() {
    let server = Server::start(|_, _| Reply::status(401));
    let dir = tempdir();
    let key = kunavo("c1-user");
    write(
        dir.path(),
        "repo/app.env",
        format!("KUNAVO_API_KEY=\"{key}\"\n"),
    );
    write(
        dir.path(),
        "xdg/leakhound/config.toml",
        providers_toml(&server, &["kunavo"]),
    );
    // A discovered file (found from the current directory) may still set
    // what cannot widen the scan; this one hides a file, which shows that
    // it was read.
    write(
        dir.path(),
        "repo/hidden.env",
        format!("TOKEN=\"{}\"\n", kunavo("c1-hidden")),
    );
    write(
        dir.path(),
        "repo/.leakhound.toml",
        "[allowlist]\npaths = [\"hidden.env\"]\n",
    );
    let repo = dir.path().join("repo");
    let r = run(lh()
        .current_dir(&repo)
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .args(["scan", ".", "--verify"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    // Both files read: the user's sent the key to its server, the
    // discovered one hid hidden.env, and the summary names both.
    assert_eq!(keys_sent(&server), vec![key.clone()]);
    assert!(r.stdout.contains("app.env"), "{}", r.stdout);
    assert!(!r.stdout.contains("hidden.env"), "{}", r.stdout);
    let user = dir.path().join("xdg/leakhound/config.toml");
    assert!(
        r.stdout
            .contains(&format!("config: {}, .leakhound.toml", user.display())),
        "{}",
        r.stdout
    );
    // --no-config reads neither file: hidden.env is reported, and with
    // --verify nothing reaches the user config's server (the key goes to
    // Kunavo's own URL, which `offline` sends to a dead proxy).
    let r = run(lh()
        .current_dir(&repo)
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .args(["scan", ".", "--no-config", "--verify"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("hidden.env"), "{}", r.stdout);
    assert!(r.stdout.contains("config: none"), "{}", r.stdout);
    assert_eq!(keys_sent(&server), vec![key], "the user config was read");
}

// ------------------------------------------------------------------ H1

#[test]
fn h1_a_word_in_a_comment_never_sends_other_shapes_to_kindo() {
    let server = Server::start(|_, _| Reply::status(401));
    let dir = tempdir();
    let openai = format!("sk-{}", alnum("h1-openai", 48));
    let stripe = format!("sk_live_{}", alnum("h1-stripe", 32));
    write(
        dir.path(),
        "repo/settings.py",
        format!(
            "# LLM router: supported backends are openai, anthropic and kindo\n\
             OPENAI_API_KEY = \"{openai}\"\nSTRIPE_API_KEY = \"{stripe}\"\n\
             KINDO_API_KEY = \"{stripe}\"\n"
        ),
    );
    write(
        dir.path(),
        "cfg.toml",
        providers_toml(&server, &["kindo", "konnect", "synstar"]),
    );
    for gate in [&[][..], &["--fail-on", "live"][..]] {
        let r = run(lh()
            .current_dir(dir.path())
            .args(["scan", "repo", "-c", "cfg.toml", "--verify"])
            .args(["-f", "json", "--show-secrets"])
            .args(gate));
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
        assert!(!r.findings().is_empty(), "{}", r.stdout);
        for f in r.findings() {
            assert!(
                !f["rule_id"].as_str().unwrap().starts_with("kindo") || f["ambiguous"] == true,
                "a shaped key claimed by a Kindo rule: {f}"
            );
            assert_ne!(f["verification"]["verdict"], "dead", "{f}");
        }
    }
    let to_kindo: Vec<String> = server
        .requests_to("/kindo")
        .iter()
        .map(|r| r.key())
        .collect();
    assert!(to_kindo.is_empty(), "sent to Kindo: {to_kindo:?}");
}

#[test]
fn h1_a_dead_answer_from_a_provider_chosen_by_context_alone_stays_unknown() {
    let server = Server::start(|_, _| Reply::status(401));
    let dir = tempdir();
    let by_context = alnum("h1-context", 32);
    let by_name = alnum("h1-name", 32);
    write(
        dir.path(),
        "repo/client.py",
        format!(
            "client = OpenAI(\n    api_key=\"{by_context}\",\n    base_url=\"https://api.kindo.ai/v1\",\n)\n"
        ),
    );
    write(
        dir.path(),
        "repo/.env",
        format!("KINDO_API_KEY={by_name}\n"),
    );
    write(dir.path(), "cfg.toml", providers_toml(&server, &["kindo"]));
    let r = run(lh()
        .current_dir(dir.path())
        .args(["scan", "repo", "-c", "cfg.toml", "--verify"])
        .args(["-f", "json", "--show-secrets"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let findings = r.findings();
    let of = |k: &str| {
        findings
            .iter()
            .find(|f| f["secret"] == k)
            .unwrap_or_else(|| panic!("no finding for {k}: {}", r.stdout))
            .clone()
    };
    // Sent only to the provider the evidence chose, once each.
    assert_eq!(server.requests_to("/kindo").len(), 2);
    let c = of(&by_context);
    assert_eq!(c["verification"]["verdict"], "unknown", "{c}");
    assert_eq!(c["verification"]["reason"], "attribution", "{c}");
    // A Kindo-named variable is the provider's own evidence: dead is dead.
    assert_eq!(of(&by_name)["verification"]["verdict"], "dead");
}

// ------------------------------------------------------------------ H3

/// A server that sends its status and headers at once, then one body byte
/// every 200 ms for far longer than any test runs.
fn drip_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::{BufRead, BufReader, Write};
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                let mut stream = stream;
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
                for _ in 0..100_000 {
                    if stream
                        .write_all(b" ")
                        .and_then(|()| stream.flush())
                        .is_err()
                    {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
        }
    });
    format!("http://{addr}")
}

/// Run `cmd`, killing it after `limit`; its output and how long it took.
fn run_bounded(cmd: &mut std::process::Command, limit: Duration) -> (Run, Duration) {
    let started = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let killer = std::thread::spawn(move || {
        while started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(100));
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.is_empty() || stat.contains(") Z ") {
                return;
            }
        }
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    });
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let _ = killer.join();
    (
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        took,
    )
}

#[test]
fn h3_verify_timeout_bounds_the_whole_request_body_included() {
    let url = drip_server();
    let dir = tempdir();
    write(
        dir.path(),
        "repo/a.env",
        format!("KUNAVO_API_KEY=\"{}\"\n", kunavo("h3")),
    );
    write(
        dir.path(),
        "cfg.toml",
        format!("[providers.kunavo]\nbase_url = \"{url}/v1\"\n"),
    );
    let (r, took) = run_bounded(
        lh().current_dir(dir.path())
            .args(["scan", "repo", "-c", "cfg.toml", "--verify"])
            .args(["--verify-timeout", "2s", "-f", "json"]),
        Duration::from_secs(40),
    );
    assert!(
        took < Duration::from_secs(8),
        "took {took:?} with --verify-timeout 2s"
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = &r.findings()[0]["verification"];
    assert_eq!(v["verdict"], "unknown", "{v}");
    assert_eq!(v["reason"], "timeout", "{v}");
}

// ------------------------------------------------------------------ M2

/// Characters XML 1.0 allows (`Char`).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r')
        || ('\u{20}'..='\u{d7ff}').contains(&c)
        || ('\u{e000}'..='\u{fffd}').contains(&c)
        || ('\u{10000}'..='\u{10ffff}').contains(&c)
}

#[test]
fn m2_junit_never_carries_characters_xml_forbids() {
    let dir = tempdir();
    write(
        dir.path(),
        "d/a.env",
        format!("KUNAVO_API_KEY=\"{}\" # \u{ffff}\u{fffe}\n", kunavo("m2")),
    );
    write(
        dir.path(),
        "d/f\u{fffe}\u{ffff}.env",
        format!("KUNAVO_API_KEY=\"{}\"\n", kunavo("m2b")),
    );
    let r = run(lh()
        .current_dir(dir.path())
        .args(["scan", "d", "-f", "junit"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("<testsuites"), "{}", r.stdout);
    assert_eq!(r.stdout.matches("<failure").count(), 2, "{}", r.stdout);
    let bad: Vec<char> = r.stdout.chars().filter(|c| !is_xml_char(*c)).collect();
    assert!(
        bad.is_empty(),
        "XML-invalid characters {bad:?} in:\n{}",
        r.stdout
    );
}

// ------------------------------------------------------------------ M3, M4, L2

/// No line may start a workflow command (except the `github` format's own)
/// or carry `##[` or a raw control character.
fn assert_inert(what: &str, text: &str, github_format: bool) {
    for line in text.lines() {
        if github_format {
            assert!(
                ["::error ", "::warning ", "::notice "]
                    .iter()
                    .any(|p| line.starts_with(p)),
                "{what}: {line}"
            );
        } else {
            assert!(
                !line.trim_start().starts_with("::"),
                "{what}: a line starts with `::`: {line}"
            );
        }
        assert!(!line.contains("##["), "{what}: `##[` in: {line}");
        assert!(
            !line.chars().any(|c| c.is_control() && c != '\t'),
            "{what}: a control character in: {line:?}"
        );
    }
}

#[test]
fn m3_m4_repository_text_cannot_emit_workflow_commands_or_escapes() {
    let dir = tempdir();
    let root = dir.path();
    let key = kunavo("m3");
    write(
        root,
        "::error title=Injected by a file name::owned",
        format!("KUNAVO_API_KEY=\"{key}\"\n"),
    );
    write(
        root,
        "app.env",
        format!("KUNAVO_API_KEY=\"{key}\" ##[error]injected mid-line ##[stop-commands]tok\n"),
    );
    write(
        root,
        "b\u{1b}]0;TITLE\u{7}\u{1b}[2Jx.env",
        format!("KUNAVO_API_KEY=\"{key}\"\n"),
    );
    write(
        root,
        ".leakhound.toml",
        "[[rules]]\nid = \"acme-token\"\ndescription = \"ACME\\u001b]0;PWNED\\u0007\\u001b[2J ##[error]x\"\n\
         provider = \"acme\"\nseverity = \"high\"\nregex = '''(acme_[a-z0-9]{20})'''\nkeywords = [\"acme_\"]\n",
    );
    write(root, "acme.txt", "token = acme_q8w7e6r5t4y3u2i1o0pz\n");
    for format in ["text", "github", "markdown"] {
        let r = run(lh()
            .current_dir(root)
            .args(["scan", ".", "--color", "never", "-f", format]));
        assert_eq!(r.code, 1, "{format}: {}", r.stderr);
        assert!(r.stdout.contains("acme"), "{format}: {}", r.stdout);
        if format == "github" {
            // The rule's description, escaped.
            assert!(r.stdout.contains("PWNED"), "{format}: {}", r.stdout);
        }
        assert_inert(format, &r.stdout, format == "github");
        assert_inert(format, &r.stderr, false);
    }

    // Commit subjects and author names, in a history scan.
    let repo = crate::gitutil::Repo::init();
    repo.write("a.env", &format!("KUNAVO_API_KEY=\"{key}\"\n"));
    repo.git(&["add", "-A"]);
    let mut c = std::process::Command::new("git");
    crate::gitutil::isolate(&mut c);
    let out = c
        .current_dir(repo.path())
        .env("GIT_AUTHOR_NAME", "##[add-mask]sk-kunavo-")
        .args(["commit", "-qm", "fix ##[error file=README.md,line=1]owned"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = run(leakhound()
        .current_dir(repo.path())
        .args(["scan", "--git", ".", "--color", "never"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("add-mask"), "{}", r.stdout);
    assert_inert("git text", &r.stdout, false);
}

#[test]
fn l2_config_errors_do_not_echo_raw_values() {
    let dir = tempdir();
    write(dir.path(), "repo/a.txt", "x\n");
    write(
        dir.path(),
        ".leakhound.toml",
        "disabled_rules = [\"x\\u001b]0;PWNED\\u0007\\u001b[2J\\n::error title=cfg::injected ##[error]y\"]\n",
    );
    let r = run(lh().current_dir(dir.path()).args(["scan", "repo"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("disabled_rules"), "{}", r.stderr);
    assert!(r.stderr.contains("PWNED"), "shown, escaped: {}", r.stderr);
    assert_inert("stderr", &r.stderr, false);
}

// ------------------------------------------------------------------ M7

#[test]
fn m7_config_values_are_bounded_with_errors_naming_file_and_key() {
    let dir = tempdir();
    write(dir.path(), "repo/a.txt", "x\n");
    for (toml, key) in [
        ("[scan]\nthreads = 2000\n", "scan.threads"),
        (
            "[scan]\nmax_file_size = \"999999G\"\n",
            "scan.max_file_size",
        ),
        (
            "[verify]\nretries = 4000000000\nmax_wait = 0\n",
            "verify.retries",
        ),
        ("[verify]\ntimeout = \"9999999h\"\n", "verify.timeout"),
        ("[verify]\nconcurrency = 100000\n", "verify.concurrency"),
        ("[verify]\ncache_ttl = \"99999d\"\n", "verify.cache_ttl"),
    ] {
        write(dir.path(), "cfg.toml", toml);
        let r = run(lh()
            .current_dir(dir.path())
            .args(["scan", "repo", "-c", "cfg.toml", "--verify"]));
        assert_eq!(r.code, 2, "{toml}: {}", r.stderr);
        assert!(
            r.stderr.contains("cfg.toml") && r.stderr.contains(key),
            "{toml}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("limit"), "{toml}: {}", r.stderr);
    }
    // A discovered file is bounded too, and so is a flag.
    write(dir.path(), ".leakhound.toml", "[scan]\nthreads = 20000\n");
    let r = run(lh().current_dir(dir.path()).args(["scan", "repo"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("scan.threads"), "{}", r.stderr);
    let r = run(lh()
        .current_dir(dir.path())
        .args(["scan", "repo", "--no-config", "-j", "5000"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--threads"), "{}", r.stderr);
}

// ------------------------------------------------------------------ L3

#[test]
fn l3_a_cache_entry_from_the_future_is_not_trusted() {
    let server = Server::start(|_, _| Reply::status(200));
    let dir = tempdir();
    write(
        dir.path(),
        "repo/a.env",
        format!("KUNAVO_API_KEY=\"{}\"\n", kunavo("l3")),
    );
    write(dir.path(), "cfg.toml", providers_toml(&server, &["kunavo"]));
    let scan = |extra: &[&str]| {
        run(lh()
            .current_dir(dir.path())
            .args(["scan", "repo", "-c", "cfg.toml", "--verify"])
            .args(["--verify-cache", "cache", "-f", "json"])
            .args(extra))
    };
    let r = scan(&[]);
    assert_eq!(
        r.findings()[0]["verification"]["verdict"],
        "live",
        "{}",
        r.stdout
    );
    let entries: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(entries.len(), 1);
    std::fs::write(
        entries[0].path(),
        r#"{"verdict":"dead","status":401,"detail":"x","provider":"kunavo","checked_at":99999999999}"#,
    )
    .unwrap();
    let r = scan(&["--fail-on", "live"]);
    assert_eq!(r.code, 1, "the key is live: {}", r.stdout);
    let v = &r.findings()[0]["verification"];
    assert_eq!(v["verdict"], "live", "{v}");
    assert_ne!(v["cached"], true, "{v}");
    assert_eq!(server.requests().len(), 2);
}

// ------------------------------------------------------------------ L4

#[test]
fn l4_a_report_never_overwrites_an_input_or_another_report() {
    let dir = tempdir();
    let text = format!("KUNAVO_API_KEY=\"{}\"\n", kunavo("l4"));
    write(dir.path(), "in.env", &text);
    for out in ["in.env", "./in.env"] {
        let r = run(lh()
            .current_dir(dir.path())
            .args(["scan", "in.env", "-o", out]));
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("input"), "{}", r.stderr);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("in.env")).unwrap(),
            text
        );
    }
    let r = run(lh()
        .current_dir(dir.path())
        .args(["scan", "in.env", "-f", "json", "-o", "same.json"])
        .args(["--report", "sarif=same.json"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("same.json"), "{}", r.stderr);
    assert!(!dir.path().join("same.json").exists());
}

// ------------------------------------------------------------------ L5

#[test]
fn l5_a_misspelt_provider_is_an_error_on_every_run() {
    let dir = tempdir();
    write(
        dir.path(),
        "repo/a.env",
        format!("KUNAVO_API_KEY=\"{}\"\n", kunavo("l5")),
    );
    write(
        dir.path(),
        "cfg.toml",
        "[providers.kunvao]\nbase_url = \"https://api.kunavo.com/v1\"\n",
    );
    let r = run(lh()
        .current_dir(dir.path())
        .args(["scan", "repo", "-c", "cfg.toml"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("[providers.kunvao]"), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `kunavo`"), "{}", r.stderr);
}

// ------------------------------------------------------------------ L6

#[test]
fn l6_verify_follows_the_rule_not_the_reports_provider_field() {
    let server = Server::start(|_, _| Reply::status(401));
    let dir = tempdir();
    write(
        dir.path(),
        "repo/a.env",
        format!("KUNAVO_API_KEY=\"{}\"\n", kunavo("l6")),
    );
    write(
        dir.path(),
        "cfg.toml",
        providers_toml(&server, &["kunavo", "kindo"]),
    );
    let r = run(lh().current_dir(dir.path()).args([
        "scan",
        "repo",
        "-f",
        "json",
        "--show-secrets",
        "-o",
        "report.json",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let path = dir.path().join("report.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text.replacen("\"provider\": \"kunavo\"", "\"provider\": \"kindo\"", 1);
    assert_ne!(text, changed, "the report names its provider");
    std::fs::write(&path, changed).unwrap();
    for cmd in ["verify", "revoke"] {
        let r = run(lh()
            .current_dir(dir.path())
            .args([cmd, "report.json", "-c", "cfg.toml"]));
        assert_eq!(r.code, 2, "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("kunavo-api-key"), "{cmd}: {}", r.stderr);
    }
    assert!(server.requests().is_empty(), "{:?}", keys_sent(&server));
}

// ------------------------------------------------------------------ L9

#[test]
fn l9_sigterm_writes_the_report_of_what_was_done_and_counts_the_request() {
    let server = Server::start(|_, _| Reply::status(200).delay(Duration::from_secs(30)));
    let dir = tempdir();
    write(
        dir.path(),
        "repo/a.env",
        format!("KUNAVO_API_KEY=\"{}\"\n", kunavo("l9")),
    );
    write(dir.path(), "cfg.toml", providers_toml(&server, &["kunavo"]));
    // A report from an earlier run must never pass for this one's.
    write(
        dir.path(),
        "report.json",
        "{\"findings\": [], \"old\": true}",
    );
    let child = lh()
        .current_dir(dir.path())
        .args(["scan", "repo", "-c", "cfg.toml", "--verify"])
        .args(["-f", "json", "-o", "report.json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    server.wait_for(1, Duration::from_secs(20));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert!(report.get("old").is_none(), "{report}");
    let f = &report["findings"][0];
    assert_eq!(f["verification"]["reason"], "interrupted", "{f}");
    assert_eq!(
        report["stats"]["verification"]["requests"], 1,
        "{}",
        report["stats"]
    );
    // No temporary file is left beside it.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

// ------------------------------------------------------------------ L10

#[test]
fn l10_quiet_still_says_why_the_exit_status_is_2() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    write(dir.path(), "repo/a.txt", "x\n");
    write(dir.path(), "repo/locked.txt", "y\n");
    let locked = dir.path().join("repo/locked.txt");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = lh();
    // Root reads anything: drop to `nobody` when the suite runs as root.
    if std::fs::read(&locked).is_ok() {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_leakhound"))
            .env("XDG_CONFIG_HOME", "/nonexistent/leakhound-test-config");
    }
    let r = run(cmd.current_dir(dir.path()).args(["scan", "repo", "-q"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("could not be read"), "{}", r.stderr);
}
