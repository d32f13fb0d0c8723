//! Bad input never panics: clear messages and exit 2 for fatal cases;
//! unreadable files are counted and listed while the scan goes on.

use crate::util::*;

fn no_panic(r: &Run) {
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn nonexistent_path_is_an_error_naming_it() {
    let dir = tempdir();
    let r = run(leakhound()
        .current_dir(dir.path())
        .args(["scan", "no/such/dir"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no/such/dir: no such file or directory"),
        "{}",
        r.stderr
    );
    no_panic(&r);
}

#[test]
fn invalid_config_names_file_line_and_column() {
    let dir = tempdir();
    write(
        dir.path(),
        ".leakhound.toml",
        "[allowlist]\npaths = [\"a\"]\nbogus_key = 3\n",
    );
    let r = run(leakhound().current_dir(dir.path()).arg("scan"));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains(".leakhound.toml: 3:1: unknown field `bogus_key`"),
        "{}",
        r.stderr
    );

    write(
        dir.path(),
        ".leakhound.toml",
        "[allowlist]\nregexes = ['(']\n",
    );
    let r = run(leakhound().current_dir(dir.path()).arg("scan"));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(".leakhound.toml: allowlist.regexes"),
        "{}",
        r.stderr
    );

    write(
        dir.path(),
        ".leakhound.toml",
        "disabled_rules = [\"no-such-rule\"]\n",
    );
    let r = run(leakhound().current_dir(dir.path()).arg("scan"));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no built-in rule `no-such-rule`"),
        "{}",
        r.stderr
    );
    no_panic(&r);
}

