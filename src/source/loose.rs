//! A guard in front of libgit2 for loose objects cut short.
//!
//! libgit2 1.9 loops forever at 100% CPU when it reads a loose object whose
//! zlib stream ends early (a crash or a full disk during `git add`, a
//! truncated copy): `git_zstream_get_output` keeps calling `inflate`, which
//! has no input left and returns `Z_BUF_ERROR`, treated there as "try
//! again" (libgit2 issue #7342, fixed upstream by PR #7346). The newest
//! libgit2-sys on crates.io, 0.18.8+1.9.7, still has the loop, and a thread
//! inside libgit2 cannot be interrupted.
//!
//! So before a git scan reads anything, every loose object of the
//! repository (and of its alternates) is inflated here, into a small buffer
//! that is thrown away, to check that its stream ends. A repository with
//! one cut short is refused with an error naming the objects, instead of a
//! scan that never finishes. Loose objects are few (`git gc` packs them
//! once there are 6,700); inflating costs about what libgit2 spends reading
//! them. Objects that are corrupt in other ways are left to libgit2, which
//! reports them and goes on. Drop this module once libgit2-sys ships a
//! libgit2 with the fix.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::{Decompress, FlushDecompress, Status};

/// Objects named in the error before it says "and N more".
const NAMED: usize = 5;
/// How deep alternates of alternates are followed (libgit2's own limit).
const ALTERNATE_DEPTH: usize = 5;

/// The loose objects under `objects` (the repository's object directory)
/// and its alternates whose zlib stream is cut short, as `xx/yyyy…` paths
/// relative to their object directory.
pub(crate) fn truncated_loose_objects(objects: &Path) -> Vec<String> {
    let mut dirs = Vec::new();
    object_dirs(objects, 0, &mut dirs);
    let mut bad = Vec::new();
    let mut input = vec![0u8; 64 * 1024];
    let mut output = vec![0u8; 64 * 1024];
    for dir in &dirs {
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
                if is_cut_short(&file.path(), &mut input, &mut output) {
                    bad.push(format!("{prefix}/{rest}"));
                }
            }
        }
    }
    bad.sort();
    bad
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
fn is_cut_short(path: &Path, input: &mut [u8], output: &mut [u8]) -> bool {
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
