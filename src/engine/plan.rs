//! The matcher's plan for a rule set: the patterns of the keyword search
//! (keywords, trigger words, base64 fragments, each once, lowercased),
//! what each stands for, the prefix table that searches them, and the key
//! shapes. It is a pure function of the rules' keywords and example
//! secrets, so `build.rs` (which includes this file) works it out for the
//! built-in rules at compile time and a scan with the built-in rules only
//! builds nothing; a rule set of the user's is planned at run time by the
//! same code.
//!
//! Nothing here may depend on the rest of the crate (only `base64`).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use base64::Engine as _;

/// How many characters of a base64 fragment go into the keyword search.
/// Six case-insensitive characters are rare enough in text (a few hits in a
/// 28 MB sample of CPython's library, each checked case-sensitively before
/// anything is decoded) and keep the patterns about as many as the
/// keywords' own (docs/performance.md).
pub const FRAGMENT_PREFIX: usize = 6;
/// The shortest fragment worth searching for: shorter ones would fire on
/// ordinary identifiers.
pub const MIN_FRAGMENT: usize = 5;
/// Words whose value is decoded whatever it holds: Docker configs hold
/// base64 inside base64, and the outer text shows no fragment of the inner
/// key's keyword; a basic-auth header encodes `user:token`, where the token
/// may sit at an alignment too short for a fragment.
pub const BASE64_TRIGGERS: &[&str] = &[
    "dockerconfigjson",
    "dockercfg",
    "\"auth\":",
    "authorization: basic",
];
/// Shortest keyword counted as a key shape (`sk-`).
pub const MIN_SHAPE: usize = 3;
/// log2 of the number of buckets of the prefix table.
pub const BUCKET_BITS: u32 = 16;
/// log2 of the bits of the search's filter ([`gram`]): 32 kB, about the
/// L1 cache; the built-in patterns set about 2% of its bits.
pub const GRAM_BITS: u32 = 18;
/// log2 of the bits of its second, smaller filter ([`gram2`]), looked at
/// only where the first lets a position through: it turns away most of the
/// first one's hash collisions (8 kB, about 9% of its bits set).
pub const GRAM2_BITS: u32 = 16;
/// `Plan::keyword` of a pattern that is no keyword.
pub const NO_KEYWORD: u32 = u32::MAX;

/// The keyword search's patterns and what they stand for.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Each pattern's text, lowercased (the search is case-insensitive).
    pub texts: Cow<'static, [Cow<'static, [u8]>]>,
    /// Per pattern, the keyword it is (index into `keywords`), or
    /// [`NO_KEYWORD`]. One pattern can be several things at once (`"auth":`
    /// is a keyword and a trigger word): the search reports one pattern per
    /// position, so nothing may hide behind another with the same text.
    pub keyword: Cow<'static, [u32]>,
    /// Per pattern, whether it is a trigger word.
    pub trigger: Cow<'static, [bool]>,
    /// Per pattern, which spellings of it are base64 fragments (base64 is
    /// case-sensitive, the search is not): bit `m` is set when the spelling
    /// whose upper-case letters are mask `m` ([`case_mask`]) is one.
    pub fragment_cases: Cow<'static, [u64]>,
    /// Per distinct keyword, its pattern.
    pub keywords: Cow<'static, [u32]>,
    /// The rules that list keyword `k` are
    /// `own_rules[own_starts[k]..own_starts[k + 1]]`.
    pub own_starts: Cow<'static, [u32]>,
    pub own_rules: Cow<'static, [u32]>,
    /// The prefix table over `texts`.
    pub table: Table,
    /// Distinctive key prefixes (`sk-`, `sk_live_`, `ghp_`): keywords that
    /// start some rule's example secrets and no other rule's.
    pub shapes: Cow<'static, [Cow<'static, str>]>,
}