#[test]
fn invalid_baseline_is_an_error() {
    let dir = tempdir();
    write(dir.path(), "base.json", "{\"findings\": [ {\"x\": 1} ]}");
    let r = run(leakhound()
        .current_dir(dir.path())
        .args(["scan", "--baseline", "base.json"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("base.json: findings[0] has no `fingerprint`"),
        "{}",
        r.stderr
    );
    write(dir.path(), "base.json", "not json");
    let r = run(leakhound()
        .current_dir(dir.path())
        .args(["scan", "--baseline", "base.json"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("base.json: 1:"), "{}", r.stderr);
}

#[test]
fn bad_flags_exit_2() {
    let r = run(leakhound().args(["scan", "--max-file-size", "12Q"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown size suffix"), "{}", r.stderr);
    let r = run(leakhound().args(["scan", "--format", "xml"]));
    assert_eq!(r.code, 2);
}

#[cfg(unix)]
#[test]
fn unreadable_files_and_broken_links_are_listed_and_the_scan_goes_on() {
    use std::os::unix::fs::symlink;
    let dir = tempdir();
    let d = dir.path();
    write(d, "good.py", format!("K = '{KUNAVO}'\n"));
    symlink(d.join("missing-target"), d.join("broken-link")).unwrap();
    std::fs::create_dir(d.join("loop")).unwrap();
    symlink(d.join("loop"), d.join("loop/again")).unwrap();
    // A file that exists but whose read fails, even for root.
    symlink("/proc/self/mem", d.join("unreadable")).unwrap();

    // Without --follow, symbolic links are not followed (as ripgrep).
    let r = scan_json(d, &[]);
    assert_eq!(r.code, 1);
    assert!(r.json()["stats"]["errors"].as_array().unwrap().is_empty());

    let r = scan_json(d, &["--follow"]);
    no_panic(&r);
    assert_eq!(r.code, 1, "findings still reported: {}", r.stdout);
    assert_eq!(secrets(&r), vec![KUNAVO.to_string()]);
    let errors = r.json()["stats"]["errors"].as_array().unwrap().clone();
    let listed = |p: &str| {
        errors
            .iter()
            .any(|e| e["path"].as_str().unwrap().ends_with(p))
    };
    assert!(listed("broken-link"), "{errors:?}");
    assert!(listed("unreadable"), "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e["reason"].as_str().unwrap().contains("loop")),
        "{errors:?}"
    );
    assert!(
        r.stderr.contains("broken-link"),
        "errors are also on stderr: {}",
        r.stderr
    );

    // No findings but errors: exit 2, and the text summary lists them.
    std::fs::remove_file(d.join("good.py")).unwrap();
    let t = run(leakhound().current_dir(d).args(["scan", "--follow"]));
    assert_eq!(t.code, 2);
    assert!(t.stdout.contains("error: broken-link: "), "{}", t.stdout);
    // In text mode too, each read error is on stderr, as README says:
    // `scan > report.txt` leaves them on the terminal.
    assert!(
        t.stderr.contains("leakhound: broken-link: "),
        "{}",
        t.stderr
    );
}

#[cfg(unix)]
#[test]
fn non_utf8_names_invalid_utf8_nul_bytes_and_empty_files() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempdir();
    let d = dir.path();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9-\xff.txt");
    std::fs::write(d.join(name), format!("k={KUNAVO}\n")).unwrap();
    let mut bytes = b"\xc3\x28 invalid \xa0\xa1 utf8 \0\0 nul ".to_vec();
    bytes.extend_from_slice(PINAIVU.as_bytes());
    write(d, "mixed.bin", bytes);
    write(d, "empty.txt", "");
    let r = scan_json(d, &[]);
    no_panic(&r);
    let mut s = secrets(&r);
    s.sort();
    assert_eq!(s, vec![KUNAVO.to_string(), PINAIVU.to_string()]);
    assert!(
        r.findings()
            .iter()
            .any(|f| f["path"] == "caf\u{fffd}-\u{fffd}.txt"),
        "{}",
        r.stdout
    );
    assert_eq!(r.json()["stats"]["files"], 3);
}

#[test]
fn crlf_and_utf16_text() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "crlf.env", format!("A=1\r\nKEY={KUNAVO}\r\n"));
    let text = format!("first line\r\nkey = \"{PINAIVU}\"\r\n");
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    write(d, "utf16le.txt", le);
    let mut be = vec![0xFE, 0xFF];
    be.extend(text.encode_utf16().flat_map(|u| u.to_be_bytes()));
    write(d, "utf16be.txt", be);
    let r = scan_json(d, &[]);
    let findings = r.findings();
    let at = |p: &str| {
        findings
            .iter()
            .find(|f| f["path"] == p)
            .unwrap_or_else(|| panic!("{p}: {}", r.stdout))
    };
    assert_eq!(
        (
            at("crlf.env")["line"].as_u64(),
            at("crlf.env")["column"].as_u64()
        ),
        (Some(2), Some(5))
    );
    assert!(!at("crlf.env")["snippet"].as_str().unwrap().contains('\r'));
    for p in ["utf16le.txt", "utf16be.txt"] {
        assert_eq!(at(p)["secret"], PINAIVU);
        assert_eq!(
            (at(p)["line"].as_u64(), at(p)["column"].as_u64()),
            (Some(2), Some(8))
        );
    }
}

/// A file of about `size` bytes on one line, with keyword hits all along it
/// and keys near both ends.
fn one_line(size: usize) -> Vec<u8> {
    let mut content = Vec::with_capacity(size);
    content.extend_from_slice(format!("start {KUNAVO} ").as_bytes());
    let chunk =
        b"lorem ipsum dolor sit amet task-runner sk-not-a-key, consectetur adipiscing elit; ";
    while content.len() < size - 200 {
        content.extend_from_slice(chunk);
    }
    content.extend_from_slice(format!(" end {PINAIVU}").as_bytes());
    content
}

/// `1m2.500s` (bash's `times`) in seconds.
fn bash_seconds(t: &str) -> f64 {
    let (m, s) = t.trim_end_matches('s').split_once('m').expect("MmS.SSSs");
    m.parse::<f64>().unwrap() * 60.0 + s.parse::<f64>().unwrap()
}

/// `leakhound scan --format json --show-secrets .` in `dir`, and the CPU
/// time (user + system) it used, from bash's `times`: CPU time, unlike wall
/// time, is not stretched by whatever else a loaded machine runs.
fn scan_json_cpu(dir: &std::path::Path) -> (Run, std::time::Duration) {
    let out = dir.join("report.json");
    let mut c = std::process::Command::new("bash");
    c.env_remove("NO_COLOR")
        .env("XDG_CONFIG_HOME", "/nonexistent/leakhound-test-config")
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .args([
            "-c",
            r#""$0" scan --format json --show-secrets --output "$1" . 2>"$1.err"; code=$?; times; exit $code"#,
            env!("CARGO_BIN_EXE_leakhound"),
        ])
        .arg(&out);
    let r = run(&mut c);
    // `times`: the shell's own user and system time, then its children's.
    let children = r.stdout.lines().nth(1).expect("two lines from `times`");
    let cpu: f64 = children.split_whitespace().map(bash_seconds).sum();
    let report = Run {
        code: r.code,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(dir.join("report.json.err")).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&out);
    (report, std::time::Duration::from_secs_f64(cpu))
}

/// A 100 MB file on one line is scanned in linear time: measured against a
/// 10 MB one in the same run, it takes well under the 100x a quadratic
/// step would (the bound, 40x). Compared by CPU time, which a loaded
/// machine does not stretch as it does wall time.
#[test]
fn hundred_megabyte_single_line_file() {
    let dir = tempdir();
    write(dir.path(), "big/one-line.min.js", one_line(100_000_000));
    write(dir.path(), "small/one-line.min.js", one_line(10_000_000));
    let timed = |sub: &str| scan_json_cpu(&dir.path().join(sub));
    let (small, small_took) = timed("small");
    no_panic(&small);
    assert_eq!(small.findings().len(), 2, "{}", small.stdout);
    let (r, took) = timed("big");
    no_panic(&r);
    let f = r.findings();
    assert_eq!(f.len(), 2, "{}", r.stdout);
    assert_eq!(f[1]["line"], 1);
    assert!(f[1]["column"].as_u64().unwrap() > 99_999_000);
    eprintln!("single line: 10 MB in {small_took:?}, 100 MB in {took:?}");
    assert!(
        took < small_took * 40,
        "not linear: 10 MB in {small_took:?}, 100 MB in {took:?}"
    );
}
