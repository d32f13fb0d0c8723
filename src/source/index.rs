//! Git's index file, read directly: its entries (path, mode, blob id,
//! stage) and its cache-tree extension (the tree id of each directory whose
//! entries have not changed since it was last written).
//!
//! libgit2 reads an index whole, checks its checksum and builds a hash map
//! of every path, and its tree-to-index diff walks every entry and every
//! tree of HEAD: on git/git (4,800 files) that is about 10 ms, most of a
//! pre-commit hook's budget, where `git diff --cached` takes 5 ms because
//! it skips every directory whose cache-tree id is HEAD's. This reader does
//! what git does: entries are read without a map and without the stat data
//! being looked at, and the staged scan (`staged.rs`) compares with HEAD
//! only the directories the cache tree does not vouch for. Like git, it
//! does not verify the file's trailing checksum on an ordinary read.
//!
//! Only what this crate can read exactly is read: index versions 2 to 4
//! with SHA-1 ids. What it holds is bounded by the file: a version-4 path
//! is rebuilt from the previous one, so a few bytes in the file can stand
//! for a long path; a path longer than [`PATH_MAX`], or paths adding up to
//! more than [`paths_max`] of the file's size, are refused
//! ([`Unsupported::is_refusal`]): libgit2 would rebuild and hold every
//! path too, so such a file is not handed on to it but reported as an
//! error naming it (a damaged or crafted index). A split index (`link`), a sparse index (`sdir`) or an
//! unknown required extension is [`Unsupported`], and the caller falls
//! back to libgit2, which reads those (or says why it cannot).

use std::path::Path;

use git2::Oid;

/// An index this reader does not take; the reason, for tests and notes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unsupported(pub &'static str);

/// A version-4 path past [`PATH_MAX`].
const TOO_LONG: Unsupported = Unsupported("a path longer than 4096 bytes");
/// Version-4 paths past [`paths_max`].
const TOO_MUCH: Unsupported = Unsupported("paths that add up to far more than the file's size");

impl Unsupported {
    /// The file is past a bound on what it may make a reader hold: no one
    /// should read it (libgit2 would hold every path as well).
    pub(crate) fn is_refusal(&self) -> bool {
        *self == TOO_LONG || *self == TOO_MUCH
    }
}

/// Why the index file at `path` must not be read at all, if it must not
/// (see [`Unsupported::is_refusal`]), as a sentence naming the file.
pub(crate) fn refusal(path: &Path) -> Option<String> {
    match read(path) {
        Ok(Err(e)) if e.is_refusal() => Some(refusal_message(path, &e)),
        _ => None,
    }
}

/// The error for an index refused for `why`.
pub(crate) fn refusal_message(path: &Path, why: &Unsupported) -> String {
    format!(
        "the index {} holds {} (a damaged or crafted index); it was not read",
        path.display(),
        why.0
    )
}

/// One index entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    /// Where the path is in [`Index::paths`].
    path: (u32, u32),
    pub mode: u32,
    pub id: Oid,
    /// 0, or 1-3 for the sides of a conflict.
    pub stage: u8,
}

/// A directory of the cache tree.
#[derive(Debug, Default)]
pub(crate) struct CacheTree {
    /// Its tree id, when no entry under it changed since it was written.
    pub id: Option<Oid>,
    /// How many index entries it covers (when valid).
    pub entries: usize,
    /// Subdirectories, by name.
    pub children: Vec<(Vec<u8>, CacheTree)>,
}

impl CacheTree {
    pub(crate) fn child(&self, name: &[u8]) -> Option<&CacheTree> {
        self.children
            .iter()
            .find(|(n, _)| n.as_slice() == name)
            .map(|(_, c)| c)
    }
}

/// An index file, read.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Sorted by path, then stage, as git writes them.
    pub entries: Vec<Entry>,
    paths: Vec<u8>,
    /// The cache tree, when the file has one.
    pub tree: Option<CacheTree>,
}

impl Index {
    pub(crate) fn path(&self, entry: &Entry) -> &[u8] {
        &self.paths[entry.path.0 as usize..entry.path.1 as usize]
    }
}

/// Read the index file at `path`. A missing file is an empty index, as for
/// git; an unreadable one is an error.
pub(crate) fn read(path: &Path) -> std::io::Result<Result<Index, Unsupported>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(parse(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ok(Index::default())),
        Err(e) => Err(e),
    }
}

/// Bytes of an entry before its path (v2): ctime, mtime, dev, ino, mode,
/// uid, gid, size (4 bytes each), the id (20) and the flags (2).
const FIXED: usize = 62;
const ID: usize = 20;
const EXTENDED: u16 = 0x4000;
const NAME_MASK: u16 = 0x0fff;
/// The longest path read (git's own paths are bounded by the system's
/// PATH_MAX, 4096 on Linux).
pub(crate) const PATH_MAX: usize = 4096;

