//! Exposure: a secret's sightings, reachability and lifecycle, over scans
//! and the datastore.
//!
//! A finding is one key at one path. What a security team asks next is
//! about the *key*: where else it sits, which refs still reach it (a key
//! deleted from `main` is still in every clone that reaches the old
//! commit), whether it still works, and when it may be called closed.
//!
//! - **Grouping.** Findings are grouped by their key under a keyed hash
//!   ([`Key::id`], HMAC-SHA256 with a random key per scan or per
//!   datastore). A plain hash of a short password is cracked at once; the
//!   key of the HMAC is in no report, so the group id gives nothing away.
//! - **Reachability** is computed from what the history walk already
//!   knows ([`Walk`]): the commit graph, and which commits' trees showed
//!   each blob that holds a key. Marks are pushed from those commits to
//!   their descendants in one pass over the graph (64 keys at a time in a
//!   machine word), and each ref's tip reads its mark. Only the commits
//!   that still hold a key after their first parent held it need a tree
//!   lookup, to find where the key was removed.
//! - **Lifecycle** (the datastore): a key is open until it is dead
//!   (verified dead, or revoked) and no branch or tag reaches it any more;
//!   [`status`] decides.
//!
//! This module sits below `scan` (whose statistics carry the secrets) and
//! above `revoke` and `verify`; it names git through `git2` only, so that
//! `source::git` hands it the walk rather than the other way round.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use git2::{ObjectType, Oid, Repository};
use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::finding::{CommitInfo, Finding, Verdict};

/// The key of the keyed hash that names secrets. Random per scan, or
/// stored in the datastore so that ids stay the same from one audit to the
/// next. Its `Debug` form does not show it.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

impl Key {
    /// A fresh random key from the system's generator.
    pub fn random() -> Key {
        use ring::rand::SecureRandom;
        let mut bytes = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system random generator works (getrandom)");
        Key(bytes)
    }

    /// A key as the datastore stores it (32 bytes).
    pub fn from_bytes(bytes: &[u8]) -> Option<Key> {
        Some(Key(bytes.try_into().ok()?))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A key given as 64 hex digits (`LEAKHOUND_EXPOSURE_KEY`).
    pub fn from_hex(text: &str) -> Option<Key> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<_>>()?;
        Key::from_bytes(&bytes)
    }

    /// The id of a secret: the first 16 bytes of HMAC-SHA256(key, secret),
    /// hex. Without the key it cannot be checked against guesses.
    pub fn id(&self, secret: &str) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let tag = hmac::sign(&key, secret.as_bytes());
        tag.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `secret` is the one `id` names (a key read back from a
    /// mirror must match before it is sent anywhere).
    pub fn matches(&self, id: &str, secret: &str) -> bool {
        let mine = self.id(secret);
        mine.len() == id.len()
            && mine
                .bytes()
                .zip(id.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// The key a scan names secrets with, shared between the options and the
/// audit that may replace it with its datastore's key before scanning.
#[derive(Clone, Debug)]
pub struct KeySlot(std::sync::Arc<std::sync::Mutex<Key>>);

impl KeySlot {
    pub fn new(key: Key) -> KeySlot {
        KeySlot(std::sync::Arc::new(std::sync::Mutex::new(key)))
    }

    pub fn get(&self) -> Key {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set(&self, key: Key) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = key;
    }
}

/// Open until the key is dead and no branch or tag reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Open,
    Closed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
}

/// One verification outcome of a secret, with its date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictAt {
    /// RFC 3339, UTC.
    pub at: String,
    pub verdict: Verdict,
    pub detail: String,
}

/// A secret's life as the datastore keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// When an audit first found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    /// `dead and unreachable`, or what a person said (`datastore close`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_reason: Option<String>,
    /// Every verification outcome, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<VerdictAt>,
    /// The audit-log entry of its revocation (`FILE:LINE`), if revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<String>,
    /// Why the key could not be read back from its repository to verify
    /// it again (the repository is gone, the blob was pruned, or what is
    /// there no longer matches its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// Whether a secret may be closed: dead (its latest verdict, or revoked)
/// and no published ref (branch, tag, HEAD, remote-tracking, pull request)
/// reaches it any more.
pub fn may_close(secret: &Secret, revoked: bool) -> bool {
    let latest = secret.lifecycle.verdicts.last().map(|v| v.verdict);
    let dead = revoked || latest == Some(Verdict::Dead);
    dead && !secret.refs.iter().any(|r| r.kind.is_published())
}

/// How exposed a secret is, worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exposure {
    /// The default branch's tip (HEAD) holds it: every checkout has it.
    InHead,
    /// A branch, tag or other ref reaches a commit that holds it, but
    /// HEAD's tree does not.
    InHistory,
    /// Only reflogs, stashes or objects no ref reaches hold it.
    Unreachable,
}

impl Exposure {
    pub fn as_str(self) -> &'static str {
        match self {
            Exposure::InHead => "in HEAD",
            Exposure::InHistory => "in history",
            Exposure::Unreachable => "unreachable",
        }
    }
}

