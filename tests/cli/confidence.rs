//! Confidence and credential files (issue 21): every credential file kind
//! and password field, with a real password and with each placeholder;
//! word-like passwords reported in credential files and lowered in code;
//! the confidence in every report format, parsed.

use crate::util::*;

/// A word-like password, built at run time so that this file holds none.
fn word_password(n: u32) -> String {
    let words = ["hunter", "admin", "Pass!", "RedisPass"];
    let w = words[n as usize % words.len()];
    format!("{w}{}", 12 + n * 7)
}

const PLACEHOLDERS: &[&str] = &[
    "password",
    "changeme",
    "<password>",
    "${DB_PASSWORD}",
    "%(password)s",
    "****",
    "your-password",
    "",
];

/// (path, file text with `{v}` where the password goes).
const FILES: &[(&str, &str)] = &[
    (".netrc", "machine ftp.acme.io login backup password {v}\n"),
    (".pgpass", "db.acme.io:5432:orders:app:{v}\n"),
    (".git-credentials", "https://deploy:{v}@git.acme.io\n"),
    (".pypirc", "[pypi]\nusername = acme\npassword = {v}\n"),
    (
        "home/.kube/config",
        "users:\n- name: admin\n  user:\n    username: admin\n    password: {v}\n",
    ),
    (".my.cnf", "[client]\nuser=root\npassword={v}\n"),
    (
        "FileZilla/sitemanager.xml",
        "<Server><Host>ftp.acme.io</Host><Pass>{v}</Pass></Server>\n",
    ),
    (
        ".dbeaver/data-sources.json",
        "{\"configuration\": {\"user\": \"app\", \"password\": \"{v}\"}}\n",
    ),
    (
        "robo3t.json",
        "{\"credentials\": [{\"userName\": \"app\", \"userPassword\": \"{v}\"}]}\n",
    ),
    (
        ".idea/dataSources.xml",
        "<data-source><property name=\"password\" value=\"{v}\"/></data-source>\n",
    ),
    (
        "sftp-config.json",
        "{\n  \"host\": \"web.acme.io\",\n  \"password\": \"{v}\",\n}\n",
    ),
    (
        "src/main/resources/application.properties",
        "spring.datasource.password={v}\n",
    ),
    ("wp-config.php", "<?php\ndefine( 'DB_PASSWORD', '{v}' );\n"),
    ("includes/config.php", "<?php\n$db_pass = '{v}';\n"),
    (".env", "DB_HOST=db\nDB_PASSWORD={v}\n"),
    ("tests/fixtures/.env", "REDIS_PASSWORD={v}\n"),
    ("conf/app.ini", "[database]\npassword = {v}\n"),
    ("deploy/values.yaml", "database:\n  password: {v}\n"),
    (
        "config/db.json",
        "{\"user\": \"app\", \"password\": \"{v}\"}\n",
    ),
    ("config/db.xml", "<db><password>{v}</password></db>\n"),
    (
        "db/dump.sql",
        "CREATE USER 'app'@'%' IDENTIFIED BY '{v}';\n",
    ),
    (
        "config/odbc.ini",
        "conn = Driver={ODBC};Server=db.acme.io;Uid=app;Pwd={v};\n",
    ),
    (
        "Web.config",
        "<add name=\"db\" connectionString=\"Server=db;User Id=app;Password={v};\" />\n",
    ),
    (
        "docker-compose.yml",
        "environment:\n  DATABASE_URL: postgres://app:{v}@db:5432/app\n",
    ),
];

fn confidence_of(f: &serde_json::Value) -> &str {
    f["confidence"]
        .as_str()
        .expect("every finding has a confidence")
}

#[test]
fn credential_files_report_word_like_passwords_and_no_placeholder() {
    let dir = tempdir();
    let d = dir.path();
    let mut planted = Vec::new();
    for (i, (path, text)) in FILES.iter().enumerate() {
        let pw = word_password(i as u32);
        write(d, &format!("pos/{i}/{path}"), text.replace("{v}", &pw));
        planted.push((format!("pos/{i}/{path}"), pw));
        for (j, p) in PLACEHOLDERS.iter().enumerate() {
            write(d, &format!("neg/{i}-{j}/{path}"), text.replace("{v}", p));
        }
    }
    let r = scan_json(d, &["--no-ignore", "--min-confidence", "low", "pos", "neg"]);
    let findings = r.findings();
    for (path, pw) in &planted {
        let f = findings
            .iter()
            .find(|f| f["path"] == path.as_str() && f["secret"] == pw.as_str())
            .unwrap_or_else(|| panic!("{path}: {pw} not found:\n{}", r.stdout));
        assert_ne!(confidence_of(f), "low", "{path}: {f}");
    }
    let negatives: Vec<_> = findings
        .iter()
        .filter(|f| f["path"].as_str().unwrap().starts_with("neg/"))
        .collect();
    assert!(negatives.is_empty(), "placeholders reported: {negatives:?}");
}