/// The patterns bucketed by a hash of their first three bytes (patterns
/// shorter than three bytes kept apart), each bucket longest first.
#[derive(Clone, Debug)]
pub struct Table {
    /// Bucket `b` holds `entries[starts[b]..starts[b + 1]]`.
    pub starts: Cow<'static, [u32]>,
    pub entries: Cow<'static, [Entry]>,
    /// Patterns of one or two bytes, longest first.
    pub short: Cow<'static, [u32]>,
    /// Per lowercased byte, whether some pattern starts with it.
    pub first: Cow<'static, [bool]>,
    /// Per bucket, whether it holds any pattern: 8 KB that stay in the L1
    /// cache, where `starts` would not.
    pub occupied: Cow<'static, [u64]>,
    /// The search's filter, so that most positions are passed over without
    /// a look at the buckets: bit [`gram`] of the four bytes at which each
    /// pattern starts, for every four bytes that can start it (a pattern
    /// shorter than four bytes is followed by any byte) ...
    pub grams: Cow<'static, [u64]>,
    /// ... and bit [`gram2`] of the same.
    pub grams2: Cow<'static, [u64]>,
}

/// A bucket entry: the pattern's first eight bytes, so that most candidates
/// are accepted or refused with one comparison.
#[derive(Clone, Copy, Default, Debug)]
pub struct Entry {
    /// The pattern's first (up to) eight bytes, little-endian.
    pub head: u64,
    /// Which bytes of `head` are the pattern's.
    pub mask: u64,
    pub len: u32,
    pub id: u32,
}

/// One rule, as the plan sees it.
pub struct RuleKeys<'a> {
    pub keywords: Vec<&'a str>,
    pub secrets: Vec<&'a str>,
}

/// Plan the keyword search of `rules`, in rule order.
pub fn plan(rules: &[RuleKeys]) -> Plan {
    let mut texts: Vec<Vec<u8>> = Vec::new();
    let mut keyword: Vec<u32> = Vec::new();
    let mut trigger: Vec<bool> = Vec::new();
    let mut fragment_cases: Vec<u64> = Vec::new();
    let mut index: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut slot = |text: &[u8],
                    texts: &mut Vec<Vec<u8>>,
                    keyword: &mut Vec<u32>,
                    trigger: &mut Vec<bool>,
                    fragment_cases: &mut Vec<u64>| {
        let lower = text.to_ascii_lowercase();
        *index.entry(lower.clone()).or_insert_with(|| {
            texts.push(lower);
            keyword.push(NO_KEYWORD);
            trigger.push(false);
            fragment_cases.push(0);
            (texts.len() - 1) as u32
        }) as usize
    };
    let mut keywords: Vec<u32> = Vec::new();
    let mut own: Vec<Vec<u32>> = Vec::new();
    for (r, rule) in rules.iter().enumerate() {
        for k in &rule.keywords {
            let p = slot(
                k.as_bytes(),
                &mut texts,
                &mut keyword,
                &mut trigger,
                &mut fragment_cases,
            );
            if keyword[p] == NO_KEYWORD {
                keyword[p] = keywords.len() as u32;
                keywords.push(p as u32);
                own.push(Vec::new());
            }
            let k = keyword[p] as usize;
            if own[k].last() != Some(&(r as u32)) {
                own[k].push(r as u32);
            }
        }
    }
    for t in BASE64_TRIGGERS {
        let p = slot(
            t.as_bytes(),
            &mut texts,
            &mut keyword,
            &mut trigger,
            &mut fragment_cases,
        );
        trigger[p] = true;
    }
    // Base64 forms of every keyword as the rules spell it, in both
    // alphabets, cut to their first characters. Double encoding needs no
    // fragments of fragments: decoded content is searched again.
    let mut spellings: HashSet<&str> = HashSet::new();
    for rule in rules {
        for &k in &rule.keywords {
            if !spellings.insert(k) {
                continue;
            }
            each_base64_fragment(k.as_bytes(), FRAGMENT_PREFIX, |frag| {
                let p = slot(
                    frag,
                    &mut texts,
                    &mut keyword,
                    &mut trigger,
                    &mut fragment_cases,
                );
                fragment_cases[p] |= 1 << case_mask(frag);
            });
        }
    }
    let mut own_starts = Vec::with_capacity(own.len() + 1);
    own_starts.push(0u32);
    for o in &own {
        own_starts.push(own_starts[own_starts.len() - 1] + o.len() as u32);
    }
    let table = table(&texts);
    Plan {
        table,
        texts: texts.into_iter().map(Cow::Owned).collect(),
        keyword: keyword.into(),
        trigger: trigger.into(),
        fragment_cases: fragment_cases.into(),
        keywords: keywords.into(),
        own_starts: own_starts.into(),
        own_rules: own.concat().into(),
        shapes: key_shapes(rules)
            .into_iter()
            .map(|s| Cow::Owned(s.to_string()))
            .collect(),
    }
}

