//! Revocation specs: how to revoke a key through a provider's admin API, as
//! data beside the verification check (`[providers.revoke]` in
//! `rules/providers/*.toml`), overridable per provider in `.leakhound.toml`
//! (`[providers.NAME.revoke]`).
//!
//! A spec names one request: the method, the admin URL (a `path` on the
//! provider's base URL, or a whole `url`), how the request authenticates
//! (an admin token read from the environment variable the spec names, the
//! leaked key itself, or nothing), a body template, and a table that turns
//! the answer into an [`Outcome`]. Whatever the table says, a revocation
//! counts only once re-verification confirms the key is dead (`mod.rs`).
//!
//! Templates know `{{key}}`, `{{key_sha256}}` and (for batch endpoints)
//! `{{keys}}`, a JSON array of keys. The raw key may appear in a body only,
//! never in a URL: URLs end up in proxy and server logs, and in the audit
//! log, which must not hold a key.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;

use super::{check_base_url, contains_ci, is_credential_header, is_token, AuthSpec};
use crate::error::{Error, Result};

/// `[providers.revoke]` as written (built in), or `[providers.NAME.revoke]`
/// (config: every field optional, each one given replaces the built-in).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeSpec {
    /// `POST` (default), `DELETE`, `PUT` or `PATCH`.
    pub method: Option<String>,
    /// Appended to the provider's base URL (as configured).
    pub path: Option<String>,
    /// The whole admin URL; wins over `path`. May hold `{{key_sha256}}`.
    pub url: Option<String>,
    /// `"bearer"` or `{ header = "NAME" }` (the admin token from
    /// `token_env`), `"key"` (the leaked key itself as a Bearer token), or
    /// `"none"`.
    pub auth: Option<AuthSpec>,
    /// The environment variable holding the admin token.
    pub token_env: Option<String>,
    /// Body template.
    pub body: Option<String>,
    /// Default `application/json` when there is a body.
    pub content_type: Option<String>,
    /// Extra static headers (`Accept`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Keys per request for a body with `{{keys}}` (default 100).
    pub batch: Option<usize>,
    /// Key kinds this endpoint revokes, by prefix; empty = all.
    #[serde(default)]
    pub secret_prefixes: Vec<String>,
    /// Status table, first match wins (default: see [`default_table`]).
    #[serde(default)]
    pub responses: Vec<RevokeResponse>,
    /// The endpoint is leakhound's assumption, not documented by the
    /// provider (shown in dry runs). Cleared when the config sets a URL.
    #[serde(default)]
    pub assumed: bool,
    /// An asynchronous endpoint: a key still live right after an accepted
    /// call is `revoke-submitted`, not `revoke-failed`.
    #[serde(default)]
    pub asynchronous: bool,
    #[serde(default)]
    pub references: Vec<String>,
}

/// What the admin API's answer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The revocation was done; re-verification must confirm it.
    Accepted,
    /// The key was revoked before (a success once confirmed).
    AlreadyRevoked,
    /// The call failed; the key was not revoked.
    Failed,
}

/// One row of a revocation status table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeResponse {
    pub status: u16,
    pub outcome: Outcome,
    pub detail: String,
    /// The row applies only if the body contains one of these (ASCII
    /// case-insensitive).
    #[serde(default)]
    pub body_contains: Vec<String>,
}

/// How the revocation request authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminAuth {
    /// No credential (GitHub's credential-revocation API).
    None,
    /// The leaked key itself, as a Bearer token (Slack's `auth.revoke`).
    Key,
    /// `Authorization: Bearer $TOKEN_ENV`.
    Bearer { env: String },
    /// `NAME: $TOKEN_ENV`.
    Header { name: String, env: String },
}

impl AdminAuth {
    /// The environment variable holding the admin token, if one is needed.
    pub fn token_env(&self) -> Option<&str> {
        match self {
            AdminAuth::Bearer { env } | AdminAuth::Header { env, .. } => Some(env),
            AdminAuth::None | AdminAuth::Key => None,
        }
    }

