//! The keyword search: every rule keyword, trigger word and base64 fragment
//! of a [`Plan`], ASCII case-insensitive, leftmost-longest, non-overlapping.
//!
//! Two searchers find exactly the same matches. A pre-commit hook or a
//! one-file scan searches a few kilobytes, and building an Aho-Corasick
//! automaton over the ~6,000 patterns (~20 ms for an NFA, ~70 ms for a DFA)
//! would be most of its run, so the first [`DFA_AFTER_BYTES`] a matcher
//! searches go through the plan's prefix table: the patterns bucketed by
//! their first three bytes, each bucket longest first, so that the first
//! pattern of a position's bucket that matches is the longest one starting
//! there, which is what a leftmost-longest automaton reports. It is built
//! with the plan (at compile time for the built-in rules) and searched at
//! about 100 MB/s. Past that, the scan is a large one and the DFA is built
//! once (docs/performance.md, "Startup").

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::plan::{bucket, lower8, Plan};

/// Bytes searched with the prefix table before the DFA is built: at that
/// point the DFA's build time (about 70 ms for the built-in patterns in a
/// release build) is paid back by its faster search.
pub(super) const DFA_AFTER_BYTES: usize = 4 << 20;

/// The search of a plan's patterns, with whichever searcher the work so far
/// calls for.
#[derive(Default)]
pub(super) struct KeywordSearch {
    dfa: OnceLock<AhoCorasick>,
    searched: AtomicUsize,
}

impl KeywordSearch {
    /// Call `f(pattern, start, end)` for each match of `plan`'s patterns
    /// in `buf`, in order.
    pub(super) fn for_each(&self, plan: &Plan, buf: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        if let Some(dfa) = self.dfa_for(plan, buf.len()) {
            for m in dfa.find_iter(buf) {
                f(m.pattern().as_usize(), m.start(), m.end());
            }
            return;
        }
        let mut at = 0;
        while at < buf.len() {
            if !plan.table.first[usize::from(buf[at].to_ascii_lowercase())] {
                at += 1;
                continue;
            }
            match matches_at(plan, buf, at).next() {
                Some(i) => {
                    let end = at + plan.texts[i].len();
                    f(i, at, end);
                    at = end;
                }
                None => at += 1,
            }
        }
    }

    /// The DFA, once the bytes searched (these included) reach
    /// [`DFA_AFTER_BYTES`].
    fn dfa_for(&self, plan: &Plan, len: usize) -> Option<&AhoCorasick> {
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
                    .build(plan.texts.iter())
                    .expect("keyword patterns are non-empty literals (Rule::builtin checks)")
            })
        })
    }

    #[cfg(test)]
    pub(super) fn uses_dfa(&self) -> bool {
        self.dfa.get().is_some()
    }
}

/// Every pattern that matches at `at` (ending inside `buf`), longest
/// first: those of the position's bucket, then the short ones.
pub(super) fn matches_at<'a>(
    plan: &'a Plan,
    buf: &'a [u8],
    at: usize,
) -> impl Iterator<Item = usize> + 'a {
    let rest = &buf[at..];
    let t = &plan.table;
    let candidates = if rest.len() >= 3 {
        let word = lower8(rest);
        let b = bucket(word);
        let occupied = t.occupied[b / 64] & (1 << (b % 64)) != 0;
        let entries = if occupied {
            &t.entries[t.starts[b] as usize..t.starts[b + 1] as usize]
        } else {
            &[]
        };
        (word, entries)
    } else {
        (0, &[][..])
    };
    let (word, entries) = candidates;
    let long = entries.iter().filter_map(move |e| {
        let len = e.len as usize;
        let hit = word & e.mask == e.head
            && rest.len() >= len
            && (len <= 8 || rest[8..len].eq_ignore_ascii_case(&plan.texts[e.id as usize][8..]));
        hit.then_some(e.id as usize)
    });
    let short = t.short.iter().filter_map(move |&i| {
        let p = &plan.texts[i as usize];
        let hit = rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p);
        hit.then_some(i as usize)
    });
    long.chain(short)
}

#[cfg(test)]
mod tests {
    use super::super::plan::RuleKeys;
    use super::*;
    use proptest::prelude::*;

    /// A plan with `patterns` as keywords (and their fragments), and the
    /// index of each keyword among its patterns.
    fn plan_of(patterns: &[Vec<u8>]) -> (Plan, Vec<usize>) {
        let words: Vec<&str> = patterns
            .iter()
            .map(|p| std::str::from_utf8(p).unwrap())
            .collect();
        let plan = super::super::plan::plan(&[RuleKeys {
            keywords: words,
            secrets: Vec::new(),
        }]);
        let ids = patterns
            .iter()
            .map(|p| {
                plan.texts
                    .iter()
                    .position(|t| t.as_ref() == p.as_slice())
                    .unwrap()
            })
            .collect();
        (plan, ids)
    }

    fn by_table(plan: &Plan, hay: &[u8]) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        KeywordSearch::default().for_each(plan, hay, |p, s, e| out.push((p, s, e)));
        out
    }

    /// An automaton over every pattern of the plan.
    fn by_automaton(plan: &Plan, hay: &[u8]) -> Vec<(usize, usize, usize)> {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(plan.texts.iter())
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
        let (plan, ids) = plan_of(&patterns);
        let found = by_table(&plan, hay);
        assert_eq!(found, by_automaton(&plan, hay));
        let expected: Vec<(usize, usize, usize)> = [
            (3, 0, 8),
            (2, 12, 15),
            (4, 17, 24),
            (0, 24, 25),
            (6, 27, 28),
            (0, 29, 30),
        ]
        .iter()
        .map(|&(k, s, e)| (ids[k], s, e))
        .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn the_built_in_patterns_find_what_the_dfa_finds() {
        let set = crate::rules::RuleSet::builtin().unwrap();
        let m = super::super::Matcher::new(set);
        let plan = m.plan.as_ref();
        let hay: Vec<u8> = m
            .rules()
            .rules()
            .iter()
            .flat_map(|r| r.spec.examples.iter())
            .flat_map(|e| e.text.bytes().chain(*b"\n"))
            .collect();
        let by_table = by_table(plan, &hay);
        assert!(by_table.len() > 500, "{}", by_table.len());
        let search = KeywordSearch::default();
        let mut by_dfa = Vec::new();
        search.for_each(plan, &vec![b' '; DFA_AFTER_BYTES], |_, _, _| {});
        assert!(search.uses_dfa());
        search.for_each(plan, &hay, |p, s, e| by_dfa.push((p, s, e)));
        assert_eq!(by_table, by_dfa);
    }

    proptest! {
        #[test]
        fn the_table_agrees_with_aho_corasick(
            patterns in proptest::collection::hash_set("[a-c_\\-@\\[{`]{1,12}", 1..12),
            hay in "[a-cA-C_\\-@\\[{` ]{0,80}",
        ) {
            let patterns: Vec<Vec<u8>> = patterns.into_iter().map(String::into_bytes).collect();
            let (plan, _) = plan_of(&patterns);
            prop_assert_eq!(by_table(&plan, hay.as_bytes()), by_automaton(&plan, hay.as_bytes()));
        }
    }
}
