//! Property tests ("fuzzing" on the stable toolchain, with proptest) over
//! the parts that take hostile input: the matcher and its decoders on
//! arbitrary bytes, the config and rule loaders on arbitrary TOML-ish text,
//! and the report writers on arbitrary findings. Each property runs a fixed
//! number of cases (a fixed seed, so a run is repeatable and its time
//! bounded) and then replays the committed seed corpus in
//! tests/data/fuzz/. The archive readers (zip, tar and its extension
//! headers, compressed streams, nesting) and the git index reader get
//! mutated seeds: hostile archives and indexes, read in process. The
//! decoders' own properties (base64, percent, UTF-16)
//! are unit tests beside them (src/engine/decode.rs, src/scan.rs).
//!
//! A failing case is printed minimised; add it to tests/data/fuzz/ so that
//! it is replayed for good.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use leakhound::engine::{Base64Mode, Matcher, Scratch};
use leakhound::finding::{Finding, SourceKind};
use leakhound::report::{self, Format, ReportContext};
use leakhound::rules::RuleSet;
use leakhound::scan::{Options, Scanner, Stats};

use crate::util::{tempdir, KUNAVO, PINAIVU};

/// A runner with `cases` cases, a fixed seed and no persistence files.
fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

fn corpus(kind: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz")
        .join(kind);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

// ------------------------------------------------------------ the matcher

/// The built-in rules, with base64 decoding where a keyword is encoded and everywhere.
fn matchers() -> &'static [Matcher; 2] {
    static M: OnceLock<[Matcher; 2]> = OnceLock::new();
    M.get_or_init(|| {
        [
            Matcher::with_base64(RuleSet::builtin().unwrap(), Base64Mode::Keywords),
            Matcher::with_base64(RuleSet::builtin().unwrap(), Base64Mode::Everywhere),
        ]
    })
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Pieces that steer random bytes towards the matcher's interesting paths:
/// keywords and keys, encodings, trigger words, byte-order marks, line ends.
fn pieces() -> Vec<Vec<u8>> {
    let mut p: Vec<Vec<u8>> = [
        KUNAVO,
        PINAIVU,
        "sk-kunavo-",
        "sk-",
        "ghp_",
        "xoxb-",
        "AKIA",
        "-----BEGIN RSA PRIVATE KEY-----\n",
        "KUNAVO_API_KEY=",
        "api_key = \"",
        "%",
        "%2",
        "%73%6B%2D",
        "%3D",
        "\\t",
        "\\u0022",
        "base64",
        "Authorization: Basic ",
        "kind: Secret\n",
        "\"auth\": \"",
        ".dockerconfigjson",
        "leakhound:allow",
        "=",
        "\n",
        "\r\n",
        "\"",
        " ",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    p.push(b64(&format!("token={KUNAVO}")).into_bytes());
    p.push(b64(&b64(KUNAVO)).into_bytes());
    p.push(vec![0xFF, 0xFE]);
    p.push(vec![0xFE, 0xFF]);
    p.push(vec![0]);
    p.push(
        "KUNAVO_API_KEY=sk-kunavo-"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect(),
    );
    p
}

/// Arbitrary bytes, mixed with the pieces above.
fn hostile_bytes(max_parts: usize) -> impl Strategy<Value = Vec<u8>> {
    let pieces = pieces();
    let part = prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..24),
        2 => proptest::sample::select(pieces),
    ];
    proptest::collection::vec(part, 0..max_parts).prop_map(|v| v.concat())
}

/// Scan `buf` with both matchers; every finding is well formed.
fn scan_checked(buf: &[u8]) -> Result<usize, TestCaseError> {
    let options = Options::default();
    let mut n = 0;
    for matcher in matchers() {
        let scanner = Scanner {
            options: &options,
            matcher,
        };
        let mut stats = Stats::default();
        let findings = scanner.scan_buffer(
            buf,
            "fuzz.txt",
            SourceKind::File,
            &mut Scratch::default(),
            &mut stats,
        );
        for f in &findings {
            prop_assert!(f.line >= 1 && f.column >= 1, "{f:?}");
            prop_assert!(f.end_line >= f.line, "{f:?}");
            prop_assert!(!f.secret.is_empty(), "{f:?}");
        }
        n += findings.len();
    }
    Ok(n)
}

