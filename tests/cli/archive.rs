//! Archives: keys inside zip/jar/whl/nupkg/apk, tar, compressed tars and
//! lone compressed files are found and reported as `archive!entry`, in file
//! trees and git blobs; bombs, deep nests and damaged archives are bounded
//! and listed, never fatal. The archives are built here with the zip, tar,
//! flate2, bzip2, liblzma and zstd crates' writers (the standard formats
//! the system tools write too).

use std::io::{Cursor, Write};

use serde_json::Value;

use crate::gitutil::Repo;
use crate::util::{alnum, kunavo, leakhound, run, scan_json, tempdir, write, Run};

/// A zip of `entries` (a name ending in `/` is a directory), deflated or stored.
fn zip(entries: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = SimpleFileOptions::default().compression_method(method);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        if name.ends_with('/') {
            w.add_directory(*name, opts).unwrap();
        } else {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bz2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zst(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

fn env(key: &str) -> Vec<u8> {
    format!("# deploy settings\nKUNAVO_API_KEY={key}\n").into_bytes()
}

/// Findings' paths with their secrets, sorted.
fn found(r: &Run) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = r
        .findings()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["secret"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The skipped paths of a JSON report, with their reasons.
fn skipped(r: &Run) -> Vec<(String, String)> {
    r.json()["stats"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every format is opened wherever its key sits; the report names the
/// entry inside the archive. Archives are told by their bytes: one without
/// an extension is opened too.
#[test]
fn every_archive_format_is_opened() {
    let dir = tempdir();
    let d = dir.path();
    let mut want = Vec::new();
    let mut put = |name: &str, bytes: Vec<u8>, entry: &str, key: String| {
        write(d, &format!("dist/{name}"), bytes);
        want.push((format!("dist/{name}!{entry}"), key));
    };
    let k = |label: &str| kunavo(&format!("archive-{label}"));

    let key = k("jar");
    let jar = zip(
        &[
            ("META-INF/", b""),
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
            (
                "BOOT-INF/classes/application.yml",
                format!("kunavo:\n  api-key: {key}\n").as_bytes(),
            ),
        ],
        true,
    );
    put("app.jar", jar, "BOOT-INF/classes/application.yml", key);
    for (name, entry) in [
        ("bundle.zip", "config/.env"),
        ("site.war", "WEB-INF/web.env"),
        ("suite.ear", "lib/app.env"),
        ("tool-1.0-py3-none-any.whl", "tool/settings.env"),
        ("Tool.1.0.0.nupkg", "content/appsettings.env"),
        ("app-release.apk", "assets/keys.env"),
    ] {
        let key = k(name);
        put(name, zip(&[(entry, &env(&key))], true), entry, key);
    }
    let key = k("stored");
    put(
        "stored.zip",
        zip(&[("a.env", &env(&key))], false),
        "a.env",
        key,
    );
    let key = k("noext");
    put(
        "artifact",
        zip(&[("inside.env", &env(&key))], true),
        "inside.env",
        key,
    );

    let tarred = |label: &str| {
        let key = k(label);
        (tar(&[("c/d.env", &env(&key))]), key)
    };
    let (t, key) = tarred("tar");
    put("plain.tar", t, "c/d.env", key);
    let (t, key) = tarred("tgz");
    put("site.tar.gz", gz(&t), "c/d.env", key);
    let (t, key) = tarred("tgz2");
    put("site2.tgz", gz(&t), "c/d.env", key);
    let (t, key) = tarred("tbz");
    put("site.tar.bz2", bz2(&t), "c/d.env", key);
    let (t, key) = tarred("txz");
    put("site.tar.xz", xz(&t), "c/d.env", key);
    let (t, key) = tarred("tzst");
    put("site.tar.zst", zst(&t), "c/d.env", key);

    let key = k("gz");
    put("deploy.log.gz", gz(&env(&key)), "deploy.log", key);
    let key = k("bz2");
    put("deploy.env.bz2", bz2(&env(&key)), "deploy.env", key);
    let key = k("xz");
    put("dump.sql.xz", xz(&env(&key)), "dump.sql", key);
    let key = k("zst");
    put("events.json.zst", zst(&env(&key)), "events.json", key);

    let r = scan_json(d, &["--no-config", "dist"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    want.sort();
    assert_eq!(found(&r), want);
    assert!(skipped(&r).is_empty(), "{:?}", skipped(&r));

    // Unopened, deflated and bzip2 entries are unreadable bytes (xz and
    // zstd keep short texts as literals, found either way).
    let plain = scan_json(d, &["--no-config", "--no-archives", "dist"]);
    let paths: Vec<String> = found(&plain).into_iter().map(|(p, _)| p).collect();
    assert!(paths.iter().all(|p| !p.contains('!')), "{paths:?}");
    for hidden in [
        "dist/app.jar",
        "dist/site.tar.gz",
        "dist/deploy.log.gz",
        "dist/site.tar.bz2",
    ] {
        assert!(!paths.iter().any(|p| p == hidden), "{hidden}: {paths:?}");
    }
    assert!(paths.iter().any(|p| p == "dist/plain.tar"), "{paths:?}");
    write(d, "off.toml", "[scan]\narchives = false\n");
    let off = scan_json(d, &["--config", "off.toml", "dist"]);
    assert_eq!(found(&off), found(&plain));
}

/// Archives inside archives: `a.zip!b.tar.gz!c/d.env`.
#[test]
fn nested_archives_name_every_level() {
    let dir = tempdir();
    let key = kunavo("nested");
    let inner = gz(&tar(&[("c/d.env", &env(&key))]));
    let whl = zip(&[("pkg/conf.env", &env(&kunavo("nested-whl")))], true);
    let outer = zip(&[("b.tar.gz", &inner), ("deps/pkg.whl", &whl)], true);
    write(dir.path(), "a.zip", outer);
    let r = scan_json(dir.path(), &["--no-config", "a.zip"]);
    assert_eq!(
        found(&r),
        [
            ("a.zip!b.tar.gz!c/d.env".to_string(), key),
            (
                "a.zip!deps/pkg.whl!pkg/conf.env".to_string(),
                kunavo("nested-whl")
            ),
        ]
    );
}

/// The archive path is the finding's path in every report format, and
/// redaction holds inside archives too.
#[test]
fn every_format_shows_the_path_inside_the_archive() {
    let dir = tempdir();
    let key = kunavo("formats");
    let jar = zip(
        &[(
            "BOOT-INF/classes/application.yml",
            format!("kunavo:\n  api-key: {key}\n").as_bytes(),
        )],
        true,
    );
    write(dir.path(), "dist/app.jar", jar);
    let shown = "dist/app.jar!BOOT-INF/classes/application.yml";
    for format in [
        "text", "json", "jsonl", "sarif", "github", "markdown", "junit", "html",
    ] {
        let r = run(leakhound().current_dir(dir.path()).args([
            "scan",
            "--no-config",
            "--color",
            "never",
            "--format",
            format,
            "dist",
        ]));
        assert_eq!(r.code, 1, "{format}: {}", r.stderr);
        assert!(
            r.stdout.contains(shown),
            "{format} names the entry:\n{}",
            r.stdout
        );
        assert!(!r.stdout.contains(&key), "{format} shows the raw key");
    }
}

/// A finding inside an archive has a stable fingerprint: a baseline made
/// from one scan accepts it in the next, whether the tree or the archive
/// itself is scanned, and nothing is reported stale.
#[test]
fn baselines_hold_findings_inside_archives() {
    let dir = tempdir();
    let d = dir.path();
    let jar = zip(&[("BOOT-INF/app.env", &env(&kunavo("baseline")))], true);
    write(d, "dist/app.jar", jar);
    let made = run(leakhound().current_dir(d).args([
        "baseline",
        "create",
        "--no-config",
        "-o",
        "base.json",
        "dist",
    ]));
    assert_eq!(made.code, 0, "{}", made.stderr);
    let base = std::fs::read_to_string(d.join("base.json")).unwrap();
    assert!(base.contains("dist/app.jar!BOOT-INF/app.env"), "{base}");
    for root in ["dist", "dist/app.jar"] {
        let r = scan_json(d, &["--no-config", "--baseline", "base.json", root]);
        assert_eq!(r.code, 0, "{root}: {}", r.stdout);
        assert!(r.findings().is_empty());
        assert_eq!(r.json()["stats"]["stale_baseline"], serde_json::json!([]));
    }
    let first = scan_json(d, &["--no-config", "dist"]);
    let second = scan_json(d, &["--no-config", "dist"]);
    assert_eq!(
        first.findings()[0]["fingerprint"],
        second.findings()[0]["fingerprint"]
    );
}

/// A zip bomb (one entry inflating a thousandfold) is cut by the ratio
/// limit and listed; the entries after it are still scanned.
#[test]
fn a_zip_bomb_is_cut_and_listed() {
    let dir = tempdir();
    let zeros = vec![0u8; 64 << 20];
    let key = kunavo("after-bomb");
    let bomb = zip(
        &[("zeros.bin", &zeros), ("later/app.env", &env(&key))],
        true,
    );
    assert!(bomb.len() < 1 << 20, "the bomb is small: {}", bomb.len());
    write(dir.path(), "bomb.zip", bomb);
    let r = scan_json(dir.path(), &["--no-config", "bomb.zip"]);
    assert_eq!(found(&r), [("bomb.zip!later/app.env".to_string(), key)]);
    let cut = skipped(&r);
    assert_eq!(cut.len(), 1, "{cut:?}");
    assert_eq!(cut[0].0, "bomb.zip!zeros.bin");
    assert!(cut[0].1.contains("archive_max_ratio"), "{cut:?}");

    // The text summary lists the cut too.
    let text = run(leakhound()
        .current_dir(dir.path())
        .args(["scan", "--no-config", "bomb.zip"]));
    assert!(
        text.stdout.contains(
            "skipped: bomb.zip!zeros.bin: archive limit: inflates to more than 100 times"
        ),
        "{}",
        text.stdout
    );
}

/// The bytes and entries limits, set in `[scan]`, stop the archive where
/// they are reached: what came before is scanned, the cut is listed once.
#[test]
fn byte_and_entry_limits_stop_an_archive() {
    let dir = tempdir();
    let d = dir.path();
    let filler = alnum("filler", 600_000);
    let first = kunavo("limit-first");
    let last = kunavo("limit-last");
    let big = zip(
        &[
            ("a.env", &env(&first)),
            ("b.txt", filler.as_bytes()),
            ("c.txt", filler.as_bytes()),
            ("d.env", &env(&last)),
        ],
        true,
    );
    write(d, "big.zip", big);
    write(d, "bytes.toml", "[scan]\narchive_max_bytes = \"1M\"\n");
    let r = scan_json(d, &["--config", "bytes.toml", "big.zip"]);
    assert_eq!(found(&r), [("big.zip!a.env".to_string(), first.clone())]);
    let cut = skipped(&r);
    assert_eq!(cut.len(), 1, "{cut:?}");
    assert_eq!(cut[0].0, "big.zip!c.txt");
    assert!(cut[0].1.contains("archive_max_bytes"), "{cut:?}");

    let many: Vec<(String, Vec<u8>)> = (0..10)
        .map(|i| (format!("f{i}.env"), env(&kunavo(&format!("entry-{i}")))))
        .collect();
    let refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    write(d, "many.tar.gz", gz(&tar(&refs)));
    write(d, "entries.toml", "[scan]\narchive_max_entries = 3\n");
    let r = scan_json(d, &["--config", "entries.toml", "many.tar.gz"]);
    assert_eq!(r.findings().len(), 3, "{}", r.stdout);
    let cut = skipped(&r);
    assert_eq!(cut.len(), 1, "{cut:?}");
    assert_eq!(cut[0].0, "many.tar.gz");
    assert!(cut[0].1.contains("archive_max_entries"), "{cut:?}");

    // Without the limits, everything is read.
    let all = scan_json(d, &["--no-config", "big.zip", "many.tar.gz"]);
    assert_eq!(all.findings().len(), 12, "{}", all.stdout);
    assert!(skipped(&all).is_empty());
}

/// Archives nested deeper than the limit are listed and scanned as plain
/// bytes; `--archive-depth` opens them.
#[test]
fn a_deep_nest_stops_at_the_depth_limit() {
    let dir = tempdir();
    let key = kunavo("deep");
    let mut inner = zip(&[("key.env", &env(&key))], true);
    let mut name = String::from("l5.zip");
    for level in (1..=4).rev() {
        inner = zip(&[(name.as_str(), &inner)], true);
        name = format!("l{level}.zip");
    }
    write(dir.path(), "l1.zip", inner);
    let r = scan_json(dir.path(), &["--no-config", "l1.zip"]);
    assert!(r.findings().is_empty(), "{}", r.stdout);
    let cut = skipped(&r);
    assert_eq!(cut.len(), 1, "{cut:?}");
    assert_eq!(cut[0].0, "l1.zip!l2.zip!l3.zip!l4.zip!l5.zip");
    assert!(cut[0].1.contains("nested deeper than 4"), "{cut:?}");

    let deeper = scan_json(
        dir.path(),
        &["--no-config", "--archive-depth", "5", "l1.zip"],
    );
    assert_eq!(
        found(&deeper),
        [(
            "l1.zip!l2.zip!l3.zip!l4.zip!l5.zip!key.env".to_string(),
            key
        )]
    );
    assert!(skipped(&deeper).is_empty());
}

/// A damaged archive is a note for that file: a zip whose directory is
/// cut off is scanned as plain bytes, a truncated tar.gz up to the damage,
/// and the rest of the tree is scanned. Not an error: exit status 1 for
/// the findings, not 2.
#[test]
fn a_damaged_archive_is_a_note_and_the_scan_goes_on() {
    let dir = tempdir();
    let d = dir.path();
    let jar = zip(&[("a.env", &env(&kunavo("damaged-jar")))], true);
    write(d, "dist/cut.jar", &jar[..jar.len() - 30]);
    let first = kunavo("damaged-first");
    let tgz = gz(&tar(&[
        ("first.env", &env(&first)),
        ("filler.txt", alnum("damaged-filler", 300_000).as_bytes()),
        ("last.env", &env(&kunavo("damaged-last"))),
    ]));
    write(d, "dist/cut.tar.gz", &tgz[..tgz.len() * 2 / 3]);
    write(d, "dist/garbage.zip", b"PK\x03\x04 not really a zip");
    let ok = kunavo("damaged-ok");
    write(d, "dist/ok.env", env(&ok));
    let r = scan_json(d, &["--no-config", "dist"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        found(&r),
        [
            ("dist/cut.tar.gz!first.env".to_string(), first),
            ("dist/ok.env".to_string(), ok),
        ]
    );
    let cut = skipped(&r);
    let reason = |p: &str| {
        cut.iter()
            .find(|(path, _)| path.starts_with(p))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{p} listed: {cut:?}"))
    };
    assert!(reason("dist/cut.jar").contains("damaged zip archive"));
    assert!(reason("dist/cut.jar").contains("scanned as plain bytes"));
    assert!(reason("dist/cut.tar.gz").contains("damaged"));
    assert!(reason("dist/garbage.zip").contains("damaged zip archive"));
    assert_eq!(r.json()["stats"]["errors"], serde_json::json!([]));
}

/// A jar committed and then deleted is found in history, in a range and
/// staged, at its path inside the jar.
#[test]
fn archives_in_git_blobs_are_opened() {
    let repo = Repo::init();
    repo.write("README.md", "app\n");
    let base = repo.commit("start");
    let key = kunavo("git-jar");
    let jar = zip(
        &[(
            "BOOT-INF/classes/application.yml",
            format!("kunavo:\n  api-key: {key}\n").as_bytes(),
        )],
        true,
    );
    std::fs::create_dir_all(repo.path().join("dist")).unwrap();
    std::fs::write(repo.path().join("dist/app.jar"), &jar).unwrap();
    let added = repo.commit("add the build");
    repo.git(&["rm", "-q", "dist/app.jar"]);
    repo.commit("remove the build");
    std::fs::create_dir_all(repo.path().join("dist")).unwrap();
    let shown = "dist/app.jar!BOOT-INF/classes/application.yml";

    let history = scan_json(repo.path(), &["--no-config", "--git"]);
    assert_eq!(found(&history), [(shown.to_string(), key.clone())]);
    assert_eq!(
        history.findings()[0]["commit"]["id"],
        Value::from(added.clone())
    );

    let range = format!("{base}..HEAD");
    let ranged = scan_json(repo.path(), &["--no-config", "--range", &range]);
    assert_eq!(found(&ranged), [(shown.to_string(), key.clone())]);

    std::fs::write(repo.path().join("dist/app.jar"), &jar).unwrap();
    repo.git(&["add", "dist/app.jar"]);
    let staged = scan_json(repo.path(), &["--no-config", "--staged"]);
    assert_eq!(found(&staged), [(shown.to_string(), key)]);
}

/// A changed archive has no lines to compare with its previous version: a
/// range or staged scan reports the keys inside it wherever they sit in
/// the entry (here on line 40, far past the few lines of the jar's bytes).
#[test]
fn a_changed_archive_in_a_range_or_the_index_is_scanned_whole() {
    let repo = Repo::init();
    let write_jar = |entries: &[(&str, &[u8])]| {
        std::fs::create_dir_all(repo.path().join("dist")).unwrap();
        std::fs::write(repo.path().join("dist/app.jar"), zip(entries, true)).unwrap();
    };
    write_jar(&[("README.txt", b"build 1\n")]);
    let base = repo.commit("build 1");
    let key = kunavo("changed-jar");
    let padded = format!("{}KUNAVO_API_KEY={key}\n", "# setting\n".repeat(39));
    let entries: [(&str, &[u8]); 2] = [
        ("README.txt", b"build 2\n"),
        ("conf/app.env", padded.as_bytes()),
    ];
    write_jar(&entries);
    repo.commit("build 2");
    let shown = "dist/app.jar!conf/app.env";

    let range = format!("{base}..HEAD");
    let ranged = scan_json(repo.path(), &["--no-config", "--range", &range]);
    assert_eq!(found(&ranged), [(shown.to_string(), key.clone())]);
    assert_eq!(ranged.findings()[0]["line"], 40);

    let other = kunavo("changed-jar-staged");
    let padded = format!("{}KUNAVO_API_KEY={other}\n", "# setting\n".repeat(39));
    write_jar(&[
        ("README.txt", b"build 3\n"),
        ("conf/app.env", padded.as_bytes()),
    ]);
    repo.git(&["add", "dist/app.jar"]);
    let staged = scan_json(repo.path(), &["--no-config", "--staged"]);
    assert_eq!(found(&staged), [(shown.to_string(), other)]);
}