impl std::fmt::Display for Exposure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of ref reaches a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefKind {
    Head,
    Branch,
    Tag,
    Remote,
    PullRequest,
    Other,
    Stash,
    Reflog,
    /// No ref: a commit or blob only `--all-objects` finds.
    Dangling,
}

impl RefKind {
    /// Branches, tags, HEAD, remote-tracking, pull-request and other refs
    /// are pushed and cloned; stashes, reflogs and dangling objects stay
    /// in one `.git` directory.
    pub fn is_published(self) -> bool {
        !matches!(self, RefKind::Stash | RefKind::Reflog | RefKind::Dangling)
    }

    fn of(name: &str) -> RefKind {
        if name == "HEAD" {
            RefKind::Head
        } else if name.starts_with("refs/heads/") {
            RefKind::Branch
        } else if name.starts_with("refs/tags/") {
            RefKind::Tag
        } else if name.starts_with("refs/remotes/") {
            RefKind::Remote
        } else if name.starts_with("refs/pull/") || name.starts_with("refs/merge-requests/") {
            RefKind::PullRequest
        } else if name == "refs/stash" {
            RefKind::Stash
        } else {
            RefKind::Other
        }
    }
}

/// A ref that reaches a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefHit {
    /// `refs/tags/v1.0`, `HEAD`, `refs/heads/main@{1}` for a reflog entry.
    pub name: String,
    pub kind: RefKind,
    /// Whether the ref's own commit holds the key (not only its history).
    pub tip: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
}

/// A secret's life on one branch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchSpan {
    /// `refs/heads/main`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The oldest commit of the branch that holds the key.
    pub first: CommitInfo,
    /// The newest: the tip while the key is still there.
    pub last: CommitInfo,
    /// How many of the branch's commits hold it.
    pub commits: u64,
    /// The commit on the branch's first-parent line that removed it, when
    /// the tip no longer holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<CommitInfo>,
}

/// One secret, however many findings show it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Secret {
    /// The keyed hash of the key ([`Key::id`]).
    pub id: String,
    pub rule_id: String,
    pub provider: String,
    /// Redacted, always.
    pub secret: String,
    pub exposure: Exposure,
    /// The first commit that held it (the earliest by author date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<CommitInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<String>,
    pub paths: Vec<String>,
    /// The fingerprints of the findings that show it.
    pub findings: Vec<String>,
    /// Commits whose tree holds it, in all.
    pub commits: u64,
    /// Distinct blobs that hold it.
    pub blobs: u64,
    /// Every ref that reaches it.
    pub refs: Vec<RefHit>,
    pub branches: Vec<BranchSpan>,
    /// The best verdict of its findings, when verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Live, and some branch deleted it: deleting does not rotate a key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted_but_live: bool,
    /// Range scans (`--range BASE..HEAD`, a pull request): whether the
    /// base's history already held the key (an old leak) or this range
    /// brings it (new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseState>,
    /// With a datastore: status, dates, verdicts over time.
    #[serde(default, flatten)]
    pub lifecycle: Lifecycle,
    /// The blobs that hold it (kept in the datastore, not reported).
    #[serde(skip)]
    pub blob_ids: Vec<Oid>,
}

/// What the history walk knows, handed over by `source::git`.
pub struct Walk<'a> {
    pub repo: &'a Repository,
    /// In any order; parents are indices into this list.
    pub commits: Vec<WalkCommit>,
    /// The blobs that hold a secret.
    pub blobs: Vec<WalkBlob>,
    /// A commit's id, author, date and summary.
    pub describe: &'a dyn Fn(Oid) -> Option<CommitInfo>,
}

pub struct WalkCommit {
    pub oid: Oid,
    pub tree: Oid,
    pub parents: Vec<u32>,
}

pub struct WalkBlob {
    pub oid: Oid,
    /// Every path it appears at.
    pub paths: Vec<String>,
    /// Every commit whose tree, compared with its first parent's, shows
    /// it (indices into `Walk::commits`), once a path; empty for a
    /// dangling blob.
    pub commits: Vec<u32>,
    /// Every commit whose tree, compared with its first parent's, no
    /// longer holds it at a path the parent's held it at, once a path.
    pub removed_by: Vec<u32>,
}

/// One secret as the scan saw it: its id ([`Key::id`]) and the blobs
/// (indices into `Walk::blobs`) that hold it.
pub struct Sighting<'a> {
    pub id: &'a str,
    pub blobs: Vec<u32>,
}

