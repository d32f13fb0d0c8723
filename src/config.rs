//! Command-line arguments plus `.leakhound.toml` resolved into one `Config`.
//! Terminal checks (color, progress) happen here, once, so the rest of the
//! library takes plain values and is testable without a terminal.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::allowlist::{Allowlist, AllowlistSpec};
use crate::cli::{
    self, BaselineCreateArgs, ColorChoice, RevokeArgs, RevokeOptionsArgs, ScanArgs, VerifyArgs,
    VerifyOptionsArgs,
};
use crate::error::{describe_toml_error, Error, Result};
use crate::report::{self, Format};
use crate::rules::{self, Rule, RuleSet, RuleSpec};
use crate::scan::{self, GitScan};
use crate::{provider, revoke, verify};

pub const CONFIG_FILE_NAME: &str = ".leakhound.toml";

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
    pub providers: BTreeMap<String, provider::Settings>,
    /// Allowlists scoped to some rules (`[[allowlists]]`).
    #[serde(default)]
    pub allowlists: Vec<crate::allowlist::ScopedAllowlistSpec>,
    /// Verification defaults (`--verify-*` flags win).
    #[serde(default)]
    pub verify: VerifyDefaults,
}

/// `[verify]`: how verification runs when it is asked for. Verification
/// itself is only ever turned on by a flag (`scan --verify`, `verify`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyDefaults {
    pub concurrency: Option<usize>,
    pub per_provider: Option<usize>,
    pub timeout: Option<DurationValue>,
    pub connect_timeout: Option<DurationValue>,
    pub retries: Option<u32>,
    pub max_wait: Option<DurationValue>,
    /// Relative to the current directory.
    pub cache_dir: Option<PathBuf>,
    pub cache_ttl: Option<DurationValue>,
    /// Providers to try for ambiguous keys.
    #[serde(default)]
    pub ambiguous: Vec<String>,
}

/// A duration written as seconds or a string with a unit (`"24h"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    Seconds(f64),
    Text(String),
}

/// What makes the exit status 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Any reported finding.
    Any,
    /// A finding whose key was verified live.
    Live,
}

impl From<cli::FailOn> for FailOn {
    fn from(f: cli::FailOn) -> FailOn {
        match f {
            cli::FailOn::Any => FailOn::Any,
            cli::FailOn::Live => FailOn::Live,
        }
    }
}

/// Default flags a team can set for every scan.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanDefaults {
    pub max_file_size: Option<SizeValue>,
    pub no_ignore: Option<bool>,
    pub follow: Option<bool>,
    pub threads: Option<usize>,
    pub decode_all: Option<bool>,
}

/// A size written as a number of bytes or a string with a suffix (`"10M"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    Bytes(u64),
    Text(String),
}

