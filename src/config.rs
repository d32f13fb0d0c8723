//! Command-line arguments plus `.leakhound.toml` resolved into one `Config`.
//! Terminal checks (color, progress) happen here, once, so the rest of the
//! library takes plain values and is testable without a terminal.

use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::cli::{self, ColorChoice, ScanArgs};
use crate::error::{describe_toml_error, Error, Result};
use crate::report::Format;
use crate::rules::{self, Rule, RuleSet, RuleSpec};

pub const CONFIG_FILE_NAME: &str = ".leakhound.toml";
pub const DEFAULT_MAX_FILE_SIZE: u64 = 100 << 20;

/// `.leakhound.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Built-in rule ids to turn off.
    #[serde(default)]
    pub disabled_rules: Vec<String>,
    #[serde(default)]
    pub scan: ScanDefaults,
    #[serde(default)]
    pub allowlist: AllowlistSpec,
    /// Extra rules, same shape as `rules/*.toml`.
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    /// Per-provider settings (base URL for verification).
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSettings>,
}

/// Default flags a team can set for every scan.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanDefaults {
    pub max_file_size: Option<SizeValue>,
    pub no_ignore: Option<bool>,
    pub follow: Option<bool>,
    pub threads: Option<usize>,
}

/// A size written as a number of bytes or a string with a suffix (`"10M"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistSpec {
    /// Globs of paths never scanned (`tests/fixtures/**`).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Regexes; a secret matching one is not reported.
    #[serde(default)]
    pub regexes: Vec<String>,
    /// Finding fingerprints or secret SHA-256 digests not reported.
    #[serde(default)]
    pub fingerprints: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// The provider's API base URL as it documents it, `/v1` included.
    pub base_url: Option<String>,
}

/// Resolved scan settings.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    pub no_ignore: bool,
    pub follow: bool,
    pub max_file_size: u64,
    /// 0 = one per core.
    pub threads: usize,
}

/// Resolved report settings.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    pub format: Format,
    pub output: Option<PathBuf>,
    pub show_secrets: bool,
    pub color: bool,
    pub quiet: bool,
    pub progress: bool,
}

/// Compiled allowlist.
#[derive(Debug, Default)]
pub struct Allowlist {
    pub paths: GlobSet,
    pub roots: Vec<PathBuf>,
    pub regexes: Vec<regex::Regex>,
    pub fingerprints: HashSet<String>,
}

impl Allowlist {
    /// Does a path glob cover `path` (as walked, or relative to its root)?
    pub fn allows_path(&self, path: &Path) -> bool {
        if self.paths.is_empty() {
            return false;
        }
        let shown = path.strip_prefix("./").unwrap_or(path);
        self.paths.is_match(shown)
            || self
                .roots
                .iter()
                .filter_map(|r| path.strip_prefix(r).ok())
                .any(|rel| self.paths.is_match(rel))
    }
}

/// What part of a git repository a scan reads; the repository is the one
/// scanned path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GitScan {
    /// Every blob reachable from any ref (`--git`); `all_objects` adds the
    /// objects no ref reaches.
    History { all_objects: bool },
    /// The lines added by the commits in `base..head` (`--range`, `--since`).
    Range { base: String, head: String },
    /// The lines the index adds to HEAD (`--staged`).
    Staged,
}

/// Fingerprints of findings accepted earlier.
#[derive(Debug, Default)]
pub struct Baseline {
    pub fingerprints: HashSet<String>,
}

/// Everything a scan needs, resolved.
#[derive(Debug)]
pub struct Config {
    pub paths: Vec<PathBuf>,
    pub scan: ScanOptions,
    pub report: ReportOptions,
    pub allowlist: Allowlist,
    pub baseline: Option<Baseline>,
    pub rules: Vec<Rule>,
    pub providers: BTreeMap<String, ProviderSettings>,
    /// The configuration file read, if any.
    pub config_file: Option<PathBuf>,
    /// Set for git scans; `paths` then holds the one repository path.
    pub git: Option<GitScan>,
}

impl Config {
    /// Resolve `leakhound scan` arguments.
    pub fn from_scan_args(args: &ScanArgs) -> Result<Config> {
        let git = git_scan(args)?;
        for p in &args.paths {
            if p.as_os_str() != "-" && std::fs::symlink_metadata(p).is_err() {
                return Err(Error::NotFound { path: p.clone() });
            }
        }
        let config_path = if args.no_config {
            None
        } else {
            match &args.config {
                Some(p) => Some(p.clone()),
                None => default_config_path(&args.paths),
            }
        };
        let file = match &config_path {
            Some(p) => load_config_file(p)?,
            None => ConfigFile::default(),
        };
        let origin = config_path
            .as_deref()
            .map_or_else(|| CONFIG_FILE_NAME.to_string(), |p| p.display().to_string());

        let max_file_size = match (args.max_file_size, &file.scan.max_file_size) {
            (Some(n), _) => n,
            (None, Some(SizeValue::Bytes(n))) => *n,
            (None, Some(SizeValue::Text(s))) => cli::parse_size(s).map_err(|m| Error::Config {
                path: PathBuf::from(&origin),
                message: format!("scan.max_file_size: {m}"),
            })?,
            (None, None) => DEFAULT_MAX_FILE_SIZE,
        };
        let scan = ScanOptions {
            no_ignore: args.no_ignore || file.scan.no_ignore.unwrap_or(false),
            follow: args.follow || file.scan.follow.unwrap_or(false),
            max_file_size,
            threads: args.threads.or(file.scan.threads).unwrap_or(0),
        };

        let to_file = args.output.is_some();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !to_file && !no_color && std::io::stdout().is_terminal(),
        };
        let report = ReportOptions {
            format: args.format.into(),
            output: args.output.clone(),
            show_secrets: args.show_secrets,
            color,
            quiet: args.quiet,
            progress: !args.quiet && std::io::stderr().is_terminal(),
        };

