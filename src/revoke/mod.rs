//! Revocation: turn off leaked keys that are live, through the providers'
//! admin APIs, and prove it.
//!
//! Shape of a run:
//!
//! 1. Select: the findings the filters (`--provider`, `--rule`,
//!    `--fingerprint`) keep.
//! 2. Plan, per unique (provider, key): only a key verified live *now* is a
//!    candidate (`revoke REPORT.json` verifies again first, without the
//!    cache, so a stale report never drives a revocation); an ambiguous key
//!    is never revoked, whatever a verification said; a live key whose
//!    provider has no revocation spec, or whose kind the spec does not
//!    cover, stays live and is listed.
//! 3. Dry run (the default): print the plan and change nothing.
//! 4. `--yes`: every admin token needed is read first (a missing one stops
//!    the run before any request), the audit log is opened, then each
//!    provider's keys are revoked in turn (batched where the endpoint takes
//!    lists). Every accepted call is confirmed by verifying the key again:
//!    `revoked` only when the provider now rejects it.
//!
//! Keys and admin tokens travel as [`Secret`]s: no `Display`, a redacted
//! `Debug`, sensitive header values. The audit log and every message show
//! the redacted key and the token's environment variable name only.

pub mod audit;

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

use crate::error::{Error, Result};
use crate::finding::{sha256_hex, Finding, Verdict, Verification};
use crate::provider::http::Http;
use crate::provider::revoke::{AdminAuth, Outcome, Revocation};
use crate::provider::{self, Secret};
use crate::text::sanitize;
use audit::{AuditEntry, AuditLog};

/// The default audit log, in the current directory.
pub const DEFAULT_AUDIT_LOG: &str = "leakhound-audit.jsonl";

/// How a revocation run behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// Act; without it, a dry run.
    pub yes: bool,
    /// Timeouts of an admin API call (those of verification).
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub audit_log: PathBuf,
    /// Filters; empty = all.
    pub providers: Vec<String>,
    pub rules: Vec<String>,
    pub fingerprints: Vec<String>,
    /// The only hosts an admin call may go to (those of verification):
    /// a call to any other fails with nothing sent.
    pub allow_hosts: provider::egress::AllowHosts,
}

/// The final state of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not a candidate (not live, ambiguous).
    Skipped,
    /// Live, and nothing here can revoke it.
    NotRevocable,
    /// Dry run: would be revoked.
    WouldRevoke,
    Revoked,
    AlreadyRevoked,
    /// Accepted by an asynchronous endpoint; still live when checked.
    Submitted,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Skipped => "skipped",
            Status::NotRevocable => "not-revocable",
            Status::WouldRevoke => "would-revoke",
            Status::Revoked => "revoked",
            Status::AlreadyRevoked => "already-revoked",
            Status::Submitted => "revoke-submitted",
            Status::Failed => "revoke-failed",
        }
    }

    /// Does the key (possibly) still work after this?
    pub fn remains(self) -> bool {
        matches!(
            self,
            Status::NotRevocable | Status::WouldRevoke | Status::Submitted | Status::Failed
        )
    }
}

/// One unique (provider, key) and what happened to it.
#[derive(Debug)]
pub struct Item {
    pub provider: String,
    /// Indices of the findings holding this key.
    pub findings: Vec<usize>,
    pub redacted: String,
    secret: Secret,
    revocation: Option<Arc<Revocation>>,
    pub status: Status,
    /// Why (skipped, failed) or what the provider said.
    pub detail: String,
    /// HTTP status of the revocation request.
    pub http_status: Option<u16>,
    /// The verification after the revocation call.
    pub verified_after: Option<Verification>,
}

/// Everything a run decided and did, in report order.
#[derive(Debug, Default)]
pub struct Plan {
    pub items: Vec<Item>,
    pub dry_run: bool,
    /// Ctrl-C stopped the run: later keys were not attempted.
    pub interrupted: bool,
    /// Admin API calls sent per host (`host` or `host:port`).
    pub hosts: BTreeMap<String, usize>,
}

impl Plan {
    pub fn count(&self, status: Status) -> usize {
        self.items.iter().filter(|i| i.status == status).count()
    }

