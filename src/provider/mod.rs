//! What a provider is, as data: its documented base URL and the safety
//! checks on it, how a key is sent (exactly one auth header), the read-only
//! request that tells whether a key works with the table that turns the
//! answer into a verdict, and (in [`revoke`]) how a key is revoked. The
//! built-in specs live in `rules/providers/*.toml`, embedded at compile
//! time, one file per provider family like the rules; users override the
//! base URL and revocation fields with `[providers.NAME]` ([`Settings`]).
//!
//! Verification (`verify`) and revocation (`revoke`) both build on this
//! module and on the HTTP client beside it ([`http`]: pinning, no redirects,
//! body limits, error reasons); neither imports the other.
//!
//! A check is one `GET` that must never create, spend or change anything
//! (or, for an OAuth token exchange, a `POST` minting a token nobody uses).
//! Whatever its table does not settle is `unknown` with the status seen,
//! never `live` or `dead`.
//!
//! A paired credential's check (`partner`) takes the other half from the
//! finding's parts: it may fill `{partner}` into the host, path or a header
//! (validated: letters, digits, `-`, `_`, and the host re-checked), go in a
//! Basic header, or name the key a signature is made with (`sign.rs`).
//!
//! The base-URL safety rule lives here because it applies to the built-in
//! URLs and to the user's `[providers.NAME] base_url` alike: HTTPS only,
//! plain HTTP only to a loopback address, no credentials, query or fragment
//! in the URL.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use reqwest::Url;
use serde::Deserialize;

use crate::error::{describe_toml_error, Error, Result};
use crate::finding::{UnknownReason, Verdict};

pub mod docs;
pub mod http;
pub mod revoke;
pub(crate) mod sign;

macro_rules! builtin_spec {
    ($name:literal) => {
        (
            concat!("rules/providers/", $name, ".toml"),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/rules/providers/",
                $name,
                ".toml"
            )),
        )
    };
}

/// The built-in provider spec files, embedded at compile time; a new file is
/// added here.
pub const BUILTIN_PROVIDER_FILES: &[(&str, &str)] = &[
    builtin_spec!("gateways"),
    builtin_spec!("ai"),
    builtin_spec!("vcs"),
    builtin_spec!("saas"),
    builtin_spec!("services-ai"),
    builtin_spec!("devops"),
    builtin_spec!("cloud"),
    builtin_spec!("observability"),
    builtin_spec!("comms"),
    builtin_spec!("productivity"),
    builtin_spec!("payments"),
    builtin_spec!("data"),
    builtin_spec!("paired"),
];

/// `[providers.NAME]` in a config file: where this provider's checks and
/// revocations go, when the user overrides the built-in spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The provider's API base URL as it documents it, `/v1` included.
    pub base_url: Option<String>,
    /// `[providers.NAME.revoke]`: replaces fields of the built-in
    /// revocation spec (docs/revoke.md).
    pub revoke: Option<revoke::RevokeSpec>,
    /// Replaces the spec's `requests_per_second` (a lower rate for a shared
    /// account, a higher one for a local gateway).
    pub requests_per_second: Option<f64>,
    /// Replaces the spec's `concurrency`.
    pub concurrency: Option<usize>,
}

/// A raw key on its way to a provider. Its `Debug` never shows it and it
/// has no `Display`, so it cannot slip into a log line or an error.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A provider spec file: `[[providers]]` entries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderFile {
    #[serde(default)]
    providers: Vec<ProviderSpec>,
}

/// One provider as written in `rules/providers/*.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    /// The provider id the rules use (`provider = "kunavo"`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The API base URL as the provider documents it (`/v1` included).
    pub base_url: String,
    /// Where the check and its status table come from.
    #[serde(default)]
    pub references: Vec<String>,
    pub verify: CheckSpec,
    /// How to revoke a key through the provider's admin API, if it can be
    /// (`src/revoke/`).
    #[serde(default)]
    pub revoke: Option<revoke::RevokeSpec>,
}

/// The verification request and how to read its answer.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// `GET`; `POST` only for a token exchange (`form` or `google-jwt`,
    /// with `side_effects` saying what it does).
    #[serde(default = "default_method")]
    pub method: String,
    /// Appended to the base URL: `/models` gives `GET {base_url}/models`.
    pub path: String,
    /// `"bearer"`, `"x-api-key"`, `{ header = "PRIVATE-TOKEN" }`,
    /// `{ header = "Authorization", prefix = "token " }`, or HTTP Basic with
    /// the key as the password (`{ basic_user = "api" }`) or as the user
    /// name (`{ basic_password = "" }`). Always exactly one header. Paired
    /// credentials (with `partner`): `"basic-partner"` (Basic
    /// `PARTNER:KEY`), `"aws-sigv4"` (with `sigv4`), `"azure-shared-key"`,
    /// `"google-jwt"` (a POST whose form is the signed assertion).
    pub auth: AuthSpec,
    /// Extra static headers (`anthropic-version`, `Accept`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Key kinds this check can judge, by prefix; empty = every key of the
    /// provider. A Slack webhook URL sent to `auth.test` would read as a
    /// dead token, so such kinds are left out and come back `unknown`.
    #[serde(default)]
    pub secret_prefixes: Vec<String>,
    /// Key kinds this check can judge, by rule id, for kinds a prefix does
    /// not tell apart (Datadog's API key from its application key); empty =
    /// every rule of the provider.
    #[serde(default)]
    pub rules: Vec<String>,
    /// What a live answer says about the key: JSON pointers (RFC 6901) into
    /// the body, `/login`, recorded as `verification.identity`.
    #[serde(default)]
    pub identity: Vec<String>,
    /// A response header naming the key's owner (`openai-organization`).
    #[serde(default)]
    pub identity_header: Option<String>,
    /// A JSON pointer to the key's scopes (an array of strings or one
    /// space- or comma-separated string), recorded as `verification.scopes`.
    #[serde(default)]
    pub scopes: Option<String>,
    /// A response header listing the key's scopes (`x-oauth-scopes`).
    #[serde(default)]
    pub scopes_header: Option<String>,
    /// What the check may cost or change, for docs/verify.md; every check
    /// is a read, so this says `none` unless something is worth saying.
    /// Required for a `POST` (a token exchange).
    #[serde(default)]
    pub side_effects: Option<String>,
    /// A static query string (`Action=GetCallerIdentity&Version=2011-06-15`).
    #[serde(default)]
    pub query: Option<String>,
    /// The form body of a `POST` token exchange
    /// (`grant_type=client_credentials`).
    #[serde(default)]
    pub form: Option<String>,
    /// The other half of a paired credential (docs/verify.md#paired-credentials).
    #[serde(default)]
    pub partner: Option<PartnerSpec>,
    /// The SigV4 region and service for `auth = "aws-sigv4"`.
    #[serde(default)]
    pub sigv4: Option<SigV4Spec>,
    /// Requests per second to this provider at most, retries included
    /// (the provider's documented rate limit).
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    /// Checks in flight at once for this provider at most (below the
    /// run's `--verify-concurrency`-per-provider bound).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Status table, first match wins.
    pub responses: Vec<ResponseRule>,
}

