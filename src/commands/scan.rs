//! `leakhound scan`: files, stdin, git history, ranges, the staged index or
//! an audit of remote repositories; then verification, revocation and the
//! reports.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::cli::ScanArgs;
use crate::config::Config;
use crate::finding::Finding;
use crate::report::{self, ReportContext};
use crate::scan::{GitScan, ScanOutcome};
use crate::verify::Verifier;

use super::interrupt::catch_interrupts;
use super::output::write_output;
use super::revoke::{revoke, revoker};
use super::verify::verify_outcome;
use super::{exit_code, CLEAN, ERROR};

/// `leakhound scan [PATH…]`.
pub fn run(args: &ScanArgs) -> anyhow::Result<u8> {
    let mut config = Config::from_scan_args(args)?;
    // A report left by an earlier run must never look like this run's: it
    // goes now, and this run's arrives whole (temp file + rename) or not at
    // all.
    for path in config
        .report
        .output
        .iter()
        .chain(args.reports.iter().map(|r| &r.path))
        .filter(|p| p.as_os_str() != "-")
    {
        if path.is_file() {
            std::fs::remove_file(path)
                .map_err(|e| anyhow::anyhow!("cannot replace {}: {e}", path.display()))?;
        }
    }
    let interrupt = catch_interrupts(config.report.quiet);
    config.scan.interrupt = Some(Arc::clone(&interrupt));
    // Built before the scan so a bad base URL or cache dir fails fast.
    let verifier = match &config.verify {
        Some(options) => Some(Verifier::new(&config.providers, options.clone())?),
        None => None,
    };
    let revoker = match (&config.revoke, &config.verify) {
        (Some(r), Some(v)) => Some(revoker(&config, r.clone(), v, &interrupt)?),
        _ => None,
    };
    let matcher = config.build_matcher()?;
    let mut audited: Option<Vec<String>> = None;
    let mut fresh = Vec::new();
    let mut outcome = if let Some(audit) = &config.audit {
        let done = crate::run_audit(audit, &config.scan, &matcher)?;
        audited = Some(done.repositories);
        fresh = done.fresh;
        done.outcome
    } else if config.scan.git.is_some() {
        crate::run_git_scan(&config.scan, &matcher)?
    } else {
        crate::run_scan(&config.scan, &matcher)
    };
    if let Some(ignore) = &config.gitleaks_ignore {
        apply_gitleaks_ignore(ignore, config.scan.verbose, &mut outcome);
    }
    let scan_interrupted = interrupt.load(Ordering::SeqCst);
    if scan_interrupted {
        outcome.stats.notes.push(
            "interrupted: the scan stopped early; what it had not reached is not in this report"
                .into(),
        );
        if !config.report.quiet {
            eprintln!("leakhound: interrupted: writing the report of what was scanned");
        }
    }
    let verifier = verifier.filter(|_| !scan_interrupted);
    let revoker = revoker.filter(|_| !scan_interrupted);
    let datastore = config.audit.as_ref().and_then(|a| a.datastore.as_deref());
    match (&verifier, datastore) {
        (Some(verifier), Some(path)) => {
            verify_audit(verifier, &config, &mut outcome, fresh, path, &interrupt)
        }
        (Some(verifier), None) => verify_outcome(verifier, &config, &mut outcome, &interrupt),
        (None, _) => {}
    }
    // After verification, so that a held-back key is verified too and
    // one found live (then `high`) is reported.
    crate::scan::hold_back(&mut outcome, config.scan.min_confidence);
    // Before the report is written, so it shows each key's state afterwards.
    // stdout carries the report: the revocation summary goes to stderr.
    // A revocation error (a missing admin token) is returned only after the
    // report is written: the scan's findings are never lost to it.
    let revoked = match &revoker {
        Some(r) => Some(revoke(
            r,
            &mut outcome.findings,
            &mut io::stderr().lock(),
            &interrupt,
        )),
        None => None,
    };
    let roots: Vec<String> = match audited {
        Some(repositories) => repositories,
        None => config
            .scan
            .paths
            .iter()
            .map(|p| root_label(p, config.scan.git.is_some()))
            .collect(),
    };
    let ctx = ReportContext {
        options: &config.report,
        rules: matcher.rules(),
        stats: &outcome.stats,
        roots: &roots,
        config_files: &config.config_files,
    };
    write_output(config.report.output.as_deref(), |out| {
        report::write(out, &outcome.findings, &ctx)
    })?;
    for target in &args.reports {
        let options = report::Options {
            format: target.format.into(),
            output: Some(target.path.clone()),
            color: false,
            ..config.report.clone()
        };
        let ctx = ReportContext {
            options: &options,
            ..ctx
        };
        write_output(Some(&target.path), |out| {
            report::write(out, &outcome.findings, &ctx)
        })?;
    }
    if !config.report.quiet {
        let written = config
            .report
            .output
            .iter()
            .map(|p| (config.report.format, p))
            .chain(args.reports.iter().map(|r| (r.format.into(), &r.path)))
            .filter(|(_, p)| p.as_os_str() != "-");
        for (format, path) in written {
            eprintln!(
                "leakhound: wrote {} to {} ({} report)",
                crate::text::plural(outcome.findings.len() as u64, "finding"),
                crate::text::sanitize(&path.display().to_string()),
                format!("{format:?}").to_lowercase(),
            );
        }
    }
    if config.scan.verbose {
        log_skips(&config, &outcome);
    }
    // Read errors go to stderr in every format (README): the text report
    // on stdout lists them too, but a redirected stdout must not hide them.
    if !config.report.quiet {
        for e in &outcome.stats.errors {
            eprintln!(
                "leakhound: {}: {}",
                crate::text::sanitize(&e.path),
                crate::text::sanitize(&e.reason)
            );
        }
    }
    let staged = config.scan.git == Some(GitScan::Staged);
    if staged && !config.report.quiet && !outcome.findings.is_empty() {
        eprintln!("{}", crate::hook::blocked_message(outcome.findings.len()));
    }
    let revoked = revoked.transpose()?;
    let code = exit_code(&config, &outcome);
    // An interrupted scan is not clean, whatever it found so far.
    let code = if scan_interrupted && code == CLEAN {
        ERROR
    } else {
        code
    };
    // `-q` keeps stderr quiet, but an exit status of 2 always says why.
    if config.report.quiet && code == ERROR && !outcome.stats.errors.is_empty() {
        let n = outcome.stats.errors.len();
        // A tree scan's errors are files; a history's, objects; an
        // audit's, repositories too: one wording for all of them.
        eprintln!(
            "leakhound: {} (files, objects or repositories that could not be read; run \
             without -q to see which)",
            crate::text::plural(n as u64, "error")
        );
    }
    // The process ends next: freeing the matcher's tables and the findings
    // piece by piece would only add to a pre-commit hook's time.
    std::mem::forget(matcher);
    std::mem::forget(outcome);
    Ok(match revoked {
        Some(r) if code != ERROR => code.max(r),
        _ => code,
    })
}

