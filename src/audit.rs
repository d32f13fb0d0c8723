//! Audits at organisation scale: the repositories named by URL
//! (`--git-url`, `--git-urls`) and listed by a hosting API
//! (`--github-org`, `--gitlab-group`, …), split across jobs (`--shard`),
//! mirrored with the system git (`source::remote`), each history scanned
//! (`source::git`), and, with `--datastore`, recorded so that the next
//! audit reads only the blobs it has not seen (`datastore`).
//!
//! Mirrors are cloned or fetched several at a time (network-bound) on
//! threads of their own, running ahead; the histories are scanned in the
//! list's order as their mirrors arrive, one after the other, each with
//! every worker thread, so a repository's blobs are shared out the same way
//! as in a local `--git` scan. A repository that fails to list, clone, scan or
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
use crate::source::git::{scan_repository, Seen};
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
    // Findings of repositories whose record failed (a full disk).
    let mut unrecorded: Vec<Finding> = Vec::new();
    let (mut commits, mut blobs, mut skipped) = (0u64, 0u64, 0u64);
    let (mut cloned, mut fetched) = (0usize, 0usize);
    let mut audited = Vec::new();
    for (i, remote) in remotes.iter().enumerate() {
        let shown = remote.shown();
        let taken = mirrors.take(i);
        if interrupted(scan) {
            break; // a clone stopped by Ctrl-C is not an error of its own
        }
        let mirror = match taken {
            Some(Ok(m)) => m,
            Some(Err(reason)) => {
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
        let lookup = |oid: &Oid| seen.get(oid).copied();
        let history = match scan_repository(
            scan,
            matcher,
            &mirror.path,
            options.all_objects,
            store.as_ref().map(|_| &lookup as Seen),
        ) {
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
        "audited {} of {} repositor{} ({cloned} cloned, {fetched} fetched)",
        audited.len(),
        remotes.len(),
        if remotes.len() == 1 { "y" } else { "ies" }
    ));
    stats.errors.extend(errors);
    stats.commits = Some(commits);
    stats.blobs = Some(blobs);
    stats.repositories = Some(audited.len() as u64);
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
        }
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
