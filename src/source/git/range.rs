//! Ranges (`--range`, `--since`): the lines the commits in `base..head`
//! add, and the diff helpers the staged scan shares.
//!
//! Ranges and the staged scan diff with content: the whole new blob is
//! scanned (rules that look at surrounding lines need them) and only the
//! findings on added lines are kept, numbered as in the new file.
//!
//! A range is three passes, so that it runs on every core like the history
//! scan and computes text diffs only where they can matter:
//!
//! 1. Each commit's tree is compared with its parents' trees, in parallel,
//!    skipping subtrees whose id did not change: the blobs it writes at a
//!    path where no parent holds that blob are its candidates (a merge
//!    that takes one side's file as it is writes nothing new there).
//! 2. The unique (blob, path) candidates are read and scanned in parallel,
//!    one `Repository` per worker.
//! 3. Only the commits with a candidate that has findings get a text diff
//!    (with rename detection, against every parent for a merge), and only
//!    for those paths: the findings on the lines it adds are kept, each
//!    key at the first commit in the range that adds it. This pass is the
//!    one-commit-at-a-time code ranges always had, so attribution is the
//!    same; a range without findings never diffs text at all.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use git2::{Delta, Diff, DiffFindOptions, DiffOptions, Oid, Patch, Repository, Sort, Tree};

use super::commit::commit_info;
use super::history::{diff_trees, fan_out, open_worker, thread_count, Changes, NEVER};
use super::{git_error, is_partial_clone, open_repo, shallow_commits, submodule_note};
use crate::engine::{Matcher, Scratch};
use crate::error::{Error, Result};
use crate::finding::{Finding, SourceKind};
use crate::scan::{Options, PathNote, ScanOutcome, Scanner, Stats};

/// The lines a commit adds, per path: the new blob and its added lines.
type Additions = BTreeMap<Vec<u8>, (Oid, Vec<u32>)>;

/// Commits handed to a worker at a time in pass 1.
const COMMIT_CHUNK: usize = 16;
/// Blobs handed to a worker at a time in pass 2.
const BLOB_CHUNK: usize = 8;

/// What pass 1 finds in one commit.
#[derive(Default)]
struct Written {
    /// (path, blob) pairs the commit writes where no parent holds that blob.
    blobs: Vec<(Vec<u8>, Oid)>,
    /// Submodule paths whose commit changed.
    submodules: Vec<Vec<u8>>,
    /// Why the commit or one of its trees could not be read.
    error: Option<String>,
}

