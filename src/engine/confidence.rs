//! Confidence: how sure a finding is, from the rule that found it and the
//! evidence around it (docs/rules.md, "Confidence").
//!
//! The rule gives the start: a key with its provider's literal prefix (or
//! a checksum) is `high`; a value found by a provider's name beside it, a
//! connection string's password, or the generic rule is `medium`. Then the
//! evidence moves it, one level at a time:
//!
//! - the value's shape: a value with no prefix that does not look random
//!   (`hunter22`, `admin123`) is one level lower;
//! - the file's kind: a credential file (`.env`, `.netrc`, `.pgpass`,
//!   `~/.aws/credentials`, a kubeconfig, `wp-config.php`, a FileZilla site
//!   list, ...) or a configuration file (YAML, INI, properties, XML, JSON)
//!   raises it; a template (`.env.example`, `*.sample`) or a documentation
//!   file (Markdown, reStructuredText) lowers it;
//! - the path: under a test, fixture, documentation or example directory
//!   lowers it, unless the file is a credential file (real leaks live in
//!   `tests/fixtures/.env` too);
//! - the line: documented example output (`e.g.`, `example`, `sample`,
//!   a doctest's `>>>`) lowers it.
//!
//! Verification comes last, outside the engine: a live key is `high`
//! (`Finding::settle_confidence`).
//!
//! All of it is judged from the path and the secret's own line: no file
//! is parsed, and it runs on the match path only.

use crate::finding::Confidence;
use crate::rules::Rule;

use super::Match;

/// What a file is, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A file whose purpose is to hold credentials (`.netrc`, `.pgpass`,
    /// `.env`, `~/.aws/credentials`, a saved FTP/SFTP/database connection).
    Credential,
    /// A configuration file (YAML, INI, TOML, properties, XML, JSON, conf).
    Config,
    /// A template or sample of a configuration (`.env.example`,
    /// `config.yml.sample`, `*.dist`, `*.template`).
    Template,
    /// Documentation (Markdown, reStructuredText, AsciiDoc, text).
    Docs,
    /// Anything else: source code, mostly.
    Source,
}

/// File names (lowercase) that hold credentials wherever they are.
const CREDENTIAL_NAMES: &[&str] = &[
    ".netrc",
    "_netrc",
    ".pgpass",
    "pgpass.conf",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    ".s3cfg",
    ".my.cnf",
    ".mylogin.cnf",
    ".dockercfg",
    ".htpasswd",
    "htpasswd",
    ".passwd-s3fs",
    "passwd-s3fs",
    "shadow",
    "gshadow",
    "kubeconfig",
    "master.key",
    "wp-config.php",
    "secrets.yml",
    "secrets.yaml",
    "secrets.json",
    "credentials.yml",
    "credentials.json",
    "client_secret.json",
    "service-account.json",
    "sitemanager.xml",
    "recentservers.xml",
    "filezilla.xml",
    "winscp.ini",
    "data-sources.json",
    "credentials-config.json",
    "robo3t.json",
    "robomongo.json",
    "datasources.xml",
    "datasources.local.xml",
    "sftp-config.json",
    "sftp.json",
    ".ftpconfig",
    ".remote-sync.json",
    "ftpsync.settings",
    "deployment.xml",
    "webservers.xml",
    ".boto",
    ".fetchmailrc",
    ".msmtprc",
    ".muttrc",
    ".esmtprc",
    ".irssi",
    ".vnc",
    ".odbc.ini",
    "terraform.tfvars",
    ".tfvars",
    "credentials.tfrc.json",
    ".terraformrc",
    "terraform.rc",
    ".vault-token",
    "vault.yml",
];

/// File names (lowercase) of configuration files that are no YAML, INI or
/// XML by their extension, or that hold a project's connection settings.
const CONFIG_NAMES: &[&str] = &[
    "settings.py",
    "local_settings.py",
    "config.inc.php",
    "configuration.php",
    "localsettings.php",
    "parameters.yml",
    "application.properties",
    "application.yml",
    "application.yaml",
    "appsettings.json",
    "web.config",
    "app.config",
    "connections.xml",
    "hibernate.cfg.xml",
    "context.xml",
    "tomcat-users.xml",
    "settings.xml",
    "gradle.properties",
    "database.yml",
    "odbc.ini",
    "freetds.conf",
    "tnsnames.ora",
];

