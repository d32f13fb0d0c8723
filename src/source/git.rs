//! Git repositories: the full history (`--git`), commit ranges (`--range`,
//! `--since`), and the pieces the staged scan shares with them (the lines a
//! diff adds, commit details).
//!
//! History is two passes, so that each blob is read and scanned once however
//! many commits and paths hold it:
//!
//! 1. Every commit reachable from a ref (branches, tags, remote-tracking
//!    refs, the stash and its reflog, a detached HEAD) is put in order,
//!    parents before children, and its tree is compared with its first
//!    parent's, skipping subtrees whose id did not change. The first commit
//!    in that order that shows a blob at a path is where it was introduced
//!    there. The comparisons run in parallel; the order is applied after.
//! 2. The unique blobs are read and scanned in parallel, one `Repository`
//!    per worker (libgit2 handles are `Send` but not `Sync`), and each
//!    blob's findings name its first commit and every other path.
//!
//! Commits are walked here rather than with libgit2's revwalk so that a
//! missing or corrupt commit is counted and skipped instead of ending the
//! walk, and so that a shallow clone's boundary commits are roots.
//!
//! Ranges and the staged scan diff with content: the whole new blob is
//! scanned (rules that look at surrounding lines need them) and only the
//! findings on added lines are kept, numbered as in the new file.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use git2::{
    Delta, Diff, DiffFindOptions, DiffOptions, ObjectType, Oid, Patch, Repository,
    RepositoryOpenFlags, Sort, Tree,
};

use crate::engine::{Matcher, Scratch};
use crate::error::{Error, Result};
use crate::finding::{BlobLocation, CommitInfo, Finding, SourceKind};
use crate::scan::{Collector, Options, PathNote, ScanOutcome, Scanner, Stats};

/// Commits handed to a worker at a time in pass 1: neighbours share trees,
/// and each worker's object cache holds the ones it has read.
const COMMIT_CHUNK: usize = 64;
/// Blobs handed to a worker at a time in pass 2.
const BLOB_CHUNK: usize = 16;
/// No commit: a dangling blob found by `--all-objects`.
const NO_COMMIT: u32 = u32::MAX;
/// Submodule paths named in the note before it says "and N more".
const NOTE_LIST: usize = 5;

/// Open the repository at or above `path` (bare repositories included).
pub(crate) fn open_repo(path: &Path) -> Result<Repository> {
    // libgit2 re-hashes every object it reads to check its id (SHA-1 with
    // collision detection): a fifth of a history scan's time on the
    // benchmark repository, a quarter of a staged scan's on a 50,000-file
    // one. zlib still checks each object's data, and `git cat-file` does
    // not re-hash either. The setting is process-wide; this process reads
    // no repository but the one it was asked to scan.
    git2::opts::strict_hash_verification(false);
    Repository::open_ext(
        path,
        RepositoryOpenFlags::empty(),
        std::iter::empty::<&std::ffi::OsStr>(),
    )
    .map_err(|e| Error::Git {
        path: path.to_path_buf(),
        message: format!("not a git repository: {}", e.message()),
    })
}

fn git_error(path: &Path, what: &str, e: &git2::Error) -> Error {
    Error::Git {
        path: path.to_path_buf(),
        message: format!("{what}: {}", e.message()),
    }
}

// ---------------------------------------------------------------- history

/// A commit in walk order.
struct CommitNode {
    oid: Oid,
    tree: Oid,
    /// The first parent's tree, if the first parent is here (it is not for
    /// roots, shallow boundaries and missing parents).
    parent_tree: Option<Oid>,
    unreachable: bool,
}

/// What a commit's tree adds compared with its first parent's.
#[derive(Default)]
struct Changes {
    blobs: Vec<(Oid, Vec<u8>)>,
    submodules: Vec<Vec<u8>>,
    errors: Vec<PathNote>,
}