#[test]
fn the_matcher_never_panics_on_arbitrary_bytes() {
    runner(96)
        .run(&hostile_bytes(64), |buf| scan_checked(&buf).map(|_| ()))
        .unwrap();
    for (path, bytes) in corpus("matcher") {
        scan_checked(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// Found by the property above: a second copy of the key right after the
/// first, glued to it (`%2sk-kunavo-…`, no word boundary, so no finding of
/// its own), is shown raw in the first finding's snippet, in a redacted
/// report. The snippet must mask every copy of the secret (issue 16, found
/// by the property tests).
#[test]
fn a_snippet_never_shows_the_raw_secret() {
    let buf = format!("x = {KUNAVO}%2{KUNAVO}\n");
    let options = Options::default();
    let scanner = Scanner {
        options: &options,
        matcher: &matchers()[0],
    };
    let found = scanner.scan_buffer(
        buf.as_bytes(),
        "a.txt",
        SourceKind::File,
        &mut Scratch::default(),
        &mut Stats::default(),
    );
    assert!(!found.is_empty());
    for f in &found {
        assert!(!f.snippet.contains(KUNAVO), "{}", f.snippet);
    }
}

/// The keys planted in a seed are still found when random bytes surround
/// them on their own lines.
#[test]
fn a_key_on_its_own_line_is_found_whatever_surrounds_it() {
    let line = format!("\nKUNAVO_API_KEY=\"{KUNAVO}\"\n");
    let noise = proptest::collection::vec(any::<u8>(), 0..512);
    runner(48)
        .run(&(noise.clone(), noise), |(before, after)| {
            // Not UTF-16 (that would be transcoded): no NUL bytes around.
            let clean = |v: Vec<u8>| -> Vec<u8> { v.into_iter().filter(|&b| b != 0).collect() };
            let buf = [clean(before), line.as_bytes().to_vec(), clean(after)].concat();
            let options = Options::default();
            let scanner = Scanner {
                options: &options,
                matcher: &matchers()[0],
            };
            let found = scanner.scan_buffer(
                &buf,
                "fuzz.txt",
                SourceKind::File,
                &mut Scratch::default(),
                &mut Stats::default(),
            );
            prop_assert!(found.iter().any(|f| f.secret == KUNAVO), "{found:?}");
            Ok(())
        })
        .unwrap();
}

/// The fastest of three runs of `f`.
fn fastest(mut f: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let started = thread_cpu();
            f();
            thread_cpu().saturating_sub(started)
        })
        .min()
        .unwrap()
}

/// The CPU time this thread has used: unlike the wall clock, it does not
/// grow while other processes have the machine (the work runs here).
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill in.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// `unit` repeated to 16 KiB and to 256 KiB: is `work` on the big one well
/// under 16 squared times as slow as on the small one? Timed in this
/// thread's CPU time, so a loaded machine does not move it; the bound, 64x
/// plus 20 ms, leaves room for caches; a quadratic step takes ~256x.
fn linear_ish(unit: &[u8], work: impl Fn(&[u8])) -> Result<(), TestCaseError> {
    let small: Vec<u8> = unit.iter().copied().cycle().take(16 << 10).collect();
    let big: Vec<u8> = unit.iter().copied().cycle().take(256 << 10).collect();
    let (t_small, t_big) = (fastest(|| work(&small)), fastest(|| work(&big)));
    prop_assert!(
        t_big < t_small * 64 + Duration::from_millis(20),
        "16 KiB in {t_small:?}, 256 KiB in {t_big:?}"
    );
    Ok(())
}

/// The matcher (keyword pass, rules, base64 everywhere, percent decoding)
/// stays linear-ish on a hostile unit repeated.
#[test]
fn the_matcher_stays_linear_on_repeated_hostile_input() {
    runner(8)
        .run(&hostile_bytes(24), |unit| {
            prop_assume!(!unit.is_empty());
            linear_ish(&unit, |buf| {
                matchers()[1].find(buf, &mut Scratch::default());
            })
        })
        .unwrap();
}

/// A file of many findings stays linear too: each snippet masks the secrets
/// around it, not every secret of the file (that made 8,000 findings take
/// minutes).
#[test]
fn many_findings_stay_linear() {
    let lines: Vec<u8> = (0..64)
        .flat_map(|i| format!("token = value_{i}_abcdefghijklmnop\n").into_bytes())
        .collect();
    linear_ish(&lines, |buf| {
        scan_checked(buf).unwrap();
    })
    .unwrap();
}

// ------------------------------------------------------------ the loaders

/// Text built from the config and rule files' own vocabulary, with junk.
fn toml_ish() -> impl Strategy<Value = String> {
    let words: Vec<&'static str> = vec![
        "[scan]\n",
        "[verify]\n",
        "[allowlist]\n",
        "[[allowlists]]\n",
        "[[rules]]\n",
        "[[rules.examples]]\n",
        "[[rules.negative_examples]]\n",
        "[providers.kunavo]\n",
        "[providers.kunavo.revoke]\n",
        "[rules.context]\n",
        "disabled_rules = [\"kunavo-api-key\"]\n",
        "max_file_size = ",
        "threads = ",
        "decode_all = ",
        "no_ignore = ",
        "timeout = ",
        "retries = ",
        "max_wait = ",
        "cache_ttl = ",
        "concurrency = ",
        "per_provider = ",
        "base_url = ",
        "id = ",
        "description = ",
        "provider = ",
        "severity = ",
        "regex = ",
        "keywords = ",
        "min_entropy = ",
        "priority = ",
        "window = ",
        "paths = ",
        "regexes = ",
        "stopwords = ",
        "rules = ",
        "text = ",
        "secret = ",
        "\"demo-key\"",
        "\"high\"",
        "'''(demo_[a-z0-9]{10})'''",
        "'''(?P<secret>x)'''",
        "'''((a+)+)+$'''",
        "'''[\\x{0}-\\x{10FFFF}]{1000}'''",
        "[\"demo_\"]",
        "\"10M\"",
        "\"2Q\"",
        "\"24h\"",
        "\"http://127.0.0.1:1/v1\"",
        "18446744073709551615",
        "-1",
        "1e309",
        "nan",
        "0",
        "true",
        "\"\"",
        "[]",
        "{}",
        "\n",
        "=",
        "\"",
        "[",
        "]",
        "'''",
        "\u{feff}",
        "\u{0}",
    ];
    let part = prop_oneof![
        4 => proptest::sample::select(words).prop_map(str::to_string),
        1 => any::<String>().prop_map(|s| s.chars().take(12).collect()),
    ];
    proptest::collection::vec(part, 0..40).prop_map(|v| v.concat())
}

