//! The keyword search: every rule keyword, trigger word and base64 fragment,
//! ASCII case-insensitive, leftmost-longest, non-overlapping.
//!
//! Two searchers find exactly the same matches. A pre-commit hook or a
//! one-file scan searches a few kilobytes, and building an Aho-Corasick
//! automaton over the ~6,000 patterns (~20 ms for an NFA, ~70 ms for a DFA)
//! would be most of its run, so the first [`DFA_AFTER_BYTES`] a matcher
//! searches go through a [`PrefixTable`]: the patterns bucketed by their
//! first three bytes, built in well under a millisecond and searched at
//! a few hundred MB/s. Past that, the scan is a large one and the DFA is
//! built once (docs/performance.md, "Startup").

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// Bytes searched with the prefix table before the DFA is built: at that
/// point the DFA's build time (about 70 ms for the built-in patterns in a
/// release build) is paid back by its faster search.
pub(super) const DFA_AFTER_BYTES: usize = 4 << 20;

/// log2 of the number of buckets of the prefix table.
const BUCKET_BITS: u32 = 16;

/// The patterns, searched with whichever searcher the work so far calls
/// for. Patterns are lowercased, distinct and non-empty.
pub(super) struct KeywordSearch {
    table: PrefixTable,
    dfa: OnceLock<AhoCorasick>,
    searched: AtomicUsize,
}

impl KeywordSearch {
    pub(super) fn new(patterns: Vec<Vec<u8>>) -> KeywordSearch {
        KeywordSearch {
            table: PrefixTable::new(patterns),
            dfa: OnceLock::new(),
            searched: AtomicUsize::new(0),
        }
    }

    /// Call `f(pattern, start, end)` for each match in `buf`, in order.
    pub(super) fn for_each(&self, buf: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        if let Some(dfa) = self.dfa_for(buf.len()) {
            for m in dfa.find_iter(buf) {
                f(m.pattern().as_usize(), m.start(), m.end());
            }
        } else {
            self.table.for_each(buf, f);
        }
    }

    /// The DFA, once the bytes searched (these included) reach
    /// [`DFA_AFTER_BYTES`].
    fn dfa_for(&self, len: usize) -> Option<&AhoCorasick> {
        if let Some(dfa) = self.dfa.get() {
            return Some(dfa);
        }
        let total = self
            .searched
            .fetch_add(len, Ordering::Relaxed)
            .saturating_add(len);
        (total >= DFA_AFTER_BYTES).then(|| {
            self.dfa.get_or_init(|| {
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&self.table.patterns)
                    .expect("keyword patterns are non-empty literals (Rule::builtin checks)")
            })
        })
    }

    /// Pattern `p`'s text.
    pub(super) fn pattern(&self, p: usize) -> &[u8] {
        &self.table.patterns[p]
    }

    #[cfg(test)]
    pub(super) fn uses_dfa(&self) -> bool {
        self.dfa.get().is_some()
    }
}

/// Patterns bucketed by a hash of their first three bytes (patterns
/// shorter than three bytes are kept apart), each bucket longest first: at
/// each position of the haystack the first pattern of its bucket that
/// matches is the longest one starting there, which is what a
/// leftmost-longest automaton reports. Each bucket entry carries the
/// pattern's first eight bytes, so that most candidates are accepted or
/// refused with one comparison of eight lowercased bytes of the haystack.
struct PrefixTable {
    patterns: Vec<Vec<u8>>,
    /// Bucket `b` holds `entries[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    entries: Vec<Entry>,
    /// Patterns of one or two bytes, longest first.
    short: Vec<u32>,
    /// Per lowercased byte, whether some pattern starts with it.
    first: [bool; 256],
    /// Per bucket, whether it holds any pattern: 8 KB that stay in the
    /// L1 cache, where `starts` would not.
    occupied: Vec<u64>,
}

#[derive(Clone, Copy, Default)]
struct Entry {
    /// The pattern's first (up to) eight bytes, little-endian.
    head: u64,
    /// Which bytes of `head` are the pattern's.
    mask: u64,
    len: u32,
    id: u32,
}

