//! Audits at organisation scale: the repositories named by URL
//! (`--git-url`, `--git-urls`) and listed by a hosting API
//! (`--github-org`, `--gitlab-group`, …), split across jobs (`--shard`),
//! mirrored with the system git (`source::remote`), each history scanned
//! (`source::git`), and, with `--datastore`, recorded so that the next
//! audit reads only the blobs it has not seen (`datastore`).
//!
//! Mirrors are cloned or fetched several at a time (network-bound) on
//! threads of their own, running ahead; the histories are scanned in the
//! list's order as their mirrors arrive: a large one alone with every
//! worker thread, so its blobs are shared out the same way as in a local
//! `--git` scan, small ones several at once with a thread each. A repository that fails to list, clone, scan or
//! record is an error in the report's statistics and the audit goes on.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use git2::Oid;

use crate::datastore::{self, Datastore, RepoRecord};
use crate::engine::Matcher;
use crate::error::{Error, Result};
use crate::finding::{sha256_hex, Finding};
use crate::hosting::{self, Owner};
use crate::scan::{self, PathNote, ScanOutcome};
use crate::source::git::{scan_repository_known, Known, Seen};
use crate::source::remote::{self, HttpAuth, Mirror, Remote, WebKind};

/// What to audit and how; `config` assembles it.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--git-url` and the lines of `--git-urls`.
    pub urls: Vec<String>,
    /// `--github-org`, `--github-user`, `--gitlab-group`, `--gitlab-user`.
    pub owners: Vec<Owner>,
    pub hosting: hosting::Options,
    /// Where the mirrors are kept between runs.
    pub clone_dir: PathBuf,
    /// Clones and fetches at a time.
    pub clone_jobs: usize,
    /// One clone or fetch, at most.
    pub clone_timeout: Duration,
    pub datastore: Option<PathBuf>,
    pub shard: Option<Shard>,
    /// Also scan what no ref reaches (`--all-objects`).
    pub all_objects: bool,
}

/// `--shard I/N`: this job audits the repositories whose URL hashes to
/// `index` (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Environment variables CI systems set for parallel jobs: the index, the
/// count, and whether the index counts from 0.
const SHARD_ENV: &[(&str, &str, bool)] = &[
    // A Kubernetes Indexed Job.
    ("JOB_COMPLETION_INDEX", "JOB_COMPLETIONS", true),
    // GitLab CI `parallel:`.
    ("CI_NODE_INDEX", "CI_NODE_TOTAL", false),
    // CircleCI `parallelism:`.
    ("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", true),
    // Buildkite `parallelism:`.
    (
        "BUILDKITE_PARALLEL_JOB",
        "BUILDKITE_PARALLEL_JOB_COUNT",
        true,
    ),
];