/// Drop the findings a `.gitleaksignore` fingerprint names; count them as
/// suppressed and say so in the summary's notes.
fn apply_gitleaks_ignore(
    ignore: &crate::gitleaks::Ignore,
    verbose: bool,
    outcome: &mut ScanOutcome,
) {
    let before = outcome.findings.len();
    let mut log = Vec::new();
    outcome.findings.retain(|f| {
        let covered = ignore.covers(f);
        if covered && verbose {
            log.push(crate::scan::PathNote {
                path: format!("{}:{}", f.path, f.line),
                reason: format!(
                    "a {} finding suppressed by {}",
                    f.rule_id,
                    ignore.path.display()
                ),
            });
        }
        !covered
    });
    let dropped = before - outcome.findings.len();
    outcome.stats.log.extend(log);
    outcome.stats.suppressed += dropped;
    outcome.stats.findings = outcome.findings.len();
    outcome.stats.notes.push(format!(
        "{}: {} read, {} suppressed",
        ignore.path.display(),
        crate::text::plural(ignore.len() as u64, "fingerprint"),
        crate::text::plural(dropped as u64, "finding"),
    ));
}

/// `--verbose`: what was not scanned or not reported, and why, one line
/// each on stderr; never a secret (paths, rule ids and reasons only).
fn log_skips(config: &Config, outcome: &ScanOutcome) {
    use crate::text::sanitize;
    let excluded = config
        .scan
        .allowlist
        .excluded
        .as_ref()
        .map(|log| {
            log.lock()
                .expect("exclusion log lock: never held across a panic")
                .clone()
        })
        .unwrap_or_default();
    for (path, why) in &excluded {
        eprintln!("leakhound: skipped {}: {}", sanitize(path), sanitize(why));
    }
    for note in &outcome.stats.skipped {
        eprintln!(
            "leakhound: skipped {}: {}",
            sanitize(&note.path),
            sanitize(&note.reason)
        );
    }
    for note in &outcome.stats.log {
        eprintln!(
            "leakhound: not reported {}: {}",
            sanitize(&note.path),
            sanitize(&note.reason)
        );
    }
}

/// An audit with a datastore: the report's findings are the datastore's
/// redacted copies, so this run's new findings (raw, in `fresh`) are
/// verified, their verdicts recorded, and copied onto the report's; the
/// findings of earlier runs keep the verdicts recorded then.
fn verify_audit(
    verifier: &Verifier,
    config: &Config,
    outcome: &mut ScanOutcome,
    mut fresh: Vec<Finding>,
    datastore: &std::path::Path,
    interrupt: &Arc<AtomicBool>,
) {
    let summary = verifier.verify(&mut fresh, interrupt);
    if summary.interrupted && !config.report.quiet {
        eprintln!(
            "leakhound: interrupted: unfinished checks are reported as unknown (interrupted)"
        );
    }
    super::warn_unverified(config, &summary);
    if let Err(e) = crate::audit::record_verdicts(datastore, &fresh, outcome) {
        outcome.stats.errors.push(crate::scan::PathNote {
            path: datastore.display().to_string(),
            reason: format!("verdicts not recorded: {e}"),
        });
    }
    super::record_verification(config, outcome, summary);
}

/// A scanned path as reports name it: a git scan of `.` is named after its
/// directory, the current directory of a file scan stays `.` (file
/// findings' paths are relative to it).
fn root_label(path: &std::path::Path, git: bool) -> String {
    let shown = crate::source::fs::display_path(path);
    if !shown.is_empty() && shown != "." {
        return shown;
    }
    let named = git
        .then(|| std::env::current_dir().ok())
        .flatten()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
    named.unwrap_or_else(|| ".".into())
}
