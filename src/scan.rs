//! The pipeline: sources -> per-thread matchers -> findings, filtered by the
//! allowlists and the baseline, with statistics merged once at the end.
//!
//! `scan_buffer` turns the matcher's byte spans into findings (line, column,
//! snippet, fingerprint); every source (files, stdin, git blobs, the index)
//! goes through it, so a finding looks the same wherever it came from.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{DecimalBytes, ProgressBar, ProgressState, ProgressStyle};
use serde::Serialize;

use crate::allowlist::Allowlist;
use crate::baseline::Baseline;
use crate::engine::{Match, Matcher, Scratch};
use crate::finding::{self, Finding, Part, SourceKind};

/// A file the scan could not read, or chose not to.
/// What a scan reads and how; `config` assembles it from flags and
/// `.leakhound.toml`, the sources and the pipeline read it.
#[derive(Debug)]
pub struct Options {
    /// Paths to scan, `-` for standard input; a git scan has one, the
    /// repository.
    pub paths: Vec<PathBuf>,
    /// Set for git scans.
    pub git: Option<GitScan>,
    pub no_ignore: bool,
    pub follow: bool,
    /// Symbolic links may lead out of the scanned paths (only `--follow` on
    /// the command line says so); otherwise a followed link must stay inside.
    pub follow_outside_roots: bool,
    pub max_file_size: u64,
    /// 0 = one per core.
    pub threads: usize,
    /// Search for base64-encoded keys everywhere (`--decode-all`).
    pub decode_all: bool,
    /// Findings below this confidence are held back (`--min-confidence`,
    /// `[scan] min_confidence`; `hold_back`), after verification.
    pub min_confidence: finding::Confidence,
    /// How far archives (zip, tar, compressed files) are opened.
    pub archives: ArchiveLimits,
    /// Show a progress bar on standard error.
    pub progress: bool,
    pub allowlist: Allowlist,
    /// Fingerprints accepted earlier (`--baseline`).
    pub baseline: Option<Baseline>,
    /// `--verbose`: note each suppressed finding in `Stats::log`.
    pub verbose: bool,
    /// Set by Ctrl-C or SIGTERM: file walks stop, and what was scanned is
    /// reported.
    pub interrupt: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// History scans: group findings by key under this keyed hash and say
    /// where each key still lives (`exposure`); `None` leaves it out.
    pub exposure: Option<crate::exposure::KeySlot>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            paths: Vec::new(),
            git: None,
            no_ignore: false,
            follow: false,
            follow_outside_roots: false,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            threads: 0,
            decode_all: false,
            min_confidence: finding::Confidence::default(),
            archives: ArchiveLimits::default(),
            progress: false,
            allowlist: Allowlist::default(),
            baseline: None,
            verbose: false,
            interrupt: None,
            exposure: None,
        }
    }
}

/// Files larger than this are skipped unless `--max-file-size` says otherwise.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 100 << 20;

/// The bounds on opening archives (`[scan] archive_*`, `--archive-depth`,
/// `--no-archives`), so that a zip bomb costs a bounded amount of work.
/// Bytes and entries are counted over one archive file or blob and
/// everything nested in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Nesting levels opened: 1 opens `app.jar` but not a jar inside it;
    /// 0 scans archives as plain bytes.
    pub depth: u32,
    /// Bytes read out of one archive, nested ones included.
    pub max_bytes: u64,
    /// Largest ratio of inflated to compressed bytes of one compressed
    /// stream (a zip entry, a `.gz`), checked once it has inflated 1 MiB.
    pub max_ratio: u64,
    /// Entries read from one archive, nested ones included.
    pub max_entries: u64,
}

impl Default for ArchiveLimits {
    fn default() -> ArchiveLimits {
        ArchiveLimits {
            depth: 4,
            max_bytes: 1 << 30,
            max_ratio: 100,
            max_entries: 100_000,
        }
    }
}

/// What part of a git repository a scan reads; the repository is the one
/// scanned path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GitScan {
    /// Every blob reachable from any ref (`--git`); `all_objects` adds the
    /// objects no ref reaches.
    History { all_objects: bool },
    /// The lines added by the commits in `base..head` (`--range`, `--since`).
    Range { base: String, head: String },
    /// The lines the index adds to HEAD (`--staged`).
    Staged,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PathNote {
    pub path: String,
    pub reason: String,
}

