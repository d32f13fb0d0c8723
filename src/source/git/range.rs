//! Ranges (`--range`, `--since`): the lines the commits in `base..head`
//! add, and the diff helpers the staged scan shares.
//!
//! Ranges and the staged scan diff with content: the whole new blob is
//! scanned (rules that look at surrounding lines need them) and only the
//! findings on added lines are kept, numbered as in the new file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Instant;

use git2::{Delta, Diff, DiffFindOptions, DiffOptions, Oid, Patch, Repository, Sort, Tree};

use super::commit::commit_info;
use super::{git_error, is_partial_clone, open_repo, shallow_commits, submodule_note};
use crate::engine::{Matcher, Scratch};
use crate::error::{Error, Result};
use crate::finding::{Finding, SourceKind};
use crate::scan::{Options, PathNote, ScanOutcome, Scanner, Stats};

/// The lines a commit adds, per path: the new blob and its added lines.
type Additions = BTreeMap<Vec<u8>, (Oid, Vec<u32>)>;

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
    let mut scratch = Scratch::default();
    let mut cache: HashMap<(Oid, Vec<u8>), Vec<Finding>> = HashMap::new();
    // A key is reported at the first commit in the range that adds it.
    let mut reported: HashMap<String, Oid> = HashMap::new();
    let mut submodules = BTreeSet::new();
    let mut findings = Vec::new();
    let total = commits.len();
    for (done, oid) in commits.into_iter().enumerate() {
        // Ctrl-C or SIGTERM: stop here and report the commits so far.
        if options
            .interrupt
            .as_ref()
            .is_some_and(|i| i.load(std::sync::atomic::Ordering::Relaxed))
        {
            stats.notes.push(format!(
                "interrupted: {done} of the {total} commits in {spec} scanned"
            ));
            break;
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
        let added = match commit_additions(&repo, &commit, &mut submodules) {
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
            let key = (blob, path);
            if !cache.contains_key(&key) {
                let found = scan_blob(
                    &repo,
                    blob,
                    &shown,
                    &scanner,
                    SourceKind::Git,
                    &mut scratch,
                    &mut stats,
                );
                cache.insert(key.clone(), found.unwrap_or_default());
            }
            for f in keep_added(&cache[&key], &lines) {
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
    stats.blobs = Some(stats.files);
    stats.files = 0;
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(ScanOutcome { findings, stats })
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

/// The lines a commit adds, per path: compared with its only parent, or,
/// for a merge, the lines new compared with every parent (what the merge
/// itself wrote, not what it brought in).
fn commit_additions(
    repo: &Repository,
    commit: &git2::Commit,
    submodules: &mut BTreeSet<Vec<u8>>,
) -> Result<Additions, git2::Error> {
    let tree = commit.tree()?;
    let parents: Vec<Tree> = commit
        .parents()
        .map(|p| p.tree())
        .collect::<Result<_, _>>()?;
    if parents.is_empty() {
        return tree_additions(repo, None, &tree, submodules);
    }
    let mut added = tree_additions(repo, Some(&parents[0]), &tree, submodules)?;
    for parent in &parents[1..] {
        let also = tree_additions(repo, Some(parent), &tree, submodules)?;
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
    submodules: &mut BTreeSet<Vec<u8>>,
) -> Result<Additions, git2::Error> {
    let mut diff = repo.diff_tree_to_tree(old, Some(new), Some(&mut diff_options()))?;
    find_renames(repo, &mut diff)?;
    let mut out = BTreeMap::new();
    for idx in 0..diff.deltas().len() {
        if let Some((oid, path)) = delta_target(&diff, idx, submodules) {
            out.insert(path, (oid, added_lines(&diff, idx)?));
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
    Some(scanner.scan_buffer(object.data(), path, source, scratch, stats))
}

/// The findings that start or end on an added line (`added` is sorted).
pub(crate) fn keep_added(findings: &[Finding], added: &[u32]) -> Vec<Finding> {
    findings
        .iter()
        .filter(|f| {
            (f.line..=f.end_line.max(f.line))
                .any(|l| u32::try_from(l).is_ok_and(|l| added.binary_search(&l).is_ok()))
        })
        .cloned()
        .collect()
}
