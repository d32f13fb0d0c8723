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

pub(crate) mod decode;
pub(crate) mod filters;
pub(crate) mod generic;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use crate::rules::{Rule, RuleSet};

/// How far past the end of a window a match that started inside it may run.
const OVERRUN: usize = 4096;
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
            .finish()
    }
}

#[derive(Clone, Copy, Debug)]
enum PatternKind {
    /// A rule keyword as written: index into `keyword_rules`.
    Plain(usize),
    /// A word that announces base64 credentials somewhere in the buffer
    /// (`kind: Secret`, `.dockerconfigjson`): the whole buffer gets the
    /// base64 fragment pass.
    Trigger,
    /// A word that announces base64 nearby (`base64`, `Authorization:
    /// Basic`): the fragment pass covers `NEAR_TRIGGER` bytes around it.
    NearTrigger,
    /// A base64 fragment of some keyword (only with `decode_all`).
    Base64,
}

/// Words that announce base64-encoded credentials. A buffer holding one is
/// searched for the base64 forms of every keyword: Kubernetes Secrets and
/// Docker configs hold their values on other lines than the word.
const BASE64_TRIGGERS: &[&str] = &["kind: secret", "dockerconfigjson", "dockercfg", "\"auth\":"];

/// Words that announce base64 next to them. `base64` is common in source
/// code (a tenth of the benchmark tree's bytes are in files that say it), so
/// only the text around it is searched.
const NEAR_BASE64_TRIGGERS: &[&str] = &["authorization: basic", "base64"];
/// Shortest keyword counted as a key shape (`sk-`).
const MIN_SHAPE: usize = 3;

/// How far around a near trigger base64 fragments are searched.
const NEAR_TRIGGER: usize = 4096;

/// How the matcher decodes base64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Base64Mode {
    /// Look for base64-encoded keys where a trigger word says base64
    /// credentials are likely (Kubernetes Secrets, Docker configs, basic-auth
    /// headers, anything that says `base64`) and inside decoded content.
    #[default]
    Triggered,
    /// Look for base64-encoded keys everywhere. Costs about a third more
    /// time on source trees: the fragments join the keyword automaton.
    Everywhere,
}

/// The compiled matcher for a rule set.
pub struct Matcher {
    rules: RuleSet,
    /// Keywords (and trigger words; and base64 fragments when decoding
    /// everywhere), ASCII case-insensitive, leftmost-longest.
    automaton: KeywordAutomaton,
    patterns: Vec<PatternKind>,
    /// The base64 fragments of every keyword, case-sensitive; built when
    /// first needed (most runs never decode anything).
    fragments: LazyAutomaton,
    /// For each distinct keyword, the rules that hit on it, including the
    /// rules of shorter keywords it contains (the automaton reports only the
    /// longest keyword at a position).
    keyword_rules: Vec<Vec<usize>>,
    mode: Base64Mode,
    /// Distinctive key prefixes (`sk-`, `sk_live_`, `ghp_`): the keywords
    /// that start some rule's example secrets. A key with one of them is
    /// never claimed by a rule for shapeless keys.
    shapes: Vec<Vec<u8>>,
}

/// Per-thread scratch space, reused across buffers.
#[derive(Default)]
pub struct Scratch {
    hits: Vec<(usize, usize, usize)>,
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

/// A DFA: with a hundred-odd case-insensitive keywords no literal prefilter
/// applies, and the DFA searches about three times faster than the default
/// NFA (measured in docs/performance.md).
fn build_automaton(patterns: &[Vec<u8>], case_insensitive: bool) -> AhoCorasick {
    build_automaton_of(patterns, case_insensitive, AhoCorasickKind::DFA)
}

fn build_automaton_of(
    patterns: &[Vec<u8>],
    case_insensitive: bool,
    kind: AhoCorasickKind,
) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(case_insensitive)
        .match_kind(MatchKind::LeftmostLongest)
        .kind(Some(kind))
        .build(patterns)
        .expect("keyword automaton: patterns are non-empty literals, checked by Rule::compile")
}

/// Bytes searched with the NFA before the DFA is built. With the ~2,000
/// built-in keywords the DFA takes about 3.4 times as long to build as the
/// contiguous NFA and searches about 2.4 times as fast: it pays for itself
/// after roughly 4 MB (docs/performance.md, "Startup").
const DFA_AFTER_BYTES: usize = 4 << 20;

