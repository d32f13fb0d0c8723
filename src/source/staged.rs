//! The staged changes (`--staged`): the lines `git commit` would add, that
//! is the index compared with HEAD's tree (with no HEAD before the first
//! commit, every staged line). Content is read from the index's blobs, never
//! from the working tree, and findings are numbered as in the staged file.
//!
//! Inside a git hook, git names the index it is committing in
//! `GIT_INDEX_FILE` (`git commit -a` and `git commit PATH` commit a
//! temporary index, not `.git/index`); that index is the one read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use git2::{ErrorCode, Index, ObjectType, Oid, Patch, Repository, Tree};

use super::git::{
    added_lines, delta_target, diff_options, find_renames, keep_added, open_repo,
    patch_added_lines, scan_blob,
};
use crate::engine::{Matcher, Scratch};
use crate::error::{Error, Result};
use crate::finding::SourceKind;
use crate::scan::{Options, PathNote, ScanOutcome, Scanner, Stats};

/// Scan what the index adds to HEAD.
pub fn scan_staged(options: &Options, matcher: &Matcher) -> Result<ScanOutcome> {
    let started = Instant::now();
    let root = &options.paths[0];
    let repo = open_repo(root)?;
    let fail = |what: &str, e: git2::Error| Error::Git {
        path: root.clone(),
        message: format!("{what}: {}", e.message()),
    };
    if repo.is_bare() {
        return Err(Error::Git {
            path: root.clone(),
            message: "a bare repository has no index to scan (--staged needs a working tree)"
                .into(),
        });
    }
    let index_file = match std::env::var_os("GIT_INDEX_FILE") {
        Some(file) => {
            let file = absolute(Path::new(&file));
            // libgit2 reads a missing index as an empty one, and an empty
            // index stages nothing: a typo would pass as a clean commit.
            if !file.is_file() {
                return Err(Error::Git {
                    path: root.clone(),
                    message: format!(
                        "GIT_INDEX_FILE names {}, which {}: git sets it to the index a \
                         commit is made from; unset it to scan the repository's own index",
                        file.display(),
                        if file.exists() {
                            "is not a file"
                        } else {
                            "does not exist"
                        }
                    ),
                });
            }
            Some(file)
        }
        None => None,
    };
    let head = match repo.head() {
        Ok(h) => Some(h.peel_to_tree().map_err(|e| fail("cannot read HEAD", e))?),
        Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => None,
        Err(e) => return Err(fail("cannot read HEAD", e)),
    };
    let mut submodules = BTreeSet::new();
    let own_index = repo.path().join("index");
    let file = index_file.as_deref().unwrap_or(&own_index);
    let mut refused = None;
    let read_directly =
        changes_from_index(&repo, file, head.as_ref(), &mut submodules, &mut refused);
    if let Some(why) = refused {
        // libgit2 would hold every path too: not handed on to it.
        return Err(Error::Git {
            path: root.clone(),
            message: super::index::refusal_message(file, &why),
        });
    }
    let changes = match read_directly {
        Some(changes) => changes,
        None => {
            submodules.clear();
            let index = match &index_file {
                Some(file) => Index::open(file)
                    .map_err(|e| fail(&format!("cannot read {}", file.display()), e))?,
                None => repo.index().map_err(|e| fail("cannot read the index", e))?,
            };
            changes_from_diff(&repo, &index, head.as_ref(), &mut submodules)
                .map_err(|e| fail("cannot compare the index with HEAD", e))?
        }
    };

    let scanner = Scanner { options, matcher };
    let mut stats = Stats::default();
    let mut scratch = Scratch::default();
    let mut findings = Vec::new();
    for change in changes {
        let shown = String::from_utf8_lossy(&change.path).into_owned();
        if options.allowlist.allows_path(Path::new(&shown)) {
            continue;
        }
        let id = change.id;
        let lines = match change.lines(&repo) {
            Ok(l) => l,
            Err(e) => {
                stats.errors.push(PathNote {
                    path: shown,
                    reason: e.message().to_string(),
                });
                continue;
            }
        };
        if lines.as_ref().is_some_and(|l| l.is_empty()) {
            continue;
        }
        if let Some(found) = scan_blob(
            &repo,
            id,
            &shown,
            &scanner,
            SourceKind::Staged,
            &mut scratch,
            &mut stats,
        ) {
            match lines {
                Some(lines) => findings.extend(keep_added(&found, &lines, &shown)),
                None => findings.extend(found),
            }
        }
    }
    if !submodules.is_empty() {
        stats.notes.push(format!(
            "{} staged submodule change{} not followed",
            submodules.len(),
            if submodules.len() == 1 { "" } else { "s" }
        ));
    }
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(ScanOutcome { findings, stats })
}

/// A staged file that adds content: its blob, and what it replaces.
struct Change {
    path: Vec<u8>,
    id: Oid,
    added: Added,
}

/// Which lines of a staged file are new.
enum Added {
    /// Every line: a new file.
    All,
    /// Those its diff with the old blob adds (`old` is that blob).
    Against(Oid),
    /// Those of a delta of a libgit2 diff, worked out already.
    Lines(Result<Vec<u32>, git2::Error>),
}

