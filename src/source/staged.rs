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

use git2::{ErrorCode, Index};

use super::git::{
    added_lines, delta_target, diff_options, find_renames, keep_added, open_repo, scan_blob,
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
    let index = match std::env::var_os("GIT_INDEX_FILE") {
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
            Index::open(&file).map_err(|e| fail(&format!("cannot read {}", file.display()), e))?
        }
        None => repo.index().map_err(|e| fail("cannot read the index", e))?,
    };
    let head = match repo.head() {
        Ok(h) => Some(h.peel_to_tree().map_err(|e| fail("cannot read HEAD", e))?),
        Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => None,
        Err(e) => return Err(fail("cannot read HEAD", e)),
    };
    let mut diff = repo
        .diff_tree_to_index(head.as_ref(), Some(&index), Some(&mut diff_options()))
        .map_err(|e| fail("cannot compare the index with HEAD", e))?;
    find_renames(&repo, &mut diff).map_err(|e| fail("cannot compare the index with HEAD", e))?;

    let scanner = Scanner { options, matcher };
    let mut stats = Stats::default();
    let mut scratch = Scratch::default();
    let mut submodules = BTreeSet::new();
    let mut findings = Vec::new();
    for idx in 0..diff.deltas().len() {
        let Some((oid, path)) = delta_target(&diff, idx, &mut submodules) else {
            continue;
        };
        let shown = String::from_utf8_lossy(&path).into_owned();
        if options.allowlist.allows_path(Path::new(&shown)) {
            continue;
        }
        let lines = match added_lines(&diff, idx) {
            Ok(l) => l,
            Err(e) => {
                stats.errors.push(PathNote {
                    path: shown,
                    reason: e.message().to_string(),
                });
                continue;
            }
        };
        if lines.is_empty() {
            continue;
        }
        if let Some(found) = scan_blob(
            &repo,
            oid,
            &shown,
            &scanner,
            SourceKind::Staged,
            &mut scratch,
            &mut stats,
        ) {
            findings.extend(keep_added(&found, &lines, &shown));
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

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| path.to_path_buf(), |d| d.join(path))
    }
}
