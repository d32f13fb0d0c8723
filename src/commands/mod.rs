//! One module per subcommand: each takes its parsed arguments (`cli`),
//! resolves them into a `Config` (`config`), calls the library and returns
//! the exit status (cargo's `ops/`). `main.rs` parses, dispatches here and
//! maps an error to exit status 2; the exit statuses are written here, once.
//!
//! What two commands share lives here too: writing a report to a file or
//! stdout (`output`), catching Ctrl-C (`interrupt`), and the exit
//! status of a scan's outcome (`exit_code`).

pub mod baseline;
pub mod config;
pub mod datastore;
pub mod hook;
mod interrupt;
mod output;
pub mod report;
pub mod revoke;
pub mod rules;
pub mod scan;
pub mod verify;

use crate::config::{Config, FailOn};
use crate::scan::ScanOutcome;
use crate::verify::Verdict;

/// Exit status: no findings.
pub const CLEAN: u8 = 0;
/// Exit status: findings.
pub const FINDINGS: u8 = 1;
/// Exit status: an error.
pub const ERROR: u8 = 2;

/// Verification that could not happen is never silent where a gate trusts
/// verdicts (`--fail-on live`/`unverified`, `--only-verified`): a warning
/// on stderr, whatever `--quiet` says (the summary counts them too).
fn warn_unverified(config: &Config, summary: &crate::verify::VerifySummary) {
    let gate = if config.verify.as_ref().is_some_and(|v| v.only_verified) {
        "--only-verified"
    } else {
        match config.fail_on {
            FailOn::Live => "--fail-on live",
            FailOn::Unverified => "--fail-on unverified",
            FailOn::Any => return,
        }
    };
    if let Some(w) = summary.unverified_warning(gate) {
        eprintln!("leakhound: {w}");
    }
}

/// Verification's summary into the outcome: the run's time includes it
/// (often most of it), and `--only-verified` keeps only the live findings.
fn record_verification(
    config: &Config,
    outcome: &mut ScanOutcome,
    summary: crate::verify::VerifySummary,
) {
    outcome.stats.elapsed_ms += summary.elapsed_ms;
    outcome.stats.verification = Some(summary);
    if config.verify.as_ref().is_some_and(|v| v.only_verified) {
        outcome.findings.retain(|f| {
            f.verification
                .as_ref()
                .is_some_and(|v| v.verdict == Verdict::Live)
        });
        outcome.stats.findings = outcome.findings.len();
    }
}

/// 1 when the findings trip `--fail-on`; else 2 for read errors or an
/// interrupted verification (an incomplete run is not clean); else 0.
fn exit_code(config: &Config, outcome: &ScanOutcome) -> u8 {
    let fail = match config.fail_on {
        FailOn::Any => !outcome.findings.is_empty(),
        FailOn::Live => outcome.findings.iter().any(|f| {
            f.verification
                .as_ref()
                .is_some_and(|v| v.verdict == Verdict::Live)
        }),
        FailOn::Unverified => {
            outcome.findings.iter().any(|f| {
                f.verification
                    .as_ref()
                    .is_some_and(|v| v.verdict == Verdict::Live)
            }) || outcome
                .stats
                .verification
                .as_ref()
                .is_some_and(|v| v.unverified > 0)
        }
    };
    let interrupted = outcome
        .stats
        .verification
        .as_ref()
        .is_some_and(|v| v.interrupted);
    if fail {
        FINDINGS
    } else if !outcome.stats.errors.is_empty() || interrupted {
        ERROR
    } else {
        CLEAN
    }
}
