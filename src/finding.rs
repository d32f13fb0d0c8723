//! A finding: one secret at one place, with what is known about it. Owns the
//! fingerprint (stable when lines move) and redaction (the only way a secret
//! is shown unless the user asks for it).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::Severity;

/// Where the scanned bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    File,
    Stdin,
    Git,
    Staged,
}

/// The commit that introduced a secret found in git history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    pub id: String,
    pub author_name: String,
    pub author_email: String,
    /// RFC 3339.
    pub date: String,
    pub summary: String,
    /// Every path at which the same blob appears, with the first commit that
    /// introduced it there (the reported `path` is one of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_locations: Vec<BlobLocation>,
    /// True for objects that no ref reaches (`--all-objects`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreachable: bool,
    /// The remote repository the commit was read from (audits of
    /// `--git-url` and hosted repositories), its credentials left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// A link to the line at this commit on the repository's web host,
    /// when the host is known (GitHub, GitLab, Bitbucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobLocation {
    pub path: String,
    pub commit: String,
}

/// What a provider's answer says about a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The key authenticates (possibly restricted, out of quota, or a test key).
    Live,
    /// The provider says the key is invalid or revoked.
    Dead,
    /// No conclusion; `Verification::reason` says why.
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Live => "live",
            Verdict::Dead => "dead",
            Verdict::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a verification ended as `unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownReason {
    /// The provider answered with a status its table does not settle.
    Status,
    /// Still rate limited (429) or failing (5xx) after the retries.
    Retries,
    /// The provider answered with a redirect, which is never followed.
    Redirect,
    Timeout,
    Tls,
    Connection,
    /// No check exists for the provider, or the key is ambiguous.
    NotVerifiable,
    /// The run was interrupted (Ctrl-C) before the check finished.
    Interrupted,
    /// The provider, chosen by nearby words alone, said the key does not
    /// work there: it may be another provider's key.
    Attribution,
    /// The key is one half of a credential (an AWS secret access key) and
    /// its other half (the access key id) was not found beside it.
    NoPair,
    /// The host the key would go to is not in the run's allowed hosts
    /// (`[verify] allow_hosts`): nothing was sent.
    EgressDenied,
    /// A signed request was refused while this machine's clock is far
    /// from the provider's.
    ClockSkew,
    /// The pair was refused, but the partner was found on another line and
    /// the provider answers a wrong partner like a dead key.
    Pair,
}

impl UnknownReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownReason::Status => "status",
            UnknownReason::Retries => "retries",
            UnknownReason::Redirect => "redirect",
            UnknownReason::Timeout => "timeout",
            UnknownReason::Tls => "tls",
            UnknownReason::Connection => "connection",
            UnknownReason::NotVerifiable => "not-verifiable",
            UnknownReason::Interrupted => "interrupted",
            UnknownReason::Attribution => "attribution",
            UnknownReason::NoPair => "no-pair",
            UnknownReason::EgressDenied => "egress-denied",
            UnknownReason::ClockSkew => "clock-skew",
            UnknownReason::Pair => "pair",
        }
    }
}

/// How sure leakhound is that a finding is a real credential
/// (docs/rules.md, "Confidence"): from the rule that found it (a prefixed
/// or checksummed token is `high`, a provider's name beside a value
/// `medium`, the generic rule `medium` or `low`), then from the evidence:
/// the kind of file (a credential or config file raises it, a test
/// fixture, a documentation sample or example output lowers it), the
/// value's shape (a word-like value lowers it) and verification (a live
/// key is `high`). Ordered: `Low < Medium < High`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    #[default]
    Medium,
    High,
}

impl Confidence {
    pub const ALL: [Confidence; 3] = [Confidence::High, Confidence::Medium, Confidence::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    /// One level up, at most `High`.
    pub fn raised(self) -> Confidence {
        match self {
            Confidence::Low => Confidence::Medium,
            _ => Confidence::High,
        }
    }

    /// One level down, at least `Low`.
    pub fn lowered(self) -> Confidence {
        match self {
            Confidence::High => Confidence::Medium,
            _ => Confidence::Low,
        }
    }

    /// SARIF's `rank` (0-100): how likely the result is a true positive.
    pub fn rank(self) -> f64 {
        match self {
            Confidence::High => 90.0,
            Confidence::Medium => 60.0,
            Confidence::Low => 20.0,
        }
    }
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Confidence {
    type Err = String;

    fn from_str(s: &str) -> Result<Confidence, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Confidence::Low),
            "medium" => Ok(Confidence::Medium),
            "high" => Ok(Confidence::High),
            _ => Err(format!(
                "`{}` is no confidence level (high, medium or low)",
                crate::text::sanitize(s)
            )),
        }
    }
}

/// Findings held back by `--min-confidence`, per level.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldBack {
    #[serde(default)]
    pub medium: usize,
    #[serde(default)]
    pub low: usize,
}

impl HeldBack {
    pub fn is_empty(&self) -> bool {
        self.medium == 0 && self.low == 0
    }

    pub fn total(&self) -> usize {
        self.medium + self.low
    }

    pub fn add(&mut self, c: Confidence) {
        match c {
            Confidence::Medium => self.medium += 1,
            Confidence::Low => self.low += 1,
            // Nothing is above `high`: a `high` finding is never held back.
            Confidence::High => {}
        }
    }

    pub fn merge(&mut self, other: &HeldBack) {
        self.medium += other.medium;
        self.low += other.low;
    }
}

/// The result of asking a provider whether a key works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub verdict: Verdict,
    /// Set for `unknown` verdicts only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<UnknownReason>,
    /// The HTTP status of the last answer, if any.
    pub status: Option<u16>,
    /// A short human explanation from the provider's table (never the
    /// response body, which may echo the key).
    pub detail: String,
    /// The provider that was asked (for an ambiguous key, the one that
    /// settled it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// True when the verdict came from the on-disk cache.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
    /// For a live key, who it belongs to, as the provider's answer says
    /// (`login=octocat`), where the check reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// For a live key, what it may do (`repo`, `read:org`), where the
    /// check reads it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

impl Verification {
    /// One line for humans: `live (HTTP 402): monthly spend cap exhausted`.
    pub fn summary(&self) -> String {
        let mut s = self.verdict.to_string();
        match (self.status, self.reason) {
            (Some(status), _) => s.push_str(&format!(" (HTTP {status})")),
            (None, Some(r)) if r != UnknownReason::NotVerifiable => {
                s.push_str(&format!(" ({})", r.as_str()))
            }
            _ => {}
        }
        s.push_str(": ");
        s.push_str(&self.detail);
        if self.cached {
            s.push_str(" [cached]");
        }
        s
    }
}

/// One secret at one place. Its `Debug` form shows the redacted secret
/// only, so a debug print or a panic message cannot leak the key.
#[derive(Clone)]
pub struct Finding {
    pub rule_id: String,
    pub description: String,
    pub provider: String,
    pub severity: Severity,
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    /// The raw secret. Only reporters with `show_secrets` print it.
    pub secret: String,
    /// The secret cut to its prefix and a few characters.
    pub redacted: String,
    pub fingerprint: String,
    pub source: SourceKind,
    pub commit: Option<CommitInfo>,
    pub verification: Option<Verification>,
    pub encoding: Option<&'static str>,
    pub ambiguous: bool,
    pub alternatives: Vec<String>,
    /// Found by a generic rule (a random value assigned to a secret-named
    /// key), not by a provider's rule.
    pub generic: bool,
    /// How sure the scan is that this is a real credential.
    pub confidence: Confidence,
    /// The other halves of a multi-part credential found near this secret
    /// (the AWS access key id beside its secret access key).
    pub parts: Vec<Part>,
    /// The provider was chosen by nearby words alone (see
    /// `engine::Match::by_context`): its `dead` is not conclusive.
    pub by_context: bool,
    /// What chose the provider among rules for the same shape: the word
    /// that names it and where (`KONNECT_BASE_URL, line 5`).
    pub evidence: Option<String>,
    /// The line holding the secret, with the secret masked, control
    /// characters escaped and length bounded.
    pub snippet: String,
}

impl std::fmt::Debug for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finding")
            .field("rule_id", &self.rule_id)
            .field("provider", &self.provider)
            .field("severity", &self.severity)
            .field("path", &self.path)
            .field("line", &self.line)
            .field("column", &self.column)
            .field("secret", &self.redacted)
            .field("fingerprint", &self.fingerprint)
            .field("source", &self.source)
            .field("commit", &self.commit)
            .field("verification", &self.verification)
            .field("encoding", &self.encoding)
            .field("ambiguous", &self.ambiguous)
            .field("alternatives", &self.alternatives)
            .field("generic", &self.generic)
            .field("confidence", &self.confidence)
            .field("parts", &self.parts)
            .field("evidence", &self.evidence)
            .finish_non_exhaustive()
    }
}

impl Finding {
    /// Take the verdict into the confidence: a live key is `high`; other
    /// verdicts leave the scan's confidence as it was.
    pub fn settle_confidence(&mut self) {
        if self
            .verification
            .as_ref()
            .is_some_and(|v| v.verdict == Verdict::Live)
        {
            self.confidence = Confidence::High;
        }
    }

    /// The secret as a report may show it: raw only with `--show-secrets`.
    pub fn shown_secret(&self, show_secrets: bool) -> &str {
        if show_secrets {
            &self.secret
        } else {
            &self.redacted
        }
    }
}

/// One part of a multi-part credential, linked to the finding of the part
/// that holds the secret. Its `Debug` form shows the redacted value only.
#[derive(Clone, PartialEq, Eq)]
pub struct Part {
    pub rule_id: String,
    /// The raw value. Only reporters with `show_secrets` print it.
    pub secret: String,
    pub redacted: String,
    pub line: usize,
    pub column: usize,
}

impl Part {
    /// The value as a report may show it: raw only with `--show-secrets`.
    pub fn shown_secret(&self, show_secrets: bool) -> &str {
        if show_secrets {
            &self.secret
        } else {
            &self.redacted
        }
    }
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Part")
            .field("rule_id", &self.rule_id)
            .field("secret", &self.redacted)
            .field("line", &self.line)
            .field("column", &self.column)
            .finish()
    }
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A finding's identity across runs: the rule, the path and the secret, but
/// not the line, so that findings survive edits above them. The secret enters
/// only through a hash, so fingerprints are safe to store in baselines.
pub fn fingerprint(rule_id: &str, path: &str, secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(Sha256::digest(secret));
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Cut a secret to its literal prefix plus at most four characters, fewer
/// for short secrets, so that a redacted report never gives away a
/// guessable share of a password.
///
/// A PEM-style private key (`-----BEGIN RSA PRIVATE KEY-----…`) is shown as
/// its armour header: it names the key type, which four characters of
/// dashes would not, and it is no part of the key material.
pub fn redact(secret: &str, prefix_len: usize) -> String {
    if let Some(header) = armour_header(secret) {
        return format!("{header}…");
    }
    let prefix_len = crate::text::floor_boundary(secret, prefix_len.min(secret.len()));
    let (prefix, body) = secret.split_at(prefix_len);
    let shown = (body.chars().count() / 4).min(4);
    let visible: String = body.chars().take(shown).collect();
    format!("{prefix}{visible}…")
}

/// `-----BEGIN OPENSSH PRIVATE KEY-----` (or `---- BEGIN SSH2 … ----`): the
/// header line of an armoured key, when `secret` starts with one.
fn armour_header(secret: &str) -> Option<&str> {
    let after_dashes = secret.trim_start_matches('-');
    let dashes = secret.len() - after_dashes.len();
    if dashes < 4 {
        return None;
    }
    let rest = after_dashes
        .trim_start_matches(' ')
        .strip_prefix("BEGIN ")?;
    let kind_len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == ' '))?;
    let closing = &rest[kind_len..];
    let closing_dashes = closing.len() - closing.trim_start_matches('-').len();
    if kind_len == 0 || closing_dashes < 4 {
        return None;
    }
    let end = secret.len() - closing.len() + closing_dashes;
    Some(&secret[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_keys_are_redacted_to_their_armour_header() {
        let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAA\\n-----END OPENSSH PRIVATE KEY-----";
        assert_eq!(redact(pem, 0), "-----BEGIN OPENSSH PRIVATE KEY-----…");
        let ssh2 = "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nP2/56wAAAA";
        assert_eq!(
            redact(ssh2, 0),
            "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----…"
        );
        // Not an armour header: the usual redaction.
        assert_eq!(redact("----BEGINNING-of-a-password", 0), "----…");
    }

    #[test]
    fn redaction_keeps_prefix_and_at_most_four_characters() {
        assert_eq!(
            redact("sk-kunavo-4fQ9x2LmN8pR7tV1wZ3yB6cD0eH5jK", 10), // leakhound:allow (test fixture)
            "sk-kunavo-4fQ9…"
        );
        assert_eq!(redact("hunter2", 0), "h…");
        assert_eq!(redact("abc", 0), "…");
        // A prefix length inside a multi-byte character does not panic.
        assert_eq!(redact("éééééééé", 1), "éé…");
    }

    #[test]
    fn fingerprint_ignores_line_but_not_path_or_rule() {
        let a = fingerprint("kunavo-api-key", "a.py", b"sk-kunavo-x");
        assert_eq!(a, fingerprint("kunavo-api-key", "a.py", b"sk-kunavo-x"));
        assert_ne!(a, fingerprint("kunavo-api-key", "b.py", b"sk-kunavo-x"));
        assert_ne!(a, fingerprint("other", "a.py", b"sk-kunavo-x"));
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let secret = "sk-kunavo-u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzd"; // leakhound:allow (test fixture)
        let f = tests_support::finding("kunavo", secret);
        let shown = format!("{f:?} {f:#?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains(&f.redacted));
    }

    #[test]
    fn verification_summaries() {
        let mut v = Verification {
            verdict: Verdict::Live,
            reason: None,
            status: Some(402),
            detail: "monthly spend cap exhausted".into(),
            provider: Some("kunavo".into()),
            cached: false,
            identity: None,
            scopes: Vec::new(),
        };
        assert_eq!(v.summary(), "live (HTTP 402): monthly spend cap exhausted");
        v.verdict = Verdict::Unknown;
        v.status = None;
        v.reason = Some(UnknownReason::Timeout);
        v.detail = "timed out".into();
        v.cached = true;
        assert_eq!(v.summary(), "unknown (timeout): timed out [cached]");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["verdict"], "unknown");
        assert_eq!(json["reason"], "timeout");
    }
}

/// A finding to build tests on.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub(crate) fn finding(provider: &str, secret: &str) -> Finding {
        Finding {
            rule_id: format!("{provider}-api-key"),
            description: "test".into(),
            provider: provider.into(),
            severity: Severity::High,
            path: "a.env".into(),
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1 + secret.len(),
            secret: secret.into(),
            redacted: redact(secret, 0),
            fingerprint: fingerprint("t", "a.env", secret.as_bytes()),
            source: SourceKind::File,
            commit: None,
            verification: None,
            encoding: None,
            ambiguous: false,
            alternatives: Vec::new(),
            generic: false,
            confidence: Confidence::High,
            parts: Vec::new(),
            by_context: false,
            evidence: None,
            snippet: String::new(),
        }
    }
}