/// Scan the lines added by the commits in `base..head`: reachable from
/// `head`, not from `base`.
pub fn scan_range(
    options: &Options,
    matcher: &Matcher,
    base: &str,
    head: &str,
) -> Result<ScanOutcome> {
    let started = Instant::now();
    let root = &options.paths[0];
    let repo = open_repo(root)?;
    let gitdir = repo.path().to_path_buf();
    let threads = thread_count(options.threads);
    let stop: &AtomicBool = options.interrupt.as_deref().unwrap_or(&NEVER);
    let shallow = shallow_commits(&repo);
    let spec = format!("{base}..{head}");
    let head_id = resolve_commit(&repo, root, &spec, head, "HEAD", !shallow.is_empty())?;
    let base_id = resolve_commit(&repo, root, &spec, base, "BASE", !shallow.is_empty())?;
    let walk_error = |e: git2::Error| git_error(root, &format!("cannot walk {spec}"), &e);
    let mut walk = repo.revwalk().map_err(walk_error)?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
        .map_err(walk_error)?;
    walk.push(head_id).map_err(walk_error)?;
    walk.hide(base_id).map_err(walk_error)?;
    let commits: Vec<Oid> = walk.collect::<Result<_, _>>().map_err(walk_error)?;
    if let Some(cut) = commits.iter().find(|c| shallow.contains(c)) {
        return Err(Error::Git {
            path: root.clone(),
            message: format!(
                "{spec} reaches commit {cut}, where this shallow clone's history ends, \
                 before reaching {base}: fetch more history (`git fetch --deepen=100`, \
                 or `fetch-depth: 0` with actions/checkout)"
            ),
        });
    }

    let scanner = Scanner { options, matcher };
    let mut stats = Stats {
        commits: Some(commits.len() as u64),
        ..Stats::default()
    };

    // Pass 1: what each commit writes.
    let written = written_blobs(&gitdir, &commits, threads, stop)?;
    let mut submodules = BTreeSet::new();
    let mut keys: HashMap<(Oid, &[u8]), u32> = HashMap::new();
    let mut unique: Vec<(Oid, String)> = Vec::new();
    for (oid, w) in commits.iter().zip(&written) {
        if let Some(reason) = &w.error {
            stats.errors.push(PathNote {
                path: format!("commit {oid}"),
                reason: reason.clone(),
            });
        }
        submodules.extend(w.submodules.iter().cloned());
        for (path, blob) in &w.blobs {
            if keys.contains_key(&(*blob, path.as_slice())) {
                continue;
            }
            let shown = String::from_utf8_lossy(path).into_owned();
            if options.allowlist.allows_path(Path::new(&shown)) {
                continue;
            }
            keys.insert((*blob, path.as_slice()), unique.len() as u32);
            unique.push((*blob, shown));
        }
    }

    // Pass 2: scan each candidate once.
    let mut cache = scan_candidates(&gitdir, &scanner, &unique, threads, stop, &mut stats)?;

    // Pass 3: text diffs for the commits whose candidates have findings.
    // A key is reported at the first commit in the range that adds it.
    let mut reported: HashMap<String, Oid> = HashMap::new();
    let mut findings = Vec::new();
    let mut scratch = Scratch::default();
    let total = commits.len();
    for (done, (&oid, w)) in commits.iter().zip(&written).enumerate() {
        // Ctrl-C or SIGTERM: stop here and report the commits so far.
        if stop.load(Ordering::Relaxed) {
            stats.notes.push(format!(
                "interrupted: {done} of the {total} commits in {spec} scanned"
            ));
            break;
        }
        let wanted: BTreeSet<&[u8]> = w
            .blobs
            .iter()
            .filter(|(path, blob)| {
                keys.get(&(*blob, path.as_slice()))
                    .is_some_and(|&k| !cache[k as usize].is_empty())
            })
            .map(|(path, _)| path.as_slice())
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let commit = match repo.find_commit(oid) {
            Ok(c) => c,
            Err(e) => {
                stats.errors.push(PathNote {
                    path: format!("commit {oid}"),
                    reason: e.message().to_string(),
                });
                continue;
            }
        };
        let added = match commit_additions(&repo, &commit, &wanted) {
            Ok(a) => a,
            Err(e) => {
                stats.errors.push(PathNote {
                    path: format!("commit {oid}"),
                    reason: e.message().to_string(),
                });
                continue;
            }
        };
        let mut info = None;
        for (path, (blob, lines)) in added {
            if lines.is_empty() {
                continue;
            }
            let shown = String::from_utf8_lossy(&path).into_owned();
            if options.allowlist.allows_path(Path::new(&shown)) {
                continue;
            }
            let k = match keys.get(&(blob, path.as_slice())) {
                Some(&k) => k as usize,
                None => {
                    // Pass 1 names every blob a text diff can add; should
                    // the two ever disagree, scan it here rather than miss it.
                    let found = scan_blob(
                        &repo,
                        blob,
                        &shown,
                        &scanner,
                        SourceKind::Git,
                        &mut scratch,
                        &mut stats,
                    );
                    cache.push(found.unwrap_or_default());
                    cache.len() - 1
                }
            };
            for f in keep_added(&cache[k], &lines, &shown) {
                if *reported.entry(f.fingerprint.clone()).or_insert(oid) != oid {
                    continue;
                }
                let info = info.get_or_insert_with(|| commit_info(&commit));
                findings.push(Finding {
                    commit: Some(info.clone()),
                    ..f
                });
            }
        }
    }
    if !submodules.is_empty() {
        stats.notes.push(submodule_note(&submodules));
    }
    let missing = stats
        .errors
        .iter()
        .filter(|e| e.reason.starts_with("object not found"))
        .count();
    if missing > 0 && is_partial_clone(&repo) {
        stats.notes.push(format!(
            "partial clone: {missing} commit{} of {spec} could not be compared with {} \
             parent{}: blobs they need were never downloaded from the promisor remote; \
             fetch the history whole (a clone without --filter) to scan {}",
            if missing == 1 { "" } else { "s" },
            if missing == 1 { "its" } else { "their" },
            if missing == 1 { "" } else { "s" },
            if missing == 1 { "it" } else { "them" },
        ));
    }
    // Exposure: is each key new in the range, or already in BASE's history?
    if let Some(key) = options.exposure.as_ref().filter(|_| !findings.is_empty()) {
        if !stop.load(Ordering::Relaxed) {
            stats.secrets = crate::exposure::against_base(
                &repo,
                &key.get(),
                base_id,
                head_id,
                &findings,
                options.max_file_size,
            );
        }
    }
    stats.blobs = Some(stats.files);
    stats.files = 0;
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(ScanOutcome { findings, stats })
}

