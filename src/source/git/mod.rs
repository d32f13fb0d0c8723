//! Git repositories: the full history (`--git`, in `history`), commit
//! ranges (`--range`, `--since`, in `range`), and the pieces the staged scan
//! shares with them (the lines a diff adds, in `range`; commit details, in
//! `commit`). This file holds what they all need: opening the repository,
//! a shallow clone's boundary, paths as git stores them, the note on
//! submodules.

mod commit;
mod history;
mod range;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use git2::{Oid, Repository, RepositoryOpenFlags};

use crate::error::{Error, Result};

pub use history::{
    scan_history, scan_repository, scan_repository_known, HistoryScan, Known, Reused, Seen,
};
pub use range::scan_range;
pub(crate) use range::{
    added_lines, delta_target, diff_options, find_renames, keep_added, patch_added_lines, scan_blob,
};

/// Submodule paths named in the note before it says "and N more".
const NOTE_LIST: usize = 5;

/// Open the repository at or above `path` (bare repositories included),
/// refusing one with loose objects libgit2 cannot read safely.
pub(crate) fn open_repo(path: &Path) -> Result<Repository> {
    // libgit2 re-hashes every object it reads to check its id (SHA-1 with
    // collision detection): a fifth of a history scan's time on the
    // benchmark repository, a quarter of a staged scan's on a 50,000-file
    // one. zlib still checks each object's data, and `git cat-file` does
    // not re-hash either. The setting is process-wide; this process reads
    // no repository but the one it was asked to scan.
    git2::opts::strict_hash_verification(false);
    limit_memory();
    let repo = Repository::open_ext(
        path,
        RepositoryOpenFlags::empty(),
        std::iter::empty::<&std::ffi::OsStr>(),
    )
    .map_err(|e| Error::Git {
        path: path.to_path_buf(),
        message: format!("not a git repository: {}", e.message()),
    })?;
    // libgit2 would hang on these (see `loose`): refuse before reading.
    let bad = super::loose::guard_repository(&repo);
    if !bad.is_empty() {
        return Err(Error::Git {
            path: path.to_path_buf(),
            message: super::loose::describe(&bad),
        });
    }
    Ok(repo)
}

/// Is `path` a git directory itself (a bare repository, or a `.git`):
/// `HEAD`, `objects/` and `refs/` side by side?
pub fn is_git_dir(path: &Path) -> bool {
    path.join("HEAD").is_file() && path.join("objects").is_dir() && path.join("refs").is_dir()
}

/// Parsed trees and commits libgit2 may cache, in all (its default is
/// 256 MB).
const OBJECT_CACHE: usize = 32 << 20;
/// Pack windows: mapped in pieces of this size (default 1 GB) ...
const PACK_WINDOW: usize = 32 << 20;
/// ... and at most this much mapped at once, over every handle (default
/// 8 GB).
const PACK_MAPPED: usize = 192 << 20;

/// Bound what libgit2 keeps in memory. With its defaults a history scan
/// held up to 256 MB of cached trees, and each worker's handle (see
/// `history::open_worker`) mapped the whole pack again: 531 MB peak on a
/// 20,000-commit repository with a 106 MB pack, 292 MB with these limits,
/// in the same time (docs/performance.md, "Memory"). The settings are
/// process-wide, and this process reads no repository but the one it scans.
fn limit_memory() {
    // SAFETY: these calls only set libgit2's global limits (git2 has
    // initialised libgit2 in the calls before the raw one), always to the
    // same values, before `open_repo` opens the repository to scan.
    unsafe {
        let _ = git2::opts::set_mwindow_size(PACK_WINDOW);
        let _ = git2::opts::set_mwindow_mapped_limit(PACK_MAPPED);
        libgit2_sys::git_libgit2_opts(
            libgit2_sys::GIT_OPT_SET_CACHE_MAX_SIZE as std::ffi::c_int,
            OBJECT_CACHE as isize,
        );
    }
}

fn git_error(path: &Path, what: &str, e: &git2::Error) -> Error {
    Error::Git {
        path: path.to_path_buf(),
        message: format!("{what}: {}", e.message()),
    }
}

/// A partial clone (`git clone --filter=…`): a promisor remote, whose
/// objects are fetched only when git needs them.
pub(crate) fn is_partial_clone(repo: &Repository) -> bool {
    let promisor = repo.config().is_ok_and(|c| {
        c.get_string("extensions.partialclone").is_ok()
            || c.entries(Some(r"remote\..*\.promisor"))
                .is_ok_and(|mut entries| {
                    while let Some(Ok(e)) = entries.next() {
                        if e.value() == Some("true") {
                            return true;
                        }
                    }
                    false
                })
    });
    promisor
        || std::fs::read_dir(repo.commondir().join("objects/pack")).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "promisor"))
        })
}

/// Commits where a shallow clone's history stops (`.git/shallow`).
pub(crate) fn shallow_commits(repo: &Repository) -> HashSet<Oid> {
    let text = std::fs::read_to_string(repo.commondir().join("shallow")).unwrap_or_default();
    text.lines()
        .filter_map(|l| Oid::from_str(l.trim()).ok())
        .collect()
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

#[cfg(unix)]
pub(crate) fn bytes_to_path(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
pub(crate) fn bytes_to_path(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}
