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
    if parts
        .iter()
        .any(|p| NOT_PRODUCTION_DIRS.contains(&p.to_ascii_lowercase().as_str()))
    {
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
    let mut c = if prefixed && !m.ambiguous {
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
        if is_not_production_path(path) {
            c = c.lowered();
        }
        if line_says_example(buf, m.start) {
            c = c.lowered();
        }
    }
    c
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
