//! Verification: ask each provider whether the keys found still work, and
//! record a [`Verdict`] on every finding, without ever leaking a key.
//!
//! Shape of a run (after the scan, never on its rayon workers):
//!
//! 1. Plan. Each finding names the provider(s) to ask: its own, or for an
//!    ambiguous key (bare `sk-`, bare `sk_live_`) only the providers the
//!    user named with `--verify-ambiguous`; otherwise the key goes nowhere.
//!    A provider without a check, or a key kind its check cannot judge, is
//!    `unknown: not verifiable` without a request.
//! 2. Deduplicate: each (provider, key) pair is asked once per run, and not
//!    at all if the on-disk cache has a fresh settled verdict.
//! 3. Run the checks on a small pool of threads with a bounded number in
//!    flight overall and per provider. A worker only takes a key whose
//!    provider has a free slot, so one slow or dead provider holds at most
//!    its own slots and never stalls the others.
//! 4. Ctrl-C (the `interrupt` flag) stops taking new checks; the run returns
//!    at once with what is known, the rest `unknown: interrupted`.
//!
//! Where a key may go, the status tables and the auth header are data
//! ([`spec`], `rules/providers/*.toml`); the HTTP rules are in `http.rs`.

mod cache;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::finding::Finding;
pub use crate::finding::{UnknownReason, Verdict, Verification};
use crate::provider::egress::{AllowHosts, Tally};
use crate::provider::http::{self, Http, Limits};
use crate::provider::{self, Check, Secret};
use cache::Cache;

/// How a run verifies.
#[derive(Clone, Debug)]
pub struct Options {
    /// Providers to try for ambiguous keys (`--verify-ambiguous`).
    pub ambiguous: Vec<String>,
    /// Checks in flight at once, overall.
    pub concurrency: usize,
    /// Checks in flight at once for one provider.
    pub per_provider: usize,
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Retries of a 429 or 5xx answer.
    pub retries: u32,
    /// Cap on one wait between retries (Retry-After or backoff).
    pub max_wait: Duration,
    pub cache_dir: Option<PathBuf>,
    pub cache_ttl: Duration,
    /// Report live findings only.
    pub only_verified: bool,
    /// Show the checks done and the live keys so far on standard error
    /// (set when it is a terminal).
    pub progress: bool,
    /// The only hosts a key may be sent to (`[verify] allow_hosts`,
    /// `--verify-allow-host`); empty: every host a spec declares.
    pub allow_hosts: AllowHosts,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            ambiguous: Vec::new(),
            concurrency: 8,
            per_provider: 2,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            retries: 2,
            max_wait: Duration::from_secs(30),
            cache_dir: None,
            cache_ttl: Duration::from_secs(24 * 3600),
            only_verified: false,
            progress: false,
            allow_hosts: AllowHosts::default(),
        }
    }
}

/// What a verification run did, for the report's statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifySummary {
    /// Findings by verdict.
    pub live: usize,
    pub dead: usize,
    pub unknown: usize,
    /// Unique (provider, key) pairs asked or found in the cache.
    pub keys: usize,
    /// HTTP requests sent, retries included.
    pub requests: usize,
    /// Keys answered from the cache.
    pub cached: usize,
    /// Ctrl-C cut the run short.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Wall time spent verifying, in milliseconds (the run's `elapsed_ms`
    /// includes it).
    #[serde(default)]
    pub elapsed_ms: u64,
    /// Findings by their provider: how many were checked and what came back.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<String, ProviderCounts>,
    /// Every host a request went to (`host` or `host:port`), with the
    /// number of requests it got, retries included.
    #[serde(default)]
    pub hosts: BTreeMap<String, usize>,
    /// Findings whose rule has a check but whose key could not be settled
    /// (`unknown` for any reason: no network, a timeout, an ambiguous key
    /// nobody was named for, no partner, a host not allowed).
    /// `--fail-on unverified` fails on these; `--fail-on live`,
    /// `--only-verified` and `revoke` warn about them.
    #[serde(default)]
    pub unverified: usize,
}

