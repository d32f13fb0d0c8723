//! `leakhound install-hook`.

use crate::cli::InstallHookArgs;

use super::CLEAN;

/// `leakhound install-hook [REPO]`: install (or update) the pre-commit hook.
pub fn install(args: &InstallHookArgs) -> anyhow::Result<u8> {
    let exe = std::env::current_exe()?;
    let done = crate::hook::install(&args.repo, args.force, &exe)?;
    if let Some(backup) = &done.backup {
        println!("kept the previous hook as {}", backup.display());
    }
    println!(
        "{} pre-commit hook {}: commits that add secrets are blocked",
        if done.updated { "updated" } else { "installed" },
        done.path.display()
    );
    Ok(CLEAN)
}
