//! Command-line types (clap derive) and nothing else: `config.rs` turns them
//! into a `Config`, so the library never sees clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit status:
  0  no findings
  1  findings (for `scan`: at least one finding that was not suppressed;
     with `--fail-on live`: at least one key verified live)
  2  error (bad flags, config or rules; files that could not be read and no
     findings; verification interrupted by Ctrl-C and nothing to fail on)
  `revoke` and `scan --revoke`: 1 also when a live key remains unrevoked;
     see `leakhound revoke --help`";

/// Find leaked API keys in file trees, git history and stdin.
#[derive(Debug, Parser)]
#[command(name = "leakhound", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan files, directories or standard input (`-`) for secrets.
    Scan(ScanArgs),
    /// Verify the findings of a saved JSON report again (the report must have
    /// been written with `--show-secrets`; a redacted report cannot be).
    Verify(VerifyArgs),
    /// Revoke the live keys of a saved JSON report through the providers'
    /// admin APIs (dry run unless --yes; see docs/revoke.md).
    Revoke(RevokeArgs),
    /// Install a git pre-commit hook that runs `leakhound scan --staged`.
    InstallHook(InstallHookArgs),
    /// List the built-in rules or check a rule file.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Record the current findings as accepted (`scan --baseline` then
    /// reports only new ones).
    Baseline {
        #[command(subcommand)]
        command: BaselineCommand,
    },
    /// Write a report from an audit's datastore (docs/audit.md).
    Report(ReportArgs),
    /// Work with audit datastores: merge shards.
    Datastore {
        #[command(subcommand)]
        command: DatastoreCommand,
    },
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// Which configuration file a run reads; shared by `scan`, `baseline
/// create`, `verify` and `revoke` (`verify` and `revoke` say in their help
/// which sections they use, through `mut_arg`).
#[derive(Clone, Debug, Default, Args)]
pub struct ConfigArgs {
    /// Configuration file [default: `.leakhound.toml` in the current
    /// directory, else at the root of its git repository, if present].
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Do not read `.leakhound.toml` even if present.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,
}

/// Which configuration and which files a scan reads; shared by `scan` and
/// `baseline create`.
#[derive(Clone, Debug, Default, Args)]
pub struct FileArgs {
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Scan files that .gitignore and .ignore exclude.
    #[arg(long)]
    pub no_ignore: bool,

    /// Follow symbolic links.
    #[arg(long, short = 'L')]
    pub follow: bool,

    /// Skip files larger than this: bytes, or a number with K, M or G
    /// (powers of 1024; `500k`, `1.5M`, `1MB`) [default: 100M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_file_size: Option<u64>,

    /// Worker threads [default: one per core].
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,

    /// Open archives (zip, jar, whl, tar, .tar.gz, .gz, …) nested up to N
    /// deep and scan their entries (0 scans them as plain bytes) [default: 4].
    #[arg(long, value_name = "N")]
    pub archive_depth: Option<u32>,

    /// Scan archives as plain bytes, without opening them (--archive-depth 0).
    #[arg(long, conflicts_with = "archive_depth")]
    pub no_archives: bool,

    /// Do not scan paths matching GLOB (repeatable; added to the config's
    /// `[allowlist] paths`): `--exclude-path 'tests/**'`.
    #[arg(long, value_name = "GLOB")]
    pub exclude_path: Vec<String>,

    /// Scan only the paths matching GLOB (repeatable): `--include-path
    /// 'src/**'`. Exclusions still apply.
    #[arg(long, value_name = "GLOB")]
    pub include_path: Vec<String>,

    /// Log on standard error what was not scanned or not reported, and why:
    /// files skipped by size or path rules, findings suppressed by an
    /// allowlist, the baseline or `.gitleaksignore` (never a secret).
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Scan and write the findings as a baseline file (fingerprints and
    /// redacted secrets only; raw secrets are never stored). Exit status 0
    /// with or without findings; 2 on errors.
    Create(BaselineCreateArgs),
}

#[derive(Debug, Args)]
pub struct BaselineCreateArgs {
    /// Files or directories to scan.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,

