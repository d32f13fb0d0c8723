//! File trees: the ignore crate's parallel walker feeding one worker per
//! thread, each with its own matcher scratch space and read buffer.
//!
//! `.gitignore` and `.ignore` are honoured as ripgrep does unless
//! `--no-ignore`; dotfiles (`.env`) are always scanned and `.git/` never is.
//! Binary files are scanned too: keys live in bundles and build outputs.
//!
//! Files are read into a reused buffer, never memory-mapped: a mapped file
//! that another process truncates kills the scan with SIGBUS (a live log
//! directory, a build writing its output), while a read just comes back
//! short. Reads are bounded by `--max-file-size` even when a file grows.
//!
//! A path named on the command line that is not a regular file or a
//! directory (`<(cmd)`, `/dev/stdin`, a FIFO) is read as a stream, as `-` is.
//! Inside a walked tree such files are skipped and listed: opening a FIFO
//! nobody writes to would block forever.
//!
//! What ignore rules keep out is counted, not silent: the worker that
//! visits a directory also lists it, every visited entry is counted
//! against its directory, and after the walk each directory's listed
//! entries minus its visited ones are the ones ignored (an ignored
//! directory counts once: walking it to count its files would cost what
//! ignoring it saves). Ignored names that look like credential files
//! (`.env`, `id_rsa`, `*.pem`) are named, with a hint at `--no-ignore`.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};

use crate::engine::{Matcher, Scratch};
use crate::finding::{Finding, SourceKind};
use crate::scan::{Collector, Options, PathNote, ScanOutcome, Scanner, Stats};

/// A worker's read buffer grown past this is given back after its file, so
/// that one large file does not pin its size for the rest of the scan.
const KEEP_BUFFER: usize = 16 * 1024 * 1024;

/// Scan the file trees named by `roots`.
pub fn scan_paths(options: &Options, matcher: &Matcher, roots: &[PathBuf]) -> ScanOutcome {
    let started = Instant::now();
    let collector = Collector::default();
    let scanner = Scanner { options, matcher };
    // Streams first, on this thread: a writer such as `<(cmd)` may be
    // waiting for its reader.
    let (streams, roots): (Vec<&PathBuf>, Vec<&PathBuf>) = roots.iter().partition(|p| is_stream(p));
    if !streams.is_empty() {
        let mut stats = Stats::default();
        let mut findings = Vec::new();
        for path in streams {
            let shown = display_path(path);
            if options.allowlist.allows_path(path) {
                continue;
            }
            match File::open(path) {
                Ok(file) => findings.extend(scan_stream(
                    &scanner,
                    file,
                    &shown,
                    SourceKind::File,
                    &collector.progress,
                    &mut stats,
                )),
                Err(err) => stats.errors.push(PathNote {
                    path: shown,
                    reason: err.to_string(),
                }),
            }
        }
        collector.absorb(findings, stats);
    }
    let Some((first, rest)) = roots.split_first() else {
        return collector.into_outcome(started);
    };
    let mut builder = WalkBuilder::new(first);
    for root in rest {
        builder.add(root);
    }
    let respect = !options.no_ignore;
    builder
        .hidden(false)
        .git_ignore(respect)
        .git_global(respect)
        .git_exclude(respect)
        .ignore(respect)
        .parents(respect)
        .require_git(false)
        .follow_links(options.follow)
        .threads(options.threads)
        .filter_entry(|e| e.file_name() != ".git");

    let inside = (options.follow && !options.follow_outside_roots).then(|| Inside::new(&roots));
    let ignored = respect.then(|| Mutex::new(WalkCounts::default()));
    let mut visitors = Visitors {
        scanner: &scanner,
        collector: &collector,
        inside: inside.as_ref(),
        ignored: ignored.as_ref(),
    };
    // Files named one by one (a hook's changed files, an editor's save):
    // walked on this thread, since the parallel walker's threads cost more
    // to start, and to wait on one another, than reading a few files.
    let files_only = roots.iter().all(|r| r.is_file());
    crate::scan::with_progress(options.progress, &collector.progress, || {
        if files_only {
            let mut worker = visitors.build();
            for entry in builder.build() {
                if worker.visit(entry) == WalkState::Quit {
                    break;
                }
            }
        } else {
            builder.build_parallel().visit(&mut visitors);
        }
    });
    if let Some(counts) = ignored {
        let counts = counts
            .into_inner()
            .expect("walk counts lock: workers never panic while holding it");
        collector.absorb(Vec::new(), counts.into_stats());
    }
    collector.into_outcome(started)
}

