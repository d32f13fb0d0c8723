//! The matcher: one Aho-Corasick pass over a buffer for every rule's
//! keywords, then each candidate rule's regex near its hits only, then the
//! filters (placeholders, entropy, context) and overlap resolution between
//! rules that claim the same secret.
//!
//! Cost grows with the input size and the number of keyword hits, not with
//! rules x input: a rule whose keywords do not occur never runs. The regex of
//! a rule sees `window` bytes around each hit (overlapping windows merged),
//! plus a bounded overrun so that a secret crossing the window's end is
//! still captured whole.
//!
//! `Matcher` is immutable and shared by all threads; the per-thread scratch
//! space is `Scratch`.

pub mod confidence;
pub(crate) mod decode;
pub(crate) mod evidence;
pub(crate) mod filters;
pub(crate) mod generic;
mod keywords;
mod plan;

/// The plan of the built-in rules, made by `build.rs` with `plan::plan`.
mod builtin_plan {
    use super::plan::*;
    use std::borrow::Cow;
    include!(concat!(env!("OUT_DIR"), "/builtin_plan.rs"));
}

/// Plan the keyword search of `rules` at run time.
fn plan_of(rules: &RuleSet) -> Plan {
    let keys: Vec<RuleKeys> = rules
        .rules()
        .iter()
        .map(|r| RuleKeys {
            keywords: r.spec.keywords.iter().map(|k| k.as_ref()).collect(),
            secrets: r.spec.examples.iter().map(|e| e.secret.as_ref()).collect(),
        })
        .collect();
    plan::plan(&keys)
}

/// The compiled-in plan, when `rules` are exactly the built-in rules in
/// their order (their specs the compiled-in ones, none disabled or added).
fn builtin_plan(rules: &RuleSet) -> Option<&'static Plan> {
    crate::rules::is_builtin_set(rules).then_some(&builtin_plan::BUILTIN_PLAN)
}

use std::sync::OnceLock;

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use crate::rules::{Rule, RuleSet};
use keywords::KeywordSearch;
use plan::{case_mask, Plan, RuleKeys, FRAGMENT_PREFIX};

pub use evidence::{Evidence, Nearness};

/// How far past the end of a window a match that started inside it may run.
const OVERRUN: usize = 4096;

/// How far past a window a rule's regex may read: `OVERRUN`, or less when
/// the regex's matches have a bound. A match that starts in the window ends
/// within `max_len` bytes of its last byte, and one byte more keeps the end
/// of the text read from passing for the end of the buffer (`$`, `\b`)
/// where a match could reach it. Without a bound, a search that finds
/// nothing in a window reads all of `OVERRUN` after it.
fn overrun(rule: &crate::rules::Rule) -> usize {
    rule.max_len()
        .map_or(OVERRUN, |n| n.saturating_add(1).min(OVERRUN))
}
/// Keyword hits gathered before their windows are merged and run: memory
/// per buffer stays bounded however dense the hits (a 100 MB file of
/// keywords would otherwise hold a few hundred MB of hits).
const HIT_CHUNK: usize = 64 * 1024;
/// The longest merged window a rule's regex is run over at once; a longer
/// one is run in pieces, each starting where the previous one's last match
/// ended (this bounds the percent decoder's buffers).
const MAX_WINDOW: usize = 1 << 20;
/// How deep encoded content is unwrapped (`.dockerconfigjson` holds base64
/// inside base64).
const MAX_DECODE_DEPTH: u8 = 2;
/// How far around a secret `context.lines` looks at most, in bytes, so that a
/// single-line file cannot make a context check scan the whole file per hit.
const MAX_CONTEXT_SPAN: usize = 64 * 1024;

/// How a secret was found when it was not plain text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    Base64,
    Percent,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Base64 => "base64",
            Encoding::Percent => "percent",
        }
    }
}

/// One secret found in a buffer. `Debug` shows the secret redacted.
#[derive(Clone)]
pub struct Match {
    /// Index into the rule set.
    pub rule: usize,
    /// Where it is in the buffer scanned. For an encoded secret, this is the
    /// span of the encoded text.
    pub start: usize,
    pub end: usize,
    /// The secret itself (decoded when it was encoded).
    pub secret: Vec<u8>,
    /// Length of the rule's literal prefix at the start of the secret.
    pub prefix_len: usize,
    pub encoding: Option<Encoding>,
    /// True when the rule names alternatives and no evidence chose between them.
    pub ambiguous: bool,
    /// Other providers whose rules matched the same secret.
    pub alternatives: Vec<String>,
    /// The secret is a published example value (`rules/known-examples.toml`):
    /// the scan counts it and does not report it.
    pub known_example: bool,
    /// The provider was chosen by nearby words alone (a `context` rule for
    /// keys with no shape of their own): weak evidence, so a `dead` answer
    /// from that provider says nothing about the key (`verify`).
    pub by_context: bool,
    /// The nearest mention of the rule's provider (its `context`), when the
    /// rule has one and it was found.
    pub evidence: Option<Evidence>,
    /// The secret has another provider's distinctive prefix but came from a
    /// rule for shapeless keys: never attributed by that rule.
    foreign_shape: bool,
}

impl std::fmt::Debug for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = String::from_utf8_lossy(&self.secret);
        f.debug_struct("Match")
            .field("rule", &self.rule)
            .field("start", &self.start)
            .field("end", &self.end)
            .field("secret", &crate::finding::redact(&secret, self.prefix_len))
            .field("encoding", &self.encoding)
            .field("ambiguous", &self.ambiguous)
            .field("alternatives", &self.alternatives)
            .field("known_example", &self.known_example)
            .field("by_context", &self.by_context)
            .field("evidence", &self.evidence)
            .finish()
    }
}

/// Shortest base64 run `--decode-all` decodes without a fragment in it.
const MIN_DECODE_ALL_RUN: usize = 20;