    /// Where to write the baseline.
    #[arg(
        long,
        short = 'o',
        value_name = "FILE",
        default_value = ".leakhound-baseline.json"
    )]
    pub output: PathBuf,

    #[command(flatten)]
    pub files: FileArgs,

    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Convert a gitleaks configuration (`.gitleaks.toml`, v8) into a
    /// `.leakhound.toml`; what cannot be converted is named on stderr
    /// (docs/config.md). Exit status 0 once converted; 2 on errors.
    ImportGitleaks(ImportGitleaksArgs),
    /// Check a configuration as `scan` reads it and report every problem at
    /// once: unknown keys, bad values and bounds, what a `.leakhound.toml`
    /// found by itself may not set, rules that do not compile and their
    /// examples (docs/config.md). Exit status 0 when `scan` would accept it
    /// (warnings allowed), 1 when a rule's examples fail, 2 when `scan`
    /// would refuse it.
    Check(ConfigCheckArgs),
}

#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    /// The file to check, judged as `scan` run here would judge it: trusted
    /// less when it is the `.leakhound.toml` that `scan` finds by itself.
    /// Default: what `scan` reads here (your user config, then `--config
    /// FILE` or the project's `.leakhound.toml`).
    #[arg(value_name = "FILE", conflicts_with = "config")]
    pub file: Option<PathBuf>,

    /// Check what `scan --config FILE` reads: your user config and FILE,
    /// trusted.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportGitleaksArgs {
    /// The gitleaks configuration to read.
    #[arg(value_name = "FILE", default_value = ".gitleaks.toml")]
    pub file: PathBuf,

    /// Write the result to FILE instead of standard output (an existing
    /// file is not overwritten unless --force).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Overwrite --output if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Print the rules a scan would run (built-in plus the config's).
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        /// Configuration file whose rules are listed too.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Only the rules whose keys `--verify` can check with their
        /// provider (docs/verify.md lists the checks).
        #[arg(long)]
        verifiable: bool,
    },
    /// Lint a rule file: compile every rule and run its examples and negative
    /// examples, alone and against the whole rule set.
    Check {
        /// A TOML file with `[[rules]]` entries (a rule file or `.leakhound.toml`).
        file: PathBuf,
    },
    /// The egress manifest: every host each verifiable rule's keys may be
    /// sent to, for verification and revocation (docs/verify.md#egress).
    Hosts {
        /// Output format: text, or JSON for tools.
        #[arg(long, value_enum, default_value_t = HostsFormat::Text)]
        format: HostsFormat,
        /// Configuration file whose rules and `[providers.NAME]` overrides
        /// (base URLs, hosts, revocation URLs) apply.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HostsFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
    /// The table in docs/rules.md (regenerate it with
    /// `leakhound rules list --format markdown`).
    Markdown,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable report with a summary.
    #[default]
    Text,
    /// One JSON object: `findings` and `stats` (docs/report-format.md).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// GitHub Actions workflow commands (annotations).
    Github,
    /// One JSON finding per line, then a line with the statistics.
    Jsonl,
    /// JUnit XML: a failed test case per finding, for CI test reports.
    Junit,
    /// A Markdown summary table (always redacted), for job summaries and
    /// pull-request comments.
    Markdown,
    /// One self-contained HTML page: a summary and a sortable, filterable
    /// table of the findings (no network, no external files).
    Html,
}

/// `--report FORMAT=FILE`: one more report written by the same scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportTarget {
    pub format: Format,
    pub path: PathBuf,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Color when stdout is a terminal and NO_COLOR is unset.
    #[default]
    Auto,
    Always,
    Never,
}

/// Where the report goes and how it looks; shared by `scan` and `verify`
/// (`config.rs` turns it into `report::Options`).
///
/// Help order: clap lists options in the order they are added, and each
/// command lists its configuration flags between `--output` and
/// `--show-secrets`. So `--format` and `--output` take the first two
/// places explicitly, and each command adds its configuration flags first,
/// from place 2 (`next_display_order = 2`), then this struct.
#[derive(Clone, Debug, Default, Args)]
pub struct OutputArgs {
    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text, display_order = 0)]
    pub format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(long = "output", short = 'o', value_name = "FILE", display_order = 1)]
    pub file: Option<PathBuf>,

    /// Print secrets in full instead of redacted to their prefix.
    #[arg(long)]
    pub show_secrets: bool,

    /// When to use color in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print findings only: no summary, no progress, no warnings.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `scan --help`: examples, then the exit statuses.
