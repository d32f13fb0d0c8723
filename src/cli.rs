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
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
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

#[derive(Debug, Default, Args)]
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

    /// Also write the report in FORMAT to FILE, from the same scan
    /// (repeatable): `--report sarif=leakhound.sarif --report json=out.json`.
    #[arg(long = "report", value_name = "FORMAT=FILE", value_parser = parse_report_target)]
    pub reports: Vec<ReportTarget>,
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

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
