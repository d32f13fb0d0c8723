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
    // Counting sequences: `0123456789`, `abcdefgh` runs that fill the body,
    // or that a longer made-up value holds.
    is_sequence(body) || is_made_up(body)
}

/// Values that stand in a password field of a template or a sample
/// configuration: the field's own name, stock words, interpolations of
/// every templating syntax (`%(db_password)s`, `@DB_PASS@`, `$DB_PASS`,
/// `{{ x }}`, `${X}`, `<password>`, `[password]`), masks (`****`). A real
/// password is none of these; a provider's key never is either, so every
/// rule applies it.
pub(crate) fn is_password_placeholder(value: &[u8]) -> bool {
    let v = value.trim_ascii();
    if v.is_empty() {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "pass",
        "pwd",
        "passphrase",
        "secret",
        "changeme",
        "change_me",
        "change-me",
        "changeit",
        "mypassword",
        "my_password",
        "yourpassword",
        "newpassword",
        "new_password",
        "oldpassword",
        "old_password",
        "secretpassword",
        "password123",
        "xxx",
        "null",
        "none",
        "nil",
        "undefined",
        "empty",
        "true",
        "false",
        "todo",
        "tbd",
        "required",
        "optional",
        "string",
        "str",
        "value",
        "required_password",
        "db_password",
        "database_password",
        "admin_password",
        "user_password",
        "userpassword",
        "notasecret",
        "not_a_secret",
        "s3cr3t",
        "p@ssw0rd",
        "p@ssword",
        "passw0rd",
        // Stock credentials of servers and images, left in compose files
        // and tutorials (`postgres:postgres`, `guest:guest`).
        "postgres",
        "root",
        "guest",
        "admin",
        "anonymous",
        "user",
        "username",
        "test",
        "mysql",
        "redis",
        "rabbitmq",
        "default",
    ];
    if WORDS.contains(&String::from_utf8_lossy(&lower).as_ref()) {
        return true;
    }
    let (first, last) = (v[0], v[v.len() - 1]);
    // Interpolations and masks.
    first == b'$'
        || first == b'%'
        || (first == b'@' && last == b'@')
        || (first == b'[' && last == b']')
        || (first == b'(' && last == b')')
        || (first == b'<' && last == b'>')
        || contains(v, b"%(")
        || contains(v, b"{{")
        || contains(v, b"${")
        || contains(v, b"#{")
        || v.iter().all(|b| b"*x#._-?".contains(b) || *b == b'X')
        || v.iter().all(|&b| b == v[0])
}

fn is_sequence(body: &[u8]) -> bool {
    body.len() >= 8 && body.windows(2).all(|w| w[1] == w[0].wrapping_add(1))
}

/// Longest counting run a made-up value may hold: eight letters or digits
/// in order are typed, not drawn.
const MAX_COUNTING_RUN: usize = 8;

/// Is `body` (a secret after its literal prefix) typed by a person to look
/// like a key rather than drawn at random? Two shapes give it away:
///
/// - the alphabet or the digits counted out in it, also when the two are
///   interleaved or the case alternates: `abcdefghijklmnopqrstuvwxyz123456`,
///   `1234567890abcdefghij…`, `aB1cD2eF3gH4iJ5kL6…`, `abc123xyz-456def789ghij-
///   klmnopqrstuvwx`: the letters (case folded) or the digits (`9` then `0`
///   counts on), read alone, hold a run of eight in order;
/// - a block repeated: `R7mQ2vN9…R7mQ2vN9…`.
///
/// A random string of this length holds neither but with negligible
/// chance (a run of eight among its letters about 26^-7 per letter).
/// Secrets longer than `MAX_WORD_CHECKED_LEN` (PEM bodies) are not judged.
pub(crate) fn is_made_up(body: &[u8]) -> bool {
    // One key-like token: a PEM block's lines and words are judged by the
    // other checks.
    if body.len() < 16
        || body.len() > MAX_WORD_CHECKED_LEN
        || body.iter().any(|b| b.is_ascii_whitespace() || *b == b'\\')
    {
        return false;
    }
    let letters: Vec<u8> = body
        .iter()
        .filter(|b| b.is_ascii_alphabetic())
        .map(u8::to_ascii_lowercase)
        .collect();
    let digits: Vec<u8> = body.iter().copied().filter(u8::is_ascii_digit).collect();
    longest_run(&letters, |a, b| b == a + 1) >= MAX_COUNTING_RUN
        || longest_run(&digits, |a, b| b == a + 1 || (a == b'9' && b == b'0')) >= MAX_COUNTING_RUN
        || has_repeated_block(body)
}