/// The keyword automaton, built when first needed and in the form the work
/// calls for: a pre-commit hook or a one-file scan searches a few kilobytes
/// and would spend most of its time building a DFA, so the first
/// [`DFA_AFTER_BYTES`] are searched with a contiguous NFA (cheap to build),
/// and the DFA is built once a scan has gone past them. Both find the same
/// matches (the same patterns and match kind).
struct KeywordAutomaton {
    patterns: Vec<Vec<u8>>,
    nfa: OnceLock<AhoCorasick>,
    dfa: OnceLock<AhoCorasick>,
    searched: AtomicUsize,
}

impl KeywordAutomaton {
    fn new(patterns: Vec<Vec<u8>>) -> KeywordAutomaton {
        KeywordAutomaton {
            patterns,
            nfa: OnceLock::new(),
            dfa: OnceLock::new(),
            searched: AtomicUsize::new(0),
        }
    }

    /// The automaton to search a buffer of `len` bytes with.
    fn for_len(&self, len: usize) -> &AhoCorasick {
        if let Some(dfa) = self.dfa.get() {
            return dfa;
        }
        let total = self
            .searched
            .fetch_add(len, Ordering::Relaxed)
            .saturating_add(len);
        if total >= DFA_AFTER_BYTES {
            self.dfa
                .get_or_init(|| build_automaton_of(&self.patterns, true, AhoCorasickKind::DFA))
        } else {
            self.nfa.get_or_init(|| {
                build_automaton_of(&self.patterns, true, AhoCorasickKind::ContiguousNFA)
            })
        }
    }
}

/// For each distinct keyword, the rules whose keywords it contains (the
/// keyword itself or a shorter one inside it): the automaton reports only
/// the longest keyword at a position. One overlapping pass of an automaton
/// over the keywords finds the containments, instead of comparing every
/// keyword with every rule.
fn keyword_rules(rules: &RuleSet, keywords: &[Vec<u8>]) -> Vec<Vec<usize>> {
    let mut by_keyword: HashMap<&[u8], Vec<usize>> = HashMap::new();
    let lowered: Vec<Vec<Vec<u8>>> = rules
        .rules()
        .iter()
        .map(|r| {
            r.spec
                .keywords
                .iter()
                .map(|k| k.as_bytes().to_ascii_lowercase())
                .collect()
        })
        .collect();
    for (i, ks) in lowered.iter().enumerate() {
        for k in ks {
            let entry = by_keyword.entry(k.as_slice()).or_default();
            if entry.last() != Some(&i) {
                entry.push(i);
            }
        }
    }
    let inside = AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .build(keywords)
        .expect("keywords are non-empty literals, checked by Rule::builtin");
    keywords
        .iter()
        .map(|kw| {
            let mut ids: Vec<usize> = inside
                .find_overlapping_iter(kw.as_slice())
                .flat_map(|m| by_keyword[keywords[m.pattern().as_usize()].as_slice()].iter())
                .copied()
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        })
        .collect()
}

/// An automaton built on first use.
struct LazyAutomaton {
    patterns: Vec<Vec<u8>>,
    built: OnceLock<AhoCorasick>,
}

impl LazyAutomaton {
    fn new(patterns: Vec<Vec<u8>>) -> LazyAutomaton {
        LazyAutomaton {
            patterns,
            built: OnceLock::new(),
        }
    }

    fn get(&self) -> &AhoCorasick {
        self.built
            .get_or_init(|| build_automaton(&self.patterns, false))
    }
}

impl Matcher {
    pub fn new(rules: RuleSet) -> Matcher {
        Matcher::with_base64(rules, Base64Mode::default())
    }

