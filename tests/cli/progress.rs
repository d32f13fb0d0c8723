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

/// `script` (util-linux) runs the scan on a pseudo-terminal; without it
/// this test fails (`.ci/run` installs it).
#[cfg(target_os = "linux")]
#[test]
fn progress_on_a_terminal() {
    let dir = tree();
    let root = dir.path().to_str().unwrap();
    let report = format!("{root}/report.json");
    let args = ["scan", "--format", "json", "--output", &report, root];
    let (shown, code) = on_terminal(dir.path(), &args, &[]);
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("files,") && shown.contains("MB scanned"),
        "terminal showed: {shown:?}"
    );
    // The report itself went to the file, complete.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["stats"]["files"], 300);
    // And --quiet turns it off.
    let (quiet, code) = on_terminal(dir.path(), &[&args[..], &["--quiet"]].concat(), &[]);
    assert_eq!(code, 0, "{quiet}");
    assert!(!quiet.contains("MB scanned"), "{quiet:?}");
}
