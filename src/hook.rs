//! `leakhound install-hook`: a git pre-commit hook that runs the staged
//! scan, and the message a blocked commit shows.
//!
//! The hook goes where git looks for hooks (`core.hooksPath`, else the
//! common git directory's `hooks/`, shared by linked worktrees). A hook that
//! leakhound did not write is never replaced silently: `--force` replaces
//! it and keeps it beside the new one.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::source::git::open_repo;

/// The line that marks a hook as leakhound's own.
const MARKER: &str = "# leakhound pre-commit hook";
/// Where `--force` keeps the hook it replaces.
const BACKUP_NAME: &str = "pre-commit.leakhound-backup";

/// What `install` did.
#[derive(Debug)]
pub struct Installed {
    /// The hook file written.
    pub path: PathBuf,
    /// A hook of leakhound's that was there and is now updated.
    pub updated: bool,
    /// Where a foreign hook replaced with `force` was kept.
    pub backup: Option<PathBuf>,
}

/// Write the pre-commit hook into the repository at or above `repo_path`.
/// `exe` is the leakhound binary the hook runs when it still exists (a
/// `leakhound` on `PATH` otherwise).
pub fn install(repo_path: &Path, force: bool, exe: &Path) -> Result<Installed> {
    let repo = open_repo(repo_path)?;
    if repo.is_bare() {
        return Err(Error::Git {
            path: repo_path.to_path_buf(),
            message: "a bare repository has no commits made in it to check".into(),
        });
    }
    let dir = hooks_dir(&repo);
    let path = dir.join("pre-commit");
    let io_err = |path: &Path, source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut updated = false;
    let mut backup = None;
    match std::fs::read(&path) {
        Ok(existing) if is_ours(&existing) => updated = true,
        Ok(_) if force => {
            let to = dir.join(BACKUP_NAME);
            std::fs::rename(&path, &to).map_err(|e| io_err(&path, e))?;
            backup = Some(to);
        }
        Ok(_) => {
            return Err(Error::Usage(format!(
                "{} exists and leakhound did not write it; add `leakhound scan --staged` to it, \
                 or run `leakhound install-hook --force` to replace it (it is kept as {BACKUP_NAME})",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&path, e)),
    }
    std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    std::fs::write(&path, script(exe)).map_err(|e| io_err(&path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| io_err(&path, e))?;
    }
    Ok(Installed {
        path,
        updated,
        backup,
    })
}

fn hooks_dir(repo: &git2::Repository) -> PathBuf {
    let configured = repo
        .config()
        .ok()
        .and_then(|c| c.get_path("core.hooksPath").ok());
    match configured {
        Some(p) if p.is_absolute() => p,
        // Relative to where hooks run: the top of the working tree.
        Some(p) => repo.workdir().unwrap_or(repo.path()).join(p),
        None => repo.commondir().join("hooks"),
    }
}

fn is_ours(hook: &[u8]) -> bool {
    memchr::memmem::find(hook, MARKER.as_bytes()).is_some()
}

/// The hook: run the binary that installed it if it is still there, else
/// the one on `PATH`; if neither exists, block and say how to get past.
/// It prints nothing when the commit is clean.
fn script(exe: &Path) -> String {
    let exe = exe.to_string_lossy().replace('\'', r"'\''");
    format!(
        r#"#!/bin/sh
{MARKER}, written by `leakhound install-hook`.
# Blocks commits whose staged changes add an API key.
# Skip it once with `git commit --no-verify`.
leakhound='{exe}'
if [ ! -x "$leakhound" ]; then
    leakhound=$(command -v leakhound) || {{
        echo "leakhound: not installed, so staged changes were not checked for secrets." >&2
        echo "Install it, or commit with --no-verify to skip this check." >&2
        exit 1
    }}
fi
# Silent on a clean commit: the report is shown only when the commit is
# blocked or the scan failed.
if [ -t 2 ] && [ -z "${{NO_COLOR:-}}" ]; then color=always; else color=never; fi
out=$("$leakhound" scan --staged --color "$color" 2>&1)
status=$?
[ "$status" -eq 0 ] || printf '%s\n' "$out" >&2
exit "$status"
"#
    )
}

/// What a blocked commit tells its author, after the findings.
pub fn blocked_message(findings: usize) -> String {
    format!(
        "leakhound: commit blocked: the staged changes add {findings} secret{s} (listed above).
  - A real key: remove it from the file and `git add` again, and rotate the key at its
    provider: it may already be in other places.
  - A false positive: put `leakhound:allow` in a comment on that line, or add its
    fingerprint (`leakhound scan --staged --format json`) to `[allowlist] fingerprints`
    in .leakhound.toml.
  - To skip the check once: git commit --no-verify",
        s = if findings == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_quotes_the_binary_path_and_is_recognised() {
        let s = script(Path::new("/opt/it's here/leakhound"));
        assert!(s.contains(r"leakhound='/opt/it'\''s here/leakhound'"));
        assert!(is_ours(s.as_bytes()));
        assert!(!is_ours(b"#!/bin/sh\nexec pre-commit\n"));
    }
}
