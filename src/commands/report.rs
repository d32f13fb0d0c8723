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
    // Each key once, with its exposure and status; `--open`: the open
    // ones and their findings only.
    let secrets = store.secrets(&args.repository, args.open)?;
    if args.open {
        let open: std::collections::HashSet<&str> = secrets
            .iter()
            .flat_map(|s| s.findings.iter().map(String::as_str))
            .collect();
        findings.retain(|f| open.contains(f.fingerprint.as_str()));
    }
    crate::scan::sort_findings(&mut findings);
    let repositories = store.repositories()?;
    let rules = RuleSet::new(rules::builtin_rules()?)?;
    let open_secrets = secrets.len();
    let stats = crate::scan::Stats {
        findings: findings.len(),
        repositories: Some(repositories.len() as u64),
        secrets,
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
    let found = if args.open {
        open_secrets > 0
    } else {
        !findings.is_empty()
    };
    Ok(if found { FINDINGS } else { CLEAN })
}
