//! Listing an organisation's repositories through its hosting API:
//! GitHub (organisations and users; GitHub Enterprise with `--api-url`) and
//! GitLab (groups with their subgroups, and users; self-managed with
//! `--api-url`).
//!
//! The requests go through the verification client (`provider::http`): no
//! redirect is followed, the whole request is bounded in time, and a token
//! (from `GITHUB_TOKEN` / `GITLAB_TOKEN`, never the command line) is sent
//! only over https, or plain http to a loopback address. Pages are followed
//! through `Link: rel="next"` (GitHub, GitLab) or `X-Next-Page` (GitLab),
//! and only while they stay on the API's origin. A rate limit (`403`/`429`
//! with `Retry-After`, or `X-RateLimit-Remaining: 0` with
//! `X-RateLimit-Reset`) is waited out when the wait is within
//! `max_wait`, and is an error otherwise.
//!
//! An API is input like any other: each page is parsed and filtered as it
//! arrives and only the repositories kept are handed on, and everything a
//! server could make large is bounded (bytes a page, pages, repositories
//! and bytes of names and URLs an owner, rate-limit waits a request and a
//! listing, the listing's time). A bound reached ends the listing with an
//! error that says so; what was listed before it is still audited. Ctrl-C
//! stops a listing between pages, during a request and during a wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use globset::GlobSet;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde::Deserialize;
use url::Url;

use crate::provider::http::{parse_retry_after, send_within_limit, Http};

/// Repositories asked for per page (the most both APIs give).
const PER_PAGE: u32 = 100;
/// Bytes of one page read at most: a page of 100 repositories is some
/// 600 KB of JSON on GitHub, less on GitLab.
pub const PAGE_LIMIT: u64 = 4 << 20;
/// Pages followed at most for one owner: 100,000 repositories.
pub const MAX_PAGES: usize = 1000;
/// Repositories listed at most for one owner (kept or not).
pub const MAX_REPOS: usize = 100_000;
/// Bytes of names and URLs of the repositories kept, at most, for one
/// owner: some 400,000 ordinary ones.
pub const MAX_KEPT_BYTES: usize = 64 << 20;
/// A repository whose name or URL is longer than this is left out.
pub const MAX_FIELD: usize = 4096;
/// Rate-limit waits at most for one request.
const MAX_RETRIES: u32 = 5;
/// Rate-limit waits at most for one owner's whole listing.
pub const MAX_LISTING_RETRIES: u32 = 20;
/// The longest one owner's listing may take, waits included.
pub const MAX_LISTING_TIME: Duration = Duration::from_secs(3600);
/// How often a rate-limit wait looks at the interrupt flag.
const INTERRUPT_POLL: Duration = Duration::from_millis(50);

pub const GITHUB_API: &str = "https://api.github.com";
pub const GITLAB_API: &str = "https://gitlab.com/api/v4";

/// Whose repositories to list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    GitHubOrg(String),
    GitHubUser(String),
    /// With its subgroups.
    GitLabGroup(String),
    GitLabUser(String),
}

impl Owner {
    fn is_github(&self) -> bool {
        matches!(self, Owner::GitHubOrg(_) | Owner::GitHubUser(_))
    }

    /// `--github-org acme`, as messages name it.
    pub fn describe(&self) -> String {
        match self {
            Owner::GitHubOrg(n) => format!("GitHub organisation {n}"),
            Owner::GitHubUser(n) => format!("GitHub user {n}"),
            Owner::GitLabGroup(n) => format!("GitLab group {n}"),
            Owner::GitLabUser(n) => format!("GitLab user {n}"),
        }
    }
}

