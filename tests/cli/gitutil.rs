//! Shared by the integration tests: the binary under test, git repositories
//! built at test time with the git CLI, and realistic fake keys.

#![allow(dead_code)]

use std::cell::Cell;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

/// The variables git sets for hooks or a user may have set; a test that
/// inherited them would read another repository or index.
const GIT_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_NAMESPACE",
];

/// The leakhound binary, with no color and a clean git environment.
pub fn leakhound() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leakhound"));
    isolate(&mut c);
    c.env("NO_COLOR", "1");
    c
}

/// Keep the developer's git configuration and environment out of a command.
pub fn isolate(c: &mut Command) {
    for v in GIT_ENV {
        c.env_remove(v);
    }
    c.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada Lovelace")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com");
}

/// Run git in `dir`; panics with git's stderr if it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_output(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn git_output(dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new("git");
    isolate(&mut c);
    c.current_dir(dir).args(args).output().expect("git runs")
}

/// A repository in a temporary directory. Each commit is an hour after the
/// previous one, from 2023-11-14T22:13:20Z, so that order and dates are
/// deterministic.
pub struct Repo {
    pub dir: TempDir,
    clock: Cell<u64>,
}

/// The time of commit `n` (1-based) made through `Repo`.
pub const EPOCH: u64 = 1_700_000_000;

impl Repo {
    pub fn init() -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        git(dir.path(), &["init", "-q", "-b", "main"]);
        Repo {
            dir,
            clock: Cell::new(0),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn git(&self, args: &[&str]) -> String {
        let n = self.clock.get() + 1;
        self.clock.set(n);
        let date = format!("@{} +0000", EPOCH + 3600 * n);
        let mut c = Command::new("git");
        isolate(&mut c);
        let out = c
            .current_dir(self.path())
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Write a file (creating directories).
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("a file has a parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    /// Stage everything and commit; returns the new commit's id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        git(self.path(), &["rev-parse", "HEAD"])
    }
}

/// A Kunavo key that passes the rule's filters, different for each seed.
pub fn kunavo_key(seed: u64) -> String {
    format!("sk-kunavo-{}", random_alnum(seed, 40))
}

/// A Pinaivu key, different for each seed.
pub fn pinaivu_key(seed: u64) -> String {
    format!("sk-pnv-{}", random_alnum(seed ^ 0x9e37_79b9_7f4a_7c15, 32))
}

fn random_alnum(seed: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// `leakhound scan ARGS --format json` in `dir`: exit code, report, stderr.
pub fn scan_json(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = leakhound()
        .current_dir(dir)
        .arg("scan")
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("leakhound runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().expect("exit code"), report, stderr)
}

/// `leakhound scan ARGS` in `dir`: exit code, stdout, stderr.
pub fn scan_text(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = leakhound()
        .current_dir(dir)
        .arg("scan")
        .args(args)
        .output()
        .expect("leakhound runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings array")
}

/// The secrets of a report's findings, in report order (needs --show-secrets).
pub fn secrets(report: &Value) -> Vec<String> {
    findings(report)
        .iter()
        .map(|f| f["secret"].as_str().expect("secret").to_string())
        .collect()
}