/// What a scan looked at.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Stats {
    pub files: u64,
    pub bytes: u64,
    pub findings: usize,
    /// Findings dropped by an inline allow comment, the allowlist or the baseline.
    pub suppressed: usize,
    /// Published example keys seen and not reported (`rules/known-examples.toml`).
    #[serde(default)]
    pub known_examples: usize,
    /// Findings below the minimum confidence (`--min-confidence`), not
    /// reported, per level.
    #[serde(default, skip_serializing_if = "finding::HeldBack::is_empty")]
    pub held_back: finding::HeldBack,
    /// With `--verbose`: each finding suppressed, as `path:line` and why
    /// (never the secret); printed on stderr, in no report.
    #[serde(skip)]
    pub log: Vec<PathNote>,
    pub skipped: Vec<PathNote>,
    pub errors: Vec<PathNote>,
    pub elapsed_ms: u64,
    /// With `--baseline`: entries that no finding of this run matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_baseline: Option<Vec<crate::baseline::StaleEntry>>,
    /// Git scans: commits and unique blobs read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commits: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs: Option<u64>,
    /// Audits with `--datastore`: blobs not read because an earlier run
    /// scanned them under the same rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs_skipped: Option<u64>,
    /// Audits: the repositories scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repositories: Option<u64>,
    /// Things the user should know that are neither errors nor skips
    /// (submodules not followed, a shallow clone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What verification did, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<crate::verify::VerifySummary>,
    /// File trees: entries (a directory counts once) that `.gitignore`,
    /// `.ignore` or git's exclude files kept out of the walk.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ignored: u64,
    /// The ignored entries whose names look like credential files (`.env`,
    /// `id_rsa`, `*.pem`): worth a `--no-ignore` run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_credentials: Vec<String>,
    /// History scans: the findings grouped by key, with where each key
    /// still lives (`exposure`). The JSON report writes them as its
    /// top-level `secrets`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<crate::exposure::Secret>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Stats {
    pub fn merge(&mut self, other: Stats) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.suppressed += other.suppressed;
        self.known_examples += other.known_examples;
        self.held_back.merge(&other.held_back);
        self.log.extend(other.log);
        self.skipped.extend(other.skipped);
        self.errors.extend(other.errors);
        self.notes.extend(other.notes);
        self.ignored += other.ignored;
        self.ignored_credentials.extend(other.ignored_credentials);
    }
}

/// The outcome of a scan.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    pub findings: Vec<Finding>,
    pub stats: Stats,
}

/// Counters the progress display reads while workers update them (shared
/// with indicatif's ticker thread, hence the `Arc`s).
#[derive(Default)]
pub struct Progress {
    files: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl Progress {
    pub fn add(&self, bytes: u64) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Everything a worker needs to turn bytes into findings.
pub struct Scanner<'a> {
    pub options: &'a Options,
    pub matcher: &'a Matcher,
}

impl Scanner<'_> {
    /// Scan one buffer and return its findings, after inline allow comments
    /// and the allowlist (the baseline is applied once, at the end). What
    /// was suppressed, and the published example keys seen, are counted in
    /// `stats`.
    pub fn scan_buffer(
        &self,
        buf: &[u8],
        path: &str,
        source: SourceKind,
        scratch: &mut Scratch,
        stats: &mut Stats,
    ) -> Vec<Finding> {
        let mut out = self.scan_bytes(buf, path, source, scratch, stats);
        // UTF-16 text is transcoded so that keys in it are found, and the
        // raw bytes are scanned as well: a UTF-16 start (a BOM, a PowerShell
        // transcript) says nothing about what follows it (`>>` appends
        // UTF-8). One occurrence cannot be found both ways, but a finding
        // both passes report alike is kept once.
        if let Some(text) = utf16_to_utf8(buf) {
            for f in self.scan_bytes(&text, path, source, scratch, stats) {
                let same = |o: &Finding| {
                    (&o.rule_id, &o.secret, o.line, o.column)
                        == (&f.rule_id, &f.secret, f.line, f.column)
                };
                if !out.iter().any(same) {
                    out.push(f);
                }
            }
        }
        out
    }

