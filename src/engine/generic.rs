//! The generic detector's filter: a value assigned to a secret-named key is
//! reported only when the key really names a secret and the value looks
//! random. Rules with `generic = true` run it after their regex (which finds
//! `key = value` in its many spellings) and before the common filters.
//!
//! The regex is deliberately broad; this is where the false alarms are
//! turned away: identifiers and word phrases, paths, hashes and versions,
//! UUIDs, and keys that name something other than a secret (`token_type`,
//! `password_file`, `page_token`) or a test fixture (`fake_token`). What is
//! left must have letters and digits, enough entropy for its length, and
//! few dictionary-like runs of letters. Tuned on CPython's standard library
//! (docs/rules.md lists what it still reports there).

use super::filters::shannon_entropy;

/// Shortest value judged: shorter random strings are rare as secrets and
/// common as codes and ids.
const MIN_LEN: usize = 12;

/// Key words that name a secret when they end the key.
const SECRET_NOUNS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "apikey",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "creds",
];

/// Words that make `key` or `pass` name a secret when they come just before
/// it: `api_key`, `accessKey`, `DB_PASS`.
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "access",
    "private",
    "secret",
    "client",
    "auth",
    "signing",
    "encryption",
    "master",
    "app",
    "license",
    "db",
    "database",
    "admin",
    "user",
    "smtp",
    "mail",
    "redis",
];

/// Words in a `…token` key that make it no credential: pagination and
/// continuation cursors (`nextForwardToken`, `NextContinuationToken`),
/// idempotency tokens (`ClientRequestToken`), parser tokens, CSRF nonces
/// in forms.
const NOT_A_CREDENTIAL: &[&str] = &[
    "page",
    "paging",
    "pagination",
    "next",
    "prev",
    "previous",
    "forward",
    "backward",
    "continuation",
    "continue",
    "cursor",
    "marker",
    "resume",
    "cancel",
    "cancellation",
    "sync",
    "csrf",
    "xsrf",
    "start",
    "end",
    "eof",
    "max",
    "min",
    "num",
    "last",
    "first",
    "request",
    "idempotency",
    "sequence",
    "change",
    "lock",
    "search",
    "query",
    "upload",
    "stream",
    "type",
];

/// Words anywhere in a key that say its value is public or is no secret
/// at all: a public key or its token (`PublicKeyToken`, `publicKey`), a
/// hash, digest or checksum of something (`sha256`, `integrity`, `etag`),
/// a version or build id.
const NOT_SECRET_WORDS: &[&str] = &[
    "public",
    "pub",
    "hash",
    "hashed",
    "digest",
    "checksum",
    "sha",
    "sha1",
    "sha256",
    "sha512",
    "md5",
    "crc",
    "integrity",
    "etag",
    "fingerprint",
    "version",
    "build",
    "revision",
    "commit",
    "nonce",
    "length",
    "len",
    "size",
    "count",
    "field",
    "label",
    "prompt",
    "hint",
    "placeholder",
    "policy",
    "regex",
    "pattern",
    "format",
];

/// Words in a key that say the value is a test fixture or an example, or
/// deliberately not a valid one (`invalidToken`, `wrong_password`: a
/// counter-example in a test; `non`/`not` before `matching`, `valid`,
/// `existent` say so too, see `is_counter_example`).
const FIXTURE_WORDS: &[&str] = &[
    "test",
    "tests",
    "testing",
    "fake",
    "dummy",
    "mock",
    "fixture",
    "example",
    "sample",
    "stub",
    "demo",
    "invalid",
    "wrong",
    "bad",
    "bogus",
    "incorrect",
    "malformed",
    "nonmatching",
    "nonexistent",
    "mismatched",
    "unmatched",
];

/// Shortest password judged: shorter values are PINs, flags and codes
/// more often than passwords.
const MIN_PASSWORD_LEN: usize = 6;