/// A token; its `Debug` form hides it.
#[derive(Clone)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// How to list; `config` assembles it.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--api-url`; the public service's API when unset.
    pub api_url: Option<Url>,
    pub github_token: Option<Token>,
    pub gitlab_token: Option<Token>,
    /// Keep forks (`--forks`).
    pub forks: bool,
    /// Keep archived repositories (unless `--no-archived`).
    pub archived: bool,
    /// `--include` / `--exclude`, matched against the full name
    /// (`owner/name`, `group/sub/name`).
    pub include: Option<GlobSet>,
    pub exclude: Option<GlobSet>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// The longest rate-limit wait accepted.
    pub max_wait: Duration,
}

/// A listed repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repo {
    /// `owner/name` (GitHub), `group/sub/name` (GitLab).
    pub full_name: String,
    pub clone_url: String,
    pub web_url: String,
    pub github: bool,
    pub fork: bool,
    pub archived: bool,
}

/// Why a listing failed, said in full (the token never is).
pub type ListError = String;

/// List `owner`'s repositories page by page, handing each one the options
/// keep to `each` as its page arrives, in the API's order. Returns what
/// went wrong: a repository left out, or why the listing stopped (a failed
/// request, a bound reached); what was handed over before stays valid. An
/// interrupt (`interrupt`) ends the listing quietly.
pub fn list(
    owner: &Owner,
    options: &Options,
    interrupt: Option<&AtomicBool>,
    each: &mut dyn FnMut(Repo),
) -> Vec<ListError> {
    let mut spent = Spent {
        started: Instant::now(),
        pages: 0,
        repos: 0,
        kept_bytes: 0,
        waits: 0,
        too_long: 0,
    };
    let mut problems = Vec::new();
    let result = list_pages(owner, options, interrupt, each, &mut spent);
    if spent.too_long > 0 {
        problems.push(format!(
            "{}: {} repositor{} left out: a name or URL longer than {MAX_FIELD} bytes",
            owner.describe(),
            spent.too_long,
            if spent.too_long == 1 { "y" } else { "ies" }
        ));
    }
    if let Err(e) = result {
        problems.push(e);
    }
    problems
}

/// How much one listing has used of its bounds.
struct Spent {
    started: Instant,
    pages: usize,
    repos: usize,
    kept_bytes: usize,
    waits: u32,
    /// Repositories left out for a name or URL over [`MAX_FIELD`].
    too_long: usize,
}

