//! Remote repositories (`--git-url`, and the ones a hosting API lists):
//! mirrored with the system `git` into a clone directory, fetched again on
//! the next run, then read by the history scan like a local repository.
//!
//! The system `git` rather than libgit2's transports, because it brings
//! what users already have: credential helpers, SSH config and agents,
//! proxies, `insteadOf` rewrites. Nothing secret goes through its argument
//! list: a URL with a password in it is refused, and a hosting token is
//! handed over as an `http.<url>.extraHeader` in `GIT_CONFIG_*` environment
//! variables (which only the same user can read), scoped to the one origin
//! the token belongs to. git never prompts (`GIT_TERMINAL_PROMPT=0`, stdin
//! closed): a repository that wants a password it does not have fails and
//! the audit goes on.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::finding::sha256_hex;

/// Lines of git's stderr kept in an error message.
const ERROR_LINES: usize = 3;
/// Characters of the repository's name kept in its clone directory's name.
const NAME_LEN: usize = 80;

/// A web host whose line links leakhound knows how to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebKind {
    GitHub,
    GitLab,
    Bitbucket,
}

/// A token for a hosting service, sent as an HTTP header to the one origin
/// it belongs to. Its `Debug` form hides the value.
#[derive(Clone)]
pub struct HttpAuth {
    /// `https://host[:port]/`: git sends the header only to URLs under it.
    pub origin: String,
    /// The whole header, `Authorization: Basic …`.
    header: String,
}

impl std::fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAuth")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl HttpAuth {
    /// Basic authentication as `user:token` (GitHub takes any user name with
    /// a token, GitLab `oauth2`), for clone URLs under `clone_url`'s origin.
    /// `None` when the URL is not https (or http to a loopback address): a
    /// token never travels in clear.
    pub fn basic(clone_url: &str, user: &str, token: &str) -> Option<HttpAuth> {
        let url = url::Url::parse(clone_url).ok()?;
        let loopback = crate::provider::is_loopback(&url);
        if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
            return None;
        }
        let mut origin = format!("{}://{}", url.scheme(), url.host_str()?);
        if let Some(port) = url.port() {
            origin.push_str(&format!(":{port}"));
        }
        origin.push('/');
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
        Some(HttpAuth {
            origin,
            header: format!("Authorization: Basic {pair}"),
        })
    }
}

/// A repository to audit.
#[derive(Clone, Debug)]
pub struct Remote {
    /// What git clones. Never holds a password ([`check_url`]).
    pub url: String,
    /// The repository's web page, for links to lines (`https://github.com/o/r`).
    pub web: Option<(String, WebKind)>,
    pub auth: Option<HttpAuth>,
}

impl Remote {
    /// A repository named on the command line; its web page is guessed from
    /// well-known hosts.
    pub fn from_url(url: &str) -> Result<Remote, String> {
        check_url(url)?;
        Ok(Remote {
            url: url.to_string(),
            web: web_page(url),
            auth: None,
        })
    }

    /// The URL as reports and messages show it ([`redact_url`]).
    pub fn shown(&self) -> String {
        redact_url(&self.url)
    }

    /// A link to `line` of `path` at `commit`, when the web host is known.
    pub fn line_link(&self, commit: &str, path: &str, line: usize) -> Option<String> {
        let (web, kind) = self.web.as_ref()?;
        let web = web.trim_end_matches('/');
        let path: String = path
            .split('/')
            .map(|s| percent_encoding::utf8_percent_encode(s, PATH_SEGMENT).to_string())
            .collect::<Vec<_>>()
            .join("/");
        Some(match kind {
            WebKind::GitHub => format!("{web}/blob/{commit}/{path}#L{line}"),
            WebKind::GitLab => format!("{web}/-/blob/{commit}/{path}#L{line}"),
            WebKind::Bitbucket => format!("{web}/src/{commit}/{path}#lines-{line}"),
        })
    }
}

/// Characters escaped in a link's path segments.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Refuse what git should not be handed: an option (`-…`), a transport
/// other than https, http, ssh, git and file (`ext::` runs commands), and a
/// password in the URL (it would sit in the process list and the mirror's
/// config; credential helpers and `GITHUB_TOKEN` are for that).
pub fn check_url(url: &str) -> Result<(), String> {
    let shown = redact_url(url);
    if url.is_empty() || url.starts_with('-') || url.chars().any(char::is_control) {
        return Err(format!("`{shown}` is not a repository URL"));
    }
    if let Some((scheme, _)) = url.split_once("://") {
        if !["https", "http", "ssh", "git", "file"].contains(&scheme.to_ascii_lowercase().as_str())
        {
            return Err(format!(
                "`{shown}`: only https, http, ssh, git and file URLs are cloned"
            ));
        }
        if let Ok(parsed) = url::Url::parse(url) {
            if parsed.password().is_some()
                || (parsed.scheme().starts_with("http") && !parsed.username().is_empty())
            {
                return Err(format!(
                    "`{shown}`: credentials in a URL would show in the process list; use a git credential helper, or GITHUB_TOKEN / GITLAB_TOKEN with --github-org / --gitlab-group"
                ));
            }
        }
        return Ok(());
    }
    if url.contains("::") {
        return Err(format!(
            "`{shown}`: only https, http, ssh, git and file URLs are cloned"
        ));
    }
    // `host:path` (scp-like ssh) or a local path: git decides, as it would.
    Ok(())
}