fn default_method() -> String {
    "GET".into()
}

/// `[providers.verify.partner]`: where the other half of a paired
/// credential comes from and what it must look like.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerSpec {
    /// The part rules (the finding's `parts`) that hold it, by preference.
    pub rules: Vec<String>,
    /// What it must match, whole (`^AC[0-9a-f]{32}$`); a partner that
    /// does not is not sent anywhere.
    pub pattern: String,
    /// What it is called, for details (`account SID`).
    pub name: String,
    /// Record it as the key's identity under this label (a service
    /// account's e-mail: the token answer does not name it).
    #[serde(default)]
    pub identity: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigV4Spec {
    pub region: String,
    pub service: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum AuthSpec {
    Named(String),
    /// `{ header = "NAME" }`.
    Header(HeaderAuth),
    /// `{ header = "Authorization", prefix = "token " }`: verification only.
    Prefixed(PrefixedAuth),
    /// `{ basic_user = "api" }` or `{ basic_password = "" }`: verification only.
    Basic(BasicAuth),
}

/// Each form refuses fields it does not know: untagged, a `prefix` next
/// to `header` would otherwise be dropped silently and the key sent bare.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderAuth {
    pub header: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixedAuth {
    pub header: String,
    pub prefix: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default)]
    pub basic_user: Option<String>,
    #[serde(default)]
    pub basic_password: Option<String>,
}

/// How the key is sent: always exactly one header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer KEY`.
    Bearer,
    /// `NAME: KEY` (`x-api-key`, `PRIVATE-TOKEN`).
    Header(String),
    /// `NAME: PREFIXKEY` (`Authorization: token KEY`, `Authorization: Bot KEY`).
    Prefixed { header: String, prefix: String },
    /// `Authorization: Basic base64(user:password)`, the key standing in
    /// for whichever of the two is `None`.
    Basic {
        user: Option<String>,
        password: Option<String>,
    },
    /// `Authorization: Basic base64(partner:key)`: Twilio's account SID and
    /// auth token, an OAuth client id and secret.
    BasicPartner,
    /// AWS Signature Version 4, the partner being the access key id.
    AwsSigV4 { region: String, service: String },
    /// Azure Storage Shared Key, the partner being the account name.
    AzureSharedKey,
    /// A Google service account's signed JWT exchanged at the token
    /// endpoint, the partner being the account's e-mail. No header.
    GoogleJwt,
}

impl Auth {
    /// The header name carrying the key, lowercase.
    pub fn header_name(&self) -> &str {
        match self {
            Auth::Bearer
            | Auth::Basic { .. }
            | Auth::BasicPartner
            | Auth::AwsSigV4 { .. }
            | Auth::AzureSharedKey
            | Auth::GoogleJwt => "authorization",
            Auth::Header(h) | Auth::Prefixed { header: h, .. } => h,
        }
    }

    /// Does this auth need the other half of a paired credential?
    pub fn is_paired(&self) -> bool {
        matches!(
            self,
            Auth::BasicPartner | Auth::AwsSigV4 { .. } | Auth::AzureSharedKey | Auth::GoogleJwt
        )
    }

    /// The value of that header for `secret` (and its partner, for Basic
    /// with a partner). The signed kinds ([`Auth::is_paired`] but Basic)
    /// compute theirs per request (`http.rs`); here they give the key
    /// itself, which is what an echoing server must not bring back.
    pub(crate) fn header_value(&self, secret: &str, partner: Option<&str>) -> String {
        use base64::Engine as _;
        let basic = |user: &str, password: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )
        };
        match self {
            Auth::Bearer => format!("Bearer {secret}"),
            Auth::Header(_) => secret.to_string(),
            Auth::Prefixed { prefix, .. } => format!("{prefix}{secret}"),
            Auth::Basic { user, password } => basic(
                user.as_deref().unwrap_or(secret),
                password.as_deref().unwrap_or(secret),
            ),
            Auth::BasicPartner => basic(partner.unwrap_or_default(), secret),
            Auth::AwsSigV4 { .. } | Auth::AzureSharedKey | Auth::GoogleJwt => secret.to_string(),
        }
    }

    /// How docs/verify.md names it: `Bearer`, `x-api-key`, `Authorization: token`.
    pub fn describe(&self) -> String {
        match self {
            Auth::Bearer => "Bearer".into(),
            Auth::Header(h) => format!("`{h}`"),
            Auth::Prefixed { header, prefix } => format!("`{header}: {}`", prefix.trim_end()),
            Auth::Basic {
                user: Some(u),
                password: None,
            } => format!("Basic `{u}:KEY`"),
            Auth::Basic { .. } => "Basic `KEY:`".into(),
            Auth::BasicPartner => "Basic `PARTNER:KEY`".into(),
            Auth::AwsSigV4 { region, service } => format!("SigV4 (`{region}`/`{service}`)"),
            Auth::AzureSharedKey => "Shared Key signature".into(),
            Auth::GoogleJwt => "RS256 JWT assertion (form body)".into(),
        }
    }
}

