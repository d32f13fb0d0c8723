//! The progress display: on stderr when it is a terminal, never otherwise.

use crate::util::*;

fn tree() -> tempfile::TempDir {
    let dir = tempdir();
    for i in 0..300 {
        write(
            dir.path(),
            &format!("d{}/f{i}.txt", i % 7),
            "some text\n".repeat(2000),
        );
    }
    dir
}

#[test]
fn no_progress_when_stderr_is_not_a_terminal() {
    let dir = tree();
    let r = run(leakhound()
        .current_dir(dir.path())
        .args(["scan", "--format", "json"]));
    assert_eq!(r.code, 0);
    assert!(r.stderr.is_empty(), "stderr: {:?}", r.stderr);
}

/// `script` (util-linux) runs the scan on a pseudo-terminal.
#[cfg(target_os = "linux")]
#[test]
fn progress_on_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let dir = tree();
    let cmd = format!(
        "{} scan --format json --output {}/report.json {}",
        env!("CARGO_BIN_EXE_leakhound"),
        dir.path().display(),
        dir.path().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("files,") && shown.contains("MB scanned"),
        "terminal showed: {shown:?}"
    );
    // The report itself went to the file, complete.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["stats"]["files"], 300);
    // And --quiet turns it off.
    let quiet = std::process::Command::new("script")
        .args(["-qec", &format!("{cmd} --quiet"), "/dev/null"])
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&quiet.stdout).contains("MB scanned"));
}