/// Group `findings` by key and work out where each key still lives.
/// `sightings` names every blob each key was seen in (not only the blob a
/// finding was reported from).
pub fn analyse(
    walk: &Walk,
    key: &Key,
    findings: &[Finding],
    sightings: &[Sighting],
) -> Vec<Secret> {
    let index: HashMap<Oid, u32> = walk
        .commits
        .iter()
        .enumerate()
        .map(|(i, c)| (c.oid, i as u32))
        .collect();
    let order = topological(&walk.commits);
    let tips = ref_tips(walk.repo, &index);
    let head = walk
        .repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.id());
    let mut ancestry = Ancestry(HashMap::new());
    let mut count = vec![0i32; walk.commits.len()];
    let mut by_id: HashMap<String, Vec<&Finding>> = HashMap::new();
    for f in findings {
        by_id.entry(key.id(&f.secret)).or_default().push(f);
    }
    let mut secrets = Vec::new();
    for batch in sightings.chunks(64) {
        // Each commit's mark: bit k set when sighting k of the batch is in
        // the commit's history.
        let mut own = vec![0u64; walk.commits.len()];
        for (k, s) in batch.iter().enumerate() {
            for &b in &s.blobs {
                for &c in &walk.blobs[b as usize].commits {
                    own[c as usize] |= 1 << k;
                }
            }
        }
        let mut marks = own.clone();
        for &c in &order {
            let mut m = marks[c as usize];
            for &p in &walk.commits[c as usize].parents {
                m |= marks[p as usize];
            }
            marks[c as usize] = m;
        }
        for (k, s) in batch.iter().enumerate() {
            let bit = 1u64 << k;
            secrets.push(one_secret(
                walk,
                by_id.get(s.id).map_or(&[][..], Vec::as_slice),
                s,
                bit,
                &own,
                &marks,
                &order,
                &tips,
                head,
                &mut count,
                &mut ancestry,
            ));
        }
    }
    sort(&mut secrets);
    secrets
}

/// Worst first: live before the rest, then by exposure, then by id.
pub fn sort(secrets: &mut [Secret]) {
    secrets.sort_by(|a, b| {
        let key = |s: &Secret| {
            (
                s.lifecycle.status == Some(Status::Closed),
                s.verdict != Some(Verdict::Live),
                s.exposure,
            )
        };
        (key(a), &a.id).cmp(&(key(b), &b.id))
    });
}

/// A ref tip: its name, kind, and commit index.
struct Tip {
    name: String,
    kind: RefKind,
    commit: u32,
}

/// Every ref, HEAD, and every reflog entry whose commit the walk holds.
fn ref_tips(repo: &Repository, index: &HashMap<Oid, u32>) -> Vec<Tip> {
    let mut tips = Vec::new();
    let mut names = vec!["HEAD".to_string()];
    if let Ok(refs) = repo.references() {
        for r in refs.flatten() {
            if let Some(name) = r.name() {
                names.push(name.to_string());
            }
        }
    }
    for name in &names {
        let current = repo
            .revparse_single(name)
            .ok()
            .and_then(|o| o.peel(ObjectType::Commit).ok())
            .map(|o| o.id());
        if let Some(&c) = current.as_ref().and_then(|o| index.get(o)) {
            tips.push(Tip {
                name: name.clone(),
                kind: RefKind::of(name),
                commit: c,
            });
        }
        // The stash's entries are its reflog; a branch's reflog holds
        // where it pointed before a reset or a force-push.
        // libgit2 creates an empty reflog file when asked to read one that
        // does not exist: ask first, so that a scan writes nothing into
        // the repository.
        if !repo.reference_has_log(name).unwrap_or(false) {
            continue;
        }
        let Ok(log) = repo.reflog(name) else {
            continue;
        };
        let mut seen: HashSet<Oid> = current.into_iter().collect();
        for (n, entry) in log.iter().enumerate() {
            let oid = entry.id_new();
            if !seen.insert(oid) {
                continue;
            }
            if let Some(&c) = index.get(&oid) {
                tips.push(Tip {
                    name: format!("{name}@{{{n}}}"),
                    kind: if name == "refs/stash" {
                        RefKind::Stash
                    } else {
                        RefKind::Reflog
                    },
                    commit: c,
                });
            }
        }
    }
    tips
}

/// The commits in an order where parents come before children (Kahn's
/// algorithm); a cycle (only a forged graph has one) leaves its commits
/// out.
fn topological(commits: &[WalkCommit]) -> Vec<u32> {
    let mut waiting: Vec<u32> = commits.iter().map(|c| c.parents.len() as u32).collect();
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); commits.len()];
    for (i, c) in commits.iter().enumerate() {
        for &p in &c.parents {
            children[p as usize].push(i as u32);
        }
    }
    let mut ready: Vec<u32> = (0..commits.len() as u32)
        .filter(|&i| waiting[i as usize] == 0)
        .collect();
    let mut order = Vec::with_capacity(commits.len());
    while let Some(i) = ready.pop() {
        order.push(i);
        for &c in &children[i as usize] {
            waiting[c as usize] -= 1;
            if waiting[c as usize] == 0 {
                ready.push(c);
            }
        }
    }
    order
}

/// Tree lookups by path, remembered per (tree, path).
struct TreeLookups<'r> {
    repo: &'r Repository,
    memo: HashMap<(Oid, String), Option<Oid>>,
}