#[test]
fn hex_session_secrets_and_framework_keys_are_found() {
    let dir = tempdir();
    let d = dir.path();
    // Drawn, not typed: a value that repeats itself is a made-up one.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let hex128: String = (0..128)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"0123456789abcdef"[(x >> 60) as usize] as char
        })
        .collect();
    let hex32 = &hex128[5..37];
    write(
        d,
        "config/secrets.yml",
        format!("production:\n  secret_key_base: {hex128}\n"),
    );
    write(
        d,
        "config/service.yml",
        format!("service:\n  api_key: {hex32}\n"),
    );
    let r = scan_json(d, &["--no-ignore", "--min-confidence", "low"]);
    let found: Vec<(&str, &str)> = r
        .findings()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["secret"].as_str().unwrap()))
        .map(|(p, s)| {
            (
                if p.contains("secrets") {
                    "secrets"
                } else {
                    "service"
                },
                s,
            )
        })
        .map(|(p, s)| {
            (
                p,
                if s == hex128 {
                    "128"
                } else if s == hex32 {
                    "32"
                } else {
                    "?"
                },
            )
        })
        .collect();
    assert!(found.contains(&("secrets", "128")), "{}", r.stdout);
    assert!(found.contains(&("service", "32")), "{}", r.stdout);
}

#[test]
fn word_likeness_lowers_confidence_in_code_but_a_credential_file_outranks_a_test_path() {
    let dir = tempdir();
    let d = dir.path();
    let pw = word_password(3);
    write(d, "src/app.py", format!("password = \"{pw}\"\n"));
    write(
        d,
        "docs/setup.md",
        format!("Set `DB_PASSWORD={pw}` for example.\n"),
    );
    write(d, "tests/fixtures/.env", format!("DB_PASSWORD={pw}\n"));
    write(d, ".env", format!("DB_PASSWORD={pw}\n"));
    let r = scan_json(d, &["--no-ignore", "--min-confidence", "low"]);
    let conf = |path: &str| {
        r.findings()
            .iter()
            .find(|f| f["path"] == path)
            .map(|f| confidence_of(f).to_string())
            .unwrap_or_else(|| panic!("{path}: no finding:\n{}", r.stdout))
    };
    assert_eq!(conf("src/app.py"), "low");
    assert_eq!(conf("docs/setup.md"), "low");
    // A word-like password (low in code) is raised by its credential
    // file, under a test path too.
    assert_eq!(conf("tests/fixtures/.env"), "medium");
    assert_eq!(conf(".env"), "medium");
    // A prefixed key in code is high.
    write(
        d,
        "src/k.py",
        format!("KEY = \"{}\"\n", kunavo("confidence")),
    );
    let r = scan_json(d, &["--no-ignore", "--min-confidence", "low"]);
    let f = r
        .findings()
        .into_iter()
        .find(|f| f["path"] == "src/k.py")
        .unwrap();
    assert_eq!(confidence_of(&f), "high");
}