/// Load `text` as a config file, a rule file and a provider file; nothing
/// may panic, and whatever loads must resolve or fail with an error.
fn load_everything(text: &str, dir: &Path) {
    let path = dir.join(".leakhound.toml");
    std::fs::write(&path, text).unwrap();
    if let Ok(file) = leakhound::config::load_config_file(&path) {
        let _ = leakhound::config::resolve_rules(&file, "fuzz.toml");
    }
    if let Ok(specs) = leakhound::rules::parse_rule_file("fuzz.toml", text) {
        for spec in specs {
            let _ = leakhound::rules::Rule::compile(spec, "fuzz.toml");
        }
    }
    if let Ok(specs) = leakhound::provider::parse_provider_file("fuzz.toml", text) {
        for spec in specs {
            let _ = leakhound::provider::Check::new(&spec, None, "fuzz.toml");
        }
    }
}

#[test]
fn the_config_and_rule_loaders_never_panic_on_toml_ish_text() {
    let dir = tempdir();
    runner(160)
        .run(&toml_ish(), |text| {
            load_everything(&text, dir.path());
            Ok(())
        })
        .unwrap();
    for (_, bytes) in corpus("config") {
        load_everything(&String::from_utf8_lossy(&bytes), dir.path());
    }
}

// ------------------------------------------------------------ the writers

/// Text a scanned repository controls: any characters, with markup,
/// workflow commands, control characters and line ends mixed in. Without
/// U+FFFE and U+FFFF when `xml_safe` (issue 16 M2: the JUnit writer does
/// not yet drop them; `junit_drops_xml_noncharacters` holds that case).
fn hostile_text(xml_safe: bool) -> impl Strategy<Value = String> {
    let c = prop_oneof![
        4 => any::<char>(),
        1 => proptest::sample::select(vec![
            '\u{1b}', '\u{7}', '\n', '\r', '\0', '\u{85}', '\u{2028}', '\u{feff}', '\u{fffe}',
            '\u{ffff}', ':', '<', '>', '&', '"', '\'', '|', '`', '%', ',', '\\', '#', '[', ']',
        ]),
    ];
    proptest::collection::vec(c, 0..32).prop_map(move |v| {
        v.into_iter()
            .filter(|&c| !(xml_safe && (c == '\u{fffe}' || c == '\u{ffff}')))
            .collect()
    })
}