impl<'r> TreeLookups<'r> {
    fn new(repo: &'r Repository) -> Self {
        TreeLookups {
            repo,
            memo: HashMap::new(),
        }
    }

    fn blob_at(&mut self, tree: Oid, path: &str) -> Option<Oid> {
        if let Some(&found) = self.memo.get(&(tree, path.to_string())) {
            return found;
        }
        let found = self
            .repo
            .find_tree(tree)
            .ok()
            .and_then(|t| t.get_path(std::path::Path::new(path)).ok())
            .map(|e| e.id());
        self.memo.insert((tree, path.to_string()), found);
        found
    }
}

#[allow(clippy::too_many_arguments)]
fn one_secret(
    walk: &Walk,
    mine: &[&Finding],
    s: &Sighting,
    bit: u64,
    own: &[u64],
    marks: &[u64],
    order: &[u32],
    tips: &[Tip],
    head: Option<Oid>,
    count: &mut [i32],
    ancestry: &mut Ancestry,
) -> Secret {
    let blob_ids: HashSet<Oid> = s
        .blobs
        .iter()
        .map(|&b| walk.blobs[b as usize].oid)
        .collect();
    let paths: BTreeSet<&str> = s
        .blobs
        .iter()
        .flat_map(|&b| walk.blobs[b as usize].paths.iter().map(String::as_str))
        .collect();
    let dangling = s
        .blobs
        .iter()
        .any(|&b| walk.blobs[b as usize].commits.is_empty());

    // Which commits hold the key: a commit's tree holds it at as many paths
    // as its first parent's, plus the paths where the comparison of the two
    // showed a blob of it, minus those where it took one out. Exact, and no
    // tree is read: the walk's comparisons already say all of it.
    let mut delta: HashMap<u32, i32> = HashMap::new();
    for &b in &s.blobs {
        let blob = &walk.blobs[b as usize];
        for &c in &blob.commits {
            *delta.entry(c).or_default() += 1;
        }
        for &c in &blob.removed_by {
            *delta.entry(c).or_default() -= 1;
        }
    }
    let mut holds = vec![false; walk.commits.len()];
    for &c in order {
        let c = c as usize;
        if marks[c] & bit == 0 {
            continue;
        }
        let commit = &walk.commits[c];
        // (`count` is shared by the keys: an unmarked parent's entry is
        // another key's, and it holds none of this one.)
        let before = commit
            .parents
            .first()
            .filter(|&&p| marks[p as usize] & bit != 0)
            .map_or(0, |&p| count[p as usize]);
        // A damaged tree can make the sum go below zero: no path holds it.
        count[c] = (before + delta.get(&(c as u32)).copied().unwrap_or(0)).max(0);
        holds[c] = count[c] > 0;
    }
    let held: Vec<u32> = (0..walk.commits.len() as u32)
        .filter(|&c| holds[c as usize])
        .collect();

    let mut refs = Vec::new();
    let mut branches = Vec::new();
    let mut in_head = false;
    for tip in tips.iter().filter(|t| marks[t.commit as usize] & bit != 0) {
        let at_tip = holds[tip.commit as usize];
        if tip.kind == RefKind::Head && at_tip {
            in_head = true;
        }
        refs.push(RefHit {
            name: tip.name.clone(),
            kind: tip.kind,
            tip: at_tip,
            repository: None,
        });
        if matches!(tip.kind, RefKind::Branch | RefKind::Remote) {
            let own_bit = |c: u32| own[c as usize] & bit != 0;
            if let Some(span) = branch_span(walk, tip, &held, &holds, own_bit, ancestry) {
                branches.push(span);
            }
        }
    }
    // A detached HEAD or one whose branch is not listed: the commit HEAD
    // names decides.
    if !in_head {
        if let Some(h) = head.and_then(|h| walk.commits.iter().position(|c| c.oid == h)) {
            in_head = holds[h];
        }
    }
    if dangling {
        refs.push(RefHit {
            name: "dangling blob".into(),
            kind: RefKind::Dangling,
            tip: true,
            repository: None,
        });
    }
    // Held only by commits no ref reaches (`--all-objects`).
    if refs.is_empty() && !held.is_empty() {
        refs.push(RefHit {
            name: "unreachable commit".into(),
            kind: RefKind::Dangling,
            tip: true,
            repository: None,
        });
    }
    let exposure = if in_head {
        Exposure::InHead
    } else if refs.iter().any(|r| r.kind.is_published()) {
        Exposure::InHistory
    } else {
        Exposure::Unreachable
    };

    let first = mine.first();
    // The introduction: the earliest of the commits that showed a blob of
    // it, by author date.
    let introduced = held
        .iter()
        .filter(|&&c| own[c as usize] & bit != 0)
        .filter_map(|&c| (walk.describe)(walk.commits[c as usize].oid))
        .min_by(|a, b| date_key(&a.date).cmp(&date_key(&b.date)));
    let mut fingerprints: Vec<String> = mine.iter().map(|f| f.fingerprint.clone()).collect();
    fingerprints.sort();
    fingerprints.dedup();
    let verdict = best_verdict(mine.iter().copied());
    let deleted_but_live =
        verdict == Some(Verdict::Live) && branches.iter().any(|b| b.removed_by.is_some());
    Secret {
        id: s.id.to_string(),
        rule_id: first.map(|f| f.rule_id.clone()).unwrap_or_default(),
        provider: first.map(|f| f.provider.clone()).unwrap_or_default(),
        secret: first.map(|f| f.redacted.clone()).unwrap_or_default(),
        exposure,
        introduced,
        repositories: Vec::new(),
        paths: paths.iter().map(|p| p.to_string()).collect(),
        findings: fingerprints,
        commits: held.len() as u64,
        blobs: blob_ids.len() as u64,
        refs,
        branches,
        verdict,
        deleted_but_live,
        base: None,
        lifecycle: Lifecycle::default(),
        blob_ids: {
            let mut b: Vec<Oid> = blob_ids.into_iter().collect();
            b.sort();
            b
        },
    }
}

