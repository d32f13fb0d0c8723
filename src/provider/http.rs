//! The HTTP side of verification: one blocking client per run, built so a
//! key cannot wander: no redirect is followed, connect and total timeouts
//! are set, and plain-HTTP loopback targets bypass any proxy (the key would
//! otherwise reach the proxy in clear). Transport errors become short fixed
//! reasons of our own; reqwest's messages are never shown, so nothing a
//! request carried can leak through them.
//!
//! Retries: an answer the table leaves `unknown` with status 429 or 5xx is
//! retried up to `retries` times, waiting for Retry-After (seconds or an
//! HTTP date) or an exponential backoff, both capped at `max_wait`. A
//! Retry-After beyond the cap ends the check instead of retrying early.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::redirect::Policy;

use super::{is_loopback, sign, Auth, Check, Secret};
use crate::error::{Error, Result};
use crate::finding::{UnknownReason, Verdict, Verification};

/// Only this much of a body is read: enough for an error code.
pub(crate) const BODY_LIMIT: u64 = 64 * 1024;
/// The shortest wait before a retry, whatever the server says.
const MIN_WAIT: Duration = Duration::from_millis(100);
/// First backoff when a 429/5xx has no Retry-After; doubles per retry.
const BACKOFF: Duration = Duration::from_millis(500);
/// The longest Retry-After taken at its word: a year.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(365 * 24 * 3600);
/// How often a request in flight looks at the interrupt flag.
const INTERRUPT_POLL: Duration = Duration::from_millis(50);

/// Timeouts and retry bounds for one run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub retries: u32,
    pub max_wait: Duration,
}

/// The clients a run uses.
#[derive(Clone)]
pub(crate) struct Http {
    remote: Client,
    loopback: Client,
    /// The whole request, body included ([`send_within`]).
    timeout: Duration,
}

impl Http {
    pub(crate) fn new(connect_timeout: Duration, timeout: Duration) -> Result<Http> {
        let builder = || {
            Client::builder()
                .redirect(Policy::none())
                .referer(false)
                .connect_timeout(connect_timeout)
                .timeout(timeout)
                .user_agent(concat!("leakhound/", env!("CARGO_PKG_VERSION")))
        };
        let fail = |_| Error::Usage("cannot set up the HTTP client for verification".into());
        Ok(Http {
            remote: builder().build().map_err(fail)?,
            loopback: builder().no_proxy().build().map_err(fail)?,
            timeout,
        })
    }

    /// How long one request may take, from connecting to the body's end.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The client for `url`: loopback targets bypass any proxy.
    pub(crate) fn client_for(&self, url: &reqwest::Url) -> &Client {
        if is_loopback(url) {
            &self.loopback
        } else {
            &self.remote
        }
    }
}

/// One answer, or why there is none.
enum Attempt {
    Answer {
        status: u16,
        body: Vec<u8>,
        retry_after: Option<Duration>,
        /// The response headers the spec reads identity or scopes from.
        described: Vec<(String, String)>,
    },
    Failed {
        reason: UnknownReason,
        detail: &'static str,
    },
}

/// Ask `check`'s provider about `secret`, retrying as the module docs say.
/// Returns the verification and the number of requests sent.
/// What is checked: a key, and for a paired credential its partner.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key<'a> {
    pub secret: &'a Secret,
    pub partner: Option<&'a Secret>,
}

