//! Command-line arguments plus `.leakhound.toml` resolved into one `Config`.
//! Terminal checks (color, progress) happen here, once, so the rest of the
//! library takes plain values and is testable without a terminal.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::allowlist::{Allowlist, AllowlistSpec};
use crate::cli::{
    self, BaselineCreateArgs, ColorChoice, OutputArgs, RevokeArgs, RevokeOptionsArgs, ScanArgs,
    VerifyArgs, VerifyOptionsArgs,
};
use crate::error::{describe_toml_error, Error, Result};
use crate::report::{self, Format};
use crate::rules::{self, Rule, RuleSet, RuleSpec};
use crate::scan::{self, GitScan};
use crate::{provider, revoke, verify};

pub const CONFIG_FILE_NAME: &str = ".leakhound.toml";

pub mod check;

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
/// Each value's flag and bound are in `settings` below.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyDefaults {
    pub concurrency: Option<usize>,
    pub per_provider: Option<usize>,
    pub timeout: Option<Quantity>,
    pub connect_timeout: Option<Quantity>,
    pub retries: Option<u32>,
    pub max_wait: Option<Quantity>,
    /// Relative to the current directory.
    pub cache_dir: Option<PathBuf>,
    pub cache_ttl: Option<Quantity>,
    /// Providers to try for ambiguous keys.
    #[serde(default)]
    pub ambiguous: Vec<String>,
    /// The only hosts keys may be sent to, for verification and
    /// revocation (exact hosts or `*.` patterns; docs/verify.md#egress).
    pub allow_hosts: Option<Vec<String>>,
}

/// A size or a duration as a file writes it: a number (bytes, seconds) or
/// text with a unit (`"10M"`, `"24h"`), read by the same parsers as the
/// flags.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Quantity {
    Integer(u64),
    Float(f64),
    Text(String),
}

/// What makes the exit status 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Any reported finding.
    Any,
    /// A finding whose key was verified live.
    Live,
    /// A live key, or a finding of a verifiable rule left `unknown`.
    Unverified,
}

impl From<cli::FailOn> for FailOn {
    fn from(f: cli::FailOn) -> FailOn {
        match f {
            cli::FailOn::Any => FailOn::Any,
            cli::FailOn::Live => FailOn::Live,
            cli::FailOn::Unverified => FailOn::Unverified,
        }
    }
}

/// `[scan]`: default flags a team can set for every scan. Each value's
/// flag and bound are in `settings` below.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanDefaults {
    pub max_file_size: Option<Quantity>,
    pub no_ignore: Option<bool>,
    pub follow: Option<bool>,
    pub threads: Option<usize>,
    pub decode_all: Option<bool>,
    /// Open archives (default true).
    pub archives: Option<bool>,
    pub archive_depth: Option<u32>,
    pub archive_max_bytes: Option<Quantity>,
    pub archive_max_ratio: Option<usize>,
    pub archive_max_entries: Option<usize>,
    /// `high`, `medium` (the default) or `low`: the findings reported.
    pub min_confidence: Option<String>,
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
    /// The configuration files read, least specific first (the user's,
    /// then the project's); the text report names them.
    pub config_files: Vec<PathBuf>,
    /// Set for audits of remote repositories (`--git-url`, `--github-org`, …).
    pub audit: Option<crate::audit::Options>,
    /// `.gitleaksignore` fingerprints: findings not reported.
    pub gitleaks_ignore: Option<crate::gitleaks::Ignore>,
}