    /// `scan_buffer` for one encoding of the buffer.
    fn scan_bytes(
        &self,
        buf: &[u8],
        path: &str,
        source: SourceKind,
        scratch: &mut Scratch,
        stats: &mut Stats,
    ) -> Vec<Finding> {
        let matches = self.matcher.find(buf, scratch);
        if matches.is_empty() {
            return Vec::new();
        }
        let allowed_inline = inline_allowed(buf, &matches);
        let set = self.matcher.rules();
        let rules = set.rules();
        // Every secret's span, so that a snippet masks the other secrets on
        // its line too (suppressed ones included), not only its own.
        let spans: Vec<(usize, usize)> = matches.iter().map(|m| (m.start, m.end)).collect();
        let longest = spans.iter().map(|&(s, e)| e - s).max().unwrap_or(0);
        let mut cursor = LineCursor::default();
        let located: Vec<(usize, usize, usize)> = matches
            .iter()
            .map(|m| cursor.advance(buf, m.start))
            .collect();
        let evidence_lines = evidence_lines(buf, &matches);
        let mut out = Vec::with_capacity(matches.len());
        for (i, (m, allowed)) in matches.iter().zip(allowed_inline).enumerate() {
            let rule = &rules[m.rule];
            if m.known_example {
                stats.known_examples += 1;
                continue;
            }
            if rule.spec.part_only {
                continue; // reported only as a part of another finding
            }
            let (line, line_start, column) = located[i];
            // Bounded: a 100 MB single-line file must not cost 100 MB per finding.
            let line_end = bounded_line_end(buf, m.start);
            if allowed {
                stats.suppressed += 1;
                self.log_suppressed(stats, path, line, rule.id(), "an inline allow comment");
                continue;
            }
            let secret = String::from_utf8_lossy(&m.secret).into_owned();
            if self.options.allowlist.allows_secret(&secret)
                || self.options.allowlist.allows_match(
                    rule.id(),
                    path,
                    &secret,
                    &buf[line_start.max(m.start.saturating_sub(LINE_SPAN))..line_end],
                )
            {
                stats.suppressed += 1;
                self.log_suppressed(stats, path, line, rule.id(), "the allowlist");
                continue;
            }
            let span = &buf[m.start..m.end];
            let (end_line, end_column) = match memchr::memrchr(b'\n', span) {
                None => (line, column + char_count(span)),
                Some(i) => (
                    line + memchr::memchr_iter(b'\n', span).count(),
                    char_count(&span[i + 1..]) + 1,
                ),
            };
            let fingerprint = finding::fingerprint(rule.id(), path, &m.secret);
            if self
                .options
                .allowlist
                .allows_fingerprint(&fingerprint, &m.secret)
            {
                stats.suppressed += 1;
                self.log_suppressed(stats, path, line, rule.id(), "an allowlisted fingerprint");
                continue;
            }
            let redacted = finding::redact(&secret, m.prefix_len);
            out.push(Finding {
                rule_id: rule.id().to_string(),
                description: rule.spec.description.to_string(),
                provider: rule.provider().to_string(),
                severity: rule.spec.severity,
                path: path.to_string(),
                line,
                column,
                end_line,
                end_column,
                snippet: snippet(buf, line_start, line_end, m, &redacted, &spans, longest),
                secret,
                redacted,
                fingerprint,
                source,
                commit: None,
                verification: None,
                encoding: m.encoding.map(|e| e.as_str()),
                ambiguous: m.ambiguous,
                alternatives: m.alternatives.clone(),
                generic: rule.spec.generic,
                confidence: crate::engine::confidence::confidence(rule, m, path, buf),
                parts: link_parts(set, &matches, &located, i),
                by_context: m.by_context,
                evidence: m.evidence.as_ref().map(|e| match evidence_lines[i] {
                    Some(line) => format!("{}, line {line}", e.word),
                    None => e.word.clone(),
                }),
            });
        }
        out
    }
}

impl Scanner<'_> {
    /// With `--verbose`, note a suppressed finding: where, which rule, why.
    fn log_suppressed(&self, stats: &mut Stats, path: &str, line: usize, rule: &str, why: &str) {
        if self.options.verbose {
            stats.log.push(PathNote {
                path: format!("{path}:{line}"),
                reason: format!("a {rule} finding suppressed by {why}"),
            });
        }
    }
}

