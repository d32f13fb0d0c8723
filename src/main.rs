//! The `leakhound` binary: parse arguments, dispatch to the subcommand's
//! module (`leakhound::commands`), map the outcome to an exit code. Only
//! this file exits the process (but for a second Ctrl-C, which ends a run
//! at once: `commands::interrupt`).

use std::io;
use std::process::ExitCode;

use clap::Parser;

use leakhound::cli::{BaselineCommand, Cli, Command, ConfigCommand, DatastoreCommand};
use leakhound::commands::{self, CLEAN, ERROR};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => commands::scan::run(&args),
        Command::Verify(args) => commands::verify::run(&args),
        Command::Revoke(args) => commands::revoke::run(&args),
        Command::InstallHook(args) => commands::hook::install(&args),
        Command::Rules { command } => commands::rules::run(command),
        Command::Baseline {
            command: BaselineCommand::Create(args),
        } => commands::baseline::create(&args),
        Command::Config {
            command: ConfigCommand::ImportGitleaks(args),
        } => commands::config::import_gitleaks(&args),
        Command::Config {
            command: ConfigCommand::Check(args),
        } => commands::config::check(&args),
        Command::Report(args) => commands::report::run(&args),
        Command::Datastore {
            command: DatastoreCommand::Merge(args),
        } => commands::datastore::merge(&args),
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