/// A date as a sortable instant (RFC 3339 with offsets does not sort as
/// text); an unparsable date sorts last.
fn date_key(date: &str) -> (bool, i64) {
    match date.parse::<jiff::Timestamp>() {
        Ok(t) => (false, t.as_second()),
        Err(_) => (true, 0),
    }
}

/// Live beats dead beats unknown: one live sighting keeps the key live.
pub fn best_verdict<'a>(findings: impl Iterator<Item = &'a Finding>) -> Option<Verdict> {
    let rank = |v: Verdict| match v {
        Verdict::Live => 0,
        Verdict::Dead => 1,
        Verdict::Unknown => 2,
    };
    findings
        .filter_map(|f| f.verification.as_ref().map(|v| v.verdict))
        .min_by_key(|v| rank(*v))
}

/// The key's life on a branch: the oldest commit of the branch that holds
/// it, the newest, how many, and what removed it.
/// The commits a branch's tip reaches, as a bit set; worked out once per
/// tip and shared by every key (a walk of the ancestry per key and branch
/// would cost keys x branches x commits).
struct Ancestry(HashMap<u32, Vec<u64>>);

impl Ancestry {
    fn of(&mut self, walk: &Walk, tip: u32) -> &[u64] {
        self.0.entry(tip).or_insert_with(|| {
            let mut on = vec![0u64; walk.commits.len().div_ceil(64)];
            let mut stack = vec![tip];
            while let Some(c) = stack.pop() {
                let (w, b) = (c as usize / 64, 1u64 << (c % 64));
                if on[w] & b != 0 {
                    continue;
                }
                on[w] |= b;
                stack.extend(walk.commits[c as usize].parents.iter().copied());
            }
            on
        })
    }
}

fn branch_span(
    walk: &Walk,
    tip: &Tip,
    held: &[u32],
    holds: &[bool],
    introducing: impl Fn(u32) -> bool,
    ancestry: &mut Ancestry,
) -> Option<BranchSpan> {
    let on = ancestry.of(walk, tip.commit);
    let held: Vec<u32> = held
        .iter()
        .copied()
        .filter(|&c| on[c as usize / 64] & (1u64 << (c % 64)) != 0)
        .collect();
    if held.is_empty() {
        return None;
    }
    let describe = |c: u32| (walk.describe)(walk.commits[c as usize].oid);
    // The oldest holder's first parent did not hold it, so its tree
    // comparison showed the key's blob: only those are candidates.
    let first = held
        .iter()
        .copied()
        .filter(|&c| introducing(c))
        .filter_map(describe)
        .min_by(|a, b| date_key(&a.date).cmp(&date_key(&b.date)))?;
    // Down the first-parent line: the newest commit that holds it, and
    // the one after it that took it out.
    let mut removed_by = None;
    let mut last = None;
    let mut at = Some(tip.commit);
    let mut after: Option<u32> = None;
    let mut steps = 0usize;
    while let Some(c) = at {
        if holds[c as usize] {
            last = Some(c);
            removed_by = after;
            break;
        }
        after = Some(c);
        at = walk.commits[c as usize].parents.first().copied();
        steps += 1;
        if steps > walk.commits.len() {
            break;
        }
    }
    // Off the first-parent line (brought in by a merge and gone before
    // it): the newest holder by date, and no removing commit to name.
    let last = match last {
        Some(c) => describe(c)?,
        None => held
            .iter()
            .filter_map(|&c| describe(c))
            .max_by(|a, b| date_key(&a.date).cmp(&date_key(&b.date)))?,
    };
    Some(BranchSpan {
        name: tip.name.clone(),
        repository: None,
        first,
        last,
        commits: held.len() as u64,
        removed_by: removed_by.and_then(describe),
    })
}