/// A real finding (so every field is one the scanner makes), then its
/// repository-controlled fields replaced.
fn base_finding() -> Finding {
    let options = Options::default();
    let scanner = Scanner {
        options: &options,
        matcher: &matchers()[0],
    };
    let text = format!("KUNAVO_API_KEY={KUNAVO}\n");
    let found = scanner.scan_buffer(
        text.as_bytes(),
        "a.env",
        SourceKind::File,
        &mut Scratch::default(),
        &mut Stats::default(),
    );
    found.into_iter().next().expect("the Kunavo key is found")
}

#[derive(Debug, Clone)]
struct Texts {
    path: String,
    snippet: String,
    secret: String,
    commit: String,
    detail: String,
    error: String,
    line: usize,
    verdict: &'static str,
}

fn texts(xml_safe: bool) -> impl Strategy<Value = Texts> {
    (
        (
            hostile_text(xml_safe),
            hostile_text(xml_safe),
            hostile_text(xml_safe),
            hostile_text(xml_safe),
        ),
        (hostile_text(xml_safe), hostile_text(xml_safe)),
        1usize..1_000_000,
        proptest::sample::select(vec!["live", "dead", "unknown", "none"]),
    )
        .prop_map(
            |((path, snippet, secret, commit), (detail, error), line, verdict)| Texts {
                path,
                snippet,
                secret,
                commit,
                detail,
                error,
                line,
                verdict,
            },
        )
}

fn findings_and_stats(t: &Texts) -> (Vec<Finding>, Stats) {
    let mut f = base_finding();
    f.path = t.path.clone();
    f.snippet = t.snippet.clone();
    f.secret = format!("{KUNAVO}{}", t.secret);
    f.redacted = format!(
        "sk-kunavo-{}…",
        t.secret.chars().take(4).collect::<String>()
    );
    f.line = t.line;
    f.end_line = t.line;
    f.alternatives = vec![t.commit.clone()];
    f.ambiguous = !t.commit.is_empty();
    let mut g = f.clone();
    g.commit = Some(
        serde_json::from_value(serde_json::json!({
            "id": "0123456789abcdef0123456789abcdef01234567",
            "author_name": t.commit,
            "author_email": t.path,
            "date": "2024-01-01T00:00:00Z",
            "summary": t.snippet,
        }))
        .expect("a commit from JSON"),
    );
    if t.verdict != "none" {
        g.verification = Some(
            serde_json::from_value(serde_json::json!({
                "verdict": t.verdict,
                "reason": if t.verdict == "unknown" { Some("status") } else { None },
                "status": 403,
                "detail": t.detail,
                "provider": "kunavo",
                "identity": t.commit,
            }))
            .expect("a verification from JSON"),
        );
    }
    let stats: Stats = serde_json::from_value(serde_json::json!({
        "files": 2, "bytes": 100, "findings": 2, "suppressed": 0,
        "skipped": [{"path": t.error, "reason": t.detail}],
        "errors": [{"path": t.error, "reason": t.snippet}],
        "elapsed_ms": 1,
        "notes": [t.commit],
    }))
    .expect("stats from JSON");
    (vec![f, g], stats)
}

fn sarif_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
        let schema: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        jsonschema::validator_for(&schema).expect("schema compiles")
    })
}

const FORMATS: [Format; 8] = [
    Format::Text,
    Format::Json,
    Format::Sarif,
    Format::Github,
    Format::Jsonl,
    Format::Junit,
    Format::Markdown,
    Format::Html,
];

fn write_as(format: Format, findings: &[Finding], stats: &Stats, show: bool) -> String {
    let options = report::Options {
        format,
        output: None,
        show_secrets: show,
        color: false,
        quiet: false,
    };
    let rules = &matchers()[0];
    let ctx = ReportContext {
        options: &options,
        rules: rules.rules(),
        stats,
        roots: &[".".to_string()],
        config_files: &[],
    };
    let mut out = Vec::new();
    report::write(&mut out, findings, &ctx).expect("writing to memory");
    String::from_utf8(out).expect("reports are UTF-8")
}

