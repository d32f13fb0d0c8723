//! File trees: the ignore crate's parallel walker feeding one worker per
//! thread, each with its own matcher scratch space and read buffer.
//!
//! `.gitignore` and `.ignore` are honoured as ripgrep does unless
//! `--no-ignore`; dotfiles (`.env`) are always scanned and `.git/` never is.
//! Binary files are scanned too: keys live in bundles and build outputs.
//! Small files are read into a reused buffer; large ones are memory-mapped so
//! they are not copied whole into memory.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};

use crate::engine::{Matcher, Scratch};
use crate::finding::{Finding, SourceKind};
use crate::scan::{Collector, Options, PathNote, ScanOutcome, Scanner, Stats};

/// Files at least this large are memory-mapped instead of read.
const MMAP_THRESHOLD: u64 = 4 * 1024 * 1024;

/// Scan the file trees named by `roots`.
pub fn scan_paths(options: &Options, matcher: &Matcher, roots: &[PathBuf]) -> ScanOutcome {
    let started = Instant::now();
    let collector = Collector::default();
    let Some((first, rest)) = roots.split_first() else {
        return ScanOutcome::default();
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

    let scanner = Scanner { options, matcher };
    let inside = (options.follow && !options.follow_outside_roots).then(|| Inside::new(roots));
    let mut visitors = Visitors {
        scanner: &scanner,
        collector: &collector,
        inside: inside.as_ref(),
    };
    crate::scan::with_progress(options.progress, &collector.progress, || {
        builder.build_parallel().visit(&mut visitors);
    });
    collector.into_outcome(started)
}

struct Visitors<'a> {
    scanner: &'a Scanner<'a>,
    collector: &'a Collector,
    inside: Option<&'a Inside>,
}

/// The scanned roots, resolved, for keeping followed links inside them.
struct Inside {
    roots: Vec<PathBuf>,
}

impl Inside {
    fn new(roots: &[PathBuf]) -> Inside {
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
    scratch: Scratch,
    buf: Vec<u8>,
    findings: Vec<Finding>,
    stats: Stats,
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
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
            Ok(entry) => self.visit_entry(&entry),
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
        if !file_type.is_file() {
            return;
        }
        let path = entry.path();
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
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(err) => {
                self.stats.errors.push(PathNote {
                    path: shown,
                    reason: err.to_string(),
                });
                return;
            }
        };
        let mapped;
        let bytes: &[u8] = if len >= MMAP_THRESHOLD {
            // SAFETY: the map is read-only and dropped before this function
            // returns. A file truncated by another process while mapped can
            // raise SIGBUS; ripgrep accepts the same risk for the same speed.
            match unsafe { memmap2::Mmap::map(&file) } {
                Ok(m) => {
                    mapped = m;
                    &mapped
                }
                Err(err) => {
                    self.stats.errors.push(PathNote {
                        path: shown,
                        reason: err.to_string(),
                    });
                    return;
                }
            }
        } else {
            self.buf.clear();
            if let Err(err) = file.read_to_end(&mut self.buf) {
                self.stats.errors.push(PathNote {
                    path: shown,
                    reason: err.to_string(),
                });
                return;
            }
            &self.buf
        };
        self.stats.files += 1;
        self.stats.bytes += bytes.len() as u64;
        self.collector.progress.add(bytes.len() as u64);
        let found = self.scanner.scan_buffer(
            bytes,
            &shown,
            SourceKind::File,
            &mut self.scratch,
            &mut self.stats.suppressed,
        );
        self.findings.extend(found);
    }
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

/// Read all of standard input and scan it as `<stdin>`.
pub fn scan_stdin(options: &Options, matcher: &Matcher) -> ScanOutcome {
    let started = Instant::now();
    let mut outcome = ScanOutcome::default();
    let mut buf = Vec::new();
    if let Err(err) = std::io::stdin().lock().read_to_end(&mut buf) {
        outcome.stats.errors.push(PathNote {
            path: "<stdin>".into(),
            reason: err.to_string(),
        });
        return outcome;
    }
    let scanner = Scanner { options, matcher };
    outcome.stats.files = 1;
    outcome.stats.bytes = buf.len() as u64;
    outcome.findings = scanner.scan_buffer(
        &buf,
        "<stdin>",
        SourceKind::Stdin,
        &mut Scratch::default(),
        &mut outcome.stats.suppressed,
    );
    outcome.stats.elapsed_ms = started.elapsed().as_millis() as u64;
    outcome
}