/// `pace` is called before each request and waits for the provider's rate
/// limit; it returns false if the run was interrupted meanwhile.
pub(crate) fn run_check(
    http: &Http,
    check: &Check,
    Key { secret, partner }: Key<'_>,
    limits: Limits,
    interrupt: &AtomicBool,
    started: &std::sync::atomic::AtomicUsize,
    pace: &dyn Fn() -> bool,
) -> (Verification, u32) {
    let unknown = |reason, status, detail: String| Verification {
        verdict: Verdict::Unknown,
        reason: Some(reason),
        status,
        detail,
        provider: Some(check.provider.clone()),
        cached: false,
        identity: None,
        scopes: Vec::new(),
    };
    let mut sent = 0u32;
    loop {
        if interrupt.load(Ordering::Relaxed) || !pace() {
            return (interrupted(&check.provider), sent);
        }
        sent += 1;
        // Counted when sent, not when answered: an interrupted run still
        // says that the key went out.
        started.fetch_add(1, Ordering::Relaxed);
        let (status, body, retry_after, described) = match send(http, check, secret, partner) {
            Attempt::Failed { reason, detail } => {
                return (unknown(reason, None, detail.to_string()), sent)
            }
            Attempt::Answer {
                status,
                body,
                retry_after,
                described,
            } => (status, body, retry_after, described),
        };
        let c = check.classify(status, &body, secret.expose());
        let retryable = c.verdict == Verdict::Unknown && (status == 429 || status >= 500);
        if !retryable {
            let (identity, scopes) = if c.verdict == Verdict::Live {
                let header = |name: &str| {
                    described
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                };
                check.describe_key(&body, header, secret.expose(), partner.map(Secret::expose))
            } else {
                (None, Vec::new())
            };
            let v = Verification {
                verdict: c.verdict,
                reason: c.reason,
                status: Some(status),
                detail: c.detail,
                provider: Some(check.provider.clone()),
                cached: false,
                identity,
                scopes,
            };
            return (v, sent);
        }
        let what = if status >= 500 {
            "server error".to_string()
        } else {
            c.detail
        };
        if sent > limits.retries {
            let attempts = if sent == 1 { "attempt" } else { "attempts" };
            let detail = format!("{what} (HTTP {status}, {sent} {attempts})");
            return (unknown(UnknownReason::Retries, Some(status), detail), sent);
        }
        // A floor under every wait: `Retry-After: 0` (or a date in the past)
        // must not turn the retries into a tight loop.
        let cap = limits.max_wait.max(MIN_WAIT);
        let wait = retry_after
            .unwrap_or_else(|| backoff(sent).min(cap))
            .max(MIN_WAIT);
        if wait > cap {
            let detail = format!(
                "{what} (HTTP {status}): Retry-After {} is over the {} s cap, not retried",
                describe_wait(wait),
                limits.max_wait.as_secs_f64()
            );
            return (unknown(UnknownReason::Retries, Some(status), detail), sent);
        }
        if !sleep_unless_interrupted(wait, interrupt) {
            return (interrupted(&check.provider), sent);
        }
    }
}

pub(crate) fn interrupted(provider: &str) -> Verification {
    Verification {
        verdict: Verdict::Unknown,
        reason: Some(UnknownReason::Interrupted),
        status: None,
        detail: "interrupted before the check finished".into(),
        provider: Some(provider.to_string()),
        cached: false,
        identity: None,
        scopes: Vec::new(),
    }
}

fn backoff(attempt: u32) -> Duration {
    BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(16))
}