/// `url` with any user information replaced by `***` (an ssh user name
/// such as `git@` is kept: it is not a secret).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    if scheme.eq_ignore_ascii_case("ssh") && !userinfo.contains(':') {
        return url.to_string();
    }
    format!("{scheme}://***@{}", &rest[at + 1..])
}

/// The web page of a repository on github.com, gitlab.com or
/// bitbucket.org, from its https or ssh clone URL.
pub fn web_page(url: &str) -> Option<(String, WebKind)> {
    let (host, path) = if let Some((_, rest)) = url.split_once("://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/')?;
        (host.split(':').next()?, path)
    } else {
        // git@github.com:owner/repo.git
        let (user_host, path) = url.split_once(':')?;
        (
            user_host.rsplit_once('@').map_or(user_host, |(_, h)| h),
            path,
        )
    };
    let kind = match host.to_ascii_lowercase().as_str() {
        "github.com" => WebKind::GitHub,
        "gitlab.com" => WebKind::GitLab,
        "bitbucket.org" => WebKind::Bitbucket,
        _ => return None,
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    if path.is_empty() || path.split('/').count() < 2 {
        return None;
    }
    Some((
        format!("https://{}/{path}", host.to_ascii_lowercase()),
        kind,
    ))
}

/// A mirror on disk and how it got there.
#[derive(Debug)]
pub struct Mirror {
    pub path: PathBuf,
    /// True when an existing mirror was fetched, false when newly cloned.
    pub fetched: bool,
}

/// Clone `remote` as a bare mirror under `clone_dir`, or fetch into the
/// mirror an earlier run left there. The error is a short message with the
/// URL redacted, for the audit's list of errors.
pub fn mirror(remote: &Remote, clone_dir: &Path, timeout: Duration) -> Result<Mirror, String> {
    std::fs::create_dir_all(clone_dir)
        .map_err(|e| format!("cannot create {}: {e}", clone_dir.display()))?;
    let path = clone_dir.join(cache_name(&remote.url));
    if path.join("HEAD").is_file() && path.join("objects").is_dir() {
        let mut set_url = git(remote);
        set_url
            .arg("--git-dir")
            .arg(&path)
            .args(["config", "remote.origin.url"])
            .arg(&remote.url);
        run(set_url, timeout, remote)?;
        let mut fetch = git(remote);
        fetch
            .arg("--git-dir")
            .arg(&path)
            .args(["fetch", "--prune", "--quiet", "origin"]);
        run(fetch, timeout, remote)?;
        return Ok(Mirror {
            path,
            fetched: true,
        });
    }
    // Cloned beside the final place and renamed: a clone cut short never
    // looks like a mirror to the next run.
    let mut tmp_name = path
        .file_name()
        .expect("cache_name is a file name")
        .to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let _ = std::fs::remove_dir_all(&tmp);
    let mut clone = git(remote);
    clone
        .args(["clone", "--mirror", "--quiet", "--"])
        .arg(&remote.url)
        .arg(&tmp);
    if let Err(e) = run(clone, timeout, remote) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(&path);
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp);
        format!("cannot move the clone to {}: {e}", path.display())
    })?;
    Ok(Mirror {
        path,
        fetched: false,
    })
}

/// The mirror's directory name: the URL's host and path made safe for a
/// file name, then a hash of the whole (redacted) URL so that two URLs never
/// share a mirror.
pub fn cache_name(url: &str) -> String {
    let shown = redact_url(url);
    let readable: String = shown
        .split_once("://")
        .map_or(shown.as_str(), |(_, r)| r)
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(NAME_LEN)
        .collect();
    let readable = readable.trim_start_matches('.');
    format!("{readable}-{}.git", &sha256_hex(shown.as_bytes())[..16])
}

