//! Issue 16 in git repositories: SIGTERM during a history or range scan
//! (L9), and the cases that used to pass silently (L10): a corrupt commit
//! hiding its ancestors, a partial clone, a missing `GIT_INDEX_FILE`, a bare
//! repository scanned as a plain tree, a bad `--range`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::gitutil::{git, kunavo_key, leakhound, scan_json, secrets, Repo};

/// Commits in the repository the interrupt tests scan, each adding a
/// different blob of [`BLOB_LINES`] lines: a history the debug build takes
/// seconds to scan.
const COMMITS: usize = 3000;
const BLOB_LINES: usize = 200;

/// A repository of [`COMMITS`] commits on `main`, written by `git
/// fast-import` (a second, where `git commit` would take minutes). The first
/// commit holds a key, so a scan interrupted early still has a finding to
/// report. Returns the repository and its first commit.
fn long_history() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    let mut stream = Vec::new();
    for i in 0..COMMITS {
        let mut data = String::new();
        if i == 0 {
            data.push_str(&format!("KUNAVO_API_KEY=\"{}\"\n", kunavo_key(916)));
        }
        for _ in 0..BLOB_LINES {
            data.push_str(&format!(
                "the quick brown fox {i} jumps over the lazy dog\n"
            ));
        }
        let msg = format!("commit {i}");
        write!(
            stream,
            "commit refs/heads/main\ncommitter Ada <ada@example.com> {} +0000\n\
             data {}\n{msg}\nM 100644 inline f{}.txt\ndata {}\n{data}\n",
            1_600_000_000 + i,
            msg.len(),
            i % 20,
            data.len()
        )
        .unwrap();
    }
    let mut c = Command::new("git");
    crate::gitutil::isolate(&mut c);
    let mut child = c
        .current_dir(dir.path())
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(child.wait().unwrap().success());
    let first = git(dir.path(), &["rev-list", "--max-parents=0", "main"]);
    (dir, first)
}

/// Start `leakhound scan ARGS -f json -o report.json` in `dir`, send it
/// SIGTERM once it is reading the history (it has a pack file of the
/// repository open: an event, not a delay that a loaded machine stretches),
/// and return its exit code, how long it took to exit after the signal,
/// and the report. A scan that got through the whole history before the
/// signal tests nothing and is run again.
fn terminate(dir: &Path, args: &[&str]) -> (Option<i32>, Duration, Value) {
    for _ in 0..5 {
        let Some(outcome) = terminate_after(dir, args) else {
            continue;
        };
        // A signal that came after the last blob (while the report was
        // being written) tests nothing: try again.
        let blobs = outcome.2["stats"]["blobs"].as_u64().unwrap_or(0);
        if blobs < COMMITS as u64 - 1 {
            return outcome;
        }
    }
    panic!("{args:?}: the scan ended before the signal: the repository is too small to test this")
}

/// Has process `pid` a file under `objects/pack/` open?
fn reads_a_pack(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
        fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|t| t.to_string_lossy().contains("/objects/pack/"))
        })
    })
}

