//! Small text helpers that every layer needs: character boundaries in byte
//! offsets, and making attacker-controlled text safe to print. They sit at
//! the bottom of the module order (see `lib.rs`) so that no layer has to
//! reach sideways for them.

/// The largest character boundary of `s` at or before `i`.
pub fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Make `text` safe to print on a terminal, in a CI log and in XML. A
/// file's contents, its name, a commit's subject and a config's values are
/// attacker-controlled, so this is the one mechanism every text output uses:
///
/// - control characters (C0, C1, DEL), line and paragraph separators and
///   bidirectional overrides become visible escapes (`\u{1b}`), so nothing
///   can move the cursor, retitle a terminal or start a new line;
/// - characters XML 1.0 forbids (U+FFFE, U+FFFF and the other
///   noncharacters) become escapes too;
/// - GitHub's runner reads a workflow command from a line that starts with
///   `::` and, in its legacy form, from `##[` anywhere in a line: a leading
///   `::` becomes `\::` and every `##[` becomes `##\[`.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    if text.starts_with("::") {
        out.push('\\');
    }
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("##[") {
            out.push_str("##\\[");
            rest = &rest[3..];
            continue;
        }
        match c {
            '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c if is_unsafe(c) => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// [`sanitize`] for a message of several lines: each line on its own, and
/// every line after the first indented, so that no line of it starts with
/// text it quotes.
pub fn sanitize_lines(text: &str) -> String {
    text.split('\n')
        .enumerate()
        .map(|(i, line)| {
            let line = sanitize(line.strip_suffix('\r').unwrap_or(line));
            if i == 0 {
                line
            } else {
                format!("  {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Characters never printed as they are.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        // Noncharacters: XML 1.0 forbids U+FFFE and U+FFFF, and none of
        // them has any business in a report.
        || ('\u{fdd0}'..='\u{fdef}').contains(&c)
        || (c as u32 & 0xfffe) == 0xfffe
}

/// A count and its noun, in the plural unless the count is one: `1
/// finding`, `2 findings`, `0 blobs`.
pub fn plural(n: impl Into<u64>, noun: &str) -> String {
    let n: u64 = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough
/// to be a likely misspelling (at most a third of the word's length).
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_control_characters() {
        assert_eq!(sanitize("a\x1b[31mb\tc"), "a\\u{1b}[31mb c");
        assert_eq!(sanitize("a\u{9b}b\u{7f}"), "a\\u{9b}b\\u{7f}");
        assert_eq!(
            sanitize("x\u{fffe}\u{ffff}\u{1fffe}"),
            "x\\u{fffe}\\u{ffff}\\u{1fffe}"
        );
        assert_eq!(sanitize("\u{202e}txt.exe"), "\\u{202e}txt.exe");
    }

    #[test]
    fn sanitize_defuses_workflow_commands() {
        assert_eq!(sanitize("::error::x"), "\\::error::x");
        assert_eq!(
            sanitize("a ##[error]b ##[stop-commands]"),
            "a ##\\[error]b ##\\[stop-commands]"
        );
        assert_eq!(sanitize("std::string"), "std::string");
        assert_eq!(
            sanitize_lines("first `x\n::error title=cfg::injected`"),
            "first `x\n  \\::error title=cfg::injected`"
        );
    }

    #[test]
    fn nearest_suggests_a_close_name_only() {
        assert_eq!(nearest("kunvao", ["kunavo", "kindo"]), Some("kunavo"));
        assert_eq!(nearest("zzzzzz", ["kunavo", "kindo"]), None);
    }

    #[test]
    fn floor_boundary_steps_back_to_a_character_start() {
        assert_eq!(floor_boundary("aé", 2), 1);
        assert_eq!(floor_boundary("aé", 3), 3);
    }
}