/// How the matcher decodes base64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Base64Mode {
    /// Decode the base64 runs that carry an encoded keyword (found by the
    /// keyword search, which holds every keyword's base64 forms), and the
    /// values after trigger words (`.dockerconfigjson`, `Authorization:
    /// Basic`), which may hold base64 inside base64.
    #[default]
    Keywords,
    /// All of the above, and every base64 run of at least
    /// `MIN_DECODE_ALL_RUN` characters: finds keys whose keyword sits at an
    /// alignment too short for a fragment (`ghp_` after three bytes).
    /// Slower on files full of base64.
    Everywhere,
}

/// The compiled matcher for a rule set. Built for every scan, a pre-commit
/// hook's included, so it is built cheaply: the plan of its keyword search
/// is compiled in for the built-in rules (`plan`), and what only some
/// buffers need (the rules of a keyword and of the shorter keywords inside
/// it, the keywords inside a fragment) is worked out the first time a
/// buffer needs it.
pub struct Matcher {
    rules: RuleSet,
    /// The patterns (keywords, trigger words, base64 fragments) and what
    /// each stands for, their prefix table, the key shapes.
    plan: Cow<'static, Plan>,
    search: KeywordSearch,
    /// For each distinct keyword, the rules that hit on it: its own and
    /// those of the shorter keywords it contains (the search reports only
    /// the longest keyword at a position).
    keyword_rules: Vec<OnceLock<Vec<usize>>>,
    /// For each pattern that is no keyword, the keywords that start inside
    /// its text (case-insensitively), with their offset: a fragment hit
    /// hides the keyword hits it overlaps, so they are checked where it
    /// matched. Worked out on the pattern's first hit (rare in text).
    inner_keywords: Vec<OnceLock<Vec<(u32, u32)>>>,
    /// Each keyword's first bytes, of every length up to `FRAGMENT_PREFIX`:
    /// the keywords that start so (for `inner_keywords`).
    keyword_prefixes: OnceLock<FxHashMap<Vec<u8>, Vec<u32>>>,
    mode: Base64Mode,
}

/// Per-thread scratch space, reused across buffers.
#[derive(Default)]
pub struct Scratch {
    hits: Vec<(usize, usize, usize)>,
    /// Keyword hits right after an escape sequence (`\t`, `%3D`, `\u0022`):
    /// (rule, offset), run again with the escape's end as a boundary.
    escaped: Vec<(usize, usize)>,
    /// Per rule, its merged window not yet run, and where its regex may
    /// start again (the end of its last match).
    open: Vec<(Option<(usize, usize)>, usize)>,
    b64_hits: Vec<usize>,
    decoded: Vec<u8>,
    map: Vec<usize>,
    /// Per rule, whether its file-wide context (`lines = 0`) is present in
    /// the current buffer: computed at most once per buffer.
    context: Vec<Option<bool>>,
}

/// Keywords that start inside `text` (case-insensitively) and either end
/// inside it or run past its end: `(offset, keyword)`. `prefixes` maps each
/// keyword's first bytes, of every length up to `FRAGMENT_PREFIX`, to the
/// keywords that start so.
fn keywords_inside(
    text: &[u8],
    plan: &Plan,
    prefixes: &FxHashMap<Vec<u8>, Vec<u32>>,
) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for off in 0..text.len() {
        let rest = &text[off..];
        for len in 1..=rest.len() {
            for &k in prefixes.get(&rest[..len]).into_iter().flatten() {
                // Ends inside the text, or runs past its end.
                let kw = plan.texts[plan.keywords[k as usize] as usize].len();
                if kw == len || (len == rest.len() && kw > len) {
                    out.push((off as u32, k));
                }
            }
        }
    }
    out
}

impl Matcher {
    pub fn new(rules: RuleSet) -> Matcher {
        Matcher::with_base64(rules, Base64Mode::default())
    }

    pub fn with_base64(rules: RuleSet, mode: Base64Mode) -> Matcher {
        let plan = match builtin_plan(&rules) {
            Some(plan) => Cow::Borrowed(plan),
            None => Cow::Owned(plan_of(&rules)),
        };
        Matcher {
            keyword_rules: (0..plan.keywords.len()).map(|_| OnceLock::new()).collect(),
            inner_keywords: (0..plan.texts.len()).map(|_| OnceLock::new()).collect(),
            keyword_prefixes: OnceLock::new(),
            search: KeywordSearch,
            plan,
            rules,
            mode,
        }
    }

    /// Keyword `k`'s text (lowercased).
    fn keyword_text(&self, k: usize) -> &[u8] {
        &self.plan.texts[self.plan.keywords[k] as usize]
    }

    /// The rules that hit on keyword `k`: its own and those of every
    /// keyword inside it.
    fn rules_of_keyword(&self, k: usize) -> &[usize] {
        self.keyword_rules[k].get_or_init(|| {
            let plan = self.plan.as_ref();
            let kw = self.keyword_text(k);
            let mut ids: Vec<usize> = Vec::new();
            for at in 0..kw.len() {
                for p in keywords::matches_at(plan, kw, at) {
                    let j = plan.keyword[p];
                    if j != plan::NO_KEYWORD {
                        let j = j as usize;
                        let own = plan.own_starts[j] as usize..plan.own_starts[j + 1] as usize;
                        ids.extend(plan.own_rules[own].iter().map(|&r| r as usize));
                    }
                }
            }
            ids.sort_unstable();
            ids.dedup();
            ids
        })
    }