    /// How the credential is named to humans and in the audit log; never
    /// the credential itself.
    pub fn describe(&self) -> String {
        match self {
            AdminAuth::None => "none (unauthenticated endpoint)".into(),
            AdminAuth::Key => "the leaked key itself".into(),
            AdminAuth::Bearer { env } | AdminAuth::Header { env, .. } => format!("${env}"),
        }
    }
}

/// A validated revocation, ready to run.
#[derive(Clone, Debug)]
pub struct Revocation {
    pub provider: String,
    pub name: String,
    pub method: Method,
    /// The admin URL, `{{key_sha256}}` possibly left in: safe to show.
    pub url_template: String,
    pub auth: AdminAuth,
    pub body: Option<String>,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    /// Keys per request; 1 unless the body holds `{{keys}}`.
    pub batch: usize,
    pub secret_prefixes: Vec<String>,
    pub responses: Vec<RevokeResponse>,
    pub assumed: bool,
    pub asynchronous: bool,
}

/// The placeholder names a template may hold.
const PLACEHOLDERS: &[&str] = &["key", "key_sha256", "keys"];

impl Revocation {
    /// Merge the built-in spec with the config's override and validate the
    /// result. `base_url` is the provider's base URL as configured (already
    /// checked). `origin` names the built-in file in errors.
    pub fn new(
        provider: &str,
        name: &str,
        base_url: &str,
        builtin: Option<&RevokeSpec>,
        config: Option<&RevokeSpec>,
        origin: &str,
    ) -> Result<Revocation> {
        let where_ = if config.is_some() {
            format!("[providers.{provider}.revoke]")
        } else {
            format!("{origin}: provider `{provider}` revoke")
        };
        let fail = |m: String| Error::Usage(format!("{where_}: {m}"));
        let empty = RevokeSpec::default();
        let b = builtin.unwrap_or(&empty);
        let c = config.unwrap_or(&empty);
        let pick = |c: &Option<String>, b: &Option<String>| c.clone().or_else(|| b.clone());

        let method_text = pick(&c.method, &b.method).unwrap_or_else(|| "POST".into());
        let method = match method_text.to_ascii_uppercase().as_str() {
            "POST" => Method::POST,
            "DELETE" => Method::DELETE,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            _ => {
                return Err(fail(format!(
                    "method `{method_text}`: use POST, DELETE, PUT or PATCH"
                )))
            }
        };

        let url_template = match (&c.url, &c.path, &b.url, &b.path) {
            (Some(u), _, _, _) => u.clone(),
            (None, Some(p), _, _) => join(base_url, p, &fail)?,
            (None, None, Some(u), _) => u.clone(),
            (None, None, None, Some(p)) => join(base_url, p, &fail)?,
            (None, None, None, None) => return Err(fail("no `url` or `path`".into())),
        };
        check_url(&url_template).map_err(|m| fail(format!("url `{url_template}`: {m}")))?;

        let token_env = pick(&c.token_env, &b.token_env);
        let auth_spec = c.auth.clone().or_else(|| b.auth.clone());
        let needs_env = |env: Option<String>| -> Result<String> {
            let env = env.ok_or_else(|| fail("an admin token needs `token_env`".into()))?;
            if env.is_empty() || !env.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(fail(format!("token_env `{env}` is not a variable name")));
            }
            Ok(env)
        };
        let auth = match auth_spec {
            None => match token_env {
                Some(_) => AdminAuth::Bearer {
                    env: needs_env(token_env)?,
                },
                None => return Err(fail("no `auth`".into())),
            },
            Some(AuthSpec::Named(n)) => match n.as_str() {
                "bearer" => AdminAuth::Bearer {
                    env: needs_env(token_env)?,
                },
                "key" | "none" if token_env.is_some() => {
                    return Err(fail(format!("auth `{n}` takes no token_env")))
                }
                "key" => AdminAuth::Key,
                "none" => AdminAuth::None,
                _ => {
                    return Err(fail(format!(
                        "auth `{n}`: use \"bearer\", {{ header = \"NAME\" }}, \"key\" or \"none\""
                    )))
                }
            },
            Some(AuthSpec::Prefixed(_) | AuthSpec::Basic(_)) => {
                return Err(fail(
                    "auth: a header prefix or Basic auth is for verification checks only; \
                     use \"bearer\", { header = \"NAME\" }, \"key\" or \"none\""
                        .into(),
                ))
            }
            Some(AuthSpec::Header(super::HeaderAuth { header })) => {
                if !is_token(&header) {
                    return Err(fail(format!("auth header `{header}` is not a header name")));
                }
                AdminAuth::Header {
                    name: header.to_ascii_lowercase(),
                    env: needs_env(token_env)?,
                }
            }
        };