/// Pass 1: what each commit writes, in parallel, in the commits' order.
fn written_blobs(
    gitdir: &Path,
    commits: &[Oid],
    threads: usize,
    stop: &AtomicBool,
) -> Result<Vec<Written>> {
    struct Worker {
        repo: Repository,
        out: Vec<(usize, Written)>,
    }
    let opened = AtomicUsize::new(0);
    let workers = fan_out(
        threads,
        commits.len(),
        COMMIT_CHUNK,
        stop,
        || {
            Ok(Worker {
                repo: open_worker(gitdir, opened.fetch_add(1, Ordering::Relaxed))?,
                out: Vec::new(),
            })
        },
        |w, i| {
            let written = commit_writes(&w.repo, commits[i]).unwrap_or_else(|e| Written {
                error: Some(e),
                ..Written::default()
            });
            w.out.push((i, written));
        },
    )?;
    let mut all: Vec<Written> = (0..commits.len()).map(|_| Written::default()).collect();
    for w in workers {
        for (i, written) in w.out {
            all[i] = written;
        }
    }
    Ok(all)
}

/// The blobs a commit writes at a path where none of its parents holds
/// the same blob, and the submodules it moves.
fn commit_writes(repo: &Repository, oid: Oid) -> Result<Written, String> {
    let message = |e: git2::Error| e.message().to_string();
    let commit = repo.find_commit(oid).map_err(message)?;
    let tree = commit.tree().map_err(message)?;
    let parents: Vec<Tree> = commit
        .parents()
        .map(|p| p.tree())
        .collect::<Result<_, _>>()
        .map_err(message)?;
    let mut written = Written::default();
    let mut first = changed_entries(repo, parents.first(), &tree, &mut written.submodules)?;
    for parent in parents.iter().skip(1) {
        let also: HashSet<(Vec<u8>, Oid)> =
            changed_entries(repo, Some(parent), &tree, &mut written.submodules)?
                .into_iter()
                .collect();
        first.retain(|e| also.contains(e));
    }
    written.blobs = first;
    Ok(written)
}

/// The (path, blob) pairs of `new` that `old` does not hold at the same
/// path: the history scan's tree diff, with its first error as the
/// commit's.
fn changed_entries(
    repo: &Repository,
    old: Option<&Tree>,
    new: &Tree,
    submodules: &mut Vec<Vec<u8>>,
) -> Result<Vec<(Vec<u8>, Oid)>, String> {
    let mut out = Changes::default();
    diff_trees(repo, old, new, &mut Vec::new(), &mut out);
    if let Some(e) = out.errors.first() {
        return Err(format!("{}: {}", e.path, e.reason));
    }
    submodules.extend(out.submodules);
    Ok(out
        .blobs
        .into_iter()
        .map(|(oid, path)| (path, oid))
        .collect())
}

/// Pass 2: read and scan each candidate once, in parallel; the findings of
/// candidate `i` are at index `i`.
fn scan_candidates(
    gitdir: &Path,
    scanner: &Scanner,
    unique: &[(Oid, String)],
    threads: usize,
    stop: &AtomicBool,
    stats: &mut Stats,
) -> Result<Vec<Vec<Finding>>> {
    struct Worker {
        repo: Repository,
        scratch: Scratch,
        stats: Stats,
        found: Vec<(usize, Vec<Finding>)>,
    }
    let opened = AtomicUsize::new(0);
    let workers = fan_out(
        threads,
        unique.len(),
        BLOB_CHUNK,
        stop,
        || {
            Ok(Worker {
                repo: open_worker(gitdir, opened.fetch_add(1, Ordering::Relaxed))?,
                scratch: Scratch::default(),
                stats: Stats::default(),
                found: Vec::new(),
            })
        },
        |w, i| {
            let (blob, path) = &unique[i];
            let found = scan_blob(
                &w.repo,
                *blob,
                path,
                scanner,
                SourceKind::Git,
                &mut w.scratch,
                &mut w.stats,
            );
            if let Some(found) = found.filter(|f| !f.is_empty()) {
                w.found.push((i, found));
            }
        },
    )?;
    let mut all: Vec<Vec<Finding>> = vec![Vec::new(); unique.len()];
    for w in workers {
        for (i, found) in w.found {
            all[i] = found;
        }
        stats.merge(w.stats);
    }
    Ok(all)
}

