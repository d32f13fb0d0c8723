//! Attribution by the nearest evidence. When keys of several providers
//! share a shape (`sk_live_`: Stripe and Konnect; bare `sk-`: OpenAI,
//! SynStar, DeepSeek), each candidate rule's context regexes say where its
//! provider is mentioned, and the provider mentioned closest to the key
//! wins: on the key's own line (its assignment name), then in its block (the
//! enclosing call or object, the INI/TOML section, the YAML parent, the
//! paragraph), then anywhere in the file.
//!
//! Blocks are found from the text alone (brackets, indentation, section
//! headers, blank lines), not by parsing: a scanner reads every format, and
//! a wrong guess only makes evidence look one step farther than it is.

use crate::rules::Context;

/// How far evidence sits from a key, nearest last (so `Ord` ranks it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Nearness {
    /// Elsewhere in the file, or within the rule's `context.lines`.
    File,
    /// In the key's block.
    Block,
    /// On the key's own line.
    Line,
}

/// What chose a key's provider: a word and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The word holding the context match (`KONNECT_BASE_URL`,
    /// `api.konnect.ai`): letters, digits, `_`, `.` and `-` only.
    pub word: String,
    /// Its offset in the buffer scanned; `None` when it is in the content a
    /// base64 run decoded to, or in the buffer that run sat in.
    pub offset: Option<usize>,
    pub nearness: Nearness,
    /// Found by a `context.weak` regex (an SDK's variable name).
    pub weak: bool,
}

impl Evidence {
    /// Strong evidence in the line or block, then weak evidence there, then
    /// anything farther.
    pub(crate) fn rank(&self) -> u8 {
        match (self.nearness, self.weak) {
            (Nearness::Line, false) => 6,
            (Nearness::Block, false) => 5,
            (Nearness::Line, true) => 4,
            (Nearness::Block, true) => 3,
            (Nearness::File, false) => 2,
            (Nearness::File, true) => 1,
        }
    }
}

/// The longest word reported as evidence.
const MAX_WORD: usize = 48;
/// How far a block reaches on each side of a key, in bytes and in lines.
const MAX_BLOCK: usize = 8 * 1024;
const MAX_BLOCK_LINES: usize = 80;

/// The nearest evidence for `ctx` around the secret at `at..at + len` in
/// `buf`, or in `parents` (the buffers `buf` was decoded from). `region` is
/// where the rule's context may be at all (its `lines` window or the whole
/// buffer).
pub(crate) fn nearest(
    ctx: &Context,
    buf: &[u8],
    at: usize,
    len: usize,
    region: (usize, usize),
    parents: &[&[u8]],
) -> Option<Evidence> {
    let line = line_span(buf, at);
    let block = block_around(buf, at);
    let spans = [
        (line, Nearness::Line),
        (block, Nearness::Block),
        (region, Nearness::File),
    ];
    let mut best: Option<Evidence> = None;
    for (weak, regexes) in [(false, &ctx.regexes), (true, &ctx.weak)] {
        for &((s, e), nearness) in &spans {
            // Anywhere in the file, the first mention will do: searching
            // the whole buffer for the nearest one would cost its size per key.
            let hit = if nearness == Nearness::File {
                first_match(regexes, buf, s, e, at, len)
            } else {
                nearest_match(regexes, buf, s, e, at, len)
            };
            if let Some((ms, me)) = hit {
                let found = Evidence {
                    word: word_around(buf, ms, me, at, at + len),
                    offset: Some(ms),
                    nearness,
                    weak,
                };
                if best.as_ref().map_or(true, |b| found.rank() > b.rank()) {
                    best = Some(found);
                }
                break;
            }
        }
    }
    if best.is_some() {
        return best;
    }
    for (weak, regexes) in [(false, &ctx.regexes), (true, &ctx.weak)] {
        for p in parents {
            if let Some((ms, me)) = nearest_match(regexes, p, 0, p.len(), 0, 0) {
                return Some(Evidence {
                    word: word_around(p, ms, me, 0, 0),
                    offset: None,
                    nearness: Nearness::File,
                    weak,
                });
            }
        }
    }
    None
}

