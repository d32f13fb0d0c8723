//! A guard in front of libgit2 for loose objects cut short.
//!
//! libgit2 1.9 loops forever at 100% CPU when it reads a loose object whose
//! zlib stream ends early (a crash or a full disk during `git add`, a
//! truncated copy): `git_zstream_get_output` keeps calling `inflate`, which
//! has no input left and returns `Z_BUF_ERROR`, treated there as "try
//! again" (libgit2 issue #7342, fixed upstream by PR #7346). The newest
//! libgit2-sys on crates.io, 0.18.8+1.9.7 (also under git2 0.21), still has
//! the loop, and a thread inside libgit2 cannot be interrupted.
//!
//! So every loose object is inflated here, into a small buffer that is
//! thrown away, before libgit2 may read it, and one cut short is an error
//! instead of a scan that never finishes. Checking them all up front
//! opened 20,000 files for a staged scan of a repository with 20,000 loose
//! objects (what `git add` of a large tree leaves), files the scan never
//! reads, and more than doubled its time; so the work is split
//! (docs/performance.md has the figures):
//!
//! - Listing the object directories (names only, no file opened) is cheap.
//! - The blobs the index holds are deferred: they are most of the loose
//!   objects, and libgit2 reads a blob only where this crate asks it to
//!   (reading it to scan, a content diff, rename detection), so each of
//!   those places calls [`check_blob`] first, and only that blob is
//!   inflated.
//! - Every other loose object (commits, trees, tags, blobs no longer in the
//!   index) is checked when the repository is opened: libgit2 reads those
//!   on its own while walking and diffing, where no hook can come first.
//!   A repository with one cut short is refused, naming it.
//!
//! Objects that are corrupt in other ways are left to libgit2, which
//! reports them and goes on. Drop this module once libgit2-sys ships a
//! libgit2 with the fix.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use flate2::{Decompress, FlushDecompress, Status};
use git2::{Oid, Repository};

/// Objects named in the error before it says "and N more".
const NAMED: usize = 5;
/// How deep alternates of alternates are followed (libgit2's own limit).
const ALTERNATE_DEPTH: usize = 5;

/// The deferred blobs of one repository.
struct Guard {
    /// The object directory and its alternates.
    dirs: Vec<PathBuf>,
    /// Loose blobs not checked yet; each is removed when checked.
    deferred: Mutex<HashSet<Oid>>,
}

/// The guards of the repositories this process opened, by git directory.
/// A process scans one repository; the test suite's library tests, more.
static GUARDS: Mutex<Vec<(PathBuf, Arc<Guard>)>> = Mutex::new(Vec::new());

/// Check the loose objects of `repo` that libgit2 may read on its own, and
/// defer the blobs its index holds to [`check_blob`]. Returns the objects
/// cut short, as `xx/yyyy…` paths relative to their object directory.
pub(crate) fn guard_repository(repo: &Repository) -> Vec<String> {
    let mut dirs = Vec::new();
    object_dirs(&repo.commondir().join("objects"), 0, &mut dirs);
    // The index is read only if there are loose objects (a packed
    // repository has none), and read directly: libgit2's reader costs a
    // pre-commit hook milliseconds on a large index.
    let mut staged: Option<HashSet<Oid>> = None;
    let mut deferred = HashSet::new();
    let mut bad = Vec::new();
    let mut buffers = Buffers::default();
    for_each_loose(&dirs, |prefix, rest, path| {
        let staged = staged.get_or_insert_with(|| index_ids(repo));
        let id = Oid::from_str(&format!("{prefix}{rest}")).ok();
        if let Some(id) = id.filter(|id| staged.contains(id)) {
            deferred.insert(id);
        } else if is_cut_short(path, &mut buffers) {
            bad.push(format!("{prefix}/{rest}"));
        }
    });
    bad.sort();
    let guard = Arc::new(Guard {
        dirs,
        deferred: Mutex::new(deferred),
    });
    let key = repo.commondir().to_path_buf();
    let mut guards = GUARDS.lock().unwrap_or_else(|p| p.into_inner());
    guards.retain(|(k, _)| *k != key);
    guards.push((key, guard));
    bad
}