/// The unique blobs of a history, each with the places it appears.
#[derive(Default)]
struct BlobIndex {
    ids: HashMap<Oid, u32>,
    entries: Vec<BlobEntry>,
    paths: Vec<Vec<u8>>,
    path_ids: HashMap<Vec<u8>, u32>,
    seen: HashSet<(u32, u32)>,
}

struct BlobEntry {
    oid: Oid,
    /// (path, commit) pairs: each path once, with the first commit that
    /// showed the blob there.
    locations: Vec<(u32, u32)>,
}

impl BlobIndex {
    fn add(&mut self, oid: Oid, path: Vec<u8>, commit: u32) {
        let path = match self.path_ids.get(&path) {
            Some(&p) => p,
            None => {
                let p = self.paths.len() as u32;
                self.path_ids.insert(path.clone(), p);
                self.paths.push(path);
                p
            }
        };
        let blob = *self.ids.entry(oid).or_insert_with(|| {
            self.entries.push(BlobEntry {
                oid,
                locations: Vec::new(),
            });
            (self.entries.len() - 1) as u32
        });
        if self.seen.insert((blob, path)) {
            self.entries[blob as usize].locations.push((path, commit));
        }
    }
}

/// Scan every blob reachable from the repository's refs (and, with
/// `all_objects`, every other object), then the working tree's uncommitted
/// files whose content history did not already hold.
pub fn scan_history(
    options: &Options,
    matcher: &Matcher,
    all_objects: bool,
) -> Result<ScanOutcome> {
    let started = Instant::now();
    let root = &options.paths[0];
    let repo = open_repo(root)?;
    let gitdir = repo.path().to_path_buf();
    let threads = thread_count(options.threads);
    let mut stats = Stats::default();

    let shallow = shallow_commits(&repo);
    if !shallow.is_empty() {
        stats.notes.push(format!(
            "shallow clone: history ends at {} boundary commit{}; what they hold is reported as introduced by them",
            shallow.len(),
            if shallow.len() == 1 { "" } else { "s" }
        ));
    }
    let tips = ref_tips(&repo, &mut stats);
    let mut commits = walk_commits(&repo, tips, &shallow, &mut stats);
    let reachable = commits.len();

    let mut blobs = BlobIndex::default();
    let mut submodules = BTreeSet::new();
    let changes = tree_changes(&gitdir, &commits, threads)?;
    absorb_changes(&mut blobs, changes, 0, &mut submodules, &mut stats);

    if all_objects {
        let (more, dangling) = unreachable_objects(&repo, &commits, &blobs, &mut stats);
        let first = commits.len() as u32;
        commits.extend(more);
        let changes = tree_changes(&gitdir, &commits[first as usize..], threads)?;
        absorb_changes(&mut blobs, changes, first, &mut submodules, &mut stats);
        for oid in dangling {
            if !blobs.ids.contains_key(&oid) {
                blobs.add(
                    oid,
                    format!("<dangling blob {oid}>").into_bytes(),
                    NO_COMMIT,
                );
            }
        }
    }
    if !submodules.is_empty() {
        stats.notes.push(submodule_note(&submodules));
    }
    if all_objects {
        stats.notes.push(format!(
            "--all-objects: {} commit{} no ref reaches",
            commits.len() - reachable,
            if commits.len() - reachable == 1 {
                ""
            } else {
                "s"
            }
        ));
    }

    let scanner = Scanner { options, matcher };
    let collector = Collector::default();
    let shown: Vec<String> = blobs
        .paths
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let allowed: Vec<bool> = shown
        .iter()
        .map(|p| options.allowlist.allows_path(Path::new(p)))
        .collect();
    let found = crate::scan::with_progress(options.progress, &collector.progress, || {
        scan_blobs(
            &gitdir, &scanner, &collector, &blobs, &shown, &allowed, threads,
        )
    })?;

    let first_commit = |blob: u32| {
        blobs.entries[blob as usize]
            .locations
            .iter()
            .find(|(p, _)| !allowed[*p as usize])
            .map_or(NO_COMMIT, |&(_, c)| c)
    };
    // A key that stays in a file while the file is edited is in many blobs:
    // report it once, from the blob of the commit that introduced it.
    let mut earliest: HashMap<&str, (u32, u32)> = HashMap::new();
    for (blob, f) in &found {
        let at = (first_commit(*blob), *blob);
        earliest
            .entry(&f.fingerprint)
            .and_modify(|e| *e = (*e).min(at))
            .or_insert(at);
    }
    let keep: Vec<bool> = found
        .iter()
        .map(|(blob, f)| earliest[f.fingerprint.as_str()].1 == *blob)
        .collect();
    let mut findings = Vec::with_capacity(found.len());
    let mut infos: HashMap<u32, Option<CommitInfo>> = HashMap::new();
    for ((blob, mut f), keep) in found.into_iter().zip(keep) {
        if !keep {
            continue;
        }
        let entry = &blobs.entries[blob as usize];
        let mut locations = entry
            .locations
            .iter()
            .filter(|(p, _)| !allowed[*p as usize]);
        let Some(&(_, first)) = locations.next() else {
            continue;
        };
        let info = infos
            .entry(first)
            .or_insert_with(|| commit_details(&repo, &commits, first));
        if let Some(info) = info {
            let mut info = info.clone();
            info.other_locations = locations
                .map(|&(p, c)| BlobLocation {
                    path: shown[p as usize].clone(),
                    commit: commit_id(&commits, c),
                })
                .collect();
            f.commit = Some(info);
        }
        findings.push(f);
    }

    let scanned: HashSet<Oid> = blobs.ids.keys().copied().collect();
    let mut uncommitted = Vec::new();
    scan_worktree(&repo, &scanner, &scanned, &mut uncommitted, &mut stats);
    let in_history: HashSet<&str> = findings.iter().map(|f| f.fingerprint.as_str()).collect();
    uncommitted.retain(|f| !in_history.contains(f.fingerprint.as_str()));
    findings.extend(uncommitted);

    // The collector counted blobs as files; `stats.files` counts the
    // working tree's.
    let mut outcome = collector.into_outcome(started);
    let blobs_read = std::mem::take(&mut outcome.stats.files);
    outcome.stats.merge(stats);
    outcome.stats.blobs = Some(blobs_read);
    outcome.stats.commits = Some(commits.len() as u64);
    outcome.findings.extend(findings);
    outcome.stats.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(outcome)
}