/// The prefix table over `patterns` (lowercased, distinct, non-empty).
fn table(patterns: &[Vec<u8>]) -> Table {
    let buckets = 1usize << BUCKET_BITS;
    let mut counts = vec![0u32; buckets + 1];
    let mut short = Vec::new();
    let mut first = vec![false; 256];
    for (i, p) in patterns.iter().enumerate() {
        first[usize::from(p[0])] = true;
        if p.len() >= 3 {
            counts[bucket(lower8(p)) + 1] += 1;
        } else {
            short.push(i as u32);
        }
    }
    for b in 0..buckets {
        counts[b + 1] += counts[b];
    }
    let starts = counts.clone();
    let mut next = counts;
    let mut entries = vec![Entry::default(); starts[buckets] as usize];
    for (i, p) in patterns.iter().enumerate() {
        if p.len() >= 3 {
            let n = p.len().min(8);
            let e = Entry {
                head: lower8(p),
                mask: if n == 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * n)) - 1
                },
                len: p.len() as u32,
                id: i as u32,
            };
            let b = bucket(e.head);
            entries[next[b] as usize] = e;
            next[b] += 1;
        }
    }
    for b in 0..buckets {
        entries[starts[b] as usize..starts[b + 1] as usize]
            .sort_by_key(|e| (std::cmp::Reverse(e.len), e.id));
    }
    short.sort_by_key(|&i| (std::cmp::Reverse(patterns[i as usize].len()), i));
    let mut occupied = vec![0u64; buckets / 64];
    for b in 0..buckets {
        if starts[b] != starts[b + 1] {
            occupied[b / 64] |= 1 << (b % 64);
        }
    }
    let mut grams = vec![0u64; (1usize << GRAM_BITS) / 64];
    let mut grams2 = vec![0u64; (1usize << GRAM2_BITS) / 64];
    for p in patterns {
        // The bytes after a short pattern: any of the 32 values a byte
        // has in the filter (its low five bits).
        let free = 4usize.saturating_sub(p.len());
        let head = lower8(p) as u32 & (u32::MAX >> (8 * free));
        for tail in 0..1u32 << (5 * free) {
            let mut word = head;
            for i in 0..free {
                word |= ((tail >> (5 * i)) & 0x1f) << (8 * (4 - free + i));
            }
            let b = gram(word);
            grams[b / 64] |= 1 << (b % 64);
            let b = gram2(word);
            grams2[b / 64] |= 1 << (b % 64);
        }
    }
    Table {
        starts: starts.into(),
        entries: entries.into(),
        short: short.into(),
        first: first.into(),
        occupied: occupied.into(),
        grams: grams.into(),
        grams2: grams2.into(),
    }
}

/// The filter bit of the four bytes in `word` (little-endian): a hash of
/// their low five bits, which an ASCII letter's two cases share, so that
/// no case folding is needed. Other bytes share them too (`_` and `?`,
/// digits and `p`-`y`): that only lets more positions through the filter.
#[inline(always)]
pub fn gram(word: u32) -> usize {
    ((word & 0x1f1f_1f1f).wrapping_mul(0x9E37_79B1) >> (32 - GRAM_BITS)) as usize
}

/// The second filter's bit of the same four bytes: another hash of their
/// low five bits.
#[inline(always)]
pub fn gram2(word: u32) -> usize {
    ((word & 0x1f1f_1f1f).wrapping_mul(0x85EB_CA77) >> (32 - GRAM2_BITS)) as usize
}