/// The other halves of match `i`'s credential: for each rule its rule names
/// in `parts`, the nearest match of that rule within `parts.lines` lines
/// (by line, then by offset). Published example values are not linked.
fn link_parts(
    set: &crate::rules::RuleSet,
    matches: &[Match],
    located: &[(usize, usize, usize)],
    i: usize,
) -> Vec<Part> {
    let m = &matches[i];
    let wanted = set.parts_of(m.rule);
    if wanted.is_empty() {
        return Vec::new();
    }
    let max_lines = set.rules()[m.rule]
        .spec
        .parts
        .as_ref()
        .map_or(0, |p| p.lines);
    let line = located[i].0;
    let mut parts = Vec::new();
    for &want in wanted {
        let nearest = matches
            .iter()
            .enumerate()
            .filter(|(j, o)| *j != i && o.rule == want && !o.known_example)
            .filter(|(j, _)| max_lines == 0 || located[*j].0.abs_diff(line) <= max_lines)
            .min_by_key(|(j, o)| (located[*j].0.abs_diff(line), o.start.abs_diff(m.start)));
        if let Some((j, o)) = nearest {
            let secret = String::from_utf8_lossy(&o.secret).into_owned();
            parts.push(Part {
                rule_id: set.rules()[want].id().to_string(),
                redacted: finding::redact(&secret, o.prefix_len),
                secret,
                line: located[j].0,
                column: located[j].2,
            });
        }
    }
    parts
}

/// The line of each match's evidence, counted in one pass over the buffer
/// whatever the number of matches.
fn evidence_lines(buf: &[u8], matches: &[Match]) -> Vec<Option<usize>> {
    let mut wanted: Vec<(usize, usize)> = matches
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.evidence.as_ref()?.offset.map(|o| (o.min(buf.len()), i)))
        .collect();
    let mut lines = vec![None; matches.len()];
    wanted.sort_unstable();
    let (mut pos, mut line) = (0, 1);
    for (offset, i) in wanted {
        line += memchr::memchr_iter(b'\n', &buf[pos..offset]).count();
        pos = offset;
        lines[i] = Some(line);
    }
    lines
}

/// Walks forward through a buffer counting lines and columns, so that a
/// buffer's findings (sorted by offset) cost one pass over it in all, even
/// when they all sit on one 100 MB line.
#[derive(Default)]
struct LineCursor {
    offset: usize,
    line: usize,
    line_start: usize,
    /// 1-based column of `offset`.
    column: usize,
}

impl LineCursor {
    /// (line, line start offset, column) of `to`, all 1-based but the offset.
    fn advance(&mut self, buf: &[u8], to: usize) -> (usize, usize, usize) {
        if self.line == 0 || to < self.offset {
            // Matches are sorted by start, but an encoded span may begin
            // before the previous match: count again from the top.
            *self = LineCursor {
                offset: 0,
                line: 1,
                line_start: 0,
                column: 1,
            };
        }
        let gap = &buf[self.offset..to];
        match memchr::memrchr(b'\n', gap) {
            None => self.column += char_count(gap),
            Some(i) => {
                self.line += memchr::memchr_iter(b'\n', gap).count();
                self.line_start = self.offset + i + 1;
                self.column = char_count(&gap[i + 1..]) + 1;
            }
        }
        self.offset = to;
        (self.line, self.line_start, self.column)
    }
}

/// Characters in `bytes` (UTF-8 continuation bytes do not count).
fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

const INLINE_ALLOW: &[&[u8]] = &[b"leakhound:allow", b"gitleaks:allow"];
/// The longest of `INLINE_ALLOW`.
const MARKER_LEN: usize = 15;
/// How far from a secret an allow comment may be, in bytes between the two.
const ALLOW_SPAN: usize = 200;
/// How much of a line around a secret is shown as a snippet or searched by
/// line-targeted allowlists; a 100 MB single-line file must not cost 100 MB
/// per hit.
const LINE_SPAN: usize = 4096;
const SNIPPET_CONTEXT: usize = 60;

fn bounded_line_end(buf: &[u8], at: usize) -> usize {
    let limit = (at + LINE_SPAN).min(buf.len());
    memchr::memchr(b'\n', &buf[at..limit]).map_or(limit, |i| at + i)
}