/// Everything a command needs, resolved: each part is the options type of
/// the module that uses it, assembled here from flags and
/// `.leakhound.toml`.
#[derive(Debug)]
pub struct Config {
    pub scan: scan::Options,
    pub report: report::Options,
    pub rules: Vec<Rule>,
    pub providers: BTreeMap<String, provider::Settings>,
    /// Set when keys are to be verified.
    pub verify: Option<verify::Options>,
    pub fail_on: FailOn,
    /// Set when live keys are to be revoked (`revoke`, `scan --revoke`).
    pub revoke: Option<revoke::Options>,
    /// The configuration file read, if any.
    pub config_file: Option<PathBuf>,
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
        let config_path = if args.files.no_config {
            None
        } else {
            match &args.files.config {
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

        let max_file_size = match (args.files.max_file_size, &file.scan.max_file_size) {
            (Some(n), _) => n,
            (None, Some(SizeValue::Bytes(n))) => *n,
            (None, Some(SizeValue::Text(s))) => cli::parse_size(s).map_err(|m| Error::Config {
                path: PathBuf::from(&origin),
                message: format!("scan.max_file_size: {m}"),
            })?,
            (None, None) => scan::DEFAULT_MAX_FILE_SIZE,
        };

        let report = report_options(
            args.format,
            args.output.clone(),
            args.show_secrets,
            args.color,
            args.quiet,
        );

        let roots = args
            .paths
            .iter()
            .filter(|p| p.as_os_str() != "-")
            .cloned()
            .collect();
        let mut allowlist = Allowlist::compile(&file.allowlist, roots, &origin)?;
        let baseline = args
            .baseline
            .as_deref()
            .map(crate::baseline::load)
            .transpose()?;
        let rules = resolve_rules(&file, &origin)?;
        allowlist.scoped = crate::allowlist::compile_scoped(&file.allowlists, &origin, |id| {
            rules.iter().any(|r| r.id() == id)
        })?;
        check_provider_settings(&file, &origin)?;
        let fail_on = FailOn::from(args.fail_on);
        let verify = if args.verify {
            Some(resolve_verify(&args.verify_options, &file.verify, &origin)?)
        } else {
            let o = &args.verify_options;
            let needs = if o.only_verified {
                Some("--only-verified")
            } else if fail_on == FailOn::Live {
                Some("--fail-on live")
            } else if !o.verify_ambiguous.is_empty() {
                Some("--verify-ambiguous")
            } else if o.verify_concurrency.is_some()
                || o.verify_per_provider.is_some()
                || o.verify_timeout.is_some()
                || o.verify_connect_timeout.is_some()
                || o.verify_retries.is_some()
                || o.verify_max_wait.is_some()
                || o.verify_cache.is_some()
                || o.no_verify_cache
                || o.verify_cache_ttl.is_some()
            {
                Some("the --verify-* options")
            } else {
                None
            };
            if let Some(flag) = needs {
                return Err(Error::Usage(format!("{flag} needs --verify")));
            }
            None
        };
        let revoke = if args.revoke {
            if verify.is_none() {
                return Err(Error::Usage("--revoke needs --verify".into()));
            }
            Some(resolve_revoke(
                &args.revoke_options,
                verify.as_ref().expect("checked above"),
            ))
        } else {
            let o = &args.revoke_options;
            if o.yes
                || o.audit_log.is_some()
                || !o.providers.is_empty()
                || !o.rules.is_empty()
                || !o.fingerprints.is_empty()
            {
                return Err(Error::Usage(
                    "--yes, --audit-log, --provider, --rule and --fingerprint need --revoke".into(),
                ));
            }
            None
        };
        let scan = scan::Options {
            paths: args.paths.clone(),
            git,
            no_ignore: args.files.no_ignore || file.scan.no_ignore.unwrap_or(false),
            follow: args.files.follow || file.scan.follow.unwrap_or(false),
            max_file_size,
            threads: args.files.threads.or(file.scan.threads).unwrap_or(0),
            decode_all: args.decode_all || file.scan.decode_all.unwrap_or(false),
            progress: !args.quiet && std::io::stderr().is_terminal(),
            allowlist,
            baseline,
        };
        let config = Config {
            scan,
            report,
            rules,
            providers: file.providers,
            verify,
            fail_on,
            revoke,
            config_file: config_path,
        };
        if args.revoke {
            check_revoke_trust(&config, args.files.config.is_some())?;
        }
        Ok(config)
    }

    /// Resolve `leakhound verify REPORT` arguments: no scan settings, the
    /// report and verification ones only.
    pub fn from_verify_args(args: &VerifyArgs) -> Result<Config> {
        let config_path = if args.no_config {
            None
        } else {
            match &args.config {
                Some(p) => Some(p.clone()),
                None => Some(PathBuf::from(CONFIG_FILE_NAME)).filter(|p| p.is_file()),
            }
        };
        let file = match &config_path {
            Some(p) => load_config_file(p)?,
            None => ConfigFile::default(),
        };
        let origin = config_path
            .as_deref()
            .map_or_else(|| CONFIG_FILE_NAME.to_string(), |p| p.display().to_string());
        check_provider_settings(&file, &origin)?;
        Ok(Config {
            scan: scan::Options::default(),
            report: report_options(
                args.format,
                args.output.clone(),
                args.show_secrets,
                args.color,
                args.quiet,
            ),
            rules: resolve_rules(&file, &origin)?,
            verify: Some(resolve_verify(&args.verify_options, &file.verify, &origin)?),
            fail_on: args.fail_on.into(),
            revoke: None,
            providers: file.providers,
            config_file: config_path,
        })
    }

    /// Resolve `leakhound baseline create` arguments: a scan with the same
    /// file-selection flags, reported nowhere but the baseline file.
    pub fn from_baseline_args(args: &BaselineCreateArgs) -> Result<Config> {
        Config::from_scan_args(&ScanArgs {
            paths: args.paths.clone(),
            files: args.files.clone(),
            quiet: args.quiet,
            color: ColorChoice::Never,
            ..ScanArgs::default()
        })
    }

    /// Resolve `leakhound revoke REPORT` arguments: verification settings
    /// from `[verify]` (the cache is never used), revocation from the flags.
    pub fn from_revoke_args(args: &RevokeArgs) -> Result<Config> {
        let verify_args = VerifyArgs {
            report: args.report.clone(),
            format: cli::Format::Text,
            output: None,
            config: args.config.clone(),
            no_config: args.no_config,
            show_secrets: false,
            color: ColorChoice::Never,
            quiet: false,
            fail_on: cli::FailOn::Live,
            verify_options: VerifyOptionsArgs {
                no_verify_cache: true,
                ..VerifyOptionsArgs::default()
            },
        };
        let mut config = Config::from_verify_args(&verify_args)?;
        check_revoke_trust(&config, args.config.is_some())?;
        let verify = config.verify.as_ref().expect("from_verify_args sets it");
        config.revoke = Some(resolve_revoke(&args.revoke_options, verify));
        Ok(config)
    }

    /// Build the rule set for the matcher (moves the rules out).
    pub fn take_rule_set(&mut self) -> Result<RuleSet> {
        RuleSet::new(std::mem::take(&mut self.rules))
    }

    /// Build the matcher (moves the rules out).
    pub fn build_matcher(&mut self) -> Result<crate::engine::Matcher> {
        let mode = if self.scan.decode_all {
            crate::engine::Base64Mode::Everywhere
        } else {
            crate::engine::Base64Mode::Triggered
        };
        Ok(crate::engine::Matcher::with_base64(
            self.take_rule_set()?,
            mode,
        ))
    }
}

impl From<cli::Format> for Format {
    fn from(f: cli::Format) -> Format {
        match f {
            cli::Format::Text => Format::Text,
            cli::Format::Json => Format::Json,
            cli::Format::Sarif => Format::Sarif,
            cli::Format::Github => Format::Github,
            cli::Format::Jsonl => Format::Jsonl,
            cli::Format::Junit => Format::Junit,
            cli::Format::Markdown => Format::Markdown,
            cli::Format::Html => Format::Html,
        }
    }
}

/// Report settings; the terminal is looked at here, once.
fn report_options(
    format: cli::Format,
    output: Option<PathBuf>,
    show_secrets: bool,
    color: ColorChoice,
    quiet: bool,
) -> report::Options {
    // `-o -` is standard output.
    let output = output.filter(|p| p.as_os_str() != "-");
    // anstream decides `auto`: a terminal, NO_COLOR unset, or CLICOLOR_FORCE.
    let color = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            output.is_none()
                && anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
        }
    };
    report::Options {
        format: format.into(),
        output,
        show_secrets,
        color,
        quiet,
    }
}