impl Shard {
    /// `I/N` with 1 <= I <= N, or `auto` ([`Shard::from_env`]).
    pub fn parse(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<Shard, String> {
        if text == "auto" {
            return Shard::from_env(env);
        }
        let bad = || format!("--shard `{text}`: expected I/N with 1 <= I <= N (2/4), or auto");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard a CI system's parallel job is: a Kubernetes Indexed Job
    /// (`JOB_COMPLETION_INDEX`, `JOB_COMPLETIONS`), GitLab CI
    /// (`CI_NODE_INDEX`, `CI_NODE_TOTAL`), CircleCI, Buildkite.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> std::result::Result<Shard, String> {
        for (index, count, from_zero) in SHARD_ENV {
            let (Some(i), Some(n)) = (env(index), env(count)) else {
                continue;
            };
            let bad = || format!("--shard auto: {index}={i} and {count}={n} do not name a shard");
            let i: u32 = i.trim().parse().map_err(|_| bad())?;
            let n: u32 = n.trim().parse().map_err(|_| bad())?;
            let index = if *from_zero {
                i.checked_add(1)
            } else {
                Some(i)
            }
            .ok_or_else(bad)?;
            if n == 0 || index == 0 || index > n {
                return Err(bad());
            }
            return Ok(Shard { index, count: n });
        }
        let names: Vec<String> = SHARD_ENV
            .iter()
            .map(|(i, n, _)| format!("{i}/{n}"))
            .collect();
        Err(format!(
            "--shard auto: none of {} is set; pass --shard I/N",
            names.join(", ")
        ))
    }

    /// Whether the repository at `url` (as shown, credentials left out)
    /// belongs to this shard: the first 8 bytes of its SHA-256, modulo the
    /// count. Stable across runs, machines and versions.
    pub fn holds(&self, url: &str) -> bool {
        let digest = sha256_hex(url.as_bytes());
        let n = u64::from_str_radix(&digest[..16], 16).expect("sha256_hex is hex");
        n % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// An audit's outcome: the findings and statistics, and the repositories
/// it covered (their URLs as shown).
pub struct Audit {
    pub outcome: ScanOutcome,
    pub repositories: Vec<String>,
    /// With a datastore: this run's new findings, with their raw secrets
    /// (`outcome` holds the datastore's redacted copies), for verifying
    /// before [`record_verdicts`]. Empty without a datastore.
    pub fresh: Vec<Finding>,
}

/// Record the verdicts of `fresh` (verified after [`run`]) in the
/// datastore at `path` and on `outcome`'s copies of the same findings.
pub fn record_verdicts(
    path: &std::path::Path,
    fresh: &[Finding],
    outcome: &mut ScanOutcome,
) -> Result<usize> {
    let mut store = Datastore::open(path)?;
    let n = store.record_verdicts(fresh)?;
    exposure_verdicts(&mut store, fresh, outcome)?;
    let key = |f: &Finding| {
        (
            f.commit.as_ref().and_then(|c| c.repository.clone()),
            f.fingerprint.clone(),
        )
    };
    let verdicts: HashMap<_, _> = fresh
        .iter()
        .filter_map(|f| Some((key(f), f.verification.clone()?)))
        .collect();
    for f in &mut outcome.findings {
        if let Some(v) = verdicts.get(&key(f)) {
            f.verification = Some(v.clone());
        }
    }
    Ok(n)
}

/// The repositories the options name, listed and filtered: unique by URL,
/// sorted, this shard's only. A hosting API's listing is filtered and
/// sharded page by page, so only this shard's remotes are ever held.
/// Listing failures are returned as notes; `interrupt` (Ctrl-C) stops the
/// listing.
pub fn repositories(
    options: &Options,
    interrupt: Option<&AtomicBool>,
) -> (Vec<Remote>, Vec<PathNote>) {
    let mut remotes = Vec::new();
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    let mut add = |r: Remote, remotes: &mut Vec<Remote>| {
        let shown = r.shown();
        if options.shard.as_ref().map_or(true, |s| s.holds(&shown)) && seen.insert(shown) {
            remotes.push(r);
        }
    };
    for url in &options.urls {
        match Remote::from_url(url) {
            Ok(r) => add(r, &mut remotes),
            Err(reason) => errors.push(PathNote {
                path: remote::redact_url(url),
                reason,
            }),
        }
    }
    for owner in &options.owners {
        if interrupt.is_some_and(|i| i.load(Ordering::Relaxed)) {
            break;
        }
        let problems =
            hosting::list(
                owner,
                &options.hosting,
                interrupt,
                &mut |repo| match remote::check_url(&repo.clone_url) {
                    Ok(()) => add(hosted_remote(&repo, &options.hosting), &mut remotes),
                    Err(reason) => errors.push(PathNote {
                        path: repo.full_name.clone(),
                        reason,
                    }),
                },
            );
        errors.extend(problems.into_iter().map(|reason| PathNote {
            path: owner.describe(),
            reason,
        }));
    }
    remotes.sort_by_key(Remote::shown);
    (remotes, errors)
}

/// A listed repository as a remote: its web page for links, and the token
/// for its clone URL when that is on the web page's host (the API's token
/// is for that host, and for no other).
fn hosted_remote(repo: &hosting::Repo, options: &hosting::Options) -> Remote {
    let (token, user, kind) = if repo.github {
        (&options.github_token, "x-access-token", WebKind::GitHub)
    } else {
        (&options.gitlab_token, "oauth2", WebKind::GitLab)
    };
    let same_host = match (
        url::Url::parse(&repo.clone_url),
        url::Url::parse(&repo.web_url),
    ) {
        (Ok(c), Ok(w)) => c.host_str().is_some() && c.host_str() == w.host_str(),
        _ => false,
    };
    let auth = token
        .as_ref()
        .filter(|_| same_host)
        .and_then(|t| HttpAuth::basic(&repo.clone_url, user, &t.0));
    Remote {
        url: repo.clone_url.clone(),
        web: Some((repo.web_url.clone(), kind)),
        auth,
    }
}

/// A hash of everything that decides which findings a blob yields: the
/// version, the rules, and the options that filter or decode. A blob the
/// datastore holds under the same hash is not scanned again.
pub fn rules_hash(matcher: &Matcher, options: &scan::Options) -> String {
    let mut text = format!(
        "leakhound {}\ndecode_all {}\nmax_file_size {}\n",
        env!("CARGO_PKG_VERSION"),
        options.decode_all,
        options.max_file_size
    );
    for rule in matcher.rules().rules() {
        text.push_str(&format!("{:?}\n{}\n", rule.spec, rule.origin));
    }
    let a = &options.allowlist;
    let mut fingerprints: Vec<&String> = a.fingerprints.iter().collect();
    fingerprints.sort();
    let regexes: Vec<&str> = a.regexes.iter().map(|r| r.as_str()).collect();
    let path_regexes: Vec<&str> = a.path_regexes.iter().map(|r| r.as_str()).collect();
    text.push_str(&format!(
        "{fingerprints:?}\n{regexes:?}\n{path_regexes:?}\n{:?}\n{:?}\n",
        a.stopwords, a.scoped
    ));
    sha256_hex(text.as_bytes())
}

/// Run the audit.
pub fn run(options: &Options, scan: &scan::Options, matcher: &Matcher) -> Result<Audit> {
    let started = Instant::now();
    let mut store = options
        .datastore
        .as_deref()
        .map(Datastore::open)
        .transpose()?;
    let (remotes, mut errors) = repositories(options, scan.interrupt.as_deref());
    let mut stats = scan::Stats::default();
    if let Some(shard) = &options.shard {
        stats.notes.push(format!(
            "shard {}/{}: {} repositor{}",
            shard.index,
            shard.count,
            remotes.len(),
            if remotes.len() == 1 { "y" } else { "ies" }
        ));
    }
    // The mirrors are full copies of the repositories: kept private.
    if !remotes.is_empty() {
        let note = remote::private_dir(&options.clone_dir).map_err(Error::Usage)?;
        stats.notes.extend(note);
    }
    // Clones and fetches run ahead on their own threads while the
    // histories are scanned here, in order.
    let mut mirrors = Mirroring::start(&remotes, options, scan);
    let rules = rules_hash(matcher, scan);
    let mut seen: HashMap<Oid, bool> = match &store {
        Some(s) => s.seen_blobs(&rules)?,
        None => HashMap::new(),
    };
    let mut findings: Vec<Finding> = Vec::new();
    let mut fresh: Vec<Finding> = Vec::new();
    let mut secrets = Vec::new();
    // Exposure with a datastore: its own key names the secrets, so ids
    // hold from one audit to the next; the secrets its skipped blobs hold;
    // earlier secrets read back from their blobs, to verify again.
    let key = match (store.as_mut(), &scan.exposure) {
        (Some(store), Some(slot)) => {
            let key = store.exposure_key()?;
            slot.set(key.clone());
            Some(key)
        }
        _ => None,
    };
    // The secrets each blob scanned before holds, kept up to date as
    // repositories are recorded: a fork that skips a blob its parent
    // repository's scan read earlier in this audit still sees its keys.
    let mut known = match (&store, &key) {
        (Some(store), Some(_)) => store.secret_blobs()?,
        _ => HashMap::new(),
    };
    let mut reverify: Vec<Finding> = Vec::new();
    // Findings of repositories whose record failed (a full disk).
    let mut unrecorded: Vec<Finding> = Vec::new();
    let (mut commits, mut blobs, mut skipped) = (0u64, 0u64, 0u64);
    let (mut cloned, mut fetched) = (0usize, 0usize);
    let mut audited = Vec::new();
    let width = match scan.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let (mut next, mut together) = (0, 0);
    while next < remotes.len() {
        // Small repositories (the common case: thousands of them) are scanned
        // several at once, one thread each, as a single one keeps no worker
        // busy for long; a large one alone with every thread. Then each is
        // recorded in the list's order. The scans of one batch skip only
        // the blobs recorded before it: two small repositories that share
        // history (a fork) in one batch both read what they share.
        let batch = mirrors.batch(next, width);
        let first = next;
        next += batch.len().max(1);
        let scanned: Vec<Option<Result<crate::source::git::HistoryScan>>> = {
            let lookup = |oid: &Oid| seen.get(oid).copied();
            let secrets_of = |oid: &Oid| known.get(oid).cloned().unwrap_or_default();
            let with_store = store.is_some();
            let one = |mirror: &Mirror, alongside: bool| {
                scan_repository_known(
                    scan,
                    matcher,
                    &mirror.path,
                    options.all_objects,
                    with_store.then_some(&lookup as Seen),
                    with_store.then_some(&secrets_of as Known),
                    alongside,
                )
            };
            let ready: Vec<&Mirror> = batch
                .iter()
                .filter_map(|m| m.as_ref()?.as_ref().ok())
                .collect();
            if ready.len() > 1 {
                together += ready.len();
                std::thread::scope(|threads| {
                    let handles: Vec<_> = batch
                        .iter()
                        .map(|m| match m {
                            Some(Ok(mirror)) => Some(threads.spawn(|| one(mirror, true))),
                            _ => None,
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.map(|h| {
                                h.join().unwrap_or_else(|_| {
                                    Err(Error::Usage(
                                        "the history scan stopped unexpectedly".into(),
                                    ))
                                })
                            })
                        })
                        .collect()
                })
            } else {
                batch
                    .iter()
                    .map(|m| match m {
                        Some(Ok(mirror)) => Some(one(mirror, false)),
                        _ => None,
                    })
                    .collect()
            }
        };
        for (k, (taken, history)) in batch.into_iter().zip(scanned).enumerate() {
            let remote = &remotes[first + k];
            let shown = remote.shown();
            if interrupted(scan) {
                break; // a clone stopped by Ctrl-C is not an error of its own
            }
            let mirror = match taken {
                Some(Ok(m)) => m,
                Some(Err(reason)) => {
                    // Its open secrets cannot be read back to verify them again.
                    if let Some(store) = store.as_mut() {
                        let why =
                            format!("the repository could not be cloned or fetched: {reason}");
                        if let Err(e) = exposure_unreadable(store, &shown, &why) {
                            errors.push(PathNote {
                                path: shown.clone(),
                                reason: e.to_string(),
                            });
                        }
                    }
                    errors.push(PathNote {
                        path: shown,
                        reason,
                    });
                    continue;
                }
                None => continue, // interrupted before its turn
            };
            if mirror.fetched {
                fetched += 1;
            } else {
                cloned += 1;
            }
            if let Some(why) = &mirror.replaced {
                stats.notes.push(format!(
                "{shown}: the mirror in the clone directory was not one leakhound made ({why}); cloned afresh"
            ));
            }
            let history = match history.expect("a scan for every mirror") {
                Ok(h) => h,
                Err(e) => {
                    errors.push(PathNote {
                        path: shown,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            audited.push(shown.clone());
            let mut outcome = history.outcome;
            for f in &mut outcome.findings {
                name_repository(f, remote);
            }
            // One secret in several repositories is one entry (the key of the
            // keyed hash is the run's, the same for every repository).
            let mut repo_secrets = std::mem::take(&mut outcome.stats.secrets);
            for s in &mut repo_secrets {
                crate::exposure::name_repository(s, &shown);
            }
            let recorded_secrets = key.as_ref().map(|_| repo_secrets.clone());
            crate::exposure::merge(&mut secrets, repo_secrets);
            let repo_commits = outcome.stats.commits.unwrap_or(0);
            commits += repo_commits;
            blobs += outcome.stats.blobs.unwrap_or(0);
            skipped += history.skipped;
            stats.merge(outcome.stats);
            let Some(store) = store.as_mut() else {
                findings.extend(outcome.findings);
                continue;
            };
            // The findings of blobs seen before (in this repository or another
            // one, a fork) are named here too, at this history's path and commit.
            let mut reused = Vec::new();
            for r in &history.reused {
                match store.findings_of_blob(&r.blob) {
                    Ok(stored) => {
                        for s in stored {
                            let mut f = datastore::stored_finding(s);
                            f.path = r.path.clone();
                            f.commit = r.commit.clone();
                            name_repository(&mut f, remote);
                            reused.push((f, Some(r.blob)));
                        }
                    }
                    Err(e) => errors.push(PathNote {
                        path: shown.clone(),
                        reason: e.to_string(),
                    }),
                }
            }
            let record: Vec<(&Finding, Option<Oid>)> = outcome
                .findings
                .iter()
                .zip(history.finding_blobs.iter().copied())
                .chain(reused.iter().map(|(f, b)| (f, *b)))
                .collect();
            let repo = RepoRecord {
                url: &shown,
                web: remote.web.as_ref().map(|(w, _)| w.as_str()),
                commits: repo_commits,
                blobs: history.scanned.len() as u64,
            };
            match store.record(&repo, &rules, &history.scanned, &record) {
                Ok(()) => {
                    // Only once the repository's own record is written: a
                    // datastore that cannot be written says so once.
                    if let (Some(key), Some(repo_secrets)) = (&key, &recorded_secrets) {
                        let found: Vec<(&Finding, Option<Oid>)> = outcome
                            .findings
                            .iter()
                            .zip(history.finding_blobs.iter().copied())
                            .collect();
                        match exposure_record(
                            store,
                            key,
                            &shown,
                            &mirror.path,
                            repo_secrets,
                            &found,
                        ) {
                            Ok(mut again) => {
                                reverify.append(&mut again);
                                for secret in repo_secrets {
                                    for b in &secret.blob_ids {
                                        let ids = known.entry(*b).or_default();
                                        if !ids.contains(&secret.id) {
                                            ids.push(secret.id.clone());
                                        }
                                    }
                                }
                            }
                            Err(e) => errors.push(PathNote {
                                path: shown.clone(),
                                reason: format!("exposure not recorded: {e}"),
                            }),
                        }
                    }
                    let with_findings: HashSet<Oid> =
                        history.finding_blobs.iter().flatten().copied().collect();
                    for b in &history.scanned {
                        seen.insert(*b, with_findings.contains(b));
                    }
                    drop(record);
                    fresh.extend(outcome.findings);
                }
                Err(e) => {
                    errors.push(PathNote {
                        path: shown.clone(),
                        reason: format!("not recorded: {e}"),
                    });
                    // Still reported (and verified), from memory.
                    drop(record);
                    fresh.extend(outcome.findings.iter().cloned());
                    unrecorded.extend(outcome.findings);
                    unrecorded.extend(reused.into_iter().map(|(f, _)| f));
                }
            }
        }
        if interrupted(scan) {
            break;
        }
    }
    if interrupted(scan) {
        stats
            .notes
            .push("interrupted: repositories not reached are not in this report".into());
    }
    if let Some(store) = &store {
        let filter = datastore::Filter {
            repositories: audited.clone(),
            ..Default::default()
        };
        findings = store.findings(&filter)?;
        findings.append(&mut unrecorded);
        stats.notes.push(format!(
            "datastore {}: {skipped} blob{} already scanned under these rules, skipped",
            options
                .datastore
                .as_deref()
                .map_or(String::new(), |p| p.display().to_string()),
            if skipped == 1 { "" } else { "s" }
        ));
        stats.blobs_skipped = Some(skipped);
    }
    stats.notes.push(format!(
        "audited {} of {} repositor{} ({cloned} cloned, {fetched} fetched{})",
        audited.len(),
        remotes.len(),
        if remotes.len() == 1 { "y" } else { "ies" },
        if together > 0 {
            format!("; {together} small ones scanned up to {width} at a time")
        } else {
            String::new()
        }
    ));
    stats.errors.extend(errors);
    stats.commits = Some(commits);
    stats.blobs = Some(blobs);
    stats.repositories = Some(audited.len() as u64);
    stats.secrets = secrets;
    if let (Some(store), Some(_)) = (store.as_mut(), &key) {
        store.close_settled()?;
        // Those of repositories that failed too: they say why their keys
        // could not be read back.
        let listed: Vec<String> = remotes.iter().map(Remote::shown).collect();
        stats.secrets = store.secrets(&listed, false)?;
    }
    fresh.append(&mut reverify);
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(Audit {
        outcome: ScanOutcome { findings, stats },
        repositories: audited,
        fresh,
    })
}

fn interrupted(scan: &scan::Options) -> bool {
    scan.interrupt
        .as_ref()
        .is_some_and(|i| i.load(Ordering::Relaxed))
}

/// Name the repository and the line's web link on a finding.
fn name_repository(f: &mut Finding, remote: &Remote) {
    if let Some(c) = &mut f.commit {
        c.repository = Some(remote.shown());
        c.url = remote.line_link(&c.id, &f.path, f.line);
    }
}

/// Clones and fetches, `clone_jobs` at a time on threads of their own,
/// handed out in the remotes' order.
struct Mirroring {
    rx: mpsc::Receiver<(usize, std::result::Result<Mirror, String>)>,
    pending: HashMap<usize, std::result::Result<Mirror, String>>,
    total: usize,
}

/// A mirror up to this size on disk is small: scanned alongside others.
const SMALL_MIRROR: u64 = 32 << 20;

/// The bytes of a mirror's object database (packs and loose objects).
fn mirror_bytes(path: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut dirs = vec![path.join("objects")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => dirs.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
            if total > SMALL_MIRROR {
                return total;
            }
        }
    }
    total
}

impl Mirroring {
    fn start(remotes: &[Remote], options: &Options, scan: &scan::Options) -> Mirroring {
        let remotes = Arc::new(remotes.to_vec());
        let next = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        for _ in 0..options.clone_jobs.clamp(1, remotes.len().max(1)) {
            let (remotes, next, tx) = (Arc::clone(&remotes), Arc::clone(&next), tx.clone());
            let (dir, timeout) = (options.clone_dir.clone(), options.clone_timeout);
            let interrupt = scan.interrupt.clone();
            // Detached: each stops when the list ends, on Ctrl-C, or when
            // the audit no longer takes its results.
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= remotes.len()
                    || interrupt
                        .as_ref()
                        .is_some_and(|f| f.load(Ordering::Relaxed))
                {
                    break;
                }
                let mirrored = remote::mirror(&remotes[i], &dir, timeout, interrupt.as_deref());
                if tx.send((i, mirrored)).is_err() {
                    break;
                }
            });
        }
        Mirroring {
            rx,
            pending: HashMap::new(),
            total: remotes.len(),
        }
    }

    /// The mirrors to scan next, from remote `i` on: one, or when it is
    /// small, it and the small ones after it that are ready or cloning, up
    /// to `width` (a failed or large one waits for the next batch).
    fn batch(
        &mut self,
        i: usize,
        width: usize,
    ) -> Vec<Option<std::result::Result<Mirror, String>>> {
        let mut batch = vec![self.take(i)];
        let small = |m: &Option<std::result::Result<Mirror, String>>| matches!(m, Some(Ok(mirror)) if mirror_bytes(&mirror.path) <= SMALL_MIRROR);
        if !small(&batch[0]) {
            return batch;
        }
        while batch.len() < width && i + batch.len() < self.total {
            let j = i + batch.len();
            let m = self.take(j);
            if !small(&m) {
                if let Some(m) = m {
                    self.pending.insert(j, m);
                }
                break;
            }
            batch.push(m);
        }
        batch
    }

    /// Remote `i`'s mirror, once it is made; `None` when it never will be
    /// (an interrupt stopped the clones first).
    fn take(&mut self, i: usize) -> Option<std::result::Result<Mirror, String>> {
        loop {
            if let Some(m) = self.pending.remove(&i) {
                return Some(m);
            }
            match self.rx.recv() {
                Ok((j, m)) => {
                    self.pending.insert(j, m);
                }
                Err(_) => return None,
            }
        }
    }
}

/// The `--git-urls` file: one URL a line; blank lines and `#` comments are
/// skipped.
pub fn read_url_list(path: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Record this repository's secrets in the datastore: where each lives,
/// its blobs, the spans to read it back from. Returns the earlier secrets
/// this run did not find anew, read back from the mirror at `gitdir`
/// (each checked against its id), as findings to verify again; a secret
/// that cannot be read back is recorded as such.
fn exposure_record(
    store: &mut Datastore,
    key: &crate::exposure::Key,
    shown: &str,
    gitdir: &std::path::Path,
    secrets: &[crate::exposure::Secret],
    found: &[(&Finding, Option<Oid>)],
) -> Result<Vec<Finding>> {
    let spans: Vec<crate::exposure::Span> = found
        .iter()
        .filter_map(|(f, b)| crate::exposure::Span::of(key, shown, f, (*b)?))
        .collect();
    store.record_exposure(shown, secrets, &spans)?;
    let fresh: HashSet<String> = found.iter().map(|(f, _)| key.id(&f.secret)).collect();
    let repo = git2::Repository::open(gitdir).ok();
    let mut again = Vec::new();
    let mut done: HashSet<String> = HashSet::new();
    let mut failed: HashMap<String, String> = HashMap::new();
    for span in store.open_spans(shown)? {
        if fresh.contains(&span.secret) || done.contains(&span.secret) {
            continue;
        }
        let read = match &repo {
            Some(r) => span.read_back(r, key),
            None => Err("the repository's mirror cannot be opened".to_string()),
        };
        match read {
            Ok(raw) => {
                let Some(mut f) = store.finding(shown, &span.fingerprint)? else {
                    continue;
                };
                f.secret = raw;
                if let Some(c) = &mut f.commit {
                    c.repository = Some(shown.to_string());
                }
                failed.remove(&span.secret);
                done.insert(span.secret.clone());
                store.record_unreadable(&span.secret, None)?;
                again.push(f);
            }
            Err(why) => {
                failed.insert(span.secret.clone(), why);
            }
        }
    }
    for (id, why) in failed {
        store.record_unreadable(&id, Some(&why))?;
    }
    Ok(again)
}

/// The repository at `shown` is gone: its open secrets cannot be read
/// back.
fn exposure_unreadable(store: &mut Datastore, shown: &str, why: &str) -> Result<()> {
    let ids: HashSet<String> = store
        .open_spans(shown)?
        .into_iter()
        .map(|s| s.secret)
        .collect();
    for id in ids {
        store.record_unreadable(&id, Some(why))?;
    }
    Ok(())
}

/// Record each verified secret's verdict with the time, close what is
/// settled, and put the datastore's view of the secrets on the report.
fn exposure_verdicts(
    store: &mut Datastore,
    fresh: &[Finding],
    outcome: &mut ScanOutcome,
) -> Result<()> {
    if outcome.stats.secrets.is_empty() && fresh.is_empty() {
        return Ok(());
    }
    let key = store.exposure_key()?;
    let at = crate::revoke::audit::now_rfc3339();
    let mut best: HashMap<String, &Finding> = HashMap::new();
    for f in fresh.iter().filter(|f| f.verification.is_some()) {
        let id = key.id(&f.secret);
        let better = match best.get(&id) {
            None => true,
            Some(b) => {
                crate::exposure::best_verdict([*b, f].into_iter())
                    == f.verification.as_ref().map(|v| v.verdict)
            }
        };
        if better {
            best.insert(id, f);
        }
    }
    for (id, f) in best {
        let v = f.verification.as_ref().expect("filtered on verification");
        store.record_secret_verdict(
            &id,
            &crate::exposure::VerdictAt {
                at: at.clone(),
                verdict: v.verdict,
                detail: v.summary(),
            },
        )?;
    }
    store.close_settled()?;
    let repositories: Vec<String> = outcome
        .stats
        .secrets
        .iter()
        .flat_map(|s| s.repositories.iter().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !repositories.is_empty() {
        outcome.stats.secrets = store.secrets(&repositories, false)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_cover_every_url_once() {
        let none = |_: &str| None;
        assert_eq!(
            Shard::parse("2/4", none).unwrap(),
            Shard { index: 2, count: 4 }
        );
        for bad in ["0/4", "5/4", "1/0", "x", "1/", "/2"] {
            assert!(Shard::parse(bad, none).is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (1..=3).map(|i| Shard { index: i, count: 3 }).collect();
        for k in 0..200 {
            let url = format!("https://example.com/o/r{k}");
            assert_eq!(shards.iter().filter(|s| s.holds(&url)).count(), 1);
        }
    }

    #[test]
    fn shard_auto_reads_ci_variables() {
        let k8s = |n: &str| match n {
            "JOB_COMPLETION_INDEX" => Some("0".to_string()),
            "JOB_COMPLETIONS" => Some("3".to_string()),
            _ => None,
        };
        assert_eq!(
            Shard::parse("auto", k8s).unwrap(),
            Shard { index: 1, count: 3 }
        );
        let gitlab = |n: &str| match n {
            "CI_NODE_INDEX" => Some("3".to_string()),
            "CI_NODE_TOTAL" => Some("3".to_string()),
            _ => None,
        };
        assert_eq!(
            Shard::parse("auto", gitlab).unwrap(),
            Shard { index: 3, count: 3 }
        );
        let broken = |n: &str| match n {
            "JOB_COMPLETION_INDEX" => Some("3".to_string()),
            "JOB_COMPLETIONS" => Some("3".to_string()),
            _ => None,
        };
        assert!(Shard::parse("auto", broken).is_err());
        assert!(Shard::parse("auto", |_: &str| None).is_err());
    }
}