/// Whether a key a range finds was already in the base's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseState {
    /// Only this range's commits hold it.
    New,
    /// A commit the base reaches already held it: not this range's leak,
    /// but still one to rotate.
    InBase,
}

/// The secrets of a range's findings (`--range BASE..HEAD`), each said to
/// be new in the range or already in the base's history, and in HEAD or
/// only in the range's history.
///
/// Looking a key up in the base's history reads every blob the base
/// reaches once (each tree and blob id once, however many commits hold
/// it), and stops when every key is found. It runs only when the range
/// has findings.
pub fn against_base(
    repo: &Repository,
    key: &Key,
    base: Oid,
    head: Oid,
    findings: &[Finding],
    max_blob: u64,
) -> Vec<Secret> {
    let mut groups: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        groups.entry(f.secret.clone()).or_default().push(f);
    }
    let raw: Vec<&str> = groups.keys().map(String::as_str).collect();
    let held = in_history(repo, base, &raw, max_blob);
    let head_tree = repo.find_commit(head).ok().map(|c| c.tree_id());
    let mut lookups = TreeLookups::new(repo);
    let mut secrets = Vec::new();
    for ((secret, mine), in_base) in groups.iter().zip(held) {
        let first = mine[0];
        let mut paths: Vec<String> = mine.iter().map(|f| f.path.clone()).collect();
        paths.sort();
        paths.dedup();
        // In HEAD when HEAD's file at one of its paths still holds it.
        let in_head = head_tree.is_some_and(|t| {
            paths.iter().any(|p| {
                lookups
                    .blob_at(t, p)
                    .and_then(|b| repo.find_blob(b).ok())
                    .is_some_and(|b| memchr::memmem::find(b.content(), secret.as_bytes()).is_some())
            })
        });
        let mut fingerprints: Vec<String> = mine.iter().map(|f| f.fingerprint.clone()).collect();
        fingerprints.sort();
        secrets.push(Secret {
            id: key.id(secret),
            rule_id: first.rule_id.clone(),
            provider: first.provider.clone(),
            secret: first.redacted.clone(),
            exposure: if in_head {
                Exposure::InHead
            } else {
                Exposure::InHistory
            },
            introduced: mine
                .iter()
                .filter_map(|f| f.commit.clone())
                .min_by(|a, b| date_key(&a.date).cmp(&date_key(&b.date))),
            repositories: Vec::new(),
            paths,
            findings: fingerprints,
            commits: 0,
            blobs: 0,
            refs: Vec::new(),
            branches: Vec::new(),
            verdict: best_verdict(mine.iter().copied()),
            deleted_but_live: false,
            base: Some(if in_base {
                BaseState::InBase
            } else {
                BaseState::New
            }),
            lifecycle: Lifecycle::default(),
            blob_ids: Vec::new(),
        });
    }
    sort(&mut secrets);
    secrets
}