/// File names without their extension (`config.php`, `db.js`) that are a
/// project's settings, whatever language they are written in.
const CONFIG_STEMS: &[&str] = &[
    "config",
    "conf",
    "settings",
    "local_settings",
    "database",
    "db",
    "dbconfig",
    "db_config",
    "db-config",
    "credentials",
    "secrets",
];

/// Directories whose `config`/`credentials` file is a credential file:
/// `~/.aws/credentials`, `~/.docker/config.json`, `~/.kube/config`.
const CREDENTIAL_DIRS: &[(&str, &str)] = &[
    (".aws", "credentials"),
    (".aws", "config"),
    (".docker", "config.json"),
    (".kube", "config"),
    (".gcloud", "credentials.db"),
    (".azure", "accesstokens.json"),
    (".config", "hub"),
    ("gh", "hosts.yml"),
    (".vscode", "sftp.json"),
    (".idea", "datasources.xml"),
    (".idea", "datasources.local.xml"),
    (".idea", "webservers.xml"),
    (".dbeaver", "data-sources.json"),
    ("filezilla", "sitemanager.xml"),
    (".ssh", "config"),
];

/// Extensions of configuration files.
const CONFIG_EXTENSIONS: &[&str] = &[
    "yml",
    "yaml",
    "json",
    "ini",
    "cfg",
    "conf",
    "cnf",
    "config",
    "properties",
    "toml",
    "xml",
    "env",
    "tfvars",
    "plist",
    "sql",
    "pgpass",
    "netrc",
    "credentials",
    "settings",
];

/// Suffixes that make a file a template or a sample of a configuration.
const TEMPLATE_SUFFIXES: &[&str] = &[
    ".example",
    ".sample",
    ".dist",
    ".template",
    ".tmpl",
    ".tpl",
    ".default",
    ".orig",
    ".j2",
    ".jinja",
    ".jinja2",
    ".erb",
];

/// Extensions of documentation.
const DOCS_EXTENSIONS: &[&str] = &[
    "md", "markdown", "rst", "adoc", "asciidoc", "textile", "rdoc", "pod", "org", "ipynb", "html",
    "htm",
];

/// Directory names (lowercase) that hold tests, fixtures, documentation or
/// examples rather than code that runs.
const NOT_PRODUCTION_DIRS: &[&str] = &[
    "test",
    "tests",
    "testing",
    "testdata",
    "test-data",
    "test_data",
    "__tests__",
    "__mocks__",
    "spec",
    "specs",
    "fixture",
    "fixtures",
    "mock",
    "mocks",
    "example",
    "examples",
    "sample",
    "samples",
    "demo",
    "demos",
    "tutorial",
    "tutorials",
    "testsuite",
    "unittest",
    "unittests",
];

/// Words of a directory's name (lowercase) that make it a test or fixture
/// directory whatever else the name says.
const NOT_PRODUCTION_DIR_WORDS: &[&str] = &[
    "test",
    "tests",
    "testing",
    "testdata",
    "fixture",
    "fixtures",
    "mock",
    "mocks",
    "testsuite",
];

/// Directory names (lowercase) of documentation: the same evidence as a
/// documentation file's kind, so the two lower a confidence once.
const DOCS_DIRS: &[&str] = &["doc", "docs", "documentation"];

/// Is `path` under a documentation directory?
pub fn is_docs_path(path: &str) -> bool {
    let path = path.replace('\\', "/");
    let mut parts: Vec<&str> = path.split(['/', '!']).collect();
    parts.pop();
    parts
        .iter()
        .any(|p| DOCS_DIRS.contains(&p.to_ascii_lowercase().as_str()))
}