/// One row of a status table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseRule {
    pub status: u16,
    pub verdict: Verdict,
    pub detail: String,
    /// The row applies only if the body contains one of these (ASCII
    /// case-insensitive), e.g. `insufficient_quota`.
    #[serde(default)]
    pub body_contains: Vec<String>,
    /// The row applies only to keys starting with this (a key kind, e.g.
    /// Konnect's `sk_test_`).
    #[serde(default)]
    pub secret_prefix: Option<String>,
}

/// A validated provider check, ready to run.
#[derive(Clone, Debug)]
pub struct Check {
    pub provider: String,
    pub name: String,
    /// For a base URL with `{partner}` in its host, the base URL with a
    /// sample partner (the real one is filled in per key).
    pub base_url: Url,
    /// `base_url` + `path` (+ `query`).
    pub endpoint: Url,
    /// `POST` only for a token exchange ([`CheckSpec::form`], Google's JWT).
    pub post: bool,
    pub form: Option<String>,
    /// The base URL and path as written, when either holds `{partner}`.
    template: Option<(String, String)>,
    pub partner: Option<Partner>,
    pub requests_per_second: Option<f64>,
    pub concurrency: Option<usize>,
    pub auth: Auth,
    pub headers: Vec<(String, String)>,
    pub secret_prefixes: Vec<String>,
    pub rules: Vec<String>,
    pub identity: Vec<String>,
    pub identity_header: Option<String>,
    pub scopes: Option<String>,
    pub scopes_header: Option<String>,
    pub responses: Vec<ResponseRule>,
}

/// The other half of a paired credential, validated.
#[derive(Clone, Debug)]
pub struct Partner {
    pub rules: Vec<String>,
    pub pattern: regex::Regex,
    pub name: String,
    pub identity: Option<String>,
}

/// The characters a partner may hold where it becomes part of a URL or a
/// header (whatever its spec's pattern says): no `.`, `/`, `@`, `:` or `%`,
/// so repository content cannot steer a request to another host or path.
fn is_url_safe_partner(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The sample partner the templates are validated with.
const SAMPLE_PARTNER: &str = "partner";

/// What the table says about one answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    pub verdict: Verdict,
    pub reason: Option<UnknownReason>,
    pub detail: String,
}