/// The match of any of `regexes` in `buf[s..e]` nearest to the secret at
/// `at..at + len`, not inside it.
fn nearest_match(
    regexes: &[regex::bytes::Regex],
    buf: &[u8],
    s: usize,
    e: usize,
    at: usize,
    len: usize,
) -> Option<(usize, usize)> {
    let hay = &buf[..e];
    let mut best: Option<(usize, (usize, usize))> = None;
    for r in regexes {
        for m in r.find_iter(&hay[s..]) {
            let (ms, me) = (s + m.start(), s + m.end());
            if ms < at + len && at < me && len > 0 {
                continue; // inside the secret itself
            }
            let distance = if me <= at { at - me } else { ms - (at + len) };
            if best.map_or(true, |(d, _)| distance < d) {
                best = Some((distance, (ms, me)));
            }
            if ms > at {
                break; // later matches are farther
            }
        }
    }
    best.map(|(_, span)| span)
}

/// The first match of any of `regexes` in `buf[s..e]` that is not inside
/// the secret at `at..at + len`.
fn first_match(
    regexes: &[regex::bytes::Regex],
    buf: &[u8],
    s: usize,
    e: usize,
    at: usize,
    len: usize,
) -> Option<(usize, usize)> {
    let hay = &buf[..e];
    regexes
        .iter()
        .filter_map(|r| {
            r.find_iter(&hay[s..])
                .map(|m| (s + m.start(), s + m.end()))
                .find(|&(ms, me)| len == 0 || !(ms < at + len && at < me))
        })
        .min()
}

/// The word around a context match, cut where the secret starts or ends.
fn word_around(buf: &[u8], ms: usize, me: usize, secret_start: usize, secret_end: usize) -> String {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b"_.-".contains(&b);
    let floor = if secret_end <= ms && secret_end > 0 {
        secret_end
    } else {
        0
    };
    let ceil = if me <= secret_start && secret_end > 0 {
        secret_start
    } else {
        buf.len()
    };
    let mut s = ms;
    while s > floor && ms - s < MAX_WORD && is_word(buf[s - 1]) {
        s -= 1;
    }
    let mut e = me;
    while e < ceil && e - s < MAX_WORD && is_word(buf[e]) {
        e += 1;
    }
    let word: String = buf[s..e]
        .iter()
        .map(|&b| if is_word(b) { b as char } else { '?' })
        .collect();
    word.trim_matches(|c| c == '.' || c == '-').to_string()
}

/// The line holding `at` (without its line end), bounded.
fn line_span(buf: &[u8], at: usize) -> (usize, usize) {
    let floor = at.saturating_sub(MAX_BLOCK);
    let start = memchr::memrchr(b'\n', &buf[floor..at]).map_or(floor, |i| floor + i + 1);
    let ceil = (at + MAX_BLOCK).min(buf.len());
    let end = memchr::memchr(b'\n', &buf[at..ceil]).map_or(ceil, |i| at + i);
    (start, end)
}

/// The block holding `at`: the innermost bracketed call or object that
/// spans lines (with the line that opens it: `client = OpenAI(`), else the
/// lines around it at its indentation or deeper, with the parent line above
/// them (a YAML parent key, an INI/TOML section header), up to a blank line.
pub(crate) fn block_around(buf: &[u8], at: usize) -> (usize, usize) {
    bracket_block(buf, at).unwrap_or_else(|| indent_block(buf, at))
}