/// The longest run of `seq` in which each byte follows the one before.
fn longest_run(seq: &[u8], follows: impl Fn(u8, u8) -> bool) -> usize {
    let (mut best, mut cur) = (usize::from(!seq.is_empty()), 1);
    for w in seq.windows(2) {
        cur = if follows(w[0], w[1]) { cur + 1 } else { 1 };
        best = best.max(cur);
    }
    best
}

/// Shortest block whose second copy gives a value away as typed.
const MIN_REPEATED_BLOCK: usize = 12;

/// Does `v` hold some block of `MIN_REPEATED_BLOCK` bytes, letters and
/// digits mixed, twice, the copies not overlapping
/// (`R7mQ2vN9xK4p…R7mQ2vN9xK4p…`)? A random string repeats twelve
/// characters with negligible chance. A block of digits alone may recur
/// in a real token (one account or workspace id written twice), so it
/// does not count.
fn has_repeated_block(v: &[u8]) -> bool {
    let n = MIN_REPEATED_BLOCK;
    if v.len() < 2 * n {
        return false;
    }
    (0..=v.len() - 2 * n).any(|i| {
        let block = &v[i..i + n];
        block.iter().any(u8::is_ascii_alphabetic)
            && block.iter().any(u8::is_ascii_digit)
            && memchr::memmem::find(&v[i + n..], block).is_some()
    })
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// Words that names in code are made of. A long lower-case run that these
/// words cover is a name (`legacyrequestsigningmiddleware`), not a key:
/// random text of that length is covered by them with negligible chance.
const NAME_WORDS: &[&str] = &[
    "access",
    "account",
    "action",
    "adapter",
    "admin",
    "agent",
    "alert",
    "all",
    "api",
    "app",
    "application",
    "array",
    "async",
    "auth",
    "authorization",
    "backend",
    "base",
    "batch",
    "bearer",
    "buffer",
    "build",
    "builder",
    "bundle",
    "cache",
    "call",
    "callback",
    "channel",
    "check",
    "client",
    "cloud",
    "code",
    "config",
    "connection",
    "connector",
    "console",
    "consumer",
    "container",
    "content",
    "context",
    "controller",
    "cookie",
    "core",
    "count",
    "create",
    "credential",
    "credentials",
    "current",
    "customer",
    "data",
    "database",
    "debug",
    "default",
    "delete",
    "deploy",
    "dev",
    "development",
    "device",
    "dispatch",
    "document",
    "domain",
    "driver",
    "dummy",
    "element",
    "email",
    "encode",
    "encoder",
    "endpoint",
    "engine",
    "entry",
    "env",
    "environment",
    "error",
    "event",
    "example",
    "exception",
    "factory",
    "fetch",
    "field",
    "file",
    "filter",
    "flag",
    "format",
    "frontend",
    "function",
    "gateway",
    "generate",
    "generator",
    "get",
    "global",
    "group",
    "handle",
    "handler",
    "hash",
    "header",
    "helper",
    "hook",
    "host",
    "http",
    "identity",
    "index",
    "info",
    "init",
    "input",
    "instance",
    "interface",
    "internal",
    "item",
    "job",
    "key",
    "layer",
    "legacy",
    "list",
    "listener",
    "load",
    "loader",
    "local",
    "lock",
    "log",
    "logger",
    "login",
    "main",
    "manager",
    "map",
    "message",
    "meta",
    "method",
    "middleware",
    "mock",
    "model",
    "module",
    "name",
    "network",
    "new",
    "node",
    "object",
    "old",
    "option",
    "options",
    "order",
    "output",
    "owner",
    "page",
    "param",
    "params",
    "parse",
    "parser",
    "password",
    "path",
    "payload",
    "payment",
    "permission",
    "plugin",
    "policy",
    "pool",
    "post",
    "prefix",
    "private",
    "process",
    "processor",
    "prod",
    "production",
    "profile",
    "project",
    "provider",
    "proxy",
    "public",
    "query",
    "queue",
    "read",
    "reader",
    "record",
    "refresh",
    "register",
    "registry",
    "remote",
    "render",
    "replace",
    "report",
    "repository",
    "request",
    "resolver",
    "resource",
    "response",
    "result",
    "retry",
    "role",
    "rotate",
    "rotation",
    "route",
    "router",
    "rule",
    "runner",
    "runtime",
    "sample",
    "schema",
    "scope",
    "secret",
    "secure",
    "security",
    "send",
    "sender",
    "server",
    "service",
    "session",
    "set",
    "settings",
    "setup",
    "shared",
    "sign",
    "signature",
    "signer",
    "signing",
    "source",
    "stage",
    "staging",
    "state",
    "static",
    "status",
    "storage",
    "store",
    "stream",
    "string",
    "stub",
    "subscription",
    "sync",
    "system",
    "table",
    "target",
    "task",
    "team",
    "template",
    "temp",
    "tenant",
    "test",
    "text",
    "thread",
    "time",
    "timeout",
    "token",
    "tool",
    "transport",
    "type",
    "update",
    "upload",
    "url",
    "user",
    "util",
    "utils",
    "validate",
    "validator",
    "value",
    "verify",
    "version",
    "view",
    "webhook",
    "worker",
    "wrapper",
    "write",
    "writer",
];

/// Is `body` (a secret after its literal prefix) a name rather than a key?
/// `sk-pnv-legacyrequestsigningmiddleware`, `getUserPasswordHash`,
/// `STRIPE_API_KEY_NAME`, `request-signing-middleware`: words joined by
/// case changes or separators, or one lower-case run that dictionary
/// words cover. Random keys have digits and short mixed-case runs.
pub(crate) fn is_identifier(body: &[u8]) -> bool {
    let body = body.trim_ascii_start();
    let body = body
        .strip_prefix(b"_")
        .or(body.strip_prefix(b"-"))
        .unwrap_or(body);
    let letters = body.iter().filter(|b| b.is_ascii_alphabetic()).count();
    if letters < 10
        || body
            .iter()
            .any(|b| !(b.is_ascii_alphanumeric() || b"_-.".contains(b)))
    {
        return false;
    }
    // Digits only as a trailing version (`Handler2`), never inside.
    let digits_end = body.len() - body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if body[..digits_end].iter().any(u8::is_ascii_digit) {
        return false;
    }
    let words = name_words(&body[..digits_end]);
    if words.len() >= 2 && words.iter().all(|w| super::generic::is_word_like(w)) {
        return true;
    }
    // One long lower-case run: covered by known words?
    words.len() == 1
        && words[0].len() >= 16
        && covered_by_words(&words[0]) * 10 >= words[0].len() * 9
}

/// The words of a name: split at `_`, `-`, `.` and lower-to-upper case
/// changes, lowercased.
fn name_words(name: &[u8]) -> Vec<Vec<u8>> {
    let mut words: Vec<Vec<u8>> = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut prev = 0u8;
    for &b in name {
        if !b.is_ascii_alphabetic() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev = 0;
            continue;
        }
        if b.is_ascii_uppercase() && prev.is_ascii_lowercase() {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(b.to_ascii_lowercase());
        prev = b;
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// How many letters of `run` the best split into `NAME_WORDS` covers
/// (letters left out count as uncovered).
fn covered_by_words(run: &[u8]) -> usize {
    // best[i]: letters covered in run[..i].
    let mut best = vec![0usize; run.len() + 1];
    for i in 1..=run.len() {
        best[i] = best[i - 1];
        for w in NAME_WORDS {
            let w = w.as_bytes();
            if w.len() <= i && &run[i - w.len()..i] == w {
                best[i] = best[i].max(best[i - w.len()] + w.len());
            }
        }
    }
    best[run.len()]
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
    fn made_up_values() {
        for s in [
            "abcdefghijklmnopqrstuvwxyz123456",
            "0987654321ghijklmnop0987654321qrstuvwx",
            "Mn4oP5qR6sT7uV8wX9yZ0aB1cD2eF3gH4iJ5kL",
            "xyz789abc-123ghi456jklm-nopqrstuvwxyz-7890bcd",
            "LIV-9f8e7d6c-1a2b-3c4d-5e6f-7a8b9c0d",
            "Kq9LmN4pW2xZ7vR3Kq9LmN4pW2xZ7vR3Kq9L",
            "Zt5nR7mQ2vN9xK4pT8cW1zL6gYh3nM2qV9xK4pT8cW1zL6gY",
        ] {
            assert!(is_made_up(s.as_bytes()), "{s}");
        }
        for s in [
            "4fQ9x2LmN8pR7tV1wZ3yB6cD0eH5jK",
            "a3f9c0e1b2d4a7c6e5f8091b2c3d4e5f",
            "vjLYMuIAP7s1HkI+X04WdbndaduLnA4GBbhqwU4i",
            "59a6656c90bd5482a90a29b9fa5ff5180bc0dbc0",
            "nQvWys81vp7hB1dx8PpD5KHXe3PYiG-kPAuNaRL63xYKwzEInncIIA3ANxN9K",
            "short1234567",
            // One id written twice.
            "730518264913-7305182649137-Lq8ZtR2mWv5KcN0pXy4Hd9Fs",
            // A short PEM block: BEGIN and END lines repeat their words.
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHq7Lw2/Xn5pR8dTz0KcV4mYb9sFj3eGu1aWh6oNi2Qy\n-----END PRIVATE KEY-----",
        ] {
            assert!(!is_made_up(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn password_placeholders() {
        for v in [
            "password",
            "changeme",
            "<password>",
            "${DB_PASSWORD}",
            "%(db_password)s",
            "****",
            "********",
            "@DB_PASS@",
            "$DB_PASS",
            "{{ db_password }}",
            "",
            "  ",
            "[password]",
            "xxxxxx",
        ] {
            assert!(is_password_placeholder(v.as_bytes()), "{v}");
        }
        for v in [
            "hunter22",
            "admin123",
            "Pass!12345",
            "RedisPass1!",
            "Xk9#mP2vL8",
        ] {
            assert!(!is_password_placeholder(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn names_are_not_keys() {
        for s in [
            "legacyrequestsigningmiddleware",
            "getUserPasswordHash",
            "LegacyRequestSigner",
            "request_signing_middleware",
            "STRIPE_WEBHOOK_HANDLER",
            "paymentServiceClient2",
            "-request-signing-middleware",
        ] {
            assert!(is_identifier(s.as_bytes()), "{s}");
        }
        for s in [
            "DL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7",
            "u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzd",
            "StPKR0CsTy4Qwb8DwkNhFdnXsiVpzz63",
            "qzmtkrplwvbnxcsdfghjklpoiuytrewq",
            "Zp4Wq8Ns2Lx6Rv0Tb3Hc7Jm1Kd5Gf9Ye",
            "vjLYMuIAP7s1HkI+X04WdbndaduLnA4GBbhqwU4i",
            "abcdefghijklmnopqrstuvwxyzabcdefghij",
        ] {
            assert!(!is_identifier(s.as_bytes()), "{s}");
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