impl Config {
    /// Resolve `leakhound scan` arguments.
    pub fn from_scan_args(args: &ScanArgs) -> Result<Config> {
        let audit = resolve_audit(args)?;
        // `scan --git URL…`: the URLs are the audit's; nothing local is read.
        let local = [PathBuf::from(".")];
        let paths: &[PathBuf] = if remote_paths(args).is_empty() {
            &args.paths
        } else {
            &local
        };
        let git = match &audit {
            Some(_) => Some(GitScan::History {
                all_objects: args.all_objects,
            }),
            None => git_scan(args)?,
        };
        for p in paths {
            if p.as_os_str() != "-" && std::fs::symlink_metadata(p).is_err() {
                return Err(Error::NotFound { path: p.clone() });
            }
        }
        let outputs: Vec<(&str, &Path)> = args
            .output
            .file
            .iter()
            .map(|p| ("-o", p.as_path()))
            .chain(args.reports.iter().map(|r| ("--report", r.path.as_path())))
            .collect();
        check_outputs(paths, &outputs)?;
        let layers = load_layers(
            args.files.config.no_config,
            args.files.config.config.as_deref(),
        )?;
        let mut file = merge(&layers);
        // `--exclude-path` joins `[allowlist] paths`: one way to keep a
        // path out, whichever says so.
        for g in &args.files.exclude_path {
            globset::Glob::new(g)
                .map_err(|e| Error::Usage(format!("--exclude-path `{g}`: {e}")))?;
        }
        file.allowlist
            .paths
            .extend(args.files.exclude_path.iter().cloned());

        let f = &args.files;
        let max_file_size = settings::MAX_FILE_SIZE
            .resolve(f.max_file_size, &layers)?
            .unwrap_or(scan::DEFAULT_MAX_FILE_SIZE);
        let threads = settings::THREADS.resolve(f.threads, &layers)?.unwrap_or(0);
        let switch = |setting: &Setting<bool>, flag: bool| -> Result<bool> {
            Ok(setting
                .resolve(flag.then_some(true), &layers)?
                .unwrap_or(false))
        };
        let no_ignore = switch(&settings::NO_IGNORE, f.no_ignore)?;
        let follow = switch(&settings::FOLLOW, f.follow)?;
        let decode_all = switch(&settings::DECODE_ALL, args.decode_all)?;
        let min_confidence = settings::MIN_CONFIDENCE
            .resolve(args.min_confidence, &layers)?
            .unwrap_or_default();

        let archives = archive_limits(&args.files, &layers)?;
        let report = report_options(&args.output);

        let roots = args
            .paths
            .iter()
            .filter(|p| p.as_os_str() != "-")
            .cloned()
            .collect();
        let mut allowlist = compile_allowlist(&layers, &file.allowlist, roots)?;
        allowlist.set_include(&args.files.include_path)?;
        if args.files.verbose {
            allowlist.excluded = Some(Default::default());
        }
        let baseline = args
            .baseline
            .as_deref()
            .map(crate::baseline::load)
            .transpose()?;
        // With `--revoke`, `--rule` and `--provider` choose the keys to
        // revoke, as `leakhound revoke` has them do, and the scan runs every
        // rule (docs/revoke.md): the report still shows the other keys.
        let (only, providers): (&[String], &[String]) = if args.revoke {
            (&[], &[])
        } else {
            (&args.revoke_options.rules, &args.revoke_options.providers)
        };
        let rules = select_rules(
            resolve_layer_rules(&layers)?,
            only,
            providers,
            &args.disable_rule,
        )?;
        allowlist.scoped = compile_scoped(&layers, &rules)?;
        let gitleaks_ignore = gitleaks_ignore(args)?;
        allowlist.config_examples = config_examples(&layers);
        let fail_on = FailOn::from(args.fail_on);
        // `--only-verified` asks for verification: gitleaks and trufflehog
        // users expect it to.
        let verify = if args.verify || args.verify_options.only_verified {
            Some(resolve_verify(&args.verify_options, &layers)?)
        } else {
            let o = &args.verify_options;
            let needs = if fail_on == FailOn::Live {
                Some("--fail-on live")
            } else if fail_on == FailOn::Unverified {
                Some("--fail-on unverified")
            } else if !o.verify_allow_host.is_empty() {
                Some("--verify-allow-host")
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
            // `--provider` and `--rule` pick the rules a scan runs too.
            if o.yes || o.audit_log.is_some() || !o.fingerprints.is_empty() {
                return Err(Error::Usage(
                    "--yes, --audit-log and --fingerprint need --revoke".into(),
                ));
            }
            None
        };
        // History and range scans group findings by key and say where each
        // key still lives; the HMAC key is this run's own, or an audit's
        // datastore's (docs/audit.md, "Exposure").
        let exposure = (!args.no_exposure
            && matches!(git, Some(GitScan::History { .. } | GitScan::Range { .. })))
        .then(|| crate::exposure::KeySlot::new(crate::exposure::Key::random()));
        let scan = scan::Options {
            paths: paths.to_vec(),
            git,
            no_ignore,
            follow,
            // Only the command line may lead the walk out of the scanned
            // paths; `follow` from a file follows links that stay inside.
            follow_outside_roots: args.files.follow,
            max_file_size,
            threads,
            decode_all,
            min_confidence,
            archives,
            progress: !args.output.quiet && std::io::stderr().is_terminal(),
            allowlist,
            baseline,
            verbose: args.files.verbose,
            interrupt: None,
            exposure,
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
            config_files: layers.iter().map(|l| l.path.clone()).collect(),
            audit,
            gitleaks_ignore,
        };
        Ok(config)
    }

    /// Resolve `leakhound verify REPORT` arguments: no scan settings, the
    /// report and verification ones only.
    pub fn from_verify_args(args: &VerifyArgs) -> Result<Config> {
        let layers = load_layers(args.config.no_config, args.config.config.as_deref())?;
        let file = merge(&layers);
        let outputs: Vec<(&str, &Path)> = args
            .output
            .file
            .iter()
            .map(|p| ("-o", p.as_path()))
            .collect();
        check_outputs(std::slice::from_ref(&args.report), &outputs)?;
        Ok(Config {
            scan: scan::Options::default(),
            report: report_options(&args.output),
            rules: resolve_layer_rules(&layers)?,
            verify: Some(verify::Options {
                progress: !args.output.quiet && std::io::stderr().is_terminal(),
                ..resolve_verify(&args.verify_options, &layers)?
            }),
            fail_on: args.fail_on.into(),
            revoke: None,
            providers: file.providers,
            config_files: layers.iter().map(|l| l.path.clone()).collect(),
            audit: None,
            gitleaks_ignore: None,
        })
    }

    /// Resolve `leakhound baseline create` arguments: a scan with the same
    /// file-selection flags, reported nowhere but the baseline file.
    pub fn from_baseline_args(args: &BaselineCreateArgs) -> Result<Config> {
        Config::from_scan_args(&ScanArgs {
            paths: args.paths.clone(),
            files: args.files.clone(),
            output: OutputArgs {
                quiet: args.quiet,
                color: ColorChoice::Never,
                ..OutputArgs::default()
            },
            ..ScanArgs::default()
        })
    }

    /// Resolve `leakhound revoke REPORT` arguments: verification settings
    /// from `[verify]` (the cache is never used), revocation from the flags.
    pub fn from_revoke_args(args: &RevokeArgs) -> Result<Config> {
        let verify_args = VerifyArgs {
            report: args.report.clone(),
            output: OutputArgs {
                color: ColorChoice::Never,
                ..OutputArgs::default()
            },
            config: args.config.clone(),
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

/// The output flags as the report's options; the terminal is looked at
/// here, once.
fn report_options(args: &OutputArgs) -> report::Options {
    // `-o -` is standard output.
    let output = args.file.clone().filter(|p| p.as_os_str() != "-");
    // anstream decides `auto`: a terminal, NO_COLOR unset, or CLICOLOR_FORCE.
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            output.is_none()
                && anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
        }
    };
    report::Options {
        format: args.format.into(),
        output,
        show_secrets: args.show_secrets,
        color,
        quiet: args.quiet,
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
        allow_hosts: verify.allow_hosts.clone(),
    }
}

/// Flags over `[verify]` (the last file that sets a key) over the defaults.
/// Every value, wherever it comes from, is checked against its bounds.
fn resolve_verify(args: &VerifyOptionsArgs, layers: &[Layer]) -> Result<verify::Options> {
    // Where an ambiguous key may go is the user's decision on the command
    // line, never a (possibly untrusted) repository's config file's.
    if let Some(layer) = layers.iter().find(|l| !l.file.verify.ambiguous.is_empty()) {
        return Err(layer.fail(
            "verify.ambiguous: ambiguous keys are sent only to the providers --verify-ambiguous names on the command line".into(),
        ));
    }
    let d = verify::Options::default();
    let options = verify::Options {
        ambiguous: args.verify_ambiguous.clone(),
        concurrency: settings::CONCURRENCY
            .resolve(args.verify_concurrency, layers)?
            .unwrap_or(d.concurrency),
        per_provider: settings::PER_PROVIDER
            .resolve(args.verify_per_provider, layers)?
            .unwrap_or(d.per_provider),
        connect_timeout: settings::CONNECT_TIMEOUT
            .resolve(args.verify_connect_timeout, layers)?
            .unwrap_or(d.connect_timeout),
        timeout: settings::TIMEOUT
            .resolve(args.verify_timeout, layers)?
            .unwrap_or(d.timeout),
        retries: settings::RETRIES
            .resolve(args.verify_retries, layers)?
            .unwrap_or(d.retries),
        max_wait: settings::MAX_WAIT
            .resolve(args.verify_max_wait, layers)?
            .unwrap_or(d.max_wait),
        // The cache only ever lives where the user said: a flag, or a
        // trusted file (a discovered one may not set `cache_dir`).
        cache_dir: if args.no_verify_cache {
            None
        } else {
            args.verify_cache
                .clone()
                .or_else(|| pick(layers, |f| f.verify.cache_dir.as_ref()).map(|(p, _)| p.clone()))
        },
        cache_ttl: settings::CACHE_TTL
            .resolve(args.verify_cache_ttl, layers)?
            .unwrap_or(d.cache_ttl),
        only_verified: args.only_verified,
        progress: false,
        // Restricting egress is safe from any file; the flag wins, then the
        // last file that sets the list.
        allow_hosts: if !args.verify_allow_host.is_empty() {
            crate::provider::egress::AllowHosts::parse(&args.verify_allow_host)
                .map_err(|m| Error::Usage(format!("--verify-allow-host: {m}")))?
        } else {
            match pick(layers, |f| f.verify.allow_hosts.as_ref()) {
                Some((list, layer)) => crate::provider::egress::AllowHosts::parse(list)
                    .map_err(|m| layer.fail(format!("verify.allow_hosts: {m}")))?,
                None => crate::provider::egress::AllowHosts::default(),
            }
        },
    };
    if options.timeout.is_zero() || options.connect_timeout.is_zero() {
        return Err(Error::Usage("verification timeouts must be above 0".into()));
    }
    Ok(options)
}

/// One setting that a flag and a key of `[scan]` or `[verify]` both give:
/// the flag wins, then the most specific file that sets the key; the value
/// is read by the flag's own parser and checked against one bound,
/// wherever it came from.
pub(crate) struct Setting<T: Value> {
    /// The flag, as error messages name it (`--threads`).
    flag: &'static str,
    /// The key, as error messages name it (`scan.threads`).
    key: &'static str,
    /// Where the parsed file keeps the value.
    get: fn(&ConfigFile) -> Option<&T::Written>,
    /// The largest value allowed, if any.
    limit: Option<T>,
    /// The smallest value allowed, if any (counts of checks in flight
    /// start at 1).
    min: Option<T>,
}

impl<T: Value> Setting<T> {
    /// The flag's value, else the most specific file's, else `None` (the
    /// caller's default).
    fn resolve(&self, flag: Option<T>, layers: &[Layer]) -> Result<Option<T>> {
        let value = match (flag, pick(layers, self.get)) {
            (Some(v), _) => self.check(self.flag, v).map_err(Error::Usage)?,
            (None, Some((written, layer))) => T::read(written)
                .map_err(|m| format!("{}: {m}", self.key))
                .and_then(|v| self.check(self.key, v))
                .map_err(|m| layer.fail(m))?,
            (None, None) => return Ok(None),
        };
        if let Some(min) = self.min.filter(|&min| value < min) {
            return Err(Error::Usage(format!(
                "{} ({}): must be at least {}",
                self.flag,
                self.key,
                min.show()
            )));
        }
        Ok(Some(value))
    }

    fn check(&self, what: &str, value: T) -> std::result::Result<T, String> {
        match self.limit {
            Some(limit) if value > limit => Err(format!(
                "{what}: {} is over the limit of {}",
                value.show(),
                limit.show()
            )),
            _ => Ok(value),
        }
    }
}

/// The type of a [`Setting`]'s value, and how a file writes it.
pub(crate) trait Value: Copy + PartialOrd {
    /// The value as the parsed file holds it.
    type Written: ?Sized;
    fn read(written: &Self::Written) -> std::result::Result<Self, String>;
    fn show(self) -> String;
}

impl Value for bool {
    type Written = bool;
    fn read(written: &bool) -> std::result::Result<bool, String> {
        Ok(*written)
    }
    fn show(self) -> String {
        self.to_string()
    }
}

/// Counts.
impl Value for usize {
    type Written = usize;
    fn read(written: &usize) -> std::result::Result<usize, String> {
        Ok(*written)
    }
    fn show(self) -> String {
        self.to_string()
    }
}

/// Retries.
impl Value for u32 {
    type Written = u32;
    fn read(written: &u32) -> std::result::Result<u32, String> {
        Ok(*written)
    }
    fn show(self) -> String {
        self.to_string()
    }
}

/// Sizes in bytes: `10485760` or `"10M"`, as `--max-file-size` takes them.
impl Value for u64 {
    type Written = Quantity;
    fn read(written: &Quantity) -> std::result::Result<u64, String> {
        match written {
            Quantity::Integer(n) => Ok(*n),
            Quantity::Float(n) => Err(format!("{n} is not a whole number of bytes")),
            Quantity::Text(s) => cli::parse_size(s),
        }
    }
    fn show(self) -> String {
        self.to_string()
    }
}

/// Durations: seconds (`15`, `2.5`) or `"500ms"`, `"24h"`, as the
/// `--verify-*` flags take them.
impl Value for std::time::Duration {
    type Written = Quantity;
    fn read(written: &Quantity) -> std::result::Result<std::time::Duration, String> {
        let seconds = match written {
            Quantity::Integer(n) => *n as f64,
            Quantity::Float(n) => *n,
            Quantity::Text(t) => return cli::parse_duration(t),
        };
        std::time::Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("{seconds} is not a duration"))
    }
    fn show(self) -> String {
        format!("{} s", self.as_secs_f64())
    }
}

/// Every setting that a flag and `.leakhound.toml` both give, declared
/// once: its flag, its key, where the parsed file keeps it, its bound.
pub(crate) mod settings {
    use super::{
        Setting, MAX_ARCHIVE_DEPTH, MAX_ARCHIVE_ENTRIES, MAX_ARCHIVE_RATIO, MAX_CACHE_TTL,
        MAX_CONCURRENCY, MAX_FILE_SIZE_LIMIT, MAX_RETRIES, MAX_THREADS, MAX_TIMEOUT,
    };
    use std::time::Duration;

