//! `leakhound revoke REPORT.json`, and the revocation step `scan --revoke`
//! shares with it.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::cli::RevokeArgs;
use crate::config::Config;
use crate::finding::Finding;
use crate::report;
use crate::revoke::{self as revocation, audit::AuditLog, Revoker, Status};
use crate::verify::{self as verification, Verifier};

use super::interrupt::catch_interrupts;
use super::{CLEAN, ERROR, FINDINGS};

/// `leakhound revoke REPORT.json`: verify the report's keys again, then
/// revoke the live ones (or show what would be revoked).
pub fn run(args: &RevokeArgs) -> anyhow::Result<u8> {
    let mut config = Config::from_revoke_args(args)?;
    let options = config
        .revoke
        .clone()
        .expect("Config::from_revoke_args always sets revocation options");
    let verify_options = config
        .verify
        .clone()
        .expect("Config::from_revoke_args always sets verification options");
    let interrupt = catch_interrupts(config.report.quiet);
    let revoker = revoker(&config, options, &verify_options, &interrupt)?;
    let rules = config.take_rule_set()?;
    let (mut findings, _) = report::read_report(&args.report, &rules)?;
    findings.retain(|f| revoker.selects(f));
    // A report's verdicts may be old: only what is live now is revoked.
    revoker.verify_fresh(&mut findings);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    revoke(&revoker, &mut findings, &mut out, &interrupt)
}

/// The revoker, confirming with a verifier of its own: never the cache,
/// never an ambiguous key (ambiguous keys are never revoked, so never sent
/// anywhere either). Ctrl-C (`interrupt`) stops its checks too.
pub(crate) fn revoker(
    config: &Config,
    options: revocation::Options,
    verify: &verification::Options,
    interrupt: &Arc<AtomicBool>,
) -> anyhow::Result<Revoker> {
    let fresh = verification::Options {
        cache_dir: None,
        ambiguous: Vec::new(),
        only_verified: false,
        // Revocation prints its own lines; a bar would tear them.
        progress: false,
        ..verify.clone()
    };
    let verifier = Verifier::new(&config.providers, fresh)?;
    let interrupt = Arc::clone(interrupt);
    let reverify = Box::new(move |findings: &mut [Finding]| {
        verifier.verify(findings, &interrupt);
    });
    Ok(Revoker::new(&config.providers, options, reverify)?)
}

/// Plan, print, and with `--yes` revoke; the exit status of the revocation
/// (an error when Ctrl-C stopped it).
pub(crate) fn revoke(
    revoker: &Revoker,
    findings: &mut [Finding],
    out: &mut dyn Write,
    interrupt: &AtomicBool,
) -> anyhow::Result<u8> {
    let mut plan = revoker.plan(findings);
    // Keys the verification could not settle are not revoked: say so.
    if let Some(w) = plan.unchecked_warning(findings) {
        eprintln!("leakhound: {w}");
    }
    let missing = revoker.missing_tokens(&plan);
    if plan.dry_run {
        revocation::write_text(out, &plan, findings, None)?;
        out.flush()?;
        if !missing.is_empty() {
            return Err(revocation::missing_tokens_error(&missing).into());
        }
    } else {
        if !missing.is_empty() {
            return Err(revocation::missing_tokens_error(&missing).into());
        }
        // Nothing to do touches nothing, not even the audit log.
        let path = &revoker.options().audit_log;
        let logged = if plan.count(Status::WouldRevoke) > 0 {
            let mut audit = AuditLog::open(path)?;
            revoker.execute(&mut plan, findings, &mut audit, interrupt)?;
            Some(path.as_path())
        } else {
            plan.dry_run = false;
            None
        };
        revocation::write_text(out, &plan, findings, logged)?;
        out.flush()?;
    }
    if interrupt.load(Ordering::SeqCst) {
        eprintln!("leakhound: interrupted: the audit log records every call that was made");
        return Ok(ERROR);
    }
    Ok(if plan.remaining() > 0 {
        FINDINGS
    } else {
        CLEAN
    })
}
