//! Hardening of what leakhound reads as data (issue 25): archives (tar
//! long names, overlapping and unreadable zip entries), datastores (their
//! schema), the git index (version-4 paths), deep trees in history, and the
//! HTML report's Content-Security-Policy. Each test is a reproduction from
//! shared/security-repros (14, 18-21, 24) made small enough to run in
//! seconds, and each failed before its fix.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::gitutil::{self, kunavo_key, Repo};
use crate::util::{kunavo, tempdir, write};

/// What a run that finished in time gave.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// Run `cmd`, killing it and failing the test if it has not finished
/// within `limit`.
fn run_within(cmd: &mut Command, limit: Duration) -> Finished {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("binary runs");
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        out.read_to_end(&mut s).ok();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        err.read_to_end(&mut s).ok();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("still running after {limit:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        code: status.code(),
        stdout: String::from_utf8_lossy(&reader.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    }
}

/// The leakhound binary under a shell's address-space limit of `mib` MiB,
/// so that a run needing more fails instead of passing slowly.
fn leakhound_limited(mib: u64) -> Command {
    let mut c = Command::new("sh");
    gitutil::isolate(&mut c);
    c.env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", "/nonexistent/leakhound-test-config")
        .arg("-c")
        .arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", mib * 1024))
        .arg(env!("CARGO_BIN_EXE_leakhound"));
    c
}

fn skipped(report: &Value) -> Vec<(String, String)> {
    report["stats"]["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|n| {
            (
                n["path"].as_str().unwrap().to_string(),
                n["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

// ------------------------------------------------------------ tar names

/// A tar header block (ustar, GNU magic) for `name` of `size` bytes.
fn tar_header(name: &[u8], size: u64, kind: u8) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = kind;
    h[257..265].copy_from_slice(b"ustar  \0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A tar member: header, data, padding.
fn tar_member(name: &[u8], data: &[u8], kind: u8) -> Vec<u8> {
    let mut m = tar_header(name, data.len() as u64, kind);
    m.extend_from_slice(data);
    m.resize(m.len() + (512 - data.len() % 512) % 512, 0);
    m
}

/// One pax record, `LEN key=value\n`, its length counting itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = [key.as_bytes(), b"=", value, b"\n"].concat();
    let mut len = body.len() + 2;
    while format!("{len} ").len() + body.len() != len {
        len += 1;
    }
    [format!("{len} ").into_bytes(), body].concat()
}

/// Repro 14: a GNU long name of megabytes was read whole and copied into
/// every finding of its entry. Now a name is cut at 4096 bytes before it
/// is read, the cut is listed, and a pax path (or a pax header too large
/// to read) is held to the same bounds; the entries are still scanned.
#[test]
fn tar_long_names_are_cut_before_they_are_read() {
    let dir = tempdir();
    let d = dir.path();
    let keys: Vec<String> = (0..3).map(|i| kunavo(&format!("tar-name-{i}"))).collect();
    let line = |k: &str| format!("KUNAVO_API_KEY=\"{k}\"\n").into_bytes();
    let long_name: Vec<u8> = b"d/"
        .iter()
        .copied()
        .chain((0..(3 << 20)).map(|i| b'a' + (i % 26) as u8))
        .collect();
    let mut tar = tar_member(b"././@LongLink", &long_name, b'L');
    tar.extend(tar_member(b"short.env", &line(&keys[0]), b'0'));
    let pax_path: Vec<u8> = vec![b'p'; 10_000];
    tar.extend(tar_member(
        b"PaxHeaders/x",
        &pax_record("path", &pax_path),
        b'x',
    ));
    tar.extend(tar_member(b"pax.env", &line(&keys[1]), b'0'));
    let huge_pax = pax_record("comment", &vec![b'c'; 100 << 10]);
    tar.extend(tar_member(b"PaxHeaders/y", &huge_pax, b'x'));
    tar.extend(tar_member(b"plain.env", &line(&keys[2]), b'0'));
    tar.extend([0u8; 1024]);
    write(d, "names.tar", &tar);
    let r = run_within(
        leakhound_limited(1024).current_dir(d).args([
            "scan",
            "names.tar",
            "-f",
            "json",
            "--show-secrets",
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let report = r.json();
    let findings = report["findings"].as_array().unwrap();
    let mut found: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["secret"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(
        found.iter().map(|f| f.0.clone()).collect::<Vec<_>>(),
        expected
    );
    for (_, path) in &found {
        assert!(
            path.len() <= 4096 + "names.tar!".len(),
            "a path of {} bytes",
            path.len()
        );
    }
    let long = found.iter().find(|f| f.0 == keys[0]).unwrap();
    assert_eq!(
        long.1,
        format!("names.tar!{}", String::from_utf8_lossy(&long_name[..4096]))
    );
    let pax = found.iter().find(|f| f.0 == keys[1]).unwrap();
    assert_eq!(pax.1, format!("names.tar!{}", "p".repeat(4096)));
    let plain = found.iter().find(|f| f.0 == keys[2]).unwrap();
    assert_eq!(plain.1, "names.tar!plain.env");
    let notes = skipped(&report);
    let cut = notes
        .iter()
        .filter(|(_, why)| why.contains("longer than 4096 bytes"))
        .count();
    assert_eq!(cut, 2, "{notes:#?}");
    assert!(
        notes
            .iter()
            .any(|(p, why)| p == "names.tar" && why.contains("pax extended header larger than")),
        "{notes:#?}"
    );
    // The report holds each name once or twice, not megabytes.
    assert!(
        r.stdout.len() < 64 << 10,
        "report of {} bytes",
        r.stdout.len()
    );
}

// ------------------------------------------------------------ zips

/// A local zip entry header and data, deflated (method 8) or stored.
fn zip_local(name: &[u8], data: &[u8], comp: &[u8], method: u16, flags: u16) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    let mut b = Vec::new();
    b.extend(0x0403_4b50u32.to_le_bytes());
    b.extend(20u16.to_le_bytes());
    b.extend(flags.to_le_bytes());
    b.extend(method.to_le_bytes());
    b.extend([0u8; 4]);
    b.extend(crc.sum().to_le_bytes());
    b.extend((comp.len() as u32).to_le_bytes());
    b.extend((data.len() as u32).to_le_bytes());
    b.extend((name.len() as u16).to_le_bytes());
    b.extend(0u16.to_le_bytes());
    b.extend(name);
    b.extend(comp);
    b
}

/// A central-directory record pointing at the local header at `offset`.
fn zip_central(
    name: &[u8],
    data: &[u8],
    comp_len: usize,
    method: u16,
    flags: u16,
    offset: u32,
) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    let mut b = Vec::new();
    b.extend(0x0201_4b50u32.to_le_bytes());
    b.extend(20u16.to_le_bytes());
    b.extend(20u16.to_le_bytes());
    b.extend(flags.to_le_bytes());
    b.extend(method.to_le_bytes());
    b.extend([0u8; 4]);
    b.extend(crc.sum().to_le_bytes());
    b.extend((comp_len as u32).to_le_bytes());
    b.extend((data.len() as u32).to_le_bytes());
    b.extend((name.len() as u16).to_le_bytes());
    b.extend([0u8; 8]);
    b.extend([0u8; 4]);
    b.extend(offset.to_le_bytes());
    b.extend(name);
    b
}

fn zip_end(records: usize, cd_len: usize, cd_offset: usize) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(0x0605_4b50u32.to_le_bytes());
    b.extend([0u8; 4]);
    b.extend((records as u16).to_le_bytes());
    b.extend((records as u16).to_le_bytes());
    b.extend((cd_len as u32).to_le_bytes());
    b.extend((cd_offset as u32).to_le_bytes());
    b.extend(0u16.to_le_bytes());
    b
}

/// Repro 20: central-directory records that all point at one deflated
/// entry made the archive inflate ~950 times its size, each record within
/// the ratio on its own. The ratio now holds for the archive as a whole.
#[test]
fn overlapping_zip_entries_are_held_to_the_archive_ratio() {
    let dir = tempdir();
    let d = dir.path();
    let key = kunavo("zip-overlap");
    // Text that deflates about 60x: well under the ratio alone.
    let mut data = format!("KUNAVO_API_KEY=\"{key}\"\n").into_bytes();
    let mut x = 7u64;
    while data.len() < 3 << 20 {
        for _ in 0..40 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push(b'a' + (x % 26) as u8);
        }
        data.extend_from_slice(&[b' '; 1500]);
        data.push(b'\n');
    }
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&data).unwrap();
    let comp = enc.finish().unwrap();
    let ratio = data.len() / comp.len();
    assert!(
        (20..90).contains(&ratio),
        "the entry alone inflates {ratio}x"
    );
    let local = zip_local(b"data.txt", &data, &comp, 8, 0);
    let records = 20;
    let cd: Vec<u8> = (0..records)
        .flat_map(|i| {
            zip_central(
                format!("data{i:02}.txt").as_bytes(),
                &data,
                comp.len(),
                8,
                0,
                0,
            )
        })
        .collect();
    let zip = [
        local.clone(),
        cd.clone(),
        zip_end(records, cd.len(), local.len()),
    ]
    .concat();
    write(d, "overlap.zip", &zip);
    let r = run_within(
        crate::gitutil::leakhound().current_dir(d).args([
            "scan",
            "overlap.zip",
            "-f",
            "json",
            "--show-secrets",
        ]),
        Duration::from_secs(120),
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let report = r.json();
    let notes = skipped(&report);
    let cut: Vec<_> = notes
        .iter()
        .filter(|(_, why)| why.contains("archive_max_ratio"))
        .collect();
    assert_eq!(cut.len(), 1, "{notes:#?}");
    assert!(cut[0].1.contains("the archive's size"), "{cut:?}");
    // Read no further than the ratio allows (100x the file), with 1 MiB of
    // slack: two or three records, not twenty.
    let read = report["findings"].as_array().unwrap().len();
    assert!((1..=3).contains(&read), "{read} records read");
}

/// Repro 21: entries that cannot be opened (encrypted) were listed one
/// note each and not counted against `archive_max_entries`. Every record
/// now counts, and the notes of one archive are bounded (the rest counted
/// per reason).
#[test]
fn unreadable_zip_entries_count_and_their_notes_are_bounded() {
    let dir = tempdir();
    let d = dir.path();
    let local = zip_local(b"a", b"x", b"x", 0, 1);
    let n = 3000;
    let cd: Vec<u8> = (0..n)
        .flat_map(|i| zip_central(format!("{i:x}").as_bytes(), b"x", 1, 0, 1, 0))
        .collect();
    let zip = [local.clone(), cd.clone(), zip_end(n, cd.len(), local.len())].concat();
    write(d, "locked.zip", &zip);
    write(d, "limits.toml", "[scan]\narchive_max_entries = 1000\n");
    let r = run_within(
        crate::gitutil::leakhound().current_dir(d).args([
            "scan",
            "--config",
            "limits.toml",
            "locked.zip",
            "-f",
            "json",
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let notes = skipped(&r.json());
    assert!(notes.len() <= 25, "{} notes", notes.len());
    let listed = notes
        .iter()
        .filter(|(p, why)| p.starts_with("locked.zip!") && why.contains("Password required"))
        .count();
    assert_eq!(listed, 20, "{notes:#?}");
    let counted: Vec<_> = notes
        .iter()
        .filter(|(p, why)| p == "locked.zip" && why.contains("more entries not listed"))
        .collect();
    assert_eq!(counted.len(), 1, "{notes:#?}");
    // 1,000 records were handled: 20 listed, 980 counted.
    assert!(counted[0].1.starts_with("980 more entries"), "{counted:?}");
    assert!(
        notes
            .iter()
            .any(|(p, why)| p == "locked.zip" && why.contains("archive_max_entries")),
        "{notes:#?}"
    );
}

// ------------------------------------------------------------ datastores

fn audit(dir: &Path, repo: &Repo, clones: &str, db: &str) -> Finished {
    run_within(
        gitutil::leakhound().current_dir(dir).args([
            "scan",
            "--git-url",
            &format!("file://{}", repo.path().display()),
            "--clone-dir",
            clones,
            "--datastore",
            db,
            "-f",
            "json",
        ]),
        Duration::from_secs(60),
    )
}

/// Repro 18 (a): a trigger added to a datastore deleted every finding later
/// audits recorded, and the audit said "0 findings", exit 0. Any object
/// leakhound did not create is now refused, naming the file and the object.
#[test]
fn a_datastore_with_a_trigger_or_an_extra_object_is_refused() {
    let repo = Repo::init();
    repo.write("README", "nothing here\n");
    repo.commit("one");
    let work = tempdir();
    let w = work.path();
    let first = audit(w, &repo, "clones", "audit.db");
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let conn = rusqlite::Connection::open(w.join("audit.db")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER keep_quiet AFTER INSERT ON findings BEGIN \
         DELETE FROM findings WHERE rowid = NEW.rowid; END",
    )
    .unwrap();
    drop(conn);
    repo.write(
        "app.env",
        &format!("KUNAVO_API_KEY=\"{}\"\n", kunavo_key(250)),
    );
    repo.commit("add key");
    let second = audit(w, &repo, "clones", "audit.db");
    assert_eq!(second.code, Some(2), "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("audit.db: not a leakhound datastore")
            && second.stderr.contains("trigger `keep_quiet`"),
        "{}",
        second.stderr
    );
    // Read-only uses are refused the same way.
    let report = run_within(
        gitutil::leakhound()
            .current_dir(w)
            .args(["report", "--datastore", "audit.db"]),
        Duration::from_secs(30),
    );
    assert_eq!(report.code, Some(2), "{}", report.stderr);
    assert!(
        report.stderr.contains("trigger `keep_quiet`"),
        "{}",
        report.stderr
    );

    // A column or an index of someone else's is refused too; the clean
    // datastore of a fresh audit is accepted.
    let fresh = audit(w, &repo, "clones", "fresh.db");
    assert_eq!(fresh.code, Some(1), "{}", fresh.stderr);
    let conn = rusqlite::Connection::open(w.join("fresh.db")).unwrap();
    conn.execute_batch("CREATE INDEX mine ON findings (path)")
        .unwrap();
    drop(conn);
    let r = run_within(
        gitutil::leakhound()
            .current_dir(w)
            .args(["report", "--datastore", "fresh.db"]),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("fresh.db") && r.stderr.contains("index `mine`"),
        "{}",
        r.stderr
    );
    let conn = rusqlite::Connection::open(w.join("fresh.db")).unwrap();
    conn.execute_batch("DROP INDEX mine; ALTER TABLE blobs ADD COLUMN extra TEXT")
        .unwrap();
    drop(conn);
    let r = run_within(
        gitutil::leakhound()
            .current_dir(w)
            .args(["report", "--datastore", "fresh.db"]),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("table `blobs` differs"), "{}", r.stderr);
}

/// Repro 18 (b): a 16 KB file whose `findings` is an endless recursive
/// view made `report` run forever and `merge` fill the disk. It is now
/// refused at once by both, and merge writes nothing of it.
#[test]
fn a_datastore_with_a_recursive_view_is_refused_by_report_and_merge() {
    let work = tempdir();
    let w = work.path();
    let conn = rusqlite::Connection::open(w.join("evil.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE repositories (url TEXT PRIMARY KEY, web TEXT, scanned_at TEXT NOT NULL, commits INTEGER NOT NULL DEFAULT 0, blobs INTEGER NOT NULL DEFAULT 0);
         CREATE TABLE blobs (blob TEXT NOT NULL, rules TEXT NOT NULL, findings INTEGER NOT NULL, PRIMARY KEY (blob, rules)) WITHOUT ROWID;
         CREATE VIEW findings AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n)
           SELECT 'r' AS repository, printf('%032d', x) AS fingerprint, NULL AS blob, 'h' AS rules, 'kunavo-api-key' AS rule_id,
                  'kunavo' AS provider, 'p' AS path, NULL AS commit_id, 't' AS found_at, NULL AS verdict, NULL AS verified_at,
                  '{}' AS report FROM n;
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let report = run_within(
        gitutil::leakhound()
            .current_dir(w)
            .args(["report", "--datastore", "evil.db"]),
        Duration::from_secs(20),
    );
    assert_eq!(report.code, Some(2), "{}", report.stderr);
    assert!(
        report.stderr.contains("evil.db: not a leakhound datastore")
            && report.stderr.contains("view `findings`"),
        "{}",
        report.stderr
    );
    let merge = run_within(
        gitutil::leakhound()
            .current_dir(w)
            .args(["datastore", "merge", "evil.db", "-o", "out.db"]),
        Duration::from_secs(20),
    );
    assert_eq!(merge.code, Some(2), "{}", merge.stderr);
    assert!(merge.stderr.contains("view `findings`"), "{}", merge.stderr);
    let size = std::fs::metadata(w.join("out.db")).map_or(0, |m| m.len());
    assert!(size < 1 << 20, "merge wrote {size} bytes");
    // The input was opened read-only: it is unchanged.
    let conn = rusqlite::Connection::open(w.join("evil.db")).unwrap();
    let views: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'view'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(views, 1);
}

// ------------------------------------------------------------ the index

/// A version-4 index of one `path_len`-byte path and `count - 1` entries
/// that repeat it (strip nothing, add nothing: 64 bytes each in the file).
fn amplifying_index(blob: &str, path_len: usize, count: u32) -> Vec<u8> {
    let id: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&blob[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    // The name length in the flags: exact up to 4095, else 0xfff.
    let name_len = path_len.min(0xfff) as u16;
    let fixed = |b: &mut Vec<u8>| {
        for v in [0u32, 0, 0, 0, 0, 0, 0o100644, 0, 0, 3] {
            b.extend(v.to_be_bytes());
        }
        b.extend(&id);
        b.extend(name_len.to_be_bytes());
    };
    let mut b = b"DIRC".to_vec();
    b.extend(4u32.to_be_bytes());
    b.extend(count.to_be_bytes());
    fixed(&mut b);
    b.push(0);
    b.extend(b"d/");
    b.extend(vec![b'a'; path_len - 2]);
    b.push(0);
    for _ in 1..count {
        fixed(&mut b);
        b.extend([0, 0]);
    }
    // git's trailing checksum (not checked by either reader on a read).
    b.extend([0u8; 20]);
    b
}

/// Repro 19: a version-4 index whose entries each repeat a long path cost
/// gigabytes (`--staged`, and `--git` for its guard and status). Both the
/// direct reader and libgit2 (which it fell back to) rebuilt every path.
/// Such an index is now refused, in bounded memory, with an error naming
/// the file: one with 32 KiB paths (which libgit2 refused too, after the
/// direct reader had spent a gigabyte), and a well-formed one with 4,000-
/// byte paths that libgit2 reads whole (600 MB from a 10 MB file).
#[test]
fn an_amplifying_version_4_index_is_refused_in_bounded_memory() {
    let repo = Repo::init();
    repo.write("a.txt", "hi\n");
    repo.commit("one");
    let blob = gitutil::git(repo.path(), &["rev-parse", "HEAD:a.txt"]);
    for (path_len, count) in [(32 << 10, 40_000), (4000, 150_000)] {
        let index = amplifying_index(&blob, path_len, count);
        std::fs::write(repo.path().join(".git/index"), &index).unwrap();
        for args in [&["scan", "--staged"][..], &["scan", "--git", "."][..]] {
            let r = run_within(
                leakhound_limited(768).current_dir(repo.path()).args(args),
                Duration::from_secs(60),
            );
            assert_eq!(r.code, Some(2), "{path_len} {args:?}: {}", r.stderr);
            let said = format!("{}{}", r.stdout, r.stderr);
            assert!(
                said.contains(".git/index holds") && said.contains("it was not read"),
                "{path_len} {args:?}: {said}"
            );
        }
    }
}

// ------------------------------------------------------------ deep trees

/// A commit whose tree holds `a.env` (with `text`) `depth` directories
/// down (`d/d/…/a.env`), written with libgit2; returns the commit id.
fn deep_commit(
    repo: &git2::Repository,
    depth: usize,
    text: &str,
    parent: Option<git2::Oid>,
) -> git2::Oid {
    let blob = repo.blob(text.as_bytes()).unwrap();
    let mut b = repo.treebuilder(None).unwrap();
    b.insert("a.env", blob, 0o100644).unwrap();
    let mut tree = b.write().unwrap();
    for _ in 0..depth {
        let mut b = repo.treebuilder(None).unwrap();
        b.insert("d", tree, 0o040000).unwrap();
        tree = b.write().unwrap();
    }
    let sig =
        git2::Signature::new("a", "a@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
    let tree = repo.find_tree(tree).unwrap();
    let parents: Vec<git2::Commit> = parent
        .map(|p| repo.find_commit(p).unwrap())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, "deep", &tree, &parents)
        .unwrap()
}

/// Repro 24: a tree nested 6,000+ levels deep overflowed a worker's stack
/// (abort, no report). The tree walk keeps its own stack now: a 12,000
/// levels deep key is found by the history scan and by a range scan.
#[test]
fn a_tree_nested_thousands_of_levels_deep_is_scanned() {
    let repo = Repo::init();
    repo.write("README", "top\n");
    let base = repo.commit("base");
    let depth = 12_000;
    let key = kunavo_key(251);
    let git = git2::Repository::open(repo.path()).unwrap();
    let deep = deep_commit(
        &git,
        depth,
        &format!("KUNAVO_API_KEY=\"{key}\"\n"),
        Some(git2::Oid::from_str(&base).unwrap()),
    );
    let path = format!("{}a.env", "d/".repeat(depth));
    for args in [
        vec!["scan", "--git", ".", "-f", "json", "--show-secrets"],
        vec![
            "scan",
            "--range",
            &format!("{base}..{deep}"),
            "-f",
            "json",
            "--show-secrets",
        ],
    ] {
        let r = run_within(
            gitutil::leakhound().current_dir(repo.path()).args(&args),
            Duration::from_secs(120),
        );
        assert_eq!(r.code, Some(1), "{args:?}: {}", r.stderr);
        let report = r.json();
        let findings = report["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 1, "{args:?}: {report}");
        assert_eq!(findings[0]["secret"], key.as_str());
        assert_eq!(findings[0]["path"], path.as_str());
    }
}

// ------------------------------------------------------------ the HTML CSP

/// The HTML report runs its scripts by hash, never by `'unsafe-inline'`:
/// every inline `<script>` of a produced report is hashed here and the
/// policy must list exactly those hashes (so a script added later is
/// covered, and a stray one would not run).
#[test]
fn the_html_reports_policy_lists_exactly_the_hashes_of_its_scripts() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "a.env",
        format!("KUNAVO_API_KEY=\"{}\"\n", kunavo("html-csp")),
    );
    write(
        d,
        "<script>alert(1)<\\script>.env",
        format!("K=\"{}\"\n", kunavo("html-csp-2")),
    );
    let r = run_within(
        crate::gitutil::leakhound()
            .current_dir(d)
            .args(["scan", ".", "-f", "html"]),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let page = &r.stdout;
    let csp_start = page
        .find("http-equiv=\"Content-Security-Policy\" content=\"")
        .expect("a policy");
    let csp = &page[csp_start..];
    let csp = &csp[csp.find("content=\"").unwrap() + 9..];
    let csp = &csp[..csp.find('"').unwrap()];
    let script_src: Vec<&str> = csp
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix("script-src "))
        .expect("a script-src directive")
        .split_whitespace()
        .collect();
    assert!(!script_src.contains(&"'unsafe-inline'"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let mut hashes = Vec::new();
    let mut rest = page.as_str();
    while let Some(open) = rest.find("<script") {
        let after = &rest[open..];
        let body_start = after.find('>').unwrap() + 1;
        assert_eq!(&after[..body_start], "<script>", "a script with attributes");
        let body_end = after.find("</script>").expect("a closed script");
        let digest = sha2::Sha256::digest(&after.as_bytes()[body_start..body_end]);
        hashes.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &after[body_end..];
    }
    assert!(!hashes.is_empty());
    let mut listed: Vec<String> = script_src.iter().map(|s| s.to_string()).collect();
    listed.sort();
    hashes.sort();
    assert_eq!(listed, hashes, "{csp}");
}