/// The keywords that start some rule's example secrets (as spelt), minus
/// those another rule's example also starts with while not starting with
/// one of its own keywords.
fn key_shapes<'a>(rules: &[RuleKeys<'a>]) -> Vec<&'a str> {
    let starts_own = |rule: &RuleKeys, secret: &str| {
        rule.keywords.iter().any(|k| {
            secret
                .get(..k.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(k))
        })
    };
    let mut shapes: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for rule in rules {
        for &k in &rule.keywords {
            let starts = rule.secrets.iter().any(|s| s.starts_with(k));
            if k.len() >= MIN_SHAPE && starts && seen.insert(k) {
                shapes.push(k);
            }
        }
    }
    let longest = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    for rule in rules {
        for secret in &rule.secrets {
            if !starts_own(rule, secret) {
                for len in MIN_SHAPE..=longest.min(secret.len()) {
                    if let Some(prefix) = secret.get(..len) {
                        seen.remove(prefix);
                    }
                }
            }
        }
    }
    shapes.retain(|s| seen.contains(s));
    shapes
}

/// Which characters of `text` are ASCII upper case, as a bit mask (the
/// first 64).
pub fn case_mask(text: &[u8]) -> u64 {
    text.iter()
        .take(64)
        .enumerate()
        .filter(|(_, b)| b.is_ascii_uppercase())
        .fold(0, |m, (i, _)| m | (1 << i))
}

/// Eight bytes at the start of `bytes` (zeros past its end), little-endian,
/// ASCII-lowercased.
#[inline]
pub fn lower8(bytes: &[u8]) -> u64 {
    let x = match bytes.first_chunk::<8>() {
        Some(word) => u64::from_le_bytes(*word),
        None => {
            let mut word = [0u8; 8];
            word[..bytes.len()].copy_from_slice(bytes);
            u64::from_le_bytes(word)
        }
    };
    // Per byte: the high bit of `upper` is set for b'A'..=b'Z' only.
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = x & !HIGH;
    let ge_a = low7 + 0x3f3f_3f3f_3f3f_3f3f; // >= b'A' sets the high bit
    let gt_z = low7 + 0x2525_2525_2525_2525; // > b'Z' sets the high bit
    let upper = ge_a & !gt_z & !x & HIGH;
    x | (upper >> 2)
}

/// The prefix table's bucket of a pattern or position (its first three
/// bytes, lowercased, in `head`).
#[inline]
pub fn bucket(head: u64) -> usize {
    let key = (head & 0x00ff_ffff) as u32;
    (key.wrapping_mul(0x9E37_79B1) >> (32 - BUCKET_BITS)) as usize
}

/// The base64 character runs that appear wherever `literal` is
/// base64-encoded, at each of the three byte alignments, cut to their first
/// `max` characters: calls `f` with each (the URL-safe spelling first, when
/// it differs). Only characters whose six bits all come from `literal` are
/// kept, so the fragments do not depend on the bytes around it; only the
/// bytes that spell the characters kept are encoded.
pub fn each_base64_fragment(literal: &[u8], max: usize, mut f: impl FnMut(&[u8])) {
    // Enough input for `max` characters after the first whole one; a
    // fragment starts at character 0, 2 or 3 (the alignment's padding).
    let want = max.saturating_add(4).saturating_mul(3) / 4 + 3;
    let mut padded = [0u8; 64];
    let mut encoded = [0u8; 88];
    for shift in 0..3usize {
        let bits_start = 8 * shift;
        let bits_end = 8 * (shift + literal.len());
        let first = bits_start.div_ceil(6);
        let last = bits_end / 6; // exclusive
        if last <= first || last - first < MIN_FRAGMENT {
            continue;
        }
        let take = literal.len().min(want).min(padded.len() - shift);
        padded[..shift].fill(0);
        padded[shift..shift + take].copy_from_slice(&literal[..take]);
        let n = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode_slice(&padded[..shift + take], &mut encoded)
            .expect("88 bytes hold the base64 of 64");
        // Characters whose bits all came from the bytes encoded.
        let whole = (8 * (shift + take) / 6).min(n);
        let end = last.min(whole).min(first.saturating_add(max));
        let std = &encoded[first..end];
        if std.iter().any(|&b| b == b'+' || b == b'/') {
            // The URL-safe alphabet spells 62 and 63 as `-` and `_`.
            let mut url = [0u8; 88];
            for (u, &b) in url.iter_mut().zip(std) {
                *u = match b {
                    b'+' => b'-',
                    b'/' => b'_',
                    b => b,
                };
            }
            f(&url[..std.len()]);
        }
        f(std);
    }
}