    pub fn with_base64(rules: RuleSet, mode: Base64Mode) -> Matcher {
        // Distinct keywords, lowercased (the automaton is case-insensitive).
        let mut keywords: Vec<Vec<u8>> = Vec::new();
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        for rule in rules.rules() {
            for k in &rule.spec.keywords {
                let k = k.as_bytes().to_ascii_lowercase();
                if seen.insert(k.clone()) {
                    keywords.push(k);
                }
            }
        }
        let keyword_rules = keyword_rules(&rules, &keywords);
        // Base64 forms of every keyword as the rules spell it (base64 is
        // case-sensitive). Double encoding needs no fragments of fragments:
        // decoded content is searched for fragments again.
        let mut fragments: Vec<Vec<u8>> = Vec::new();
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        for rule in rules.rules() {
            for k in &rule.spec.keywords {
                for frag in decode::base64_fragments(k.as_bytes()) {
                    if seen.insert(frag.clone()) {
                        fragments.push(frag);
                    }
                }
            }
        }

        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut kinds = Vec::new();
        for (i, k) in keywords.iter().enumerate() {
            patterns.push(k.clone());
            kinds.push(PatternKind::Plain(i));
        }
        match mode {
            Base64Mode::Triggered => {
                for t in BASE64_TRIGGERS {
                    patterns.push(t.as_bytes().to_vec());
                    kinds.push(PatternKind::Trigger);
                }
                for t in NEAR_BASE64_TRIGGERS {
                    patterns.push(t.as_bytes().to_vec());
                    kinds.push(PatternKind::NearTrigger);
                }
            }
            Base64Mode::Everywhere => {
                for f in &fragments {
                    patterns.push(f.clone());
                    kinds.push(PatternKind::Base64);
                }
            }
        }
        let shapes = key_shapes(&rules);
        Matcher {
            shapes,
            automaton: KeywordAutomaton::new(patterns),
            fragments: LazyAutomaton::new(fragments),
            rules,
            patterns: kinds,
            keyword_rules,
            mode,
        }
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
        scratch.b64_hits.clear();
        scratch.context.clear();
        scratch.context.resize(rules.len(), None);
        scratch.open.clear();
        scratch.open.resize(rules.len(), (None, 0));
        // Decoded content is always searched for base64 fragments: that is
        // how base64 inside base64 (`.dockerconfigjson`) is found.
        let mut search_fragments = depth > 0;
        // Merged spans around near triggers, searched when the whole buffer is not.
        let mut near: Vec<(usize, usize)> = Vec::new();
        for m in self.automaton.for_len(buf.len()).find_iter(buf) {
            match self.patterns[m.pattern().as_usize()] {
                PatternKind::Plain(k) => {
                    for &r in &self.keyword_rules[k] {
                        scratch.hits.push((r, m.start(), m.end()));
                    }
                    if scratch.hits.len() >= HIT_CHUNK {
                        self.merge_hits(buf, parents, scratch, out);
                    }
                }
                kind @ (PatternKind::Trigger | PatternKind::NearTrigger) => {
                    if matches!(kind, PatternKind::Trigger) {
                        search_fragments = true;
                    } else {
                        let (s, e) = (
                            m.start().saturating_sub(NEAR_TRIGGER),
                            (m.end() + NEAR_TRIGGER).min(buf.len()),
                        );
                        match near.last_mut() {
                            Some(last) if s <= last.1 => last.1 = e,
                            _ => near.push((s, e)),
                        }
                    }
                    // The value right after the trigger (`.dockerconfigjson:
                    // <base64>`, `Basic <base64>`) is decoded whatever it
                    // holds: base64 inside base64 shows no fragment outside.
                    if let Some(start) = decode::value_after(buf, m.end()) {
                        scratch.b64_hits.push(start);
                    }
                }
                PatternKind::Base64 => scratch.b64_hits.push(m.start()),
            }
        }
        self.merge_hits(buf, parents, scratch, out);
        for rule_idx in 0..rules.len() {
            if let Some((ws, we)) = scratch.open[rule_idx].0.take() {
                let from = ws.max(scratch.open[rule_idx].1);
                scratch.open[rule_idx].1 =
                    self.run_rule(rule_idx, buf, from, we, parents, scratch, out);
            }
        }

        // Base64 runs around fragment hits: decode once per run, scan
        // inside. The second automaton's hits are taken as they come, in
        // buffer order, merged with the few gathered above, so that a buffer
        // dense with fragments costs no memory per hit.
        let mut gathered = std::mem::take(&mut scratch.b64_hits);
        if depth >= MAX_DECODE_DEPTH {
            gathered.clear();
        }
        gathered.sort_unstable();
        let whole = depth > 0 || (search_fragments && self.mode == Base64Mode::Triggered);
        let spans: &[(usize, usize)] = if depth >= MAX_DECODE_DEPTH {
            &[]
        } else if whole {
            &[(0, buf.len())]
        } else if self.mode == Base64Mode::Triggered {
            &near
        } else {
            &[]
        };
        let mut fragment_hits = spans
            .iter()
            .flat_map(|&(s, e)| {
                self.fragments
                    .get()
                    .find_iter(&buf[s..e])
                    .map(move |m| s + m.start())
            })
            .peekable();
        let mut gathered_hits = gathered.iter().copied().peekable();
        let mut done_until = 0;
        let mut chain: Vec<&[u8]> = parents.to_vec();
        chain.push(buf);
        loop {
            let pos = match (gathered_hits.peek(), fragment_hits.peek()) {
                (Some(&g), Some(&f)) if g <= f => gathered_hits.next(),
                (_, Some(_)) => fragment_hits.next(),
                (Some(_), None) => gathered_hits.next(),
                (None, None) => None,
            };
            let Some(pos) = pos else { break };
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
                out.push(m);
            }
        }
        gathered.clear();
        scratch.b64_hits = gathered;
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
        let haystack = &buf[..(we + OVERRUN).min(buf.len())];
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
            if rule.spec.generic
                && !generic::is_generic_secret(caps.name("key").map(|k| k.as_bytes()), bytes)
            {
                continue;
            }
            if let Some(m) = self.accept(
                rule_idx,
                bytes,
                buf,
                secret.start(),
                parents,
                &mut scratch.context,
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
                let last = map[secret.end() - 1];
                let encoded_end = ws
                    + if window[last] == b'%' {
                        last + 3
                    } else {
                        last + 1
                    };
                if encoded_end - encoded_start == secret.len() {
                    continue; // nothing was encoded: the plain pass has it
                }
                let bytes = &decoded[secret.start()..secret.end()];
                if let Some(mut m) = self.accept(
                    rule_idx,
                    bytes,
                    buf,
                    encoded_start,
                    parents,
                    &mut scratch.context,
                ) {
                    m.end = encoded_end;
                    m.encoding = Some(Encoding::Percent);
                    out.push(m);
                }
            }
            scratch.decoded = decoded;
            scratch.map = map;
        }
        pos
    }

    /// Apply the filters to a candidate `secret` found at `at` in `buf`.
    fn accept(
        &self,
        rule_idx: usize,
        secret: &[u8],
        buf: &[u8],
        at: usize,
        parents: &[&[u8]],
        context_cache: &mut [Option<bool>],
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
                foreign_shape: false,
            });
        }
        if filters::is_placeholder(secret, prefix_len) {
            return None;
        }
        if let Some(min) = rule.spec.min_entropy {
            if filters::shannon_entropy(secret) < min {
                return None;
            }
        }
        let mut attributed = false;
        if let Some(ctx) = rule.context() {
            let found = if ctx.lines == 0 {
                *context_cache[rule_idx]
                    .get_or_insert_with(|| context_present(ctx, buf, at, parents))
            } else {
                context_present(ctx, buf, at, parents)
            };
            if ctx.required && !found {
                return None;
            }
            attributed = found;
        }
        // A rule for keys with no shape of their own (Kindo's opaque keys,
        // found by a variable name or a nearby word) never claims a key that
        // has another provider's shape: at most the key is ambiguous, and
        // the rule that knows the shape wins the overlap.
        let foreign_shape = prefix_len == 0 && self.shapes.iter().any(|p| secret.starts_with(p));
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
            foreign_shape,
        })
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