/// Every format writes; JSON, JSON Lines and SARIF parse (SARIF validates
/// against the schema) and JUnit parses as XML, whatever the text.
fn check_writers(t: &Texts, xml: bool) -> Result<(), TestCaseError> {
    let (findings, stats) = findings_and_stats(t);
    for show in [false, true] {
        for format in FORMATS {
            let out = write_as(format, &findings, &stats, show);
            match format {
                Format::Json => {
                    let v: serde_json::Value = serde_json::from_str(&out)
                        .map_err(|e| TestCaseError::fail(format!("JSON: {e}\n{out}")))?;
                    prop_assert_eq!(v["findings"].as_array().map(Vec::len), Some(2));
                    prop_assert_eq!(v["findings"][0]["path"].as_str(), Some(t.path.as_str()));
                }
                Format::Jsonl => {
                    for line in out.lines() {
                        serde_json::from_str::<serde_json::Value>(line)
                            .map_err(|e| TestCaseError::fail(format!("JSON line: {e}\n{line}")))?;
                    }
                    prop_assert_eq!(out.lines().count(), 3, "{}", out);
                }
                Format::Sarif => {
                    let v: serde_json::Value = serde_json::from_str(&out)
                        .map_err(|e| TestCaseError::fail(format!("SARIF: {e}\n{out}")))?;
                    let errors: Vec<String> = sarif_validator()
                        .iter_errors(&v)
                        .map(|e| format!("{e} at {}", e.instance_path))
                        .collect();
                    prop_assert!(errors.is_empty(), "{}", errors.join("\n"));
                }
                Format::Junit if xml => {
                    let doc = roxmltree::Document::parse(&out)
                        .map_err(|e| TestCaseError::fail(format!("JUnit: {e}\n{out:?}")))?;
                    let cases = doc
                        .descendants()
                        .filter(|n| n.has_tag_name("testcase"))
                        .count();
                    prop_assert_eq!(cases, 3);
                }
                _ => {}
            }
            if !show {
                prop_assert!(!out.contains(KUNAVO), "{format:?} shows the key");
            }
        }
    }
    Ok(())
}