fn thread_count(configured: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Commits where a shallow clone's history stops (`.git/shallow`).
pub(crate) fn shallow_commits(repo: &Repository) -> HashSet<Oid> {
    let text = std::fs::read_to_string(repo.commondir().join("shallow")).unwrap_or_default();
    text.lines()
        .filter_map(|l| Oid::from_str(l.trim()).ok())
        .collect()
}

/// The commits every ref, HEAD and the stash's reflog point to. A ref that
/// points at a tree or blob directly is rare enough to leave to
/// `--all-objects`.
fn ref_tips(repo: &Repository, stats: &mut Stats) -> Vec<Oid> {
    let mut tips = Vec::new();
    match repo.references() {
        Ok(refs) => {
            for r in refs {
                let r = match r {
                    Ok(r) => r,
                    Err(e) => {
                        stats.errors.push(PathNote {
                            path: "refs".into(),
                            reason: e.message().to_string(),
                        });
                        continue;
                    }
                };
                match r.peel(ObjectType::Any) {
                    Ok(obj) if obj.kind() == Some(ObjectType::Commit) => tips.push(obj.id()),
                    Ok(_) => {}
                    Err(e) => stats.errors.push(PathNote {
                        path: String::from_utf8_lossy(r.name_bytes()).into_owned(),
                        reason: e.message().to_string(),
                    }),
                }
            }
        }
        Err(e) => stats.errors.push(PathNote {
            path: "refs".into(),
            reason: e.message().to_string(),
        }),
    }
    if let Ok(head) = repo.head() {
        if let Some(oid) = head.target() {
            tips.push(oid);
        }
    }
    if let Ok(reflog) = repo.reflog("refs/stash") {
        tips.extend(reflog.iter().map(|e| e.id_new()));
    }
    tips
}

/// Read every commit reachable from `tips` and order them parents first,
/// older first among commits whose parents are all placed.
fn walk_commits(
    repo: &Repository,
    tips: Vec<Oid>,
    shallow: &HashSet<Oid>,
    stats: &mut Stats,
) -> Vec<CommitNode> {
    struct Read {
        oid: Oid,
        tree: Oid,
        time: i64,
        parents: Vec<Oid>,
    }
    let mut index: HashMap<Oid, usize> = HashMap::new();
    let mut missing: HashSet<Oid> = HashSet::new();
    let mut read: Vec<Read> = Vec::new();
    let mut stack = tips;
    while let Some(oid) = stack.pop() {
        if index.contains_key(&oid) || missing.contains(&oid) {
            continue;
        }
        let commit = match repo.find_commit(oid) {
            Ok(c) => c,
            Err(e) => {
                missing.insert(oid);
                stats.errors.push(PathNote {
                    path: format!("commit {oid}"),
                    reason: e.message().to_string(),
                });
                continue;
            }
        };
        let parents: Vec<Oid> = if shallow.contains(&oid) {
            Vec::new()
        } else {
            commit.parent_ids().collect()
        };
        stack.extend(parents.iter().copied());
        index.insert(oid, read.len());
        read.push(Read {
            oid,
            tree: commit.tree_id(),
            time: commit.time().seconds(),
            parents,
        });
    }

    // Kahn's algorithm, oldest ready commit first.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); read.len()];
    let mut waiting: Vec<usize> = vec![0; read.len()];
    for (i, r) in read.iter().enumerate() {
        let mut distinct: Vec<usize> = r
            .parents
            .iter()
            .filter_map(|p| index.get(p))
            .copied()
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        waiting[i] = distinct.len();
        for p in distinct {
            children[p].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<(i64, usize)>> = (0..read.len())
        .filter(|&i| waiting[i] == 0)
        .map(|i| Reverse((read[i].time, i)))
        .collect();
    let mut order = Vec::with_capacity(read.len());
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(i);
        for &c in &children[i] {
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.push(Reverse((read[c].time, c)));
            }
        }
    }
    order
        .into_iter()
        .map(|i| {
            let r = &read[i];
            CommitNode {
                oid: r.oid,
                tree: r.tree,
                parent_tree: r
                    .parents
                    .first()
                    .and_then(|p| index.get(p))
                    .map(|&p| read[p].tree),
                unreachable: false,
            }
        })
        .collect()
}

/// Compare each commit's tree with its first parent's, in parallel.
fn tree_changes(gitdir: &Path, commits: &[CommitNode], threads: usize) -> Result<Vec<Changes>> {
    struct Worker {
        repo: Repository,
        out: Vec<(usize, Changes)>,
    }
    let opened = AtomicUsize::new(0);
    let workers = fan_out(
        threads,
        commits.len(),
        COMMIT_CHUNK,
        || {
            Ok(Worker {
                repo: open_worker(gitdir, opened.fetch_add(1, Ordering::Relaxed))?,
                out: Vec::new(),
            })
        },
        |w, i| {
            let c = &commits[i];
            let mut changes = Changes::default();
            diff_commit(&w.repo, c.parent_tree, c.tree, &mut changes);
            if !changes.errors.is_empty() {
                for e in &mut changes.errors {
                    e.path = format!("{} (commit {})", e.path, c.oid);
                }
            }
            w.out.push((i, changes));
        },
    )?;
    let mut all: Vec<Changes> = (0..commits.len()).map(|_| Changes::default()).collect();
    for w in workers {
        for (i, c) in w.out {
            all[i] = c;
        }
    }
    Ok(all)
}

fn absorb_changes(
    blobs: &mut BlobIndex,
    changes: Vec<Changes>,
    first_commit: u32,
    submodules: &mut BTreeSet<Vec<u8>>,
    stats: &mut Stats,
) {
    for (i, c) in changes.into_iter().enumerate() {
        for (oid, path) in c.blobs {
            blobs.add(oid, path, first_commit + i as u32);
        }
        submodules.extend(c.submodules);
        stats.errors.extend(c.errors);
    }
}

fn diff_commit(repo: &Repository, old: Option<Oid>, new: Oid, out: &mut Changes) {
    let new = match repo.find_tree(new) {
        Ok(t) => t,
        Err(e) => {
            out.errors.push(PathNote {
                path: format!("tree {new}"),
                reason: e.message().to_string(),
            });
            return;
        }
    };
    let old = old.and_then(|o| repo.find_tree(o).ok());
    diff_trees(repo, old.as_ref(), &new, &mut Vec::new(), out);
}

/// Record the blobs of `new` that `old` does not hold at the same path,
/// descending only into subtrees whose id changed.
fn diff_trees(
    repo: &Repository,
    old: Option<&Tree>,
    new: &Tree,
    prefix: &mut Vec<u8>,
    out: &mut Changes,
) {
    for entry in new.iter() {
        let before = old.and_then(|t| t.get_name_bytes(entry.name_bytes()));
        if before
            .as_ref()
            .is_some_and(|b| b.id() == entry.id() && b.kind() == entry.kind())
        {
            continue;
        }
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(entry.name_bytes());
        match entry.kind() {
            Some(ObjectType::Blob) => out.blobs.push((entry.id(), prefix.clone())),
            Some(ObjectType::Commit) => out.submodules.push(prefix.clone()),
            Some(ObjectType::Tree) => match repo.find_tree(entry.id()) {
                Ok(sub) => {
                    let old_sub = before
                        .filter(|b| b.kind() == Some(ObjectType::Tree))
                        .and_then(|b| repo.find_tree(b.id()).ok());
                    diff_trees(repo, old_sub.as_ref(), &sub, prefix, out);
                }
                Err(e) => out.errors.push(PathNote {
                    path: format!("{} (tree {})", String::from_utf8_lossy(prefix), entry.id()),
                    reason: e.message().to_string(),
                }),
            },
            _ => {}
        }
        prefix.truncate(len);
    }
}

/// Commits and blobs in the object database that the walk did not reach.
fn unreachable_objects(
    repo: &Repository,
    reachable: &[CommitNode],
    blobs: &BlobIndex,
    stats: &mut Stats,
) -> (Vec<CommitNode>, Vec<Oid>) {
    let known: HashSet<Oid> = reachable.iter().map(|c| c.oid).collect();
    let odb = match repo.odb() {
        Ok(o) => o,
        Err(e) => {
            stats.errors.push(PathNote {
                path: "object database".into(),
                reason: e.message().to_string(),
            });
            return (Vec::new(), Vec::new());
        }
    };
    let mut all = Vec::new();
    if let Err(e) = odb.foreach(|oid| {
        all.push(*oid);
        true
    }) {
        stats.errors.push(PathNote {
            path: "object database".into(),
            reason: e.message().to_string(),
        });
    }
    all.sort_unstable();
    all.dedup();
    let mut commits = Vec::new();
    let mut dangling = Vec::new();
    for oid in all {
        if known.contains(&oid) || blobs.ids.contains_key(&oid) {
            continue;
        }
        match odb.read_header(oid) {
            Ok((_, ObjectType::Commit)) => commits.push(oid),
            Ok((_, ObjectType::Blob)) => dangling.push(oid),
            Ok(_) => {}
            Err(e) => stats.errors.push(PathNote {
                path: format!("object {oid}"),
                reason: e.message().to_string(),
            }),
        }
    }
    let mut nodes: Vec<(i64, CommitNode)> = Vec::new();
    for oid in commits {
        match repo.find_commit(oid) {
            Ok(c) => {
                let parent_tree = c.parents().next().map(|p| p.tree_id());
                nodes.push((
                    c.time().seconds(),
                    CommitNode {
                        oid,
                        tree: c.tree_id(),
                        parent_tree,
                        unreachable: true,
                    },
                ));
            }
            Err(e) => stats.errors.push(PathNote {
                path: format!("commit {oid}"),
                reason: e.message().to_string(),
            }),
        }
    }
    nodes.sort_by_key(|(t, n)| (*t, n.oid));
    (nodes.into_iter().map(|(_, n)| n).collect(), dangling)
}

fn submodule_note(paths: &BTreeSet<Vec<u8>>) -> String {
    let mut names: Vec<String> = paths
        .iter()
        .take(NOTE_LIST)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    if paths.len() > NOTE_LIST {
        names.push(format!("and {} more", paths.len() - NOTE_LIST));
    }
    format!(
        "submodules are not followed: {} (scan their repositories separately)",
        names.join(", ")
    )
}

/// Pass 2: read and scan each unique blob once, in parallel.
fn scan_blobs(
    gitdir: &Path,
    scanner: &Scanner,
    collector: &Collector,
    blobs: &BlobIndex,
    shown: &[String],
    allowed: &[bool],
    threads: usize,
) -> Result<Vec<(u32, Finding)>> {
    struct Worker {
        repo: Repository,
        scratch: Scratch,
        stats: Stats,
        found: Vec<(u32, Finding)>,
    }
    let max = scanner.options.max_file_size;
    let opened = AtomicUsize::new(0);
    let workers = fan_out(
        threads,
        blobs.entries.len(),
        BLOB_CHUNK,
        || {
            Ok(Worker {
                repo: open_worker(gitdir, opened.fetch_add(1, Ordering::Relaxed))?,
                scratch: Scratch::default(),
                stats: Stats::default(),
                found: Vec::new(),
            })
        },
        |w, i| {
            let entry = &blobs.entries[i];
            let Some(&(path, _)) = entry.locations.iter().find(|(p, _)| !allowed[*p as usize])
            else {
                return;
            };
            let path = &shown[path as usize];
            let note = |reason: String| PathNote {
                path: format!("{path} (blob {})", entry.oid),
                reason,
            };
            let odb = match w.repo.odb() {
                Ok(o) => o,
                Err(e) => return w.stats.errors.push(note(e.message().to_string())),
            };
            match odb.read_header(entry.oid) {
                Ok((size, _)) if size as u64 > max => {
                    return w.stats.skipped.push(note(format!(
                        "larger than --max-file-size ({size} bytes > {max})"
                    )));
                }
                Ok(_) => {}
                Err(e) => return w.stats.errors.push(note(e.message().to_string())),
            }
            let object = match odb.read(entry.oid) {
                Ok(o) => o,
                Err(e) => return w.stats.errors.push(note(e.message().to_string())),
            };
            let data = object.data();
            w.stats.files += 1;
            w.stats.bytes += data.len() as u64;
            collector.progress.add(data.len() as u64);
            let found =
                scanner.scan_buffer(data, path, SourceKind::Git, &mut w.scratch, &mut w.stats);
            w.found.extend(found.into_iter().map(|f| (i as u32, f)));
        },
    )?;
    let mut found = Vec::new();
    for w in workers {
        found.extend(w.found);
        collector.absorb(Vec::new(), w.stats);
    }
    Ok(found)
}

fn commit_id(commits: &[CommitNode], i: u32) -> String {
    commits
        .get(i as usize)
        .map_or_else(String::new, |c| c.oid.to_string())
}

fn commit_details(repo: &Repository, commits: &[CommitNode], i: u32) -> Option<CommitInfo> {
    let node = commits.get(i as usize)?;
    let mut info = match repo.find_commit(node.oid) {
        Ok(c) => commit_info(&c),
        Err(_) => CommitInfo {
            id: node.oid.to_string(),
            author_name: String::new(),
            author_email: String::new(),
            date: String::new(),
            summary: String::new(),
            other_locations: Vec::new(),
            unreachable: false,
        },
    };
    info.unreachable = node.unreachable;
    Some(info)
}

/// Uncommitted files (modified, staged, untracked; ignored ones with
/// `--no-ignore`) whose content is not a blob history already scanned.
fn scan_worktree(
    repo: &Repository,
    scanner: &Scanner,
    scanned: &HashSet<Oid>,
    findings: &mut Vec<Finding>,
    stats: &mut Stats,
) {
    let Some(workdir) = repo.workdir() else {
        return;
    };
    let no_ignore = scanner.options.no_ignore;
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(no_ignore)
        .recurse_ignored_dirs(no_ignore)
        .exclude_submodules(true);
    let statuses = match repo.statuses(Some(&mut opts)) {
        Ok(s) => s,
        Err(e) => {
            stats.errors.push(PathNote {
                path: workdir.display().to_string(),
                reason: format!("cannot read the working tree's status: {}", e.message()),
            });
            return;
        }
    };
    let mut scratch = Scratch::default();
    for entry in statuses.iter() {
        let rel = entry.path_bytes();
        let shown = String::from_utf8_lossy(rel).into_owned();
        let full = workdir.join(bytes_to_path(rel));
        // Symbolic links are followed only with --follow, as in file scans.
        let meta = if scanner.options.follow {
            std::fs::metadata(&full)
        } else {
            std::fs::symlink_metadata(&full)
        };
        let Ok(meta) = meta else {
            continue; // deleted in the working tree
        };
        if !meta.is_file() || scanner.options.allowlist.allows_path(Path::new(&shown)) {
            continue;
        }
        let max = scanner.options.max_file_size;
        if meta.len() > max {
            stats.skipped.push(PathNote {
                path: shown,
                reason: format!("larger than --max-file-size ({} bytes > {max})", meta.len()),
            });
            continue;
        }
        let bytes = match std::fs::read(&full) {
            Ok(b) => b,
            Err(e) => {
                stats.errors.push(PathNote {
                    path: shown,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if Oid::hash_object(ObjectType::Blob, &bytes).is_ok_and(|oid| scanned.contains(&oid)) {
            continue;
        }
        stats.files += 1;
        stats.bytes += bytes.len() as u64;
        findings.extend(scanner.scan_buffer(&bytes, &shown, SourceKind::File, &mut scratch, stats));
    }
}

#[cfg(unix)]
pub(crate) fn bytes_to_path(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
pub(crate) fn bytes_to_path(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

/// Worker `k`'s own handle on the repository. libgit2 keeps one state per
/// pack file for the whole process, keyed by the pack's path, and its locks
/// made the workers wait on each other (docs/performance.md); worker `k`
/// names the object directory with `k` extra `/.` components, so that its
/// packs are opened, cached and locked separately. Alternates are read the
/// same way as for the repository itself.
fn open_worker(gitdir: &Path, k: usize) -> Result<Repository> {
    let fail = |e: git2::Error| git_error(gitdir, "cannot open", &e);
    let repo = Repository::open(gitdir).map_err(fail)?;
    if k > 0 {
        let mut objects = repo
            .commondir()
            .join("objects")
            .to_string_lossy()
            .into_owned();
        for _ in 0..k {
            objects.push_str("/.");
        }
        let odb = git2::Odb::new().map_err(fail)?;
        odb.add_disk_alternate(&objects).map_err(fail)?;
        repo.set_odb(&odb).map_err(fail)?;
    }
    Ok(repo)
}

/// Run `work` over `0..len` on `threads` workers, each with the state
/// `init` builds once (a `Repository`, scratch space), taking `chunk`
/// consecutive items at a time. Returns the workers' states.
fn fan_out<S: Send>(
    threads: usize,
    len: usize,
    chunk: usize,
    init: impl Fn() -> Result<S> + Sync,
    work: impl Fn(&mut S, usize) + Sync,
) -> Result<Vec<S>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let next = AtomicUsize::new(0);
    let workers = threads.clamp(1, len.div_ceil(chunk));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = init()?;
                    loop {
                        let start = next.fetch_add(chunk, Ordering::Relaxed);
                        if start >= len {
                            break;
                        }
                        for i in start..(start + chunk).min(len) {
                            work(&mut state, i);
                        }
                    }
                    Ok(state)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

// ---------------------------------------------------------------- ranges

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
    let head_id = resolve_commit(&repo, root, head, "HEAD", !shallow.is_empty())?;
    let base_id = resolve_commit(&repo, root, base, "BASE", !shallow.is_empty())?;
    let spec = format!("{base}..{head}");
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
    for oid in commits {
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
    stats.blobs = Some(stats.files);
    stats.files = 0;
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(ScanOutcome { findings, stats })
}

fn resolve_commit(
    repo: &Repository,
    root: &Path,
    rev: &str,
    role: &str,
    shallow: bool,
) -> Result<Oid> {
    let found = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map(|c| c.id());
    found.map_err(|e| {
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
            message: format!("cannot find {role} `{rev}` ({}): {hint}", e.message()),
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
    find_renames(&mut diff)?;
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
pub(crate) fn find_renames(diff: &mut Diff) -> Result<(), git2::Error> {
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

// ---------------------------------------------------------------- commits

/// A commit as findings name it. Author and summary bytes are decoded as
/// the commit's `encoding` header says (Latin-1 is common in old
/// repositories), else as UTF-8 with replacement characters.
pub(crate) fn commit_info(commit: &git2::Commit) -> CommitInfo {
    let encoding = commit.message_encoding();
    let author = commit.author();
    CommitInfo {
        id: commit.id().to_string(),
        author_name: decode(author.name_bytes(), encoding),
        author_email: decode(author.email_bytes(), encoding),
        date: rfc3339(author.when()),
        summary: decode(commit.summary_bytes().unwrap_or_default(), encoding),
        other_locations: Vec::new(),
        unreachable: false,
    }
}

fn decode(bytes: &[u8], encoding: Option<&str>) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    let latin1 = encoding.is_some_and(|e| {
        let e = e.to_ascii_lowercase();
        e == "iso-8859-1" || e == "latin1" || e == "latin-1" || e == "iso8859-1"
    });
    if latin1 {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// A git time as RFC 3339 in the author's own offset.
fn rfc3339(t: git2::Time) -> String {
    let offset = t.offset_minutes();
    let local = t.seconds() + i64::from(offset) * 60;
    let (y, m, d) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    let sign = if offset < 0 { '-' } else { '+' };
    let off = offset.unsigned_abs();
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        off / 60,
        off % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_in_the_authors_offset() {
        assert_eq!(rfc3339(git2::Time::new(0, 0)), "1970-01-01T00:00:00+00:00");
        assert_eq!(
            rfc3339(git2::Time::new(1_700_000_000, 120)),
            "2023-11-15T00:13:20+02:00"
        );
        assert_eq!(
            rfc3339(git2::Time::new(951_782_400, -330)),
            "2000-02-28T18:30:00-05:30"
        );
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn text_is_decoded_as_the_commit_says() {
        assert_eq!(decode("café".as_bytes(), None), "café");
        assert_eq!(decode(b"caf\xe9", Some("ISO-8859-1")), "café");
        assert_eq!(decode(b"caf\xe9", None), "caf\u{fffd}");
    }

    #[test]
    fn fan_out_visits_every_item_once() {
        let workers = fan_out(
            3,
            1000,
            7,
            || Ok(Vec::new()),
            |seen: &mut Vec<usize>, i| seen.push(i),
        )
        .unwrap();
        let mut all: Vec<usize> = workers.into_iter().flatten().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }
}
