//! The `leakhound` binary: parse arguments, call the library, map the outcome
//! to an exit code. Only this file exits the process.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;

use leakhound::cli::{
    BaselineCommand, BaselineCreateArgs, Cli, Command, ConfigCommand, DatastoreCommand,
    ImportGitleaksArgs, InstallHookArgs, ListFormat, MergeArgs, ReportArgs, RevokeArgs,
    RulesCommand, ScanArgs, VerifyArgs,
};
use leakhound::config::{self, Config, FailOn};
use leakhound::engine::Matcher;
use leakhound::finding::Finding;
use leakhound::provider;
use leakhound::report::{self, ReportContext};
use leakhound::revoke::{self as revocation, audit::AuditLog, Revoker, Status};
use leakhound::rules::{self, RuleSet};
use leakhound::scan::GitScan;
use leakhound::scan::ScanOutcome;
use leakhound::verify::{self as verification, Verdict, Verifier};

/// Exit status: no findings.
const CLEAN: u8 = 0;
/// Exit status: findings.
const FINDINGS: u8 = 1;
/// Exit status: an error.
const ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan(&args),
        Command::Verify(args) => verify_report(&args),
        Command::Revoke(args) => revoke_report(&args),
        Command::InstallHook(args) => install_hook(&args),
        Command::Rules { command } => rules_command(command),
        Command::Baseline {
            command: BaselineCommand::Create(args),
        } => baseline_create(&args),
        Command::Config {
            command: ConfigCommand::ImportGitleaks(args),
        } => import_gitleaks(&args),
        Command::Report(args) => report_datastore(&args),
        Command::Datastore {
            command: DatastoreCommand::Merge(args),
        } => merge_datastores(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::from(CLEAN);
            }
            // Errors quote config values and paths: no line of them may
            // start a workflow command or carry a control character.
            eprintln!(
                "leakhound: error: {}",
                leakhound::text::sanitize_lines(&format!("{err:#}"))
            );
            ExitCode::from(ERROR)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn scan(args: &ScanArgs) -> anyhow::Result<u8> {
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
        let done = leakhound::run_audit(audit, &config.scan, &matcher)?;
        audited = Some(done.repositories);
        fresh = done.fresh;
        done.outcome
    } else if config.scan.git.is_some() {
        leakhound::run_git_scan(&config.scan, &matcher)?
    } else {
        leakhound::run_scan(&config.scan, &matcher)
    };
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
        (Some(verifier), None) => verify(verifier, &config, &mut outcome, &interrupt),
        (None, _) => {}
    }
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
    let text_to_stdout =
        config.report.format == report::Format::Text && config.report.output.is_none();
    if !config.report.quiet && !text_to_stdout {
        for e in &outcome.stats.errors {
            eprintln!(
                "leakhound: {}: {}",
                leakhound::text::sanitize(&e.path),
                leakhound::text::sanitize(&e.reason)
            );
        }
    }
    let staged = config.scan.git == Some(GitScan::Staged);
    if staged && !config.report.quiet && !outcome.findings.is_empty() {
        eprintln!(
            "{}",
            leakhound::hook::blocked_message(outcome.findings.len())
        );
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
        eprintln!(
            "leakhound: {n} file{} could not be read (run without -q to see which)",
            if n == 1 { "" } else { "s" }
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

/// `leakhound revoke REPORT.json`: verify the report's keys again, then
/// revoke the live ones (or show what would be revoked).
fn revoke_report(args: &RevokeArgs) -> anyhow::Result<u8> {
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
fn revoker(
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
fn revoke(
    revoker: &Revoker,
    findings: &mut [Finding],
    out: &mut dyn Write,
    interrupt: &AtomicBool,
) -> anyhow::Result<u8> {
    let mut plan = revoker.plan(findings);
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

/// `leakhound verify REPORT.json`: the report's findings, verified again.
fn verify_report(args: &VerifyArgs) -> anyhow::Result<u8> {
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
    verify(&verifier, &config, &mut outcome, &interrupt);
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

/// `leakhound report --datastore PATH`: the findings an audit recorded,
/// filtered, in any format (always redacted: the datastore holds no raw
/// secret).
fn report_datastore(args: &ReportArgs) -> anyhow::Result<u8> {
    let options = config::datastore_report_options(args)?;
    let store = leakhound::datastore::Datastore::open_read_only(&args.datastore)?;
    let filter = leakhound::datastore::Filter {
        repositories: args.repository.clone(),
        providers: args.provider.clone(),
        verdicts: args.verdict.clone(),
        since: args.since.clone(),
    };
    let mut findings = store.findings(&filter)?;
    leakhound::scan::sort_findings(&mut findings);
    let repositories = store.repositories()?;
    let rules = RuleSet::new(rules::builtin_rules()?)?;
    let stats = leakhound::scan::Stats {
        findings: findings.len(),
        repositories: Some(repositories.len() as u64),
        ..Default::default()
    };
    let ctx = ReportContext {
        options: &options,
        rules: &rules,
        stats: &stats,
        roots: &repositories,
        config_files: &[],
    };
    write_output(options.output.as_deref(), |out| {
        report::write(out, &findings, &ctx)
    })?;
    Ok(if findings.is_empty() { CLEAN } else { FINDINGS })
}

/// `leakhound datastore merge A B … -o ALL`.
fn merge_datastores(args: &MergeArgs) -> anyhow::Result<u8> {
    let summary = leakhound::datastore::merge(&args.inputs, &args.output)?;
    for (path, why) in &summary.failed {
        eprintln!(
            "leakhound: {}: {}",
            leakhound::text::sanitize(&path.display().to_string()),
            leakhound::text::sanitize(why)
        );
    }
    let merged = args.inputs.len() - summary.failed.len();
    eprintln!(
        "leakhound: merged {merged} datastore{} into {}: {} repositor{}, {} blobs, {} findings added",
        if merged == 1 { "" } else { "s" },
        args.output.display(),
        summary.repositories,
        if summary.repositories == 1 { "y" } else { "ies" },
        summary.blobs,
        summary.findings
    );
    Ok(if summary.failed.is_empty() {
        CLEAN
    } else {
        ERROR
    })
}

/// Ctrl-C and SIGTERM (what CI sends on cancel), caught once per run: the
/// first stops the scan or the verification and the report of what was done
/// is still written; a second one exits at once.
fn catch_interrupts(quiet: bool) -> Arc<AtomicBool> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupt);
    let installed = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    if installed.is_err() && !quiet {
        eprintln!("leakhound: warning: cannot catch Ctrl-C; interrupting loses the report");
    }
    interrupt
}

/// Verify the outcome's findings (`interrupt` stops the run), then apply
/// `--only-verified`.
fn verify(
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
    // The run's time includes verification, which is often most of it.
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
    if let Err(e) = leakhound::audit::record_verdicts(datastore, &fresh, outcome) {
        outcome.stats.errors.push(leakhound::scan::PathNote {
            path: datastore.display().to_string(),
            reason: format!("verdicts not recorded: {e}"),
        });
    }
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

/// `leakhound baseline create`: scan, then write the findings as a baseline.
fn baseline_create(args: &BaselineCreateArgs) -> anyhow::Result<u8> {
    let mut config = Config::from_baseline_args(args)?;
    let matcher = config.build_matcher()?;
    let outcome = leakhound::run_scan(&config.scan, &matcher);
    write_output(Some(&args.output), |out| {
        leakhound::baseline::write(out, &outcome.findings)
    })?;
    for e in &outcome.stats.errors {
        eprintln!(
            "leakhound: {}: {}",
            leakhound::text::sanitize(&e.path),
            leakhound::text::sanitize(&e.reason)
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

/// `leakhound config import-gitleaks`: convert, print what was left out.
fn import_gitleaks(args: &ImportGitleaksArgs) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let imported = leakhound::gitleaks::import(&text, &args.file.display().to_string())?;
    for w in &imported.warnings {
        eprintln!("leakhound: warning: {}", leakhound::text::sanitize_lines(w));
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

fn install_hook(args: &InstallHookArgs) -> anyhow::Result<u8> {
    let exe = std::env::current_exe()?;
    let done = leakhound::hook::install(&args.repo, args.force, &exe)?;
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

/// A scanned path as reports name it: a git scan of `.` is named after its
/// directory, the current directory of a file scan stays `.` (file
/// findings' paths are relative to it).
fn root_label(path: &std::path::Path, git: bool) -> String {
    let shown = leakhound::source::fs::display_path(path);
    if !shown.is_empty() && shown != "." {
        return shown;
    }
    let named = git
        .then(|| std::env::current_dir().ok())
        .flatten()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
    named.unwrap_or_else(|| ".".into())
}

/// Run `write` against the output file or a buffered stdout.
fn write_output(
    path: Option<&std::path::Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    // `-` is standard output here as everywhere on the command line.
    match path.filter(|p| p.as_os_str() != "-") {
        // A device, FIFO or socket (`-o /dev/null`, `-o >(cmd)`) is written
        // to, never renamed over: as root that would replace the device.
        Some(p) if std::fs::metadata(p).is_ok_and(|m| !m.is_file() && !m.is_dir()) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
            let mut out = BufWriter::new(file);
            write(&mut out)?;
            out.flush()?;
        }
        Some(p) => {
            // Written beside the target and renamed over it, so a reader
            // (or a run killed half-way) never sees half a report.
            let name = p
                .file_name()
                .ok_or_else(|| anyhow::anyhow!("cannot write {}: not a file name", p.display()))?;
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".leakhound-{}.tmp", std::process::id()));
            let tmp = p.with_file_name(tmp_name);
            let file = File::create(&tmp)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
            let mut out = BufWriter::new(file);
            let written = write(&mut out).and_then(|()| out.flush());
            drop(out);
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            std::fs::rename(&tmp, p).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                anyhow::anyhow!("cannot write {}: {e}", p.display())
            })?;
        }
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            write(&mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

fn rules_command(command: RulesCommand) -> anyhow::Result<u8> {
    match command {
        RulesCommand::List {
            format,
            config,
            verifiable,
        } => {
            let rules = match &config {
                Some(path) => {
                    let file = config::load_config_file(path)?;
                    config::resolve_rules(&file, &path.display().to_string())?
                }
                None => rules::builtin_rules()?,
            };
            let set = RuleSet::new(rules)?;
            let checks = provider::builtin_checks()?;
            let checked: Vec<bool> = set
                .rules()
                .iter()
                .map(|r| {
                    let samples: Vec<&str> = r
                        .spec
                        .examples
                        .iter()
                        .map(|e| e.secret.as_ref())
                        .chain(r.spec.keywords.iter().map(|k| k.as_ref()))
                        .collect();
                    checks
                        .iter()
                        .any(|c| c.provider == r.provider() && c.may_judge_rule(r.id(), &samples))
                })
                .collect();
            write_output(None, |out| {
                list_rules(out, &set, &checked, verifiable, format)
            })?;
            Ok(CLEAN)
        }
        RulesCommand::Check { file } => {
            let parsed = config::load_config_file(&file)?;
            let origin = file.display().to_string();
            let rules = config::resolve_rules(&parsed, &origin)?;
            let set = RuleSet::new(rules)?;
            let under_test: Vec<usize> = set
                .rules()
                .iter()
                .enumerate()
                .filter(|(_, r)| r.origin == origin)
                .map(|(i, _)| i)
                .collect();
            if under_test.is_empty() {
                anyhow::bail!("{origin}: no [[rules]] to check");
            }
            let matcher = Matcher::new(set);
            let problems = leakhound::lint::check(&matcher, &under_test);
            for p in &problems {
                println!("{p}");
            }
            let examples: usize = under_test
                .iter()
                .map(|&i| {
                    let r = &matcher.rules().rules()[i];
                    r.spec.examples.len() + r.spec.negative_examples.len()
                })
                .sum();
            println!(
                "{}: {} rule{}, {examples} examples checked, {} problem{}",
                origin,
                under_test.len(),
                if under_test.len() == 1 { "" } else { "s" },
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
            );
            Ok(if problems.is_empty() { CLEAN } else { FINDINGS })
        }
    }
}

/// `rules list`; `checked[i]`: rule `i`'s keys have a verification check.
fn list_rules(
    out: &mut dyn Write,
    set: &RuleSet,
    checked: &[bool],
    only_checked: bool,
    format: ListFormat,
) -> io::Result<()> {
    let listed: Vec<(&leakhound::rules::Rule, bool)> = set
        .rules()
        .iter()
        .zip(checked.iter().copied())
        .filter(|(_, c)| *c || !only_checked)
        .collect();
    match format {
        ListFormat::Json => {
            let list: Vec<_> = listed
                .iter()
                .map(|(r, verifiable)| {
                    serde_json::json!({
                        "id": r.id(),
                        "provider": r.provider(),
                        "severity": r.spec.severity.as_str(),
                        "description": r.spec.description,
                        "keywords": r.spec.keywords,
                        "references": r.spec.references,
                        "origin": r.origin,
                        "verifiable": verifiable,
                        "generic": r.spec.generic,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &list)?;
            writeln!(out)
        }
        ListFormat::Text => {
            let width = listed.iter().map(|(r, _)| r.id().len()).max().unwrap_or(0);
            for (r, verifiable) in &listed {
                writeln!(
                    out,
                    "{:width$}  {:10}  {:8}  {:10}  {}",
                    r.id(),
                    r.provider(),
                    r.spec.severity.as_str(),
                    if *verifiable { "verifiable" } else { "-" },
                    r.spec.description
                )?;
            }
            let mut providers: Vec<&str> = listed
                .iter()
                .filter(|(_, v)| *v)
                .map(|(r, _)| r.provider())
                .collect();
            providers.sort_unstable();
            providers.dedup();
            writeln!(
                out,
                "{} rules; {} verifiable ({} providers with a check)",
                listed.len(),
                listed.iter().filter(|(_, v)| *v).count(),
                providers.len()
            )
        }
        ListFormat::Markdown => {
            let providers: std::collections::HashSet<&str> =
                listed.iter().map(|(r, _)| r.provider()).collect();
            writeln!(
                out,
                "{} rules for {} providers; {} of them verifiable.\n",
                listed.len(),
                providers.len(),
                listed.iter().filter(|(_, v)| *v).count()
            )?;
            writeln!(
                out,
                "| rule id | provider | severity | matches | verifiable |"
            )?;
            writeln!(out, "|---|---|---|---|---|")?;
            for (r, verifiable) in &listed {
                writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} |",
                    r.id(),
                    r.provider(),
                    r.spec.severity.as_str(),
                    r.spec.description.replace('|', "\\|"),
                    if *verifiable { "yes" } else { "no" }
                )?;
            }
            Ok(())
        }
    }
}
