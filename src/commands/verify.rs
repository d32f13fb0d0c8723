//! `leakhound verify REPORT.json`, and the verification step `scan
//! --verify` shares with it.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::cli::VerifyArgs;
use crate::config::Config;
use crate::report::{self, ReportContext};
use crate::scan::ScanOutcome;
use crate::verify::Verifier;

use super::exit_code;
use super::interrupt::catch_interrupts;
use super::output::write_output;

/// `leakhound verify REPORT.json`: the report's findings, verified again.
pub fn run(args: &VerifyArgs) -> anyhow::Result<u8> {
    let mut config = Config::from_verify_args(args)?;
    let options = config
        .verify
        .clone()
        .expect("Config::from_verify_args always sets verification options");
    let verifier = Verifier::new(&config.providers, options)?;
    let rules = config.take_rule_set()?;
    let (findings, stats) = report::read_report(&args.report, &rules)?;
    let mut outcome = ScanOutcome { findings, stats };
    let interrupt = catch_interrupts(config.report.quiet);
    verify_outcome(&verifier, &config, &mut outcome, &interrupt);
    let ctx = ReportContext {
        options: &config.report,
        rules: &rules,
        stats: &outcome.stats,
        roots: &[],
        config_files: &config.config_files,
    };
    write_output(config.report.output.as_deref(), |out| {
        report::write(out, &outcome.findings, &ctx)
    })?;
    // The saved report's read errors were the original scan's: they are
    // reported again, but they do not make this run an error.
    outcome.stats.errors.clear();
    Ok(exit_code(&config, &outcome))
}

/// Verify the outcome's findings (`interrupt` stops the run), then apply
/// `--only-verified`.
pub(crate) fn verify_outcome(
    verifier: &Verifier,
    config: &Config,
    outcome: &mut ScanOutcome,
    interrupt: &Arc<AtomicBool>,
) {
    let summary = verifier.verify(&mut outcome.findings, interrupt);
    if summary.interrupted && !config.report.quiet {
        eprintln!(
            "leakhound: interrupted: unfinished checks are reported as unknown (interrupted)"
        );
    }
    super::warn_unverified(config, &summary);
    super::record_verification(config, outcome, summary);
}