/// Per directory of the walk: entries listed and entries the walker gave.
#[derive(Default)]
struct WalkCounts {
    dirs: HashMap<PathBuf, (u64, u64)>,
    /// Entries whose names look like credential files, as listed...
    listed_credentials: Vec<PathBuf>,
    /// ... and as the walker gave them.
    visited_credentials: HashSet<PathBuf>,
}

impl WalkCounts {
    fn absorb(&mut self, other: WalkCounts) {
        for (dir, (listed, visited)) in other.dirs {
            let c = self.dirs.entry(dir).or_default();
            c.0 += listed;
            c.1 += visited;
        }
        self.listed_credentials.extend(other.listed_credentials);
        self.visited_credentials.extend(other.visited_credentials);
    }

    /// Count an entry the walker gave (depth 0 is a root, in no walked
    /// directory).
    fn visited(&mut self, path: &Path, depth: usize) {
        if depth == 0 {
            return;
        }
        if let Some(parent) = path.parent() {
            match self.dirs.get_mut(parent) {
                Some(c) => c.1 += 1,
                None => {
                    self.dirs.insert(parent.to_path_buf(), (0, 1));
                }
            }
        }
        if path
            .file_name()
            .is_some_and(|n| looks_like_credentials(&n.to_string_lossy()))
        {
            self.visited_credentials.insert(path.to_path_buf());
        }
    }

    /// List a directory the walker gave: what it holds besides `.git`.
    fn list(&mut self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return; // the walker reports the error
        };
        let mut n = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name == ".git" {
                continue;
            }
            n += 1;
            if looks_like_credentials(&name.to_string_lossy()) {
                self.listed_credentials.push(dir.join(&name));
            }
        }
        self.dirs.entry(dir.to_path_buf()).or_default().0 += n;
    }

    fn into_stats(self) -> Stats {
        let ignored = self
            .dirs
            .values()
            .map(|(listed, visited)| listed.saturating_sub(*visited))
            .sum();
        let mut credentials: Vec<String> = self
            .listed_credentials
            .iter()
            .filter(|p| !self.visited_credentials.contains(*p))
            .map(|p| display_path(p))
            .collect();
        credentials.sort();
        Stats {
            ignored,
            ignored_credentials: credentials,
            ..Stats::default()
        }
    }
}

/// Does a file name look like one that holds credentials: an environment
/// file, a package manager's or git's credential store, a private key?
pub fn looks_like_credentials(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    const NAMES: &[&str] = &[
        ".env",
        ".npmrc",
        ".pypirc",
        ".netrc",
        "_netrc",
        ".git-credentials",
        ".pgpass",
        ".s3cfg",
        ".htpasswd",
        ".dockercfg",
        ".boto",
        "credentials",
        "credentials.json",
        "credentials.yml",
        "credentials.yaml",
        "credentials.xml",
        "secrets.json",
        "secrets.yml",
        "secrets.yaml",
        "secrets.toml",
        "kubeconfig",
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        "service-account.json",
        "terraform.tfvars",
    ];
    const SUFFIXES: &[&str] = &[
        ".pem",
        ".key",
        ".p12",
        ".pfx",
        ".jks",
        ".keystore",
        ".ppk",
        ".tfvars",
        ".env",
    ];
    // `.env.example` and the like are templates, made to be committed.
    const TEMPLATES: &[&str] = &[".example", ".sample", ".template", ".dist", ".tmpl"];
    if NAMES.contains(&lower.as_str()) {
        return true;
    }
    if TEMPLATES.iter().any(|t| lower.ends_with(t)) {
        return false;
    }
    lower.starts_with(".env.") || SUFFIXES.iter().any(|s| lower.ends_with(s))
}

struct Visitors<'a> {
    scanner: &'a Scanner<'a>,
    collector: &'a Collector,
    inside: Option<&'a Inside>,
    /// Set when ignore rules apply: what they kept out is counted.
    ignored: Option<&'a Mutex<WalkCounts>>,
}

/// The scanned roots, resolved, for keeping followed links inside them.
struct Inside {
    roots: Vec<PathBuf>,
}

impl Inside {
    fn new(roots: &[&PathBuf]) -> Inside {
        Inside {
            roots: roots
                .iter()
                .filter_map(|r| std::fs::canonicalize(r).ok())
                .collect(),
        }
    }

    /// Does `path`, links resolved, stay under a scanned root?
    fn holds(&self, path: &Path) -> bool {
        std::fs::canonicalize(path).is_ok_and(|real| self.roots.iter().any(|r| real.starts_with(r)))
    }
}

impl<'s> ParallelVisitorBuilder<'s> for Visitors<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Worker {
            scanner: self.scanner,
            collector: self.collector,
            inside: self.inside,
            ignored: self.ignored,
            counts: WalkCounts::default(),
            scratch: Scratch::default(),
            buf: Vec::new(),
            findings: Vec::new(),
            stats: Stats::default(),
        })
    }
}