fn list_pages(
    owner: &Owner,
    options: &Options,
    interrupt: Option<&AtomicBool>,
    each: &mut dyn FnMut(Repo),
    spent: &mut Spent,
) -> Result<(), ListError> {
    let who = owner.describe();
    let base = match &options.api_url {
        Some(u) => u.clone(),
        None => Url::parse(if owner.is_github() {
            GITHUB_API
        } else {
            GITLAB_API
        })
        .expect("the default API URLs parse"),
    };
    check_api_url(&base)?;
    let token = if owner.is_github() {
        &options.github_token
    } else {
        &options.gitlab_token
    };
    let http =
        Http::new(options.connect_timeout, options.timeout).map_err(|e| format!("{who}: {e}"))?;
    let root = base.as_str().trim_end_matches('/');
    let seg = |s: &str| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string();
    let first = match owner {
        Owner::GitHubOrg(n) => format!("{root}/orgs/{}/repos?per_page={PER_PAGE}&type=all", seg(n)),
        Owner::GitHubUser(n) => {
            format!("{root}/users/{}/repos?per_page={PER_PAGE}&type=all", seg(n))
        }
        Owner::GitLabGroup(n) => format!(
            "{root}/groups/{}/projects?per_page={PER_PAGE}&include_subgroups=true&order_by=id&sort=asc",
            seg(n)
        ),
        Owner::GitLabUser(n) => format!(
            "{root}/users/{}/projects?per_page={PER_PAGE}&order_by=id&sort=asc",
            seg(n)
        ),
    };
    let mut next = Some(Url::parse(&first).map_err(|e| format!("{who}: {e}"))?);
    let never = AtomicBool::new(false);
    let interrupt = interrupt.unwrap_or(&never);
    let stopped = |what: String| {
        format!(
            "{who}: the listing stopped at {what}; repositories not listed by then are not audited"
        )
    };
    while let Some(url) = next.take() {
        if interrupt.load(Ordering::Relaxed) {
            break;
        }
        if spent.pages >= MAX_PAGES {
            return Err(stopped(format!(
                "{MAX_PAGES} pages (the most one owner's listing follows)"
            )));
        }
        if spent.started.elapsed() >= MAX_LISTING_TIME {
            return Err(stopped(format!(
                "{} s (the longest one owner's listing may take)",
                MAX_LISTING_TIME.as_secs()
            )));
        }
        spent.pages += 1;
        let Some((headers, body)) = get(
            &http,
            &url,
            token.as_ref(),
            owner,
            options,
            interrupt,
            spent,
        )?
        else {
            break; // interrupted
        };
        let page = parse_page(owner, &body).map_err(|e| {
            format!(
                "{who}: {} answered with a page that is not a repository list: {e}",
                url.path()
            )
        })?;
        drop(body);
        let empty = page.is_empty();
        for repo in page {
            if spent.repos >= MAX_REPOS {
                return Err(stopped(format!(
                    "{MAX_REPOS} repositories (the most one owner's listing takes)"
                )));
            }
            spent.repos += 1;
            if !keep(&repo, options) {
                continue;
            }
            let size = repo.full_name.len() + repo.clone_url.len() + repo.web_url.len();
            if [&repo.full_name, &repo.clone_url, &repo.web_url]
                .iter()
                .any(|f| f.len() > MAX_FIELD)
            {
                spent.too_long += 1;
                continue;
            }
            if spent.kept_bytes + size > MAX_KEPT_BYTES {
                return Err(stopped(format!(
                    "{} MiB of repository names and URLs (the most one owner's listing keeps)",
                    MAX_KEPT_BYTES >> 20
                )));
            }
            spent.kept_bytes += size;
            each(repo);
        }
        next = next_page(&headers, &url)
            .map_err(|e| format!("{who}: {e}"))?
            .filter(|_| !empty);
    }
    Ok(())
}

/// Characters escaped in an owner's name in a path (GitLab's group paths
/// keep their `/` escaped as `%2F`).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

/// https, or http to a loopback address (a test's stand-in).
pub fn check_api_url(url: &Url) -> Result<(), ListError> {
    let loopback = crate::provider::is_loopback(url);
    if url.scheme() == "https" || (url.scheme() == "http" && loopback) {
        Ok(())
    } else {
        Err(format!(
            "--api-url {url}: must be https (plain http only to a loopback address)"
        ))
    }
}

fn keep(r: &Repo, options: &Options) -> bool {
    (options.forks || !r.fork)
        && (options.archived || !r.archived)
        && options
            .include
            .as_ref()
            .map_or(true, |g| g.is_match(&r.full_name))
        && !options
            .exclude
            .as_ref()
            .is_some_and(|g| g.is_match(&r.full_name))
}