    /// The keywords inside pattern `p`'s text (see `Matcher::inner_keywords`).
    fn inner_keywords(&self, p: usize) -> &[(u32, u32)] {
        self.inner_keywords[p].get_or_init(|| {
            let prefixes = self.keyword_prefixes.get_or_init(|| {
                let mut prefixes: FxHashMap<Vec<u8>, Vec<u32>> = FxHashMap::default();
                for k in 0..self.plan.keywords.len() {
                    let kw = self.keyword_text(k);
                    for len in 1..=kw.len().min(FRAGMENT_PREFIX) {
                        prefixes
                            .entry(kw[..len].to_vec())
                            .or_default()
                            .push(k as u32);
                    }
                }
                prefixes
            });
            keywords_inside(&self.plan.texts[p], &self.plan, prefixes)
        })
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Find every secret in `buf`.
    pub fn find(&self, buf: &[u8], scratch: &mut Scratch) -> Vec<Match> {
        self.find_resolved(buf, &[], 0, scratch)
    }

    fn find_resolved(
        &self,
        buf: &[u8],
        parents: &[&[u8]],
        depth: u8,
        scratch: &mut Scratch,
    ) -> Vec<Match> {
        let mut out = Vec::new();
        self.find_at_depth(buf, parents, depth, scratch, &mut out);
        resolve_overlaps(self.rules.rules(), &mut out);
        out
    }

    /// Record a hit of keyword `k` at `start..end`.
    #[allow(clippy::too_many_arguments)]
    fn keyword_hit(
        &self,
        k: usize,
        start: usize,
        end: usize,
        buf: &[u8],
        parents: &[&[u8]],
        scratch: &mut Scratch,
        out: &mut Vec<Match>,
    ) {
        for &r in self.rules_of_keyword(k) {
            scratch.hits.push((r, start, end));
        }
        if scratch.hits.len() >= HIT_CHUNK {
            self.merge_hits(buf, parents, scratch, out);
        }
    }

    fn find_at_depth(
        &self,
        buf: &[u8],
        parents: &[&[u8]],
        depth: u8,
        scratch: &mut Scratch,
        out: &mut Vec<Match>,
    ) {
        let rules = self.rules.rules();
        scratch.hits.clear();
        scratch.escaped.clear();
        scratch.b64_hits.clear();
        scratch.context.clear();
        scratch.context.resize(rules.len(), None);
        scratch.open.clear();
        scratch.open.resize(rules.len(), (None, 0));
        let decode = depth < MAX_DECODE_DEPTH;
        let plan = self.plan.as_ref();
        self.search.for_each(plan, buf, |p, start, end| {
            let k = plan.keyword[p];
            if k != plan::NO_KEYWORD {
                self.keyword_hit(k as usize, start, end, buf, parents, scratch, out);
            } else {
                // A fragment or trigger hit hides the keywords it overlaps.
                for &(off, k) in self.inner_keywords(p) {
                    let kw = self.keyword_text(k as usize);
                    let s = start + off as usize;
                    let e = s + kw.len();
                    if e <= buf.len() && buf[s..e].eq_ignore_ascii_case(kw) {
                        self.keyword_hit(k as usize, s, e, buf, parents, scratch, out);
                    }
                }
            }
            if !decode {
                return;
            }
            if plan.trigger[p] {
                if let Some(start) = decode::value_after(buf, end) {
                    scratch.b64_hits.push(start);
                }
            }
            let cases = plan.fragment_cases[p];
            if cases != 0
                && end - start <= FRAGMENT_PREFIX
                && cases & (1 << case_mask(&buf[start..end])) != 0
            {
                scratch.b64_hits.push(start);
            }
        });
        self.merge_hits(buf, parents, scratch, out);
        for rule_idx in 0..rules.len() {
            if let Some((ws, we)) = scratch.open[rule_idx].0.take() {
                let from = ws.max(scratch.open[rule_idx].1);
                scratch.open[rule_idx].1 =
                    self.run_rule(rule_idx, buf, from, we, parents, scratch, out);
            }
        }
        let escaped = std::mem::take(&mut scratch.escaped);
        for &(rule_idx, at) in &escaped {
            self.run_after_escape(rule_idx, buf, at, parents, scratch, out);
        }
        scratch.escaped = escaped;

        // Base64 runs around fragment and trigger hits (and with
        // `--decode-all` every long run): decode once per run, scan inside.
        if !decode {
            return;
        }
        let mut gathered = std::mem::take(&mut scratch.b64_hits);
        if self.mode == Base64Mode::Everywhere {
            decode::long_base64_runs(buf, MIN_DECODE_ALL_RUN, &mut gathered);
        }
        gathered.sort_unstable();
        gathered.dedup();
        let mut done_until = 0;
        let mut chain: Vec<&[u8]> = parents.to_vec();
        chain.push(buf);
        for &pos in &gathered {
            if pos < done_until {
                continue;
            }
            let (rs, re) = decode::base64_run(buf, pos);
            done_until = re;
            let Some(decoded) = decode::decode_base64(&buf[rs..re]) else {
                continue;
            };
            let mut inner_scratch = Scratch::default();
            let inner = self.find_resolved(&decoded, &chain, depth + 1, &mut inner_scratch);
            for mut m in inner {
                m.start = rs;
                m.end = re;
                m.encoding = Some(Encoding::Base64);
                // Evidence inside the decoded text sits, in this buffer, at the run.
                if let Some(e) = m.evidence.as_mut().filter(|e| e.offset.is_some()) {
                    e.offset = Some(rs);
                }
                out.push(m);
            }
        }
        gathered.clear();
        scratch.b64_hits = gathered;
    }

    /// Run a rule's regex from `at`, a keyword hit right after an escape
    /// sequence, as if the escape's end were the start of the text: its
    /// `\b` holds there, which it does not in the buffer (`\tsk-…` has a
    /// word character before the key). Only a match starting at `at` is
    /// taken; any other is the plain pass's.
    fn run_after_escape(
        &self,
        rule_idx: usize,
        buf: &[u8],
        at: usize,
        parents: &[&[u8]],
        scratch: &mut Scratch,
        out: &mut Vec<Match>,
    ) {
        let rule = &self.rules.rules()[rule_idx];
        let end = (at + rule.window + overrun(rule)).min(buf.len());
        let Some(caps) = rule.regex().captures(&buf[at..end]) else {
            return;
        };
        if caps.get(0).map_or(true, |w| w.start() != 0) {
            return;
        }
        let Some(secret) = caps.get(rule.secret_group()).filter(|c| !c.is_empty()) else {
            return;
        };
        let (s, e) = (at + secret.start(), at + secret.end());
        let mut field = false;
        if rule.spec.generic {
            match generic_accepts(
                buf,
                caps.name("key").map(|k| (at + k.start(), at + k.end())),
                s,
                e,
            ) {
                Some(f) => field = f,
                None => return,
            }
        }
        if let Some(m) = self.accept(
            rule_idx,
            &buf[s..e],
            buf,
            s,
            parents,
            &mut scratch.context,
            field,
        ) {
            out.push(m);
        }
    }

    /// Merge the keyword hits gathered so far into each rule's open window
    /// (hits arrive in buffer order, chunk after chunk), running a window's
    /// regex once the next hit no longer overlaps it.
    fn merge_hits(
        &self,
        buf: &[u8],
        parents: &[&[u8]],
        scratch: &mut Scratch,
        out: &mut Vec<Match>,
    ) {
        let rules = self.rules.rules();
        let mut hits = std::mem::take(&mut scratch.hits);
        hits.sort_unstable();
        for &(rule_idx, s, e) in &hits {
            if decode::escape_ends_at(buf, s) {
                scratch.escaped.push((rule_idx, s));
            }
            let window = rules[rule_idx].window;
            let (ws, we) = (s.saturating_sub(window), (e + window).min(buf.len()));
            let (open, resume) = scratch.open[rule_idx];
            match open {
                Some((ows, owe)) if ws <= owe && owe.max(we) - ows <= MAX_WINDOW => {
                    scratch.open[rule_idx].0 = Some((ows, owe.max(we)));
                }
                Some((ows, owe)) => {
                    let resume =
                        self.run_rule(rule_idx, buf, ows.max(resume), owe, parents, scratch, out);
                    scratch.open[rule_idx] = (Some((ws, we)), resume);
                }
                None => scratch.open[rule_idx].0 = Some((ws, we)),
            }
        }
        hits.clear();
        scratch.hits = hits;
    }

    /// Run a rule's regex over the window `ws..we` of `buf`; returns where
    /// the next window's search may start (past the last match).
    #[allow(clippy::too_many_arguments)]
    fn run_rule(
        &self,
        rule_idx: usize,
        buf: &[u8],
        ws: usize,
        we: usize,
        parents: &[&[u8]],
        scratch: &mut Scratch,
        out: &mut Vec<Match>,
    ) -> usize {
        let rule = &self.rules.rules()[rule_idx];
        let haystack = &buf[..(we + overrun(rule)).min(buf.len())];
        if ws >= we {
            return ws;
        }
        let mut pos = ws;
        while pos < we {
            let Some(caps) = rule.regex().captures_at(haystack, pos) else {
                break;
            };
            let whole = caps.get(0).expect("group 0 always participates");
            if whole.start() >= we {
                break;
            }
            pos = if whole.end() > whole.start() {
                whole.end()
            } else {
                whole.start() + 1
            };
            let Some(secret) = caps.get(rule.secret_group()) else {
                continue;
            };
            let bytes = &buf[secret.start()..secret.end()];
            let mut field = false;
            if rule.spec.generic {
                match generic_accepts(
                    buf,
                    caps.name("key").map(|k| (k.start(), k.end())),
                    secret.start(),
                    secret.end(),
                ) {
                    Some(f) => field = f,
                    None => continue,
                }
            }
            if let Some(m) = self.accept(
                rule_idx,
                bytes,
                buf,
                secret.start(),
                parents,
                &mut scratch.context,
                field,
            ) {
                out.push(m);
            }
        }

        // Percent-encoded text: decode the window and look again. Not for
        // generic rules: their filter judges the text as written, and a
        // value full of `%` escapes is judged a template there.
        let window = &buf[ws..we];
        if !rule.spec.generic && decode::has_percent_escape(window) {
            let mut decoded = std::mem::take(&mut scratch.decoded);
            let mut map = std::mem::take(&mut scratch.map);
            decode::percent_decode_mapped(window, &mut decoded, &mut map);
            for caps in rule.regex().captures_iter(&decoded) {
                // An empty capture (a user rule such as `([a-z]*)`) has no
                // location to map back, and is no secret.
                let Some(secret) = caps.get(rule.secret_group()).filter(|c| !c.is_empty()) else {
                    continue;
                };
                let encoded_start = ws + map[secret.start()];
                let encoded_end = ws + end_in_window(window, &map, secret.end());
                let whole = caps.get(0).expect("group 0 always participates");
                // Nothing in the match was encoded, and the byte before it
                // was not either (`%3Dsk-…` decodes to a boundary the plain
                // text lacks): the plain pass saw the same text and has it.
                let plain_before =
                    whole.start() == 0 || map[whole.start() - 1] + 1 == map[whole.start()];
                if plain_before
                    && end_in_window(window, &map, whole.end()) - map[whole.start()] == whole.len()
                {
                    continue;
                }
                let bytes = &decoded[secret.start()..secret.end()];
                if let Some(mut m) = self.accept(
                    rule_idx,
                    bytes,
                    buf,
                    encoded_start,
                    parents,
                    &mut scratch.context,
                    false,
                ) {
                    m.end = encoded_end;
                    if encoded_end - encoded_start != secret.len() {
                        m.encoding = Some(Encoding::Percent);
                    }
                    out.push(m);
                }
            }
            scratch.decoded = decoded;
            scratch.map = map;
        }
        pos
    }

    /// Apply the filters to a candidate `secret` found at `at` in `buf`.
    /// `password_field`: the generic rule found it as a password field's
    /// value, which may read like words (`correct-horse-battery-staple`).
    #[allow(clippy::too_many_arguments)]
    fn accept(
        &self,
        rule_idx: usize,
        secret: &[u8],
        buf: &[u8],
        at: usize,
        parents: &[&[u8]],
        context_cache: &mut [Option<bool>],
        password_field: bool,
    ) -> Option<Match> {
        let rule = &self.rules.rules()[rule_idx];
        let prefix_len = literal_prefix_len(rule, secret);
        if crate::rules::known::is_known_example(secret) {
            // Kept through overlap resolution so that one published example
            // is counted once, whichever rules matched it.
            return Some(Match {
                rule: rule_idx,
                start: at,
                end: at + secret.len(),
                secret: secret.to_vec(),
                prefix_len,
                encoding: None,
                ambiguous: false,
                alternatives: Vec::new(),
                known_example: true,
                by_context: false,
                evidence: None,
                foreign_shape: false,
            });
        }
        if filters::is_placeholder(secret, prefix_len)
            || (!password_field && filters::is_identifier(&secret[prefix_len.min(secret.len())..]))
            || (prefix_len == 0 && filters::is_password_placeholder(secret))
        {
            return None;
        }
        if let Some(min) = rule.spec.min_entropy {
            if filters::shannon_entropy(secret) < min {
                return None;
            }
        }
        let mut attributed = false;
        let mut evidence = None;
        if let Some(ctx) = rule.context() {
            let found = if ctx.lines == 0 {
                *context_cache[rule_idx]
                    .get_or_insert_with(|| context_present(ctx, buf, at, parents))
            } else {
                context_present(ctx, buf, at, parents)
            };
            if found {
                let region = if ctx.lines == 0 {
                    (0, buf.len())
                } else {
                    lines_around(buf, at, ctx.lines)
                };
                evidence = evidence::nearest(ctx, buf, at, secret.len(), region, parents)
                    .filter(|e| !ctx.block || e.nearness >= Nearness::Block);
            }
            let found = found && (!ctx.block || evidence.is_some());
            if ctx.required && !found {
                return None;
            }
            attributed = found;
        }
        // A rule for keys with no shape of their own (Kindo's opaque keys,
        // found by a variable name or a nearby word) never claims a key that
        // has another provider's shape: at most the key is ambiguous, and
        // the rule that knows the shape wins the overlap.
        let foreign_shape = prefix_len == 0
            && self
                .plan
                .shapes
                .iter()
                .any(|p| secret.starts_with(p.as_bytes()));
        Some(Match {
            rule: rule_idx,
            start: at,
            end: at + secret.len(),
            secret: secret.to_vec(),
            prefix_len,
            encoding: None,
            ambiguous: foreign_shape || (!rule.spec.alternatives.is_empty() && !attributed),
            alternatives: Vec::new(),
            known_example: false,
            by_context: attributed && prefix_len == 0 && !foreign_shape,
            evidence,
            foreign_shape,
        })
    }
}

/// The generic filter on a candidate at `s..e` in `buf` whose key (if the
/// rule captured one) is at `key`: `None` to drop it, else whether it was
/// taken as a password field's value (not judged for randomness).
fn generic_accepts(buf: &[u8], key: Option<(usize, usize)>, s: usize, e: usize) -> Option<bool> {
    let before = key.map_or(&buf[..0], |(ks, _)| &buf[ks.saturating_sub(256)..ks]);
    let quoted = s > 0 && matches!(buf[s - 1], b'"' | b'\'' | b'`');
    let key = key.map(|(ks, ke)| &buf[ks..ke]);
    let value = &buf[s..e];
    generic::is_generic_secret(before, key, value, quoted)
        .then(|| !generic::looks_random(value) && key.is_some_and(generic::is_password_key))
}

/// Where, in the encoded window, the decoded text up to `end` (exclusive)
/// ends: past the whole `%XX` triple that produced its last byte.
fn end_in_window(window: &[u8], map: &[usize], end: usize) -> usize {
    if end == 0 {
        return 0;
    }
    let last = map[end - 1];
    if window[last] == b'%' {
        last + 3
    } else {
        last + 1
    }
}

/// The longest of the rule's keywords that starts the secret.
fn literal_prefix_len(rule: &Rule, secret: &[u8]) -> usize {
    rule.spec
        .keywords
        .iter()
        .map(|k| k.as_bytes())
        .filter(|k| secret.len() >= k.len() && secret[..k.len()].eq_ignore_ascii_case(k))
        .map(|k| k.len())
        .max()
        .unwrap_or(0)
}

/// Is there evidence for the rule's provider near `at` in `buf`, or anywhere
/// in the buffers this one was decoded from?
fn context_present(ctx: &crate::rules::Context, buf: &[u8], at: usize, parents: &[&[u8]]) -> bool {
    let region = if ctx.lines == 0 {
        buf
    } else {
        let (s, e) = lines_around(buf, at, ctx.lines);
        &buf[s..e]
    };
    let mut regexes = ctx.regexes.iter().chain(&ctx.weak);
    if regexes.any(|r| r.is_match(region)) {
        return true;
    }
    parents
        .iter()
        .any(|p| ctx.regexes.iter().chain(&ctx.weak).any(|r| r.is_match(p)))
}

/// The byte span of the `n` lines before and after the line holding `at`,
/// bounded by `MAX_CONTEXT_SPAN` on each side.
fn lines_around(buf: &[u8], at: usize, n: usize) -> (usize, usize) {
    let floor = at.saturating_sub(MAX_CONTEXT_SPAN);
    let mut start = at;
    for _ in 0..=n {
        match memchr::memrchr(b'\n', &buf[floor..start]) {
            Some(i) => start = floor + i,
            None => {
                start = floor;
                break;
            }
        }
    }
    let ceil = (at + MAX_CONTEXT_SPAN).min(buf.len());
    let mut end = at;
    for _ in 0..=n {
        match memchr::memchr(b'\n', &buf[end..ceil]) {
            Some(i) => end = end + i + 1,
            None => {
                end = ceil;
                break;
            }
        }
    }
    (start, end)
}

/// Where several rules claim overlapping secrets, keep the highest priority
/// (then the longer secret, then the earlier rule) and record the others'
/// providers as alternatives.
///
/// Secrets found inside one base64 run all carry the run's span, and were
/// already resolved against each other when the run was scanned: among them
/// only exact duplicates (the same secret found twice) collapse.
fn resolve_overlaps(rules: &[Rule], matches: &mut Vec<Match>) {
    let (mut encoded, plain): (Vec<Match>, Vec<Match>) = matches
        .drain(..)
        .partition(|m| m.encoding == Some(Encoding::Base64));
    let mut plain = plain;
    plain.sort_by_key(|m| (m.start, m.end));
    let mut group: Vec<Match> = Vec::new();
    let mut group_end = 0;
    for m in plain {
        if !group.is_empty() && m.start >= group_end {
            matches.push(pick(rules, std::mem::take(&mut group)));
        }
        group_end = if group.is_empty() {
            m.end
        } else {
            group_end.max(m.end)
        };
        group.push(m);
    }
    if !group.is_empty() {
        matches.push(pick(rules, group));
    }
    encoded.sort_by(|a, b| {
        (a.start, a.end, &a.secret)
            .cmp(&(b.start, b.end, &b.secret))
            .then(rules[b.rule].priority.cmp(&rules[a.rule].priority))
    });
    encoded.dedup_by(|later, first| {
        (later.start, later.end, &later.secret) == (first.start, first.end, &first.secret)
    });
    matches.extend(encoded);
    drop_containers(rules, matches);
    matches.sort_by_key(|m| (m.start, m.end));
}

/// A secret that is itself a base64 wrapper (a Docker `auth` value, a whole
/// `.dockerconfigjson`) is not reported beside the key found inside it: the
/// decoded key is the leak, named by its own rule, and three findings for
/// one key would be noise. Only matches that overlap a decoded one are
/// looked at, so this costs nothing on ordinary files.
///
/// A generic match inside (a password in a decoded Docker config) does not
/// replace the container a specific rule reported: the specific finding is
/// kept and the generic one dropped.
fn drop_containers(rules: &[Rule], matches: &mut Vec<Match>) {
    let is_generic = |m: &Match| rules[m.rule].spec.generic;
    // A specific rule's secret that is nothing but a key base64-encoded
    // (a kubeconfig's `client-key-data`), or that its own provider's rule
    // finds again inside (a whole Docker config, its `auth` entry), is kept,
    // and what was found inside it is not reported again: the container's
    // rule knows where it sits.
    let bare: Vec<(usize, usize)> = matches
        .iter()
        .filter(|m| m.encoding != Some(Encoding::Base64) && !is_generic(m))
        .filter(|c| {
            matches.iter().any(|m| {
                m.encoding == Some(Encoding::Base64)
                    && c.start <= m.start
                    && m.end <= c.end
                    && (rules[m.rule].provider() == rules[c.rule].provider()
                        || is_encoding_of(&c.secret, &m.secret))
            })
        })
        .map(|c| (c.start, c.end))
        .collect();
    if !bare.is_empty() {
        matches.retain(|m| {
            m.encoding != Some(Encoding::Base64)
                || !bare.iter().any(|&(s, e)| s <= m.start && m.end <= e)
        });
    }
    let decoded: Vec<(usize, usize, Vec<u8>)> = matches
        .iter()
        .filter(|m| m.encoding == Some(Encoding::Base64) && !is_generic(m))
        .map(|m| (m.start, m.end, m.secret.clone()))
        .collect();
    if !decoded.is_empty() {
        matches.retain(|m| {
            !decoded.iter().any(|(start, end, inner)| {
                m.start <= *start && *end <= m.end && m.secret != *inner && wraps(&m.secret, inner)
            })
        });
    }
    if !matches
        .iter()
        .any(|m| m.encoding == Some(Encoding::Base64) && is_generic(m))
    {
        return;
    }
    let specific: Vec<(usize, usize)> = matches
        .iter()
        .filter(|m| m.encoding != Some(Encoding::Base64) && !is_generic(m))
        .map(|m| (m.start, m.end))
        .collect();
    matches.retain(|m| {
        !(m.encoding == Some(Encoding::Base64)
            && is_generic(m)
            && specific.iter().any(|&(s, e)| s <= m.start && m.end <= e))
    });
}

/// Is `outer` the base64 encoding of `inner` and nothing else (but
/// surrounding white space)?
fn is_encoding_of(outer: &[u8], inner: &[u8]) -> bool {
    decode::decode_base64(outer).is_some_and(|d| d.trim_ascii() == inner)
}

/// Does `outer`, base64-decoded once or twice, contain `inner`?
fn wraps(outer: &[u8], inner: &[u8]) -> bool {
    let Some(once) = decode::decode_base64(outer) else {
        return false;
    };
    if filters::contains(&once, inner) {
        return true;
    }
    let mut pos = 0;
    while pos < once.len() {
        if !once[pos].is_ascii_alphanumeric() {
            pos += 1;
            continue;
        }
        let (start, end) = decode::base64_run(&once, pos);
        if end - start >= 16 {
            if let Some(twice) = decode::decode_base64(&once[start..end]) {
                if filters::contains(&twice, inner) {
                    return true;
                }
            }
        }
        pos = end.max(pos + 1);
    }
    false
}

fn pick(rules: &[Rule], mut group: Vec<Match>) -> Match {
    let order = |ma: &Match, mb: &Match| {
        // A key's own shape beats any rule for shapeless keys.
        mb.foreign_shape
            .cmp(&ma.foreign_shape)
            .then(rules[ma.rule].priority.cmp(&rules[mb.rule].priority))
            .then(ma.secret.len().cmp(&mb.secret.len()))
            .then(mb.rule.cmp(&ma.rule))
    };
    let mut best = (0..group.len())
        .max_by(|&a, &b| order(&group[a], &group[b]))
        .expect("groups are never empty");
    // The highest-priority rule won by its provider's evidence: when another
    // rule for the same text sees its own provider nearer to the key, that
    // one wins (Stripe named on the key's line beats Konnect named in the
    // file). A rule that needs no evidence (a definitive shape: Stripe's
    // account-prefixed keys) keeps its win, and a rule for shapeless keys
    // never takes a key with a shape.
    if let Some(rank) = group[best].evidence.as_ref().map(Evidence::rank) {
        let same_text = |m: &Match| m.start == group[best].start && m.end == group[best].end;
        if let Some(nearer) = (0..group.len())
            .filter(|&i| !group[i].foreign_shape && same_text(&group[i]))
            .filter(|&i| group[i].evidence.as_ref().is_some_and(|e| e.rank() > rank))
            .max_by(|&a, &b| {
                let rank = |i: usize| group[i].evidence.as_ref().map_or(0, Evidence::rank);
                rank(a)
                    .cmp(&rank(b))
                    .then_with(|| order(&group[a], &group[b]))
            })
        {
            best = nearer;
        }
    }
    let mut winner = group.swap_remove(best);
    winner.alternatives = winner_alternatives(rules, &winner, &group);
    winner
}

fn winner_alternatives(rules: &[Rule], winner: &Match, losers: &[Match]) -> Vec<String> {
    let own = rules[winner.rule].provider();
    let mut alts: Vec<String> = Vec::new();
    let named = if winner.ambiguous {
        rules[winner.rule].spec.alternatives.as_ref()
    } else {
        &[]
    };
    // A generic rule or a part-only rule matching the same text is no
    // alternative provider: it matches nearly everything a provider rule does.
    for p in losers
        .iter()
        .filter(|m| {
            let r = &rules[m.rule];
            !r.spec.generic && !r.spec.part_only && r.provider() != "generic"
        })
        .map(|m| rules[m.rule].provider())
        .chain(named.iter().map(|n| n.as_ref()))
    {
        if p != own && !alts.iter().any(|a| a == p) {
            alts.push(p.to_string());
        }
    }
    alts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{parse_rule_file, Rule};

    fn matcher(toml: &str) -> Matcher {
        let rules = parse_rule_file("test.toml", toml)
            .unwrap()
            .into_iter()
            .map(|s| Rule::compile(s, "test.toml").unwrap())
            .collect();
        Matcher::new(RuleSet::new(rules).unwrap())
    }

    const RULES: &str = r#"
[[rules]]
id = "demo-key"
description = "demo"
provider = "demo"
severity = "high"
regex = '''\b(dkey_[A-Za-z0-9]{20,})'''
keywords = ["dkey_"]
min_entropy = 3.0

[[rules]]
id = "generic-key"
description = "generic"
provider = "generic"
severity = "low"
priority = 10
alternatives = ["other"]
regex = '''\b([a-z]{2,4}_[A-Za-z0-9]{20,})'''
keywords = ["_"]
"#;

    #[test]
    fn finds_prefix_key_and_prefers_priority() {
        let m = matcher(RULES);
        let buf = b"token = \"dkey_4fQ9x2LmN8pR7tV1wZ3yB6cD\"\n";
        let found = m.find(buf, &mut Scratch::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(m.rules().rules()[found[0].rule].id(), "demo-key");
        assert_eq!(
            &buf[found[0].start..found[0].end],
            b"dkey_4fQ9x2LmN8pR7tV1wZ3yB6cD"
        );
        // A rule of the `generic` provider is no alternative provider.
        assert!(found[0].alternatives.is_empty(), "{found:?}");
        assert!(!found[0].ambiguous);
    }

    #[test]
    fn generic_alone_is_ambiguous() {
        let m = matcher(RULES);
        let found = m.find(b"zz_4fQ9x2LmN8pR7tV1wZ3yB6cD", &mut Scratch::default());
        assert_eq!(found.len(), 1);
        assert!(found[0].ambiguous);
        assert_eq!(found[0].alternatives, vec!["other".to_string()]);
    }

    #[test]
    fn window_overrun_captures_whole_secret() {
        let m = matcher(RULES);
        let mut buf = b"dkey_".to_vec();
        buf.extend(std::iter::repeat_n(b"aB3".as_slice(), 400).flatten());
        let found = m.find(&buf, &mut Scratch::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].end, buf.len());
    }

    #[test]
    fn base64_and_percent_encoded_keys_are_found() {
        use base64::Engine as _;
        let m = matcher(RULES);
        let key = "dkey_4fQ9x2LmN8pR7tV1wZ3yB6cD";
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("user:{key}"));
        let buf = format!("Authorization: Basic {enc}\n");
        let found = m.find(buf.as_bytes(), &mut Scratch::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].secret, key.as_bytes());
        assert_eq!(found[0].encoding, Some(Encoding::Base64));
        assert_eq!(
            &buf.as_bytes()[found[0].start..found[0].end],
            enc.as_bytes()
        );

