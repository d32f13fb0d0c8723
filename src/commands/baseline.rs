//! `leakhound baseline create`.

use crate::cli::BaselineCreateArgs;
use crate::config::Config;

use super::output::write_output;
use super::{CLEAN, ERROR};

/// `leakhound baseline create`: scan, then write the findings as a baseline.
pub fn create(args: &BaselineCreateArgs) -> anyhow::Result<u8> {
    let mut config = Config::from_baseline_args(args)?;
    let matcher = config.build_matcher()?;
    let outcome = crate::run_scan(&config.scan, &matcher);
    write_output(Some(&args.output), |out| {
        crate::baseline::write(out, &outcome.findings)
    })?;
    for e in &outcome.stats.errors {
        eprintln!(
            "leakhound: {}: {}",
            crate::text::sanitize(&e.path),
            crate::text::sanitize(&e.reason)
        );
    }
    if !args.quiet {
        eprintln!(
            "leakhound: wrote {} finding{} to {}; scan with `--baseline {}` to report only new ones",
            outcome.findings.len(),
            if outcome.findings.len() == 1 { "" } else { "s" },
            args.output.display(),
            args.output.display()
        );
    }
    Ok(if outcome.stats.errors.is_empty() {
        CLEAN
    } else {
        ERROR
    })
}