/// The kind of the file at `path` (`/`-separated; an archive entry's
/// `outer.jar!inner/a.yml` is judged by its inner name).
pub fn file_kind(path: &str) -> FileKind {
    let path = path.rsplit('!').next().unwrap_or(path);
    let mut parts = path.rsplit(['/', '\\']);
    let name = parts.next().unwrap_or(path).to_ascii_lowercase();
    let parent = parts.next().map(str::to_ascii_lowercase);
    if TEMPLATE_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return FileKind::Template;
    }
    if CREDENTIAL_NAMES.contains(&name.as_str())
        || parent
            .as_deref()
            .is_some_and(|p| CREDENTIAL_DIRS.contains(&(p, name.as_str())))
        || is_env_file(&name)
        || name.ends_with(".kubeconfig")
        || name.ends_with(".pgpass")
        || name.ends_with(".netrc")
        || name.ends_with(".htpasswd")
        || name.ends_with(".publishsettings")
        || name.ends_with(".pubxml")
        || name.ends_with(".ovpn")
        || name.ends_with(".rdp")
    {
        return FileKind::Credential;
    }
    let (stem, ext) = name.rsplit_once('.').unwrap_or((&name, ""));
    if CONFIG_EXTENSIONS.contains(&ext)
        || CONFIG_NAMES.contains(&name.as_str())
        || CONFIG_STEMS.contains(&stem)
        || name.starts_with('.') && name.ends_with("rc")
    {
        return FileKind::Config;
    }
    if DOCS_EXTENSIONS.contains(&ext) {
        return FileKind::Docs;
    }
    FileKind::Source
}

/// `.env`, `.env.production`, `prod.env`, `.envrc`, `.flaskenv`.
fn is_env_file(name: &str) -> bool {
    name == ".env"
        || name == ".envrc"
        || name == ".flaskenv"
        || name.starts_with(".env.")
        || name.ends_with(".env")
}

/// Is `path` under a test, fixture, example or demo directory, or named
/// as a test (`test_x.py`, `x_test.go`, `x.spec.ts`)?
pub fn is_not_production_path(path: &str) -> bool {
    let path = path.replace('\\', "/");
    let mut parts: Vec<&str> = path.split(['/', '!']).collect();
    let name = parts.pop().unwrap_or("").to_ascii_lowercase();
    // A directory named so, or whose name has such a word among its
    // `-`/`_`/`.`-separated words: `integration-tests`, `test_vectors`,
    // `aws-signing-test-suite`.
    if parts.iter().any(|p| {
        let p = p.to_ascii_lowercase();
        NOT_PRODUCTION_DIRS.contains(&p.as_str())
            || p.split(['-', '_', '.'])
                .any(|w| NOT_PRODUCTION_DIR_WORDS.contains(&w))
    }) {
        return true;
    }
    let stem = name.split('.').next().unwrap_or("");
    stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem.ends_with("_tests")
        || stem.ends_with("_spec")
        || stem == "conftest"
        || name.contains(".test.")
        || name.contains(".spec.")
        || stem.starts_with("example")
        || stem.starts_with("sample")
}

/// Words on a secret's line that say it is documented example output.
const EXAMPLE_WORDS: &[&str] = &[
    "example", "sample", "e.g.", "dummy", "fake", "mock", "lorem", ">>> ",
];

/// The confidence of match `m` of `rule`, found in `buf` (the file at
/// `path`).
pub fn confidence(rule: &Rule, m: &Match, path: &str, buf: &[u8]) -> Confidence {
    let prefixed = m.prefix_len > 0 && !rule.spec.generic;
    // Prefixes that name a format, not a provider: `$2y$`, `$6$` mark a
    // password hash, which is a credential only once cracked, so the
    // prefix does not vouch for a secret by itself; the file it is in may
    // (a hash in `shadow` or a SQL dump is high). A signed JSON Web Token
    // (`eyJ…`) is a bearer credential as it stands and stays high: on
    // CredData's labelled sample (bench/creddata.py) starting JWTs at
    // medium held back 17 true lines of test suites' tokens and no false
    // one.
    let format_only = is_password_hash(&m.secret);
    let mut c = if prefixed && !m.ambiguous && !format_only {
        Confidence::High
    } else {
        Confidence::Medium
    };
    // The value's shape, where nothing else vouches for it (no prefix, no
    // provider named beside it: the generic rule, passwords in URLs and
    // credential files): a word-like value is weaker evidence.
    let shapeless = !prefixed && (rule.spec.generic || is_password_rule(rule));
    if shapeless && super::generic::is_weak_value(&m.secret) {
        c = c.lowered();
    }
    let kind = file_kind(path);
    if matches!(kind, FileKind::Credential | FileKind::Config) {
        c = c.raised();
    }
    if kind != FileKind::Credential {
        // Documentation, by its kind or its directory: one piece of
        // evidence, one step.
        if matches!(kind, FileKind::Template | FileKind::Docs) || is_docs_path(path) {
            c = c.lowered();
        }
        // A test by its path, or test code in a source file: one piece of
        // evidence, one step.
        if is_not_production_path(path) || in_test_module(path, buf, m.start) {
            c = c.lowered();
        }
        if line_says_example(buf, m.start) || near_published_example(buf, m.start) {
            c = c.lowered();
        }
    }
    c
}