impl VerifySummary {
    /// The warning a gate that trusts verdicts must give when some keys
    /// could not be checked, or `None` when every verifiable key was.
    pub fn unverified_warning(&self, gate: &str) -> Option<String> {
        (self.unverified > 0).then(|| {
            format!(
                "warning: {} finding{} of verifiable rules could not be checked (verdict unknown): {gate} cannot vouch for {}; `--fail-on unverified` fails on them",
                self.unverified,
                if self.unverified == 1 { "" } else { "s" },
                if self.unverified == 1 { "it" } else { "them" },
            )
        })
    }
}

/// One provider's line of the verification summary, counting findings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderCounts {
    /// Findings a check was run (or a cached verdict found) for.
    pub checked: usize,
    pub live: usize,
    pub dead: usize,
    /// Checked, but no conclusion (timeouts, unsettled statuses, ...).
    pub unknown: usize,
    /// Not checked: no check for the provider or the key kind, or an
    /// ambiguous key nobody was named for.
    pub not_verifiable: usize,
}

/// One (provider, key, partner) to ask about.
#[derive(Debug)]
struct Job {
    check: Arc<Check>,
    secret: Secret,
    /// The other half of a paired credential (the AWS access key id).
    partner: Option<Secret>,
    /// The check's hosts to ask ([`Check::targets_for`]).
    targets: Vec<usize>,
}

/// What makes a job: the provider, the key, its partner and the hosts.
type JobKey = (String, String, Option<String>, Vec<usize>);

/// The checks of every provider with a spec, base URLs overridden as
/// configured, plus the client and cache for a run.
#[derive(Debug)]
pub struct Verifier {
    checks: HashMap<String, Arc<Check>>,
    options: Options,
    cache: Option<Cache>,
}

impl Verifier {
    /// Load the built-in provider specs, apply `[providers.NAME] base_url`
    /// (refusing a URL that breaks the safety rules) and open the cache.
    pub fn new(
        providers: &BTreeMap<String, provider::Settings>,
        options: Options,
    ) -> Result<Verifier> {
        let mut checks = HashMap::new();
        for (origin, spec) in provider::builtin_providers()? {
            let settings = providers.get(&spec.id);
            let base = settings.and_then(|p| p.base_url.as_deref());
            let no_hosts = BTreeMap::new();
            let hosts = settings.map_or(&no_hosts, |s| &s.hosts);
            let mut check = Check::configured(&spec, base, hosts, origin)?;
            if let Some(s) = settings {
                if let Some(rps) = s.requests_per_second {
                    if !(rps > 0.0 && rps.is_finite()) {
                        return Err(Error::Usage(format!(
                            "[providers.{}] requests_per_second must be a positive number",
                            spec.id
                        )));
                    }
                    check.requests_per_second = Some(rps);
                }
                if let Some(c) = s.concurrency {
                    if c == 0 {
                        return Err(Error::Usage(format!(
                            "[providers.{}] concurrency must be at least 1",
                            spec.id
                        )));
                    }
                    check.concurrency = Some(c);
                }
            }
            checks.insert(spec.id.clone(), Arc::new(check));
        }
        // A misspelt provider name would silently send its keys to the
        // built-in URL instead of the configured one.
        for (name, settings) in providers {
            let sets_check = settings.base_url.is_some()
                || !settings.hosts.is_empty()
                || settings.requests_per_second.is_some()
                || settings.concurrency.is_some();
            if sets_check && !checks.contains_key(name) {
                let mut known: Vec<&str> = checks.keys().map(String::as_str).collect();
                known.sort_unstable();
                return Err(Error::Usage(format!(
                    "[providers.{name}] base_url: no verification check for provider \
                     `{name}` (checks exist for {})",
                    known.join(", ")
                )));
            }
        }
        let cache = match &options.cache_dir {
            Some(dir) => Some(Cache::open(dir, options.cache_ttl)?),
            None => None,
        };
        Ok(Verifier {
            checks,
            options,
            cache,
        })
    }