/// The most path bytes an index of `size` bytes may rebuild: a version-4
/// entry is at least 64 bytes, and real indexes hold paths a few times
/// their file size at most (a deep tree's long paths share prefixes).
fn paths_max(size: usize) -> usize {
    size.saturating_mul(8).saturating_add(1 << 20)
}

/// Parse an index file's bytes.
pub(crate) fn parse(bytes: &[u8]) -> Result<Index, Unsupported> {
    let bad = Unsupported("not an index file this reader knows");
    let mut r = Reader { bytes, at: 0 };
    if r.take(4).ok_or(Unsupported("too short"))? != b"DIRC" {
        return Err(bad);
    }
    let version = r.u32().ok_or(Unsupported("too short"))?;
    if !(2..=4).contains(&version) {
        return Err(Unsupported("an index version other than 2, 3 or 4"));
    }
    let count = r.u32().ok_or(Unsupported("too short"))? as usize;
    // The trailing checksum is not part of the content.
    let end = bytes
        .len()
        .checked_sub(ID)
        .ok_or(Unsupported("too short"))?;
    let mut index = Index {
        entries: Vec::with_capacity(count.min(bytes.len() / FIXED)),
        paths: Vec::with_capacity(bytes.len()),
        tree: None,
    };
    let paths_max = paths_max(bytes.len());
    let mut previous: (usize, usize) = (0, 0);
    for _ in 0..count {
        let start = r.at;
        let fixed = r.take(FIXED).ok_or(Unsupported("an entry is cut short"))?;
        let mode = u32::from_be_bytes(fixed[24..28].try_into().expect("4 bytes"));
        let id = Oid::from_bytes(&fixed[40..60]).map_err(|_| bad_id())?;
        let flags = u16::from_be_bytes([fixed[60], fixed[61]]);
        let stage = ((flags >> 12) & 3) as u8;
        if flags & EXTENDED != 0 {
            if version < 3 {
                return Err(Unsupported("an extended entry in a version 2 index"));
            }
            r.take(2).ok_or(Unsupported("an entry is cut short"))?;
        }
        let path_start = index.paths.len();
        if version == 4 {
            // The previous path minus N bytes, then this entry's suffix.
            let strip = r.varint().ok_or(Unsupported("an entry is cut short"))?;
            let (ps, pe) = previous;
            let keep = (pe - ps)
                .checked_sub(strip)
                .ok_or(Unsupported("a path strips more than the previous path"))?;
            let suffix = r.until_nul().ok_or(Unsupported("an entry is cut short"))?;
            if keep.saturating_add(suffix.len()) > PATH_MAX {
                return Err(TOO_LONG);
            }
            if path_start.saturating_add(keep + suffix.len()) > paths_max {
                return Err(TOO_MUCH);
            }
            index.paths.extend_from_within(ps..ps + keep);
            index.paths.extend_from_slice(suffix);
        } else {
            let name_len = usize::from(flags & NAME_MASK);
            let name = r.until_nul().ok_or(Unsupported("an entry is cut short"))?;
            if name_len != NAME_MASK as usize && name.len() != name_len {
                return Err(Unsupported("a path's length disagrees with its entry"));
            }
            index.paths.extend_from_slice(name);
            // NUL padding to a multiple of 8 bytes (the one read included).
            let len = r.at - start;
            r.take((8 - len % 8) % 8)
                .ok_or(Unsupported("an entry is cut short"))?;
        }
        if mode & 0o170000 == 0o040000 {
            return Err(Unsupported("a sparse index (directory entries)"));
        }
        let path_end = index.paths.len();
        previous = (path_start, path_end);
        let offset = |at: usize| u32::try_from(at).map_err(|_| Unsupported("paths over 4 GiB"));
        index.entries.push(Entry {
            path: (offset(path_start)?, offset(path_end)?),
            mode,
            id,
            stage,
        });
    }
    // Extensions: a signature, a size and that many bytes each.
    while r.at < end {
        let signature = r.take(4).ok_or(Unsupported("an extension is cut short"))?;
        let size = r.u32().ok_or(Unsupported("an extension is cut short"))? as usize;
        let data = r
            .take(size)
            .filter(|_| r.at <= end)
            .ok_or(Unsupported("an extension is cut short"))?;
        match signature {
            b"TREE" => index.tree = parse_tree(data),
            b"link" => return Err(Unsupported("a split index")),
            b"sdir" => return Err(Unsupported("a sparse index")),
            // Optional extensions start with a capital letter.
            s if s[0].is_ascii_uppercase() => {}
            _ => return Err(Unsupported("an unknown required extension")),
        }
    }
    if r.at != end {
        return Err(Unsupported("the entries run into the checksum"));
    }
    Ok(index)
}

