//! History (`--git`): every blob reachable from a ref, scanned once, and
//! each finding attributed to the commit that introduced it.
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

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use git2::{ObjectType, Oid, Repository, Tree, TreeEntry};

use super::commit::commit_info;
use super::{
    bytes_to_path, git_error, is_partial_clone, open_repo, shallow_commits, submodule_note,
};
use crate::engine::{Matcher, Scratch};
use crate::error::Result;
use crate::finding::{BlobLocation, CommitInfo, Finding, SourceKind};
use crate::scan::{Collector, Options, PathNote, ScanOutcome, Scanner, Stats};
use crate::source::archive;

/// Commits handed to a worker at a time in pass 1: neighbours share trees,
/// and each worker's object cache holds the ones it has read.
const COMMIT_CHUNK: usize = 64;
/// Blobs handed to a worker at a time in pass 2.
const BLOB_CHUNK: usize = 16;
/// No commit: a dangling blob found by `--all-objects`.
const NO_COMMIT: u32 = u32::MAX;
/// The interrupt flag of a run that has none.
pub(super) static NEVER: AtomicBool = AtomicBool::new(false);

/// A commit in walk order.
struct CommitNode {
    oid: Oid,
    tree: Oid,
    /// The first parent's tree, if the first parent is here (it is not for
    /// roots, shallow boundaries and missing parents).
    parent_tree: Option<Oid>,
    /// Every parent the walk follows (exposure: which refs reach a key).
    parents: Vec<Oid>,
    unreachable: bool,
}

/// What a commit's tree adds compared with its first parent's.
#[derive(Default)]
pub(super) struct Changes {
    pub(super) blobs: Vec<(Oid, Vec<u8>)>,
    pub(super) submodules: Vec<Vec<u8>>,
    pub(super) errors: Vec<PathNote>,
    /// Set before the comparison to also list what it takes out.
    pub(super) track_removed: bool,
    /// With `track_removed`: the blob of every path the new tree no longer
    /// holds, or holds with other content (one entry a path; exposure
    /// counts how many paths of a commit's tree hold a key).
    pub(super) removed: Vec<Oid>,
}

/// Locations a blob may have before its paths are looked up in a set
/// rather than by a scan of its list.
const FEW_LOCATIONS: usize = 32;

/// The unique blobs of a history, each with the places it appears. This is
/// what a history scan holds for its whole length (about 40 bytes a blob
/// and a path once; docs/performance.md, "Memory"), so it is kept compact:
/// integer ids, a blob's first location inline, each path stored once.
#[derive(Default)]
struct BlobIndex {
    ids: HashMap<Oid, u32>,
    entries: Vec<BlobEntry>,
    /// Each path and its id (ids count up from 0).
    path_ids: HashMap<Box<[u8]>, u32>,
    /// The paths of the few blobs found at more than `FEW_LOCATIONS`
    /// paths (an empty file, a license), for a quick duplicate check.
    many: HashMap<u32, HashSet<u32>>,
}

struct BlobEntry {
    oid: Oid,
    /// (path, commit) pairs: each path once, with the first commit that
    /// showed the blob there; the first one inline, as most blobs have
    /// only one.
    first: (u32, u32),
    more: Vec<(u32, u32)>,
}

impl BlobEntry {
    fn locations(&self) -> impl Iterator<Item = &(u32, u32)> {
        std::iter::once(&self.first).chain(self.more.iter())
    }
}