    /// Set `verification` on every finding. Never fails: a check that goes
    /// wrong is an `unknown` verdict with its reason.
    pub fn verify(&self, findings: &mut [Finding], interrupt: &Arc<AtomicBool>) -> VerifySummary {
        let started = std::time::Instant::now();
        let mut summary = VerifySummary::default();
        let mut jobs: Vec<Job> = Vec::new();
        let mut index: HashMap<JobKey, usize> = HashMap::new();
        // Per finding: the outcome of each provider tried, as a job index
        // or a verdict reached without asking.
        let mut plans: Vec<Vec<Result<usize, Verification>>> = Vec::with_capacity(findings.len());
        for f in findings.iter() {
            let mut plan = Vec::new();
            match self.providers_to_ask(f) {
                Err(v) => plan.push(Err(v)),
                Ok(providers) => {
                    for p in providers {
                        plan.push(self.plan_one(&p, f, &mut jobs, &mut index));
                    }
                }
            }
            plans.push(plan);
        }

        let mut results: Vec<Option<Verification>> = vec![None; jobs.len()];
        if let Some(cache) = &self.cache {
            for (j, job) in jobs.iter().enumerate() {
                if let Some(v) = cache.get(&Cache::key(
                    &job.check,
                    &job.secret,
                    job.partner.as_ref(),
                    &job.targets,
                )) {
                    summary.cached += 1;
                    results[j] = Some(v);
                }
            }
        }
        let pending: Vec<usize> = (0..jobs.len()).filter(|&j| results[j].is_none()).collect();
        let jobs = Arc::new(jobs);
        let tally = Arc::new(Tally::default());
        let (fresh, requests) = self.run(&jobs, &pending, interrupt, &tally);
        summary.requests = requests;
        summary.hosts = tally.snapshot();
        for (j, v) in fresh {
            if let Some(cache) = &self.cache {
                let job = &jobs[j];
                cache.put(
                    &Cache::key(&job.check, &job.secret, job.partner.as_ref(), &job.targets),
                    &v,
                );
            }
            results[j] = Some(v);
        }
        summary.keys = jobs.len();
        summary.interrupted = interrupt.load(Ordering::Relaxed);
        let incomplete = |j: usize| {
            let provider = &jobs[j].check.provider;
            if summary.interrupted {
                http::interrupted(provider)
            } else {
                Verification {
                    verdict: Verdict::Unknown,
                    reason: Some(UnknownReason::Interrupted),
                    status: None,
                    detail: "the check did not complete".into(),
                    provider: Some(provider.clone()),
                    cached: false,
                    identity: None,
                    scopes: Vec::new(),
                }
            }
        };

        for (f, plan) in findings.iter_mut().zip(plans) {
            let outcomes: Vec<Verification> = plan
                .into_iter()
                .map(|step| match step {
                    Ok(j) => results[j].clone().unwrap_or_else(|| incomplete(j)),
                    Err(v) => v,
                })
                .collect();
            let v = combine(outcomes);
            // A paired check's dead came with the partner: a key id or
            // account SID of the provider's own shape is the attribution.
            let paired = v
                .provider
                .as_ref()
                .and_then(|p| self.checks.get(p))
                .is_some_and(|c| c.partner.is_some());
            let v = if f.by_context && !f.ambiguous && !paired && v.verdict == Verdict::Dead {
                attribution_only(v)
            } else {
                v
            };
            let v = self.pair_proof(f, v);
            if v.verdict == Verdict::Unknown && self.is_verifiable(f) {
                summary.unverified += 1;
            }
            match v.verdict {
                Verdict::Live => summary.live += 1,
                Verdict::Dead => summary.dead += 1,
                Verdict::Unknown => summary.unknown += 1,
            }
            let counts = summary.providers.entry(f.provider.clone()).or_default();
            if matches!(
                v.reason,
                Some(UnknownReason::NotVerifiable | UnknownReason::NoPair)
            ) {
                counts.not_verifiable += 1;
            } else {
                counts.checked += 1;
                match v.verdict {
                    Verdict::Live => counts.live += 1,
                    Verdict::Dead => counts.dead += 1,
                    Verdict::Unknown => counts.unknown += 1,
                }
            }
            f.verification = Some(v);
        }
        summary.elapsed_ms = started.elapsed().as_millis() as u64;
        summary
    }

    /// A paired check's `dead` whose provider answers a wrong partner the
    /// same way stands only when the partner sat on the key's own line.
    fn pair_proof(&self, f: &Finding, v: Verification) -> Verification {
        if v.verdict != Verdict::Dead {
            return v;
        }
        let Some(check) = v.provider.as_ref().and_then(|p| self.checks.get(p)) else {
            return v;
        };
        let Some(wanted) = check.partner.as_ref().filter(|p| p.mismatch_looks_dead) else {
            return v;
        };
        let part = wanted
            .rules
            .iter()
            .find_map(|r| f.parts.iter().find(|p| &p.rule_id == r));
        match part {
            Some(p) if p.line != f.line => Verification {
                verdict: Verdict::Unknown,
                reason: Some(UnknownReason::Pair),
                detail: format!(
                    "{} refused the pair ({}), but the {} was found on line {}, not the key's: it may be another key's, and {} answers a wrong {} the same way",
                    check.name, v.detail, wanted.name, p.line, check.name, wanted.name
                ),
                ..v
            },
            _ => v,
        }
    }