/// A configured base URL must obey the same rules as a built-in one (HTTPS,
/// or plain HTTP to loopback): checked even when not verifying, so a bad
/// config fails the first run that reads it.
fn check_provider_settings(file: &ConfigFile, origin: &str) -> Result<()> {
    for (name, settings) in &file.providers {
        if let Some(url) = &settings.base_url {
            crate::provider::check_base_url(url).map_err(|m| Error::Config {
                path: PathBuf::from(origin),
                message: format!("[providers.{name}] base_url `{url}`: {m}"),
            })?;
        }
        if let Some(url) = settings.revoke.as_ref().and_then(|r| r.url.as_ref()) {
            crate::provider::revoke::check_url(url).map_err(|m| Error::Config {
                path: PathBuf::from(origin),
                message: format!("[providers.{name}.revoke] url `{url}`: {m}"),
            })?;
        }
    }
    Ok(())
}

fn resolve_revoke(args: &RevokeOptionsArgs, verify: &verify::Options) -> revoke::Options {
    revoke::Options {
        yes: args.yes,
        connect_timeout: verify.connect_timeout,
        timeout: verify.timeout,
        audit_log: args
            .audit_log
            .clone()
            .unwrap_or_else(|| PathBuf::from(crate::revoke::DEFAULT_AUDIT_LOG)),
        providers: args.providers.clone(),
        rules: args.rules.clone(),
        fingerprints: args.fingerprints.clone(),
    }
}

