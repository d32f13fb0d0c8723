//! The README's first command, `leakhound scan .` on this repository, with
//! the repository's own `.leakhound.toml`, must be clean: the test keys in
//! `src/` are built at run time or marked `leakhound:allow` on their line,
//! never allowlisted by path (see `.leakhound.toml`).

use std::path::Path;

use crate::util::{leakhound, run};

#[test]
fn the_repository_scans_clean_with_its_own_config() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let r = run(leakhound()
        .current_dir(root)
        .args(["scan", "--format", "json", "."]));
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "exit {}: stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            r.code, r.stdout, r.stderr
        )
    });
    // The project config was read (not skipped), so the scan is the
    // README's.
    let config = root.join(".leakhound.toml");
    assert!(config.is_file());
    let findings = report["findings"].as_array().expect("findings array");
    // Redacted: the list names each finding, never its secret.
    let listed: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "  {}:{}  {}  {}",
                f["path"].as_str().unwrap_or("?"),
                f["line"],
                f["rule_id"].as_str().unwrap_or("?"),
                f["secret"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert!(
        findings.is_empty(),
        "`leakhound scan .` reports {} finding(s) on this repository; build these \
         test values at run time (concat!/format! of pieces) or mark their lines \
         `leakhound:allow`:\n{}",
        findings.len(),
        listed.join("\n")
    );
    let errors = report["stats"]["errors"].as_array().map_or(0, Vec::len);
    assert_eq!(
        r.code, 0,
        "exit {}, {errors} read errors:\n{}",
        r.code, r.stderr
    );
    // Enough was scanned for "clean" to mean something: src/ at least.
    let files = report["stats"]["files"].as_u64().unwrap_or(0);
    assert!(files >= 50, "only {files} files scanned");
}