/// For each match (sorted by start), whether an inline allow comment
/// suppresses it.
///
/// A marker suppresses one secret: the nearest one on its line, at most
/// `ALLOW_SPAN` bytes away (the one before it on a tie; the secrets decoded
/// from one base64 run count as one). One marker in a minified file or a
/// bundle therefore cannot hide the other keys around it, and a line with
/// two keys needs two markers. Only the text near a match is searched.
fn inline_allowed(buf: &[u8], matches: &[Match]) -> Vec<bool> {
    matches
        .iter()
        .map(|m| {
            markers_near(buf, m.start, m.end)
                .into_iter()
                .any(|marker| is_nearest(buf, matches, m, marker))
        })
        .collect()
}

/// The allow markers on the line of `buf[start..end]` within `ALLOW_SPAN`
/// bytes of it, as (start, end).
fn markers_near(buf: &[u8], start: usize, end: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut before = start.saturating_sub(ALLOW_SPAN + MARKER_LEN);
    if let Some(i) = memchr::memrchr(b'\n', &buf[before..start]) {
        before += i + 1;
    }
    let mut after = (end + ALLOW_SPAN + MARKER_LEN).min(buf.len());
    if let Some(i) = memchr::memchr(b'\n', &buf[end.min(after)..after]) {
        after = end + i;
    }
    for (from, to) in [(before, start), (end.min(after), after)] {
        for marker in INLINE_ALLOW {
            for i in memchr::memmem::find_iter(&buf[from..to], marker) {
                let p = (from + i, from + i + marker.len());
                if gap(start, end, p) <= ALLOW_SPAN {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Bytes between the span `start..end` and a marker (0 when they touch).
fn gap(start: usize, end: usize, (ms, me): (usize, usize)) -> usize {
    if me <= start {
        start - me
    } else {
        ms.saturating_sub(end)
    }
}

/// Is `m` the secret `marker` belongs to: no other secret on the line is
/// nearer to it (or as near and before `m`)?
fn is_nearest(buf: &[u8], matches: &[Match], m: &Match, marker: (usize, usize)) -> bool {
    let d = gap(m.start, m.end, marker);
    // Candidates start at most a line span before the marker and no further
    // after it than `m` is.
    let lo = matches.partition_point(|o| o.start < marker.0.saturating_sub(LINE_SPAN));
    let hi = matches.partition_point(|o| o.start <= marker.1 + d);
    matches[lo..hi].iter().all(|o| {
        if (o.start, o.end) == (m.start, m.end) {
            return true;
        }
        let od = gap(o.start, o.end, marker);
        if od > d || (od == d && o.start > m.start) {
            return true;
        }
        // Nearer (or as near and earlier): it wins if it is on the line.
        let between = if o.end <= marker.0 {
            &buf[o.end..marker.0]
        } else if o.start >= marker.1 {
            &buf[marker.1..o.start]
        } else {
            &[][..]
        };
        memchr::memchr(b'\n', between).is_some()
    })
}

/// How far around a snippet the secrets to mask are looked for.
const NEAR_SECRETS: usize = 4096;

fn snippet(
    buf: &[u8],
    line_start: usize,
    line_end: usize,
    m: &Match,
    redacted: &str,
    spans: &[(usize, usize)],
    longest: usize,
) -> String {
    let s = line_start.max(m.start.saturating_sub(SNIPPET_CONTEXT));
    let end_of_secret_line = m.end.min(line_end.max(m.start));
    let e = line_end
        .min(end_of_secret_line + SNIPPET_CONTEXT)
        .max(end_of_secret_line);
    // Only the secrets around this one matter (`spans` is sorted by start):
    // those overlapping the snippet (none starts more than `longest` before
    // it) and those near enough to have a copy in it. Looking at every span
    // per finding made a file of many findings quadratic.
    let lo = spans.partition_point(|&(ss, _)| ss + longest.max(NEAR_SECRETS) < s);
    let hi = spans.partition_point(|&(ss, _)| ss <= e + NEAR_SECRETS);
    let around = &spans[lo..hi.max(lo)];
    // Every copy of a secret found nearby is masked too, not only the spans
    // the matcher reported: a key glued to a copy of itself (`KEY%2KEY`)
    // yields one finding, and the copy must not show raw beside it.
    let mut masked: Vec<(usize, usize)> = around.to_vec();
    for &(ss, se) in around {
        let secret = &buf[ss..se];
        if secret.len() < 8 {
            continue;
        }
        // The window is a line's worth of bytes: a first-byte scan is far
        // cheaper than building a substring finder per nearby secret.
        let window = &buf[s..e];
        masked.extend(
            memchr::memchr_iter(secret[0], window)
                .filter(|&i| window[i..].starts_with(secret))
                .map(|i| (s + i, s + i + secret.len())),
        );
    }
    masked.sort_unstable();
    let mut text = String::new();
    if s > line_start {
        text.push('…');
    }
    push_masked(&mut text, buf, s, m.start, &masked);
    text.push_str(redacted);
    if m.end <= line_end {
        push_masked(&mut text, buf, m.end, e, &masked);
    }
    if e < line_end {
        text.push('…');
    }
    crate::text::sanitize(text.trim_end_matches('\r').trim())
}

/// Append `buf[from..to]`, with any other secret overlapping it replaced by
/// `…`: a snippet never shows a raw secret, its own or a neighbour's.
fn push_masked(text: &mut String, buf: &[u8], from: usize, to: usize, spans: &[(usize, usize)]) {
    let mut at = from;
    for &(ss, se) in spans.iter().filter(|&&(ss, se)| ss < to && se > from) {
        if ss > at {
            text.push_str(&String::from_utf8_lossy(&buf[at..ss]));
        }
        text.push('…');
        at = at.max(se);
    }
    if at < to {
        text.push_str(&String::from_utf8_lossy(&buf[at..to]));
    }
}

/// UTF-16 text (with a byte-order mark, or plainly ASCII in UTF-16LE) is
/// transcoded so that keys in it are found; everything else is scanned as is.
fn utf16_to_utf8(buf: &[u8]) -> Option<Vec<u8>> {
    let (little, body) = match buf {
        [0xFF, 0xFE, rest @ ..] => (true, rest),
        [0xFE, 0xFF, rest @ ..] => (false, rest),
        _ if looks_like_utf16le(buf) => (true, buf),
        _ => return None,
    };
    let units = body.chunks_exact(2).map(|c| {
        if little {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], c[1]])
        }
    });
    let text: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    Some(text.into_bytes())
}

fn looks_like_utf16le(buf: &[u8]) -> bool {
    let head = &buf[..buf.len().min(256) & !1];
    if head.len() < 16 {
        return false;
    }
    let pairs = head.len() / 2;
    let ascii_pairs = head
        .chunks_exact(2)
        .filter(|c| c[1] == 0 && c[0] != 0 && c[0].is_ascii())
        .count();
    ascii_pairs * 10 >= pairs * 9
}

/// Apply the baseline: drop findings whose fingerprint it holds and list
/// its stale entries (see `baseline::apply`).
pub fn apply_baseline(options: &Options, outcome: &mut ScanOutcome) {
    if let Some(baseline) = &options.baseline {
        // `--verbose` names what the baseline dropped: the places before,
        // less the places after.
        let before: Vec<(String, usize, String)> = if options.verbose {
            outcome
                .findings
                .iter()
                .map(|f| (f.path.clone(), f.line, f.rule_id.clone()))
                .collect()
        } else {
            Vec::new()
        };
        let (suppressed, stale) =
            crate::baseline::apply(baseline, &options.paths, &mut outcome.findings);
        if options.verbose {
            let after: std::collections::HashSet<(&str, usize, &str)> = outcome
                .findings
                .iter()
                .map(|f| (f.path.as_str(), f.line, f.rule_id.as_str()))
                .collect();
            for (path, line, rule) in &before {
                if !after.contains(&(path.as_str(), *line, rule.as_str())) {
                    outcome.stats.log.push(PathNote {
                        path: format!("{path}:{line}"),
                        reason: format!("a {rule} finding suppressed by the baseline"),
                    });
                }
            }
        }
        outcome.stats.suppressed += suppressed;
        outcome.stats.stale_baseline = Some(stale);
    }
}

/// Order findings for stable reports: path, line, column, rule.
/// Hold back the findings below `min` (`--min-confidence`), after
/// verification so that a held-back key is still verified and a live one
/// (whose confidence is then `high`) is reported; count what was held
/// back per level in the statistics.
pub fn hold_back(outcome: &mut ScanOutcome, min: finding::Confidence) {
    for f in &mut outcome.findings {
        f.settle_confidence();
    }
    let held = &mut outcome.stats.held_back;
    outcome.findings.retain(|f| {
        let keep = f.confidence >= min;
        if !keep {
            held.add(f.confidence);
        }
        keep
    });
    outcome.stats.findings = outcome.findings.len();
}

pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.path, a.line, a.column, &a.rule_id).cmp(&(&b.path, b.line, b.column, &b.rule_id))
    });
}