/// Distinctive key prefixes: a keyword that starts some example secret of
/// its rule (`sk_live_`, `ghp_`), unless shapeless keys are known to start
/// with it too (an example of a rule for shapeless keys does: `eyJ`, the
/// start of any JWT, is many providers' format, not one provider's shape).
fn key_shapes(rules: &RuleSet) -> Vec<Vec<u8>> {
    let starts_own = |rule: &Rule, secret: &str| {
        rule.spec.keywords.iter().any(|k| {
            secret
                .get(..k.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(k))
        })
    };
    let mut shapes: Vec<Vec<u8>> = Vec::new();
    for rule in rules.rules() {
        for k in &rule.spec.keywords {
            let starts = rule
                .spec
                .examples
                .iter()
                .any(|e| e.secret.starts_with(k.as_str()));
            if k.len() >= MIN_SHAPE && starts && !shapes.iter().any(|s| s == k.as_bytes()) {
                shapes.push(k.as_bytes().to_vec());
            }
        }
    }
    for rule in rules.rules() {
        for e in &rule.spec.examples {
            if !starts_own(rule, &e.secret) {
                shapes.retain(|s| !e.secret.as_bytes().starts_with(s));
            }
        }
    }
    shapes
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
    if ctx.regexes.iter().any(|r| r.is_match(region)) {
        return true;
    }
    parents
        .iter()
        .any(|p| ctx.regexes.iter().any(|r| r.is_match(p)))
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
    let best = (0..group.len())
        .max_by(|&a, &b| {
            let (ma, mb) = (&group[a], &group[b]);
            // A key's own shape beats any rule for shapeless keys.
            mb.foreign_shape
                .cmp(&ma.foreign_shape)
                .then(rules[ma.rule].priority.cmp(&rules[mb.rule].priority))
                .then(ma.secret.len().cmp(&mb.secret.len()))
                .then(mb.rule.cmp(&ma.rule))
        })
        .expect("groups are never empty");
    let mut winner = group.swap_remove(best);
    winner.alternatives = winner_alternatives(rules, &winner, &group);
    winner
}