        let roots = args
            .paths
            .iter()
            .filter(|p| p.as_os_str() != "-")
            .cloned()
            .collect();
        let allowlist = compile_allowlist(&file.allowlist, roots, &origin)?;
        let baseline = args.baseline.as_deref().map(load_baseline).transpose()?;
        let rules = resolve_rules(&file, &origin)?;
        Ok(Config {
            paths: args.paths.clone(),
            scan,
            report,
            allowlist,
            baseline,
            rules,
            providers: file.providers,
            config_file: config_path,
            git,
        })
    }

    /// Build the rule set for the matcher (moves the rules out).
    pub fn take_rule_set(&mut self) -> Result<RuleSet> {
        RuleSet::new(std::mem::take(&mut self.rules))
    }
}

impl From<cli::Format> for Format {
    fn from(f: cli::Format) -> Format {
        match f {
            cli::Format::Text => Format::Text,
            cli::Format::Json => Format::Json,
            cli::Format::Sarif => Format::Sarif,
            cli::Format::Github => Format::Github,
        }
    }
}

/// Which git scan the flags ask for, if any, checked for a single repository
/// path and a well-formed range.
fn git_scan(args: &ScanArgs) -> Result<Option<GitScan>> {
    let scan = if args.staged {
        GitScan::Staged
    } else if let Some(rev) = &args.since {
        GitScan::Range {
            base: rev.clone(),
            head: "HEAD".into(),
        }
    } else if let Some(spec) = &args.range {
        let (base, head) = spec
            .split_once("..")
            .filter(|(b, h)| !b.is_empty() && !h.starts_with('.'))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--range `{spec}`: expected BASE..HEAD (for example origin/main..HEAD)"
                ))
            })?;
        GitScan::Range {
            base: base.to_string(),
            head: if head.is_empty() { "HEAD" } else { head }.to_string(),
        }
    } else if args.git {
        GitScan::History {
            all_objects: args.all_objects,
        }
    } else {
        return Ok(None);
    };
    if args.paths.len() != 1 || args.paths[0].as_os_str() == "-" {
        return Err(Error::Usage(
            "git scans take one repository path (default `.`)".into(),
        ));
    }
    Ok(Some(scan))
}

/// `.leakhound.toml` in the first scanned directory, if it exists.
fn default_config_path(paths: &[PathBuf]) -> Option<PathBuf> {
    let first = paths.iter().find(|p| p.as_os_str() != "-")?;
    let dir = if first.is_dir() {
        first.clone()
    } else {
        return None;
    };
    let candidate = dir.join(CONFIG_FILE_NAME);
    candidate.is_file().then_some(candidate)
}

/// Read and parse a configuration file; errors name the file, line and column.
pub fn load_config_file(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: format!("cannot read: {e}"),
    })?;
    toml::from_str(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: describe_toml_error(&text, &e),
    })
}

/// Built-in rules minus the disabled ones, plus the file's own.
pub fn resolve_rules(file: &ConfigFile, origin: &str) -> Result<Vec<Rule>> {
    let mut rules = rules::builtin_rules()?;
    for id in &file.disabled_rules {
        if !rules.iter().any(|r| r.id() == id) {
            return Err(Error::Config {
                path: PathBuf::from(origin),
                message: format!("disabled_rules: no built-in rule `{id}`"),
            });
        }
    }
    rules.retain(|r| !file.disabled_rules.iter().any(|d| d == r.id()));
    for spec in &file.rules {
        rules.push(Rule::compile(spec.clone(), origin)?);
    }
    Ok(rules)
}

fn compile_allowlist(spec: &AllowlistSpec, roots: Vec<PathBuf>, origin: &str) -> Result<Allowlist> {
    let fail = |message: String| Error::Config {
        path: PathBuf::from(origin),
        message,
    };
    let mut globs = GlobSetBuilder::new();
    for g in &spec.paths {
        globs.add(Glob::new(g).map_err(|e| fail(format!("allowlist.paths: {e}")))?);
    }
    let regexes = spec
        .regexes
        .iter()
        .map(|r| regex::Regex::new(r).map_err(|e| fail(format!("allowlist.regexes: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    Ok(Allowlist {
        paths: globs
            .build()
            .map_err(|e| fail(format!("allowlist.paths: {e}")))?,
        roots,
        regexes,
        fingerprints: spec.fingerprints.iter().map(|f| f.to_lowercase()).collect(),
    })
}

/// A baseline is a JSON report (ours) whose findings' fingerprints are kept.
pub fn load_baseline(path: &Path) -> Result<Baseline> {
    let fail = |message: String| Error::Config {
        path: path.to_path_buf(),
        message,
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read baseline: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| fail(format!("{}:{}: not valid JSON: {e}", e.line(), e.column())))?;
    let findings = value
        .get("findings")
        .and_then(|f| f.as_array())
        .ok_or_else(|| fail("not a leakhound JSON report: no `findings` array".into()))?;
    let mut fingerprints = HashSet::new();
    for (i, f) in findings.iter().enumerate() {
        let fp = f
            .get("fingerprint")
            .and_then(|v| v.as_str())
            .ok_or_else(|| fail(format!("findings[{i}] has no `fingerprint` string")))?;
        fingerprints.insert(fp.to_string());
    }
    Ok(Baseline { fingerprints })
}