/// The blob ids the index of `repo` holds (none for a bare repository).
fn index_ids(repo: &Repository) -> HashSet<Oid> {
    if repo.is_bare() {
        return HashSet::new();
    }
    match super::index::read(&repo.path().join("index")) {
        Ok(Ok(index)) => index.entries.iter().map(|e| e.id).collect(),
        // Refused (libgit2 would hold every path): none deferred, every
        // loose object is checked now.
        Ok(Err(e)) if e.is_refusal() => HashSet::new(),
        _ => match repo.index() {
            Ok(index) => index.iter().map(|e| e.id).collect(),
            Err(_) => HashSet::new(),
        },
    }
}

/// Before libgit2 reads the blob `oid` of `repo`: if it is a loose blob
/// whose check was deferred, check it now. The error names the object.
pub(crate) fn check_blob(repo: &Repository, oid: Oid) -> Result<(), String> {
    let guard = {
        let guards = GUARDS.lock().unwrap_or_else(|p| p.into_inner());
        let here = repo.commondir();
        let found = guards
            .iter()
            .find(|(k, _)| k.as_path() == here)
            .or_else(|| {
                // The same directory spelt differently (a worker's handle).
                let here = here.canonicalize().ok()?;
                guards
                    .iter()
                    .find(|(k, _)| k.canonicalize().is_ok_and(|k| k == here))
            });
        match found {
            Some((_, g)) => Arc::clone(g),
            // Not opened through `open_repo`: nothing was deferred.
            None => return Ok(()),
        }
    };
    let due = guard
        .deferred
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&oid);
    if !due {
        return Ok(());
    }
    let hex = oid.to_string();
    let (prefix, rest) = hex.split_at(2);
    let mut buffers = Buffers::default();
    for dir in &guard.dirs {
        let path = dir.join(prefix).join(rest);
        if path.is_file() && is_cut_short(&path, &mut buffers) {
            // Still due: a later read of it must fail the same way.
            guard
                .deferred
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(oid);
            return Err(describe(&[format!("{prefix}/{rest}")]));
        }
    }
    Ok(())
}

/// [`check_blob`] for both sides of every delta of `diff`, before libgit2
/// reads them (rename detection, patches).
pub(crate) fn check_diff_blobs(repo: &Repository, diff: &git2::Diff) -> Result<(), git2::Error> {
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if !file.id().is_zero() {
                check_blob(repo, file.id()).map_err(|m| git2::Error::from_str(&m))?;
            }
        }
    }
    Ok(())
}

/// The loose objects under `objects` (an object directory, its alternates
/// not followed) whose zlib stream is cut short.
#[cfg(test)]
fn truncated_loose_objects(objects: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let mut buffers = Buffers::default();
    for_each_loose(&[objects.to_path_buf()], |prefix, rest, path| {
        if is_cut_short(path, &mut buffers) {
            bad.push(format!("{prefix}/{rest}"));
        }
    });
    bad.sort();
    bad
}

/// Call `visit(prefix, rest, path)` for every loose object file in `dirs`:
/// directory listings only, no file opened.
fn for_each_loose(dirs: &[PathBuf], mut visit: impl FnMut(&str, &str, &Path)) {
    for dir in dirs {
        let Ok(fans) = std::fs::read_dir(dir) else {
            continue;
        };
        for fan in fans.flatten() {
            let name = fan.file_name();
            let Some(prefix) = name.to_str().filter(|n| is_hex(n, 2)) else {
                continue;
            };
            let Ok(files) = std::fs::read_dir(fan.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name();
                let Some(rest) = name.to_str().filter(|n| is_hex(n, 38) || is_hex(n, 62)) else {
                    continue;
                };
                visit(prefix, rest, &file.path());
            }
        }
    }
}

