//! Shared helpers: run the binary, build trees, parse its JSON.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub fn leakhound() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leakhound"));
    // The user-level config (`$XDG_CONFIG_HOME/leakhound/config.toml`) of
    // whoever runs the suite must not change its results.
    // Nor may the `.leakhound.toml` of the directory the suite runs in
    // (this repository's own): the project config is found from the
    // current directory, so a test names its own with `current_dir`.
    cmd.env_remove("NO_COLOR")
        .env("XDG_CONFIG_HOME", "/nonexistent/leakhound-test-config")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null());
    cmd
}

/// Run and capture, with stdout/stderr as strings.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Findings of a JSON report.
    pub fn findings(&self) -> Vec<serde_json::Value> {
        self.json()["findings"]
            .as_array()
            .expect("findings array")
            .clone()
    }
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("binary runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// `leakhound scan --format json --show-secrets ARGS...` in `dir`.
pub fn scan_json(dir: &Path, args: &[&str]) -> Run {
    run(leakhound()
        .current_dir(dir)
        .args(["scan", "--format", "json", "--show-secrets"])
        .args(args))
}

pub fn write(dir: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, content).unwrap();
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Realistic fake keys (random-looking, pass the entropy filters).
pub const KUNAVO: &str = "sk-kunavo-u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzd";
pub const PINAIVU: &str = "sk-pnv-DL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7";
pub const GITHUB: &str = "ghp_R8s2Kq9LmN4pX7tV1wZ3yB6cD0eH5jKaB3dE";

/// The secrets of a JSON report's findings.
pub fn secrets(run: &Run) -> Vec<String> {
    run.findings()
        .iter()
        .map(|f| f["secret"].as_str().unwrap().to_string())
        .collect()
}

/// `n` random-looking alphanumerics, the same for the same `seed`, so a
/// fake key is realistic (passes the entropy filters) and reproducible.
pub fn alnum(seed: &str, n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // FNV-1a of the seed, then xorshift64*.
    let mut x = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
            CHARS[(r >> 33) as usize % CHARS.len()] as char
        })
        .collect()
}

/// A Kunavo key, random-looking and the same for the same `label`.
pub fn kunavo(label: &str) -> String {
    format!("sk-kunavo-{}", alnum(label, 40))
}

/// A Pinaivu key (`sk-pnv-` + exactly 32), the same for the same `label`.
pub fn pinaivu(label: &str) -> String {
    format!("sk-pnv-{}", alnum(label, 32))
}

/// Force every non-loopback request of `cmd` through a proxy that does not
/// exist: should a test forget a base-URL override, its check fails locally
/// instead of reaching the internet.
pub fn offline(cmd: &mut Command) {
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env(var, "http://127.0.0.1:9");
    }
    cmd.env_remove("NO_PROXY").env_remove("no_proxy");
}

/// `s` quoted for `sh`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Run the binary with `args` in `dir` on a pseudo-terminal, through
/// `script` (util-linux), and return what the terminal showed (stdout and
/// stderr together) and the exit code. `NO_COLOR` is cleared unless `env`
/// sets it. A missing `script` is a failure, not a skip: `.ci/run`
/// installs it.
pub fn on_terminal(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (String, i32) {
    let mut line = sh_quote(env!("CARGO_BIN_EXE_leakhound"));
    for a in args {
        line.push(' ');
        line.push_str(&sh_quote(a));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .current_dir(dir)
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "`script` (util-linux) runs the pseudo-terminal tests; install it (.ci/run does): {e}"
        )
    });
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}