        let body = pick(&c.body, &b.body);
        let mut batch = 1;
        if let Some(text) = &body {
            check_template(text, PLACEHOLDERS, "body").map_err(&fail)?;
            let batched = text.contains("{{keys}}");
            if batched && (text.contains("{{key}}") || text.contains("{{key_sha256}}")) {
                return Err(fail(
                    "body: `{{keys}}` cannot be mixed with `{{key}}` or `{{key_sha256}}`".into(),
                ));
            }
            if batched {
                if auth == AdminAuth::Key || url_template.contains("{{key_sha256}}") {
                    return Err(fail(
                        "body: `{{keys}}` needs an endpoint that does not name one key".into(),
                    ));
                }
                batch = c.batch.or(b.batch).unwrap_or(100);
                if batch == 0 {
                    return Err(fail("batch must be at least 1".into()));
                }
            }
        }
        let content_type =
            pick(&c.content_type, &b.content_type).unwrap_or_else(|| "application/json".into());
        if content_type.contains(['\r', '\n']) {
            return Err(fail("content_type holds a line break".into()));
        }

        let header_source = if c.headers.is_empty() {
            &b.headers
        } else {
            &c.headers
        };
        let mut headers = Vec::new();
        for (n, v) in header_source {
            let lower = n.to_ascii_lowercase();
            if !is_token(n) || v.contains(['\r', '\n']) {
                return Err(fail(format!("headers: bad header `{n}`")));
            }
            let own = match &auth {
                AdminAuth::Header { name, .. } => lower == *name,
                _ => false,
            };
            if own || is_credential_header(&lower) || lower == "content-type" {
                return Err(fail(format!(
                    "headers: `{n}` is set by leakhound (auth, content_type)"
                )));
            }
            headers.push((lower, v.clone()));
        }

