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
        let outputs: Vec<(&str, &Path)> = args
            .output
            .iter()
            .map(|p| ("-o", p.as_path()))
            .chain(args.reports.iter().map(|r| ("--report", r.path.as_path())))
            .collect();
        check_outputs(&args.paths, &outputs)?;
        let discovered = if args.files.config.is_some() {
            None
        } else {
            default_config_path(&args.paths)
        };
        let layers = load_layers(
            args.files.no_config,
            args.files.config.as_deref(),
            discovered,
        )?;
        let file = merge(&layers);

        let max_file_size = match args.files.max_file_size {
            Some(n) => {
                check_bound("--max-file-size", n, MAX_FILE_SIZE_LIMIT).map_err(Error::Usage)?
            }
            None => match pick(&layers, |f| f.scan.max_file_size.as_ref()) {
                Some((v, layer)) => layer.size("scan.max_file_size", v)?,
                None => scan::DEFAULT_MAX_FILE_SIZE,
            },
        };
        let threads = match args.files.threads {
            Some(n) => check_bound("--threads", n, MAX_THREADS).map_err(Error::Usage)?,
            None => match pick(&layers, |f| f.scan.threads.as_ref()) {
                Some((&n, layer)) => layer.bounded("scan.threads", n, MAX_THREADS)?,
                None => 0,
            },
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
        let mut allowlist = compile_allowlist(&layers, &file.allowlist, roots)?;
        let baseline = args
            .baseline
            .as_deref()
            .map(crate::baseline::load)
            .transpose()?;
        let rules = resolve_layer_rules(&layers)?;
        allowlist.scoped = compile_scoped(&layers, &rules)?;
        let fail_on = FailOn::from(args.fail_on);
        let verify = if args.verify {
            Some(resolve_verify(&args.verify_options, &layers)?)
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
            // Only the command line may lead the walk out of the scanned
            // paths; `follow` from a file follows links that stay inside.
            follow_outside_roots: args.files.follow,
            max_file_size,
            threads,
            decode_all: args.decode_all || file.scan.decode_all.unwrap_or(false),
            progress: !args.quiet && std::io::stderr().is_terminal(),
            allowlist,
            baseline,
            interrupt: None,
        };
        let verify = verify.map(|v| verify::Options {
            progress: scan.progress,
            ..v
        });
        let config = Config {
            scan,
            report,
            rules,
            providers: file.providers,
            verify,
            fail_on,
            revoke,
            config_file: layers.last().map(|l| l.path.clone()),
        };
        Ok(config)
    }

    /// Resolve `leakhound verify REPORT` arguments: no scan settings, the
    /// report and verification ones only.
    pub fn from_verify_args(args: &VerifyArgs) -> Result<Config> {
        let discovered = if args.config.is_some() {
            None
        } else {
            Some(PathBuf::from(CONFIG_FILE_NAME)).filter(|p| p.is_file())
        };
        let layers = load_layers(args.no_config, args.config.as_deref(), discovered)?;
        let file = merge(&layers);
        let outputs: Vec<(&str, &Path)> = args.output.iter().map(|p| ("-o", p.as_path())).collect();
        check_outputs(std::slice::from_ref(&args.report), &outputs)?;
        Ok(Config {
            scan: scan::Options::default(),
            report: report_options(
                args.format,
                args.output.clone(),
                args.show_secrets,
                args.color,
                args.quiet,
            ),
            rules: resolve_layer_rules(&layers)?,
            verify: Some(verify::Options {
                progress: !args.quiet && std::io::stderr().is_terminal(),
                ..resolve_verify(&args.verify_options, &layers)?
            }),
            fail_on: args.fail_on.into(),
            revoke: None,
            providers: file.providers,
            config_file: layers.last().map(|l| l.path.clone()),
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
            crate::engine::Base64Mode::Keywords
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
    if file.providers.is_empty() {
        return Ok(());
    }
    let known: Vec<String> = provider::builtin_providers()?
        .into_iter()
        .map(|(_, s)| s.id)
        .collect();
    for (name, settings) in &file.providers {
        // A misspelt name would silently leave the real provider's keys
        // going to its built-in URL: an error on every run, not only with
        // --verify.
        if !known.iter().any(|k| k == name) {
            let hint = crate::text::nearest(name, known.iter().map(String::as_str))
                .map_or_else(String::new, |n| format!("; did you mean `{n}`?"));
            return Err(Error::Config {
                path: PathBuf::from(origin),
                message: format!(
                    "[providers.{}]: no provider `{}`{hint} (`leakhound rules list` shows the provider of each rule)",
                    crate::text::sanitize(name),
                    crate::text::sanitize(name)
                ),
            });
        }
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

/// Flags over `[verify]` (the last file that sets a key) over the defaults.
/// Every value, wherever it comes from, is checked against its bounds.
fn resolve_verify(args: &VerifyOptionsArgs, layers: &[Layer]) -> Result<verify::Options> {
    use std::time::Duration;
    let duration = |flag: Option<Duration>,
                    flag_name: &str,
                    get: fn(&ConfigFile) -> Option<&DurationValue>,
                    key: &str,
                    default: Duration,
                    limit: Duration|
     -> Result<Duration> {
        if let Some(d) = flag {
            return check_duration(flag_name, d, limit).map_err(Error::Usage);
        }
        match pick(layers, get) {
            None => Ok(default),
            Some((v, layer)) => layer.duration(&format!("verify.{key}"), v, limit),
        }
    };
    let count = |flag: Option<usize>,
                 flag_name: &str,
                 get: fn(&ConfigFile) -> Option<&usize>,
                 key: &str,
                 default: usize,
                 limit: usize|
     -> Result<usize> {
        let n = match (flag, pick(layers, get)) {
            (Some(n), _) => check_bound(flag_name, n, limit).map_err(Error::Usage)?,
            (None, Some((&n, layer))) => layer.bounded(&format!("verify.{key}"), n, limit)?,
            (None, None) => default,
        };
        if n == 0 {
            return Err(Error::Usage(format!(
                "{flag_name} (verify.{key}): must be at least 1"
            )));
        }
        Ok(n)
    };
    // Where an ambiguous key may go is the user's decision on the command
    // line, never a (possibly untrusted) repository's config file's.
    if let Some(layer) = layers.iter().find(|l| !l.file.verify.ambiguous.is_empty()) {
        return Err(layer.fail(
            "verify.ambiguous: ambiguous keys are sent only to the providers --verify-ambiguous names on the command line".into(),
        ));
    }
    let d = verify::Options::default();
    let retries = match (
        args.verify_retries,
        pick(layers, |f| f.verify.retries.as_ref()),
    ) {
        (Some(n), _) => check_bound("--verify-retries", n, MAX_RETRIES).map_err(Error::Usage)?,
        (None, Some((&n, layer))) => layer.bounded("verify.retries", n, MAX_RETRIES)?,
        (None, None) => d.retries,
    };
    let options = verify::Options {
        ambiguous: args.verify_ambiguous.clone(),
        concurrency: count(
            args.verify_concurrency,
            "--verify-concurrency",
            |f| f.verify.concurrency.as_ref(),
            "concurrency",
            d.concurrency,
            MAX_CONCURRENCY,
        )?,
        per_provider: count(
            args.verify_per_provider,
            "--verify-per-provider",
            |f| f.verify.per_provider.as_ref(),
            "per_provider",
            d.per_provider,
            MAX_CONCURRENCY,
        )?,
        connect_timeout: duration(
            args.verify_connect_timeout,
            "--verify-connect-timeout",
            |f| f.verify.connect_timeout.as_ref(),
            "connect_timeout",
            d.connect_timeout,
            MAX_TIMEOUT,
        )?,
        timeout: duration(
            args.verify_timeout,
            "--verify-timeout",
            |f| f.verify.timeout.as_ref(),
            "timeout",
            d.timeout,
            MAX_TIMEOUT,
        )?,
        retries,
        max_wait: duration(
            args.verify_max_wait,
            "--verify-max-wait",
            |f| f.verify.max_wait.as_ref(),
            "max_wait",
            d.max_wait,
            MAX_TIMEOUT,
        )?,
        // The cache only ever lives where the user said: a flag, or a
        // trusted file (a discovered one may not set `cache_dir`).
        cache_dir: if args.no_verify_cache {
            None
        } else {
            args.verify_cache
                .clone()
                .or_else(|| pick(layers, |f| f.verify.cache_dir.as_ref()).map(|(p, _)| p.clone()))
        },
        cache_ttl: duration(
            args.verify_cache_ttl,
            "--verify-cache-ttl",
            |f| f.verify.cache_ttl.as_ref(),
            "cache_ttl",
            d.cache_ttl,
            MAX_CACHE_TTL,
        )?,
        only_verified: args.only_verified,
        progress: false,
    };
    if options.timeout.is_zero() || options.connect_timeout.is_zero() {
        return Err(Error::Usage("verification timeouts must be above 0".into()));
    }
    Ok(options)
}

// Bounds on values a config file (or flag) may set. A config can come from
// a repository: without bounds, `threads = 20000` stalls a one-file scan and
// `retries = 4000000000` hammers a provider.
/// Most worker threads.
pub const MAX_THREADS: usize = 256;
/// Most checks in flight, overall or per provider.
pub const MAX_CONCURRENCY: usize = 64;
/// Most retries of one check.
pub const MAX_RETRIES: u32 = 10;
/// Longest timeout, and longest wait between retries.
pub const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
/// Longest time a cached verdict is trusted.
pub const MAX_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(90 * 24 * 3600);
/// Largest `max_file_size`.
pub const MAX_FILE_SIZE_LIMIT: u64 = 16 << 30;

fn check_bound<T: PartialOrd + std::fmt::Display>(
    what: &str,
    n: T,
    limit: T,
) -> std::result::Result<T, String> {
    if n > limit {
        return Err(format!("{what}: {n} is over the limit of {limit}"));
    }
    Ok(n)
}

fn check_duration(
    what: &str,
    d: std::time::Duration,
    limit: std::time::Duration,
) -> std::result::Result<std::time::Duration, String> {
    if d > limit {
        return Err(format!(
            "{what}: {} s is over the limit of {} s",
            d.as_secs_f64(),
            limit.as_secs()
        ));
    }
    Ok(d)
}

/// Where a configuration file came from, which decides what it may set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Named with `--config`, or the user's own config file.
    Trusted,
    /// Found by itself in the scanned (or current) directory: it may come
    /// from anyone who can open a pull request.
    Discovered,
}

/// One configuration file read, with where it came from.
#[derive(Debug)]
struct Layer {
    path: PathBuf,
    file: ConfigFile,
    trust: Trust,
}

impl Layer {
    fn origin(&self) -> String {
        self.path.display().to_string()
    }

    fn fail(&self, message: String) -> Error {
        Error::Config {
            path: self.path.clone(),
            message,
        }
    }

    fn bounded<T: PartialOrd + std::fmt::Display>(&self, key: &str, n: T, limit: T) -> Result<T> {
        check_bound(key, n, limit).map_err(|m| self.fail(m))
    }

    fn size(&self, key: &str, value: &SizeValue) -> Result<u64> {
        let n = match value {
            SizeValue::Bytes(n) => *n,
            SizeValue::Text(s) => {
                cli::parse_size(s).map_err(|m| self.fail(format!("{key}: {m}")))?
            }
        };
        self.bounded(key, n, MAX_FILE_SIZE_LIMIT)
    }

    fn duration(
        &self,
        key: &str,
        value: &DurationValue,
        limit: std::time::Duration,
    ) -> Result<std::time::Duration> {
        let d = match value {
            DurationValue::Seconds(n) => std::time::Duration::try_from_secs_f64(*n)
                .map_err(|_| self.fail(format!("{key}: {n} is not a duration")))?,
            DurationValue::Text(t) => {
                cli::parse_duration(t).map_err(|m| self.fail(format!("{key}: {m}")))?
            }
        };
        check_duration(key, d, limit).map_err(|m| self.fail(m))
    }
}

/// The value of the last layer (the most specific file) that sets it.
fn pick<'a, T: ?Sized>(
    layers: &'a [Layer],
    get: impl Fn(&'a ConfigFile) -> Option<&'a T>,
) -> Option<(&'a T, &'a Layer)> {
    layers
        .iter()
        .rev()
        .find_map(|l| get(&l.file).map(|v| (v, l)))
}

/// The user's own configuration file, trusted like one named with
/// `--config`: `$XDG_CONFIG_HOME/leakhound/config.toml`, else
/// `~/.config/leakhound/config.toml`.
pub fn user_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("leakhound").join("config.toml"))
}

/// The configuration files a command reads, least specific first: the
/// user's own file, then the one named with `--config` or else the one
/// found in the scanned directory. `--no-config` reads none.
fn load_layers(
    no_config: bool,
    explicit: Option<&Path>,
    discovered: Option<PathBuf>,
) -> Result<Vec<Layer>> {
    let mut layers = Vec::new();
    if no_config {
        return Ok(layers);
    }
    if let Some(path) = user_config_path().filter(|p| p.is_file()) {
        layers.push(Layer {
            file: load_config_file(&path)?,
            path,
            trust: Trust::Trusted,
        });
    }
    let project = match (explicit, discovered) {
        (Some(p), _) => Some((p.to_path_buf(), Trust::Trusted)),
        (None, Some(p)) => Some((p, Trust::Discovered)),
        (None, None) => None,
    };
    if let Some((path, trust)) = project {
        // The same file named twice is read once.
        let same = layers.first().is_some_and(|u: &Layer| {
            std::fs::canonicalize(&u.path).ok() == std::fs::canonicalize(&path).ok()
        });
        if !same {
            layers.push(Layer {
                file: load_config_file(&path)?,
                path,
                trust,
            });
        }
    }
    for layer in &layers {
        if layer.trust == Trust::Discovered {
            check_discovered(layer)?;
        }
        check_provider_settings(&layer.file, &layer.origin())?;
    }
    Ok(layers)
}

/// A file found by itself in the scanned tree must not widen what is read
/// or choose where keys go: it may not set provider settings, `[scan]
/// follow`, the cache location, or rules that claim a provider leakhound
/// sends keys to. Refused outright (not ignored), saying how to opt in.
fn check_discovered(layer: &Layer) -> Result<()> {
    let file = &layer.file;
    let verifiable: Vec<String> = provider::builtin_providers()?
        .into_iter()
        .map(|(_, s)| s.id)
        .collect();
    let refused = if let Some(name) = file.providers.keys().next() {
        Some((
            format!("[providers.{}]", crate::text::sanitize(name)),
            "choose where keys and admin tokens are sent",
        ))
    } else if file.scan.follow == Some(true) {
        Some((
            "[scan] follow".to_string(),
            "follow symbolic links (they can lead out of the tree)",
        ))
    } else if file.verify.cache_dir.is_some() {
        Some((
            "[verify] cache_dir".to_string(),
            "choose where the verification cache is written",
        ))
    } else {
        file.rules
            .iter()
            .find(|r| verifiable.contains(&r.provider))
            .map(|r| {
                (
                    format!(
                        "[[rules]] `{}` (provider = \"{}\")",
                        crate::text::sanitize(&r.id),
                        crate::text::sanitize(&r.provider)
                    ),
                    "add rules whose keys are sent to a provider for verification",
                )
            })
    };
    let Some((what, why)) = refused else {
        return Ok(());
    };
    let user = user_config_path().map_or_else(
        || "~/.config/leakhound/config.toml".to_string(),
        |p| p.display().to_string(),
    );
    Err(layer.fail(format!(
        "{what}: a {CONFIG_FILE_NAME} found in the scanned directory is not trusted to {why}; \
         to trust this file, name it with --config {}, or move the setting to your user config ({user}); \
         see docs/verify.md#trust-in-configuration-files",
        layer.origin()
    )))
}

/// The layers as one file: lists are joined, single values and providers
/// taken from the most specific file that sets them.
fn merge(layers: &[Layer]) -> ConfigFile {
    let mut out = ConfigFile::default();
    for l in layers {
        let f = &l.file;
        out.disabled_rules.extend(f.disabled_rules.iter().cloned());
        let (a, b) = (&mut out.allowlist, &f.allowlist);
        a.paths.extend(b.paths.iter().cloned());
        a.regexes.extend(b.regexes.iter().cloned());
        a.fingerprints.extend(b.fingerprints.iter().cloned());
        a.path_regexes.extend(b.path_regexes.iter().cloned());
        a.stopwords.extend(b.stopwords.iter().cloned());
        for (name, settings) in &f.providers {
            out.providers.insert(name.clone(), settings.clone());
        }
        let s = &f.scan;
        out.scan.no_ignore = s.no_ignore.or(out.scan.no_ignore);
        out.scan.follow = s.follow.or(out.scan.follow);
        out.scan.decode_all = s.decode_all.or(out.scan.decode_all);
    }
    out
}

/// `[allowlist]` of every layer: each checked on its own (so an error names
/// its file), then the joined lists compiled once.
fn compile_allowlist(
    layers: &[Layer],
    merged: &AllowlistSpec,
    roots: Vec<PathBuf>,
) -> Result<Allowlist> {
    for l in layers {
        Allowlist::compile(&l.file.allowlist, Vec::new(), &l.origin())?;
    }
    let origin = layers
        .last()
        .map_or_else(|| CONFIG_FILE_NAME.to_string(), Layer::origin);
    Allowlist::compile(merged, roots, &origin)
}

/// `[[allowlists]]` of every layer.
fn compile_scoped(
    layers: &[Layer],
    rules: &[Rule],
) -> Result<Vec<crate::allowlist::ScopedAllowlist>> {
    let mut out = Vec::new();
    for l in layers {
        out.extend(crate::allowlist::compile_scoped(
            &l.file.allowlists,
            &l.origin(),
            |id| rules.iter().any(|r| r.id() == id),
        )?);
    }
    Ok(out)
}

/// Built-in rules minus every layer's disabled ones, plus each layer's own.
fn resolve_layer_rules(layers: &[Layer]) -> Result<Vec<Rule>> {
    let files: Vec<(&ConfigFile, String)> = layers.iter().map(|l| (&l.file, l.origin())).collect();
    resolve_rules_of(&files)
}

/// A report must not overwrite what the run reads, and two reports must not
/// go to one file (only the last would survive).
fn check_outputs(inputs: &[PathBuf], outputs: &[(&str, &Path)]) -> Result<()> {
    // `-` is standard output.
    let outputs: Vec<(&str, &Path)> = outputs
        .iter()
        .copied()
        .filter(|(_, p)| p.as_os_str() != "-")
        .collect();
    for (i, (flag, out)) in outputs.iter().enumerate() {
        if let Some(input) = inputs
            .iter()
            .filter(|p| p.as_os_str() != "-")
            .find(|input| same_file(input, out))
        {
            return Err(Error::Usage(format!(
                "{flag} {}: that is an input ({}); the report would replace it",
                out.display(),
                input.display()
            )));
        }
        if let Some((other, _)) = outputs[..i].iter().find(|(_, o)| same_file(o, out)) {
            return Err(Error::Usage(format!(
                "{other} and {flag} both write {}; give each report its own file",
                out.display()
            )));
        }
    }
    Ok(())
}

/// Do `a` and `b` name one file? The same inode when both exist, else the
/// same absolute path (parent directory resolved).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        return ma.dev() == mb.dev() && ma.ino() == mb.ino();
    }
    let resolve = |p: &Path| -> Option<PathBuf> {
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        Some(std::fs::canonicalize(parent).ok()?.join(p.file_name()?))
    };
    match (resolve(a), resolve(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
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
    resolve_rules_of(&[(file, origin.to_string())])
}

fn resolve_rules_of(files: &[(&ConfigFile, String)]) -> Result<Vec<Rule>> {
    let mut rules = rules::builtin_rules()?;
    for (file, origin) in files {
        for id in &file.disabled_rules {
            if !rules.iter().any(|r| r.id() == id) {
                return Err(Error::Config {
                    path: PathBuf::from(origin),
                    message: format!("disabled_rules: no built-in rule `{id}`"),
                });
            }
        }
    }
    rules.retain(|r| {
        !files
            .iter()
            .any(|(f, _)| f.disabled_rules.iter().any(|d| d == r.id()))
    });
    for (file, origin) in files {
        for spec in &file.rules {
            rules.push(Rule::compile(spec.clone(), origin)?);
        }
    }
    Ok(rules)
}