    pub(crate) const MAX_FILE_SIZE: Setting<u64> = Setting {
        flag: "--max-file-size",
        key: "scan.max_file_size",
        get: |f| f.scan.max_file_size.as_ref(),
        limit: Some(MAX_FILE_SIZE_LIMIT),
        min: None,
    };
    pub(crate) const THREADS: Setting<usize> = Setting {
        flag: "--threads",
        key: "scan.threads",
        get: |f| f.scan.threads.as_ref(),
        limit: Some(MAX_THREADS),
        min: None,
    };
    pub(crate) const NO_IGNORE: Setting<bool> = Setting {
        flag: "--no-ignore",
        key: "scan.no_ignore",
        get: |f| f.scan.no_ignore.as_ref(),
        limit: None,
        min: None,
    };
    /// A discovered file may not set it (`check_discovered`); from a
    /// trusted file it follows only links that stay inside the scanned
    /// paths.
    pub(crate) const FOLLOW: Setting<bool> = Setting {
        flag: "--follow",
        key: "scan.follow",
        get: |f| f.scan.follow.as_ref(),
        limit: None,
        min: None,
    };
    pub(crate) const DECODE_ALL: Setting<bool> = Setting {
        flag: "--decode-all",
        key: "scan.decode_all",
        get: |f| f.scan.decode_all.as_ref(),
        limit: None,
        min: None,
    };
    pub(crate) const ARCHIVES: Setting<bool> = Setting {
        flag: "--no-archives",
        key: "scan.archives",
        get: |f| f.scan.archives.as_ref(),
        limit: None,
        min: None,
    };
    pub(crate) const ARCHIVE_DEPTH: Setting<u32> = Setting {
        flag: "--archive-depth",
        key: "scan.archive_depth",
        get: |f| f.scan.archive_depth.as_ref(),
        limit: Some(MAX_ARCHIVE_DEPTH),
        min: None,
    };
    pub(crate) const ARCHIVE_MAX_BYTES: Setting<u64> = Setting {
        flag: "scan.archive_max_bytes",
        key: "scan.archive_max_bytes",
        get: |f| f.scan.archive_max_bytes.as_ref(),
        limit: None,
        min: None,
    };
    pub(crate) const ARCHIVE_MAX_RATIO: Setting<usize> = Setting {
        flag: "scan.archive_max_ratio",
        key: "scan.archive_max_ratio",
        get: |f| f.scan.archive_max_ratio.as_ref(),
        limit: Some(MAX_ARCHIVE_RATIO),
        min: Some(1),
    };
    pub(crate) const ARCHIVE_MAX_ENTRIES: Setting<usize> = Setting {
        flag: "scan.archive_max_entries",
        key: "scan.archive_max_entries",
        get: |f| f.scan.archive_max_entries.as_ref(),
        limit: Some(MAX_ARCHIVE_ENTRIES),
        min: Some(1),
    };
    /// A flag only: how many repositories an audit mirrors at a time.
    pub(crate) const CLONE_JOBS: Setting<usize> = Setting {
        flag: "--clone-jobs",
        key: "--clone-jobs",
        get: |_| None,
        limit: Some(MAX_THREADS),
        min: Some(1),
    };
    pub(crate) const CONCURRENCY: Setting<usize> = Setting {
        flag: "--verify-concurrency",
        key: "verify.concurrency",
        get: |f| f.verify.concurrency.as_ref(),
        limit: Some(MAX_CONCURRENCY),
        min: Some(1),
    };
    pub(crate) const PER_PROVIDER: Setting<usize> = Setting {
        flag: "--verify-per-provider",
        key: "verify.per_provider",
        get: |f| f.verify.per_provider.as_ref(),
        limit: Some(MAX_CONCURRENCY),
        min: Some(1),
    };
    pub(crate) const TIMEOUT: Setting<Duration> = Setting {
        flag: "--verify-timeout",
        key: "verify.timeout",
        get: |f| f.verify.timeout.as_ref(),
        limit: Some(MAX_TIMEOUT),
        min: None,
    };
    pub(crate) const CONNECT_TIMEOUT: Setting<Duration> = Setting {
        flag: "--verify-connect-timeout",
        key: "verify.connect_timeout",
        get: |f| f.verify.connect_timeout.as_ref(),
        limit: Some(MAX_TIMEOUT),
        min: None,
    };
    pub(crate) const RETRIES: Setting<u32> = Setting {
        flag: "--verify-retries",
        key: "verify.retries",
        get: |f| f.verify.retries.as_ref(),
        limit: Some(MAX_RETRIES),
        min: None,
    };
    pub(crate) const MAX_WAIT: Setting<Duration> = Setting {
        flag: "--verify-max-wait",
        key: "verify.max_wait",
        get: |f| f.verify.max_wait.as_ref(),
        limit: Some(MAX_TIMEOUT),
        min: None,
    };
    pub(crate) const CACHE_TTL: Setting<Duration> = Setting {
        flag: "--verify-cache-ttl",
        key: "verify.cache_ttl",
        get: |f| f.verify.cache_ttl.as_ref(),
        limit: Some(MAX_CACHE_TTL),
        min: None,
    };
    pub(crate) const MIN_CONFIDENCE: Setting<crate::finding::Confidence> = Setting {
        flag: "--min-confidence",
        key: "scan.min_confidence",
        get: |f| f.scan.min_confidence.as_deref(),
        limit: None,
        min: None,
    };
}

/// Confidence levels: `"high"`, `"medium"`, `"low"`.
impl Value for crate::finding::Confidence {
    type Written = str;
    fn read(written: &str) -> std::result::Result<crate::finding::Confidence, String> {
        written.parse()
    }
    fn show(self) -> String {
        self.to_string()
    }
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
/// Deepest archive nesting opened.
pub const MAX_ARCHIVE_DEPTH: u32 = 32;
/// Largest archive inflation ratio allowed.
pub const MAX_ARCHIVE_RATIO: usize = 1_000_000;
/// Most entries read from one archive.
pub const MAX_ARCHIVE_ENTRIES: usize = 100_000_000;

/// The archive limits: flags, then the most specific file, then defaults.
fn archive_limits(args: &cli::FileArgs, layers: &[Layer]) -> Result<scan::ArchiveLimits> {
    let defaults = scan::ArchiveLimits::default();
    let opened = settings::ARCHIVES
        .resolve(args.no_archives.then_some(false), layers)?
        .unwrap_or(true);
    let depth = settings::ARCHIVE_DEPTH.resolve(args.archive_depth, layers)?;
    let count = |s: &Setting<usize>| -> Result<Option<u64>> {
        Ok(s.resolve(None, layers)?.map(|n| n as u64))
    };
    Ok(scan::ArchiveLimits {
        depth: if opened {
            depth.unwrap_or(defaults.depth)
        } else {
            0
        },
        max_bytes: settings::ARCHIVE_MAX_BYTES
            .resolve(None, layers)?
            .unwrap_or(defaults.max_bytes),
        max_ratio: count(&settings::ARCHIVE_MAX_RATIO)?.unwrap_or(defaults.max_ratio),
        max_entries: count(&settings::ARCHIVE_MAX_ENTRIES)?.unwrap_or(defaults.max_entries),
    })
}

/// Where a configuration file came from, which decides what it may set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Named with `--config`, or the user's own config file.
    Trusted,
    /// Found by itself in the current directory or at the root of its
    /// repository: it may come from anyone who can open a pull request.
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
/// [`discover_config`] finds. `--no-config` reads none.
fn load_layers(no_config: bool, explicit: Option<&Path>) -> Result<Vec<Layer>> {
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
    let project = match explicit {
        Some(p) => Some((p.to_path_buf(), Trust::Trusted)),
        None => discover_config().map(|p| (p, Trust::Discovered)),
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
    match discovered_refusals(&layer.file)?.into_iter().next() {
        Some((what, why)) => Err(refusal(layer, &what, why)),
        None => Ok(()),
    }
}

/// Everything a discovered file sets that it may not: what, and what it
/// would let the file do.
fn discovered_refusals(file: &ConfigFile) -> Result<Vec<(String, &'static str)>> {
    let verifiable: Vec<String> = provider::builtin_providers()?
        .into_iter()
        .map(|(_, s)| s.id)
        .collect();
    let mut refused = Vec::new();
    for name in file.providers.keys() {
        refused.push((
            format!("[providers.{}]", crate::text::sanitize(name)),
            "choose where keys and admin tokens are sent",
        ));
    }
    if file.scan.follow == Some(true) {
        refused.push((
            "[scan] follow".to_string(),
            "follow symbolic links (they can lead out of the tree)",
        ));
    }
    if file.verify.cache_dir.is_some() {
        refused.push((
            "[verify] cache_dir".to_string(),
            "choose where the verification cache is written",
        ));
    }
    for r in file
        .rules
        .iter()
        .filter(|r| verifiable.iter().any(|v| *v == r.provider))
    {
        refused.push((
            format!(
                "[[rules]] `{}` (provider = \"{}\")",
                crate::text::sanitize(&r.id),
                crate::text::sanitize(&r.provider)
            ),
            "add rules whose keys are sent to a provider for verification",
        ));
    }
    Ok(refused)
}

/// The error for one setting a discovered file may not make.
fn refusal(layer: &Layer, what: &str, why: &str) -> Error {
    let user = user_config_path().map_or_else(
        || "~/.config/leakhound/config.toml".to_string(),
        |p| p.display().to_string(),
    );
    layer.fail(format!(
        "{what}: a {CONFIG_FILE_NAME} found in the current directory or repository is not trusted to {why}; \
         to trust this file, name it with --config {}, or move the setting to your user config ({user}); \
         see docs/verify.md#trust-in-configuration-files",
        layer.origin()
    ))
}

/// The layers as one file: lists are joined, providers taken from the most
/// specific file that sets them. (`[scan]` and `[verify]` values are picked
/// per setting, by [`Setting::resolve`].)
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

/// The examples of each layer's own rules: not reported in that file (they
/// are there on purpose). Only the files in use count, so a rule file that a
/// pull request adds hides nothing, and neither does a changed
/// `.leakhound.toml` when the trusted one comes from elsewhere (the
/// Action's pull-request mode reads the base commit's).
fn config_examples(layers: &[Layer]) -> Vec<crate::allowlist::ConfigExamples> {
    layers
        .iter()
        .filter(|l| !l.file.rules.is_empty())
        .filter_map(|l| {
            let texts = l
                .file
                .rules
                .iter()
                .flat_map(|r| {
                    r.examples
                        .iter()
                        .flat_map(|e| [e.text.to_string(), e.secret.to_string()])
                        .chain(r.negative_examples.iter().map(|e| e.text.to_string()))
                })
                .collect();
            Some(crate::allowlist::ConfigExamples {
                file: std::fs::canonicalize(&l.path).ok()?,
                texts,
            })
        })
        .collect()
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

/// The rules a scan runs: `--rule` and `--provider` keep the rules they
/// name (and the rules those link as their parts, which are then reported
/// only as parts), `--disable-rule` drops rules. A name that matches no
/// rule is an error, with the nearest name as a hint.
fn select_rules(
    mut rules: Vec<Rule>,
    only: &[String],
    providers: &[String],
    disabled: &[String],
) -> Result<Vec<Rule>> {
    let unknown = |flag: &str, name: &str, known: Vec<&str>| {
        let hint = crate::text::nearest(name, known)
            .map_or_else(String::new, |n| format!("; did you mean `{n}`?"));
        Error::Usage(format!(
            "{flag} `{}`: no such {}{hint} (`leakhound rules list` lists them)",
            crate::text::sanitize(name),
            if flag == "--provider" {
                "provider"
            } else {
                "rule"
            }
        ))
    };
    for id in only.iter().chain(disabled) {
        if !rules.iter().any(|r| r.id() == id) {
            let flag = if only.contains(id) {
                "--rule"
            } else {
                "--disable-rule"
            };
            return Err(unknown(flag, id, rules.iter().map(|r| r.id()).collect()));
        }
    }
    for p in providers {
        if !rules.iter().any(|r| r.provider() == p) {
            let mut known: Vec<&str> = rules.iter().map(|r| r.provider()).collect();
            known.dedup();
            return Err(unknown("--provider", p, known));
        }
    }
    if !only.is_empty() || !providers.is_empty() {
        let picked = |r: &Rule| {
            only.iter().any(|id| id == r.id()) || providers.iter().any(|p| p == r.provider())
        };
        let mut keep: std::collections::BTreeSet<String> = rules
            .iter()
            .filter(|r| picked(r))
            .map(|r| r.id().to_string())
            .collect();
        // The parts a kept rule links, and theirs.
        loop {
            let more: Vec<String> = rules
                .iter()
                .filter(|r| keep.contains(r.id()))
                .flat_map(|r| r.spec.parts.iter().flat_map(|p| p.rules.iter()))
                .map(|id| id.to_string())
                .filter(|id| !keep.contains(id))
                .collect();
            if more.is_empty() {
                break;
            }
            keep.extend(more);
        }
        rules.retain(|r| keep.contains(r.id()));
        for r in rules.iter_mut().filter(|r| !picked(r)) {
            r.spec.part_only = true;
        }
    }
    // A rule another one links as a part stays, reported only as a part.
    let linked: std::collections::BTreeSet<String> = rules
        .iter()
        .filter(|r| !disabled.iter().any(|d| d == r.id()))
        .flat_map(|r| r.spec.parts.iter().flat_map(|p| p.rules.iter()))
        .map(|id| id.to_string())
        .collect();
    rules.retain(|r| !disabled.iter().any(|d| d == r.id()) || linked.contains(r.id()));
    for r in rules.iter_mut() {
        if disabled.iter().any(|d| d == r.id()) {
            r.spec.part_only = true;
        }
    }
    Ok(rules)
}

/// The `.gitleaksignore` a scan reads: `--gitleaksignore FILE`, else the
/// one beside the configuration file that discovery finds (the current
/// directory, else the repository's root), trusted as that file is; none
/// with `--no-gitleaksignore` or `--no-config`.
fn gitleaks_ignore(args: &ScanArgs) -> Result<Option<crate::gitleaks::Ignore>> {
    use crate::gitleaks::{Ignore, IGNORE_FILE_NAME};
    if let Some(path) = &args.gitleaksignore {
        return Ignore::load(path).map(Some);
    }
    if args.no_gitleaksignore || args.files.config.no_config {
        return Ok(None);
    }
    let here = PathBuf::from(IGNORE_FILE_NAME);
    let found = if here.is_file() {
        Some(here)
    } else {
        std::env::current_dir()
            .ok()
            .and_then(|cwd| git2::Repository::discover(cwd).ok())
            .and_then(|repo| repo.workdir().map(|w| w.join(IGNORE_FILE_NAME)))
            .filter(|p| p.is_file())
    };
    found.map(|p| Ignore::load(&p)).transpose()
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

/// The project's `.leakhound.toml`: in the current directory, else at the
/// root of the git repository the current directory is in. Never looked
/// for beside the scanned paths, so `scan file.py`, `scan sub/`, `scan -`
/// and `scan a b` all read the same file as `scan`.
pub fn discover_config() -> Option<PathBuf> {
    let here = PathBuf::from(CONFIG_FILE_NAME);
    if here.is_file() {
        return Some(here);
    }
    let cwd = std::env::current_dir().ok()?;
    let repo = git2::Repository::discover(&cwd).ok()?;
    let candidate = repo.workdir()?.join(CONFIG_FILE_NAME);
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
        for spec in file.rules.iter() {
            rules.push(Rule::compile(spec.clone(), origin)?);
        }
    }
    Ok(rules)
}

/// The PATHs of `scan --git` that are remote URLs (`https://…`, `git://…`,
/// `ssh://…`, `file://…`, or scp-like `git@host:owner/repo`) and not
/// local paths: `scan --git URL…` audits them like `--git-url`.
fn remote_paths(args: &ScanArgs) -> Vec<String> {
    if !args.git {
        return Vec::new();
    }
    args.paths
        .iter()
        .filter(|p| std::fs::symlink_metadata(p).is_err())
        .filter_map(|p| p.to_str())
        .filter(|p| {
            p.contains("://")
                || p.split_once(':').is_some_and(|(host, _)| {
                    host.contains('@') && !host.contains('/') && !host.is_empty()
                })
        })
        .map(str::to_string)
        .collect()
}

/// The audit `scan`'s remote flags ask for, if any (`--git-url`,
/// `--github-org`, …): URLs read, globs compiled, tokens taken from the
/// environment (never from the command line), the shard resolved.
fn resolve_audit(args: &ScanArgs) -> Result<Option<crate::audit::Options>> {
    use crate::hosting::{Owner, Token};
    let r = &args.remote;
    let mut owners: Vec<Owner> = Vec::new();
    owners.extend(r.github_org.iter().cloned().map(Owner::GitHubOrg));
    owners.extend(r.github_user.iter().cloned().map(Owner::GitHubUser));
    owners.extend(r.gitlab_group.iter().cloned().map(Owner::GitLabGroup));
    owners.extend(r.gitlab_user.iter().cloned().map(Owner::GitLabUser));
    let mut urls = r.git_url.clone();
    if let Some(file) = &r.git_urls {
        urls.extend(crate::audit::read_url_list(file)?);
    }
    let named = remote_paths(args);
    if !named.is_empty() && named.len() != args.paths.len() {
        return Err(Error::Usage(
            "--git scans local repositories or remote URLs, not both in one run".into(),
        ));
    }
    urls.extend(named);
    let is_audit = !owners.is_empty() || !urls.is_empty() || r.git_urls.is_some();
    if !is_audit {
        let set = [
            ("--api-url", r.api_url.is_some()),
            ("--forks", r.forks),
            ("--no-archived", r.no_archived),
            ("--include", !r.include.is_empty()),
            ("--exclude", !r.exclude.is_empty()),
            ("--clone-dir", r.clone_dir.is_some()),
            ("--clone-jobs", r.clone_jobs.is_some()),
            ("--clone-timeout", r.clone_timeout.is_some()),
            ("--datastore", r.datastore.is_some()),
            ("--shard", r.shard.is_some()),
        ];
        if let Some((flag, _)) = set.iter().find(|(_, on)| *on) {
            return Err(Error::Usage(format!(
                "{flag} is for audits: name repositories with --git-url, --git-urls, --github-org, --github-user, --gitlab-group or --gitlab-user"
            )));
        }
        return Ok(None);
    }
    if remote_paths(args).is_empty() && (args.paths.len() != 1 || args.paths[0] != Path::new(".")) {
        return Err(Error::Usage(
            "an audit scans the repositories it names; leave out PATH".into(),
        ));
    }
    if args.revoke && r.datastore.is_some() {
        return Err(Error::Usage(
            "--revoke cannot be combined with --datastore: the datastore keeps redacted keys only; audit without it to revoke (docs/audit.md)".into(),
        ));
    }
    let has_github = owners
        .iter()
        .any(|o| matches!(o, Owner::GitHubOrg(_) | Owner::GitHubUser(_)));
    let has_gitlab = owners
        .iter()
        .any(|o| matches!(o, Owner::GitLabGroup(_) | Owner::GitLabUser(_)));
    let api_url = match &r.api_url {
        None => None,
        Some(text) => {
            if has_github && has_gitlab {
                return Err(Error::Usage(
                    "--api-url names one hosting service: audit GitHub and GitLab in separate runs"
                        .into(),
                ));
            }
            if !has_github && !has_gitlab {
                return Err(Error::Usage(
                    "--api-url needs --github-org, --github-user, --gitlab-group or --gitlab-user"
                        .into(),
                ));
            }
            let url = url::Url::parse(text)
                .map_err(|e| Error::Usage(format!("--api-url `{text}`: {e}")))?;
            crate::hosting::check_api_url(&url).map_err(Error::Usage)?;
            Some(url)
        }
    };
    let globs = |flag: &str, list: &[String]| -> Result<Option<globset::GlobSet>> {
        if list.is_empty() {
            return Ok(None);
        }
        let mut b = globset::GlobSetBuilder::new();
        for g in list {
            b.add(globset::Glob::new(g).map_err(|e| Error::Usage(format!("{flag} `{g}`: {e}")))?);
        }
        b.build()
            .map(Some)
            .map_err(|e| Error::Usage(format!("{flag}: {e}")))
    };
    let token = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(Token)
    };
    let shard = r
        .shard
        .as_deref()
        .map(|s| crate::audit::Shard::parse(s, |n| std::env::var(n).ok()))
        .transpose()
        .map_err(Error::Usage)?;
    let clone_dir = match &r.clone_dir {
        Some(d) => d.clone(),
        None => user_cache_dir()
            .ok_or_else(|| {
                Error::Usage("no user cache directory (HOME is unset): pass --clone-dir".into())
            })?
            .join("leakhound")
            .join("clones"),
    };
    let clone_jobs = settings::CLONE_JOBS
        .resolve(r.clone_jobs, &[])?
        .unwrap_or(4);
    Ok(Some(crate::audit::Options {
        urls,
        owners,
        hosting: crate::hosting::Options {
            api_url,
            github_token: token("GITHUB_TOKEN"),
            gitlab_token: token("GITLAB_TOKEN"),
            forks: r.forks,
            archived: !r.no_archived,
            include: globs("--include", &r.include)?,
            exclude: globs("--exclude", &r.exclude)?,
            connect_timeout: std::time::Duration::from_secs(10),
            timeout: std::time::Duration::from_secs(60),
            max_wait: std::time::Duration::from_secs(300),
        },
        clone_dir,
        clone_jobs,
        clone_timeout: r
            .clone_timeout
            .unwrap_or(std::time::Duration::from_secs(3600)),
        datastore: r.datastore.clone(),
        shard,
        all_objects: args.all_objects,
    }))
}

/// The user's cache directory: `$XDG_CACHE_HOME`, else `~/Library/Caches`
/// on macOS, `%LOCALAPPDATA%` on Windows, `~/.cache` elsewhere.
fn user_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if cfg!(windows) {
        return std::env::var_os("LOCALAPPDATA").map(PathBuf::from);
    }
    let home = PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?);
    Some(if cfg!(target_os = "macos") {
        home.join("Library").join("Caches")
    } else {
        home.join(".cache")
    })
}

/// `leakhound report --datastore`'s report options.
pub fn datastore_report_options(args: &cli::ReportArgs) -> Result<report::Options> {
    let outputs: Vec<(&str, &Path)> = args.output.iter().map(|p| ("-o", p.as_path())).collect();
    check_outputs(std::slice::from_ref(&args.datastore), &outputs)?;
    Ok(report_options(&OutputArgs {
        format: args.format,
        file: args.output.clone(),
        show_secrets: false,
        color: args.color,
        quiet: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn layer(name: &str, toml_text: &str) -> Layer {
        Layer {
            path: PathBuf::from(name),
            file: toml::from_str(toml_text).expect("test TOML parses"),
            trust: Trust::Trusted,
        }
    }

    #[test]
    fn a_setting_takes_the_flag_then_the_most_specific_file() {
        let layers = [
            layer(
                "user.toml",
                "[scan]\nthreads = 3\n[verify]\ntimeout = \"2s\"\n",
            ),
            layer("project.toml", "[scan]\nthreads = 5\n"),
        ];
        assert_eq!(
            settings::THREADS.resolve(Some(7), &layers).unwrap(),
            Some(7)
        );
        assert_eq!(settings::THREADS.resolve(None, &layers).unwrap(), Some(5));
        assert_eq!(
            settings::TIMEOUT.resolve(None, &layers).unwrap(),
            Some(Duration::from_secs(2))
        );
        assert_eq!(settings::RETRIES.resolve(None, &layers).unwrap(), None);
        assert_eq!(settings::NO_IGNORE.resolve(None, &layers).unwrap(), None);
    }

    #[test]
    fn a_setting_is_checked_wherever_it_comes_from() {
        let flag = settings::THREADS.resolve(Some(9999), &[]).unwrap_err();
        assert!(
            flag.to_string()
                .contains("--threads: 9999 is over the limit of 256"),
            "{flag}"
        );
        let layers = [layer(
            "p.toml",
            "[scan]\nthreads = 9999\nmax_file_size = 1.5\n",
        )];
        let file = settings::THREADS.resolve(None, &layers).unwrap_err();
        let text = file.to_string();
        assert!(
            text.contains("p.toml") && text.contains("scan.threads: 9999"),
            "{text}"
        );
        let size = settings::MAX_FILE_SIZE.resolve(None, &layers).unwrap_err();
        assert!(
            size.to_string()
                .contains("scan.max_file_size: 1.5 is not a whole number"),
            "{size}"
        );
        let layers = [layer(
            "p.toml",
            "[verify]\nconcurrency = 0\ncache_ttl = \"9999d\"\n",
        )];
        let zero = settings::CONCURRENCY.resolve(None, &layers).unwrap_err();
        assert!(
            zero.to_string()
                .contains("(verify.concurrency): must be at least 1"),
            "{zero}"
        );
        let ttl = settings::CACHE_TTL.resolve(None, &layers).unwrap_err();
        assert!(
            ttl.to_string()
                .contains("verify.cache_ttl: 863913600 s is over the limit of 7776000 s"),
            "{ttl}"
        );
    }
}