/// Sleep in short slices so Ctrl-C is noticed; false if interrupted.
fn sleep_unless_interrupted(d: Duration, interrupt: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    loop {
        if interrupt.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

fn send(http: &Http, check: &Check, secret: &Secret, partner: Option<&Secret>) -> Attempt {
    let not_verifiable = |detail| Attempt::Failed {
        reason: UnknownReason::NotVerifiable,
        detail,
    };
    let partner = partner.map(Secret::expose);
    let Ok(url) = check.endpoint_for(partner) else {
        return not_verifiable("the partner cannot go into the provider's URL");
    };
    let client = http.client_for(&url);
    let Some(static_headers) = check.headers_for(partner) else {
        return not_verifiable("the partner cannot go into a header");
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &static_headers {
        // Names were validated when the spec was loaded, values here.
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            return not_verifiable("a header value cannot be sent");
        };
        headers.insert(n, v);
    }
    let mut body: Option<String> = check.form.clone();
    let credential = match signed(
        check,
        &url,
        secret.expose(),
        partner,
        &mut headers,
        &mut body,
    ) {
        Ok(value) => value,
        Err(detail) => return not_verifiable(detail),
    };
    if let Some(value) = credential {
        let (Ok(name), Ok(mut value)) = (
            HeaderName::from_bytes(check.auth.header_name().as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            return not_verifiable("the key holds characters an HTTP header cannot carry");
        };
        // Keeps the value out of hyper's and reqwest's Debug output.
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    let request = if check.post {
        if body.is_some() {
            headers.insert(
                reqwest::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        }
        client
            .post(url)
            .headers(headers)
            .body(body.unwrap_or_default())
    } else {
        client.get(url).headers(headers)
    };
    match send_within(request, http.timeout) {
        Err((reason, detail)) => Attempt::Failed { reason, detail },
        Ok(answer) => Attempt::Answer {
            status: answer.status,
            retry_after: answer
                .headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now())),
            described: [&check.identity_header, &check.scopes_header]
                .into_iter()
                .flatten()
                .filter_map(|name| {
                    let value = answer.headers.get(name.as_str())?.to_str().ok()?;
                    Some((name.clone(), value.to_string()))
                })
                .collect(),
            body: answer.body,
        },
    }
}

/// The credential header's value for `check`'s auth, computing signatures
/// over `url` and the headers set so far (adding the ones a signature
/// covers); `None` for Google's JWT, which goes into the form `body`.
fn signed(
    check: &Check,
    url: &reqwest::Url,
    secret: &str,
    partner: Option<&str>,
    headers: &mut HeaderMap,
    body: &mut Option<String>,
) -> std::result::Result<Option<String>, &'static str> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let partner_or = |what| partner.ok_or(what);
    match &check.auth {
        Auth::AwsSigV4 { region, service } => {
            let key_id = partner_or("no access key id")?;
            let (amz_date, _) = sign::amz_date(now);
            let host = host_header(url);
            let method = if check.post { "POST" } else { "GET" };
            let authorization = sign::SigV4 {
                key_id,
                secret,
                region,
                service,
                amz_date: &amz_date,
            }
            .authorization(
                method,
                url,
                &[
                    ("host".into(), host),
                    ("x-amz-date".into(), amz_date.clone()),
                ],
                body.as_deref().unwrap_or_default().as_bytes(),
            );
            headers.insert(
                HeaderName::from_static("x-amz-date"),
                HeaderValue::from_str(&amz_date).map_err(|_| "bad date")?,
            );
            Ok(Some(authorization))
        }
        Auth::AzureSharedKey => {
            let account = partner_or("no account name")?;
            let date = httpdate::fmt_http_date(SystemTime::now());
            let ms = [
                ("x-ms-date".to_string(), date),
                ("x-ms-version".to_string(), AZURE_VERSION.to_string()),
            ];
            for (n, v) in &ms {
                headers.insert(
                    HeaderName::from_bytes(n.as_bytes()).map_err(|_| "bad header")?,
                    HeaderValue::from_str(v).map_err(|_| "bad header")?,
                );
            }
            let method = if check.post { "POST" } else { "GET" };
            sign::azure_shared_key(account, secret, method, url, &ms)
                .map(Some)
                .ok_or("the account key is not base64")
        }
        Auth::GoogleJwt => {
            let email = partner_or("no client e-mail")?;
            let jwt = sign::google_jwt(secret, email, url.as_str(), now)
                .ok_or("the private key is not an RSA PKCS#8 key")?;
            *body = Some(format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={jwt}"
            ));
            Ok(None)
        }
        other => Ok(Some(other.header_value(secret, partner))),
    }
}

/// The Azure Storage REST version the Shared Key requests name.
const AZURE_VERSION: &str = "2021-08-06";

/// `Host` as the client will send it: the host, and the port unless it is
/// the scheme's default.
fn host_header(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// An answer: status, headers and at most [`BODY_LIMIT`] bytes of body.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Send `request` and read its answer, all within `limit`: connecting, the
/// headers and the body together. reqwest's blocking timeout bounds each
/// read, not the whole body, so a server dripping one byte a second would
/// hold a check for hours; here the request runs on a thread of its own and
/// is abandoned (told to stop at its next read) when the time is up.
pub(crate) fn send_within(
    request: RequestBuilder,
    limit: Duration,
) -> std::result::Result<Answer, (UnknownReason, &'static str)> {
    send_unless_interrupted(request, limit, &AtomicBool::new(false))
}

/// [`send_within`], also given up as soon as `interrupt` is set (Ctrl-C):
/// the request may still reach the server, but nobody waits for it.
pub(crate) fn send_unless_interrupted(
    request: RequestBuilder,
    limit: Duration,
    interrupt: &AtomicBool,
) -> std::result::Result<Answer, (UnknownReason, &'static str)> {
    send_limited(request, limit, interrupt, BODY_LIMIT)
}

/// [`send_unless_interrupted`], reading at most `body_limit` bytes of the
/// body (a page of a hosting API's repository list is larger than a
/// provider's answer).
pub(crate) fn send_within_limit(
    request: RequestBuilder,
    limit: Duration,
    interrupt: &AtomicBool,
    body_limit: u64,
) -> std::result::Result<Answer, (UnknownReason, &'static str)> {
    send_limited(request, limit, interrupt, body_limit)
}

fn send_limited(
    request: RequestBuilder,
    limit: Duration,
    interrupt: &AtomicBool,
    body_limit: u64,
) -> std::result::Result<Answer, (UnknownReason, &'static str)> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let flag = Arc::clone(&stop);
    let spawned = std::thread::Builder::new()
        .name("leakhound-http".into())
        .spawn(move || {
            let result = match request.send() {
                Err(e) => Err(describe_error(&e)),
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let mut body = Vec::new();
                    let mut chunk = [0u8; 8192];
                    while (body.len() as u64) < body_limit && !flag.load(Ordering::Relaxed) {
                        let room = (body_limit as usize - body.len()).min(chunk.len());
                        match resp.read(&mut chunk[..room]) {
                            Ok(0) => break,
                            Ok(n) => body.extend_from_slice(&chunk[..n]),
                            // A body cut short still has its status.
                            Err(_) => break,
                        }
                    }
                    Ok(Answer {
                        status,
                        headers,
                        body,
                    })
                }
            };
            let _ = tx.send(result);
        });
    if spawned.is_err() {
        return Err((UnknownReason::Connection, "cannot start a request thread"));
    }
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.min(INTERRUPT_POLL)) {
            Ok(result) => return result,
            Err(mpsc::RecvTimeoutError::Timeout) if left > INTERRUPT_POLL => {
                if interrupt.load(Ordering::Relaxed) {
                    stop.store(true, Ordering::Relaxed);
                    return Err((UnknownReason::Interrupted, "interrupted"));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                stop.store(true, Ordering::Relaxed);
                return Err((UnknownReason::Timeout, "timed out"));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err((
                    UnknownReason::Connection,
                    "the request ended without an answer",
                ))
            }
        }
    }
}