/// One page, waiting out rate limits (at most [`MAX_RETRIES`] times for
/// it, and within the listing's budget); the headers and the body. `None`
/// when interrupted.
fn get(
    http: &Http,
    url: &Url,
    token: Option<&Token>,
    owner: &Owner,
    options: &Options,
    interrupt: &AtomicBool,
    spent: &mut Spent,
) -> Result<Option<(HeaderMap, Vec<u8>)>, ListError> {
    let who = owner.describe();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static(if owner.is_github() {
                "application/vnd.github+json"
            } else {
                "application/json"
            }),
        );
        if let Some(Token(t)) = token {
            let (name, value) = if owner.is_github() {
                (AUTHORIZATION, format!("Bearer {t}"))
            } else {
                (
                    reqwest::header::HeaderName::from_static("private-token"),
                    t.clone(),
                )
            };
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                format!("{who}: the token holds characters an HTTP header cannot carry")
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let request = http.client_for(url).get(url.clone()).headers(headers);
        // One byte over the limit is read to tell a page that fits from
        // one that does not.
        let answer = match send_within_limit(request, http.timeout(), interrupt, PAGE_LIMIT + 1) {
            Ok(a) => a,
            Err(_) if interrupt.load(Ordering::Relaxed) => return Ok(None),
            Err((_, detail)) => return Err(format!("{who}: {}: {detail}", url.path())),
        };
        let status = answer.status;
        if (200..300).contains(&status) {
            if answer.body.len() as u64 > PAGE_LIMIT {
                return Err(format!(
                    "{who}: {} answered with a page over {} MiB; not read",
                    url.path(),
                    PAGE_LIMIT >> 20
                ));
            }
            return Ok(Some((answer.headers, answer.body)));
        }
        let env = if owner.is_github() {
            "GITHUB_TOKEN"
        } else {
            "GITLAB_TOKEN"
        };
        if status == 401 {
            return Err(if token.is_some() {
                format!("{who}: the API refused {env} (HTTP 401)")
            } else {
                format!("{who}: the API wants a token (HTTP 401); set {env}")
            });
        }
        if (300..400).contains(&status) {
            return Err(format!(
                "{who}: {} answered with a redirect (HTTP {status}), which is not followed; check --api-url",
                url.path()
            ));
        }
        if status == 404 {
            return Err(format!("{who}: not found (HTTP 404)"));
        }
        if let Some(wait) = rate_limit_wait(status, &answer.headers, SystemTime::now()) {
            if wait > options.max_wait {
                return Err(format!(
                    "{who}: rate limited (HTTP {status}) for {} s, longer than the {} s this run waits",
                    wait.as_secs(),
                    options.max_wait.as_secs()
                ));
            }
            if attempt > MAX_RETRIES {
                return Err(format!(
                    "{who}: still rate limited (HTTP {status}) after {MAX_RETRIES} waits"
                ));
            }
            if spent.waits >= MAX_LISTING_RETRIES {
                return Err(format!(
                    "{who}: rate limited (HTTP {status}) again after {MAX_LISTING_RETRIES} waits in this listing; stopped"
                ));
            }
            spent.waits += 1;
            let end = Instant::now() + wait.max(Duration::from_millis(100));
            while let Some(left) = end.checked_duration_since(Instant::now()) {
                if interrupt.load(Ordering::Relaxed) {
                    return Ok(None);
                }
                std::thread::sleep(left.min(INTERRUPT_POLL));
            }
            continue;
        }
        return Err(format!("{who}: {} answered HTTP {status}", url.path()));
    }
}

/// How long a rate-limited answer asks to wait, if it is one: `Retry-After`
/// on a 403/429, or `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset`
/// (seconds since the epoch).
fn rate_limit_wait(status: u16, headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(wait) = header("retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(wait);
    }
    let remaining = header("x-ratelimit-remaining").and_then(|v| v.trim().parse::<u64>().ok());
    let reset = header("x-ratelimit-reset").and_then(|v| v.trim().parse::<u64>().ok());
    match (remaining, reset) {
        (Some(0), Some(reset)) => {
            let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
            Some(Duration::from_secs(reset.saturating_sub(now)))
        }
        _ => None,
    }
}

/// The next page: `Link: <…>; rel="next"`, else GitLab's `X-Next-Page`.
/// A next page on another origin is an error: the token would go there.
fn next_page(headers: &HeaderMap, current: &Url) -> Result<Option<Url>, String> {
    let link = headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| {
            let (target, params) = part.split_once(';')?;
            let is_next = params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            is_next.then(|| target.trim().trim_start_matches('<').trim_end_matches('>'))
        });
    let next = if let Some(link) = link {
        Url::parse(link).map_err(|e| format!("a Link header that is not a URL: {e}"))?
    } else if let Some(page) = headers
        .get("x-next-page")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let page: u64 = page
            .parse()
            .map_err(|_| format!("X-Next-Page `{page}` is not a page number"))?;
        let mut url = current.clone();
        let pairs: Vec<(String, String)> = current
            .query_pairs()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("page", &page.to_string());
        url
    } else {
        return Ok(None);
    };
    if next.scheme() != current.scheme()
        || next.host() != current.host()
        || next.port_or_known_default() != current.port_or_known_default()
    {
        return Err(format!(
            "the next page is on another host ({}); not followed",
            next.host_str().unwrap_or("?")
        ));
    }
    Ok(Some(next))
}