/// Is `value`, assigned to `key` (when the rule captured one), a secret the
/// generic rule should report? `before_key` is the text before the key
/// (a few bytes are enough), `quoted` whether the value stands in quotes.
///
/// A password field's value is reported however word-like it is
/// (`hunter22`, `Pass!12345`: real passwords look like words) unless it is
/// a placeholder or, unquoted, a name in code (`self.password`,
/// `proxy_passwd`); its confidence says how word-like it was
/// (`engine::confidence`). Any other secret name needs a random value.
pub(crate) fn is_generic_secret(
    before_key: &[u8],
    key: Option<&[u8]>,
    value: &[u8],
    quoted: bool,
) -> bool {
    let Some(key) = key else {
        return looks_random(value);
    };
    if !is_secret_key(key) || is_type_name(before_key, key) || is_unsigned_jwt_sample(value) {
        return false;
    }
    if looks_random(value) {
        return !is_assembly_token(before_key, key, value);
    }
    is_password_key(key) && is_password_value(value, quoted)
}

/// `"AWS::IAM::AccessKey": …`, `Microsoft.Azure.Credentials: …`: a key
/// that is a type or resource name (namespaced with `::`, or a dotted name
/// whose every part is capitalised) rather than the name of a secret.
fn is_type_name(before_key: &[u8], key: &[u8]) -> bool {
    if before_key.ends_with(b"::") || before_key.ends_with(b"\\") {
        return true;
    }
    let parts: Vec<&[u8]> = key.split(|&b| b == b'.').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| p.first().is_some_and(u8::is_ascii_uppercase))
}

/// `eyJ….eyJ….signature`: a JSON Web Token whose signature is a word or
/// a stub, written to show a token's shape. A signed token's signature is
/// a digest (43 characters for HS256), never a word; an unsigned token
/// (`alg: none`) has none at all and is still a credential to a server
/// that accepts it.
fn is_unsigned_jwt_sample(value: &[u8]) -> bool {
    if !value.starts_with(b"eyJ") || value.iter().filter(|&&b| b == b'.').count() != 2 {
        return false;
    }
    let sig = &value[value.iter().rposition(|&b| b == b'.').map_or(0, |i| i + 1)..];
    !sig.is_empty() && (sig.len() < 16 || word_like_letters(sig) * 2 >= sig.len())
}

/// `PublicKeyToken=b77a5c561934e089` in a .NET assembly identity: the
/// hash of a public key, 16 hex digits, in `Name, Version=…, Culture=…`.
fn is_assembly_token(before_key: &[u8], key: &[u8], value: &[u8]) -> bool {
    let tail = &before_key[before_key.len().saturating_sub(200)..];
    value.len() == 16
        && value.iter().all(u8::is_ascii_hexdigit)
        && (key.eq_ignore_ascii_case(b"PublicKeyToken")
            || super::filters::contains(&tail.to_ascii_lowercase(), b"version="))
}

/// Does the key name a password (its last word `password`, `passwd`,
/// `pwd`, `passphrase`, or `pass` after a qualifier)?
pub(crate) fn is_password_key(key: &[u8]) -> bool {
    let words = split_words(key);
    let Some(last) = words.last() else {
        return false;
    };
    is_password_word(last) || (last == "pass" && words.len() >= 2)
}

fn is_password_word(w: &str) -> bool {
    w.ends_with("password")
        || w.ends_with("passwd")
        || w == "pwd"
        || w == "passphrase"
        || w == "dbpass"
        || w == "dbpwd"
        || w == "pw"
}

/// A password field's value: not a placeholder, long enough, and not a
/// name in code when unquoted (`self.password`, `proxy_passwd`,
/// `getPassword`: a quoted value is a literal whatever it looks like).
fn is_password_value(value: &[u8], quoted: bool) -> bool {
    if value.len() < MIN_PASSWORD_LEN || super::filters::is_password_placeholder(value) {
        return false;
    }
    if quoted {
        return true;
    }
    let digits_or_symbols = value
        .iter()
        .any(|b| !b.is_ascii_alphabetic() && *b != b'_' && *b != b'.');
    if digits_or_symbols {
        // `self.password2`, `cfg.db_pass1`: attribute access in code.
        return !(value.contains(&b'.')
            && value
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"._".contains(b)));
    }
    // Letters only: an identifier in code (`proxy_passwd`, `self.password`,
    // `getPassword`), a type in an annotation (`password: Incomplete`,
    // `password: String`) or a plain word (`mysecret` in a `.env`).
    let capitalised =
        value[0].is_ascii_uppercase() && value[1..].iter().any(u8::is_ascii_lowercase);
    !(value.contains(&b'_') || value.contains(&b'.') || is_camel_case(value) || capitalised)
}

