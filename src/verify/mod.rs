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

/// One (provider, key) pair to ask about.
#[derive(Debug)]
struct Job {
    check: Arc<Check>,
    secret: Secret,
}

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
            let base = providers.get(&spec.id).and_then(|p| p.base_url.as_deref());
            let check = Check::new(&spec, base, origin)?;
            checks.insert(spec.id.clone(), Arc::new(check));
        }
        // A misspelt provider name would silently send its keys to the
        // built-in URL instead of the configured one.
        for (name, settings) in providers {
            if settings.base_url.is_some() && !checks.contains_key(name) {
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
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        // Per finding: the outcome of each provider tried, as a job index
        // or a verdict reached without asking.
        let mut plans: Vec<Vec<Result<usize, Verification>>> = Vec::with_capacity(findings.len());
        for f in findings.iter() {
            let mut plan = Vec::new();
            match self.providers_to_ask(f) {
                Err(v) => plan.push(Err(v)),
                Ok(providers) => {
                    for p in providers {
                        plan.push(self.plan_one(&p, &f.rule_id, &f.secret, &mut jobs, &mut index));
                    }
                }
            }
            plans.push(plan);
        }

        let mut results: Vec<Option<Verification>> = vec![None; jobs.len()];
        if let Some(cache) = &self.cache {
            for (j, job) in jobs.iter().enumerate() {
                if let Some(v) = cache.get(&Cache::key(&job.check, &job.secret)) {
                    summary.cached += 1;
                    results[j] = Some(v);
                }
            }
        }
        let pending: Vec<usize> = (0..jobs.len()).filter(|&j| results[j].is_none()).collect();
        let jobs = Arc::new(jobs);
        let (fresh, requests) = self.run(&jobs, &pending, interrupt);
        summary.requests = requests;
        for (j, v) in fresh {
            if let Some(cache) = &self.cache {
                cache.put(&Cache::key(&jobs[j].check, &jobs[j].secret), &v);
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
            match v.verdict {
                Verdict::Live => summary.live += 1,
                Verdict::Dead => summary.dead += 1,
                Verdict::Unknown => summary.unknown += 1,
            }
            let counts = summary.providers.entry(f.provider.clone()).or_default();
            if v.reason == Some(UnknownReason::NotVerifiable) {
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
        rule_id: &str,
        secret: &str,
        jobs: &mut Vec<Job>,
        index: &mut HashMap<(String, String), usize>,
    ) -> Result<usize, Verification> {
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
        let key = (provider.to_string(), secret.to_string());
        Ok(*index.entry(key).or_insert_with(|| {
            jobs.push(Job {
                check: Arc::clone(check),
                secret: Secret::new(secret),
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
        for &j in pending {
            queues
                .entry(jobs[j].check.provider.clone())
                .or_default()
                .push_back(j);
        }
        let scheduler = Arc::new(Scheduler {
            state: Mutex::new(SchedState {
                queues,
                in_flight: HashMap::new(),
            }),
            ready: Condvar::new(),
            per_provider: self.options.per_provider.max(1),
        });
        let limits = Limits {
            retries: self.options.retries,
            max_wait: self.options.max_wait,
        };
        let (tx, rx) = crossbeam_channel::unbounded();
        let workers = self.options.concurrency.max(1).min(pending.len());
        for _ in 0..workers {
            let (jobs, scheduler, http, interrupt, tx) = (
                Arc::clone(jobs),
                Arc::clone(&scheduler),
                http.clone(),
                Arc::clone(interrupt),
                tx.clone(),
            );
            // Detached: on Ctrl-C the run returns without waiting for a
            // request in flight, which the process exit then abandons.
            std::thread::spawn(move || {
                while let Some(j) = scheduler.next(&interrupt) {
                    let job = &jobs[j];
                    let (v, sent) =
                        http::run_check(&http, &job.check, &job.secret, limits, &interrupt);
                    scheduler.done(&job.check.provider);
                    if tx.send((j, v, sent)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut done = Vec::with_capacity(pending.len());
        let mut requests = 0;
        while done.len() < pending.len() && !interrupt.load(Ordering::Relaxed) {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok((j, v, sent)) => {
                    requests += sent as usize;
                    done.push((j, v));
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        }
        // Checks that finished while we noticed the interrupt still count.
        while let Ok((j, v, sent)) = rx.try_recv() {
            requests += sent as usize;
            done.push((j, v));
        }
        (done, requests)
    }
}

/// Hands out jobs so that at most `per_provider` run per provider.
struct Scheduler {
    state: Mutex<SchedState>,
    ready: Condvar,
    per_provider: usize,
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
                !q.is_empty() && in_flight.get(p.as_str()).copied().unwrap_or(0) < self.per_provider
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