    /// Keys skipped because their verification could not settle them
    /// (`unknown`, the network down, a host not allowed): they were not
    /// revoked and may well be live.
    pub fn unchecked(&self, findings: &[Finding]) -> usize {
        self.items
            .iter()
            .filter(|i| i.status == Status::Skipped)
            .filter(|i| {
                i.findings.first().is_some_and(|&f| {
                    let f = &findings[f];
                    !f.ambiguous
                        && f.verification.as_ref().is_some_and(|v| {
                            v.verdict == Verdict::Unknown
                                && v.reason != Some(crate::finding::UnknownReason::NotVerifiable)
                        })
                })
            })
            .count()
    }

    /// The warning for [`Plan::unchecked`] keys, if any.
    pub fn unchecked_warning(&self, findings: &[Finding]) -> Option<String> {
        let n = self.unchecked(findings);
        (n > 0).then(|| {
            format!(
                "warning: {n} key{} could not be checked (verdict unknown): not revoked, and {} may still be live",
                plural(n),
                if n == 1 { "it" } else { "they" }
            )
        })
    }

    /// Keys that may still work: the run is not done (exit 1).
    pub fn remaining(&self) -> usize {
        self.items.iter().filter(|i| i.status.remains()).count()
    }
}

/// Verifies findings again, now and bypassing any cache, setting their
/// `verification`: how a revocation is confirmed. The caller hands in
/// verification, so that this module needs to know only its outcome.
pub type Reverify = Box<dyn Fn(&mut [Finding])>;

/// The revocation specs of every provider that has one, host rules checked.
pub struct Revoker {
    revocations: HashMap<String, Arc<Revocation>>,
    options: Options,
    reverify: Reverify,
}