impl Check {
    /// Build a check from a spec, with the user's base URL if configured.
    pub fn new(
        spec: &ProviderSpec,
        base_url_override: Option<&str>,
        origin: &str,
    ) -> Result<Check> {
        let fail = |message: String| Error::RuleFile {
            origin: origin.to_string(),
            message: format!("provider `{}`: {message}", spec.id),
        };
        let v = &spec.verify;
        if !v.path.starts_with('/') || v.path.contains(['?', '#', '\\']) || v.path.contains("..") {
            return Err(fail(format!(
                "verify.path `{}` must start with `/` and hold no `?`, `#`, `\\` or `..`",
                v.path
            )));
        }
        let auth = match &v.auth {
            AuthSpec::Named(n) if n == "bearer" => Auth::Bearer,
            AuthSpec::Named(n) if n == "x-api-key" => Auth::Header("x-api-key".into()),
            AuthSpec::Named(n) if n == "basic-partner" => Auth::BasicPartner,
            AuthSpec::Named(n) if n == "azure-shared-key" => Auth::AzureSharedKey,
            AuthSpec::Named(n) if n == "google-jwt" => Auth::GoogleJwt,
            AuthSpec::Named(n) if n == "aws-sigv4" => {
                let Some(SigV4Spec { region, service }) = &v.sigv4 else {
                    return Err(fail(
                        "auth `aws-sigv4` needs verify.sigv4 = { region, service }".into(),
                    ));
                };
                let word = |w: &str| {
                    !w.is_empty()
                        && w.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                };
                if !word(region) || !word(service) {
                    return Err(fail(
                        "verify.sigv4: region and service are lowercase words".into(),
                    ));
                }
                Auth::AwsSigV4 {
                    region: region.clone(),
                    service: service.clone(),
                }
            }
            AuthSpec::Named(n) => {
                return Err(fail(format!(
                    "verify.auth `{n}`: use \"bearer\", \"x-api-key\", {{ header = \"NAME\" }}, \
                     \"basic-partner\", \"aws-sigv4\", \"azure-shared-key\" or \"google-jwt\""
                )))
            }
            AuthSpec::Header(HeaderAuth { header }) => {
                if !is_token(header) {
                    return Err(fail(format!(
                        "verify.auth header `{header}` is not a header name"
                    )));
                }
                Auth::Header(header.to_ascii_lowercase())
            }
            AuthSpec::Prefixed(PrefixedAuth { header, prefix }) => {
                if !is_token(header) {
                    return Err(fail(format!(
                        "verify.auth header `{header}` is not a header name"
                    )));
                }
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                    return Err(fail(format!(
                        "verify.auth prefix `{prefix}` must be printable ASCII"
                    )));
                }
                Auth::Prefixed {
                    header: header.to_ascii_lowercase(),
                    prefix: prefix.clone(),
                }
            }
            AuthSpec::Basic(BasicAuth {
                basic_user,
                basic_password,
            }) => {
                if basic_user.is_some() == basic_password.is_some() {
                    return Err(fail(
                        "verify.auth: set exactly one of basic_user (the key is the password) \
                         and basic_password (the key is the user name)"
                            .into(),
                    ));
                }
                if basic_user
                    .as_deref()
                    .is_some_and(|u| u.contains(':') || u.is_empty())
                {
                    return Err(fail(
                        "verify.auth basic_user must be non-empty without `:`".into(),
                    ));
                }
                Auth::Basic {
                    user: basic_user.clone(),
                    password: basic_password.clone(),
                }
            }
        };
        if v.sigv4.is_some() && !matches!(auth, Auth::AwsSigV4 { .. }) {
            return Err(fail("verify.sigv4 is for auth `aws-sigv4` only".into()));
        }
        // A check reads; the only writes allowed are token exchanges, which
        // mint a short-lived token nobody uses, and the spec must say so.
        let post = match v.method.as_str() {
            "GET" => false,
            "POST" if (v.form.is_some() || auth == Auth::GoogleJwt) && v.side_effects.is_some() => {
                true
            }
            "POST" => {
                return Err(fail(
                    "verify.method POST is only for a token exchange: it needs `form` \
                     (or auth `google-jwt`) and `side_effects` saying what it does"
                        .into(),
                ))
            }
            other => {
                return Err(fail(format!(
                "verify.method `{other}`: only GET is allowed (a check must not change anything)"
            )))
            }
        };
        if auth == Auth::GoogleJwt && !(post && v.form.is_none()) {
            return Err(fail(
                "auth `google-jwt` is a POST without `form` (the assertion is the form)".into(),
            ));
        }
        if v.form.is_some() && !post {
            return Err(fail("verify.form needs method POST".into()));
        }
        let static_text = |what: &str, text: &Option<String>| -> Result<()> {
            match text {
                Some(t)
                    if t.is_empty()
                        || !t
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"=&_.-:".contains(&b)) =>
                {
                    Err(fail(format!(
                        "verify.{what} `{t}` may hold only letters, digits and `=&_.-:`"
                    )))
                }
                _ => Ok(()),
            }
        };
        static_text("query", &v.query)?;
        static_text("form", &v.form)?;
        let partner = match &v.partner {
            None => None,
            Some(p) => {
                if p.rules.is_empty() {
                    return Err(fail("verify.partner.rules is empty".into()));
                }
                if !p.pattern.starts_with('^') || !p.pattern.ends_with('$') {
                    return Err(fail(format!(
                        "verify.partner.pattern `{}` must be anchored (`^…$`)",
                        p.pattern
                    )));
                }
                let pattern = regex::Regex::new(&p.pattern)
                    .map_err(|e| fail(format!("verify.partner.pattern: {e}")))?;
                Some(Partner {
                    rules: p.rules.clone(),
                    pattern,
                    name: p.name.clone(),
                    identity: p.identity.clone(),
                })
            }
        };
        if auth.is_paired() && partner.is_none() {
            return Err(fail(
                "a paired auth (basic-partner, aws-sigv4, azure-shared-key, google-jwt) \
                 needs verify.partner"
                    .into(),
            ));
        }
        for (what, pointer) in v
            .identity
            .iter()
            .map(|p| ("identity", p))
            .chain(v.scopes.iter().map(|p| ("scopes", p)))
        {
            let xml = pointer.len() > 2
                && pointer.starts_with('<')
                && pointer.ends_with('>')
                && pointer[1..pointer.len() - 1]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric());
            if !(pointer.starts_with('/') || what == "identity" && xml) {
                return Err(fail(format!(
                    "verify.{what} `{pointer}` is not a JSON pointer (`/login`)"
                )));
            }
        }
        for (what, h) in [
            ("identity_header", &v.identity_header),
            ("scopes_header", &v.scopes_header),
        ] {
            if let Some(h) = h {
                if !is_token(h) {
                    return Err(fail(format!("verify.{what} `{h}` is not a header name")));
                }
            }
        }
        let mut headers = Vec::new();
        for (name, value) in &v.headers {
            let lower = name.to_ascii_lowercase();
            if !is_token(name) || value.contains(['\r', '\n']) {
                return Err(fail(format!("verify.headers: bad header `{name}`")));
            }
            // Exactly one header carries the key: no static header may
            // duplicate it or add a second credential.
            if lower == auth.header_name() || is_credential_header(&lower) || lower == "host" {
                return Err(fail(format!(
                    "verify.headers: `{name}` would send a second credential header"
                )));
            }
            headers.push((lower, value.clone()));
        }
        if v.responses.is_empty() {
            return Err(fail("verify.responses is empty".into()));
        }
        let mut seen = HashSet::new();
        for r in &v.responses {
            if !(100..=599).contains(&r.status) {
                return Err(fail(format!(
                    "verify.responses: status {} out of range",
                    r.status
                )));
            }
            let key = (r.status, r.body_contains.clone(), r.secret_prefix.clone());
            if !seen.insert(key) {
                return Err(fail(format!(
                    "verify.responses: status {} listed twice with the same conditions",
                    r.status
                )));
            }
        }
        let base = base_url_override.unwrap_or(&spec.base_url);
        let templated = |t: &str| t.contains("{partner}");
        let header_templated = headers.iter().any(|(_, v)| templated(v));
        if (templated(base) || templated(&v.path) || header_templated) && partner.is_none() {
            return Err(fail(
                "`{partner}` is used but verify.partner is not set".into(),
            ));
        }
        // `{partner}` in a base URL only opens its host name
        // (`https://{partner}-dsn.algolia.net`), once.
        if templated(base)
            && (base.matches("{partner}").count() != 1
                || !(base.starts_with("https://{partner}") || base.starts_with("http://{partner}")))
        {
            let m = "`{partner}` may only begin the host name";
            return Err(if base_url_override.is_some() {
                Error::Usage(format!("[providers.{}] base_url `{base}`: {m}", spec.id))
            } else {
                fail(format!("base_url `{base}`: {m}"))
            });
        }
        let base_url = check_base_url(&base.replace("{partner}", SAMPLE_PARTNER)).map_err(|m| {
            if base_url_override.is_some() {
                Error::Usage(format!("[providers.{}] base_url `{base}`: {m}", spec.id))
            } else {
                fail(format!("base_url `{base}`: {m}"))
            }
        })?;
        let mut endpoint =
            endpoint(&base_url, &v.path.replace("{partner}", SAMPLE_PARTNER)).map_err(fail)?;
        endpoint.set_query(v.query.as_deref());
        let template =
            (templated(base) || templated(&v.path)).then(|| (base.to_string(), v.path.clone()));
        if partner.is_some() && !auth.is_paired() && template.is_none() && !header_templated {
            return Err(fail(
                "verify.partner is set but neither the auth nor a `{partner}` uses it".into(),
            ));
        }
        let positive = |what: &str, n: Option<f64>| -> Result<()> {
            match n {
                Some(n) if !(n > 0.0 && n.is_finite()) => {
                    Err(fail(format!("verify.{what} must be a positive number")))
                }
                _ => Ok(()),
            }
        };
        positive("requests_per_second", v.requests_per_second)?;
        if v.concurrency == Some(0) {
            return Err(fail("verify.concurrency must be at least 1".into()));
        }
        Ok(Check {
            provider: spec.id.clone(),
            name: spec.name.clone(),
            base_url,
            endpoint,
            post,
            form: v.form.clone(),
            template,
            partner,
            requests_per_second: v.requests_per_second,
            concurrency: v.concurrency,
            auth,
            headers,
            secret_prefixes: v.secret_prefixes.clone(),
            rules: v.rules.clone(),
            identity: v.identity.clone(),
            identity_header: v.identity_header.as_ref().map(|h| h.to_ascii_lowercase()),
            scopes: v.scopes.clone(),
            scopes_header: v.scopes_header.as_ref().map(|h| h.to_ascii_lowercase()),
            responses: v.responses.clone(),
        })
    }

    /// The URL to ask about a key whose partner is `partner`: the endpoint
    /// with `{partner}` filled in. The partner must match the spec's
    /// pattern and hold only `A-Z a-z 0-9 - _`; the result must stay on the
    /// template's host (checked again, not assumed).
    pub fn endpoint_for(&self, partner: Option<&str>) -> std::result::Result<Url, String> {
        let Some((base, path)) = &self.template else {
            return Ok(self.endpoint.clone());
        };
        let Some(value) = partner.filter(|p| self.partner_fits(p) && is_url_safe_partner(p)) else {
            return Err("the partner does not fit the check's URL".into());
        };
        let base_url = check_base_url(&base.replace("{partner}", value))?;
        let expected_host = self.base_url.host_str().unwrap_or_default().replacen(
            SAMPLE_PARTNER,
            &value.to_ascii_lowercase(),
            usize::from(base.contains("{partner}")),
        );
        if base_url.host_str() != Some(expected_host.as_str()) {
            return Err("the partner would change the host".into());
        }
        let mut url = endpoint(&base_url, &path.replace("{partner}", value))?;
        url.set_query(self.endpoint.query());
        Ok(url)
    }

    /// The endpoint as docs show it: `{partner}` where the partner goes.
    pub fn display_endpoint(&self) -> String {
        match &self.template {
            None => self.endpoint.to_string(),
            Some((base, path)) => {
                let mut s = format!("{}{path}", base.trim_end_matches('/'));
                if let Some(q) = self.endpoint.query() {
                    s.push('?');
                    s.push_str(q);
                }
                s
            }
        }
    }

    /// Does `value` look like this check's partner (its spec's pattern)?
    pub fn partner_fits(&self, value: &str) -> bool {
        self.partner
            .as_ref()
            .is_some_and(|p| p.pattern.is_match(value))
    }

    /// The static headers with `{partner}` filled in; `None` if a header
    /// needs a partner that cannot go into a header.
    pub(crate) fn headers_for(&self, partner: Option<&str>) -> Option<Vec<(String, String)>> {
        self.headers
            .iter()
            .map(|(n, v)| {
                if v.contains("{partner}") {
                    let p = partner.filter(|p| is_url_safe_partner(p))?;
                    Some((n.clone(), v.replace("{partner}", p)))
                } else {
                    Some((n.clone(), v.clone()))
                }
            })
            .collect()
    }

    /// Can this check judge `secret`, found by rule `rule_id` (its key kind
    /// is one the check knows)?
    pub fn applies_to(&self, rule_id: &str, secret: &str) -> bool {
        (self.rules.is_empty() || self.rules.iter().any(|r| r == rule_id))
            && (self.secret_prefixes.is_empty()
                || self
                    .secret_prefixes
                    .iter()
                    .any(|p| secret.starts_with(p.as_str())))
    }

    /// Can this check judge some keys of rule `rule_id`, whose example
    /// secrets and keywords are `samples`? (For `rules list`.)
    pub fn may_judge_rule(&self, rule_id: &str, samples: &[&str]) -> bool {
        (self.rules.is_empty() || self.rules.iter().any(|r| r == rule_id))
            && (self.secret_prefixes.is_empty()
                || samples.iter().any(|s| {
                    self.secret_prefixes
                        .iter()
                        .any(|p| s.starts_with(p.as_str()))
                }))
    }

    /// What a live answer says about the key: its owner and its scopes,
    /// read from the body and headers the spec names. A value holding the
    /// key itself (a server echoing it) is dropped; values are cut short and
    /// their control characters removed, since they end up on a terminal.
    pub fn describe_key(
        &self,
        body: &[u8],
        header: impl Fn(&str) -> Option<String>,
        secret: &str,
        partner: Option<&str>,
    ) -> (Option<String>, Vec<String>) {
        let json: Option<serde_json::Value> =
            if !self.identity.iter().any(|p| p.starts_with('/')) && self.scopes.is_none() {
                None
            } else {
                serde_json::from_slice(body).ok()
            };
        // The key, and the credential as sent (Basic: base64 of it), must
        // not come back through an echoing server.
        let sent = self.auth.header_value(secret, partner);
        let credential = sent.rsplit(' ').next().unwrap_or(&sent).to_string();
        let clean = |s: &str| -> Option<String> {
            let s: String = s.chars().filter(|c| !c.is_control()).take(120).collect();
            let s = s.trim().to_string();
            // A part of the key (8 characters or more) is as bad as the key.
            let leaks = [secret, credential.as_str()]
                .iter()
                .any(|k| s.contains(k) || (s.len() >= 8 && k.contains(s.as_str())));
            (!s.is_empty() && !leaks).then_some(s)
        };
        let mut parts = Vec::new();
        if let (Some(label), Some(p)) = (
            self.partner.as_ref().and_then(|p| p.identity.as_ref()),
            partner,
        ) {
            if let Some(p) = clean(p) {
                parts.push(format!("{label}={p}"));
            }
        }
        if let Some(h) = &self.identity_header {
            if let Some(v) = header(h).as_deref().and_then(clean) {
                parts.push(format!("{h}={v}"));
            }
        }
        for tag in self.identity.iter().filter(|p| p.starts_with('<')) {
            let close = format!("</{}", &tag[1..]);
            let text = String::from_utf8_lossy(body);
            let value = text.find(tag.as_str()).and_then(|at| {
                let rest = &text[at + tag.len()..];
                rest.find(&close).map(|end| rest[..end].to_string())
            });
            if let Some(v) = value.as_deref().and_then(clean) {
                parts.push(format!("{}={v}", &tag[1..tag.len() - 1]));
            }
        }
        if let Some(json) = &json {
            for pointer in self.identity.iter().filter(|p| p.starts_with('/')) {
                let value = match json.pointer(pointer) {
                    Some(serde_json::Value::String(s)) => clean(s),
                    Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                        Some(v.to_string())
                    }
                    _ => None,
                };
                if let Some(v) = value {
                    let name = pointer.rsplit('/').next().unwrap_or(pointer);
                    parts.push(format!("{name}={v}"));
                }
            }
        }
        let identity = (!parts.is_empty()).then(|| parts.join(", "));
        let mut scopes: Vec<String> = Vec::new();
        let split = |s: &str| -> Vec<String> { s.split([',', ' ']).filter_map(clean).collect() };
        if let Some(h) = &self.scopes_header {
            if let Some(v) = header(h) {
                scopes.extend(split(&v));
            }
        }
        if let (Some(json), Some(pointer)) = (&json, &self.scopes) {
            match json.pointer(pointer) {
                Some(serde_json::Value::Array(items)) => scopes.extend(
                    items
                        .iter()
                        .filter_map(serde_json::Value::as_str)
                        .filter_map(clean),
                ),
                Some(serde_json::Value::String(s)) => scopes.extend(split(s)),
                _ => {}
            }
        }
        scopes.truncate(100);
        (identity, scopes)
    }

    /// Read one answer through the status table. `body` is at most the
    /// first 64 KiB; it is matched against, never copied into the detail.
    pub fn classify(&self, status: u16, body: &[u8], secret: &str) -> Classified {
        for r in &self.responses {
            if r.status != status {
                continue;
            }
            if let Some(p) = &r.secret_prefix {
                if !secret.starts_with(p.as_str()) {
                    continue;
                }
            }
            if !r.body_contains.is_empty()
                && !r
                    .body_contains
                    .iter()
                    .any(|needle| contains_ci(body, needle))
            {
                continue;
            }
            return Classified {
                verdict: r.verdict,
                reason: (r.verdict == Verdict::Unknown).then_some(UnknownReason::Status),
                detail: r.detail.clone(),
            };
        }
        let (reason, detail) = if (300..400).contains(&status) {
            (
                UnknownReason::Redirect,
                "redirect not followed (a key is only sent to its provider's base URL)".to_string(),
            )
        } else {
            (
                UnknownReason::Status,
                format!("HTTP {status} is not in {}'s status table", self.name),
            )
        };
        Classified {
            verdict: Verdict::Unknown,
            reason: Some(reason),
            detail,
        }
    }
}