struct Worker<'a> {
    scanner: &'a Scanner<'a>,
    collector: &'a Collector,
    inside: Option<&'a Inside>,
    ignored: Option<&'a Mutex<WalkCounts>>,
    /// This worker's share of the counts, merged into `ignored` at its end.
    counts: WalkCounts,
    scratch: Scratch,
    buf: Vec<u8>,
    findings: Vec<Finding>,
    stats: Stats,
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        if let Some(shared) = self.ignored {
            shared
                .lock()
                .expect("walk counts lock: workers never panic while holding it")
                .absorb(std::mem::take(&mut self.counts));
        }
        self.collector.absorb(
            std::mem::take(&mut self.findings),
            std::mem::take(&mut self.stats),
        );
    }
}

impl ParallelVisitor for Worker<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        let interrupted = self.scanner.options.interrupt.as_ref();
        if interrupted.is_some_and(|i| i.load(std::sync::atomic::Ordering::Relaxed)) {
            return WalkState::Quit;
        }
        match entry {
            Ok(entry) => {
                if self.ignored.is_some() {
                    self.counts.visited(entry.path(), entry.depth());
                    if entry.file_type().is_some_and(|t| t.is_dir()) {
                        self.counts.list(entry.path());
                    }
                }
                self.visit_entry(&entry)
            }
            Err(err) => self.stats.errors.push(walk_error(&err)),
        }
        WalkState::Continue
    }
}

impl Worker<'_> {
    fn visit_entry(&mut self, entry: &DirEntry) {
        let Some(file_type) = entry.file_type() else {
            return; // stdin is handled elsewhere
        };
        let path = entry.path();
        if !file_type.is_file() {
            if let Some(kind) = special_kind(&file_type) {
                self.stats.skipped.push(PathNote {
                    path: display_path(path),
                    reason: format!("not a regular file ({kind})"),
                });
            }
            return;
        }
        let shown = display_path(path);
        if self.scanner.options.allowlist.allows_path(path) {
            return;
        }
        if self.inside.is_some_and(|i| !i.holds(path)) {
            self.stats.skipped.push(PathNote {
                path: shown,
                reason: "a symbolic link leads out of the scanned paths (only --follow on the command line follows it)".into(),
            });
            return;
        }
        let metadata = match entry.metadata() {
            Ok(m) => m,
            Err(err) => {
                self.stats.errors.push(walk_error(&err));
                return;
            }
        };
        let len = metadata.len();
        if len > self.scanner.options.max_file_size {
            self.stats.skipped.push(PathNote {
                path: shown,
                reason: format!(
                    "larger than --max-file-size ({} bytes > {})",
                    len, self.scanner.options.max_file_size
                ),
            });
            return;
        }
        let file = match File::open(path) {
            Ok(f) => f,
            Err(err) => {
                self.stats.errors.push(PathNote {
                    path: shown,
                    reason: err.to_string(),
                });
                return;
            }
        };
        let max = self.scanner.options.max_file_size;
        self.buf.clear();
        match read_bounded(file, max, len, &mut self.buf) {
            Ok(Bounded::Whole) => {}
            Ok(Bounded::Over) => {
                self.stats.skipped.push(PathNote {
                    path: shown,
                    reason: format!("grew larger than --max-file-size ({max} bytes) while read"),
                });
                return;
            }
            Err(err) => {
                self.stats.errors.push(PathNote {
                    path: shown,
                    reason: err.to_string(),
                });
                return;
            }
        }
        if (self.buf.len() as u64) < len {
            // Scanned all the same: what was read is real content.
            self.stats.errors.push(PathNote {
                path: shown.clone(),
                reason: format!(
                    "shrank while read ({} of {len} bytes read); scanned what was read",
                    self.buf.len()
                ),
            });
        }
        let bytes: &[u8] = &self.buf;
        self.stats.files += 1;
        self.stats.bytes += bytes.len() as u64;
        self.collector.progress.add(bytes.len() as u64);
        let found = super::archive::scan(
            self.scanner,
            bytes,
            &shown,
            SourceKind::File,
            &mut self.scratch,
            &mut self.stats,
        );
        self.findings.extend(found);
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
        }
    }
}

/// How a bounded read ended.
enum Bounded {
    /// End of file within the limit.
    Whole,
    /// More than `limit` bytes: `buf` holds `limit + 1` of them.
    Over,
}