impl std::fmt::Debug for Revoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revoker")
            .field("revocations", &self.revocations)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Revoker {
    /// Merge the built-in revocation specs with `[providers.NAME.revoke]`
    /// and check them; `reverify` must not use a cache.
    pub fn new(
        providers: &BTreeMap<String, provider::Settings>,
        options: Options,
        reverify: Reverify,
    ) -> Result<Revoker> {
        let mut revocations = HashMap::new();
        let builtin = crate::provider::builtin_providers()?;
        for (origin, spec) in &builtin {
            let settings = providers.get(&spec.id);
            let config = settings.and_then(|s| s.revoke.as_ref());
            if spec.revoke.is_none() && config.is_none() {
                continue;
            }
            let base = settings
                .and_then(|s| s.base_url.as_deref())
                .unwrap_or(&spec.base_url);
            let r = Revocation::new(
                &spec.id,
                &spec.name,
                base,
                spec.revoke.as_ref(),
                config,
                origin,
            )?;
            revocations.insert(spec.id.clone(), Arc::new(r));
        }
        for (name, settings) in providers {
            if settings.revoke.is_some() && !builtin.iter().any(|(_, s)| &s.id == name) {
                return Err(Error::Usage(format!(
                    "[providers.{name}.revoke]: no verification check for provider `{name}`, \
                     so a revocation could not be confirmed"
                )));
            }
        }
        for p in &options.providers {
            if !builtin.iter().any(|(_, s)| &s.id == p) && !revocations.contains_key(p) {
                return Err(Error::Usage(format!(
                    "--provider {p}: no such provider (providers with a check: {})",
                    {
                        let mut ids: Vec<&str> =
                            builtin.iter().map(|(_, s)| s.id.as_str()).collect();
                        ids.sort_unstable();
                        ids.join(", ")
                    }
                )));
            }
        }
        Ok(Revoker {
            revocations,
            options,
            reverify,
        })
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Does the finding pass `--provider`, `--rule` and `--fingerprint`?
    pub fn selects(&self, f: &Finding) -> bool {
        let o = &self.options;
        (o.providers.is_empty() || o.providers.contains(&f.provider))
            && (o.rules.is_empty() || o.rules.contains(&f.rule_id))
            && (o.fingerprints.is_empty()
                || o.fingerprints
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(&f.fingerprint)))
    }

    /// Verify `findings` now, bypassing any cache.
    pub fn verify_fresh(&self, findings: &mut [Finding]) {
        (self.reverify)(findings);
    }

    /// Decide, per unique (provider, key) of the selected findings, what to
    /// do. Reads each finding's current verification.
    pub fn plan(&self, findings: &[Finding]) -> Plan {
        let mut items: Vec<Item> = Vec::new();
        let mut index: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, f) in findings.iter().enumerate() {
            if !self.selects(f) {
                continue;
            }
            if let Some(&at) = index.get(&(f.provider.as_str(), f.secret.as_str())) {
                items[at].findings.push(i);
                continue;
            }
            index.insert((f.provider.as_str(), f.secret.as_str()), items.len());
            let (status, detail, revocation) = self.decide(f);
            items.push(Item {
                provider: f.provider.clone(),
                findings: vec![i],
                redacted: f.redacted.clone(),
                secret: Secret::new(f.secret.clone()),
                revocation,
                status,
                detail,
                http_status: None,
                verified_after: None,
            });
        }
        Plan {
            items,
            dry_run: !self.options.yes,
            interrupted: false,
            hosts: BTreeMap::new(),
        }
    }

    fn decide(&self, f: &Finding) -> (Status, String, Option<Arc<Revocation>>) {
        if f.ambiguous {
            let mut could = vec![f.provider.as_str()];
            could.extend(f.alternatives.iter().map(String::as_str));
            return (
                Status::Skipped,
                format!(
                    "ambiguous provider (could be {}): never revoked",
                    could.join(", ")
                ),
                None,
            );
        }
        match &f.verification {
            None => (Status::Skipped, "not verified".into(), None),
            Some(v) if v.verdict == Verdict::Dead => {
                (Status::Skipped, format!("not live: {}", v.summary()), None)
            }
            Some(v) if v.verdict == Verdict::Unknown => (
                Status::Skipped,
                format!("not verified live: {}", v.summary()),
                None,
            ),
            Some(_) => match self.revocations.get(&f.provider) {
                None => (
                    Status::NotRevocable,
                    format!(
                        "live, but leakhound has no revocation for provider `{}`: revoke it in \
                         the provider's console, or set [providers.{}.revoke]",
                        f.provider, f.provider
                    ),
                    None,
                ),
                Some(r) if !r.applies_to(&f.secret) => (
                    Status::NotRevocable,
                    format!(
                        "live, but {}'s revocation endpoint does not take this kind of key",
                        r.name
                    ),
                    None,
                ),
                Some(r) => (Status::WouldRevoke, String::new(), Some(Arc::clone(r))),
            },
        }
    }

    /// The admin-token variables the plan needs that are unset or empty.
    pub fn missing_tokens(&self, plan: &Plan) -> Vec<(String, String)> {
        let mut missing: Vec<(String, String)> = Vec::new();
        for item in &plan.items {
            let Some(r) = &item.revocation else { continue };
            if let Some(env) = r.auth.token_env() {
                if !token_is_set(env) && !missing.iter().any(|(e, _)| e == env) {
                    missing.push((env.to_string(), r.name.clone()));
                }
            }
        }
        missing
    }

    /// Revoke every planned key, confirm, record in the audit log and set
    /// the findings' verification to what the provider says afterwards.
    /// Each key's audit line is written (and synced) as soon as its call is
    /// settled, before the next call, so an interrupted run loses nothing it
    /// did. Once `interrupt` is set no new call starts: a call in flight is
    /// given up and logged as unsettled, the rest as not attempted.
    /// Fails only if the admin tokens are missing (before any request) or
    /// the audit log cannot be written.
    pub fn execute(
        &self,
        plan: &mut Plan,
        findings: &mut [Finding],
        audit: &mut AuditLog,
        interrupt: &AtomicBool,
    ) -> Result<()> {
        let missing = self.missing_tokens(plan);
        if !missing.is_empty() {
            return Err(missing_tokens_error(&missing));
        }
        let http = Http::new(self.options.connect_timeout, self.options.timeout)?;
        let tally = provider::egress::Tally::default();
        let egress = (&self.options.allow_hosts, &tally);
        // Per provider, in order of first appearance.
        let mut order: Vec<String> = Vec::new();
        for item in &plan.items {
            if item.status == Status::WouldRevoke && !order.contains(&item.provider) {
                order.push(item.provider.clone());
            }
        }
        plan.dry_run = false;
        for provider in order {
            let planned: Vec<usize> = (0..plan.items.len())
                .filter(|&i| {
                    plan.items[i].status == Status::WouldRevoke
                        && plan.items[i].provider == provider
                })
                .collect();
            let r = Arc::clone(
                plan.items[planned[0]]
                    .revocation
                    .as_ref()
                    .expect("a planned item has its revocation"),
            );
            let token = r.auth.token_env().map(|env| {
                Secret::new(std::env::var(env).expect("missing tokens were checked above"))
            });
            let mut token_rejected: Option<String> = None;
            for chunk in planned.chunks(r.batch) {
                if interrupt.load(Ordering::SeqCst) {
                    plan.interrupted = true;
                }
                let not_attempted = if plan.interrupted {
                    Some("interrupted before this key's call".to_string())
                } else {
                    token_rejected
                        .as_ref()
                        .map(|why| format!("{why} on an earlier key"))
                };
                if let Some(why) = not_attempted {
                    for &i in chunk {
                        let item = &mut plan.items[i];
                        item.status = Status::Failed;
                        item.detail = format!("not attempted: {why}");
                        record(audit, item, findings)?;
                    }
                    continue;
                }
                let secrets: Vec<&Secret> = chunk.iter().map(|&i| &plan.items[i].secret).collect();
                let answer = send(&http, &r, &secrets, token.as_ref(), egress, interrupt);
                plan.hosts = tally.snapshot();
                // (item index, outcome of the call) for calls to confirm.
                let mut to_confirm: Vec<(usize, Outcome)> = Vec::new();
                for &i in chunk {
                    let item = &mut plan.items[i];
                    match &answer {
                        Err(Sent::Interrupted) => {
                            plan.interrupted = true;
                            item.status = Status::Failed;
                            item.detail = "interrupted while waiting for the admin API: the call                                            was sent and may have revoked the key; check with                                            `leakhound verify`"
                                .into();
                        }
                        Err(Sent::Failed(reason)) => {
                            item.status = Status::Failed;
                            item.detail = format!("admin API: {reason}");
                        }
                        Ok((status, body)) => {
                            let (outcome, detail) = r.classify(*status, body);
                            item.http_status = Some(*status);
                            item.detail = detail.clone();
                            if outcome == Outcome::Failed {
                                item.status = Status::Failed;
                                item.detail = format!("{detail} (HTTP {status})");
                                if r.auth.token_env().is_some()
                                    && (*status == 401 || *status == 403)
                                {
                                    token_rejected = Some(format!("{detail} (HTTP {status})"));
                                }
                            } else {
                                to_confirm.push((i, outcome));
                            }
                        }
                    }
                    // A failure is final at once: logged before the next call.
                    if item.status == Status::Failed {
                        record(audit, item, findings)?;
                    }
                }
                // Confirmed and logged before the next call.
                self.confirm(plan, findings, &to_confirm);
                for &(i, _) in &to_confirm {
                    record(audit, &plan.items[i], findings)?;
                }
            }
        }
        if interrupt.load(Ordering::SeqCst) {
            plan.interrupted = true;
        }
        Ok(())
    }

    /// Verify every key whose call was accepted again and settle its status.
    fn confirm(&self, plan: &mut Plan, findings: &mut [Finding], calls: &[(usize, Outcome)]) {
        if calls.is_empty() {
            return;
        }
        let mut probes: Vec<Finding> = calls
            .iter()
            .map(|&(i, _)| {
                let mut f = findings[plan.items[i].findings[0]].clone();
                f.ambiguous = false;
                f.verification = None;
                f
            })
            .collect();
        self.verify_fresh(&mut probes);
        for (&(i, outcome), probe) in calls.iter().zip(probes) {
            let item = &mut plan.items[i];
            let r = item.revocation.clone().expect("confirmed items were sent");
            let after = probe
                .verification
                .expect("verify sets a verification on every finding");
            let said = match item.http_status {
                Some(s) => format!("admin API HTTP {s}: {}", item.detail),
                None => item.detail.clone(),
            };
            let (status, detail) = match (after.verdict, outcome) {
                (Verdict::Dead, Outcome::AlreadyRevoked) => (Status::AlreadyRevoked, said),
                (Verdict::Dead, _) => (Status::Revoked, said),
                (_, _) if r.asynchronous => (
                    Status::Submitted,
                    format!(
                        "{said}; {} revokes asynchronously and the key still answers \
                         {}: check again later with `leakhound verify`",
                        r.name, after.verdict
                    ),
                ),
                (Verdict::Live, _) => (Status::Failed, format!("{said}, but the key still works")),
                (_, _) => (
                    Status::Failed,
                    format!(
                        "{said}, but the revocation could not be confirmed ({})",
                        after.summary()
                    ),
                ),
            };
            item.status = status;
            item.detail = detail;
            for &fi in &item.findings {
                findings[fi].verification = Some(after.clone());
            }
            item.verified_after = Some(after);
        }
    }
}