#[derive(Deserialize)]
struct GitHubRepo {
    full_name: String,
    clone_url: String,
    html_url: String,
    #[serde(default)]
    fork: bool,
    #[serde(default)]
    archived: bool,
}

#[derive(Deserialize)]
struct GitLabProject {
    path_with_namespace: String,
    http_url_to_repo: String,
    web_url: String,
    #[serde(default)]
    forked_from_project: Option<serde_json::Value>,
    #[serde(default)]
    archived: bool,
}

fn parse_page(owner: &Owner, body: &[u8]) -> Result<Vec<Repo>, String> {
    if owner.is_github() {
        let list: Vec<GitHubRepo> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        Ok(list
            .into_iter()
            .map(|r| Repo {
                full_name: r.full_name,
                clone_url: r.clone_url,
                web_url: r.html_url,
                github: true,
                fork: r.fork,
                archived: r.archived,
            })
            .collect())
    } else {
        let list: Vec<GitLabProject> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        Ok(list
            .into_iter()
            .map(|p| Repo {
                full_name: p.path_with_namespace,
                clone_url: p.http_url_to_repo,
                web_url: p.web_url,
                github: false,
                fork: p.forked_from_project.is_some_and(|v| !v.is_null()),
                archived: p.archived,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn next_page_from_link_or_x_next_page() {
        let cur = Url::parse("http://127.0.0.1:8/orgs/a/repos?per_page=100").unwrap();
        let h = headers(&[(
            "link",
            "<http://127.0.0.1:8/orgs/a/repos?page=1>; rel=\"prev\", <http://127.0.0.1:8/orgs/a/repos?page=3>; rel=\"next\"",
        )]);
        assert_eq!(
            next_page(&h, &cur).unwrap().unwrap().as_str(),
            "http://127.0.0.1:8/orgs/a/repos?page=3"
        );
        let h = headers(&[("x-next-page", "2")]);
        assert_eq!(
            next_page(&h, &cur).unwrap().unwrap().as_str(),
            "http://127.0.0.1:8/orgs/a/repos?per_page=100&page=2"
        );
        assert_eq!(
            next_page(&headers(&[("x-next-page", "")]), &cur).unwrap(),
            None
        );
        let away = headers(&[("link", "<https://evil.example/x>; rel=\"next\"")]);
        assert!(next_page(&away, &cur).is_err());
    }

    #[test]
    fn rate_limit_waits() {
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        let h = headers(&[("retry-after", "7")]);
        assert_eq!(rate_limit_wait(403, &h, now), Some(Duration::from_secs(7)));
        assert_eq!(rate_limit_wait(500, &h, now), None);
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1030"),
        ]);
        assert_eq!(rate_limit_wait(403, &h, now), Some(Duration::from_secs(30)));
        let h = headers(&[("x-ratelimit-remaining", "10")]);
        assert_eq!(rate_limit_wait(403, &h, now), None);
    }

    #[test]
    fn api_urls_must_be_https_unless_loopback() {
        assert!(check_api_url(&Url::parse("https://ghe.example.com/api/v3").unwrap()).is_ok());
        assert!(check_api_url(&Url::parse("http://127.0.0.1:9/").unwrap()).is_ok());
        assert!(check_api_url(&Url::parse("http://ghe.example.com/api/v3").unwrap()).is_err());
    }
}