/// Is `url` a base URL a key may be sent to? HTTPS, or plain HTTP to a
/// loopback address (tests, local gateways); no user info, query or fragment.
pub fn check_base_url(url: &str) -> std::result::Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) => {}
        "http" => {
            return Err(
                "plain http is allowed only to a loopback address (127.0.0.1, ::1, localhost); use https"
                    .into(),
            )
        }
        other => return Err(format!("scheme `{other}` is not allowed; use https")),
    }
    if parsed.host_str().map_or(true, str::is_empty) {
        return Err("no host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not hold a user name or password".into());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("must not hold a query or fragment".into());
    }
    Ok(parsed)
}

/// True for 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `base` + `path`, checked to stay on the base's scheme, host and port.
fn endpoint(base: &Url, path: &str) -> std::result::Result<Url, String> {
    let joined = format!("{}{path}", base.as_str().trim_end_matches('/'));
    let url = Url::parse(&joined).map_err(|e| format!("endpoint `{joined}`: {e}"))?;
    if url.scheme() != base.scheme()
        || url.host() != base.host()
        || url.port_or_known_default() != base.port_or_known_default()
    {
        return Err(format!("endpoint `{joined}` leaves the base URL"));
    }
    Ok(url)
}

/// Headers that carry credentials: a spec's static headers may set none of
/// them, so exactly one header (the spec's own auth) carries a key or token.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "cookie",
    "proxy-authorization",
];