/// Eight bytes at the start of `bytes` (zeros past its end), little-endian,
/// ASCII-lowercased.
#[inline]
fn lower8(bytes: &[u8]) -> u64 {
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

fn bucket(head: u64) -> usize {
    let key = (head & 0x00ff_ffff) as u32;
    (key.wrapping_mul(0x9E37_79B1) >> (32 - BUCKET_BITS)) as usize
}

impl PrefixTable {
    fn new(patterns: Vec<Vec<u8>>) -> PrefixTable {
        let buckets = 1usize << BUCKET_BITS;
        let mut counts = vec![0u32; buckets + 1];
        let mut short = Vec::new();
        let mut first = [false; 256];
        let entry = |i: usize, p: &[u8]| {
            let n = p.len().min(8);
            Entry {
                head: lower8(p),
                mask: if n == 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * n)) - 1
                },
                len: p.len() as u32,
                id: i as u32,
            }
        };
        for (i, p) in patterns.iter().enumerate() {
            debug_assert!(!p.is_empty() && p.iter().all(|b| !b.is_ascii_uppercase()));
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
                let e = entry(i, p);
                let b = bucket(e.head);
                entries[next[b] as usize] = e;
                next[b] += 1;
            }
        }
        for b in 0..buckets {
            entries[starts[b] as usize..starts[b + 1] as usize]
                .sort_unstable_by_key(|e| std::cmp::Reverse(e.len));
        }
        short.sort_unstable_by_key(|&i| std::cmp::Reverse(patterns[i as usize].len()));
        let mut occupied = vec![0u64; buckets / 64];
        for b in 0..buckets {
            if starts[b] != starts[b + 1] {
                occupied[b / 64] |= 1 << (b % 64);
            }
        }
        PrefixTable {
            patterns,
            starts,
            entries,
            short,
            first,
            occupied,
        }
    }

    /// The longest pattern starting at `at`, if any.
    fn longest_at(&self, buf: &[u8], at: usize) -> Option<usize> {
        let rest = &buf[at..];
        if rest.len() >= 3 {
            let word = lower8(rest);
            let b = bucket(word);
            let occupied = self.occupied[b / 64] & (1 << (b % 64)) != 0;
            let candidates = if occupied {
                &self.entries[self.starts[b] as usize..self.starts[b + 1] as usize]
            } else {
                &[]
            };
            for e in candidates {
                let len = e.len as usize;
                if word & e.mask == e.head
                    && rest.len() >= len
                    && (len <= 8
                        || rest[8..len].eq_ignore_ascii_case(&self.patterns[e.id as usize][8..]))
                {
                    return Some(e.id as usize);
                }
            }
        }
        self.short
            .iter()
            .find(|&&i| {
                let p = &self.patterns[i as usize];
                rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p)
            })
            .map(|&i| i as usize)
    }

    fn for_each(&self, buf: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        let mut at = 0;
        while at < buf.len() {
            if !self.first[usize::from(buf[at].to_ascii_lowercase())] {
                at += 1;
                continue;
            }
            match self.longest_at(buf, at) {
                Some(i) => {
                    let end = at + self.patterns[i].len();
                    f(i, at, end);
                    at = end;
                }
                None => at += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn by_table(patterns: &[Vec<u8>], hay: &[u8]) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        PrefixTable::new(patterns.to_vec()).for_each(hay, |p, s, e| out.push((p, s, e)));
        out
    }

    fn by_automaton(patterns: &[Vec<u8>], hay: &[u8]) -> Vec<(usize, usize, usize)> {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(patterns)
            .unwrap()
            .find_iter(hay)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
            .collect()
    }

    #[test]
    fn eight_bytes_are_lowercased_as_ascii() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut word = *b"xYz@[`{Q";
                word[at] = b;
                let mut expected = word;
                expected.make_ascii_lowercase();
                assert_eq!(lower8(&word), u64::from_le_bytes(expected), "{b} at {at}");
            }
        }
        assert_eq!(lower8(b"AB"), u64::from(b'a') | (u64::from(b'b') << 8));
    }

    #[test]
    fn the_table_finds_the_longest_leftmost_match_of_any_length() {
        let patterns: Vec<Vec<u8>> = ["_", "sk", "sk-", "sk-proj-", "api_key", "key", "k"]
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect();
        let hay = b"SK-PROJ-abc sk-x api_KEY_1 ks_ s";
        assert_eq!(by_table(&patterns, hay), by_automaton(&patterns, hay));
        assert_eq!(
            by_table(&patterns, hay),
            [
                (3, 0, 8),
                (2, 12, 15),
                (4, 17, 24),
                (0, 24, 25),
                (6, 27, 28),
                (0, 29, 30)
            ]
        );
    }

    #[test]
    fn the_built_in_patterns_find_what_the_dfa_finds() {
        let set = crate::rules::RuleSet::builtin().unwrap();
        let m = super::super::Matcher::new(set);
        let patterns = m.search.table.patterns.clone();
        let hay: Vec<u8> = m
            .rules()
            .rules()
            .iter()
            .flat_map(|r| r.spec.examples.iter())
            .flat_map(|e| e.text.bytes().chain(*b"\n"))
            .collect();
        let by_table = by_table(&patterns, &hay);
        assert!(by_table.len() > 500, "{}", by_table.len());
        let search = KeywordSearch::new(patterns);
        let mut by_dfa = Vec::new();
        search.for_each(&vec![b' '; DFA_AFTER_BYTES], |_, _, _| {});
        assert!(search.uses_dfa());
        search.for_each(&hay, |p, s, e| by_dfa.push((p, s, e)));
        assert_eq!(by_table, by_dfa);
    }

    proptest! {
        #[test]
        fn the_table_agrees_with_aho_corasick(
            patterns in proptest::collection::hash_set("[a-c_\\-@\\[{`]{1,12}", 1..12),
            hay in "[a-cA-C_\\-@\\[{` ]{0,80}",
        ) {
            let patterns: Vec<Vec<u8>> = patterns.into_iter().map(String::into_bytes).collect();
            prop_assert_eq!(by_table(&patterns, hay.as_bytes()), by_automaton(&patterns, hay.as_bytes()));
        }
    }
}