    /// Does a check exist for this finding's kind of key (its own provider,
    /// or for an ambiguous key any candidate)?
    fn is_verifiable(&self, f: &Finding) -> bool {
        std::iter::once(&f.provider)
            .chain(f.ambiguous.then_some(&f.alternatives).into_iter().flatten())
            .any(|p| {
                self.checks
                    .get(p)
                    .is_some_and(|c| c.applies_to(&f.rule_id, &f.secret))
            })
    }

    /// The providers a finding's key may be sent to, or why none.
    fn providers_to_ask(&self, f: &Finding) -> std::result::Result<Vec<String>, Verification> {
        if !f.ambiguous {
            return Ok(vec![f.provider.clone()]);
        }
        let possible: Vec<&str> = std::iter::once(f.provider.as_str())
            .chain(f.alternatives.iter().map(String::as_str))
            .collect();
        let chosen: Vec<String> = self
            .options
            .ambiguous
            .iter()
            .filter(|p| possible.contains(&p.as_str()))
            .cloned()
            .collect();
        if chosen.is_empty() {
            return Err(not_verifiable(
                None,
                format!(
                    "ambiguous key (could be {}): not sent anywhere; \
                     --verify-ambiguous PROVIDER tries one",
                    possible.join(", ")
                ),
            ));
        }
        Ok(chosen)
    }

    fn plan_one(
        &self,
        provider: &str,
        f: &Finding,
        jobs: &mut Vec<Job>,
        index: &mut HashMap<JobKey, usize>,
    ) -> Result<usize, Verification> {
        let (rule_id, secret) = (f.rule_id.as_str(), f.secret.as_str());
        let Some(check) = self.checks.get(provider) else {
            return Err(not_verifiable(
                Some(provider),
                format!("no verification check for provider `{provider}`"),
            ));
        };
        if !check.applies_to(rule_id, secret) {
            return Err(not_verifiable(
                Some(provider),
                format!("{}'s check does not cover this kind of key", check.name),
            ));
        }
        let partner = match &check.partner {
            None => None,
            Some(wanted) => Some(partner_of(check, wanted, f)?),
        };
        // Hosts named beside the key (an EndpointSuffix) choose among the
        // declared ones; a host that is not declared is never contacted.
        let evidence: Vec<&str> = check
            .hosts_from
            .iter()
            .filter_map(|r| f.parts.iter().find(|p| &p.rule_id == r))
            .map(|p| p.secret.as_str())
            .collect();
        let targets = check
            .targets_for(&evidence, partner.as_deref())
            .map_err(|detail| not_verifiable(Some(provider), detail))?;
        let key = (
            provider.to_string(),
            secret.to_string(),
            partner.clone(),
            targets.clone(),
        );
        Ok(*index.entry(key).or_insert_with(|| {
            jobs.push(Job {
                check: Arc::clone(check),
                secret: Secret::new(secret),
                partner: partner.map(Secret::new),
                targets,
            });
            jobs.len() - 1
        }))
    }