#[test]
fn the_default_holds_back_low_findings_and_counts_them() {
    let dir = tempdir();
    let d = dir.path();
    let pw = word_password(1);
    write(d, "src/app.py", format!("password = \"{pw}\"\n"));
    write(d, ".env", format!("DB_PASSWORD={pw}\n"));
    let r = scan_json(d, &["--no-ignore"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let paths: Vec<String> = r
        .findings()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paths, [".env"]);
    let stats = &r.json()["stats"];
    assert_eq!(stats["held_back"]["low"], 1, "{stats}");
    assert_eq!(stats["held_back"]["medium"], 0, "{stats}");
    // The text summary says so.
    let text = run(leakhound().current_dir(d).args(["scan", "--no-ignore"]));
    assert!(
        text.stdout.contains("held back: 1 finding"),
        "{}",
        text.stdout
    );
    // Only low findings: nothing reported, exit 0.
    std::fs::remove_file(d.join(".env")).unwrap();
    let r = scan_json(d, &["--no-ignore"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // `high` holds back the medium ones too; a config file may set it.
    write(d, ".leakhound.toml", "[scan]\nmin_confidence = \"low\"\n");
    let r = scan_json(d, &["--no-ignore", "--config", ".leakhound.toml"]);
    assert_eq!(r.findings().len(), 1, "{}", r.stdout);
    write(
        d,
        ".leakhound.toml",
        "[scan]\nmin_confidence = \"certain\"\n",
    );
    let r = scan_json(d, &["--no-ignore", "--config", ".leakhound.toml"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("min_confidence"), "{}", r.stderr);
    let r = scan_json(d, &["--no-ignore", "--min-confidence", "sure"]);
    assert_eq!(r.code, 2);
}

/// The attributes of the first element `<tag …>` in `html` whose
/// attributes include `class="{class}"`: name and unescaped value.
fn element_attributes(html: &str, tag: &str, class: &str) -> Vec<(String, String)> {
    let open = format!("<{tag} ");
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let start = i + open.len();
        let end = start + rest[start..].find('>').expect("tag closes");
        let mut attrs = Vec::new();
        let mut s = &rest[start..end];
        while let Some(eq) = s.find("=\"") {
            let name = s[..eq].trim().to_string();
            let after = &s[eq + 2..];
            let close = after.find('"').expect("quoted value");
            attrs.push((name, after[..close].replace("&quot;", "\"")));
            s = &after[close + 1..];
        }
        if attrs.iter().any(|(n, v)| n == "class" && v == class) {
            return attrs;
        }
        rest = &rest[end..];
    }
    Vec::new()
}

#[test]
fn confidence_appears_in_every_format() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "src/k.py", format!("KEY = \"{}\"\n", kunavo("formats")));
    let out = |format: &str| {
        let r = run(leakhound()
            .current_dir(d)
            .args(["scan", "--no-ignore", "--format", format]));
        assert_eq!(r.code, 1, "{format}: {}", r.stderr);
        r.stdout
    };
    // JSON and JSONL.
    let json: serde_json::Value = serde_json::from_str(&out("json")).unwrap();
    assert_eq!(json["findings"][0]["confidence"], "high");
    let first: serde_json::Value =
        serde_json::from_str(out("jsonl").lines().next().unwrap()).unwrap();
    assert_eq!(first["confidence"], "high");
    // SARIF: rank and a property; the level stays the severity's.
    let sarif: serde_json::Value = serde_json::from_str(&out("sarif")).unwrap();
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["properties"]["confidence"], "high");
    assert!(result["rank"].as_f64().unwrap() > 80.0, "{result}");
    assert_eq!(result["level"], "error");
    // Text: the finding's header line ends with its confidence.
    let text = out("text");
    let header: Vec<&str> = text.lines().next().unwrap().split("  ").collect();
    assert_eq!(header.last(), Some(&"high confidence"), "{text}");
    // Markdown: a Confidence column.
    let md = out("markdown");
    let rows: Vec<Vec<String>> = md
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    let col = rows[0]
        .iter()
        .position(|c| c == "Confidence")
        .expect("column");
    assert_eq!(rows[2][col], "high", "{md}");
    // JUnit: a property of the test case.
    let xml = out("junit");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let prop = doc
        .descendants()
        .find(|n| n.has_tag_name("property") && n.attribute("name") == Some("confidence"))
        .expect("confidence property");
    assert_eq!(prop.attribute("value"), Some("high"));
    // GitHub annotations: in the title.
    let gh = out("github");
    let command = gh.lines().find(|l| l.starts_with("::error ")).unwrap();
    let props = command
        .trim_start_matches("::error ")
        .split("::")
        .next()
        .unwrap();
    let title = props
        .split(',')
        .find_map(|p| p.strip_prefix("title="))
        .unwrap();
    assert!(title.ends_with("(high confidence)"), "{title}");
    // HTML: the row's data attribute and the filter's options.
    let html = out("html");
    let row = element_attributes(&html, "tbody", "finding");
    assert!(
        row.contains(&("data-confidence".to_string(), "high".to_string())),
        "{row:?}"
    );
    assert!(
        html.contains("<select id=\"confidence\">"),
        "the confidence filter"
    );
}

#[test]
fn held_back_findings_are_verified_and_a_live_one_is_reported() {
    use crate::fake_provider::{Reply, Server};
    let live = kunavo("held-back-live");
    let dead = kunavo("held-back-dead");
    let (l, d2) = (live.clone(), dead.clone());
    let server = Server::start(move |req, _| {
        let key = req.key();
        if key == l {
            Reply::status(200)
        } else if key == d2 {
            Reply::status(401)
        } else {
            Reply::status(404)
        }
    });
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        ".leakhound.toml",
        format!(
            "[providers.kunavo]\nbase_url = \"{}/kunavo/v1\"\n",
            server.url()
        ),
    );
    // Documentation samples under docs/examples/: low.
    write(
        d,
        "docs/examples/README.md",
        format!("For example:\n\n    KUNAVO_API_KEY={live}\n\nor, for example, {dead}\n"),
    );
    let low = scan_json(d, &["-c", ".leakhound.toml", "--min-confidence", "low"]);
    assert!(
        low.findings().iter().all(|f| f["confidence"] == "low"),
        "{}",
        low.stdout
    );
    let mut cmd = leakhound();
    offline(&mut cmd);
    let r = run(cmd.current_dir(d).args([
        "scan",
        ".",
        "-c",
        ".leakhound.toml",
        "--format",
        "json",
        "--show-secrets",
        "--verify",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    // Both keys were asked about; the live one is reported, as `high`.
    let asked: Vec<String> = server.requests().iter().map(|q| q.key()).collect();
    assert!(asked.contains(&live) && asked.contains(&dead), "{asked:?}");
    let findings = r.findings();
    assert_eq!(findings.len(), 1, "{}", r.stdout);
    assert_eq!(findings[0]["secret"], live.as_str());
    assert_eq!(findings[0]["confidence"], "high");
    assert_eq!(findings[0]["verification"]["verdict"], "live");
    assert_eq!(r.json()["stats"]["held_back"]["low"], 1);
}