/// The commit `rev` (the `role` end of the range `spec`) names. The error
/// names the range and says what is wrong: not found, or not a commit.
fn resolve_commit(
    repo: &Repository,
    root: &Path,
    spec: &str,
    rev: &str,
    role: &str,
    shallow: bool,
) -> Result<Oid> {
    let object = repo.revparse_single(rev);
    if let Ok(object) = &object {
        return object.peel_to_commit().map(|c| c.id()).map_err(|_| {
            let kind = object.kind().map_or("object", |k| k.str());
            Error::Git {
                path: root.to_path_buf(),
                message: format!(
                    "range `{spec}`: {role} `{rev}` is a {kind} ({}), not a commit: \
                     both ends of a range must name commits",
                    object.id()
                ),
            }
        });
    }
    object.map(|o| o.id()).map_err(|e| {
        let unborn = repo
            .head()
            .is_err_and(|e| e.code() == git2::ErrorCode::UnbornBranch);
        let hint = if unborn {
            "the repository has no commits yet".to_string()
        } else if shallow {
            format!(
                "this is a shallow clone (CI checkouts fetch one commit by default): fetch \
                 {rev} first (`git fetch --depth=100 origin <branch>`), or check out with full \
                 history (actions/checkout: `fetch-depth: 0`)"
            )
        } else {
            "check the name, and fetch it if it lives on a remote (`git fetch origin <branch>`)"
                .to_string()
        };
        Error::Git {
            path: root.to_path_buf(),
            message: format!(
                "range `{spec}`: cannot find {role} `{rev}` ({}): {hint}",
                e.message()
            ),
        }
    })
}

/// The lines a commit adds at the `wanted` paths: compared with its only
/// parent, or, for a merge, the lines new compared with every parent (what
/// the merge itself wrote, not what it brought in). Renames are detected
/// over the whole diff; text is diffed only for the wanted paths.
fn commit_additions(
    repo: &Repository,
    commit: &git2::Commit,
    wanted: &BTreeSet<&[u8]>,
) -> Result<Additions, git2::Error> {
    let tree = commit.tree()?;
    let parents: Vec<Tree> = commit
        .parents()
        .map(|p| p.tree())
        .collect::<Result<_, _>>()?;
    if parents.is_empty() {
        return tree_additions(repo, None, &tree, wanted);
    }
    let mut added = tree_additions(repo, Some(&parents[0]), &tree, wanted)?;
    for parent in &parents[1..] {
        let also = tree_additions(repo, Some(parent), &tree, wanted)?;
        added.retain(|path, (_, lines)| match also.get(path) {
            Some((_, more)) => {
                lines.retain(|l| more.binary_search(l).is_ok());
                !lines.is_empty()
            }
            None => false,
        });
    }
    Ok(added)
}

fn tree_additions(
    repo: &Repository,
    old: Option<&Tree>,
    new: &Tree,
    wanted: &BTreeSet<&[u8]>,
) -> Result<Additions, git2::Error> {
    let mut diff = repo.diff_tree_to_tree(old, Some(new), Some(&mut diff_options()))?;
    find_renames(repo, &mut diff)?;
    let mut out = BTreeMap::new();
    // Submodules were noted in pass 1.
    let mut submodules = BTreeSet::new();
    for idx in 0..diff.deltas().len() {
        if let Some((oid, path)) = delta_target(&diff, idx, &mut submodules) {
            if wanted.contains(path.as_slice()) {
                out.insert(path, (oid, added_lines(&diff, idx)?));
            }
        }
    }
    Ok(out)
}

/// Options for the content diffs of ranges and the staged scan: every file
/// as text (keys hide in "binary" files too), no context lines.
pub(crate) fn diff_options() -> DiffOptions {
    let mut opts = DiffOptions::new();
    opts.force_text(true).context_lines(0);
    opts
}