fn winner_alternatives(rules: &[Rule], winner: &Match, losers: &[Match]) -> Vec<String> {
    let own = rules[winner.rule].provider();
    let mut alts: Vec<String> = Vec::new();
    let named = if winner.ambiguous {
        rules[winner.rule].spec.alternatives.as_slice()
    } else {
        &[]
    };
    // A generic rule or a part-only rule matching the same text is no
    // alternative provider: it matches nearly everything a provider rule does.
    for p in losers
        .iter()
        .filter(|m| !rules[m.rule].spec.generic && !rules[m.rule].spec.part_only)
        .map(|m| rules[m.rule].provider())
        .chain(named.iter().map(String::as_str))
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

    #[test]
    fn keyword_automaton_starts_as_an_nfa_and_finds_what_the_dfa_finds() {
        let set = RuleSet::builtin().unwrap();
        let patterns: Vec<Vec<u8>> = set
            .rules()
            .iter()
            .flat_map(|r| r.spec.keywords.iter())
            .map(|k| k.as_bytes().to_ascii_lowercase())
            .collect();
        let hay: Vec<u8> = set
            .rules()
            .iter()
            .flat_map(|r| r.spec.examples.iter())
            .flat_map(|e| e.text.bytes().chain(*b"\n"))
            .collect();
        let auto = KeywordAutomaton::new(patterns);
        let small = auto.for_len(hay.len());
        assert_eq!(small.kind(), AhoCorasickKind::ContiguousNFA);
        let by_nfa: Vec<_> = small.find_iter(&hay).collect();
        let big = auto.for_len(DFA_AFTER_BYTES);
        assert_eq!(big.kind(), AhoCorasickKind::DFA);
        assert_eq!(
            auto.for_len(1).kind(),
            AhoCorasickKind::DFA,
            "the DFA stays"
        );
        let by_dfa: Vec<_> = big.find_iter(&hay).collect();
        assert!(by_nfa.len() > 500, "{}", by_nfa.len());
        assert_eq!(by_nfa, by_dfa);
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
        assert_eq!(found[0].alternatives, vec!["generic".to_string()]);
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
    fn base64_without_a_trigger_word_needs_decode_everywhere() {
        use base64::Engine as _;
        let blob =
            base64::engine::general_purpose::STANDARD.encode("dkey_4fQ9x2LmN8pR7tV1wZ3yB6cD");
        let text = format!("blob = \"{blob}\"\n");
        let triggered = matcher(RULES);
        assert!(triggered
            .find(text.as_bytes(), &mut Scratch::default())
            .is_empty());
        let rules = parse_rule_file("test.toml", RULES)
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
    fn the_word_base64_triggers_the_text_around_it_only() {
        use base64::Engine as _;
        let m = matcher(RULES);
        let blob =
            base64::engine::general_purpose::STANDARD.encode("dkey_4fQ9x2LmN8pR7tV1wZ3yB6cD");
        let near = format!("echo {blob} | base64 -d\n");
        let found = m.find(near.as_bytes(), &mut Scratch::default());
        assert_eq!(found.len(), 1, "{found:?}");
        let far = format!(
            "# base64 helpers\n{}\nx = \"{blob}\"\n",
            "y".repeat(2 * NEAR_TRIGGER)
        );
        assert!(m.find(far.as_bytes(), &mut Scratch::default()).is_empty());
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
        let buf = b"a\nb\nc\nd\ne\n";
        assert_eq!(lines_around(buf, 4, 1), (1, 8));
    }
}
