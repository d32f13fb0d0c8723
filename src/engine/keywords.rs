//! The keyword search: every rule keyword, trigger word and base64 fragment
//! of a [`Plan`], ASCII case-insensitive, leftmost-longest, non-overlapping.
//!
//! It searches the plan's prefix table: the patterns bucketed by their
//! first three bytes, each bucket longest first, so that the first pattern
//! of a position's bucket that matches is the longest one starting there,
//! which is what a leftmost-longest automaton reports (a property test
//! checks it against aho-corasick). Most positions never reach a bucket: a
//! filter passes over them first, one bit per four bytes that can start a
//! pattern (hashed from the bytes' low five bits, which a letter's two
//! cases share, into a bit set the size of the L1 cache), five positions
//! per eight-byte load, so that only the few percent of positions that
//! could start a pattern are looked up.
//!
//! The table and its filter are part of the plan, compiled in for the
//! built-in rules, so nothing is built at run time: the Aho-Corasick DFA
//! this replaced took ~70 ms of CPU to build for the ~6,000 patterns and
//! searched at a fraction of the filter's speed (docs/performance.md,
//! "Speed at a thousand rules").

use super::plan::{bucket, gram, gram2, lower8, Plan};

/// The search of a plan's patterns.
#[derive(Default)]
pub(super) struct KeywordSearch;

impl KeywordSearch {
    /// Call `f(pattern, start, end)` for each match of `plan`'s patterns
    /// in `buf`, in order.
    pub(super) fn for_each(&self, plan: &Plan, buf: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        let t = &plan.table;
        let (grams, grams2) = (&t.grams[..], &t.grams2[..]);
        let maybe = |word: u64| {
            let b = gram(word as u32);
            grams[b / 64] & (1 << (b % 64)) != 0 && {
                let b = gram2(word as u32);
                grams2[b / 64] & (1 << (b % 64)) != 0
            }
        };
        let mut at = 0;
        // While eight bytes are left, the five positions whose four bytes
        // lie in them are filtered from one load.
        while at + 8 <= buf.len() {
            let word = u64::from_le_bytes(buf[at..at + 8].try_into().expect("eight bytes"));
            let skip = if maybe(word) {
                0
            } else if maybe(word >> 8) {
                1
            } else if maybe(word >> 16) {
                2
            } else if maybe(word >> 24) {
                3
            } else if maybe(word >> 32) {
                4
            } else {
                at += 5;
                continue;
            };
            at += skip;
            match longest_at(plan, buf, at) {
                Some(i) => {
                    let end = at + plan.texts[i].len();
                    f(i, at, end);
                    at = end;
                }
                None => at += 1,
            }
        }
        // The last few positions: every one looked up.
        while at < buf.len() {
            if !t.first[usize::from(buf[at].to_ascii_lowercase())] {
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
}

/// The longest pattern that matches at `at` (ending inside `buf`): the
/// first of [`matches_at`], without its iterator.
#[inline]
fn longest_at(plan: &Plan, buf: &[u8], at: usize) -> Option<usize> {
    let rest = &buf[at..];
    let t = &plan.table;
    if rest.len() >= 3 {
        let word = lower8(rest);
        let b = bucket(word);
        if t.occupied[b / 64] & (1 << (b % 64)) != 0 {
            for e in &t.entries[t.starts[b] as usize..t.starts[b + 1] as usize] {
                let len = e.len as usize;
                if word & e.mask == e.head
                    && rest.len() >= len
                    && (len <= 8
                        || rest[8..len].eq_ignore_ascii_case(&plan.texts[e.id as usize][8..]))
                {
                    return Some(e.id as usize);
                }
            }
        }
    }
    t.short.iter().map(|&i| i as usize).find(|&i| {
        let p = &plan.texts[i];
        rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p)
    })
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
    use aho_corasick::{AhoCorasickBuilder, MatchKind};
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
        KeywordSearch.for_each(plan, hay, |p, s, e| out.push((p, s, e)));
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
        let mut hay: Vec<u8> = m
            .rules()
            .rules()
            .iter()
            .flat_map(|r| r.spec.examples.iter())
            .flat_map(|e| e.text.bytes().chain(*b"\n"))
            .collect();
        // And every pattern as upper case at every alignment of the
        // filter's eight-byte loads, and at the very end.
        for (i, t) in plan.texts.iter().enumerate() {
            hay.extend(std::iter::repeat_n(b'.', i % 8));
            hay.extend(t.to_ascii_uppercase());
        }
        let by_table = by_table(plan, &hay);
        assert!(by_table.len() > 6000, "{}", by_table.len());
        let by_dfa: Vec<(usize, usize, usize)> = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(plan.texts.iter())
            .unwrap()
            .find_iter(&hay)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
            .collect();
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