fn bad_id() -> Unsupported {
    Unsupported("an object id that is not SHA-1")
}

/// The cache tree: pre-order, each directory as `name NUL count SP
/// subtrees LF [id]` (no id when count is -1, invalid). A malformed one is
/// ignored: the staged scan then compares every directory.
fn parse_tree(data: &[u8]) -> Option<CacheTree> {
    let mut r = Reader { bytes: data, at: 0 };
    let (_, root) = tree_node(&mut r, 0)?;
    (r.at == data.len()).then_some(root)
}

fn tree_node(r: &mut Reader, depth: usize) -> Option<(Vec<u8>, CacheTree)> {
    if depth > 4096 {
        return None;
    }
    let name = r.until_nul()?.to_vec();
    let line = r.until(b'\n')?;
    let line = std::str::from_utf8(line).ok()?;
    let (count, subtrees) = line.split_once(' ')?;
    let count: i64 = count.parse().ok()?;
    let subtrees: usize = subtrees.parse().ok()?;
    let id = if count >= 0 {
        Some(Oid::from_bytes(r.take(ID)?).ok()?)
    } else {
        None
    };
    let mut node = CacheTree {
        id,
        entries: usize::try_from(count).unwrap_or(0),
        children: Vec::with_capacity(subtrees.min(r.bytes.len())),
    };
    for _ in 0..subtrees {
        node.children.push(tree_node(r, depth + 1)?);
    }
    Some((name, node))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    /// Bytes up to `byte`, which is consumed and not returned.
    fn until(&mut self, byte: u8) -> Option<&'a [u8]> {
        let rest = self.bytes.get(self.at..)?;
        let n = memchr::memchr(byte, rest)?;
        self.at += n + 1;
        Some(&rest[..n])
    }

    fn until_nul(&mut self) -> Option<&'a [u8]> {
        self.until(0)
    }

    /// Git's offset varint (as in packs' OFS_DELTA).
    fn varint(&mut self) -> Option<usize> {
        let mut byte = *self.take(1)?.first()?;
        let mut value = usize::from(byte & 0x7f);
        while byte & 0x80 != 0 {
            byte = *self.take(1)?.first()?;
            value = value
                .checked_add(1)?
                .checked_mul(128)?
                .checked_add(usize::from(byte & 0x7f))?;
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .envs([
                ("GIT_AUTHOR_NAME", "t"),
                ("GIT_AUTHOR_EMAIL", "t@t"),
                ("GIT_COMMITTER_NAME", "t"),
                ("GIT_COMMITTER_EMAIL", "t@t"),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    /// What `git ls-files -s` says: mode, id, stage and path per entry.
    fn ls_files(dir: &Path) -> String {
        let out = Command::new("git")
            .args(["-c", "core.quotePath=false", "ls-files", "-s"])
            .current_dir(dir)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    fn ours(dir: &Path) -> String {
        let index = read(&dir.join(".git/index")).unwrap().unwrap();
        index
            .entries
            .iter()
            .map(|e| {
                format!(
                    "{:06o} {} {}\t{}\n",
                    e.mode,
                    e.id,
                    e.stage,
                    String::from_utf8_lossy(index.path(e))
                )
            })
            .collect()
    }

    fn repo_with_files(version: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q"]);
        git(d, &["config", "index.version", version]);
        for (path, text) in [
            ("a.txt", "a"),
            ("a/b/c.txt", "c"),
            ("a/b/d.txt", "d"),
            ("a-b", "x"),
            (
                "z/very/long/directory/name/for/prefix/compression/one.txt",
                "1",
            ),
            (
                "z/very/long/directory/name/for/prefix/compression/two.txt",
                "2",
            ),
            ("names/with spaces and ünïcode.txt", "u"),
        ] {
            let p = d.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        std::fs::write(d.join("n".repeat(250)), "long name").unwrap();
        git(d, &["add", "-A"]);
        git(d, &["commit", "-qm", "one"]);
        dir
    }

    #[test]
    fn entries_read_as_git_lists_them_in_every_version() {
        for version in ["2", "3", "4"] {
            let dir = repo_with_files(version);
            let d = dir.path();
            let written = || std::fs::read(d.join(".git/index")).unwrap()[7];
            // Git writes version 3 only when an entry needs extended flags.
            let v: u8 = version.parse().unwrap();
            assert_eq!(written(), if v == 3 { 2 } else { v }, "index version");
            assert_eq!(ours(d), ls_files(d), "version {version}");
            // An intent-to-add entry has extended flags (version 3 at least).
            std::fs::write(d.join("later.txt"), "later").unwrap();
            git(d, &["add", "-N", "later.txt"]);
            assert_eq!(written(), v.max(3), "index version");
            assert!(ours(d).contains("\tlater.txt\n"));
            assert_eq!(ours(d), ls_files(d), "version {version} and -N");
        }
    }

    #[test]
    fn the_cache_tree_vouches_for_unchanged_directories_only() {
        let dir = repo_with_files("2");
        let d = dir.path();
        // After a commit the cache tree is whole: the root's id is HEAD's.
        let head = Command::new("git")
            .args(["rev-parse", "HEAD^{tree}", "HEAD:a"])
            .current_dir(d)
            .output()
            .unwrap();
        let head = String::from_utf8(head.stdout).unwrap();
        let mut ids = head.lines();
        let index = read(&d.join(".git/index")).unwrap().unwrap();
        let tree = index.tree.as_ref().expect("a cache tree");
        assert_eq!(tree.id.unwrap().to_string(), ids.next().unwrap());
        assert_eq!(tree.entries, index.entries.len());
        let a = tree.child(b"a").unwrap();
        assert_eq!(a.id.unwrap().to_string(), ids.next().unwrap());
        // Staging a change invalidates its directories, not the others.
        std::fs::write(d.join("a/b/c.txt"), "changed").unwrap();
        git(d, &["add", "a/b/c.txt"]);
        let index = read(&d.join(".git/index")).unwrap().unwrap();
        let tree = index.tree.as_ref().unwrap();
        assert!(tree.id.is_none());
        let a = tree.child(b"a").unwrap();
        assert!(a.id.is_none());
        assert!(a.child(b"b").unwrap().id.is_none());
        assert!(tree.child(b"z").unwrap().id.is_some());
    }

    #[test]
    fn conflicts_carry_their_stages() {
        let dir = repo_with_files("2");
        let d = dir.path();
        let commit = |m: &str| git(d, &["commit", "-qam", m]);
        git(d, &["checkout", "-qb", "side"]);
        std::fs::write(d.join("a.txt"), "side").unwrap();
        commit("side");
        git(d, &["checkout", "-q", "-"]);
        std::fs::write(d.join("a.txt"), "main").unwrap();
        commit("main");
        let _ = Command::new("git")
            .args(["merge", "-q", "side"])
            .current_dir(d)
            .output();
        let index = read(&d.join(".git/index")).unwrap().unwrap();
        let stages: Vec<u8> = index
            .entries
            .iter()
            .filter(|e| index.path(e) == b"a.txt")
            .map(|e| e.stage)
            .collect();
        assert_eq!(stages, [1, 2, 3]);
        assert_eq!(ours(d), ls_files(d));
    }

    /// A version-4 index of one `len`-byte path repeated `count` times.
    fn repeating_v4(len: usize, count: u32) -> Vec<u8> {
        let mut b = b"DIRC".to_vec();
        b.extend(4u32.to_be_bytes());
        b.extend(count.to_be_bytes());
        for i in 0..count {
            b.extend([0u8; 40]);
            b.extend([0x11; 20]);
            b.extend(0xfffu16.to_be_bytes());
            b.push(0);
            if i == 0 {
                b.extend(vec![b'a'; len]);
            }
            b.push(0);
        }
        b.extend([0u8; 20]);
        b
    }

    #[test]
    fn version_4_paths_are_bounded_by_the_file() {
        // 2,000 entries of 64 bytes that each rebuild a 3,000-byte path:
        // 6 MB of paths from a 128 KB file.
        let err = parse(&repeating_v4(3000, 2000)).unwrap_err();
        assert_eq!(err, TOO_MUCH);
        assert!(err.is_refusal());
        let err = parse(&repeating_v4(PATH_MAX + 1, 2)).unwrap_err();
        assert_eq!(err, TOO_LONG);
        assert!(err.is_refusal());
        assert!(!Unsupported("a split index").is_refusal());
        // A few repeats are an ordinary (if odd) index.
        let index = parse(&repeating_v4(PATH_MAX, 3)).unwrap();
        assert_eq!(index.entries.len(), 3);
        assert!(index
            .entries
            .iter()
            .all(|e| index.path(e).len() == PATH_MAX));
    }

    #[test]
    fn split_and_damaged_indexes_are_not_read() {
        let dir = repo_with_files("2");
        let d = dir.path();
        let whole = std::fs::read(d.join(".git/index")).unwrap();
        for cut in [0, 3, 12, 40, whole.len() / 2, whole.len() - 21] {
            assert!(parse(&whole[..cut]).is_err(), "cut at {cut}");
        }
        git(d, &["update-index", "--split-index"]);
        assert_eq!(
            parse(&std::fs::read(d.join(".git/index")).unwrap()).unwrap_err(),
            Unsupported("a split index")
        );
        // A missing index is an empty one, as for git.
        let none = read(&d.join("no-such-index")).unwrap().unwrap();
        assert!(none.entries.is_empty() && none.tree.is_none());
    }
}