#[test]
fn every_report_format_stays_well_formed_for_any_text() {
    runner(48)
        .run(&texts(true), |t| check_writers(&t, true))
        .unwrap();
    // Seeds: one JSON object of texts per file.
    for (path, bytes) in corpus("report") {
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let t = Texts {
            path: s("path"),
            snippet: s("snippet"),
            secret: s("secret"),
            commit: s("commit"),
            detail: s("detail"),
            error: s("error"),
            line: v["line"].as_u64().unwrap_or(1) as usize,
            verdict: match s("verdict").as_str() {
                "live" => "live",
                "dead" => "dead",
                "unknown" => "unknown",
                _ => "none",
            },
        };
        let xml_safe = ![
            &t.path, &t.snippet, &t.secret, &t.commit, &t.detail, &t.error,
        ]
        .iter()
        .any(|s| s.contains(['\u{fffe}', '\u{ffff}']));
        check_writers(&t, xml_safe).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// U+FFFE and U+FFFF are not XML characters: a path holding one must not
/// break the JUnit report.
#[test]
fn junit_drops_xml_noncharacters() {
    runner(32)
        .run(&texts(false), |t| check_writers(&t, true))
        .unwrap();
}

// ------------------------------------------------------------ archives and the index

/// Mutations of a seed: byte changes, cuts, insertions and copies of a
/// stretch elsewhere (which makes records overlap and repeat).
#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Cut(usize),
    Insert(usize, Vec<u8>),
    Copy(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
        1 => any::<usize>().prop_map(Mutation::Cut),
        2 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        2 => (any::<usize>(), any::<usize>(), 1..600usize)
            .prop_map(|(from, to, n)| Mutation::Copy(from, to, n)),
    ]
}

fn mutate(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in mutations {
        let len = b.len().max(1);
        match m {
            Mutation::Set(at, v) => {
                if !b.is_empty() {
                    b[at % len] = *v;
                }
            }
            Mutation::Cut(at) => b.truncate(at % len),
            Mutation::Insert(at, bytes) => {
                let at = at % (b.len() + 1);
                b.splice(at..at, bytes.iter().copied());
            }
            Mutation::Copy(from, to, n) => {
                let from = from % len;
                let piece: Vec<u8> = b.iter().skip(from).take(*n).copied().collect();
                let to = to % (b.len() + 1);
                let end = (to + piece.len()).min(b.len());
                b.splice(to..end, piece);
            }
        }
    }
    b
}

/// A seed from `kind`'s corpus, mutated.
fn mutated_seeds(kind: &str) -> impl Strategy<Value = (usize, Vec<u8>)> {
    let seeds: Vec<Vec<u8>> = corpus(kind).into_iter().map(|(_, b)| b).collect();
    let n = seeds.len();
    (0..n, proptest::collection::vec(mutation(), 0..6))
        .prop_map(move |(i, m)| (i, mutate(&seeds[i], &m)))
}

/// Scan `bytes` as the file `name` in `dir`, archives opened: it must not
/// panic, and what it reports stays bounded (names cut at 4096 bytes a
/// level, at most 20 notes an archive plus one a reason past that).
fn scan_archive(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let options = Options {
        max_file_size: 1 << 20,
        ..Options::default()
    };
    let outcome =
        leakhound::source::fs::scan_paths(&options, &matchers()[0], std::slice::from_ref(&path));
    // `file!entry!entry…`: each level's name at most 4096 bytes (a name
    // holding `!` only loosens the bound).
    let base = path.display().to_string().len();
    let bounded =
        |p: &str| p.len() <= base + p.get(base..).map_or(0, |r| r.matches('!').count()) * 4097;
    for f in &outcome.findings {
        prop_assert!(bounded(&f.path), "a path of {} bytes", f.path.len());
    }
    for n in outcome.stats.skipped.iter().chain(&outcome.stats.errors) {
        prop_assert!(bounded(&n.path), "a note's path of {} bytes", n.path.len());
    }
    prop_assert!(
        outcome.stats.skipped.len() <= 41,
        "{} notes",
        outcome.stats.skipped.len()
    );
    Ok(())
}

#[test]
fn the_archive_readers_never_panic_and_stay_bounded_on_hostile_archives() {
    let dir = tempdir();
    let names = ["f.zip", "f.tar", "f.tar.gz", "f.bin"];
    runner(96)
        .run(
            &(mutated_seeds("archive"), 0..names.len()),
            |((_, bytes), n)| scan_archive(dir.path(), names[n], &bytes),
        )
        .unwrap();
    for (path, bytes) in corpus("archive") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        scan_archive(dir.path(), &name, &bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// A repository whose index is `bytes`; the staged scan reads it (directly,
/// or through libgit2 when the direct reader does not take it) and must
/// not panic, whatever the file holds.
fn scan_index(repo: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    std::fs::write(repo.join(".git/index"), bytes).unwrap();
    let options = Options {
        paths: vec![repo.to_path_buf()],
        ..Options::default()
    };
    // An error (a corrupt index) is an answer too; a panic is not.
    let _ = leakhound::source::staged::scan_staged(&options, &matchers()[0]);
    Ok(())
}

#[test]
fn the_index_reader_never_panics_on_hostile_indexes() {
    let repo = crate::gitutil::Repo::init();
    repo.write("a.txt", "hi\n");
    repo.write("a/b/c.txt", "c\n");
    repo.commit("one");
    // The indexes git writes (v2, v4 after a change of version) join the
    // committed seeds.
    let mut seeds: Vec<Vec<u8>> = corpus("index").into_iter().map(|(_, b)| b).collect();
    seeds.push(std::fs::read(repo.path().join(".git/index")).unwrap());
    crate::gitutil::git(repo.path(), &["update-index", "--index-version", "4"]);
    seeds.push(std::fs::read(repo.path().join(".git/index")).unwrap());
    let n = seeds.len();
    let strategy = (0..n, proptest::collection::vec(mutation(), 0..6));
    runner(128)
        .run(&strategy, |(i, m)| {
            scan_index(repo.path(), &mutate(&seeds[i], &m))
        })
        .unwrap();
    for seed in &seeds {
        scan_index(repo.path(), seed).unwrap();
    }
}