    /// Run the `pending` jobs with bounded concurrency. Returns the verdicts
    /// that arrived (all of them unless interrupted) and the request count.
    fn run(
        &self,
        jobs: &Arc<Vec<Job>>,
        pending: &[usize],
        interrupt: &Arc<AtomicBool>,
        tally: &Arc<Tally>,
    ) -> (Vec<(usize, Verification)>, usize) {
        if pending.is_empty() {
            return (Vec::new(), 0);
        }
        let http = match Http::new(self.options.connect_timeout, self.options.timeout) {
            Ok(h) => h,
            Err(_) => {
                let failed = pending
                    .iter()
                    .map(|&j| {
                        let p = &jobs[j].check.provider;
                        let v = Verification {
                            verdict: Verdict::Unknown,
                            reason: Some(UnknownReason::Connection),
                            status: None,
                            detail: "the HTTP client could not be set up".into(),
                            provider: Some(p.clone()),
                            cached: false,
                            identity: None,
                            scopes: Vec::new(),
                        };
                        (j, v)
                    })
                    .collect();
                return (failed, 0);
            }
        };
        let mut queues: BTreeMap<String, VecDeque<usize>> = BTreeMap::new();
        let mut slots: HashMap<String, usize> = HashMap::new();
        let mut intervals: HashMap<String, Duration> = HashMap::new();
        let per_provider = self.options.per_provider.max(1);
        for &j in pending {
            let check = &jobs[j].check;
            queues
                .entry(check.provider.clone())
                .or_default()
                .push_back(j);
            slots.insert(
                check.provider.clone(),
                check
                    .concurrency
                    .map_or(per_provider, |c| c.clamp(1, per_provider)),
            );
            if let Some(rps) = check.requests_per_second {
                intervals.insert(check.provider.clone(), Duration::from_secs_f64(1.0 / rps));
            }
        }
        let scheduler = Arc::new(Scheduler {
            state: Mutex::new(SchedState {
                queues,
                in_flight: HashMap::new(),
            }),
            ready: Condvar::new(),
            slots,
        });
        let pacer = Arc::new(Pacer {
            intervals,
            next: Mutex::new(HashMap::new()),
        });
        let limits = Limits {
            retries: self.options.retries,
            max_wait: self.options.max_wait,
        };
        let (tx, rx) = crossbeam_channel::unbounded();
        let workers = self.options.concurrency.max(1).min(pending.len());
        let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let allow = Arc::new(self.options.allow_hosts.clone());
        for _ in 0..workers {
            let (tally, allow) = (Arc::clone(tally), Arc::clone(&allow));
            let (jobs, scheduler, http, interrupt, tx, started, pacer) = (
                Arc::clone(jobs),
                Arc::clone(&scheduler),
                http.clone(),
                Arc::clone(interrupt),
                tx.clone(),
                Arc::clone(&started),
                Arc::clone(&pacer),
            );
            // Detached: on Ctrl-C the run returns without waiting for a
            // request in flight, which the process exit then abandons.
            std::thread::spawn(move || {
                while let Some(j) = scheduler.next(&interrupt) {
                    let job = &jobs[j];
                    let pace = || pacer.wait(&job.check.provider, &interrupt);
                    let (v, sent) = http::run_check(
                        &http,
                        &job.check,
                        http::Key {
                            secret: &job.secret,
                            partner: job.partner.as_ref(),
                        },
                        &job.targets,
                        http::Egress {
                            allow: &allow,
                            tally: &tally,
                        },
                        limits,
                        &interrupt,
                        &started,
                        &pace,
                    );
                    scheduler.done(&job.check.provider);
                    if tx.send((j, v, sent)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let progress = Progress::new(self.options.progress, pending.len());
        let mut done = Vec::with_capacity(pending.len());
        while done.len() < pending.len() && !interrupt.load(Ordering::Relaxed) {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok((j, v, _)) => {
                    progress.record(&v);
                    done.push((j, v));
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        }
        // Checks that finished while we noticed the interrupt still count.
        while let Ok((j, v, _)) = rx.try_recv() {
            done.push((j, v));
        }
        progress.finish();
        (done, started.load(Ordering::Relaxed))
    }
}

/// The line on standard error while checks run: `verifying 3/10 keys, 1
/// live`. Nothing at all unless `Options::progress` (a terminal).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    live: std::cell::Cell<usize>,
}

impl Progress {
    fn new(enabled: bool, total: usize) -> Progress {
        let bar = enabled.then(|| {
            let style = indicatif::ProgressStyle::with_template(
                "{spinner} {elapsed} verifying {pos}/{len} keys, {msg}",
            )
            .expect("progress template is a constant");
            let bar = indicatif::ProgressBar::new(total as u64).with_style(style);
            bar.set_message("0 live");
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress {
            bar,
            live: std::cell::Cell::new(0),
        }
    }

    fn record(&self, v: &Verification) {
        let Some(bar) = &self.bar else { return };
        if v.verdict == Verdict::Live {
            self.live.set(self.live.get() + 1);
        }
        bar.set_message(format!("{} live", self.live.get()));
        bar.inc(1);
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Hands out jobs so that at most `slots[provider]` run per provider.
struct Scheduler {
    state: Mutex<SchedState>,
    ready: Condvar,
    /// The run's per-provider bound, or the spec's `concurrency` if lower.
    slots: HashMap<String, usize>,
}

/// Spaces the requests to a provider with a `requests_per_second`: each
/// request takes the next free start time, `1 / rps` after the one before,
/// and waits for it (retries included), so no second holds more than the
/// rate allows whatever the number of workers.
struct Pacer {
    intervals: HashMap<String, Duration>,
    next: Mutex<HashMap<String, std::time::Instant>>,
}

impl Pacer {
    /// Wait for `provider`'s next start time; false if interrupted meanwhile.
    fn wait(&self, provider: &str, interrupt: &AtomicBool) -> bool {
        let Some(&interval) = self.intervals.get(provider) else {
            return true;
        };
        let start = {
            let mut next = self.next.lock().expect("no code panics holding the lock");
            let now = std::time::Instant::now();
            let slot = next.get(provider).map_or(now, |&t| t.max(now));
            next.insert(provider.to_string(), slot + interval);
            slot
        };
        loop {
            if interrupt.load(Ordering::Relaxed) {
                return false;
            }
            let now = std::time::Instant::now();
            if now >= start {
                return true;
            }
            std::thread::sleep((start - now).min(Duration::from_millis(50)));
        }
    }
}

struct SchedState {
    queues: BTreeMap<String, VecDeque<usize>>,
    in_flight: HashMap<String, usize>,
}

impl Scheduler {
    /// The next job whose provider has a free slot; None when all are taken
    /// or the run is interrupted.
    fn next(&self, interrupt: &AtomicBool) -> Option<usize> {
        let mut s = self.state.lock().expect("no code panics holding the lock");
        loop {
            if interrupt.load(Ordering::Relaxed) {
                return None;
            }
            let SchedState { queues, in_flight } = &mut *s;
            let free = queues.iter_mut().find(|(p, q)| {
                !q.is_empty()
                    && in_flight.get(p.as_str()).copied().unwrap_or(0)
                        < self.slots.get(p.as_str()).copied().unwrap_or(1)
            });
            if let Some((p, q)) = free {
                let j = q.pop_front().expect("the queue was checked non-empty");
                *in_flight.entry(p.clone()).or_default() += 1;
                return Some(j);
            }
            if queues.values().all(VecDeque::is_empty) {
                return None;
            }
            s = self
                .ready
                .wait_timeout(s, Duration::from_millis(100))
                .expect("no code panics holding the lock")
                .0;
        }
    }

    fn done(&self, provider: &str) {
        let mut s = self.state.lock().expect("no code panics holding the lock");
        if let Some(n) = s.in_flight.get_mut(provider) {
            *n = n.saturating_sub(1);
        }
        self.ready.notify_all();
    }
}

/// The other half of `f`'s credential, from its parts (the first of the
/// spec's part rules found); `unknown (no pair)` without one, and
/// `not-verifiable` when the one found is not of the shape the check takes.
fn partner_of(
    check: &Check,
    wanted: &provider::Partner,
    f: &Finding,
) -> std::result::Result<String, Verification> {
    let found = wanted
        .rules
        .iter()
        .find_map(|r| f.parts.iter().find(|p| &p.rule_id == r));
    let Some(part) = found else {
        return Err(Verification {
            reason: Some(UnknownReason::NoPair),
            detail: format!(
                "no {} found beside the key in the same file: {} checks the two together",
                wanted.name, check.name
            ),
            ..not_verifiable(Some(&check.provider), String::new())
        });
    };
    if !check.partner_fits(&part.secret) || check.endpoint_for(Some(&part.secret)).is_err() {
        return Err(not_verifiable(
            Some(&check.provider),
            format!(
                "the {} beside the key ({}) is not one {}'s check takes",
                wanted.name, part.redacted, check.name
            ),
        ));
    }
    Ok(part.secret.clone())
}

fn not_verifiable(provider: Option<&str>, detail: String) -> Verification {
    Verification {
        verdict: Verdict::Unknown,
        reason: Some(UnknownReason::NotVerifiable),
        status: None,
        detail,
        provider: provider.map(str::to_string),
        cached: false,
        identity: None,
        scopes: Vec::new(),
    }
}

/// One verdict from the providers tried for a finding: the first `live`;
/// else `dead` if every one said so; else the first inconclusive answer.
fn combine(outcomes: Vec<Verification>) -> Verification {
    if let Some(live) = outcomes.iter().find(|v| v.verdict == Verdict::Live) {
        return live.clone();
    }
    let first_unknown = outcomes.iter().find(|v| v.verdict == Verdict::Unknown);
    match first_unknown {
        Some(u) => u.clone(),
        None => outcomes
            .into_iter()
            .next()
            .expect("a plan tries at least one provider"),
    }
}

/// A `dead` from a provider that only nearby words chose: the key may well
/// be another provider's, so it is not settled (it does not clear
/// `--fail-on live` or survive `--only-verified` as checked).
fn attribution_only(v: Verification) -> Verification {
    let provider = v.provider.clone().unwrap_or_default();
    Verification {
        verdict: Verdict::Unknown,
        reason: Some(UnknownReason::Attribution),
        detail: format!(
            "{provider} says the key does not work there ({}), but only nearby words named {provider}: it may belong to another provider",
            v.detail
        ),
        ..v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(verdict: Verdict, provider: &str) -> Verification {
        Verification {
            verdict,
            reason: (verdict == Verdict::Unknown).then_some(UnknownReason::Status),
            status: Some(200),
            detail: String::new(),
            provider: Some(provider.into()),
            cached: false,
            identity: None,
            scopes: Vec::new(),
        }
    }

    #[test]
    fn the_pacer_spaces_starts_and_stops_on_interrupt() {
        let pacer = Pacer {
            intervals: HashMap::from([("p".to_string(), Duration::from_millis(100))]),
            next: Mutex::new(HashMap::new()),
        };
        let quiet = AtomicBool::new(false);
        let started = std::time::Instant::now();
        for _ in 0..5 {
            assert!(pacer.wait("p", &quiet));
            // A provider without a rate is never held up.
            assert!(pacer.wait("other", &quiet));
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(400), "{took:?}");
        assert!(took < Duration::from_millis(2000), "{took:?}");
        // The next slot is 100 ms away: an interrupt ends the wait.
        assert!(!pacer.wait("p", &AtomicBool::new(true)));
    }

    #[test]
    fn combine_prefers_live_then_unknown() {
        let c = combine(vec![v(Verdict::Dead, "a"), v(Verdict::Live, "b")]);
        assert_eq!(
            (c.verdict, c.provider.as_deref()),
            (Verdict::Live, Some("b"))
        );
        let c = combine(vec![v(Verdict::Dead, "a"), v(Verdict::Unknown, "b")]);
        assert_eq!(c.verdict, Verdict::Unknown);
        let c = combine(vec![v(Verdict::Dead, "a"), v(Verdict::Dead, "b")]);
        assert_eq!(c.verdict, Verdict::Dead);
    }

    #[test]
    fn a_base_url_for_an_unknown_provider_is_refused() {
        let settings = BTreeMap::from([(
            "kunvao".to_string(),
            provider::Settings {
                base_url: Some("https://api.kunavo.com/v1".into()),
                ..provider::Settings::default()
            },
        )]);
        let e = Verifier::new(&settings, Options::default()).unwrap_err();
        assert!(e.to_string().contains("[providers.kunvao]"), "{e}");
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Secret::new("sk-kunavo-abcdefghijklmnopqrstuvwxyz0123"); // leakhound:allow (test fixture)
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn ambiguous_keys_go_nowhere_unless_named() {
        let verifier = Verifier::new(&BTreeMap::new(), Options::default()).unwrap();
        let mut f = crate::finding::tests_support::finding("openai", "sk-abc");
        f.ambiguous = true;
        f.alternatives = vec!["synstar".into(), "deepseek".into()];
        let err = verifier.providers_to_ask(&f).unwrap_err();
        assert_eq!(err.reason, Some(UnknownReason::NotVerifiable));
        assert!(
            err.detail.contains("could be openai, synstar, deepseek"),
            "{}",
            err.detail
        );
        let verifier = Verifier::new(
            &BTreeMap::new(),
            Options {
                ambiguous: vec!["kunavo".into(), "synstar".into()],
                ..Options::default()
            },
        )
        .unwrap();
        assert_eq!(
            verifier.providers_to_ask(&f).unwrap(),
            vec!["synstar".to_string()]
        );
    }
}
