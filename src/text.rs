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

/// Make `text` safe to print on a terminal: control characters (a file's
/// contents are attacker-controlled) become escapes.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_control_characters() {
        assert_eq!(sanitize("a\x1b[31mb\tc"), "a\\u{1b}[31mb c");
    }

    #[test]
    fn floor_boundary_steps_back_to_a_character_start() {
        assert_eq!(floor_boundary("aé", 2), 1);
        assert_eq!(floor_boundary("aé", 3), 3);
    }
}