        let responses = if c.responses.is_empty() {
            b.responses.clone()
        } else {
            c.responses.clone()
        };
        for r in &responses {
            if !(100..=599).contains(&r.status) {
                return Err(fail(format!("responses: status {} out of range", r.status)));
            }
        }
        let secret_prefixes = if c.secret_prefixes.is_empty() {
            b.secret_prefixes.clone()
        } else {
            c.secret_prefixes.clone()
        };
        // A URL the user wrote is theirs, not our assumption.
        let assumed = b.assumed && c.url.is_none() && c.path.is_none();
        Ok(Revocation {
            provider: provider.to_string(),
            name: name.to_string(),
            method,
            url_template,
            auth,
            body,
            content_type,
            headers,
            batch,
            secret_prefixes,
            responses,
            assumed,
            asynchronous: b.asynchronous || c.asynchronous,
        })
    }

    /// Does this endpoint revoke this kind of key?
    pub fn applies_to(&self, secret: &str) -> bool {
        self.secret_prefixes.is_empty()
            || self
                .secret_prefixes
                .iter()
                .any(|p| secret.starts_with(p.as_str()))
    }

    /// `POST https://…/keys/revoke`: what the audit log and the dry run show.
    pub fn endpoint(&self) -> String {
        format!("{} {}", self.method, self.url_template)
    }

    /// The URL for one key (`{{key_sha256}}` filled in) or a batch.
    pub fn url_for(&self, keys: &[&str]) -> String {
        match keys {
            [one] if self.url_template.contains("{{key_sha256}}") => self.url_template.replace(
                "{{key_sha256}}",
                &crate::finding::sha256_hex(one.as_bytes()),
            ),
            _ => self.url_template.clone(),
        }
    }

    /// The body for these keys, each substitution escaped for the content
    /// type (JSON string content, or form encoding).
    pub fn body_for(&self, keys: &[&str]) -> Option<String> {
        let template = self.body.as_ref()?;
        let json = self.content_type.contains("json");
        let form = self.content_type.contains("x-www-form-urlencoded");
        let escape = |s: &str| -> String {
            if json {
                let quoted = serde_json::to_string(s).expect("a string serializes");
                quoted[1..quoted.len() - 1].to_string()
            } else if form {
                percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            } else {
                s.to_string()
            }
        };
        let mut out = template.clone();
        if out.contains("{{keys}}") {
            let list = serde_json::to_string(keys).expect("strings serialize");
            out = out.replace("{{keys}}", &list);
        }
        if let Some(key) = keys.first() {
            out = out.replace(
                "{{key_sha256}}",
                &escape(&crate::finding::sha256_hex(key.as_bytes())),
            );
            out = out.replace("{{key}}", &escape(key));
        }
        Some(out)
    }

    /// What the body carries, for the dry run (`the key`, `its SHA-256`).
    pub fn body_carries(&self) -> &'static str {
        match &self.body {
            None => "no body",
            Some(b) if b.contains("{{keys}}") => "the keys (batched)",
            Some(b) if b.contains("{{key}}") => "the key",
            Some(b) if b.contains("{{key_sha256}}") => "the key's SHA-256",
            Some(_) => "a fixed body",
        }
    }

    /// Read the admin API's answer through the table. Unlisted: any 2xx is
    /// accepted (re-verification decides anyway), anything else failed.
    pub fn classify(&self, status: u16, body: &[u8]) -> (Outcome, String) {
        for r in self.responses.iter().chain(default_table().iter()) {
            if r.status != status {
                continue;
            }
            if !r.body_contains.is_empty() && !r.body_contains.iter().any(|n| contains_ci(body, n))
            {
                continue;
            }
            return (r.outcome, r.detail.clone());
        }
        if (200..300).contains(&status) {
            (Outcome::Accepted, "revocation accepted".into())
        } else if (300..400).contains(&status) {
            (
                Outcome::Failed,
                "redirect not followed (a key is only sent to the configured admin URL)".into(),
            )
        } else if status >= 500 {
            (Outcome::Failed, "admin API server error".into())
        } else {
            (
                Outcome::Failed,
                format!("HTTP {status} is not in {}'s revocation table", self.name),
            )
        }
    }
}

/// The rows every table ends with (after its own): the conventions an
/// undocumented admin API is assumed to follow.
pub fn default_table() -> &'static [RevokeResponse] {
    use std::sync::OnceLock;
    static TABLE: OnceLock<Vec<RevokeResponse>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let row = |status, outcome, detail: &str| RevokeResponse {
            status,
            outcome,
            detail: detail.into(),
            body_contains: Vec::new(),
        };
        vec![
            row(401, Outcome::Failed, "admin token rejected"),
            row(403, Outcome::Failed, "admin token lacks permission"),
            row(404, Outcome::Failed, "the admin API does not know this key"),
            row(409, Outcome::AlreadyRevoked, "already revoked"),
            row(410, Outcome::AlreadyRevoked, "already revoked"),
            row(429, Outcome::Failed, "rate limited; try again later"),
        ]
    })
}

/// An admin URL obeys the verification host rules (HTTPS, plain HTTP only
/// to loopback, no credentials, query or fragment) and names a key only by
/// `{{key_sha256}}`.
pub fn check_url(url: &str) -> std::result::Result<(), String> {
    check_template(url, &["key_sha256"], "url")?;
    check_base_url(&url.replace("{{key_sha256}}", &"0".repeat(64))).map(|_| ())
}

fn join(
    base: &str,
    path: &str,
    fail: &impl Fn(String) -> Error,
) -> std::result::Result<String, Error> {
    if !path.starts_with('/') || path.contains(['?', '#', '\\']) || path.contains("..") {
        return Err(fail(format!(
            "path `{path}` must start with `/` and hold no `?`, `#`, `\\` or `..`"
        )));
    }
    Ok(format!("{}{path}", base.trim_end_matches('/')))
}

