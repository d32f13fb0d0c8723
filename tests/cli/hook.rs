//! The pre-commit flows as a user runs them: `leakhound install-hook` then
//! `git commit`, and the pre-commit framework with this repository's
//! `.pre-commit-hooks.yaml`.

use std::path::Path;
use std::process::{Command, Output};

use crate::gitutil::{git_output, isolate, kunavo_key, leakhound, Repo};

fn install_hook(dir: &Path, extra: &[&str]) -> Output {
    leakhound()
        .current_dir(dir)
        .arg("install-hook")
        .args(extra)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn installed_hook_blocks_a_commit_that_adds_a_key() {
    let r = Repo::init();
    r.write("README", "hello\n");
    r.write("settings.py", "DEBUG = True\n");
    let start = r.commit("Start");

    let out = install_hook(r.path(), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("installed pre-commit hook"),
        "{}",
        text(&out)
    );
    let hook = r.path().join(".git/hooks/pre-commit");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&hook).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "executable");
    }

    // A staged key: the commit is refused, with file, line, rule and advice.
    r.write(
        "config/prod.env",
        &format!("# prod\nKUNAVO_API_KEY={}\n", kunavo_key(50)),
    );
    r.git(&["add", "config/prod.env"]);
    let out = git_output(r.path(), &["commit", "-m", "Add prod config"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("config/prod.env:2:16  kunavo-api-key"),
        "{said}"
    );
    assert!(said.contains("commit blocked"), "{said}");
    assert!(said.contains("leakhound:allow"), "{said}");
    assert!(said.contains("git commit --no-verify"), "{said}");
    assert!(!said.contains(&kunavo_key(50)), "never the raw key: {said}");
    assert_eq!(r.head(), start);

    // Marked as a false positive: the commit goes through.
    r.write(
        "config/prod.env",
        &format!(
            "# prod\nKUNAVO_API_KEY={}  # leakhound:allow\n",
            kunavo_key(50)
        ),
    );
    r.git(&["add", "config/prod.env"]);
    let out = git_output(r.path(), &["commit", "-q", "-m", "Add test config"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(r.head(), start);

    // `commit -a` commits a temporary index the hook must read.
    let before = r.head();
    r.write(
        "settings.py",
        &format!("DEBUG = True\nKEY = \"{}\"\n", kunavo_key(51)),
    );
    let out = git_output(r.path(), &["commit", "-a", "-m", "Settings"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("settings.py:2:8"), "{}", text(&out));
    assert_eq!(r.head(), before);

    // A clean change commits.
    r.write("settings.py", "DEBUG = False\n");
    let out = git_output(r.path(), &["commit", "-q", "-a", "-m", "Settings"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_foreign_hook_is_replaced_only_with_force() {
    let r = Repo::init();
    let hooks = r.path().join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let mine = "#!/bin/sh\necho my own checks\n";
    std::fs::write(hooks.join("pre-commit"), mine).unwrap();

    let out = install_hook(r.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        mine
    );

    let out = install_hook(r.path(), &["--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("pre-commit.leakhound-backup"));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit.leakhound-backup")).unwrap(),
        mine
    );
    let ours = std::fs::read_to_string(hooks.join("pre-commit")).unwrap();
    assert!(ours.contains("scan --staged"), "{ours}");

    // Installing again updates our own hook without --force.
    let out = install_hook(r.path(), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("updated pre-commit hook"),
        "{}",
        text(&out)
    );
}

#[test]
fn hook_goes_where_core_hooks_path_points() {
    let r = Repo::init();
    r.git(&["config", "core.hooksPath", "githooks"]);
    let out = install_hook(r.path(), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(r.path().join("githooks/pre-commit").is_file());
    assert!(!r.path().join(".git/hooks/pre-commit").exists());
}

#[test]
fn install_hook_outside_a_repository_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = install_hook(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("not a git repository"),
        "{}",
        text(&out)
    );
}

/// `pre-commit try-repo` against this repository's hook definitions, as a
/// user would try them. Without pre-commit these tests fail: `.ci/run`
/// installs it (`pip install pre-commit`).
///
/// The `language: rust` hooks are built by pre-commit itself (`cargo
/// install --path`), kept offline (cargo's local registry cache, which the
/// test build itself filled) and fast (no LTO, opt-level 0, through
/// `CARGO_PROFILE_RELEASE_*`), into a target directory beside the test's
/// own so that later runs only relink leakhound.
struct PreCommit {
    cache: tempfile::TempDir,
    /// PATH for the `language: rust` hooks: without the test's leakhound,
    /// so they can only pass by building their own.
    path: std::ffi::OsString,
    /// PATH for the `-system` hooks: the test's leakhound first.
    system_path: std::ffi::OsString,
    target: std::path::PathBuf,
}

impl PreCommit {
    fn available() -> PreCommit {
        let version = Command::new("pre-commit").arg("--version").output();
        assert!(
            version.as_ref().is_ok_and(|o| o.status.success()),
            "pre-commit is not installed (pip install pre-commit; .ci/run does): {version:?}"
        );
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_leakhound")).parent().unwrap();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let system_path = std::env::join_paths(
            std::iter::once(bin_dir.to_path_buf()).chain(std::env::split_paths(&path)),
        )
        .unwrap();
        let target = bin_dir.parent().unwrap().join("pre-commit-hook");
        PreCommit {
            cache: tempfile::tempdir().unwrap(),
            path,
            system_path,
            target,
        }
    }

    /// `pre-commit try-repo THIS_REPO HOOK ARGS --verbose` in `dir`.
    fn try_repo(&self, dir: &Path, hook: &str, args: &[&str]) -> Output {
        let mut c = Command::new("pre-commit");
        isolate(&mut c);
        let path = if hook.ends_with("-system") {
            &self.system_path
        } else {
            &self.path
        };
        c.current_dir(dir)
            .env("PATH", path)
            .env("PRE_COMMIT_HOME", self.cache.path())
            .env("NO_COLOR", "1")
            .env("CARGO_NET_OFFLINE", "true")
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256")
            .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
            .env("CARGO_INCREMENTAL", "0")
            .args(["try-repo", env!("CARGO_MANIFEST_DIR"), hook])
            .args(args)
            .arg("--verbose")
            .output()
            .unwrap()
    }
}

/// The staged hook, built by pre-commit: a staged key fails, a placeholder
/// passes.
#[test]
fn pre_commit_framework_runs_the_leakhound_hook() {
    let pc = PreCommit::available();
    let r = Repo::init();
    r.write("README", "hello\n");
    r.commit("Start");
    r.write(
        "deploy/.env",
        &format!("KUNAVO_API_KEY={}\n", kunavo_key(52)),
    );
    r.git(&["add", "-A"]);
    let out = pc.try_repo(r.path(), "leakhound", &[]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("Failed"), "{said}");
    assert!(said.contains("deploy/.env:1:16  kunavo-api-key"), "{said}");
    assert!(!said.contains(&kunavo_key(52)), "{said}");

    r.write("deploy/.env", "KUNAVO_API_KEY=${KUNAVO_API_KEY}\n");
    r.git(&["add", "-A"]);
    let out = pc.try_repo(r.path(), "leakhound", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Passed"), "{}", text(&out));
}

/// `pre-commit run --all-files` (what pre-commit.ci runs) fails on a key
/// committed long ago: the files hook scans the files pre-commit passes.
/// The staged hook alone passes there, which is why the files hook exists.
#[test]
fn pre_commit_all_files_fails_on_a_committed_key() {
    let pc = PreCommit::available();
    let r = Repo::init();
    r.write("README", "hello\n");
    r.write(
        "config/old.env",
        &format!("# from 2019\nKUNAVO_API_KEY={}\n", kunavo_key(53)),
    );
    r.commit("Old config");
    r.write("src/main.py", "print('hi')\n");
    r.commit("Code");

    for hook in ["leakhound-files", "leakhound-files-system"] {
        let out = pc.try_repo(r.path(), hook, &["--all-files"]);
        let said = text(&out);
        assert!(!out.status.success(), "{hook}: {said}");
        assert!(said.contains("Failed"), "{hook}: {said}");
        assert!(
            said.contains("config/old.env:2:16  kunavo-api-key"),
            "{hook}: {said}"
        );
        assert!(!said.contains(&kunavo_key(53)), "{said}");
    }
    // Nothing staged: the staged hook has nothing to say about history.
    let out = pc.try_repo(r.path(), "leakhound", &["--all-files"]);
    assert!(out.status.success(), "{}", text(&out));

    // Once the key is gone from the files, the files hook passes.
    r.write(
        "config/old.env",
        "# from 2019\nKUNAVO_API_KEY=${KUNAVO_API_KEY}\n",
    );
    r.commit("Rotate");
    let out = pc.try_repo(r.path(), "leakhound-files", &["--all-files"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Passed"), "{}", text(&out));
}