impl BlobIndex {
    fn add(&mut self, oid: Oid, path: &[u8], commit: u32) -> u32 {
        let path = match self.path_ids.get(path) {
            Some(&p) => p,
            None => {
                let p = self.path_ids.len() as u32;
                self.path_ids.insert(path.into(), p);
                p
            }
        };
        let Some(&blob) = self.ids.get(&oid) else {
            self.ids.insert(oid, self.entries.len() as u32);
            self.entries.push(BlobEntry {
                oid,
                first: (path, commit),
                more: Vec::new(),
            });
            return self.entries.len() as u32 - 1;
        };
        let entry = &mut self.entries[blob as usize];
        if let Some(set) = self.many.get_mut(&blob) {
            if set.insert(path) {
                entry.more.push((path, commit));
            }
            return blob;
        }
        if entry.locations().any(|&(p, _)| p == path) {
            return blob;
        }
        entry.more.push((path, commit));
        if entry.more.len() > FEW_LOCATIONS {
            self.many
                .insert(blob, entry.locations().map(|&(p, _)| p).collect());
        }
        blob
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
    Ok(scan_repository(options, matcher, &options.paths[0], all_objects, None)?.outcome)
}

/// Whether a blob was scanned before (by an earlier run, under the same
/// rules): `None` to scan it, `Some(has_findings)` to skip it.
pub type Seen<'a> = &'a (dyn Fn(&Oid) -> Option<bool> + Sync);

/// The ids of the secrets an earlier audit saw in a blob (`exposure`), for
/// the blobs `Seen` skips.
pub type Known<'a> = &'a dyn Fn(&Oid) -> Vec<String>;

/// A history scan, with what an incremental audit records.
pub struct HistoryScan {
    pub outcome: ScanOutcome,
    /// The blobs read and scanned (not the skipped ones).
    pub scanned: Vec<Oid>,
    /// For each finding of `outcome` from history, the blob it is in
    /// (`None` for an uncommitted file's).
    pub finding_blobs: Vec<Option<Oid>>,
    /// Skipped blobs that had findings before: where this history shows
    /// them first, so their findings can be named here too.
    pub reused: Vec<Reused>,
    /// Blobs skipped because `seen` knew them.
    pub skipped: u64,
}

/// A skipped blob with findings, as this history shows it.
pub struct Reused {
    pub blob: Oid,
    pub path: String,
    pub commit: Option<CommitInfo>,
}

/// [`scan_history`] of the repository at `root`, skipping the blobs `seen`
/// knows.
pub fn scan_repository(
    options: &Options,
    matcher: &Matcher,
    root: &Path,
    all_objects: bool,
    seen: Option<Seen>,
) -> Result<HistoryScan> {
    scan_repository_known(options, matcher, root, all_objects, seen, None, false)
}

/// [`scan_repository`], with the secret ids `known` for the skipped blobs
/// (`exposure`: where a key seen by an earlier audit still lives).
/// `alongside`: one of several scans at once (an audit's small
/// repositories), on one thread and without a progress bar of its own.
pub fn scan_repository_known(
    options: &Options,
    matcher: &Matcher,
    root: &Path,
    all_objects: bool,
    seen: Option<Seen>,
    known: Option<Known>,
    alongside: bool,
) -> Result<HistoryScan> {
    let started = Instant::now();
    let repo = open_repo(root)?;
    let gitdir = repo.path().to_path_buf();
    let threads = if alongside {
        1
    } else {
        thread_count(options.threads)
    };
    let progress = options.progress && !alongside;
    let mut stats = Stats::default();
    // Ctrl-C or SIGTERM: every stage stops at its next item, and the
    // report says how far the scan got.
    let stop: &AtomicBool = options.interrupt.as_deref().unwrap_or(&NEVER);

    let shallow = shallow_commits(&repo);
    if !shallow.is_empty() {
        stats.notes.push(format!(
            "shallow clone: history ends at {} boundary commit{}; what they hold is reported as introduced by them",
            shallow.len(),
            if shallow.len() == 1 { "" } else { "s" }
        ));
    }
    let tips = ref_tips(&repo, &mut stats);
    let mut unreadable = Vec::new();
    let mut commits = walk_commits(&repo, tips, &shallow, stop, &mut unreadable, &mut stats);
    let reachable = commits.len();

    let mut blobs = BlobIndex::default();
    // Exposure: every (blob, commit) a tree comparison showed, not only
    // the first commit per path (8 bytes a change; none without a key).
    let mut trail: Option<Trail> = options.exposure.as_ref().map(|_| Trail::default());
    let mut submodules = BTreeSet::new();
    // Blobs only the index holds (`--all-objects`): reported as staged.
    let mut staged: HashSet<Oid> = HashSet::new();
    tree_changes(&gitdir, &commits, threads, trail.is_some(), stop, |i, c| {
        absorb_changes(
            &mut blobs,
            c,
            i as u32,
            &mut submodules,
            &mut stats,
            &mut trail,
        );
    })?;

    // A commit that cannot be read hides its parents, and the walk cannot
    // tell which commits they are: scan every commit in the object database
    // that no readable commit reaches, as --all-objects would.
    if !unreadable.is_empty() && !all_objects && !stop.load(Ordering::Relaxed) {
        let mut known: HashSet<Oid> = commits.iter().map(|c| c.oid).collect();
        known.extend(unreadable.iter().copied());
        let (behind, _) = unreachable_objects(&repo, &known, &blobs, stop, &mut stats);
        stats.notes.push(format!(
            "commit{} {} could not be read, so the history behind {} cannot be followed; \
             the {} commit{} in the object database that no readable commit reaches {} \
             scanned instead (marked unreachable; some may be leftovers no branch holds)",
            if unreadable.len() == 1 { "" } else { "s" },
            name_some(&unreadable),
            if unreadable.len() == 1 { "it" } else { "them" },
            behind.len(),
            if behind.len() == 1 { "" } else { "s" },
            if behind.len() == 1 { "was" } else { "were" },
        ));
        let first = commits.len();
        commits.extend(behind);
        tree_changes(
            &gitdir,
            &commits[first..],
            threads,
            trail.is_some(),
            stop,
            |i, c| {
                absorb_changes(
                    &mut blobs,
                    c,
                    (first + i) as u32,
                    &mut submodules,
                    &mut stats,
                    &mut trail,
                );
            },
        )?;
    }
    if all_objects {
        let mut known: HashSet<Oid> = commits.iter().map(|c| c.oid).collect();
        known.extend(unreadable.iter().copied());
        let (more, dangling) = unreachable_objects(&repo, &known, &blobs, stop, &mut stats);
        let first = commits.len() as u32;
        commits.extend(more);
        tree_changes(
            &gitdir,
            &commits[first as usize..],
            threads,
            trail.is_some(),
            stop,
            |i, c| {
                absorb_changes(
                    &mut blobs,
                    c,
                    first + i as u32,
                    &mut submodules,
                    &mut stats,
                    &mut trail,
                );
            },
        )?;
        // A blob no commit holds may still be in the index (staged, then
        // changed in the working tree): it is named by its path there.
        // Others are named as what they are.
        let in_index = index_paths(&repo);
        for oid in dangling {
            if blobs.ids.contains_key(&oid) {
                continue;
            }
            match in_index.get(&oid) {
                Some(path) => {
                    blobs.add(oid, path, NO_COMMIT);
                    staged.insert(oid);
                }
                None => {
                    blobs.add(oid, format!("<dangling blob {oid}>").as_bytes(), NO_COMMIT);
                }
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

    let mut skip = vec![false; blobs.entries.len()];
    let mut had_findings = Vec::new();
    if let Some(seen) = seen {
        for (i, entry) in blobs.entries.iter().enumerate() {
            if let Some(found) = seen(&entry.oid) {
                skip[i] = true;
                if found {
                    had_findings.push(i as u32);
                }
            }
        }
    }
    let skipped = skip.iter().filter(|s| **s).count() as u64;

    let scanner = Scanner { options, matcher };
    let collector = Collector::default();
    let mut shown = vec![String::new(); blobs.path_ids.len()];
    for (p, &i) in std::mem::take(&mut blobs.path_ids).iter() {
        shown[i as usize] = String::from_utf8_lossy(p).into_owned();
    }
    let allowed: Vec<bool> = shown
        .iter()
        .map(|p| options.allowlist.allows_path(Path::new(p)))
        .collect();
    let (found, sightings) = crate::scan::with_progress(progress, &collector.progress, || {
        scan_blobs(
            &gitdir, &scanner, &collector, &blobs, &shown, &allowed, &skip, threads,
        )
    })?;

    let mut findings = Vec::with_capacity(found.len());
    let mut finding_blobs = Vec::with_capacity(found.len());
    let mut infos: HashMap<u32, Option<CommitInfo>> = HashMap::new();
    for (blob, mut f) in found {
        let entry = &blobs.entries[blob as usize];
        if staged.contains(&entry.oid) {
            f.source = SourceKind::Staged;
        }
        let mut locations = entry.locations().filter(|(p, _)| !allowed[*p as usize]);
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
        finding_blobs.push(Some(entry.oid));
    }
    let mut reused = Vec::with_capacity(had_findings.len());
    for blob in had_findings {
        let entry = &blobs.entries[blob as usize];
        let Some(&(path, first)) = entry.locations().find(|(p, _)| !allowed[*p as usize]) else {
            continue;
        };
        let commit = infos
            .entry(first)
            .or_insert_with(|| commit_details(&repo, &commits, first))
            .clone();
        reused.push(Reused {
            blob: entry.oid,
            path: shown[path as usize].clone(),
            commit,
        });
    }

    // Skipped blobs (scanned by an earlier audit) hold the keys it saw.
    let mut sightings = sightings;
    if let Some(known) = known.filter(|_| options.exposure.is_some()) {
        for r in &reused {
            if let Some(&b) = blobs.ids.get(&r.blob) {
                for id in known(&r.blob) {
                    sightings.add(id, b);
                }
            }
        }
    }
    let secrets = match (&options.exposure, trail) {
        (Some(key), Some(trail)) if !sightings.0.is_empty() && !stop.load(Ordering::Relaxed) => {
            exposure_of(
                &repo,
                &key.get(),
                &commits,
                &blobs,
                &shown,
                &allowed,
                trail,
                &sightings,
                &findings,
            )
        }
        _ => Vec::new(),
    };

    let mut uncommitted = Vec::new();
    if !stop.load(Ordering::Relaxed) {
        scan_worktree(&repo, &scanner, &blobs.ids, &mut uncommitted, &mut stats);
    }
    let in_history: HashSet<&str> = findings.iter().map(|f| f.fingerprint.as_str()).collect();
    uncommitted.retain(|f| !in_history.contains(f.fingerprint.as_str()));
    finding_blobs.extend(uncommitted.iter().map(|_| None));
    findings.extend(uncommitted);

    // The collector counted blobs as files; `stats.files` counts the
    // working tree's.
    let mut outcome = collector.into_outcome(started);
    if is_partial_clone(&repo) {
        partial_clone_note(&mut outcome.stats);
    }
    let blobs_read = std::mem::take(&mut outcome.stats.files);
    if stop.load(Ordering::Relaxed) {
        stats.notes.push(format!(
            "interrupted: {} commit{} walked, {blobs_read} of the {} {} {} held scanned; \
             the uncommitted files were not scanned",
            commits.len(),
            if commits.len() == 1 { "" } else { "s" },
            blobs.entries.len(),
            if blobs.entries.len() == 1 {
                "blob"
            } else {
                "blobs"
            },
            if commits.len() == 1 { "it" } else { "they" },
        ));
    }
    outcome.stats.merge(stats);
    outcome.stats.secrets = secrets;
    outcome.stats.blobs = Some(blobs_read);
    outcome.stats.commits = Some(commits.len() as u64);
    // The collector's own findings are always empty (workers hand theirs
    // back), so `finding_blobs` stays parallel to `outcome.findings`.
    debug_assert!(outcome.findings.is_empty());
    outcome.findings.extend(findings);
    outcome.stats.elapsed_ms = started.elapsed().as_millis() as u64;
    let scanned = blobs
        .entries
        .iter()
        .zip(&skip)
        .filter(|(_, s)| !**s)
        .map(|(e, _)| e.oid)
        .collect();
    Ok(HistoryScan {
        outcome,
        scanned,
        finding_blobs,
        reused,
        skipped,
    })
}

/// What exposure needs from the tree comparisons (8 bytes a blob shown,
/// 24 a blob taken out; none of it without `exposure`).
#[derive(Default)]
struct Trail {
    /// (blob, commit): every blob a comparison showed, not only the first
    /// commit per path.
    shown: Vec<(u32, u32)>,
    /// (blob, commit): every blob a comparison took out of a path.
    removed: Vec<(Oid, u32)>,
}

/// Hand what the walk knows to `exposure`: the commit graph, and for each
/// blob that holds a key, its paths and every commit that showed it.
#[allow(clippy::too_many_arguments)]
fn exposure_of(
    repo: &Repository,
    key: &crate::exposure::Key,
    commits: &[CommitNode],
    blobs: &BlobIndex,
    shown: &[String],
    allowed: &[bool],
    trail: Trail,
    sightings: &Sightings,
    findings: &[Finding],
) -> Vec<crate::exposure::Secret> {
    use crate::exposure::{analyse, Sighting, Walk, WalkBlob, WalkCommit};
    let index: HashMap<Oid, u32> = commits
        .iter()
        .enumerate()
        .map(|(i, c)| (c.oid, i as u32))
        .collect();
    // Local numbers for the blobs that hold keys.
    let mut local: HashMap<u32, u32> = HashMap::new();
    let mut walk_blobs: Vec<WalkBlob> = Vec::new();
    for list in sightings.0.values() {
        for &b in list {
            local.entry(b).or_insert_with(|| {
                let entry = &blobs.entries[b as usize];
                walk_blobs.push(WalkBlob {
                    oid: entry.oid,
                    paths: entry
                        .locations()
                        .filter(|(p, _)| !allowed[*p as usize])
                        .map(|&(p, _)| shown[p as usize].clone())
                        .collect(),
                    commits: Vec::new(),
                    removed_by: Vec::new(),
                });
                walk_blobs.len() as u32 - 1
            });
        }
    }
    for (b, c) in trail.shown {
        if let Some(&l) = local.get(&b) {
            walk_blobs[l as usize].commits.push(c);
        }
    }
    for (oid, c) in trail.removed {
        let l = blobs.ids.get(&oid).and_then(|b| local.get(b));
        if let Some(&l) = l {
            walk_blobs[l as usize].removed_by.push(c);
        }
    }
    let describe = |oid: Oid| repo.find_commit(oid).ok().map(|c| commit_info(&c));
    let walk = Walk {
        repo,
        commits: commits
            .iter()
            .map(|c| WalkCommit {
                oid: c.oid,
                tree: c.tree,
                parents: c
                    .parents
                    .iter()
                    .filter_map(|p| index.get(p).copied())
                    .collect(),
            })
            .collect(),
        blobs: walk_blobs,
        describe: &describe,
    };
    let mut list: Vec<(&String, &Vec<u32>)> = sightings.0.iter().collect();
    list.sort();
    let sightings: Vec<Sighting> = list
        .into_iter()
        .map(|(id, blobs)| {
            let mut blobs: Vec<u32> = blobs.iter().map(|b| local[b]).collect();
            blobs.sort_unstable();
            blobs.dedup();
            Sighting { id, blobs }
        })
        .collect();
    analyse(&walk, key, findings, &sightings)
}

/// The blobs a partial clone never downloaded: one error and a note that
/// count them, in place of one error per blob.
fn partial_clone_note(stats: &mut Stats) {
    let before = stats.errors.len();
    stats
        .errors
        .retain(|e| !(e.path.contains(" (blob ") && e.reason.starts_with("object not found")));
    let missing = before - stats.errors.len();
    if missing == 0 {
        return;
    }
    let blobs = if missing == 1 { "blob" } else { "blobs" };
    stats.notes.push(format!(
        "partial clone: {missing} {blobs} of this history {} never downloaded from the \
         promisor remote and {} not scanned; fetch the history whole (a clone without \
         --filter) to scan {}",
        if missing == 1 { "was" } else { "were" },
        if missing == 1 { "was" } else { "were" },
        if missing == 1 { "it" } else { "them" },
    ));
    stats.errors.push(PathNote {
        path: "partial clone".into(),
        reason: format!("{missing} {blobs} not downloaded, not scanned"),
    });
}

/// Up to five ids, then "and N more".
fn name_some(oids: &[Oid]) -> String {
    let mut named: Vec<String> = oids.iter().take(5).map(Oid::to_string).collect();
    if oids.len() > 5 {
        named.push(format!("and {} more", oids.len() - 5));
    }
    named.join(", ")
}

pub(super) fn thread_count(configured: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
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
    // Only when there is one: libgit2 creates an empty reflog file when
    // asked to read one that does not exist, and a scan writes nothing.
    if repo.reference_has_log("refs/stash").unwrap_or(false) {
        if let Ok(reflog) = repo.reflog("refs/stash") {
            tips.extend(reflog.iter().map(|e| e.id_new()));
        }
    }
    tips
}

/// Read every commit reachable from `tips` and order them parents first,
/// older first among commits whose parents are all placed.
fn walk_commits(
    repo: &Repository,
    tips: Vec<Oid>,
    shallow: &HashSet<Oid>,
    stop: &AtomicBool,
    unreadable: &mut Vec<Oid>,
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
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if index.contains_key(&oid) || missing.contains(&oid) {
            continue;
        }
        let commit = match repo.find_commit(oid) {
            Ok(c) => c,
            Err(e) => {
                missing.insert(oid);
                unreadable.push(oid);
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
                parents: r.parents.clone(),
                unreachable: false,
            }
        })
        .collect()
}

/// Compare each commit's tree with its first parent's, in parallel, and
/// hand each commit's changes to `sink` in commit order as they come
/// (only the changes of the commits in flight are held, not the whole
/// history's).
fn tree_changes(
    gitdir: &Path,
    commits: &[CommitNode],
    threads: usize,
    track_removed: bool,
    stop: &AtomicBool,
    sink: impl FnMut(usize, Changes),
) -> Result<()> {
    let opened = AtomicUsize::new(0);
    fan_out_ordered(
        threads,
        commits.len(),
        COMMIT_CHUNK,
        stop,
        || open_worker(gitdir, opened.fetch_add(1, Ordering::Relaxed)),
        |repo, i| {
            let c = &commits[i];
            let mut changes = Changes {
                track_removed,
                ..Changes::default()
            };
            diff_commit(repo, c.parent_tree, c.tree, &mut changes);
            if !changes.errors.is_empty() {
                for e in &mut changes.errors {
                    e.path = format!("{} (commit {})", e.path, c.oid);
                }
            }
            changes
        },
        sink,
    )
}

fn absorb_changes(
    blobs: &mut BlobIndex,
    changes: Changes,
    commit: u32,
    submodules: &mut BTreeSet<Vec<u8>>,
    stats: &mut Stats,
    trail: &mut Option<Trail>,
) {
    for (oid, path) in changes.blobs {
        let blob = blobs.add(oid, &path, commit);
        if let Some(t) = trail {
            t.shown.push((blob, commit));
        }
    }
    if let Some(t) = trail {
        t.removed
            .extend(changes.removed.into_iter().map(|oid| (oid, commit)));
    }
    submodules.extend(changes.submodules);
    stats.errors.extend(changes.errors);
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
/// descending only into subtrees whose id changed. The walk keeps its own
/// stack of directories (not the thread's), so a tree nested thousands of
/// levels deep costs memory in proportion, never a stack overflow.
pub(super) fn diff_trees<'r>(
    repo: &'r Repository,
    old: Option<&Tree<'r>>,
    new: &Tree<'r>,
    prefix: &mut Vec<u8>,
    out: &mut Changes,
) {
    /// One directory being walked: its two sides, where each is, and the
    /// prefix's length to go back to when it is done.
    struct Dir<'r> {
        old: Option<Tree<'r>>,
        new: Tree<'r>,
        next: usize,
        next_old: usize,
        restore: usize,
    }
    let mut stack = vec![Dir {
        old: old.cloned(),
        new: new.clone(),
        next: 0,
        next_old: 0,
        restore: prefix.len(),
    }];
    let track = out.track_removed;
    while let Some(dir) = stack.last_mut() {
        let Some(entry) = dir.new.get(dir.next) else {
            // What the old side holds past the new side's last entry is
            // gone.
            if let (true, Some(t)) = (track, dir.old.as_ref()) {
                for o in t.iter().skip(dir.next_old) {
                    removed_entry(repo, o.id(), o.kind(), &mut out.removed);
                }
            }
            prefix.truncate(dir.restore);
            stack.pop();
            continue;
        };
        dir.next += 1;
        // Both trees are sorted in git's order, so the old side is walked
        // alongside (no lookup, which would copy each name into a C string
        // and binary-search the old tree for it).
        let removed = &mut out.removed;
        let before = dir.old.as_ref().and_then(|t| {
            while let Some(o) = t.get(dir.next_old) {
                match tree_order(&o, &entry) {
                    std::cmp::Ordering::Less => {
                        // Not in the new tree: taken out.
                        if track {
                            removed_entry(repo, o.id(), o.kind(), removed);
                        }
                        dir.next_old += 1
                    }
                    std::cmp::Ordering::Equal => {
                        dir.next_old += 1;
                        return Some((o.id(), o.kind()));
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
            // Out of order (a damaged tree): look it up.
            t.get_name_bytes(entry.name_bytes())
                .filter(|o| o.kind() == entry.kind())
                .map(|o| (o.id(), o.kind()))
        });
        let (id, kind) = (entry.id(), entry.kind());
        if before.is_some_and(|b| b == (id, kind)) {
            continue;
        }
        // Changed: the old blob is out; an old tree's blobs are out when
        // the new entry is not a tree (a tree is compared below).
        if let Some((old_id, old_kind)) = before.filter(|_| track) {
            if !(old_kind == Some(ObjectType::Tree) && kind == Some(ObjectType::Tree)) {
                removed_entry(repo, old_id, old_kind, &mut out.removed);
            }
        }
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(entry.name_bytes());
        drop(entry);
        match kind {
            Some(ObjectType::Blob) => out.blobs.push((id, prefix.clone())),
            Some(ObjectType::Commit) => out.submodules.push(prefix.clone()),
            Some(ObjectType::Tree) => match repo.find_tree(id) {
                Ok(sub) => {
                    let old_sub = before
                        .filter(|b| b.1 == Some(ObjectType::Tree))
                        .and_then(|b| repo.find_tree(b.0).ok());
                    // Its entries next; the prefix is restored when done.
                    stack.push(Dir {
                        old: old_sub,
                        new: sub,
                        next: 0,
                        next_old: 0,
                        restore: len,
                    });
                    continue;
                }
                Err(e) => out.errors.push(PathNote {
                    path: format!("{} (tree {id})", String::from_utf8_lossy(prefix)),
                    reason: e.message().to_string(),
                }),
            },
            _ => {}
        }
        prefix.truncate(len);
    }
}

/// The blobs an entry taken out of a tree held: itself, or for a tree
/// every blob under it (an explicit stack, as in `diff_trees`).
fn removed_entry(repo: &Repository, id: Oid, kind: Option<ObjectType>, out: &mut Vec<Oid>) {
    match kind {
        Some(ObjectType::Blob) => out.push(id),
        Some(ObjectType::Tree) => {
            let mut stack = vec![id];
            while let Some(t) = stack.pop() {
                let Ok(tree) = repo.find_tree(t) else {
                    continue;
                };
                for e in tree.iter() {
                    match e.kind() {
                        Some(ObjectType::Blob) => out.push(e.id()),
                        Some(ObjectType::Tree) => stack.push(e.id()),
                        _ => {}
                    }
                }
            }
        }
        _ => {}
    }
}

/// How git orders two entries of a tree: by name, a tree's as if it ended
/// with `/`.
fn tree_order(a: &TreeEntry, b: &TreeEntry) -> std::cmp::Ordering {
    let key = |e: &TreeEntry| (e.kind() == Some(ObjectType::Tree)).then_some(b'/');
    let (an, bn) = (a.name_bytes(), b.name_bytes());
    an.iter()
        .copied()
        .chain(key(a))
        .cmp(bn.iter().copied().chain(key(b)))
}

/// Commits and blobs in the object database that the walk did not reach.
fn unreachable_objects(
    repo: &Repository,
    known: &HashSet<Oid>,
    blobs: &BlobIndex,
    stop: &AtomicBool,
    stats: &mut Stats,
) -> (Vec<CommitNode>, Vec<Oid>) {
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
    let listed = odb.foreach(|oid| {
        all.push(*oid);
        !stop.load(Ordering::Relaxed)
    });
    if let (Err(e), false) = (listed, stop.load(Ordering::Relaxed)) {
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
        if let Err(reason) = crate::source::loose::check_blob(repo, oid) {
            stats.errors.push(PathNote {
                path: format!("object {oid}"),
                reason,
            });
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
                        parents: c.parent_ids().collect(),
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

/// The blobs the index holds, each with its path there (the first, should
/// one blob be staged at several).
fn index_paths(repo: &Repository) -> HashMap<Oid, Vec<u8>> {
    let mut paths = HashMap::new();
    if crate::source::index::refusal(&repo.path().join("index")).is_some() {
        return paths;
    }
    if let Ok(index) = repo.index() {
        for entry in index.iter() {
            paths.entry(entry.id).or_insert(entry.path);
        }
    }
    paths
}

/// Pass 2: read and scan each unique blob once, in parallel (but not the
/// ones `skip` marks).
#[allow(clippy::too_many_arguments)]
fn scan_blobs(
    gitdir: &Path,
    scanner: &Scanner,
    collector: &Collector,
    blobs: &BlobIndex,
    shown: &[String],
    allowed: &[bool],
    skip: &[bool],
    threads: usize,
) -> Result<(Vec<(u32, Finding)>, Sightings)> {
    struct Worker {
        repo: Repository,
        scratch: Scratch,
        stats: Stats,
        found: Earliest,
        sightings: Sightings,
        key: Option<crate::exposure::Key>,
    }
    let first_commit = |blob: u32| {
        blobs.entries[blob as usize]
            .locations()
            .find(|(p, _)| !allowed[*p as usize])
            .map_or(NO_COMMIT, |&(_, c)| c)
    };
    let max = scanner.options.max_file_size;
    let opened = AtomicUsize::new(0);
    let stop: &AtomicBool = scanner.options.interrupt.as_deref().unwrap_or(&NEVER);
    let workers = fan_out(
        threads,
        blobs.entries.len(),
        BLOB_CHUNK,
        stop,
        || {
            Ok(Worker {
                repo: open_worker(gitdir, opened.fetch_add(1, Ordering::Relaxed))?,
                scratch: Scratch::default(),
                stats: Stats::default(),
                found: Earliest::default(),
                sightings: Sightings::default(),
                key: scanner.options.exposure.as_ref().map(|k| k.get()),
            })
        },
        |w, i| {
            if skip[i] {
                return;
            }
            let entry = &blobs.entries[i];
            let Some(&(path, _)) = entry.locations().find(|(p, _)| !allowed[*p as usize]) else {
                return;
            };
            let path = &shown[path as usize];
            let note = |reason: String| PathNote {
                path: format!("{path} (blob {})", entry.oid),
                reason,
            };
            if let Err(reason) = crate::source::loose::check_blob(&w.repo, entry.oid) {
                return w.stats.errors.push(note(reason));
            }
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
            let found = archive::scan(
                scanner,
                data,
                path,
                SourceKind::Git,
                &mut w.scratch,
                &mut w.stats,
            );
            let at = (first_commit(i as u32), i as u32);
            for f in found {
                if let Some(key) = &w.key {
                    w.sightings.add(key.id(&f.secret), i as u32);
                }
                w.found.offer(at, f);
            }
        },
    )?;
    let mut found = Earliest::default();
    let mut sightings = Sightings::default();
    for w in workers {
        found.merge(w.found);
        sightings.merge(w.sightings);
        collector.absorb(Vec::new(), w.stats);
    }
    Ok((found.into_findings(), sightings))
}

/// Exposure: every blob each key (by its id) was seen in (the findings
/// keep only the blob that shows a key first at a path).
#[derive(Default)]
struct Sightings(HashMap<String, Vec<u32>>);

impl Sightings {
    fn add(&mut self, id: String, blob: u32) {
        self.0.entry(id).or_default().push(blob);
    }

    fn merge(&mut self, other: Sightings) {
        for (secret, blobs) in other.0 {
            self.0.entry(secret).or_default().extend(blobs);
        }
    }
}

/// Per fingerprint, the findings of the blob that shows the key first, by
/// (first commit, blob): a key that stays in a file while the file is
/// edited is in many blobs, and is reported once, from the blob of the
/// commit that introduced it. The workers keep only these, so that memory
/// follows the number of distinct keys, not of blobs that hold them.
#[derive(Default)]
struct Earliest(HashMap<String, ((u32, u32), Vec<Finding>)>);

impl Earliest {
    /// Offer a finding of the blob at `at` = (first commit, blob).
    fn offer(&mut self, at: (u32, u32), f: Finding) {
        match self.0.get_mut(&f.fingerprint) {
            None => {
                self.0.insert(f.fingerprint.clone(), (at, vec![f]));
            }
            Some((best, list)) if at < *best => {
                *best = at;
                list.clear();
                list.push(f);
            }
            Some((best, list)) if at == *best => list.push(f),
            Some(_) => {}
        }
    }

    fn merge(&mut self, other: Earliest) {
        for (at, list) in other.0.into_values() {
            for f in list {
                self.offer(at, f);
            }
        }
    }

    /// The kept findings, each with its blob.
    fn into_findings(self) -> Vec<(u32, Finding)> {
        self.0
            .into_values()
            .flat_map(|((_, blob), list)| list.into_iter().map(move |f| (blob, f)))
            .collect()
    }
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
            repository: None,
            url: None,
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
    scanned: &HashMap<Oid, u32>,
    findings: &mut Vec<Finding>,
    stats: &mut Stats,
) {
    let Some(workdir) = repo.workdir() else {
        return;
    };
    // libgit2 reads the index whole for the status: not one this crate's
    // reader refuses as past its bounds.
    if let Some(why) = crate::source::index::refusal(&repo.path().join("index")) {
        stats.errors.push(PathNote {
            path: workdir.display().to_string(),
            reason: format!("the working tree was not scanned: {why}"),
        });
        return;
    }
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
        if Oid::hash_object(ObjectType::Blob, &bytes).is_ok_and(|oid| scanned.contains_key(&oid)) {
            continue;
        }
        stats.files += 1;
        stats.bytes += bytes.len() as u64;
        findings.extend(archive::scan(
            scanner,
            &bytes,
            &shown,
            SourceKind::File,
            &mut scratch,
            stats,
        ));
    }
}

/// Worker `k`'s own handle on the repository. libgit2 keeps one state per
/// pack file for the whole process, keyed by the pack's path, and its locks
/// made the workers wait on each other (docs/performance.md); worker `k`
/// names the object directory with `k` extra `/.` components, so that its
/// packs are opened, cached and locked separately. Alternates are read the
/// same way as for the repository itself.
pub(super) fn open_worker(gitdir: &Path, k: usize) -> Result<Repository> {
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
/// consecutive items at a time until all are taken or `stop` is set.
/// Returns the workers' states.
pub(super) fn fan_out<S: Send>(
    threads: usize,
    len: usize,
    chunk: usize,
    stop: &AtomicBool,
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
                        if start >= len || stop.load(Ordering::Relaxed) {
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

/// Like [`fan_out`], but each item gives a value, and `sink` receives the
/// values on the calling thread in item order while the workers go on.
/// A bounded channel holds at most two chunks per worker between them;
/// chunks that arrive ahead of an earlier one wait in a map (workers take
/// chunks in order, so that map stays small).
pub(super) fn fan_out_ordered<S: Send, T: Send>(
    threads: usize,
    len: usize,
    chunk: usize,
    stop: &AtomicBool,
    init: impl Fn() -> Result<S> + Sync,
    work: impl Fn(&mut S, usize) -> T + Sync,
    mut sink: impl FnMut(usize, T),
) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let workers = threads.clamp(1, len.div_ceil(chunk));
    let (tx, rx) = crossbeam_channel::bounded::<(usize, Vec<T>)>(workers * 2);
    let (init, work, next) = (&init, &work, &next);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let tx = tx.clone();
                scope.spawn(move || -> Result<()> {
                    let mut state = init()?;
                    loop {
                        let start = next.fetch_add(chunk, Ordering::Relaxed);
                        if start >= len || stop.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        let out = (start..(start + chunk).min(len))
                            .map(|i| work(&mut state, i))
                            .collect();
                        if tx.send((start, out)).is_err() {
                            return Ok(());
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let mut early: BTreeMap<usize, Vec<T>> = BTreeMap::new();
        let mut due = 0;
        for (start, out) in rx {
            early.insert(start, out);
            while let Some(out) = early.remove(&due) {
                let n = out.len();
                for (k, value) in out.into_iter().enumerate() {
                    sink(due + k, value);
                }
                due += n;
            }
        }
        handles
            .into_iter()
            .try_for_each(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_order_is_the_order_git_writes_trees_in() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let blob = repo.blob(b"x").unwrap();
        let mut inner = repo.treebuilder(None).unwrap();
        inner.insert("x", blob, 0o100644).unwrap();
        let inner = inner.write().unwrap();
        let mut root = repo.treebuilder(None).unwrap();
        for name in ["a.txt", "a-b", "a0", "b", "a=", "a_", "A"] {
            root.insert(name, blob, 0o100644).unwrap();
        }
        for name in ["a", "ab", "a.d"] {
            root.insert(name, inner, 0o040000).unwrap();
        }
        let tree = repo.find_tree(root.write().unwrap()).unwrap();
        let entries: Vec<_> = tree.iter().collect();
        assert_eq!(entries.len(), 10);
        for pair in entries.windows(2) {
            assert_eq!(
                tree_order(&pair[0], &pair[1]),
                std::cmp::Ordering::Less,
                "{:?} before {:?}",
                pair[0].name(),
                pair[1].name()
            );
        }
    }

    #[test]
    fn fan_out_ordered_hands_every_item_over_in_order() {
        let mut seen = Vec::new();
        fan_out_ordered(
            3,
            1000,
            7,
            &NEVER,
            || Ok(()),
            |_, i| i * 2,
            |i, v| seen.push((i, v)),
        )
        .unwrap();
        assert_eq!(seen, (0..1000).map(|i| (i, i * 2)).collect::<Vec<_>>());
    }

    #[test]
    fn blob_index_keeps_each_path_once_with_its_first_commit() {
        let mut index = BlobIndex::default();
        let oid = Oid::from_str("0123456789012345678901234567890123456789").unwrap();
        for commit in 0..3 {
            for p in 0..100 {
                index.add(oid, format!("p{p}").as_bytes(), commit);
            }
        }
        let entry = &index.entries[0];
        let locations: Vec<_> = entry.locations().copied().collect();
        assert_eq!(locations, (0..100).map(|p| (p, 0)).collect::<Vec<_>>());
        assert_eq!(index.path_ids.len(), 100);
    }

    #[test]
    fn fan_out_visits_every_item_once() {
        let workers = fan_out(
            3,
            1000,
            7,
            &NEVER,
            || Ok(Vec::new()),
            |seen: &mut Vec<usize>, i| seen.push(i),
        )
        .unwrap();
        let mut all: Vec<usize> = workers.into_iter().flatten().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }
}