const SCAN_AFTER_HELP: &str = "\
Examples:
  leakhound scan                          the current directory
  leakhound scan --git                    every commit of the repository here
  leakhound scan --range origin/main..HEAD  what a pull request adds
  leakhound scan --staged                 what `git commit` would add
  leakhound scan -o report.sarif -f sarif --exclude-path 'tests/**' src
  leakhound scan --provider github --only-verified
  cat .env | leakhound scan -

Exit status:
  0  no findings
  1  at least one finding that was not suppressed (with `--fail-on live`:
     a key verified live; with `--revoke`: also a live key left unrevoked)
  2  error (bad flags, config or rules; files that could not be read and no
     findings; an interrupted scan or verification and nothing to fail on)";

#[derive(Debug, Default, Args)]
#[command(after_help = SCAN_AFTER_HELP)]
#[command(mut_arg("rules", |a| a
    .help("Run only rule ID (repeatable); with --revoke, every rule runs and only the keys of rule ID are revoked")
    .help_heading(None::<&str>)))]
#[command(mut_arg("providers", |a| a
    .help("Run only the rules of PROVIDER (repeatable; `leakhound rules list` names them); with --revoke, every rule runs and only the keys of PROVIDER are revoked")
    .help_heading(None::<&str>)))]
pub struct ScanArgs {
    /// Files or directories to scan; `-` reads standard input.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,

    #[command(flatten, next_display_order = 2)]
    pub files: FileArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Decode every base64 run of 20 characters or more, not only the runs
    /// that hold an encoded rule keyword (and the values after
    /// `.dockerconfigjson`, `"auth":`, `Authorization: Basic`). Finds keys
    /// whose keyword sits at an alignment too short to search for. Slower.
    #[arg(long)]
    pub decode_all: bool,

    /// Report the findings at this confidence or above: `high`, `medium`
    /// or `low` (docs/rules.md, "Confidence"). Findings below it are held
    /// back and counted in the summary; with `--verify` they are still
    /// verified, and one that is live is reported [default: `[scan]
    /// min_confidence`, else `medium`].
    #[arg(long, value_name = "LEVEL", value_parser = parse_confidence)]
    pub min_confidence: Option<crate::finding::Confidence>,

    /// A previous JSON report (or `leakhound baseline` file) whose findings
    /// are not reported again.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Also write the report in FORMAT to FILE, from the same scan
    /// (repeatable): `--report sarif=leakhound.sarif --report json=out.json`.
    #[arg(long = "report", value_name = "FORMAT=FILE", value_parser = parse_report_target)]
    pub reports: Vec<ReportTarget>,

    /// Run every rule but rule ID (repeatable; as the config's
    /// `disabled_rules`).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub disable_rule: Vec<String>,

    /// Read gitleaks fingerprints (`file:rule-id:line`,
    /// `commit:file:rule-id:line`) of findings not to report from FILE
    /// [default: `.gitleaksignore` beside the discovered config, if present].
    #[arg(long, value_name = "FILE")]
    pub gitleaksignore: Option<PathBuf>,

    /// Do not read `.gitleaksignore` even if present (`--no-config` does not
    /// read it either).
    #[arg(long, conflicts_with = "gitleaksignore")]
    pub no_gitleaksignore: bool,

    /// Scan the git history of the repository at PATH (`.` if none): every
    /// blob reachable from any ref, once, plus uncommitted files. A PATH
    /// that is a remote URL is mirrored first, as with --git-url.
    #[arg(long, conflicts_with_all = ["since", "range"], help_heading = "Git")]
    pub git: bool,

    /// With --git: also scan objects no ref reaches (amended or dropped
    /// commits, dangling blobs).
    #[arg(long, requires = "git", help_heading = "Git")]
    pub all_objects: bool,

    /// Leave out the report's secrets (on by default for --git, --range,
    /// --since and audits): each key once, with the refs that still reach
    /// it, or for a range whether BASE's history already held it
    /// (docs/audit.md, "Exposure"). They cost little time (about 1% on
    /// git/git's mirror) and some memory (11% there: docs/performance.md).
    #[arg(long, help_heading = "Git")]
    pub no_exposure: bool,

    /// Scan only the lines added by the commits after REV (REV..HEAD).
    #[arg(long, value_name = "REV", conflicts_with_all = ["range", "all_objects"], help_heading = "Git")]
    pub since: Option<String>,

