//! Decoders for keys that sit encoded: base64 (Kubernetes Secrets,
//! `.dockerconfigjson`, `Authorization: Basic` headers) and percent-encoding
//! (URLs, form bodies).
//!
//! Decoding every base64-looking run in every file would put a decoder in the
//! hot loop. Instead, each keyword's base64 forms are added to the prefilter
//! search (`plan::each_base64_fragment`): a keyword inside base64 text always shows
//! up as one of three fixed character runs, one per alignment. Only a hit on
//! such a fragment makes the matcher decode the run around it.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// The longest base64 run decoded around a fragment hit.
const MAX_RUN: usize = 1 << 20;

/// The base64 character runs that appear wherever `literal` is base64-encoded,
/// at each of the three byte alignments. Only characters whose six bits all
/// come from `literal` are kept, so the fragments do not depend on the bytes
/// around it.
/// (Literals of up to 61 bytes; the automaton takes only fragments' first
/// characters, through [`super::plan::each_base64_fragment`].)
#[cfg(test)]
pub(crate) fn base64_fragments(literal: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    super::plan::each_base64_fragment(literal, usize::MAX, |f| out.push(f.to_vec()));
    out
}

/// Push the start of every base64 run of at least `min` characters in `buf`
/// (`--decode-all`).
pub(crate) fn long_base64_runs(buf: &[u8], min: usize, out: &mut Vec<usize>) {
    let mut i = 0;
    while i < buf.len() {
        if !is_base64_byte(buf[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < buf.len() && is_base64_byte(buf[i]) {
            i += 1;
        }
        if i - start >= min {
            out.push(start);
        }
    }
}

/// Does an escape sequence whose last character is a word character end
/// right before `at`? `\t`, `\n` (after an odd number of backslashes: `\\t`
/// is a backslash and a letter), `%3D`, `\u0022`, `\x22`. Text after one is
/// a new token although a regex's `\b` sees no boundary there. Escapes
/// ending in punctuation (`\"`, `&quot;`) are boundaries already.
pub(crate) fn escape_ends_at(buf: &[u8], at: usize) -> bool {
    if at == 0 || !buf[at - 1].is_ascii_alphanumeric() {
        return false;
    }
    let hex = |r: std::ops::Range<usize>| buf[r].iter().all(u8::is_ascii_hexdigit);
    // `%XX`
    if at >= 3 && buf[at - 3] == b'%' && hex(at - 2..at) {
        return true;
    }
    // An odd run of backslashes ending at `i` escapes what follows it.
    let escapes = |i: usize| buf[..=i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1;
    // `\t`, `\n`, `\r`, `\b`, `\f`, `\v`, `\0`
    if at >= 2 && b"tnrbfv0".contains(&buf[at - 1]) && buf[at - 2] == b'\\' && escapes(at - 2) {
        return true;
    }
    // `\xHH`
    if at >= 4 && hex(at - 2..at) && buf[at - 3] == b'x' && buf[at - 4] == b'\\' && escapes(at - 4)
    {
        return true;
    }
    // `\uHHHH`
    at >= 6 && hex(at - 4..at) && buf[at - 5] == b'u' && buf[at - 6] == b'\\' && escapes(at - 6)
}

fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'-' || b == b'_'
}

/// The base64 run around `pos`: maximal on both sides, `=` padding included.
pub(crate) fn base64_run(buf: &[u8], pos: usize) -> (usize, usize) {
    let floor = pos.saturating_sub(MAX_RUN);
    let mut start = pos;
    while start > floor && is_base64_byte(buf[start - 1]) {
        start -= 1;
    }
    let ceil = (pos + MAX_RUN).min(buf.len());
    let mut end = pos;
    while end < ceil && is_base64_byte(buf[end]) {
        end += 1;
    }
    while end < buf.len() && end - start < MAX_RUN && buf[end] == b'=' {
        end += 1;
    }
    (start, end)
}

/// Where a base64 value of at least 16 characters starts right after `at`
/// (past separators such as `: "`), if one does.
pub(crate) fn value_after(buf: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    while i < buf.len() && i < at + 8 && b" \t:=\"'".contains(&buf[i]) {
        i += 1;
    }
    let run = buf[i.min(buf.len())..]
        .iter()
        .take(16)
        .take_while(|&&b| is_base64_byte(b))
        .count();
    (run == 16).then_some(i)
}

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decode a base64 run, standard or URL-safe alphabet, tolerating a missing
/// padding and a dangling last character.
pub(crate) fn decode_base64(run: &[u8]) -> Option<Vec<u8>> {
    let mut body = run;
    while let [rest @ .., b'='] = body {
        body = rest;
    }
    if body.len() % 4 == 1 {
        body = &body[..body.len() - 1];
    }
    if body.len() < 8 {
        return None;
    }
    let url_safe = body.iter().any(|&b| b == b'-' || b == b'_');
    let engine = if url_safe { &URL_SAFE } else { &STANDARD };
    engine.decode(body).ok()
}

/// Does `window` hold a percent-escape (`%2F`)?
pub(crate) fn has_percent_escape(window: &[u8]) -> bool {
    memchr::memchr_iter(b'%', window).any(|i| {
        window.len() > i + 2
            && window[i + 1].is_ascii_hexdigit()
            && window[i + 2].is_ascii_hexdigit()
    })
}

/// Percent-decode `input` into `out`, recording for every output byte the
/// offset of the input byte it came from, so that a match in the decoded text
/// can be reported at its encoded location.
pub(crate) fn percent_decode_mapped(input: &[u8], out: &mut Vec<u8>, map: &mut Vec<usize>) {
    out.clear();
    map.clear();
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push(h << 4 | l);
                map.push(i);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        map.push(i);
        i += 1;
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_prefixes_are_the_fragments_cut_short() {
        let long = "sk-kunavo-".repeat(9);
        for literal in [
            "sk-",
            "dk4_",
            "ghp_",
            "sk-kunavo-",
            "?>?>?>~~",
            long.as_str(),
        ] {
            for max in [1, 5, 6, 20, usize::MAX] {
                if literal.len() > 61 && max > 20 {
                    continue;
                }
                let mut cut = Vec::new();
                super::super::plan::each_base64_fragment(literal.as_bytes(), max, |f| {
                    cut.push(f.to_vec())
                });
                let full: Vec<Vec<u8>> = if literal.len() <= 61 {
                    base64_fragments(literal.as_bytes())
                } else {
                    // Too long for the test helper: the fragments of its
                    // start are the same, and longer than any `max` here.
                    base64_fragments(&literal.as_bytes()[..40])
                };
                let mut expected: Vec<Vec<u8>> = full
                    .iter()
                    .map(|f| f[..f.len().min(max)].to_vec())
                    .collect();
                // Spellings that differ only past the cut are given once.
                expected.dedup();
                assert_eq!(cut, expected, "{literal} {max}");
            }
        }
        // `?>?>?>` encodes to `Pz4/Pj8+`: both alphabets are listed.
        assert_eq!(base64_fragments(b"?>?>?>~~").len(), 6);
    }

    #[test]
    fn fragments_are_found_in_any_alignment() {
        let key = b"sk-kunavo-4fQ9x2LmN8pR7tV1wZ3yB6cD0eH5jK"; // leakhound:allow (test fixture)
        let frags = base64_fragments(b"sk-kunavo-");
        assert_eq!(frags.len(), 3);
        for pad in ["", "a", "ab", "abc"] {
            let mut text = pad.as_bytes().to_vec();
            text.extend_from_slice(key);
            let enc = base64::engine::general_purpose::STANDARD.encode(&text);
            assert!(
                frags
                    .iter()
                    .any(|f| enc.as_bytes().windows(f.len()).any(|w| w == &f[..])),
                "no fragment in {enc}"
            );
        }
    }

    #[test]
    fn run_and_decode() {
        let text = b"data:\n  key: c2stcG52LWFiYw==\n";
        let pos = 16;
        let (s, e) = base64_run(text, pos);
        assert_eq!(&text[s..e], b"c2stcG52LWFiYw==");
        assert_eq!(decode_base64(&text[s..e]).unwrap(), b"sk-pnv-abc");
    }

    #[test]
    fn value_after_a_trigger() {
        let text = b".dockerconfigjson: eyJhdXRocyI6eyJyZWdpc3RyeSI6e319fQ==";
        assert_eq!(value_after(text, 17), Some(19));
        assert_eq!(value_after(b"Basic short", 5), None);
    }

    #[test]
    fn percent_decoding_keeps_offsets() {
        let mut out = Vec::new();
        let mut map = Vec::new();
        percent_decode_mapped(b"a%2Fb%zz", &mut out, &mut map);
        assert_eq!(out, b"a/b%zz");
        assert_eq!(map, vec![0, 1, 4, 5, 6, 7]);
        assert!(has_percent_escape(b"x%2F"));
        assert!(!has_percent_escape(b"x%2"));
    }

    /// Property tests (tests/cli/fuzz.rs has the matcher's): the decoders
    /// never panic on arbitrary bytes and keep their contracts.
    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            ProptestConfig {
                cases: 256,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn base64_decoding_never_panics_and_round_trips(
                bytes in proptest::collection::vec(any::<u8>(), 0..256),
                pad in 0usize..3,
            ) {
                let _ = decode_base64(&bytes);
                // What the standard engine encodes, the lenient one decodes
                // (with or without padding), at least 6 bytes long.
                use base64::Engine as _;
                let enc = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes);
                let enc = format!("{enc}{}", "=".repeat(pad));
                if bytes.len() >= 6 {
                    prop_assert_eq!(decode_base64(enc.as_bytes()), Some(bytes.clone()));
                }
            }

            #[test]
            fn base64_runs_stay_in_bounds(
                bytes in proptest::collection::vec(any::<u8>(), 1..512),
                at in any::<prop::sample::Index>(),
            ) {
                let pos = at.index(bytes.len());
                let (start, end) = base64_run(&bytes, pos);
                prop_assert!(start <= pos && start <= end && end <= bytes.len());
                prop_assert!(end - start <= MAX_RUN);
                if let Some(i) = value_after(&bytes, pos) {
                    prop_assert!(i + 16 <= bytes.len());
                }
                let _ = base64_fragments(&bytes[start..end.min(start + 64)]);
            }

            #[test]
            fn percent_decoding_maps_every_byte_back(
                bytes in proptest::collection::vec(
                    prop_oneof![any::<u8>(), Just(b'%'), Just(b'2'), Just(b'F')], 0..256),
            ) {
                let (mut out, mut map) = (Vec::new(), Vec::new());
                percent_decode_mapped(&bytes, &mut out, &mut map);
                prop_assert_eq!(out.len(), map.len());
                prop_assert!(out.len() <= bytes.len());
                prop_assert!(map.windows(2).all(|w| w[0] < w[1]));
                prop_assert!(map.iter().all(|&i| i < bytes.len()));
                if !has_percent_escape(&bytes) {
                    prop_assert_eq!(&out, &bytes);
                }
            }
        }
    }
}
