//! `leakhound config import-gitleaks`.

use crate::cli::{ConfigCheckArgs, ImportGitleaksArgs};
use crate::config::check::{check_file, trust_of};
use crate::config::{discover_config, user_config_path, Trust};

use super::output::write_output;
use super::CLEAN;

/// `leakhound config check [FILE]`: what `scan` would say about the
/// configuration it reads, every problem at once.
pub fn check(args: &ConfigCheckArgs) -> anyhow::Result<u8> {
    let files: Vec<(std::path::PathBuf, Trust)> = match &args.file {
        Some(file) => {
            if !file.is_file() {
                anyhow::bail!("{}: no such file", file.display());
            }
            vec![(file.clone(), trust_of(file))]
        }
        None => {
            let user = user_config_path()
                .filter(|p| p.is_file())
                .map(|p| (p, Trust::Trusted));
            let project = match &args.config {
                Some(f) => Some((f.clone(), Trust::Trusted)),
                None => discover_config().map(|p| (p, Trust::Discovered)),
            };
            user.into_iter().chain(project).collect()
        }
    };
    if files.is_empty() {
        println!(
            "no configuration file: no user config, and no {} in the current directory or at its repository root; scan runs with the built-in rules and defaults",
            crate::config::CONFIG_FILE_NAME
        );
        return Ok(CLEAN);
    }
    let mut code = CLEAN;
    for (path, trust) in files {
        let checked = check_file(&path, trust);
        for line in checked.diagnostics() {
            eprintln!("{line}");
        }
        for line in checked.report() {
            println!("{line}");
        }
        code = code.max(checked.exit_code());
    }
    Ok(code)
}

/// `leakhound config import-gitleaks`: convert, print what was left out.
pub fn import_gitleaks(args: &ImportGitleaksArgs) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let imported = crate::gitleaks::import(&text, &args.file.display().to_string())?;
    for w in &imported.warnings {
        eprintln!("leakhound: warning: {}", crate::text::sanitize_lines(w));
    }
    match &args.output {
        Some(path) => {
            if path.exists() && !args.force {
                anyhow::bail!("{} exists; pass --force to overwrite it", path.display());
            }
            write_output(Some(path), |out| out.write_all(imported.toml.as_bytes()))?;
            eprintln!(
                "leakhound: wrote {} ({} rule{} imported, {} skipped)",
                path.display(),
                imported.rules,
                if imported.rules == 1 { "" } else { "s" },
                imported.skipped
            );
        }
        None => write_output(None, |out| out.write_all(imported.toml.as_bytes()))?,
    }
    Ok(CLEAN)
}