    /// Scan only the lines added by the commits in BASE..HEAD (pull-request
    /// checks; HEAD may be omitted).
    #[arg(
        long,
        value_name = "BASE..HEAD",
        conflicts_with = "all_objects",
        help_heading = "Git"
    )]
    pub range: Option<String>,

    /// Scan only the lines `git commit` would add: the index against HEAD.
    #[arg(long, conflicts_with_all = ["git", "since", "range"], help_heading = "Git")]
    pub staged: bool,

    /// Ask each key's provider whether the key works (one read-only request
    /// per unique key, only to that provider's base URL; see docs/verify.md).
    #[arg(long)]
    pub verify: bool,

    /// What makes the exit status 1: any finding, or a key verified live
    /// (needs --verify).
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = FailOn::Any)]
    pub fail_on: FailOn,

    #[command(flatten)]
    pub verify_options: VerifyOptionsArgs,

    /// After verification, revoke the live keys through their providers'
    /// admin APIs (needs --verify; dry run unless --yes; docs/revoke.md).
    #[arg(long, help_heading = "Revocation")]
    pub revoke: bool,

    #[command(flatten)]
    pub revoke_options: RevokeOptionsArgs,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Audits of remote repositories and whole organisations (docs/audit.md).
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Audit (docs/audit.md)")]
pub struct RemoteArgs {
    /// Clone (as a bare mirror, with the system git) and scan the history of
    /// the repository at URL (https, ssh, git, file; repeatable).
    #[arg(long, value_name = "URL", conflicts_with_all = ["staged", "since", "range"])]
    pub git_url: Vec<String>,

    /// Audit the repositories listed in FILE, one URL a line (`#` comments).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["staged", "since", "range"])]
    pub git_urls: Option<PathBuf>,

    /// Audit every repository of a GitHub organisation (repeatable; token
    /// from GITHUB_TOKEN).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["staged", "since", "range"])]
    pub github_org: Vec<String>,

    /// Audit every repository of a GitHub user (repeatable).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["staged", "since", "range"])]
    pub github_user: Vec<String>,

    /// Audit every project of a GitLab group and its subgroups (repeatable;
    /// token from GITLAB_TOKEN).
    #[arg(long, value_name = "GROUP", conflicts_with_all = ["staged", "since", "range"])]
    pub gitlab_group: Vec<String>,

    /// Audit every project of a GitLab user (repeatable).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["staged", "since", "range"])]
    pub gitlab_user: Vec<String>,

    /// The hosting API for GitHub Enterprise (`https://HOST/api/v3`) or a
    /// self-managed GitLab (`https://HOST/api/v4`); https only (plain http
    /// to a loopback address) [default: the public service's].
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,

    /// Also audit forks (left out by default: they mostly hold their
    /// upstream's history).
    #[arg(long)]
    pub forks: bool,

    /// Leave archived repositories out.
    #[arg(long)]
    pub no_archived: bool,

    /// Audit only the listed repositories whose full name (`owner/name`)
    /// matches GLOB (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Leave out the listed repositories whose full name matches GLOB
    /// (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Where mirrors are kept between runs [default: leakhound/clones in
    /// the user cache directory].
    #[arg(long, visible_alias = "clone-cache", value_name = "DIR")]
    pub clone_dir: Option<PathBuf>,

    /// Clones and fetches at a time [default: 4].
    #[arg(long, value_name = "N")]
    pub clone_jobs: Option<usize>,

    /// Longest one clone or fetch may take (`30m`, `90s`) [default: 1h].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub clone_timeout: Option<std::time::Duration>,

    /// Record the audit in an SQLite datastore, and skip the blobs it holds
    /// from earlier runs under the same rules. A new datastore names
    /// secrets with a random key, or with $LEAKHOUND_EXPOSURE_KEY (64 hex
    /// digits) so that shards' datastores merge with their secrets.
    #[arg(long, value_name = "PATH")]
    pub datastore: Option<PathBuf>,

    /// Audit only shard I of N of the repositories (`2/4`), split by a
    /// stable hash of each URL; `auto` reads a Kubernetes Indexed Job's
    /// JOB_COMPLETION_INDEX/JOB_COMPLETIONS (or GitLab CI's, CircleCI's,
    /// Buildkite's parallel-job variables).
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
}