fn terminate_after(dir: &Path, args: &[&str]) -> Option<(Option<i32>, Duration, Value)> {
    let report = dir.join("report.json");
    let _ = std::fs::remove_file(&report);
    let mut child = leakhound()
        .current_dir(dir)
        .arg("scan")
        .args(args)
        .args(["--no-config", "-j", "1", "-f", "json", "-o"])
        .arg(&report)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !reads_a_pack(child.id()) {
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("{args:?}: no pack file opened within 60 s");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let signalled = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if signalled.elapsed() > Duration::from_secs(30) {
            child.kill().ok();
            panic!("{args:?}: no exit within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = signalled.elapsed();
    let text = std::fs::read_to_string(&report).expect("the report is written");
    let value = serde_json::from_str(&text).expect("the report is whole JSON");
    Some((status.code(), took, value))
}

fn notes(report: &Value) -> Vec<String> {
    report["stats"]["notes"]
        .as_array()
        .map(|n| {
            n.iter()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// SIGTERM in the middle of `--git`, `--git --all-objects` and `--range`:
/// the walk stops within moments, not when the history is done, and the
/// report of what was scanned is written, whole, with a note saying so.
#[cfg(unix)]
#[test]
fn l9_sigterm_stops_a_history_walk_promptly_with_a_partial_report() {
    let (dir, first) = long_history();
    let range = format!("--range={first}..main");
    for args in [
        &["--git"][..],
        &["--git", "--all-objects"][..],
        &[range.as_str()][..],
    ] {
        let (code, took, report) = terminate(dir.path(), args);
        let stats = &report["stats"];
        // As any interrupted scan: 1 if what it scanned holds a finding,
        // else 2 (an incomplete scan is never clean).
        let found = report["findings"].as_array().is_some_and(|f| !f.is_empty());
        assert_eq!(code, Some(if found { 1 } else { 2 }), "{args:?}");
        // Promptly: it stopped before the end of the history (an event),
        // rather than within some seconds that a loaded machine stretches;
        // `terminate_after` fails a scan that does not exit within 30 s.
        let blobs = stats["blobs"].as_u64().unwrap_or(0);
        assert!(
            blobs < COMMITS as u64 - 1,
            "{args:?}: the whole history was scanned ({blobs} blobs) in the {took:?} after SIGTERM: {stats}"
        );
        let notes = notes(&report);
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("interrupted: the scan stopped early")),
            "{args:?}: {notes:?}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("interrupted: ") && n.contains(" of the ")),
            "{args:?}: no note on how far the scan got: {notes:?}"
        );
        // No temporary report is left behind.
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // Uninterrupted, the same history is scanned whole and its key found
    // (the root commit is the range's base, so only `--git` sees it).
    let (code, report, stderr) = scan_json(dir.path(), &["--git", "--no-config", "--show-secrets"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        report["stats"]["blobs"], COMMITS as u64,
        "{}",
        report["stats"]
    );
    assert_eq!(secrets(&report), vec![kunavo_key(916)]);
}

/// A key committed, then a commit whose object is corrupt, then one more:
/// the walk cannot follow the corrupt commit to its parent, so the key's
/// commit is found in the object database instead, and a note names the
/// corrupt commit.
#[test]
fn l10_a_corrupt_commit_does_not_hide_its_ancestors() {
    let repo = Repo::init();
    let key = kunavo_key(1016);
    repo.write("a.env", &format!("KUNAVO_API_KEY=\"{key}\"\n"));
    repo.commit("add a key");
    repo.write("b.txt", "b\n");
    let corrupt = repo.commit("the commit that will be corrupt");
    repo.write("c.txt", "c\n");
    repo.commit("after it");
    let object = repo
        .path()
        .join(".git/objects")
        .join(&corrupt[..2])
        .join(&corrupt[2..]);
    let mut bytes = std::fs::read(&object).unwrap();
    // After the 2-byte zlib header: an invalid deflate block type.
    for b in &mut bytes[2..] {
        *b = 0xff;
    }
    std::fs::remove_file(&object).unwrap();
    std::fs::write(&object, &bytes).unwrap();

    let (code, report, stderr) =
        scan_json(repo.path(), &["--git", "--no-config", "--show-secrets"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(secrets(&report), vec![key], "{}", report["stats"]);
    let notes = notes(&report);
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&corrupt) && n.contains("could not be read")),
        "{notes:?}"
    );
    let errors = report["stats"]["errors"].to_string();
    assert!(errors.contains(&corrupt), "{errors}");
}

/// A `--filter=blob:none` clone has no blobs until they are needed: one
/// error and a note count them, not one error per blob and no word on why.
#[test]
fn l10_a_partial_clone_says_how_many_blobs_were_missing() {
    let server = Repo::init();
    for i in 0..3 {
        server.write(&format!("f{i}.txt"), &format!("file {i}\n"));
        server.commit(&format!("commit {i}"));
    }
    git(server.path(), &["config", "uploadpack.allowFilter", "true"]);
    let clone = tempfile::tempdir().unwrap();
    let url = format!("file://{}", server.path().display());
    git(
        clone.path(),
        &[
            "clone",
            "-q",
            "--no-checkout",
            "--filter=blob:none",
            &url,
            "pc",
        ],
    );
    let (code, report, stderr) = scan_json(&clone.path().join("pc"), &["--git", "--no-config"]);
    assert_eq!(code, 2, "an incomplete scan is not clean: {stderr}");
    let said = notes(&report);
    assert!(
        said.iter()
            .any(|n| n.starts_with("partial clone: 3 blobs ") && n.contains("not scanned")),
        "{said:?}"
    );
    let errors = report["stats"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["path"], "partial clone", "{errors:?}");
    // A range cannot diff the commits whose blobs are missing: a note says
    // why, beside the commits' errors.
    let (code, report, stderr) = scan_json(
        &clone.path().join("pc"),
        &["--range", "HEAD~2..HEAD", "--no-config"],
    );
    assert_eq!(code, 2, "{stderr}");
    let said = notes(&report);
    assert!(
        said.iter()
            .any(|n| n.starts_with("partial clone: 2 commits of HEAD~2..HEAD")),
        "{said:?}"
    );
}

/// `GIT_INDEX_FILE` naming no file: libgit2 would read it as an empty index
/// and the commit would pass as clean.
#[test]
fn l10_staged_with_a_missing_index_file_is_an_error() {
    let repo = Repo::init();
    repo.write("a.txt", "a\n");
    repo.commit("first");
    repo.write(
        "a.env",
        &format!("KUNAVO_API_KEY=\"{}\"\n", kunavo_key(1017)),
    );
    repo.git(&["add", "a.env"]);
    let missing = repo.path().join("no-such-index");
    let out = leakhound()
        .current_dir(repo.path())
        .args(["scan", "--staged", "--no-config"])
        .env("GIT_INDEX_FILE", &missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("GIT_INDEX_FILE") && stderr.contains("does not exist"),
        "{stderr}"
    );
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    // The repository's own index still finds the key.
    let (code, _, stderr) = scan_json(repo.path(), &["--staged", "--no-config"]);
    assert_eq!(code, 1, "{stderr}");
}

/// A bare repository scanned as a plain tree: its objects are compressed,
/// so nothing is found, and the report says to use `--git`.
#[test]
fn l10_a_bare_repository_scanned_as_files_hints_at_git() {
    let repo = Repo::init();
    let key = kunavo_key(1018);
    repo.write("a.env", &format!("KUNAVO_API_KEY=\"{key}\"\n"));
    repo.commit("add a key");
    let bare = tempfile::tempdir().unwrap();
    let url = repo.path().display().to_string();
    git(bare.path(), &["clone", "-q", "--bare", &url, "b.git"]);
    let (code, report, stderr) = scan_json(bare.path(), &["b.git", "--no-config"]);
    assert_eq!(code, 0, "{stderr}");
    let said = notes(&report);
    assert!(
        said.iter()
            .any(|n| n.starts_with("b.git is a git repository") && n.contains("--git b.git")),
        "{said:?}"
    );
    // The hint is right: with --git the key is found.
    let (code, report, stderr) = scan_json(
        &bare.path().join("b.git"),
        &["--git", "--no-config", "--show-secrets"],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(secrets(&report), vec![key]);
    // A plain directory gets no such note.
    let (_, report, _) = scan_json(repo.path(), &["--no-config"]);
    assert!(notes(&report).is_empty(), "{}", report["stats"]);
}

/// A range whose end is found but is not a commit, and one whose end does
/// not exist: each error names the range and says which.
#[test]
fn l10_a_bad_range_says_what_is_wrong() {
    let repo = Repo::init();
    repo.write("a.txt", "a\n");
    repo.commit("first");
    repo.write("b.txt", "b\n");
    repo.commit("second");
    for (range, says) in [
        ("HEAD^{tree}..HEAD", "BASE `HEAD^{tree}` is a tree"),
        ("HEAD~1..HEAD:a.txt", "HEAD `HEAD:a.txt` is a blob"),
        ("nosuch..HEAD", "cannot find BASE `nosuch`"),
    ] {
        let out = leakhound()
            .current_dir(repo.path())
            .args(["scan", "--no-config", "--range", range])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{range}: {stderr}");
        assert!(
            stderr.contains(&format!("range `{range}`")) && stderr.contains(says),
            "{range}: {stderr}"
        );
    }
}
