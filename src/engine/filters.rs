//! Filters that drop candidates which match a rule's shape but are not
//! secrets: documentation placeholders and low-entropy strings. These run on
//! the match path only, so they favour clarity over speed.

/// Shannon entropy in bits per byte.
pub(crate) fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// Words that only documentation and templates put inside a key.
const PLACEHOLDER_WORDS: &[&str] = &[
    "your",
    "example",
    "placeholder",
    "sample",
    "dummy",
    "redacted",
    "changeme",
    "insert",
    "replace",
    "here",
    "xxxx",
    "fake",
    "lorem",
];

/// Secrets longer than this are not searched for placeholder words.
const MAX_WORD_CHECKED_LEN: usize = 128;

/// Code that reads a key rather than holding one.
const CODE_REFERENCES: &[&str] = &["os.environ", "process.env", "getenv", "env(", "env["];

/// Is `secret` a documentation placeholder? `prefix_len` bytes at its start
/// are the rule's literal prefix (`sk-kunavo-`), which is not judged.
pub(crate) fn is_placeholder(secret: &[u8], prefix_len: usize) -> bool {
    let body = &secret[prefix_len.min(secret.len())..];
    if body.is_empty() {
        return true;
    }
    // One repeated character, or only filler characters.
    if body.iter().all(|&b| b == body[0]) || body.iter().all(|b| b"xX*.#-_0".contains(b)) {
        return true;
    }
    if contains(body, b"...")
        || contains(body, "\u{2026}".as_bytes())
        || contains(body, b"${")
        || contains(body, b"{{")
        || body[0] == b'$'
        || body.iter().any(|b| b"<>{}".contains(b))
    {
        return true;
    }
    // Placeholder words are matched as substrings, which random text also
    // contains by chance: about 1 in 200 PEM blocks holds `here` or `your`.
    // Long secrets are judged by the structural checks only.
    let lower = body.to_ascii_lowercase();
    if (body.len() <= MAX_WORD_CHECKED_LEN
        && PLACEHOLDER_WORDS
            .iter()
            .any(|w| contains(&lower, w.as_bytes())))
        || CODE_REFERENCES
            .iter()
            .any(|w| contains(&lower, w.as_bytes()))
    {
        return true;
    }
    // An environment variable's name: `YOUR_API_KEY`, `KUNAVO_API_KEY`.
    let whole = secret;
    if whole.contains(&b'_')
        && whole
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
        && whole.iter().filter(|b| b.is_ascii_digit()).count() * 4 < whole.len()
    {
        return true;
    }
    // Counting sequences: `0123456789`, `abcdefgh` runs that fill the body.
    is_sequence(body)
}

fn is_sequence(body: &[u8]) -> bool {
    body.len() >= 8 && body.windows(2).all(|w| w[1] == w[0].wrapping_add(1))
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_uniform_and_random() {
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!(shannon_entropy(b"4fQ9x2LmN8pR7tV1wZ3yB6cD0eH5jK") > 4.0);
    }

    #[test]
    fn documentation_placeholders() {
        for (s, p) in [
            ("sk-kunavo-XXX", 10),
            ("sk-kunavo-...", 10),
            ("sk-pnv-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 7),
            ("sk_live_your_api_key_here", 8),
            ("sk-xxxxxxxxxxxxxxxx", 3),
            ("YOUR_API_KEY", 0),
            ("KUNAVO_API_KEY", 0),
            ("$KUNAVO_API_KEY", 0),
            ("os.environ[\"KUNAVO_API_KEY\"]", 0),
            ("sk-kunavo-<key>", 10),
            ("sk-abcdefghijklmnop", 3),
            ("sk-kunavo-", 10),
        ] {
            assert!(is_placeholder(s.as_bytes(), p), "{s}");
        }
    }

    #[test]
    fn real_looking_keys_are_not_placeholders() {
        let pem_body = format!(
            "{}here{}",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC".repeat(5),
            "Kq9LmN4p".repeat(4)
        );
        assert!(!is_placeholder(pem_body.as_bytes(), 0));
        for (s, p) in [
            ("sk-kunavo-4fQ9x2LmN8pR7tV1wZ3yB6cD0eH5jK", 10), // leakhound:allow (test fixture)
            ("AKIAZ7QWERTY2ABCD3EF", 4),                      // leakhound:allow (test fixture)
            ("ghp_R8s2Kq9LmN4pX7tV1wZ3yB6cD0eH5jKaB3dE", 4),  // leakhound:allow (test fixture)
        ] {
            assert!(!is_placeholder(s.as_bytes(), p), "{s}");
        }
    }
}