/// Read `from` to its end into `buf`, but never more than `limit + 1`
/// bytes: a growing file or an endless stream must not take all memory.
/// `expected` sizes the buffer up front (0 for a stream).
fn read_bounded(
    from: impl Read,
    limit: u64,
    expected: u64,
    buf: &mut Vec<u8>,
) -> std::io::Result<Bounded> {
    let reserve = expected.min(limit.saturating_add(1));
    buf.reserve(usize::try_from(reserve).unwrap_or(usize::MAX));
    from.take(limit.saturating_add(1)).read_to_end(buf)?;
    Ok(if buf.len() as u64 > limit {
        Bounded::Over
    } else {
        Bounded::Whole
    })
}

/// Is `path` (named on the command line) something to read as a stream: not
/// a directory, not a regular file, once symbolic links are followed?
fn is_stream(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_dir() && !m.is_file())
}

/// The name of a file type that is neither a regular file, a directory nor
/// a symbolic link.
fn special_kind(file_type: &std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("FIFO");
        }
        if file_type.is_char_device() {
            return Some("character device");
        }
        if file_type.is_block_device() {
            return Some("block device");
        }
        if file_type.is_socket() {
            return Some("socket");
        }
    }
    let _ = file_type;
    None
}

/// Read a stream (standard input, a pipe, a device) up to
/// `--max-file-size` and scan it as one buffer. A longer stream is skipped
/// and listed, not read to its end: it may never end.
fn scan_stream(
    scanner: &Scanner,
    from: impl Read,
    shown: &str,
    source: SourceKind,
    progress: &crate::scan::Progress,
    stats: &mut Stats,
) -> Vec<Finding> {
    let max = scanner.options.max_file_size;
    let mut buf = Vec::new();
    match read_bounded(from, max, 0, &mut buf) {
        Ok(Bounded::Whole) => {}
        Ok(Bounded::Over) => {
            stats.skipped.push(PathNote {
                path: shown.to_string(),
                reason: format!("larger than --max-file-size (more than {max} bytes)"),
            });
            return Vec::new();
        }
        Err(err) => {
            stats.errors.push(PathNote {
                path: shown.to_string(),
                reason: err.to_string(),
            });
            return Vec::new();
        }
    }
    stats.files += 1;
    stats.bytes += buf.len() as u64;
    progress.add(buf.len() as u64);
    super::archive::scan(scanner, &buf, shown, source, &mut Scratch::default(), stats)
}

/// A path as the user will want to read it: `./` dropped, lossy for
/// non-UTF-8 names.
pub fn display_path(path: &Path) -> String {
    let path = path.strip_prefix("./").unwrap_or(path);
    path.to_string_lossy().into_owned()
}

fn walk_error(err: &ignore::Error) -> PathNote {
    let path = error_path(err).map(display_path).unwrap_or_default();
    PathNote {
        path,
        reason: error_reason(err),
    }
}

fn error_path(err: &ignore::Error) -> Option<&Path> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child),
        _ => None,
    }
}

/// The error without its path (the path is reported beside it).
fn error_reason(err: &ignore::Error) -> String {
    match err {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => error_reason(err),
        ignore::Error::Loop { ancestor, .. } => {
            format!("symbolic link loop back to {}", display_path(ancestor))
        }
        ignore::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            "broken symbolic link or file vanished".to_string()
        }
        other => other.to_string(),
    }
}

/// Read standard input (up to `--max-file-size`) and scan it as `<stdin>`.
pub fn scan_stdin(options: &Options, matcher: &Matcher) -> ScanOutcome {
    let started = Instant::now();
    let mut outcome = ScanOutcome::default();
    let scanner = Scanner { options, matcher };
    outcome.findings = scan_stream(
        &scanner,
        std::io::stdin().lock(),
        "<stdin>",
        SourceKind::Stdin,
        &crate::scan::Progress::default(),
        &mut outcome.stats,
    );
    outcome.stats.elapsed_ms = started.elapsed().as_millis() as u64;
    outcome
}

#[cfg(test)]
mod tests {
    use super::looks_like_credentials;

    #[test]
    fn credential_file_names() {
        for name in [
            ".env",
            ".env.local",
            ".ENV.production",
            "prod.env",
            ".npmrc",
            ".pypirc",
            ".netrc",
            ".git-credentials",
            "credentials",
            "credentials.json",
            "id_rsa",
            "id_ed25519",
            "server.pem",
            "tls.key",
            "cert.p12",
            "prod.tfvars",
            "kubeconfig",
        ] {
            assert!(looks_like_credentials(name), "{name}");
        }
        for name in [
            ".env.example",
            ".env.sample",
            ".env.template",
            "id_rsa.pub",
            "README.md",
            "build",
            "environment.yml",
            "keys.rs",
            "run.log",
        ] {
            assert!(!looks_like_credentials(name), "{name}");
        }
    }
}
