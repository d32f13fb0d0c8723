//! `leakhound report --datastore PATH`.

use crate::cli::ReportArgs;
use crate::config;
use crate::report::{self, ReportContext};
use crate::rules::{self, RuleSet};

use super::output::write_output;
use super::{CLEAN, FINDINGS};

/// `leakhound report --datastore PATH`: the findings an audit recorded,
/// filtered, in any format (always redacted: the datastore holds no raw
/// secret).
pub fn run(args: &ReportArgs) -> anyhow::Result<u8> {
    let options = config::datastore_report_options(args)?;
    let store = crate::datastore::Datastore::open_read_only(&args.datastore)?;
    let filter = crate::datastore::Filter {
        repositories: args.repository.clone(),
        providers: args.provider.clone(),
        verdicts: args.verdict.clone(),
        since: args.since.clone(),
    };
    let mut findings = store.findings(&filter)?;
    crate::scan::sort_findings(&mut findings);
    let repositories = store.repositories()?;
    let rules = RuleSet::new(rules::builtin_rules()?)?;
    let stats = crate::scan::Stats {
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