/// Is `lower` (a lowercased header name) one that carries credentials?
pub(crate) fn is_credential_header(lower: &str) -> bool {
    CREDENTIAL_HEADERS.contains(&lower)
}

/// An HTTP header name (RFC 9110 token characters only).
pub(crate) fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Does `haystack` contain `needle`, ASCII case-insensitively?
pub(crate) fn contains_ci(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Parse a provider spec file's text. `origin` names it in errors.
pub fn parse_provider_file(origin: &str, text: &str) -> Result<Vec<ProviderSpec>> {
    let file: ProviderFile = toml::from_str(text).map_err(|e| Error::RuleFile {
        origin: origin.to_string(),
        message: describe_toml_error(text, &e),
    })?;
    Ok(file.providers)
}

/// The checks of every built-in provider spec, at their built-in URLs.
pub fn builtin_checks() -> Result<Vec<Check>> {
    builtin_providers()?
        .iter()
        .map(|(origin, s)| Check::new(s, None, origin))
        .collect()
}

/// Every built-in provider spec with the file it came from, ids unique.
pub fn builtin_providers() -> Result<Vec<(&'static str, ProviderSpec)>> {
    let mut out: Vec<(&'static str, ProviderSpec)> = Vec::new();
    for (origin, text) in BUILTIN_PROVIDER_FILES {
        for spec in parse_provider_file(origin, text)? {
            if out.iter().any(|(_, s)| s.id == spec.id) {
                return Err(Error::RuleFile {
                    origin: origin.to_string(),
                    message: format!("provider `{}` is defined twice", spec.id),
                });
            }
            out.push((origin, spec));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks() -> Vec<Check> {
        builtin_providers()
            .unwrap()
            .iter()
            .map(|(origin, s)| Check::new(s, None, origin).unwrap())
            .collect()
    }

    fn check(id: &str) -> Check {
        checks().into_iter().find(|c| c.provider == id).unwrap()
    }

    #[test]
    fn builtin_specs_load_and_are_https_get() {
        let all = checks();
        for id in ["kunavo", "pinaivu", "konnect", "synstar", "kindo"] {
            assert!(all.iter().any(|c| c.provider == id), "no spec for {id}");
        }
        for c in &all {
            assert_eq!(c.endpoint.scheme(), "https", "{}", c.provider);
            assert_eq!(c.endpoint.host(), c.base_url.host());
        }
    }

    #[test]
    fn base_urls_must_be_https_or_loopback() {
        assert!(check_base_url("https://api.kunavo.com/v1").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080/v1").is_ok());
        assert!(check_base_url("http://127.3.4.5/v1").is_ok());
        assert!(check_base_url("http://[::1]:99/v1").is_ok());
        assert!(check_base_url("http://localhost:99/v1").is_ok());
        assert!(check_base_url("http://api.kunavo.com/v1").is_err());
        assert!(check_base_url("http://10.0.0.1/v1").is_err());
        assert!(check_base_url("http://127.0.0.1.nip.io/v1").is_err());
        assert!(check_base_url("ftp://127.0.0.1/v1").is_err());
        assert!(check_base_url("https://user:pw@api.kunavo.com/v1").is_err());
        assert!(check_base_url("https://api.kunavo.com/v1?x=1").is_err());
        assert!(check_base_url("api.kunavo.com/v1").is_err());
    }

    #[test]
    fn override_keeps_the_documented_path() {
        let (origin, spec) = builtin_providers()
            .unwrap()
            .into_iter()
            .find(|(_, s)| s.id == "kindo")
            .unwrap();
        let c = Check::new(&spec, Some("https://kindo.acme.io/v1/"), origin).unwrap();
        assert_eq!(c.endpoint.as_str(), "https://kindo.acme.io/v1/models");
        let e = Check::new(&spec, Some("http://kindo.acme.io/v1"), origin).unwrap_err();
        assert!(e.to_string().contains("[providers.kindo] base_url"), "{e}");
    }

    #[test]
    fn kunavo_table() {
        let c = check("kunavo");
        let s = "sk-kunavo-x";
        assert_eq!(c.classify(200, b"{}", s).verdict, Verdict::Live);
        assert_eq!(c.classify(401, b"", s).verdict, Verdict::Dead);
        let quota = c.classify(402, br#"{"error":{"code":"insufficient_quota"}}"#, s);
        assert_eq!(quota.verdict, Verdict::Live);
        assert!(quota.detail.contains("spend cap"), "{}", quota.detail);
        assert_eq!(c.classify(402, b"{}", s).verdict, Verdict::Unknown);
        let teapot = c.classify(418, b"", s);
        assert_eq!(teapot.reason, Some(UnknownReason::Status));
        assert!(teapot.detail.contains("418"));
        assert_eq!(
            c.classify(302, b"", s).reason,
            Some(UnknownReason::Redirect)
        );
    }

    #[test]
    fn gateway_tables() {
        let p = check("pinaivu");
        assert_eq!(p.classify(403, b"", "k").verdict, Verdict::Unknown);
        assert!(p.classify(403, b"", "k").detail.contains("revoked"));
        assert_eq!(p.classify(401, b"", "k").verdict, Verdict::Dead);
        let k = check("kindo");
        assert_eq!(k.auth, Auth::Bearer);
        assert_eq!(k.classify(403, b"", "k").verdict, Verdict::Live);
        let n = check("konnect");
        assert!(n.classify(200, b"", "sk_test_abc").detail.contains("test"));
        assert!(!n.classify(200, b"", "sk_live_abc").detail.contains("test"));
        let s = check("synstar");
        assert_eq!(s.classify(402, b"", "sk-a").verdict, Verdict::Live);
        assert_eq!(s.classify(403, b"", "sk-a").verdict, Verdict::Live);
        assert_eq!(
            s.classify(429, b"{\"error\":\"insufficient quota\"}", "sk-a")
                .verdict,
            Verdict::Live
        );
        assert_eq!(
            s.classify(429, b"slow down", "sk-a").verdict,
            Verdict::Unknown
        );
        assert_eq!(s.classify(401, b"", "sk-a").verdict, Verdict::Dead);
    }

    #[test]
    fn slack_reads_the_body() {
        let c = check("slack");
        assert_eq!(
            c.classify(200, br#"{"ok":true}"#, "x").verdict,
            Verdict::Live
        );
        let dead = c.classify(200, br#"{"ok":false,"error":"invalid_auth"}"#, "x");
        assert_eq!(dead.verdict, Verdict::Dead);
        let other = c.classify(200, br#"{"ok":false,"error":"ratelimited"}"#, "x");
        assert_eq!(other.verdict, Verdict::Unknown);
    }

    #[test]
    fn checks_skip_key_kinds_they_cannot_judge() {
        let c = check("slack");
        assert!(c.applies_to("slack-bot-token", "xoxb-123-456-abc"));
        assert!(!c.applies_to(
            "slack-webhook-url",
            "https://hooks.slack.com/services/T0/B0/x"
        ));
        assert!(check("kindo").applies_to("kindo-api-key", "anything"));
    }

    #[test]
    fn documented_rate_limits_are_in_the_specs() {
        assert_eq!(check("notion").requests_per_second, Some(3.0));
        assert_eq!(check("airtable").requests_per_second, Some(5.0));
        assert_eq!(check("github").requests_per_second, None);
    }

    #[test]
    fn partners_fill_templates_and_cannot_steer() {
        let a = check("algolia");
        assert_eq!(
            a.endpoint_for(Some("QK8R2M4N7Z")).unwrap().as_str(),
            "https://qk8r2m4n7z-dsn.algolia.net/1/keys"
        );
        for evil in [
            "evil.com/x",
            "QK8R2M4N7Z.evil",
            "A@evil.com",
            "QK8R2M4N7",
            "",
        ] {
            assert!(a.endpoint_for(Some(evil)).is_err(), "{evil}");
        }
        assert!(a.endpoint_for(None).is_err());
        assert_eq!(
            a.headers_for(Some("QK8R2M4N7Z")).unwrap(),
            vec![(
                "x-algolia-application-id".to_string(),
                "QK8R2M4N7Z".to_string()
            )]
        );
        assert!(a.headers_for(Some("a\r\nx-evil: 1")).is_none());
        let t = check("twilio");
        let sid = "AC186b3f2a332f8b26346e67afa11ac430";
        assert_eq!(
            t.endpoint_for(Some(sid)).unwrap().as_str(),
            format!("https://api.twilio.com/2010-04-01/Accounts/{sid}.json")
        );
        assert!(t.endpoint_for(Some("AC../../x")).is_err());
        let z = check("azure");
        assert_eq!(
            z.endpoint_for(Some("acmelogs")).unwrap().as_str(),
            "https://acmelogs.blob.core.windows.net/?restype=service&comp=properties"
        );
        assert!(z.endpoint_for(Some("Acme.Logs")).is_err());
        // A partner-free spec's endpoint does not move.
        assert_eq!(
            check("aws")
                .endpoint_for(Some(concat!("AKIA", "WQ3HN7ZKTC4RXE2M")))
                .unwrap()
                .as_str(),
            "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15"
        );
        // `{partner}` may only begin a base URL's host.
        let (origin, spec) = builtin_providers()
            .unwrap()
            .into_iter()
            .find(|(_, s)| s.id == "algolia")
            .unwrap();
        let e = Check::new(&spec, Some("https://api.example.com/{partner}/1"), origin).unwrap_err();
        assert!(e.to_string().contains("may only begin the host"), "{e}");
        // Whatever a spec's pattern allows, a partner in a URL or header is
        // letters, digits, `-` and `_` only.
        let loose = r#"
[[providers]]
id = "loose"
name = "Loose"
base_url = "https://{partner}.loose.test/v1"
[providers.verify]
path = "/me"
auth = "bearer"
headers = { "X-Tenant" = "{partner}" }
[providers.verify.partner]
rules = ["loose-tenant"]
pattern = '^.+$'
name = "tenant"
[[providers.verify.responses]]
status = 200
verdict = "live"
detail = "ok"
"#;
        let spec = &parse_provider_file("t.toml", loose).unwrap()[0];
        let c = Check::new(spec, None, "t.toml").unwrap();
        assert_eq!(
            c.endpoint_for(Some("acme")).unwrap().as_str(),
            "https://acme.loose.test/v1/me"
        );
        for evil in [
            "evil.com/x",
            "evil.com#",
            "a@evil.com",
            "x.loose.test",
            "a%2Fb",
        ] {
            assert!(c.partner_fits(evil));
            assert!(c.endpoint_for(Some(evil)).is_err(), "{evil}");
            assert!(c.headers_for(Some(evil)).is_none(), "{evil}");
        }
    }

    #[test]
    fn auth_forms_are_read_exactly() {
        let c = check("codeberg");
        assert_eq!(
            c.auth,
            Auth::Prefixed {
                header: "authorization".into(),
                prefix: "token ".into()
            }
        );
        assert_eq!(c.auth.header_value("k", None), "token k");
        let m = check("mailgun");
        // base64("api:k")
        assert_eq!(m.auth.header_value("k", None), "Basic YXBpOms=");
        let e = check("easypost");
        // base64("k:")
        assert_eq!(e.auth.header_value("k", None), "Basic azo=");
        let typo: std::result::Result<AuthSpec, _> =
            toml::from_str::<toml::Value>("a = { header = \"X\", prefx = \"t \" }")
                .unwrap()
                .get("a")
                .unwrap()
                .clone()
                .try_into();
        assert!(typo.is_err(), "{typo:?}");
    }

    #[test]
    fn bad_specs_are_refused() {
        let text = r#"
[[providers]]
id = "demo"
name = "Demo"
base_url = "https://api.demo.test/v1"
[providers.verify]
method = "POST"
path = "/keys"
auth = "bearer"
[[providers.verify.responses]]
status = 200
verdict = "live"
detail = "ok"
"#;
        let spec = &parse_provider_file("t.toml", text).unwrap()[0];
        let e = Check::new(spec, None, "t.toml").unwrap_err();
        assert!(e.to_string().contains("only for a token exchange"), "{e}");
        let mut s = spec.clone();
        s.verify.method = "DELETE".into();
        let e = Check::new(&s, None, "t.toml").unwrap_err();
        assert!(e.to_string().contains("only GET"), "{e}");
        // A form without side effects stated is still refused.
        s.verify.method = "POST".into();
        s.verify.form = Some("grant_type=client_credentials".into());
        assert!(Check::new(&s, None, "t.toml").is_err());
        s.verify.side_effects = Some("mints a token".into());
        assert!(Check::new(&s, None, "t.toml").is_ok());
        let mut s = spec.clone();
        s.verify.method = "GET".into();
        s.verify.headers.insert("X-Api-Key".into(), "second".into());
        let e = Check::new(&s, None, "t.toml").unwrap_err();
        assert!(e.to_string().contains("second credential"), "{e}");
        let mut s = spec.clone();
        s.verify.method = "GET".into();
        s.verify.path = "/../admin".into();
        assert!(Check::new(&s, None, "t.toml").is_err());
        s.verify.path = "@evil.test/x".into();
        assert!(Check::new(&s, None, "t.toml").is_err());
    }
}
