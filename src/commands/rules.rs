//! `leakhound rules list` and `leakhound rules check`.

use std::io::{self, Write};

use crate::cli::{ListFormat, RulesCommand};
use crate::config;
use crate::provider;
use crate::rules::{self, RuleSet};

use super::output::write_output;
use super::CLEAN;

/// `leakhound rules list` or `leakhound rules check FILE`.
pub fn run(command: RulesCommand) -> anyhow::Result<u8> {
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
            // The same check as `config check FILE`: every problem at once,
            // under the trust `scan` gives the file.
            if !file.is_file() {
                anyhow::bail!("{}: no such file", file.display());
            }
            let checked = config::check::check_file(&file, config::check::trust_of(&file));
            for line in checked.diagnostics() {
                eprintln!("{line}");
            }
            for line in checked.report() {
                println!("{line}");
            }
            if checked.rules == 0 && checked.errors.is_empty() {
                anyhow::bail!("{}: no [[rules]] to check", file.display());
            }
            Ok(checked.exit_code())
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
    let listed: Vec<(&crate::rules::Rule, bool)> = set
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