/// Scratch space for [`is_cut_short`].
struct Buffers {
    input: Vec<u8>,
    output: Vec<u8>,
}

impl Default for Buffers {
    fn default() -> Buffers {
        Buffers {
            input: vec![0; 64 * 1024],
            output: vec![0; 64 * 1024],
        }
    }
}

/// The message for a repository with objects cut short.
pub(crate) fn describe(bad: &[String]) -> String {
    let mut named = bad[..bad.len().min(NAMED)].join(", ");
    if bad.len() > NAMED {
        named.push_str(&format!(" and {} more", bad.len() - NAMED));
    }
    format!(
        "loose object{} cut short (truncated zlib stream): {named}; libgit2 would \
         never finish reading {}. `git fsck` lists the damage; restore the objects \
         from another clone or remove them",
        if bad.len() == 1 { "" } else { "s" },
        if bad.len() == 1 { "it" } else { "them" },
    )
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `objects` and its alternates, recursively, each once.
fn object_dirs(objects: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let dir = objects
        .canonicalize()
        .unwrap_or_else(|_| objects.to_path_buf());
    if out.contains(&dir) {
        return;
    }
    out.push(dir.clone());
    if depth >= ALTERNATE_DEPTH {
        return;
    }
    let Ok(text) = std::fs::read_to_string(dir.join("info").join("alternates")) else {
        return;
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        object_dirs(&dir.join(line), depth + 1, out);
    }
}

/// Does the zlib stream in `path` end before its end marker? A file that
/// cannot be read, is not zlib (an old "packlike" loose object) or holds
/// bad data is not: libgit2 reports those and goes on.
fn is_cut_short(path: &Path, buffers: &mut Buffers) -> bool {
    let Buffers { input, output } = buffers;
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let mut z = Decompress::new(true);
    let mut first = true;
    loop {
        let n = match file.read(input) {
            Ok(n) => n,
            Err(_) => return false,
        };
        if n == 0 {
            // The input ended and the stream did not (an empty file is
            // refused by libgit2 before it inflates anything).
            return !first;
        }
        if first {
            first = false;
            if !is_zlib_header(&input[..n]) {
                return false;
            }
        }
        let mut chunk = &input[..n];
        while !chunk.is_empty() {
            let (in_before, out_before) = (z.total_in(), z.total_out());
            match z.decompress(chunk, output, FlushDecompress::None) {
                Ok(Status::StreamEnd) => return false,
                Ok(_) => {}
                Err(_) => return false,
            }
            let used = (z.total_in() - in_before) as usize;
            if used == 0 && z.total_out() == out_before {
                return false; // no progress: not the loop this guards against
            }
            chunk = &chunk[used..];
        }
    }
}

/// libgit2's test for a zlib loose object (`is_zlib_compressed_data`).
fn is_zlib_header(data: &[u8]) -> bool {
    match data {
        [a, b, ..] => (a & 0x8F) == 0x08 && ((u16::from(*a) << 8) | u16::from(*b)) % 31 == 0,
        _ => true, // one byte: too short for anything, and cut short
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn loose(dir: &Path, name: &str, data: &[u8]) {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).unwrap();
        let bytes = z.finish().unwrap();
        std::fs::create_dir_all(dir.join(&name[..2])).unwrap();
        std::fs::write(dir.join(&name[..2]).join(&name[2..]), bytes).unwrap();
    }

    #[test]
    fn finds_streams_cut_short_only() {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path();
        let whole = "1".repeat(40);
        let cut = "2".repeat(40);
        let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        loose(objects, &whole, &big);
        loose(objects, &cut, &big);
        let path = objects.join(&cut[..2]).join(&cut[2..]);
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len / 2).unwrap();
        std::fs::write(objects.join("README"), "not an object").unwrap();
        assert_eq!(
            truncated_loose_objects(objects),
            vec![format!("{}/{}", &cut[..2], &cut[2..])]
        );
    }
}