/// `git` with the environment every call gets: no prompts, and the token
/// (if any) as an extra header for its origin only.
fn git(remote: &Remote) -> Command {
    let mut c = Command::new("git");
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("GIT_TERMINAL_PROMPT", "0");
    if let Some(auth) = &remote.auth {
        // Appended after any `GIT_CONFIG_*` pairs the user set.
        let n: usize = std::env::var("GIT_CONFIG_COUNT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        c.env("GIT_CONFIG_COUNT", (n + 1).to_string())
            .env(
                format!("GIT_CONFIG_KEY_{n}"),
                format!("http.{}.extraHeader", auth.origin),
            )
            .env(format!("GIT_CONFIG_VALUE_{n}"), &auth.header);
    }
    c
}

/// Run a git command to its end within `timeout`; its error is git's last
/// lines of stderr, sanitized, with URLs redacted.
fn run(mut command: Command, timeout: Duration, remote: &Remote) -> Result<(), String> {
    let mut child = command.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "git is not installed (remote repositories are cloned with the system git)".to_string()
        } else {
            format!("cannot run git: {e}")
        }
    })?;
    // stderr is read on a thread so a chatty git never blocks on a full pipe.
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut text);
        text
    });
    let end = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= end => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "git did not finish within {} s (--clone-timeout)",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot wait for git: {e}")),
        }
    };
    let text = reader.join().unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(ERROR_LINES)..].join("; ");
    let mut tail = redact_words(&tail);
    if let Some(auth) = &remote.auth {
        tail = tail.replace(&auth.header, "***");
    }
    Err(format!(
        "git failed ({}): {}",
        status
            .code()
            .map_or_else(|| "killed".to_string(), |c| format!("exit {c}")),
        crate::text::sanitize(&tail)
    ))
}

/// Redact the URLs in a message word by word.
fn redact_words(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            let bare = w.trim_matches(|c| c == '\'' || c == '"' || c == '`');
            if bare.contains("://") {
                w.replace(bare, &redact_url(bare))
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_information_is_redacted() {
        assert_eq!(
            redact_url("https://user:tok3n@example.com/o/r.git"),
            "https://***@example.com/o/r.git"
        );
        assert_eq!(
            redact_url("https://tok3n@example.com/o/r"),
            "https://***@example.com/o/r"
        );
        assert_eq!(
            redact_url("ssh://git@example.com/o/r"),
            "ssh://git@example.com/o/r"
        );
        assert_eq!(
            redact_url("ssh://git:pw@example.com/o/r"),
            "ssh://***@example.com/o/r"
        );
        assert_eq!(
            redact_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(
            redact_words("fatal: 'https://a:b@h/x' not found"),
            "fatal: 'https://***@h/x' not found"
        );
    }

    #[test]
    fn risky_urls_are_refused() {
        assert!(check_url("https://user:pw@github.com/o/r").is_err());
        assert!(check_url("https://token@github.com/o/r").is_err());
        assert!(check_url("ext::sh -c touch% /tmp/x").is_err());
        assert!(check_url("--upload-pack=touch /tmp/x").is_err());
        assert!(check_url("fish://host/r").is_err());
        assert!(check_url("https://github.com/o/r").is_ok());
        assert!(check_url("ssh://git@github.com/o/r").is_ok());
        assert!(check_url("git@github.com:o/r.git").is_ok());
        assert!(check_url("/srv/git/r.git").is_ok());
    }

    #[test]
    fn web_pages_of_known_hosts() {
        assert_eq!(
            web_page("https://github.com/acme/widgets.git"),
            Some(("https://github.com/acme/widgets".into(), WebKind::GitHub))
        );
        assert_eq!(
            web_page("git@gitlab.com:group/sub/proj.git"),
            Some(("https://gitlab.com/group/sub/proj".into(), WebKind::GitLab))
        );
        assert_eq!(
            web_page("ssh://git@bitbucket.org/team/repo"),
            Some(("https://bitbucket.org/team/repo".into(), WebKind::Bitbucket))
        );
        assert_eq!(web_page("https://git.example.com/a/b"), None);
        let r = Remote::from_url("https://github.com/acme/widgets").unwrap();
        assert_eq!(
            r.line_link("abc", "src/my file.rs", 7).as_deref(),
            Some("https://github.com/acme/widgets/blob/abc/src/my%20file.rs#L7")
        );
    }

    #[test]
    fn cache_names_differ_and_stay_file_names() {
        let a = cache_name("https://github.com/acme/widgets.git");
        let b = cache_name("https://github.com/acme/widgets2.git");
        assert_ne!(a, b);
        assert!(a.starts_with("github.com_acme_widgets-"), "{a}");
        assert!(!cache_name("file:///../../etc").contains('/'));
        assert!(!cache_name("../x").starts_with('.'));
    }

    #[test]
    fn tokens_travel_only_over_https_or_loopback() {
        assert!(HttpAuth::basic("http://example.com/o/r.git", "x", "t").is_none());
        let a = HttpAuth::basic("https://ghe.example.com:8443/o/r.git", "x", "t").unwrap();
        assert_eq!(a.origin, "https://ghe.example.com:8443/");
        assert!(!format!("{a:?}").contains("Basic"));
        assert!(HttpAuth::basic("http://127.0.0.1:9/o/r.git", "x", "t").is_some());
    }
}