/// Flags over `[verify]` over the defaults.
fn resolve_verify(
    args: &VerifyOptionsArgs,
    file: &VerifyDefaults,
    origin: &str,
) -> Result<verify::Options> {
    let fail = |message: String| Error::Config {
        path: PathBuf::from(origin),
        message,
    };
    let duration = |flag: Option<std::time::Duration>,
                    value: &Option<DurationValue>,
                    key: &str,
                    default: std::time::Duration|
     -> Result<std::time::Duration> {
        if let Some(d) = flag {
            return Ok(d);
        }
        match value {
            None => Ok(default),
            Some(DurationValue::Seconds(n)) => std::time::Duration::try_from_secs_f64(*n)
                .map_err(|_| fail(format!("verify.{key}: {n} is not a duration"))),
            Some(DurationValue::Text(t)) => {
                cli::parse_duration(t).map_err(|m| fail(format!("verify.{key}: {m}")))
            }
        }
    };
    // Where an ambiguous key may go is the user's decision on the command
    // line, never a (possibly untrusted) repository's config file's.
    if !file.ambiguous.is_empty() {
        return Err(fail(
            "verify.ambiguous: ambiguous keys are sent only to the providers --verify-ambiguous names on the command line".into(),
        ));
    }
    let d = verify::Options::default();
    let options = verify::Options {
        ambiguous: args.verify_ambiguous.clone(),
        concurrency: args
            .verify_concurrency
            .or(file.concurrency)
            .unwrap_or(d.concurrency),
        per_provider: args
            .verify_per_provider
            .or(file.per_provider)
            .unwrap_or(d.per_provider),
        connect_timeout: duration(
            args.verify_connect_timeout,
            &file.connect_timeout,
            "connect_timeout",
            d.connect_timeout,
        )?,
        timeout: duration(args.verify_timeout, &file.timeout, "timeout", d.timeout)?,
        retries: args.verify_retries.or(file.retries).unwrap_or(d.retries),
        max_wait: duration(args.verify_max_wait, &file.max_wait, "max_wait", d.max_wait)?,
        cache_dir: if args.no_verify_cache {
            None
        } else {
            args.verify_cache.clone().or_else(|| file.cache_dir.clone())
        },
        cache_ttl: duration(
            args.verify_cache_ttl,
            &file.cache_ttl,
            "cache_ttl",
            d.cache_ttl,
        )?,
        only_verified: args.only_verified,
    };
    if options.concurrency == 0 || options.per_provider == 0 {
        return Err(Error::Usage(
            "verification concurrency must be at least 1".into(),
        ));
    }
    if options.timeout.is_zero() || options.connect_timeout.is_zero() {
        return Err(Error::Usage("verification timeouts must be above 0".into()));
    }
    Ok(options)
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

/// `[providers.NAME.revoke]` (and `base_url`, from which the assumed admin
/// endpoints derive) chooses where admin requests go and which environment
/// variable's token they carry. A config file found by itself in
/// the scanned directory may come from anyone who can open a pull request, so
/// revocation settings are honoured only from a file named with `--config`.
fn check_revoke_trust(config: &Config, explicit: bool) -> Result<()> {
    let Some(path) = &config.config_file else {
        return Ok(());
    };
    if explicit {
        return Ok(());
    }
    if let Some(name) = config
        .providers
        .iter()
        .find(|(_, p)| p.revoke.is_some() || p.base_url.is_some())
        .map(|(n, _)| n)
    {
        return Err(Error::Config {
            path: path.clone(),
            message: format!(
                "[providers.{name}]: when revoking, provider settings (base_url, revoke) are used only from a config named with --config (a repository's own .leakhound.toml must not choose where admin tokens go)"
            ),
        });
    }
    Ok(())
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