/// A crypt(3) password hash: `$1$`, `$5$`, `$6$`, `$2a$`/`$2b$`/`$2y$`
/// (bcrypt), `$y$`/`$gy$` (yescrypt), `$7$` (scrypt), `$argon2…$`.
fn is_password_hash(secret: &[u8]) -> bool {
    let Some(rest) = secret.strip_prefix(b"$") else {
        return false;
    };
    let id_len = rest.iter().position(|&b| b == b'$').unwrap_or(0);
    let id = &rest[..id_len];
    id_len > 0
        && (matches!(
            id,
            b"1" | b"5" | b"6" | b"7" | b"2a" | b"2b" | b"2y" | b"y" | b"gy" | b"apr1"
        ) || id.starts_with(b"argon2"))
}

/// Is the offset `at` of a Rust source file in its test code: after a
/// `#[cfg(test)]` (or `#[cfg(all(test, …))]`) attribute or a `mod tests`
/// block, which by the language's convention close the file? Test vectors
/// of cryptographic and protocol crates (keys, hashes, tokens) live there.
fn in_test_module(path: &str, buf: &[u8], at: usize) -> bool {
    // Looked for once per finding: a generated file of megabytes is data,
    // not a module with tests, and is not searched.
    const MAX_SOURCE: usize = 4 << 20;
    if !path.ends_with(".rs") || buf.len() > MAX_SOURCE {
        return false;
    }
    let head = &buf[..at.min(buf.len())];
    [
        &b"#[cfg(test)]"[..],
        b"#[cfg(all(test,",
        b"\nmod tests {",
        b"\nmod test {",
    ]
    .iter()
    .any(|marker| memchr::memmem::find(head, marker).is_some())
}

/// Is a vendor's published example credential (an upper-case `EXAMPLE`
/// inside a key-like run: AWS's `AKIAIOSFODNN7EXAMPLE`, `AKIDEXAMPLE`,
/// `…bPxRfiCYEXAMPLEKEY`) within three lines of `at`, or in the small
/// block (object, call, section: at most `SMALL_BLOCK` bytes) that holds
/// it? A value beside one belongs to the same sample: the session token of
/// a documented signing request, the secret half of an example key pair,
/// the other fields of a documented credentials file.
fn near_published_example(buf: &[u8], at: usize) -> bool {
    const SMALL_BLOCK: usize = 2048;
    let at = at.min(buf.len());
    let (bs, be) = super::evidence::block_around(buf, at);
    (be - bs <= SMALL_BLOCK && has_published_example(&buf[bs..be]))
        || has_published_example(lines_around(buf, at))
}

/// The line holding `at` with up to three lines either side, bounded.
fn lines_around(buf: &[u8], at: usize) -> &[u8] {
    const LINES: usize = 3;
    const SPAN: usize = 1200;
    let floor = at.saturating_sub(SPAN);
    let ceil = (at + SPAN).min(buf.len());
    let mut start = at;
    for _ in 0..=LINES {
        match memchr::memrchr(b'\n', &buf[floor..start]) {
            Some(i) => start = floor + i,
            None => {
                start = floor;
                break;
            }
        }
    }
    let mut end = at;
    for _ in 0..=LINES {
        match memchr::memchr(b'\n', &buf[end.min(ceil)..ceil]) {
            Some(i) => end = end + i + 1,
            None => {
                end = ceil;
                break;
            }
        }
    }
    &buf[start..end.min(ceil)]
}