/// Shared state of a parallel scan: results land here once per worker.
#[derive(Default)]
pub struct Collector {
    pub findings: Mutex<Vec<Finding>>,
    pub stats: Mutex<Stats>,
    pub progress: Progress,
}

impl Collector {
    pub fn absorb(&self, findings: Vec<Finding>, stats: Stats) {
        if !findings.is_empty() {
            self.findings
                .lock()
                .expect("collector lock: workers never panic while holding it")
                .extend(findings);
        }
        self.stats
            .lock()
            .expect("collector lock: workers never panic while holding it")
            .merge(stats);
    }

    pub fn into_outcome(self, started: Instant) -> ScanOutcome {
        let findings = self.findings.into_inner().unwrap_or_default();
        let mut stats = self.stats.into_inner().unwrap_or_default();
        stats.elapsed_ms = started.elapsed().as_millis() as u64;
        ScanOutcome { findings, stats }
    }
}

/// Show a spinner with files and bytes on stderr while `work` runs, when
/// `enabled` (stderr is a terminal and the user did not ask for quiet).
/// indicatif's own ticker thread redraws it ten times a second from the
/// counters.
pub fn with_progress<T>(enabled: bool, progress: &Progress, work: impl FnOnce() -> T) -> T {
    if !enabled {
        return work();
    }
    let files = Arc::clone(&progress.files);
    let bytes = Arc::clone(&progress.bytes);
    let counts = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(
            w,
            "{} files, {} scanned",
            files.load(Ordering::Relaxed),
            DecimalBytes(bytes.load(Ordering::Relaxed))
        );
    };
    let style = ProgressStyle::with_template("{spinner} {elapsed} {counts}")
        .expect("progress template is a constant")
        .with_key("counts", counts);
    let bar = ProgressBar::new_spinner().with_style(style);
    bar.enable_steady_tick(Duration::from_millis(100));
    let out = work();
    // Show the final counts at least once, even when the work finished
    // before the first tick.
    bar.force_draw();
    bar.finish_and_clear();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_cursor_counts_lines() {
        let buf = b"a\nbb\nccc\n";
        let mut c = LineCursor::default();
        assert_eq!(c.advance(buf, 0), (1, 0, 1));
        assert_eq!(c.advance(buf, 3), (2, 2, 2));
        assert_eq!(c.advance(buf, 4), (2, 2, 3));
        assert_eq!(c.advance(buf, 6), (3, 5, 2));
        assert_eq!(c.advance(buf, 1), (1, 0, 2));
    }

    #[test]
    fn columns_count_characters() {
        let buf = "é = 'x'".as_bytes();
        assert_eq!(LineCursor::default().advance(buf, 5), (1, 0, 5));
    }

    #[test]
    fn utf16_is_transcoded() {
        let text = "key = sk-pnv-abc\n";
        let mut le = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(utf16_to_utf8(&le).unwrap(), text.as_bytes());
        let bare: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(utf16_to_utf8(&bare).unwrap(), text.as_bytes());
        assert!(utf16_to_utf8(text.as_bytes()).is_none());
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 256,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            /// Any bytes: no panic, and what comes out is UTF-8 (a stray
            /// surrogate becomes U+FFFD).
            #[test]
            fn utf16_transcoding_never_panics(
                bytes in proptest::collection::vec(any::<u8>(), 0..512),
                bom in prop_oneof![Just(vec![]), Just(vec![0xFF, 0xFE]), Just(vec![0xFE, 0xFF])],
            ) {
                let buf = [bom, bytes].concat();
                if let Some(text) = utf16_to_utf8(&buf) {
                    prop_assert!(std::str::from_utf8(&text).is_ok());
                }
            }

            /// ASCII text encoded as UTF-16 (either byte order, with a BOM)
            /// comes back unchanged.
            #[test]
            fn utf16_round_trips_ascii(text in "[ -~\n]{0,200}", little in any::<bool>()) {
                let mut buf = if little { vec![0xFF, 0xFE] } else { vec![0xFE, 0xFF] };
                for u in text.encode_utf16() {
                    buf.extend(if little { u.to_le_bytes() } else { u.to_be_bytes() });
                }
                prop_assert_eq!(utf16_to_utf8(&buf), Some(text.into_bytes()));
            }
        }
    }
}