/// `leakhound report --datastore PATH`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The datastore an audit wrote (`scan --datastore`).
    #[arg(long, value_name = "PATH", required = true)]
    pub datastore: PathBuf,

    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Only the findings of this repository (its URL as reports show it;
    /// repeatable).
    #[arg(long, value_name = "URL")]
    pub repository: Vec<String>,

    /// Only the findings of this provider (repeatable).
    #[arg(long, value_name = "NAME")]
    pub provider: Vec<String>,

    /// Only the findings with this verdict (repeatable): live, dead,
    /// unknown, or unverified (never checked).
    #[arg(long, value_name = "VERDICT", value_parser = ["live", "dead", "unknown", "unverified"])]
    pub verdict: Vec<String>,

    /// Only the findings whose commit is dated on or after DATE
    /// (`2024-01-31`).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,

    /// Only the open secrets, worst first (live and in HEAD first), and
    /// their findings: a secret is open until it is dead (verified, or
    /// revoked) and no branch or tag reaches it, or is closed by hand
    /// (docs/audit.md, "Exposure"). Exit status 1 while any is open.
    #[arg(long)]
    pub open: bool,

    /// When to use color in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum DatastoreCommand {
    /// Join the datastores of an audit's shards into one (exit status 0;
    /// 2 when an input could not be read, after merging the others). Their
    /// secrets join when the shards shared $LEAKHOUND_EXPOSURE_KEY.
    Merge(MergeArgs),
    /// Close a secret by hand, with a reason (recorded with the time): a
    /// test password that was never real, a key rotated outside leakhound.
    Close(CloseArgs),
    /// Link the revocations in an audit log (`revoke --audit-log`) to the
    /// datastore's secrets; a revoked key no branch or tag reaches is
    /// closed.
    LinkRevocations(LinkRevocationsArgs),
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    /// The datastore.
    #[arg(value_name = "DATASTORE")]
    pub datastore: PathBuf,

    /// The secret's id as reports show it (its first 7 characters or more).
    #[arg(value_name = "ID")]
    pub id: String,

    /// Why it is closed (recorded).
    #[arg(long, value_name = "TEXT", required = true)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct LinkRevocationsArgs {
    /// The datastore.
    #[arg(value_name = "DATASTORE")]
    pub datastore: PathBuf,

    /// The audit log `leakhound revoke --audit-log FILE` wrote.
    #[arg(long, value_name = "FILE", required = true)]
    pub audit_log: PathBuf,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The datastores to merge.
    #[arg(value_name = "DATASTORE", required = true)]
    pub inputs: Vec<PathBuf>,

    /// The merged datastore (created, or added to).
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: PathBuf,
}

/// `leakhound verify REPORT.json`.
#[derive(Debug, Args)]
#[command(next_display_order = 2)]
#[command(mut_arg("config", |a| a.help(
    "Configuration file (default: `.leakhound.toml` in the current directory, else at the \
     root of its git repository, if present), for `[providers.NAME] base_url` and `[verify]`"
)))]
pub struct VerifyArgs {
    /// A JSON report written by `leakhound scan --format json --show-secrets`.
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,

    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    /// What makes the exit status 1: any finding, or a key verified live.
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = FailOn::Any)]
    pub fail_on: FailOn,

    #[command(flatten)]
    pub verify_options: VerifyOptionsArgs,
}

/// `leakhound revoke REPORT.json`.
#[derive(Debug, Args)]
#[command(after_help = REVOKE_AFTER_HELP)]
#[command(mut_arg("config", |a| a.help(
    "Configuration file (default: `.leakhound.toml` in the current directory, else at the \
     root of its git repository, if present), for `[providers.NAME]` and `[verify]`"
)))]
pub struct RevokeArgs {
    /// A JSON report written with `--show-secrets` (`scan --verify
    /// --show-secrets -f json`, or `verify --show-secrets -f json`). Its
    /// keys are verified again before anything is revoked.
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,

    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub revoke_options: RevokeOptionsArgs,
}

const REVOKE_AFTER_HELP: &str = "\
Exit status:
  0  every live key selected was revoked (or there was nothing to revoke)
  1  a key remains live or unconfirmed (failed, submitted, no revocation
     for its provider; in a dry run: a key would be revoked)
  2  error (bad report or config, missing admin token, unwritable audit log)";

/// How revocation runs; shared by `scan --revoke` and `revoke`.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Revocation")]
pub struct RevokeOptionsArgs {
    /// Revoke for real. Without it, print what would be revoked, where and
    /// with which credential, and change nothing.
    #[arg(long)]
    pub yes: bool,

