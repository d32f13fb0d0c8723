//! `leakhound config import-gitleaks`.

use crate::cli::ImportGitleaksArgs;

use super::output::write_output;
use super::CLEAN;

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