impl Change {
    /// The new lines' numbers, or `None` for every line.
    fn lines(self, repo: &Repository) -> Result<Option<Vec<u32>>, git2::Error> {
        match self.added {
            Added::All => Ok(None),
            Added::Lines(lines) => lines.map(Some),
            Added::Against(old) => {
                for id in [old, self.id] {
                    crate::source::loose::check_blob(repo, id)
                        .map_err(|m| git2::Error::from_str(&m))?;
                }
                let (old, new) = (repo.find_blob(old)?, repo.find_blob(self.id)?);
                // As buffers, not blobs: for blobs libgit2 looks up a diff
                // driver in .gitattributes, which reads the whole index
                // again, and force_text leaves a driver nothing to change
                // in which lines are new.
                let patch = Patch::from_buffers(
                    old.content(),
                    None,
                    new.content(),
                    None,
                    Some(&mut diff_options()),
                )?;
                patch_added_lines(&patch).map(Some)
            }
        }
    }
}

/// What the index adds to `head`, read as git reads it (`source::index`):
/// directories whose cache-tree id is HEAD's are skipped unread. `None`
/// when libgit2 should work it out instead: an index this reader does not
/// take or cannot read (but not one it refuses: `refused` says why), a
/// conflict, or a file both deleted and added
/// (perhaps a rename, which libgit2's rename detection follows).
fn changes_from_index(
    repo: &Repository,
    file: &Path,
    head: Option<&Tree>,
    submodules: &mut BTreeSet<Vec<u8>>,
    refused: &mut Option<super::index::Unsupported>,
) -> Option<Vec<Change>> {
    let index = match super::index::read(file).ok()? {
        Ok(index) => index,
        Err(e) if e.is_refusal() => {
            *refused = Some(e);
            return None;
        }
        Err(_) => return None,
    };
    if index.entries.iter().any(|e| e.stage != 0) {
        return None;
    }
    let mut walk = Walk {
        repo,
        index: &index,
        changes: Vec::new(),
        deleted: false,
        submodules,
    };
    walk.dir(0, &index.entries, head, index.tree.as_ref())
        .ok()?;
    let added = walk.changes.iter().any(|c| matches!(c.added, Added::All));
    (!(walk.deleted && added)).then_some(walk.changes)
}

struct Walk<'a> {
    repo: &'a Repository,
    index: &'a super::index::Index,
    changes: Vec<Change>,
    /// Some file or directory of HEAD is not in the index.
    deleted: bool,
    submodules: &'a mut BTreeSet<Vec<u8>>,
}

impl Walk<'_> {
    /// Compare the index entries under one directory (the first `prefix`
    /// bytes of their paths) with its tree in HEAD.
    fn dir(
        &mut self,
        prefix: usize,
        entries: &[super::index::Entry],
        head: Option<&Tree>,
        cache: Option<&super::index::CacheTree>,
    ) -> Result<(), git2::Error> {
        if let (Some(cache), Some(head)) = (cache, head) {
            if cache.id == Some(head.id()) && cache.entries == entries.len() {
                return Ok(());
            }
        }
        let mut matched = 0;
        let mut i = 0;
        while i < entries.len() {
            let path = self.index.path(&entries[i]);
            let rest = &path[prefix..];
            if let Some(slash) = memchr::memchr(b'/', rest) {
                let name = &rest[..slash];
                let inner = prefix + slash + 1;
                let dir = &path[..inner];
                let n = entries[i..]
                    .iter()
                    .take_while(|e| self.index.path(e).starts_with(dir))
                    .count();
                let subtree = match head.and_then(|t| t.get_name_bytes(name)) {
                    Some(e) if e.kind() == Some(ObjectType::Tree) => {
                        matched += 1;
                        Some(self.repo.find_tree(e.id())?)
                    }
                    _ => None,
                };
                let cache = cache.and_then(|c| c.child(name));
                self.dir(inner, &entries[i..i + n], subtree.as_ref(), cache)?;
                i += n;
                continue;
            }
            let entry = &entries[i];
            i += 1;
            let old = head.and_then(|t| t.get_name_bytes(rest));
            let old_kind = old.as_ref().and_then(|o| o.kind());
            if old.is_some() && old_kind != Some(ObjectType::Tree) {
                matched += 1;
            }
            let old_id = old.map(|o| o.id());
            if old_id == Some(entry.id) && old_kind != Some(ObjectType::Tree) {
                continue;
            }
            if entry.mode == 0o160000 {
                self.submodules.insert(path.to_vec());
                continue;
            }
            let added = match (old_kind, old_id) {
                (Some(ObjectType::Blob), Some(old)) => Added::Against(old),
                _ => Added::All,
            };
            self.changes.push(Change {
                path: path.to_vec(),
                id: entry.id,
                added,
            });
        }
        if head.is_some_and(|t| matched < t.len()) {
            self.deleted = true;
        }
        Ok(())
    }
}

/// What the index adds to `head`, by libgit2's diff with rename detection.
fn changes_from_diff(
    repo: &Repository,
    index: &Index,
    head: Option<&Tree>,
    submodules: &mut BTreeSet<Vec<u8>>,
) -> Result<Vec<Change>, git2::Error> {
    let mut diff = repo.diff_tree_to_index(head, Some(index), Some(&mut diff_options()))?;
    find_renames(repo, &mut diff)?;
    let mut changes = Vec::new();
    for idx in 0..diff.deltas().len() {
        let Some((id, path)) = delta_target(&diff, idx, submodules) else {
            continue;
        };
        changes.push(Change {
            path,
            id,
            added: Added::Lines(added_lines(&diff, idx)),
        });
    }
    Ok(changes)
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| path.to_path_buf(), |d| d.join(path))
    }
}
