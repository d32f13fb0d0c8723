//! Command-line types (clap derive) and nothing else: `config.rs` turns them
//! into a `Config`, so the library never sees clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit status:
  0  no findings
  1  findings (for `scan`: at least one finding that was not suppressed)
  2  error (bad flags, config or rules; files that could not be read and no findings)";

/// Find leaked API keys in file trees, git history and stdin.
#[derive(Debug, Parser)]
#[command(name = "leakhound", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan files, directories or standard input (`-`) for secrets.
    Scan(ScanArgs),
    /// Install a git pre-commit hook that runs `leakhound scan --staged`.
    InstallHook(InstallHookArgs),
    /// List the built-in rules or check a rule file.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
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
    },
    /// Lint a rule file: compile every rule and run its examples and negative
    /// examples, alone and against the whole rule set.
    Check {
        /// A TOML file with `[[rules]]` entries (a rule file or `.leakhound.toml`).
        file: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable report with a summary.
    Text,
    /// One JSON object: `findings` and `stats` (docs/report-format.md).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// GitHub Actions workflow commands (annotations).
    Github,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Color when stdout is a terminal and NO_COLOR is unset.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan; `-` reads standard input.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,

    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Configuration file (default: `.leakhound.toml` at the first scanned
    /// directory, if present).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Do not read `.leakhound.toml` even if present.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,

    /// Scan files that .gitignore and .ignore exclude.
    #[arg(long)]
    pub no_ignore: bool,

    /// Follow symbolic links.
    #[arg(long, short = 'L')]
    pub follow: bool,

    /// Skip files larger than this (bytes; K, M and G suffixes). Default 100M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_file_size: Option<u64>,

    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,

    /// Print secrets in full instead of redacted to their prefix.
    #[arg(long)]
    pub show_secrets: bool,

    /// When to use color in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print findings only: no summary, no progress, no warnings.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// A previous JSON report (or `leakhound baseline` file) whose findings
    /// are not reported again.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Scan the git history of the repository at PATH (default `.`): every
    /// blob reachable from any ref, once, plus uncommitted files.
    #[arg(long, help_heading = "Git")]
    pub git: bool,

    /// With --git: also scan objects no ref reaches (amended or dropped
    /// commits, dangling blobs).
    #[arg(long, requires = "git", help_heading = "Git")]
    pub all_objects: bool,

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

/// Parse `123`, `10K`, `100M`, `1G` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("unknown size suffix `{c}` (use K, M or G)")),
            };
            (&s[..i], mult)
        }
        _ => (s, 1),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size (examples: 1048576, 512K, 100M, 1G)"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("10K"), Ok(10 * 1024));
        assert_eq!(parse_size("100m"), Ok(100 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("1T").is_err());
        assert!(parse_size("abc").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