/// Does `text` hold `EXAMPLE` inside a run of key characters?
fn has_published_example(text: &[u8]) -> bool {
    memchr::memmem::find_iter(text, b"EXAMPLE").any(|i| {
        // Inside a run of key characters, not a word of prose (`EXAMPLE:`).
        let key_char = |b: &u8| b.is_ascii_alphanumeric() || b"/+".contains(b);
        i.checked_sub(1)
            .and_then(|j| text.get(j))
            .is_some_and(key_char)
            || text.get(i + 7).is_some_and(key_char)
    })
}

/// A rule for passwords rather than a provider's keys: the built-in rules
/// of credential files and connection URLs (rules/credentials.toml,
/// rules/generic.toml), whose values are whatever a person chose.
fn is_password_rule(rule: &Rule) -> bool {
    rule.origin.ends_with("rules/credentials.toml") || rule.origin.ends_with("rules/generic.toml")
}

/// Does the line holding `at` (and the line before it) say it is an
/// example? Bounded to a few hundred bytes either side.
fn line_says_example(buf: &[u8], at: usize) -> bool {
    const SPAN: usize = 400;
    let at = at.min(buf.len());
    let floor = at.saturating_sub(SPAN);
    let ceil = (at + SPAN).min(buf.len());
    // The start of the line before the secret's line.
    let mut start = floor;
    if let Some(i) = memchr::memrchr(b'\n', &buf[floor..at]) {
        start = memchr::memrchr(b'\n', &buf[floor..floor + i]).map_or(floor, |j| floor + j + 1);
    }
    let end = memchr::memchr(b'\n', &buf[at..ceil]).map_or(ceil, |i| at + i);
    let text = buf[start..end].to_ascii_lowercase();
    EXAMPLE_WORDS.iter().any(|w| {
        let w = w.as_bytes();
        // A word of prose, not part of a name: `Evil.Example`,
        // `db.example.com`, `sample_rate` say nothing.
        let part_of_name = |b: u8| b.is_ascii_alphanumeric() || b"._-@/".contains(&b);
        memchr::memmem::find_iter(&text, w).any(|i| {
            let before = i.checked_sub(1).map(|j| text[j]);
            let after = text.get(i + w.len()).copied();
            !w[0].is_ascii_alphabetic()
                || (!before.is_some_and(part_of_name) && !after.is_some_and(part_of_name))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_files_by_name_and_directory() {
        for p in [
            ".netrc",
            "home/u/.pgpass",
            "x/.git-credentials",
            ".npmrc",
            ".pypirc",
            "home/.docker/config.json",
            ".s3cfg",
            "home/u/.aws/credentials",
            "home/u/.kube/config",
            "prod.kubeconfig",
            ".my.cnf",
            "AppData/FileZilla/sitemanager.xml",
            "WinSCP.ini",
            ".dbeaver/data-sources.json",
            "robo3t.json",
            ".idea/dataSources.local.xml",
            "sftp-config.json",
            ".vscode/sftp.json",
            "config/master.key",
            "wp-config.php",
            "config/secrets.yml",
            ".env",
            ".env.production",
            "tests/fixtures/.env",
            "deploy/prod.env",
            "etc/shadow",
            "site/.htpasswd",
        ] {
            assert_eq!(file_kind(p), FileKind::Credential, "{p}");
        }
    }

    #[test]
    fn other_kinds() {
        assert_eq!(file_kind("a/b/settings.yaml"), FileKind::Config);
        assert_eq!(file_kind("conf/app.ini"), FileKind::Config);
        assert_eq!(file_kind("db/dump.sql"), FileKind::Config);
        assert_eq!(
            file_kind("src/main/resources/application.properties"),
            FileKind::Config
        );
        assert_eq!(file_kind("mysite/settings.py"), FileKind::Config);
        assert_eq!(file_kind(".env.example"), FileKind::Template);
        assert_eq!(file_kind("config.yml.sample"), FileKind::Template);
        assert_eq!(file_kind("README.md"), FileKind::Docs);
        assert_eq!(file_kind("docs/index.rst"), FileKind::Docs);
        assert_eq!(file_kind("src/app.py"), FileKind::Source);
        assert_eq!(file_kind("includes/config.php"), FileKind::Config);
        assert_eq!(file_kind("src/db.js"), FileKind::Config);
        assert_eq!(
            file_kind("dist/app.jar!BOOT-INF/.env"),
            FileKind::Credential
        );
    }

    #[test]
    fn test_and_docs_paths() {
        for p in [
            "tests/test_x.py",
            "pkg/test/x.py",
            "src/fixtures/a.json",
            "examples/client.py",
            "pkg/test_auth.py",
            "pkg/auth_test.go",
            "web/auth.spec.ts",
            "pkg/conftest.py",
        ] {
            assert!(is_not_production_path(p), "{p}");
        }
        for p in [
            "src/app.py",
            "pkg/contest.py",
            "lib/attest.rb",
            "latest/x.py",
        ] {
            assert!(!is_not_production_path(p), "{p}");
        }
    }

    #[test]
    fn dir_name_words_and_test_modules() {
        for p in [
            "aws-sigv4/aws-signing-test-suite/v4/context.json",
            "crate/integration-tests/a.rs",
            "x/test_vectors/k.pem",
        ] {
            assert!(is_not_production_path(p), "{p}");
        }
        for p in ["src/latest-release/a.rs", "src/contest_entries/b.py"] {
            assert!(!is_not_production_path(p), "{p}");
        }
        let buf = b"pub fn f() {}\n\n#[cfg(test)]\nmod tests {\n    const K: &str = \"x\";\n}\n";
        let at = buf.windows(3).position(|w| w == b"\"x\"").unwrap();
        assert!(in_test_module("src/lib.rs", buf, at));
        assert!(!in_test_module("src/lib.py", buf, at));
        assert!(!in_test_module("src/lib.rs", buf, 3));
    }

    #[test]
    fn published_examples_nearby() {
        let buf = b"{\n  \"access_key_id\": \"AKIDEXAMPLE\",\n  \"token\": \"6e86a1\"\n}\n";
        let at = buf.windows(6).position(|w| w == b"6e86a1").unwrap();
        assert!(near_published_example(buf, at));
        let buf = b"EXAMPLE:\ntoken = \"6e86a1\"\n";
        let at = buf.windows(6).position(|w| w == b"6e86a1").unwrap();
        assert!(!near_published_example(buf, at));
        // Further away, in the same object.
        let buf = b"{\n \"id\": \"AKIAIOSFODNN7EXAMPLE\",\n \"a\": 1,\n \"b\": 2,\n \"c\": 3,\n \"d\": 4,\n \"k\": \"6e86a1\"\n}\n";
        let at = buf.windows(6).position(|w| w == b"6e86a1").unwrap();
        assert!(near_published_example(buf, at));
    }

    #[test]
    fn password_hashes_by_their_format() {
        for h in [
            "$2y$10$abc",
            "$6$salt$hash",
            "$argon2id$v=19$m",
            "$apr1$x$y",
        ] {
            assert!(is_password_hash(h.as_bytes()), "{h}");
        }
        for h in ["$DB_PASS", "$$", "ghp_x", "$9$x"] {
            assert!(!is_password_hash(h.as_bytes()), "{h}");
        }
    }

    #[test]
    fn example_lines() {
        let buf = b"# for example:\npassword = hunter22\nother = 1\n";
        let at = buf.windows(8).position(|w| w == b"hunter22").unwrap();
        assert!(line_says_example(buf, at));
        let buf = b"x = 1\n\npassword = hunter22\n";
        let at = buf.windows(8).position(|w| w == b"hunter22").unwrap();
        assert!(!line_says_example(buf, at));
        let buf = b"url = postgres://u:hunter22@db.example.com/app AccountName=Evil.Example\n";
        let at = buf.windows(8).position(|w| w == b"hunter22").unwrap();
        assert!(!line_says_example(buf, at));
    }

    #[test]
    fn levels_move_one_step_at_a_time() {
        assert_eq!(Confidence::Low.raised(), Confidence::Medium);
        assert_eq!(Confidence::High.raised(), Confidence::High);
        assert_eq!(Confidence::Low.lowered(), Confidence::Low);
        assert!(Confidence::Low < Confidence::Medium && Confidence::Medium < Confidence::High);
    }
}