/// Is the admin-token variable set, non-empty and valid UTF-8?
fn token_is_set(env: &str) -> bool {
    std::env::var(env).is_ok_and(|v| !v.is_empty())
}

/// `KUNAVO_ADMIN_TOKEN is not set …`, naming every missing variable.
pub fn missing_tokens_error(missing: &[(String, String)]) -> Error {
    let list: Vec<String> = missing
        .iter()
        .map(|(env, name)| format!("{env} (the admin token for revoking {name} keys)"))
        .collect();
    Error::Usage(format!(
        "cannot revoke: environment variable {} {} not set; nothing was revoked",
        list.join(", "),
        if missing.len() == 1 { "is" } else { "are" }
    ))
}

/// Send one revocation request. The answer's status and (capped) body, or
/// a fixed reason of ours: nothing from the transport error is passed on.
fn send(
    http: &Http,
    r: &Revocation,
    keys: &[&Secret],
    token: Option<&Secret>,
    egress: (&provider::egress::AllowHosts, &provider::egress::Tally),
    interrupt: &AtomicBool,
) -> std::result::Result<(u16, Vec<u8>), Sent> {
    send_request(http, r, keys, token, egress, interrupt).map_err(|reason| match reason {
        Some(reason) => Sent::Failed(reason),
        None => Sent::Interrupted,
    })
}