/// Follow renames, so that moving a file does not count its lines as added.
/// Checks the diff's blobs first: rename detection and patches read them.
pub(crate) fn find_renames(repo: &Repository, diff: &mut Diff) -> Result<(), git2::Error> {
    crate::source::loose::check_diff_blobs(repo, diff)?;
    diff.find_similar(Some(DiffFindOptions::new().renames(true)))
}

/// The blob and path of a delta's new side, when it adds content to scan
/// (not a deletion, not a submodule; submodules are collected instead).
pub(crate) fn delta_target(
    diff: &Diff,
    idx: usize,
    submodules: &mut BTreeSet<Vec<u8>>,
) -> Option<(Oid, Vec<u8>)> {
    let delta = diff.get_delta(idx)?;
    if !matches!(
        delta.status(),
        Delta::Added | Delta::Modified | Delta::Renamed | Delta::Copied | Delta::Typechange
    ) {
        return None;
    }
    let file = delta.new_file();
    let path = file.path_bytes()?.to_vec();
    if file.mode() == git2::FileMode::Commit {
        submodules.insert(path);
        return None;
    }
    Some((file.id(), path))
}

/// The lines (1-based, in the new file) that delta `idx` adds, sorted.
pub(crate) fn added_lines(diff: &Diff, idx: usize) -> Result<Vec<u32>, git2::Error> {
    let Some(patch) = Patch::from_diff(diff, idx)? else {
        return Ok(Vec::new());
    };
    patch_added_lines(&patch)
}

/// The numbers of the lines `patch` adds, in order.
pub(crate) fn patch_added_lines(patch: &Patch) -> Result<Vec<u32>, git2::Error> {
    let mut lines = Vec::new();
    for hunk in 0..patch.num_hunks() {
        for i in 0..patch.num_lines_in_hunk(hunk)? {
            let line = patch.line_in_hunk(hunk, i)?;
            if line.origin() == '+' {
                lines.extend(line.new_lineno());
            }
        }
    }
    lines.sort_unstable();
    Ok(lines)
}

/// Read and scan one blob; a blob over the size limit is skipped and one
/// that cannot be read is an error, both counted, and both give `None`.
pub(crate) fn scan_blob(
    repo: &Repository,
    oid: Oid,
    path: &str,
    scanner: &Scanner,
    source: SourceKind,
    scratch: &mut Scratch,
    stats: &mut Stats,
) -> Option<Vec<Finding>> {
    let note = |reason: String| PathNote {
        path: format!("{path} (blob {oid})"),
        reason,
    };
    let odb = match repo.odb() {
        Ok(o) => o,
        Err(e) => {
            stats.errors.push(note(e.message().to_string()));
            return None;
        }
    };
    if let Err(reason) = crate::source::loose::check_blob(repo, oid) {
        stats.errors.push(note(reason));
        return None;
    }
    let max = scanner.options.max_file_size;
    match odb.read_header(oid) {
        Ok((size, _)) if size as u64 > max => {
            stats.skipped.push(note(format!(
                "larger than --max-file-size ({size} bytes > {max})"
            )));
            return None;
        }
        Ok(_) => {}
        Err(e) => {
            stats.errors.push(note(e.message().to_string()));
            return None;
        }
    }
    let object = match odb.read(oid) {
        Ok(o) => o,
        Err(e) => {
            stats.errors.push(note(e.message().to_string()));
            return None;
        }
    };
    stats.files += 1;
    stats.bytes += object.data().len() as u64;
    Some(crate::source::archive::scan(
        scanner,
        object.data(),
        path,
        source,
        scratch,
        stats,
    ))
}

/// The findings that start or end on an added line (`added` is sorted).
/// A finding inside an archive (its path is not the blob's `path`) has no
/// line of the blob to compare: the archive was added or changed, so it is
/// kept.
pub(crate) fn keep_added(findings: &[Finding], added: &[u32], path: &str) -> Vec<Finding> {
    findings
        .iter()
        .filter(|f| {
            f.path != path
                || (f.line..=f.end_line.max(f.line))
                    .any(|l| u32::try_from(l).is_ok_and(|l| added.binary_search(&l).is_ok()))
        })
        .cloned()
        .collect()
}