/// Every `{{name}}` in `text` is one of `allowed`.
fn check_template(text: &str, allowed: &[&str], what: &str) -> std::result::Result<(), String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("{what}: unclosed `{{{{`"))?;
        let name = &after[..end];
        if !allowed.contains(&name) {
            let extra = if PLACEHOLDERS.contains(&name) {
                " here (the raw key never goes into a URL)"
            } else {
                ""
            };
            return Err(format!(
                "{what}: placeholder `{{{{{name}}}}}` is not allowed{extra}; use {}",
                allowed
                    .iter()
                    .map(|a| format!("{{{{{a}}}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> RevokeSpec {
        toml::from_str(toml_text).unwrap()
    }

    fn kunavo() -> Revocation {
        let b = spec(
            r#"
path = "/admin/keys/revoke"
auth = "bearer"
token_env = "KUNAVO_ADMIN_TOKEN"
body = '{"key_sha256": "{{key_sha256}}"}'
"#,
        );
        Revocation::new(
            "kunavo",
            "Kunavo",
            "https://api.kunavo.com/v1",
            Some(&b),
            None,
            "t.toml",
        )
        .unwrap()
    }

    #[test]
    fn bodies_carry_the_hash_or_the_escaped_key() {
        let r = kunavo();
        assert_eq!(
            r.endpoint(),
            "POST https://api.kunavo.com/v1/admin/keys/revoke"
        );
        let body = r.body_for(&["abc"]).unwrap();
        assert_eq!(
            body,
            format!(
                "{{\"key_sha256\": \"{}\"}}",
                crate::finding::sha256_hex(b"abc")
            )
        );
        assert!(!body.contains("\"abc\""));
        let mut j = r.clone();
        j.body = Some(r#"{"key":"{{key}}"}"#.into());
        assert_eq!(j.body_for(&["a\"b"]).unwrap(), r#"{"key":"a\"b"}"#);
        j.body = Some(r#"{"credentials": {{keys}}}"#.into());
        assert_eq!(
            j.body_for(&["k1", "k2"]).unwrap(),
            r#"{"credentials": ["k1","k2"]}"#
        );
        j.content_type = "application/x-www-form-urlencoded".into();
        j.body = Some("token={{key}}".into());
        assert_eq!(j.body_for(&["a+b"]).unwrap(), "token=a%2Bb");
    }

    #[test]
    fn config_overrides_and_host_rules() {
        let b = spec("path = \"/admin/keys/revoke\"\ntoken_env = \"K\"\nassumed = true\n");
        let c = spec("url = \"http://127.0.0.1:9/admin/{{key_sha256}}\"\nmethod = \"delete\"\n");
        let r = Revocation::new(
            "kunavo",
            "Kunavo",
            "https://x.test/v1",
            Some(&b),
            Some(&c),
            "t",
        )
        .unwrap();
        assert_eq!(r.method, Method::DELETE);
        assert!(!r.assumed);
        assert_eq!(r.auth.token_env(), Some("K"));
        assert!(r
            .url_for(&["abc"])
            .ends_with(&crate::finding::sha256_hex(b"abc")));
        for bad in [
            "url = \"http://10.0.0.1/revoke\"",
            "url = \"https://x.test/revoke/{{key}}\"",
            "url = \"https://x.test/revoke?k=1\"",
            "method = \"GET\"",
            "body = \"{{secret}}\"",
            "auth = \"none\"",
            "token_env = \"NOT A NAME\"",
            "headers = { Authorization = \"x\" }",
        ] {
            let c = spec(bad);
            let e = Revocation::new(
                "kunavo",
                "Kunavo",
                "https://x.test/v1",
                Some(&b),
                Some(&c),
                "t",
            );
            assert!(e.is_err(), "accepted {bad}");
            let e = e.unwrap_err().to_string();
            assert!(e.contains("[providers.kunavo.revoke]"), "{e}");
        }
    }

    #[test]
    fn tables_fall_back_to_conventions() {
        let r = kunavo();
        assert_eq!(r.classify(204, b"").0, Outcome::Accepted);
        assert_eq!(r.classify(401, b"").1, "admin token rejected");
        assert_eq!(r.classify(410, b"").0, Outcome::AlreadyRevoked);
        assert_eq!(r.classify(500, b"").0, Outcome::Failed);
        assert_eq!(r.classify(302, b"").0, Outcome::Failed);
        assert!(r.classify(418, b"").1.contains("418"));
    }
}