/// `getPassword`, `defaultPass`: a lower-case start and an upper-case
/// letter after it.
fn is_camel_case(v: &[u8]) -> bool {
    v.first().is_some_and(u8::is_ascii_lowercase) && v.iter().any(u8::is_ascii_uppercase)
}

/// Does the key name a secret? Its last word must be a secret noun (or
/// `key`/`pass` qualified by the word before), and no word may say it is
/// a test fixture, a public value, a hash or a version.
pub(crate) fn is_secret_key(key: &[u8]) -> bool {
    let mut words = split_words(key);
    // `secret_key_base` (Rails), `api_key_value`: the secret's name, then
    // a word about it.
    if words.len() >= 3
        && matches!(words.last().map(String::as_str), Some("base" | "value"))
        && words[words.len() - 2] == "key"
    {
        words.pop();
    }
    let Some(last) = words.last() else {
        return false;
    };
    if words
        .iter()
        .any(|w| FIXTURE_WORDS.contains(&w.as_str()) || NOT_SECRET_WORDS.contains(&w.as_str()))
        || is_counter_example(&words)
    {
        return false;
    }
    let before = words.len().checked_sub(2).map(|i| words[i].as_str());
    match last.as_str() {
        "key" | "pass" => before.is_some_and(|b| KEY_QUALIFIERS.contains(&b)),
        "token" => !words[..words.len() - 1]
            .iter()
            .any(|w| NOT_A_CREDENTIAL.contains(&w.as_str())),
        w => SECRET_NOUNS.contains(&w) || is_password_word(w),
    }
}

/// `nonMatchingToken`, `not_valid_secret`, `nonExistentPassword`: a
/// negation before a word of validity names a value that is meant not to
/// work. `non` alone does not (`NON_PROD_API_KEY` is a secret).
fn is_counter_example(words: &[String]) -> bool {
    words.windows(2).any(|w| {
        matches!(w[0].as_str(), "non" | "not")
            && matches!(
                w[1].as_str(),
                "matching" | "valid" | "existent" | "existing" | "working"
            )
    })
}