/// A transport error as one of our fixed reasons. Only the error's kind and
/// its sources' wording are looked at; none of it is passed on.
pub(crate) fn describe_error(e: &reqwest::Error) -> (UnknownReason, &'static str) {
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        chain.push_str(&s.to_string().to_ascii_lowercase());
        chain.push('\n');
        source = s.source();
    }
    if e.is_timeout() || chain.contains("timed out") {
        if e.is_connect() {
            (UnknownReason::Timeout, "connect timed out")
        } else {
            (UnknownReason::Timeout, "timed out")
        }
    } else if [
        "certificate",
        "tls",
        "ssl",
        "handshake",
        "corrupt message",
        "alert",
        "peer is incompatible",
    ]
    .iter()
    .any(|w| chain.contains(w))
    {
        (UnknownReason::Tls, "TLS error")
    } else if chain.contains("dns error") {
        (UnknownReason::Connection, "DNS lookup failed")
    } else if chain.contains("refused") {
        (UnknownReason::Connection, "connection refused")
    } else if e.is_connect() {
        (UnknownReason::Connection, "connection failed")
    } else if e.is_body() || e.is_decode() {
        (
            UnknownReason::Connection,
            "connection dropped during the answer",
        )
    } else {
        (UnknownReason::Connection, "request failed")
    }
}

/// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`: a
/// date in any of the three forms RFC 9110 says a recipient must accept
/// (IMF-fixdate, RFC 850, asctime). A date in the past means now.
/// Waits longer than [`RETRY_AFTER_CAP`] (a number of seconds too big for
/// any integer type, a date in the year 9999) are read as the cap: far
/// over any `max_wait`, so the check ends instead of retrying early.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(RETRY_AFTER_CAP));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(RETRY_AFTER_CAP),
    )
}

/// `120 s`, or `a year or more` for a wait at the cap.
fn describe_wait(wait: Duration) -> String {
    if wait >= RETRY_AFTER_CAP {
        "a year or more".into()
    } else {
        format!("{} s", wait.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // 08:49:37
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", UNIX_EPOCH),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after(
                "Sat, 29 Feb 2020 12:00:00 GMT",
                UNIX_EPOCH + Duration::from_secs(1_582_977_600 - 60)
            ),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn retry_after_imf_fixdate() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            parse_retry_after(" Sun, 06 Nov 1994 08:50:37 GMT ", now),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn retry_after_rfc850_date() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn retry_after_asctime_date() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:50:37 1994", now),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn retry_after_overflow_is_capped() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        for huge in [
            "18446744073709551615",
            "99999999999999999999999999999999",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            assert_eq!(
                parse_retry_after(huge, now),
                Some(RETRY_AFTER_CAP),
                "{huge}"
            );
        }
        assert_eq!(describe_wait(RETRY_AFTER_CAP), "a year or more");
        assert_eq!(describe_wait(Duration::from_secs(120)), "120 s");
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn backoff_doubles() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(3), Duration::from_secs(2));
    }
}
