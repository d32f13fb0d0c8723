//! The `leakhound` binary: parse arguments, call the library, map the outcome
//! to an exit code. Only this file exits the process.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;

use leakhound::cli::{Cli, Command, InstallHookArgs, ListFormat, RulesCommand, ScanArgs};
use leakhound::config::{self, Config};
use leakhound::engine::Matcher;
use leakhound::report::{self, ReportContext};
use leakhound::rules::{self, RuleSet};

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
        Command::InstallHook(args) => install_hook(&args),
        Command::Rules { command } => rules_command(command),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::from(CLEAN);
            }
            eprintln!("leakhound: error: {err:#}");
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
    let matcher = Matcher::new(config.take_rule_set()?);
    let outcome = if config.git.is_some() {
        leakhound::run_git_scan(&config, &matcher)?
    } else {
        leakhound::run_scan(&config, &matcher)
    };
    let ctx = ReportContext {
        options: &config.report,
        rules: matcher.rules(),
        stats: &outcome.stats,
    };
    write_output(config.report.output.as_deref(), |out| {
        report::write(out, &outcome.findings, &ctx)
    })?;
    let text_to_stdout =
        config.report.format == report::Format::Text && config.report.output.is_none();
    if !config.report.quiet && !text_to_stdout {
        for e in &outcome.stats.errors {
            eprintln!(
                "leakhound: {}: {}",
                leakhound::finding::sanitize(&e.path),
                leakhound::finding::sanitize(&e.reason)
            );
        }
    }
    let staged = config.git == Some(config::GitScan::Staged);
    if staged && !config.report.quiet && !outcome.findings.is_empty() {
        eprintln!(
            "{}",
            leakhound::hook::blocked_message(outcome.findings.len())
        );
    }
    Ok(if !outcome.findings.is_empty() {
        FINDINGS
    } else if !outcome.stats.errors.is_empty() {
        ERROR
    } else {
        CLEAN
    })
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

/// Run `write` against the output file or a buffered stdout.
fn write_output(
    path: Option<&std::path::Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    match path {
        Some(p) => {
            let file = File::create(p)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
            let mut out = BufWriter::new(file);
            write(&mut out)?;
            out.flush()?;
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
        RulesCommand::List { format, config } => {
            let rules = match &config {
                Some(path) => {
                    let file = config::load_config_file(path)?;
                    config::resolve_rules(&file, &path.display().to_string())?
                }
                None => rules::builtin_rules()?,
            };
            let set = RuleSet::new(rules)?;
            write_output(None, |out| list_rules(out, &set, format))?;
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
            let problems = rules::check::check(&matcher, &under_test);
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

fn list_rules(out: &mut dyn Write, set: &RuleSet, format: ListFormat) -> io::Result<()> {
    match format {
        ListFormat::Json => {
            let list: Vec<_> = set
                .rules()
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id(),
                        "provider": r.provider(),
                        "severity": r.spec.severity.as_str(),
                        "description": r.spec.description,
                        "keywords": r.spec.keywords,
                        "references": r.spec.references,
                        "origin": r.origin,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &list)?;
            writeln!(out)
        }
        ListFormat::Text => {
            let width = set.rules().iter().map(|r| r.id().len()).max().unwrap_or(0);
            for r in set.rules() {
                writeln!(
                    out,
                    "{:width$}  {:10}  {:8}  {}",
                    r.id(),
                    r.provider(),
                    r.spec.severity.as_str(),
                    r.spec.description
                )?;
            }
            writeln!(out, "{} rules", set.len())
        }
    }
}