fn bracket_block(buf: &[u8], at: usize) -> Option<(usize, usize)> {
    let floor = at.saturating_sub(MAX_BLOCK);
    let mut depth = 0usize;
    let mut open = None;
    for i in (floor..at).rev() {
        match buf[i] {
            b')' | b'}' | b']' => depth += 1,
            b'(' | b'{' | b'[' => {
                if depth == 0 {
                    open = Some(i);
                    break;
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    let open = open?;
    let ceil = (at + MAX_BLOCK).min(buf.len());
    let mut depth = 0usize;
    let mut close = None;
    for (i, &b) in buf.iter().enumerate().take(ceil).skip(at) {
        match b {
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => {
                if depth == 0 {
                    close = Some(i);
                    break;
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    let close = close?;
    // Bounded like the rest: a file with no line ends must not cost its
    // size per key.
    let start = memchr::memrchr(b'\n', &buf[floor..open]).map_or(floor, |i| floor + i + 1);
    memchr::memchr(b'\n', &buf[start..close])?;
    let end = memchr::memchr(b'\n', &buf[close..ceil]).map_or(ceil, |i| close + i);
    Some((start, end))
}

fn indent_of(line: &[u8]) -> usize {
    line.iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count()
}

fn is_section_header(trimmed: &[u8]) -> bool {
    trimmed.len() >= 3 && trimmed[0] == b'[' && trimmed[trimmed.len() - 1] == b']'
}

fn indent_block(buf: &[u8], at: usize) -> (usize, usize) {
    let (mut start, mut end) = line_span(buf, at);
    let indent = indent_of(&buf[start..end]);
    let floor = at.saturating_sub(MAX_BLOCK);
    for _ in 0..MAX_BLOCK_LINES {
        if start <= floor.max(1) {
            break;
        }
        let prev_end = start - 1;
        let prev_start =
            memchr::memrchr(b'\n', &buf[floor..prev_end]).map_or(floor, |i| floor + i + 1);
        let line = &buf[prev_start..prev_end];
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            break;
        }
        start = prev_start;
        if is_section_header(trimmed) || indent_of(line) < indent {
            break;
        }
    }
    let ceil = (at + MAX_BLOCK).min(buf.len());
    for _ in 0..MAX_BLOCK_LINES {
        if end >= ceil {
            break;
        }
        let next_start = end + 1;
        let next_end =
            memchr::memchr(b'\n', &buf[next_start..ceil]).map_or(ceil, |i| next_start + i);
        let line = &buf[next_start..next_end];
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() || is_section_header(trimmed) || indent_of(line) < indent {
            break;
        }
        end = next_end;
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_text(buf: &str, needle: &str) -> String {
        let at = buf.find(needle).unwrap();
        let (s, e) = block_around(buf.as_bytes(), at);
        buf[s..e].to_string()
    }

    #[test]
    fn blocks_follow_sections_parents_calls_and_paragraphs() {
        let ini = "[stripe]\nkey = AAA\n[konnect]\nurl = https://api.konnect.ai\nkey = BBB\n";
        assert_eq!(
            block_text(ini, "BBB"),
            "[konnect]\nurl = https://api.konnect.ai\nkey = BBB"
        );
        assert_eq!(block_text(ini, "AAA"), "[stripe]\nkey = AAA");
        let yaml = "stripe:\n  key: AAA\nkonnect:\n  base_url: x\n  key: BBB\nother: 1\n";
        assert_eq!(
            block_text(yaml, "BBB"),
            "konnect:\n  base_url: x\n  key: BBB"
        );
        let py = "a = 1\nclient = OpenAI(\n    api_key=\"AAA\",\n    base_url=\"u\",\n)\nb = 2\n";
        assert_eq!(
            block_text(py, "AAA"),
            "client = OpenAI(\n    api_key=\"AAA\",\n    base_url=\"u\",\n)"
        );
        let env = "STRIPE=1\nK=AAA\n\nKONNECT_URL=x\nK2=BBB\n";
        assert_eq!(block_text(env, "AAA"), "STRIPE=1\nK=AAA");
        assert_eq!(block_text(env, "BBB"), "KONNECT_URL=x\nK2=BBB");
    }

    #[test]
    fn evidence_words_stop_at_the_secret() {
        let buf = b"KONNECT_BASE_URL=https://api.konnect.ai/v1";
        assert_eq!(word_around(buf, 26, 33, 0, 0), "api.konnect.ai");
        assert_eq!(word_around(buf, 0, 7, 0, 0), "KONNECT_BASE_URL");
        let glued = b"konnectsk_live_abc";
        assert_eq!(word_around(glued, 0, 7, 7, 18), "konnect");
    }
}