/// For each of `secrets`, whether a blob reachable from `tip` holds it
/// (as written, byte for byte). Every tree and blob is read once; blobs
/// over `max_blob` bytes are not read.
fn in_history(repo: &Repository, tip: Oid, secrets: &[&str], max_blob: u64) -> Vec<bool> {
    let mut found = vec![false; secrets.len()];
    let Ok(mut walk) = repo.revwalk() else {
        return found;
    };
    if walk.push(tip).is_err() {
        return found;
    }
    let Ok(odb) = repo.odb() else {
        return found;
    };
    let finders: Vec<memchr::memmem::Finder> = secrets
        .iter()
        .map(|s| memchr::memmem::Finder::new(s.as_bytes()))
        .collect();
    let mut trees: HashSet<Oid> = HashSet::new();
    let mut blobs: HashSet<Oid> = HashSet::new();
    for commit in walk.flatten() {
        let Ok(c) = repo.find_commit(commit) else {
            continue;
        };
        let mut stack = vec![c.tree_id()];
        while let Some(t) = stack.pop() {
            if !trees.insert(t) {
                continue;
            }
            let Ok(tree) = repo.find_tree(t) else {
                continue;
            };
            for entry in tree.iter() {
                match entry.kind() {
                    Some(ObjectType::Tree) => stack.push(entry.id()),
                    Some(ObjectType::Blob) if blobs.insert(entry.id()) => {
                        match odb.read_header(entry.id()) {
                            Ok((size, _)) if size as u64 <= max_blob => {}
                            _ => continue,
                        }
                        let Ok(blob) = repo.find_blob(entry.id()) else {
                            continue;
                        };
                        for (k, finder) in finders.iter().enumerate() {
                            if !found[k] && finder.find(blob.content()).is_some() {
                                found[k] = true;
                            }
                        }
                        if found.iter().all(|f| *f) {
                            return found;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    found
}

/// Where a key can be read back from, to verify it again without storing
/// it: the blob, and the line, column (characters, 1-based) and length
/// of the key in it, as the finding gave them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The secret's id.
    pub secret: String,
    pub repository: String,
    /// The finding it was read from.
    pub fingerprint: String,
    pub blob: Oid,
    pub line: usize,
    pub column: usize,
    pub chars: usize,
}

impl Span {
    /// The span of a finding made in `blob`, when its key sits on one line
    /// as written (a decoded or multi-line key cannot be read back).
    pub fn of(key: &Key, repository: &str, f: &Finding, blob: Oid) -> Option<Span> {
        if f.encoding.is_some() || f.end_line != f.line || f.secret.contains('\n') {
            return None;
        }
        Some(Span {
            secret: key.id(&f.secret),
            repository: repository.to_string(),
            fingerprint: f.fingerprint.clone(),
            blob,
            line: f.line,
            column: f.column,
            chars: f.secret.chars().count(),
        })
    }

    /// Read the key back from `repo`, and check it against its id before
    /// anything may send it: a mirror that was tampered with, or a blob
    /// that is gone, gives the reason instead.
    pub fn read_back(&self, repo: &Repository, key: &Key) -> Result<String, String> {
        let blob = repo
            .find_blob(self.blob)
            .map_err(|e| format!("blob {} cannot be read: {}", self.blob, e.message()))?;
        let line = blob
            .content()
            .split(|&b| b == b'\n')
            .nth(self.line.saturating_sub(1))
            .ok_or_else(|| format!("blob {} has no line {}", self.blob, self.line))?;
        let text = String::from_utf8_lossy(line);
        let candidate: String = text
            .chars()
            .skip(self.column.saturating_sub(1))
            .take(self.chars)
            .collect();
        if key.matches(&self.secret, &candidate) {
            Ok(candidate)
        } else {
            Err(format!(
                "what blob {} holds at line {} no longer matches the secret's id",
                self.blob, self.line
            ))
        }
    }
}

/// The revocations an audit log (`revoke --audit-log`) records: each
/// finding's fingerprint whose key was revoked (`revoked`,
/// `already-revoked`), with its entry as `FILE:LINE`. A line that is not
/// an entry is an error naming the file and line.
pub fn revocations(path: &std::path::Path) -> crate::error::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|source| crate::error::Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            crate::error::Error::Usage(format!(
                "{}:{}: not an audit-log entry: {e}",
                path.display(),
                i + 1
            ))
        })?;
        let (Some(fingerprint), Some(outcome)) = (
            entry.get("fingerprint").and_then(|v| v.as_str()),
            entry.get("outcome").and_then(|v| v.as_str()),
        ) else {
            return Err(crate::error::Error::Usage(format!(
                "{}:{}: not an audit-log entry (no fingerprint or outcome)",
                path.display(),
                i + 1
            )));
        };
        if matches!(outcome, "revoked" | "already-revoked") {
            out.push((
                fingerprint.to_string(),
                format!("{}:{}", path.display(), i + 1),
            ));
        }
    }
    Ok(out)
}

/// Join the secrets of several repositories (an audit): one entry per id,
/// with every repository's refs, branches and paths, the worst exposure
/// and the earliest introduction.
pub fn merge(into: &mut Vec<Secret>, more: Vec<Secret>) {
    let mut at: BTreeMap<String, usize> = into
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    for s in more {
        let Some(&i) = at.get(&s.id) else {
            at.insert(s.id.clone(), into.len());
            into.push(s);
            continue;
        };
        let t = &mut into[i];
        t.exposure = t.exposure.min(s.exposure);
        let earlier = match (&t.introduced, &s.introduced) {
            (Some(a), Some(b)) => date_key(&b.date) < date_key(&a.date),
            (None, Some(_)) => true,
            _ => false,
        };
        if earlier {
            t.introduced = s.introduced;
        }
        for r in s.repositories {
            if !t.repositories.contains(&r) {
                t.repositories.push(r);
            }
        }
        for p in s.paths {
            if !t.paths.contains(&p) {
                t.paths.push(p);
            }
        }
        t.paths.sort();
        t.findings.extend(s.findings);
        t.findings.sort();
        t.findings.dedup();
        t.commits += s.commits;
        t.blobs += s.blobs;
        t.refs.extend(s.refs);
        t.branches.extend(s.branches);
        t.verdict = match (t.verdict, s.verdict) {
            (Some(Verdict::Live), _) | (_, Some(Verdict::Live)) => Some(Verdict::Live),
            (Some(Verdict::Dead), _) | (_, Some(Verdict::Dead)) => Some(Verdict::Dead),
            (a, b) => a.or(b),
        };
        t.deleted_but_live |= s.deleted_but_live;
        t.blob_ids.extend(s.blob_ids);
        t.blob_ids.sort();
        t.blob_ids.dedup();
    }
    sort(into);
}

/// Name the repository on a secret and everything in it (audits).
pub fn name_repository(s: &mut Secret, repository: &str) {
    s.repositories = vec![repository.to_string()];
    for r in &mut s.refs {
        r.repository = Some(repository.to_string());
    }
    for b in &mut s.branches {
        b.repository = Some(repository.to_string());
    }
    if let Some(c) = &mut s.introduced {
        c.repository = Some(repository.to_string());
    }
}

/// Bring the verdicts of verified findings onto their secrets (after
/// `--verify`), and say which live keys a branch deleted.
pub fn apply_verdicts(secrets: &mut [Secret], findings: &[Finding]) {
    let by_fingerprint: HashMap<&str, &Finding> = findings
        .iter()
        .map(|f| (f.fingerprint.as_str(), f))
        .collect();
    for s in secrets.iter_mut() {
        let mine = s
            .findings
            .iter()
            .filter_map(|fp| by_fingerprint.get(fp.as_str()).copied());
        if let Some(v) = best_verdict(mine) {
            s.verdict = Some(v);
        }
        s.deleted_but_live =
            s.verdict == Some(Verdict::Live) && s.branches.iter().any(|b| b.removed_by.is_some());
    }
    sort(secrets);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_keyed_and_stable_under_one_key() {
        let a = Key::random();
        let b = Key::random();
        assert_eq!(a.id("hunter22"), a.id("hunter22"));
        assert_ne!(a.id("hunter22"), b.id("hunter22"));
        assert_ne!(a.id("hunter22"), a.id("hunter23"));
        assert_eq!(a.id("x").len(), 32);
        // Not a plain hash of the key.
        assert!(!crate::finding::sha256_hex(b"hunter22").starts_with(&a.id("hunter22")));
        assert!(a.matches(&a.id("hunter22"), "hunter22"));
        assert!(!a.matches(&a.id("hunter22"), "hunter23"));
        let again = Key::from_bytes(a.as_bytes()).unwrap();
        assert_eq!(again.id("hunter22"), a.id("hunter22"));
        assert_eq!(format!("{a:?}"), "Key(…)");
    }

    #[test]
    fn topological_order_puts_parents_first() {
        let c = |parents: Vec<u32>| WalkCommit {
            oid: Oid::zero(),
            tree: Oid::zero(),
            parents,
        };
        let commits = vec![c(vec![2]), c(vec![]), c(vec![1]), c(vec![0, 2])];
        let order = topological(&commits);
        let pos = |i: u32| order.iter().position(|&x| x == i).unwrap();
        assert_eq!(order.len(), 4);
        assert!(pos(1) < pos(2) && pos(2) < pos(0) && pos(0) < pos(3));
    }

    #[test]
    fn a_key_is_read_back_only_when_it_matches_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let secret = format!("sk-{}", "x1y2".repeat(6));
        let blob = repo
            .blob(format!("first line\nKEY=\u{e9}{secret} # note\n").as_bytes())
            .unwrap();
        let key = Key::random();
        let mut span = Span {
            secret: key.id(&secret),
            repository: "r".into(),
            fingerprint: "f".into(),
            blob,
            line: 2,
            column: 6,
            chars: secret.chars().count(),
        };
        assert_eq!(span.read_back(&repo, &key).unwrap(), secret);
        // A tampered blob (here: the span moved) gives nothing to send.
        span.column = 7;
        let err = span.read_back(&repo, &key).unwrap_err();
        assert!(err.contains("no longer matches"), "{err}");
        assert!(!err.contains(&secret));
        span.blob = Oid::from_str("0123456789012345678901234567890123456789").unwrap();
        assert!(span.read_back(&repo, &key).is_err());
    }

    #[test]
    fn a_secret_closes_only_when_dead_and_unpublished() {
        let mut s = Secret {
            id: "i".into(),
            rule_id: "r".into(),
            provider: "p".into(),
            secret: "s…".into(),
            exposure: Exposure::InHistory,
            introduced: None,
            repositories: Vec::new(),
            paths: Vec::new(),
            findings: Vec::new(),
            commits: 1,
            blobs: 1,
            refs: vec![RefHit {
                name: "refs/tags/v1".into(),
                kind: RefKind::Tag,
                tip: true,
                repository: None,
            }],
            branches: Vec::new(),
            verdict: None,
            deleted_but_live: false,
            base: None,
            lifecycle: Lifecycle::default(),
            blob_ids: Vec::new(),
        };
        assert!(!may_close(&s, true), "a tag reaches it");
        s.refs[0].kind = RefKind::Reflog;
        assert!(may_close(&s, true), "revoked, only a reflog");
        assert!(!may_close(&s, false), "never verified");
        s.lifecycle.verdicts.push(VerdictAt {
            at: "t".into(),
            verdict: Verdict::Dead,
            detail: String::new(),
        });
        assert!(may_close(&s, false));
    }

    #[test]
    fn exposure_sorts_worst_first() {
        assert!(Exposure::InHead < Exposure::InHistory);
        assert!(Exposure::InHistory < Exposure::Unreachable);
        assert_eq!(
            serde_json::to_value(Exposure::InHead).unwrap(),
            serde_json::json!("in-head")
        );
    }
}
