//! `leakhound baseline create` and `scan --baseline`: accepted findings are
//! suppressed, vanished ones are listed as stale, and the baseline never
//! holds a raw secret.

use crate::util::*;

#[test]
fn baseline_create_writes_fingerprints_and_redacted_secrets_only() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "a.py", format!("A = '{KUNAVO}'\nB = '{GITHUB}'\n"));
    let r = run(leakhound().current_dir(d).args(["baseline", "create"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("wrote 2 findings to .leakhound-baseline.json"),
        "{}",
        r.stderr
    );
    let text = std::fs::read_to_string(d.join(".leakhound-baseline.json")).unwrap();
    for secret in [KUNAVO, GITHUB] {
        assert!(
            !text.contains(secret),
            "raw secret in the baseline:\n{text}"
        );
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["baseline"], 1);
    let entries = v["findings"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for e in entries {
        assert_eq!(e["fingerprint"].as_str().unwrap().len(), 32);
        assert_eq!(e["path"], "a.py");
        assert_eq!(e["secret_redacted"], true);
        assert!(e["secret"].as_str().unwrap().ends_with('…'));
    }
    // --output, and --quiet prints nothing.
    let r = run(leakhound().current_dir(d).args([
        "baseline",
        "create",
        "-q",
        "--output",
        "other.json",
        "a.py",
    ]));
    assert_eq!(r.code, 0);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert!(d.join("other.json").is_file());
}

#[test]
fn baseline_suppresses_accepted_findings_and_lists_stale_entries() {
    // The tree in `dir/tree`, the baseline beside it (outside the tree,
    // so the scan never reads it), both in the test's own temp dir.
    let dir = tempdir();
    let d = &dir.path().join("tree");
    write(d, "a.py", format!("A = '{KUNAVO}'\n"));
    write(d, "b.py", format!("B = '{GITHUB}'\n"));
    let r = run(leakhound().current_dir(d).args([
        "baseline",
        "create",
        "--output",
        "../base.json",
        ".",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let baseline = d.join("../base.json");
    let baseline = baseline.to_str().unwrap();

    // Nothing changed: clean, nothing stale.
    let r = scan_json(d, &["--baseline", baseline]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["stats"]["suppressed"], 2);
    assert_eq!(r.json()["stats"]["stale_baseline"], serde_json::json!([]));

    // The GitHub key is removed, a new key appears, the Kunavo key moves.
    write(d, "a.py", format!("# moved\n\nA = '{KUNAVO}'\n"));
    write(d, "b.py", "B = None\n");
    write(d, "c.py", format!("C = '{PINAIVU}'\n"));
    let r = scan_json(d, &["--baseline", baseline]);
    assert_eq!(r.code, 1);
    assert_eq!(secrets(&r), vec![PINAIVU.to_string()]);
    let stale = r.json()["stats"]["stale_baseline"].clone();
    let stale = stale.as_array().unwrap();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0]["rule_id"], "github-pat-classic");
    assert_eq!(stale[0]["path"], "b.py");
    assert_eq!(stale[0]["fingerprint"].as_str().unwrap().len(), 32);

    // The text summary names it too.
    let r = run(leakhound()
        .current_dir(d)
        .args(["scan", "--baseline", baseline]));
    assert!(r.stdout.contains("1 stale baseline entry"), "{}", r.stdout);
    assert!(
        r.stdout.contains("stale: b.py  github-pat-classic  "),
        "{}",
        r.stdout
    );

    // A scan of part of the tree does not call the rest stale.
    write(d, "sub/d.py", "x = 1\n");
    let r = scan_json(d, &["--baseline", baseline, "sub"]);
    assert_eq!(r.json()["stats"]["stale_baseline"], serde_json::json!([]));

    // Without --baseline there is no stale list at all.
    assert!(scan_json(d, &[]).json()["stats"]
        .get("stale_baseline")
        .is_none());
}

#[test]
fn a_json_report_still_works_as_a_baseline() {
    let dir = tempdir();
    let d = &dir.path().join("tree");
    write(d, "a.py", format!("A = '{KUNAVO}'\n"));
    let r = run(leakhound().current_dir(d).args([
        "scan",
        "--format",
        "json",
        "--output",
        "../report.json",
    ]));
    assert_eq!(r.code, 1);
    let report = d.join("../report.json");
    let r = scan_json(d, &["--baseline", report.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}