        // Double base64, as in .dockerconfigjson.
        let inner = base64::engine::general_purpose::STANDARD.encode(format!("u:{key}"));
        let outer = base64::engine::general_purpose::STANDARD
            .encode(format!("{{\"auths\":{{\"r\":{{\"auth\":\"{inner}\"}}}}}}"));
        let secret_yaml = format!("kind: Secret\ndata:\n  .dockerconfigjson: {outer}\n");
        let found = m.find(secret_yaml.as_bytes(), &mut Scratch::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].secret, key.as_bytes());

        let buf = b"url=https://x/?k=dkey_4fQ9x2LmN8pR7t%2BV1wZ3yB6cD";
        let m2 = matcher(&RULES.replace("[A-Za-z0-9]{20,}", "[A-Za-z0-9+]{20,}"));
        let found = m2.find(buf, &mut Scratch::default());
        assert!(
            found
                .iter()
                .any(|f| f.secret == b"dkey_4fQ9x2LmN8pR7t+V1wZ3yB6cD"),
            "{found:?}"
        );
    }

    #[test]
    fn base64_is_found_anywhere_by_its_encoded_keyword() {
        use base64::Engine as _;
        let m = matcher(RULES);
        for pad in ["", "=", "k:"] {
            let blob = base64::engine::general_purpose::STANDARD
                .encode(format!("{pad}dkey_4fQ9x2LmN8pR7tV1wZ3yB6cD"));
            let text = format!("# no word here says base64\nblob = \"{blob}\"\n");
            let found = m.find(text.as_bytes(), &mut Scratch::default());
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert_eq!(found[0].encoding, Some(Encoding::Base64));
        }
        // The URL-safe alphabet too (`dkey_?>` encodes to `-` and `_`).
        let blob = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(b"\xfb\xffdkey_4fQ9x2LmN8pR7tV1wZ3yB6cD");
        assert!(blob.contains(['-', '_']), "{blob}");
        let found = m.find(blob.as_bytes(), &mut Scratch::default());
        assert_eq!(found.len(), 1, "{blob}: {found:?}");
    }

    #[test]
    fn decode_all_also_decodes_runs_without_a_fragment() {
        use base64::Engine as _;
        let toml = RULES.replace("dkey_", "dk4_");
        // A four-byte keyword after one byte leaves four characters of its
        // own: too short a fragment to search for.
        let blob =
            base64::engine::general_purpose::STANDARD.encode(":dk4_4fQ9x2LmN8pR7tV1wZ3yB6cD");
        let frags = crate::engine::decode::base64_fragments(b"dk4_");
        assert_eq!(frags.len(), 2, "{frags:?}");
        assert!(frags
            .iter()
            .all(|f| !blob.contains(std::str::from_utf8(f).unwrap())));
        let text = format!("blob = \"{blob}\"\n");
        assert!(matcher(&toml)
            .find(text.as_bytes(), &mut Scratch::default())
            .is_empty());
        let rules = parse_rule_file("test.toml", &toml)
            .unwrap()
            .into_iter()
            .map(|s| Rule::compile(s, "test.toml").unwrap())
            .collect();
        let everywhere = Matcher::with_base64(RuleSet::new(rules).unwrap(), Base64Mode::Everywhere);
        let found = everywhere.find(text.as_bytes(), &mut Scratch::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].encoding, Some(Encoding::Base64));
    }

    #[test]
    fn the_compiled_in_plan_is_the_plan_of_the_built_in_rules() {
        let set = RuleSet::builtin().unwrap();
        assert!(crate::rules::is_builtin_set(&set));
        assert_eq!(
            format!("{:?}", plan_of(&set)),
            format!("{:?}", builtin_plan::BUILTIN_PLAN)
        );
        assert!(matches!(Matcher::new(set).plan, Cow::Borrowed(_)));
        // A rule disabled, or a built-in rule changed: planned at run time.
        let mut rules = crate::rules::builtin_rules().unwrap();
        rules.pop();
        assert!(!crate::rules::is_builtin_set(&RuleSet::new(rules).unwrap()));
        let mut rules = crate::rules::builtin_rules().unwrap();
        let mut spec = rules[0].spec.clone();
        spec.keywords.to_mut().push("zz-extra-".into());
        rules[0] = Rule::builtin(spec, "rules/gateways.toml").unwrap();
        let set = RuleSet::new(rules).unwrap();
        assert!(!crate::rules::is_builtin_set(&set));
        let m = Matcher::new(set);
        assert!(matches!(m.plan, Cow::Owned(_)));
        assert!(m.plan.texts.iter().any(|t| t.as_ref() == b"zz-extra-"));
    }

    #[test]
    fn a_keyword_hidden_by_a_fragment_hit_is_still_found() {
        // A fragment hit covering the start of a keyword must not hide it.
        let m = matcher(RULES);
        for i in 0..m.plan.texts.len() {
            if m.plan.keyword[i] != plan::NO_KEYWORD {
                continue;
            }
            for &(_, k) in m.inner_keywords(i) {
                assert!(!m.keyword_text(k as usize).is_empty());
            }
        }
        let buf = b"token = \"dkey_4fQ9x2LmN8pR7tV1wZ3yB6cD\"\n";
        assert_eq!(m.find(buf, &mut Scratch::default()).len(), 1);
    }

    #[test]
    fn placeholders_and_low_entropy_are_dropped() {
        let m = matcher(RULES);
        for text in [
            "dkey_xxxxxxxxxxxxxxxxxxxxxxxx",
            "dkey_aaaaaaaaaaaaaaaaaaaaaaaaab",
            "dkey_YOURKEYHERE12345678901",
        ] {
            let found = m.find(text.as_bytes(), &mut Scratch::default());
            assert!(
                found
                    .iter()
                    .all(|f| m.rules().rules()[f.rule].id() != "demo-key"),
                "{text}: {found:?}"
            );
        }
    }

    #[test]
    fn lines_around_is_bounded() {
        // Short lines: `n` lines each side.
        let buf = b"a\nb\nc\nd\ne\n";
        assert_eq!(lines_around(buf, 4, 1), (1, 8));
        // Lines longer than the bound: the span stops at MAX_CONTEXT_SPAN
        // on each side, however many lines were asked for.
        let long = "x".repeat(3 * MAX_CONTEXT_SPAN);
        let text = format!("{long}\n{long}\n{long}\n");
        let at = text.len() / 2;
        let (start, end) = lines_around(text.as_bytes(), at, 5);
        assert_eq!(start, at - MAX_CONTEXT_SPAN);
        assert_eq!(end, at + MAX_CONTEXT_SPAN);
        // One line with no newline at all: bounded too, and by the buffer
        // at its ends.
        let one = "y".repeat(4 * MAX_CONTEXT_SPAN);
        assert_eq!(
            lines_around(one.as_bytes(), 2 * MAX_CONTEXT_SPAN, 3),
            (MAX_CONTEXT_SPAN, 3 * MAX_CONTEXT_SPAN)
        );
        assert_eq!(
            lines_around(one.as_bytes(), 10, 3),
            (0, 10 + MAX_CONTEXT_SPAN)
        );
    }
}