/// Words of an identifier in any naming style, lowercased: `AWS_SECRET_KEY`,
/// `clientSecret`, `x-api-key`, `db.password` (a quoted or prefixed key
/// keeps only its letters and digits).
fn split_words(key: &[u8]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev: u8 = 0;
    for &b in key {
        if !b.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev = 0;
            continue;
        }
        // camelCase boundary: a lower-case letter or digit, then upper case.
        if b.is_ascii_uppercase() && (prev.is_ascii_lowercase() || prev.is_ascii_digit()) {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(b.to_ascii_lowercase() as char);
        prev = b;
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Does the value look like a random string rather than a word, a name, a
/// path, a hash in a lockfile or a UUID?
pub(crate) fn looks_random(value: &[u8]) -> bool {
    if value.len() < MIN_LEN {
        return false;
    }
    if [
        &b"/"[..],
        b"./",
        b"../",
        b"~",
        b"%",
        b"sha1-",
        b"sha256-",
        b"sha384-",
        b"sha512-",
        b"md5-",
    ]
    .iter()
    .any(|p| value.starts_with(p))
    {
        return false;
    }
    if is_uuid(value) {
        return false;
    }
    let letters = value.iter().filter(|b| b.is_ascii_alphabetic()).count();
    let digits = value.iter().filter(|b| b.is_ascii_digit()).count();
    // Identifiers, phrases and numbers have one kind only; random strings of
    // this length almost always have both.
    if letters == 0 || digits == 0 {
        return false;
    }
    let min_entropy = if value.len() < 16 { 3.0 } else { 3.3 };
    if shannon_entropy(value) < min_entropy {
        return false;
    }
    word_like_letters(value) * 2 < letters
}

/// Is `value` weak evidence of a secret by its shape alone: short, low in
/// entropy, letters only, or mostly word-like runs (`hunter22`,
/// `admin123`, `RedisPass1!`)? Such a value is still a password where a
/// credential file holds it; elsewhere it lowers the confidence.
pub(crate) fn is_weak_value(value: &[u8]) -> bool {
    let letters = value.iter().filter(|b| b.is_ascii_alphabetic()).count();
    value.len() < 8
        || shannon_entropy(value) < 3.0
        || letters == value.len()
        || (letters > 0 && word_like_letters(value) * 2 >= letters)
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(v: &[u8]) -> bool {
    v.len() == 36
        && v.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// How many letters of `value` sit in runs that read like words: runs of
/// letters split at case changes (`getUserName` is get, User, Name), three
/// or more long, with vowels in a word's proportion and no long consonant
/// cluster. Random strings break into short runs.
fn word_like_letters(value: &[u8]) -> usize {
    let mut total = 0;
    let mut start = 0;
    let is_boundary = |i: usize| {
        let (a, b) = (value[i - 1], value[i]);
        !b.is_ascii_alphabetic()
            || !a.is_ascii_alphabetic()
            || (a.is_ascii_lowercase() && b.is_ascii_uppercase())
    };
    for i in 1..=value.len() {
        if i == value.len() || is_boundary(i) {
            let run = &value[start..i];
            if run.iter().all(|b| b.is_ascii_alphabetic()) && is_word_like(run) {
                total += run.len();
            }
            start = i;
        }
    }
    total
}

pub(crate) fn is_word_like(run: &[u8]) -> bool {
    if run.len() < 3 {
        return false;
    }
    let is_vowel = |b: &u8| b"aeiouyAEIOUY".contains(b);
    let vowels = run.iter().filter(|b| is_vowel(b)).count();
    if vowels * 5 < run.len() || vowels * 10 > run.len() * 7 {
        return false;
    }
    let mut cluster = 0;
    for b in run {
        cluster = if is_vowel(b) { 0 } else { cluster + 1 };
        if cluster >= 4 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_in_every_naming_style() {
        for key in [
            "password",
            "PASSWORD",
            "db_password",
            "DB_PASS",
            "dbPassword",
            "spring.datasource.password",
            "api_key",
            "apiKey",
            "x-api-key",
            "X-Api-Key",
            "apikey",
            "AWS_SECRET_ACCESS_KEY",
            "client_secret",
            "clientSecret",
            "private-key",
            "auth_token",
            "authToken",
            "Authorization",
            "\"token\"",
            ":secret",
            "credentials",
            "SMTP_PASSWD",
            "NON_PROD_API_KEY",
        ] {
            assert!(is_secret_key(key.as_bytes()), "{key}");
        }
    }

    #[test]
    fn keys_that_name_something_else() {
        for key in [
            "token_type",
            "password_file",
            "secret_name",
            "author",
            "tokenizer",
            "key",
            "sort_key",
            "page_token",
            "nextToken",
            "test_password",
            "FAKE_API_KEY",
            "mock_secret",
            "example_token",
            "passwordHash",
            "invalidToken",
            "wrong_password",
            "nonMatchingToken",
            "not_valid_secret",
            "",
        ] {
            assert!(!is_secret_key(key.as_bytes()), "{key}");
        }
    }

    #[test]
    fn random_values_pass() {
        for v in [
            "4fQ9x2LmN8pR7tV1wZ3yB6cD",
            "a3f9c0e1b2d4a7c6e5f8091b2c3d4e5f",
            "Xk9#mP2vL8qR4tN7",
            "hJ7s9Kd2LqP0zX4c",
            "vjLYMuIAP7s1HkI+X04WdbndaduLnA4GBbhqwU4i",
        ] {
            assert!(looks_random(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn identifiers_words_paths_hashes_uuids_fail() {
        for v in [
            "getUserPassword",
            "my_secret_password",
            "correct-horse-battery-staple",
            "CorrectHorseBatteryStaple",
            "password1234",
            "Password2024!",
            "/etc/ssl/private/server.key",
            "./config/secrets.yaml",
            "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
            "123e4567-e89b-12d3-a456-426614174000",
            "12345678901234",
            "short1",
            "secret_key_v2_2019",
            "%(password)s",
            "aaaaaaaa11111111",
        ] {
            assert!(!looks_random(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn password_fields_take_word_like_values() {
        let ok =
            |k: &str, v: &str, q: bool| is_generic_secret(b"", Some(k.as_bytes()), v.as_bytes(), q);
        for v in ["hunter22", "admin123", "Pass!12345", "RedisPass1!"] {
            assert!(ok("password", v, true), "{v}");
            assert!(ok("DB_PASSWORD", v, false), "{v}");
            assert!(is_weak_value(v.as_bytes()), "{v}");
        }
        assert!(ok("db_pass", "mysecret", false));
        for v in [
            "password",
            "changeme",
            "<password>",
            "${DB_PASSWORD}",
            "%(db_password)s",
            "****",
            "short",
        ] {
            assert!(!ok("password", v, true), "{v}");
        }
        // Names in code, unquoted.
        for v in [
            "self.password",
            "proxy_passwd",
            "getPassword",
            "cfg.db_password",
        ] {
            assert!(!ok("password", v, false), "{v}");
        }
        // Other secret names still need a random value.
        assert!(!ok("api_key", "hunter22", true));
        assert!(!is_weak_value(b"Xk9#mP2vL8qR4tN7"));
    }

    #[test]
    fn structure_that_is_no_secret() {
        let ok = |before: &str, k: &str, v: &str| {
            is_generic_secret(before.as_bytes(), Some(k.as_bytes()), v.as_bytes(), true)
        };
        // A type name as the key.
        assert!(!ok(
            "{\"AWS::IAM::",
            "AccessKey",
            "62d9a1c0f3b24e7d8a6c5b4f3e2d1c0b"
        ));
        // .NET assembly identities.
        assert!(!ok(
            "System.Web, Version=4.0.0.0, Culture=neutral, ",
            "PublicKeyToken",
            "b03f5f7f11d50a3a"
        ));
        // Pagination tokens, hashes, versions.
        assert!(!ok(
            "",
            "nextForwardToken",
            "f/31415926535897932384626433832795"
        ));
        assert!(!ok("", "NextContinuationToken", "1ueGcxLPRx1Tr8Xzf7kq"));
        assert!(!ok("", "ClientRequestToken", "a3f9c0e1b2d4a7c6e5f8091b"));
        assert!(!ok("", "secret_sha256", "a3f9c0e1b2d4a7c6e5f8091b2c3d4e5f"));
        assert!(!ok("", "token_version", "a3f9c0e1b2d4a7c6e5f8"));
        // A JWT with a word for its signature shows a shape; a signed or
        // unsigned one is a credential.
        assert!(!ok(
            "",
            "api_token",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.signature"
        ));
        assert!(ok(
            "",
            "api_token",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.zwZWdfRLgxL_Z1bvxbT7WrKL8ozFiA2auK7Z7GtQbU4"
        ));
        // Still secrets.
        assert!(ok("", "secret_key_base", &"a3f9c0e1b2d4a7c6".repeat(8)));
        assert!(ok("", "api_key", "a3f9c0e1b2d4a7c6e5f8091b2c3d4e5f"));
        assert!(ok("", "session_token", "a3f9c0e1b2d4a7c6e5f8091b2c3d4e5f"));
    }

    #[test]
    fn words_split_on_case_and_separators() {
        assert_eq!(
            split_words(b"AWS_SECRET_ACCESS_KEY"),
            ["aws", "secret", "access", "key"]
        );
        assert_eq!(split_words(b"clientSecret"), ["client", "secret"]);
        assert_eq!(split_words(b"x-api-key"), ["x", "api", "key"]);
        assert_eq!(split_words(b"oauth2Token"), ["oauth2", "token"]);
    }
}