    /// Append one JSON line per finding acted on to FILE (never the raw key)
    /// [default: leakhound-audit.jsonl].
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,

    /// Revoke only keys of PROVIDER (repeatable).
    #[arg(long = "provider", value_name = "PROVIDER", value_delimiter = ',')]
    pub providers: Vec<String>,

    /// Revoke only keys found by rule ID (repeatable).
    #[arg(long = "rule", value_name = "ID", value_delimiter = ',')]
    pub rules: Vec<String>,

    /// Revoke only the finding with this fingerprint (repeatable).
    #[arg(long = "fingerprint", value_name = "FP", value_delimiter = ',')]
    pub fingerprints: Vec<String>,
}

/// What makes the exit status 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any finding that is reported.
    #[default]
    Any,
    /// A finding whose key was verified live.
    Live,
    /// A finding whose key was verified live, or any finding of a
    /// verifiable rule whose key could not be checked (`unknown`: no
    /// network, a timeout, a host not allowed): a gate that never passes
    /// on silence.
    Unverified,
}

/// How verification runs; shared by `scan --verify` and `verify`. Every
/// value can also be set in `.leakhound.toml` under `[verify]`.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Verification")]
pub struct VerifyOptionsArgs {
    /// Report only findings whose key was verified live (implies --verify
    /// with `scan`).
    #[arg(long)]
    pub only_verified: bool,

    /// Send ambiguous keys (bare `sk-`, bare `sk_live_` without provider
    /// evidence) to PROVIDER too, if it is one of the key's candidates.
    /// Repeatable; without it an ambiguous key is sent nowhere.
    #[arg(long, value_name = "PROVIDER", value_delimiter = ',')]
    pub verify_ambiguous: Vec<String>,

    /// Send keys (and revocations) only to HOST: an exact host name or a
    /// `*.` pattern (`*.newrelic.com`). Repeatable; replaces `[verify]
    /// allow_hosts`. A check bound elsewhere is `unknown (egress-denied)`
    /// and nothing is sent (`leakhound rules hosts` lists the hosts).
    #[arg(long, value_name = "HOST", value_delimiter = ',')]
    pub verify_allow_host: Vec<String>,

    /// Checks in flight at once, overall [default: 8].
    #[arg(long, value_name = "N")]
    pub verify_concurrency: Option<usize>,

    /// Checks in flight at once per provider [default: 2].
    #[arg(long, value_name = "N")]
    pub verify_per_provider: Option<usize>,

    /// Whole-request timeout (`15`, `2.5s`, `500ms`) [default: 15s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub verify_timeout: Option<std::time::Duration>,

    /// Connect timeout [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub verify_connect_timeout: Option<std::time::Duration>,

    /// Retries of a 429 or 5xx answer [default: 2].
    #[arg(long, value_name = "N")]
    pub verify_retries: Option<u32>,

    /// Longest wait before a retry; a longer Retry-After ends the check
    /// as unknown instead [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub verify_max_wait: Option<std::time::Duration>,

    /// Cache settled verdicts in DIR (keyed by a hash of the key; the key is
    /// never written).
    #[arg(long, value_name = "DIR")]
    pub verify_cache: Option<PathBuf>,

    /// Do not use a cache even if the config sets one.
    #[arg(long, conflicts_with = "verify_cache")]
    pub no_verify_cache: bool,

    /// How long a cached verdict is trusted (`30m`, `24h`, `7d`) [default: 24h].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub verify_cache_ttl: Option<std::time::Duration>,
}

/// Parse `--report FORMAT=FILE`.
pub fn parse_report_target(s: &str) -> Result<ReportTarget, String> {
    let (format, path) = s
        .split_once('=')
        .filter(|(_, p)| !p.is_empty())
        .ok_or_else(|| {
            format!("`{s}`: expected FORMAT=FILE (for example sarif=leakhound.sarif)")
        })?;
    let format = Format::from_str(format, true).map_err(|_| {
        let names: Vec<_> = Format::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect();
        format!("`{format}` is not a format (one of {})", names.join(", "))
    })?;
    Ok(ReportTarget {
        format,
        path: PathBuf::from(path),
    })
}

#[derive(Debug, Args)]
pub struct InstallHookArgs {
    /// The repository to install the hook in.
    #[arg(value_name = "REPO", default_value = ".")]
    pub repo: PathBuf,