/// Why a revocation call has no answer.
enum Sent {
    /// A fixed reason of ours.
    Failed(&'static str),
    /// Ctrl-C while waiting: the call may have reached the provider.
    Interrupted,
}

/// [`send`]; `Err(None)` when interrupted.
fn send_request(
    http: &Http,
    r: &Revocation,
    keys: &[&Secret],
    token: Option<&Secret>,
    (allow, tally): (&provider::egress::AllowHosts, &provider::egress::Tally),
    interrupt: &AtomicBool,
) -> std::result::Result<(u16, Vec<u8>), Option<&'static str>> {
    let raw: Vec<&str> = keys.iter().map(|k| k.expose()).collect();
    let url = reqwest::Url::parse(&r.url_for(&raw)).map_err(|_| Some("bad admin URL"))?;
    if !allow.allows_url(&url) {
        return Err(Some(
            "egress denied: the admin API's host is not an allowed host (allow_hosts); nothing sent",
        ));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &r.headers {
        // Validated when the spec was loaded.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(n, v);
        }
    }
    let credential = match (&r.auth, token) {
        (AdminAuth::None, _) => None,
        (AdminAuth::Key, _) => Some(("authorization", format!("Bearer {}", raw[0]))),
        (AdminAuth::Bearer { .. }, Some(t)) => {
            Some(("authorization", format!("Bearer {}", t.expose())))
        }
        (AdminAuth::Header { name, .. }, Some(t)) => Some((name.as_str(), t.expose().to_string())),
        (_, None) => return Err(Some("no admin token")),
    };
    if let Some((name, value)) = credential {
        let (Ok(n), Ok(mut v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            return Err(Some(
                "the credential holds characters an HTTP header cannot carry",
            ));
        };
        v.set_sensitive(true);
        headers.insert(n, v);
    }
    let client = http.client_for(&url);
    tally.record(&url);
    let mut request = client.request(r.method.clone(), url).headers(headers);
    if let Some(body) = r.body_for(&raw) {
        let ct = HeaderValue::from_str(&r.content_type).map_err(|_| Some("bad content type"))?;
        request = request.header(CONTENT_TYPE, ct).body(body);
    }
    // One deadline for the whole request, body included.
    match crate::provider::http::send_unless_interrupted(request, http.timeout(), interrupt) {
        Err((crate::finding::UnknownReason::Interrupted, _)) => Err(None),
        Err((_, detail)) => Err(Some(detail)),
        Ok(answer) => Ok((answer.status, answer.body)),
    }
}

/// One audit line per finding of `item`.
fn record(audit: &mut AuditLog, item: &Item, findings: &[Finding]) -> Result<()> {
    let r = item.revocation.as_ref();
    let key_sha256 = sha256_hex(item.secret.expose().as_bytes());
    for &fi in &item.findings {
        let f = &findings[fi];
        audit.append(&AuditEntry {
            time: audit::now_rfc3339(),
            provider: item.provider.clone(),
            rule: f.rule_id.clone(),
            fingerprint: f.fingerprint.clone(),
            path: f.path.clone(),
            key: item.redacted.clone(),
            key_sha256: key_sha256.clone(),
            endpoint: r.map(|r| r.endpoint()).unwrap_or_default(),
            credential: r.map(|r| r.auth.describe()).unwrap_or_default(),
            outcome: item.status.as_str().to_string(),
            status: item.http_status,
            detail: item.detail.clone(),
            verified_after: item.verified_after.as_ref().map(Verification::summary),
        })?;
    }
    Ok(())
}

/// The plan (dry run) or what was done, for humans. Only redacted keys.
pub fn write_text(
    out: &mut dyn Write,
    plan: &Plan,
    findings: &[Finding],
    audit_log: Option<&std::path::Path>,
) -> io::Result<()> {
    if plan.dry_run {
        writeln!(
            out,
            "dry run: nothing is revoked without --yes; the same plan would run with it\n"
        )?;
    }
    for item in &plan.items {
        let label = if item.status == Status::WouldRevoke {
            "would revoke"
        } else {
            item.status.as_str()
        };
        write!(out, "{label:16} {:10} {}", item.provider, item.redacted)?;
        if !item.detail.is_empty() {
            write!(out, "  {}", sanitize(&item.detail))?;
        }
        writeln!(out)?;
        for &fi in &item.findings {
            let f = &findings[fi];
            writeln!(
                out,
                "  finding      {}  {}:{}  fingerprint {}",
                f.rule_id,
                sanitize(&f.path),
                f.line,
                f.fingerprint
            )?;
        }
        if let Some(r) = &item.revocation {
            writeln!(
                out,
                "  request      {} (body: {})",
                r.endpoint(),
                r.body_carries()
            )?;
            let state = match r.auth.token_env() {
                Some(env) if token_is_set(env) => " (set)",
                Some(_) => " (NOT SET)",
                None => "",
            };
            writeln!(out, "  credential   {}{state}", r.auth.describe())?;
            if r.assumed {
                writeln!(
                    out,
                    "  note         assumed endpoint: {} publishes no admin API; set \
                     [providers.{}.revoke] url (docs/revoke.md)",
                    r.name, r.provider
                )?;
            }
            if let Some(v) = &item.verified_after {
                writeln!(out, "  now          {}", sanitize(&v.summary()))?;
            }
        }
    }
    if !plan.items.is_empty() {
        writeln!(out)?;
    }
    let skipped = plan.count(Status::Skipped);
    let not_revocable = plan.count(Status::NotRevocable);
    if plan.dry_run {
        writeln!(
            out,
            "{} key{} would be revoked, {not_revocable} live without a revocation, {skipped} skipped",
            plan.count(Status::WouldRevoke),
            plural(plan.count(Status::WouldRevoke)),
        )?;
    } else {
        writeln!(
            out,
            "{} revoked, {} already revoked, {} submitted, {} failed, {not_revocable} live without \
             a revocation, {skipped} skipped",
            plan.count(Status::Revoked),
            plan.count(Status::AlreadyRevoked),
            plan.count(Status::Submitted),
            plan.count(Status::Failed),
        )?;
        if plan.interrupted {
            writeln!(
                out,
                "interrupted: no call was made after Ctrl-C; the keys after it were not attempted"
            )?;
        }
        if let Some(path) = audit_log {
            writeln!(out, "audit log: {}", path.display())?;
        }
    }
    if !plan.hosts.is_empty() {
        let hosts: Vec<String> = plan
            .hosts
            .iter()
            .map(|(h, n)| format!("{h} ({n})"))
            .collect();
        writeln!(out, "admin API hosts contacted: {}", hosts.join(", "))?;
    }
    if let Some(w) = plan.unchecked_warning(findings) {
        writeln!(out, "{w}")?;
    }
    let remaining: Vec<&Item> = plan.items.iter().filter(|i| i.status.remains()).collect();
    if !remaining.is_empty() && !plan.dry_run {
        writeln!(out, "still live or unconfirmed:")?;
        for item in remaining {
            let f = &findings[item.findings[0]];
            writeln!(
                out,
                "  {} {} ({}, {}:{}, fingerprint {}): {}",
                item.provider,
                item.redacted,
                item.status.as_str(),
                sanitize(&f.path),
                f.line,
                f.fingerprint,
                sanitize(&item.detail)
            )?;
        }
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::tests_support::finding;
    use crate::finding::UnknownReason;

    fn revoker(options: Options) -> Revoker {
        Revoker::new(&BTreeMap::new(), options, Box::new(|_| {})).unwrap()
    }

    fn options() -> Options {
        Options {
            yes: false,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            audit_log: PathBuf::from(DEFAULT_AUDIT_LOG),
            providers: Vec::new(),
            rules: Vec::new(),
            fingerprints: Vec::new(),
            allow_hosts: provider::egress::AllowHosts::default(),
        }
    }

    fn verdict(verdict: Verdict) -> Option<Verification> {
        Some(Verification {
            verdict,
            reason: (verdict == Verdict::Unknown).then_some(UnknownReason::Status),
            status: Some(200),
            detail: "x".into(),
            provider: None,
            cached: false,
            identity: None,
            scopes: Vec::new(),
        })
    }

    #[test]
    fn only_live_unambiguous_keys_are_planned() {
        let r = revoker(options());
        let mut live = finding("kunavo", "sk-kunavo-live");
        live.verification = verdict(Verdict::Live);
        let mut twice = live.clone();
        twice.path = "b.env".into();
        let mut dead = finding("kunavo", "sk-kunavo-dead");
        dead.verification = verdict(Verdict::Dead);
        let mut ambiguous = finding("openai", "sk-abc");
        ambiguous.ambiguous = true;
        ambiguous.alternatives = vec!["synstar".into()];
        ambiguous.verification = verdict(Verdict::Live);
        let mut no_spec = finding("openai", "sk-proj-x");
        no_spec.verification = verdict(Verdict::Live);
        let plan = r.plan(&[live, twice, dead, ambiguous, no_spec]);
        let states: Vec<Status> = plan.items.iter().map(|i| i.status).collect();
        assert_eq!(
            states,
            [
                Status::WouldRevoke,
                Status::Skipped,
                Status::Skipped,
                Status::NotRevocable
            ]
        );
        assert_eq!(plan.items[0].findings, [0, 1]);
        assert!(plan.items[1].detail.starts_with("not live: dead"));
        let mut unknown = finding("kunavo", "sk-kunavo-unknown");
        unknown.verification = verdict(Verdict::Unknown);
        let plan_unknown = r.plan(&[unknown]);
        assert_eq!(plan_unknown.items[0].status, Status::Skipped);
        assert!(plan_unknown.items[0]
            .detail
            .starts_with("not verified live"));
        assert!(plan.items[2].detail.contains("ambiguous"));
        assert_eq!(plan.remaining(), 2);
    }

    #[test]
    fn filters_select_findings() {
        let f = finding("kunavo", "sk-kunavo-live");
        let r = revoker(Options {
            providers: vec!["pinaivu".into()],
            ..options()
        });
        assert!(!r.selects(&f));
        let r = revoker(Options {
            fingerprints: vec![f.fingerprint.to_uppercase()],
            ..options()
        });
        assert!(r.selects(&f));
        let e = Revoker::new(
            &BTreeMap::new(),
            Options {
                providers: vec!["kunvao".into()],
                ..options()
            },
            Box::new(|_| {}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("--provider kunvao"), "{e}");
    }

    #[test]
    fn builtin_revocations_load() {
        let r = revoker(options());
        for id in [
            "kunavo", "pinaivu", "konnect", "synstar", "kindo", "github", "slack",
        ] {
            assert!(r.revocations.contains_key(id), "no revocation for {id}");
        }
        let github = &r.revocations["github"];
        assert_eq!(github.auth, AdminAuth::None);
        assert!(github.batch > 1);
        assert!(!github.applies_to("ghs_installation"));
        assert_eq!(r.revocations["slack"].auth, AdminAuth::Key);
        let gitlab = &r.revocations["gitlab"];
        assert_eq!(
            gitlab.endpoint(),
            "DELETE https://gitlab.com/api/v4/personal_access_tokens/self"
        );
        assert_eq!(gitlab.auth, AdminAuth::Key);
        assert_eq!(
            r.revocations["kunavo"].auth.token_env(),
            Some("KUNAVO_ADMIN_TOKEN")
        );
        assert_eq!(r.revocations["kunavo"].body_carries(), "the key's SHA-256");
    }
}