    /// Replace a pre-commit hook that leakhound did not write (it is kept
    /// as `pre-commit.leakhound-backup`).
    #[arg(long)]
    pub force: bool,
}

/// Parse a size: bytes (`1048576`), or a number with K, M or G and an
/// optional B or iB, any case (`500k`, `1.5M`, `1MB`, `2GiB`); powers of
/// 1024 whatever the spelling.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "`{s}`: unknown size suffix `{unit}` (use K, M or G: 500k, 1.5M, 1MB)"
            ))
        }
    };
    let not_a_size = || format!("`{s}` is not a size (examples: 1048576, 500k, 1.5M, 1MB, 1G)");
    let num = num.trim();
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(not_a_size());
    }
    if let Ok(n) = num.parse::<u64>() {
        return n
            .checked_mul(mult)
            .ok_or_else(|| format!("`{s}` is too large"));
    }
    let n: f64 = num.parse().map_err(|_| not_a_size())?;
    let bytes = n * mult as f64;
    if bytes.fract() != 0.0 {
        return Err(format!("`{s}` is not a whole number of bytes"));
    }
    if bytes >= u64::MAX as f64 {
        return Err(format!("`{s}` is too large"));
    }
    Ok(bytes as u64)
}

/// Parse a duration: seconds (`15`, `2.5`) or a number with `ms`, `s`,
/// `m`, `h` or `d`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.trim().parse().map_err(|_| {
        format!("`{s}` is not a duration (examples: 15, 2.5s, 500ms, 30m, 24h, 7d)")
    })?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        u => {
            return Err(format!(
                "unknown duration unit `{u}` (use ms, s, m, h or d)"
            ))
        }
    };
    std::time::Duration::try_from_secs_f64(secs).map_err(|_| format!("`{s}` is out of range"))
}

/// `--min-confidence`: `high`, `medium` or `low`.
fn parse_confidence(s: &str) -> Result<crate::finding::Confidence, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("10K"), Ok(10 * 1024));
        assert_eq!(parse_size("100m"), Ok(100 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("1T").is_err());
        assert!(parse_size("abc").is_err());
        assert_eq!(parse_size("1MB"), Ok(1 << 20));
        assert_eq!(parse_size("1.5M"), Ok(3 << 19));
        assert_eq!(parse_size("500k"), Ok(500 << 10));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("64 kb"), Ok(64 << 10));
        assert!(parse_size("1.5").is_err(), "half a byte");
        assert!(parse_size("-1M").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("1.2.3M").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn report_targets() {
        assert_eq!(
            parse_report_target("sarif=out/x.sarif"),
            Ok(ReportTarget {
                format: Format::Sarif,
                path: PathBuf::from("out/x.sarif")
            })
        );
        assert_eq!(
            parse_report_target("JSONL=a=b").unwrap().path,
            PathBuf::from("a=b")
        );
        assert!(parse_report_target("sarif").is_err());
        assert!(parse_report_target("sarif=").is_err());
        let e = parse_report_target("pdf=x").unwrap_err();
        assert!(e.contains("markdown"), "{e}");
    }

    /// The shared output flags keep their places in each command's help:
    /// `--format` and `--output` first, the configuration flags, then the
    /// rest of the output flags.
    #[test]
    fn output_flags_keep_their_help_order() {
        use clap::CommandFactory;
        let mut cli = Cli::command();
        for (sub, order) in [
            (
                "scan",
                &[
                    "--format",
                    "--output",
                    "--config",
                    "--threads",
                    "--show-secrets",
                    "--color",
                    "--quiet",
                    "--decode-all",
                ][..],
            ),
            (
                "verify",
                &[
                    "--format",
                    "--output",
                    "--config",
                    "--no-config",
                    "--show-secrets",
                    "--color",
                    "--quiet",
                    "--fail-on",
                ][..],
            ),
        ] {
            let help = cli
                .find_subcommand_mut(sub)
                .expect("subcommand exists")
                .render_long_help()
                .to_string();
            let at: Vec<usize> = order
                .iter()
                .map(|flag| {
                    help.find(&format!("{flag} "))
                        .or_else(|| help.find(&format!("{flag}\n")))
                        .unwrap_or_else(|| panic!("{sub} --help has no {flag}"))
                })
                .collect();
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{sub}: {help}");
        }
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
