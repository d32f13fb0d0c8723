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
//!
//! Nothing in the clone directory is trusted for more than data: git runs
//! with no hooks and no fsmonitor ([`SETTINGS`], given as `git -c`, which
//! outranks every config file), a mirror's `config` is written anew before
//! each fetch with only what leakhound sets (so a `credential.helper`,
//! `core.sshCommand`, `include.path` or `remote.origin.uploadpack` planted
//! there is gone), and a mirror that holds what no clone of ours makes
//! (alternates, grafts, a `commondir`) is cloned afresh. With a token, git
//! follows no redirect: the header is for the clone URL's origin, and git
//! would send it on to wherever a redirect points. The clone directory and
//! the mirrors are private to the user (0700, git runs with umask 077), and
//! git runs in a process group of its own, killed whole (transport helpers
//! included) at `--clone-timeout`, on Ctrl-C, and when leakhound exits.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::finding::sha256_hex;

/// Lines of git's stderr kept in an error message.
const ERROR_LINES: usize = 3;
/// Characters of the repository's name kept in its clone directory's name.
const NAME_LEN: usize = 80;

/// What every git command runs with, as `git -c` (the command-line scope,
/// read after the system, global and repository config files, so neither
/// a mirror's config nor the user's can undo it).
pub const SETTINGS: &[&str] = &[
    // No hook runs: a clone has none (`--template=`), and one planted in a
    // mirror is not looked for.
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    // The transport that runs a command line of the URL's choosing.
    "protocol.ext.allow=never",
    // An automatic gc or maintenance after a fetch runs in the foreground,
    // inside git's process group and its time limit, not detached from it.
    "gc.autoDetach=false",
    "maintenance.autoDetach=false",
];

/// With a token: git follows no redirect (`initial` would take the header
/// to the redirect's target for every later request).
const NO_REDIRECTS: &str = "http.followRedirects=false";

/// Files a mirror of ours never holds; one that does is cloned afresh.
/// Alternates and `commondir` make git read objects, refs and config from
/// elsewhere; grafts and `shallow` hide history from the scan.
const FOREIGN: &[&str] = &[
    "commondir",
    "objects/info/alternates",
    "objects/info/http-alternates",
    "info/grafts",
    "shallow",
];

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
    /// Why an existing mirror was not fetched into but cloned afresh.
    pub replaced: Option<String>,
}

/// Make `dir` (the clone directory) private to the user: created 0700 with
/// any missing parents, or made 0700 if it is readable or writable by
/// others (returned as a note). One owned by another user is refused: its
/// owner could plant mirrors in it.
pub fn private_dir(dir: &Path) -> Result<Option<String>, String> {
    let shown = dir.display();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create the clone directory {shown}: {e}"))?;
    let meta = std::fs::metadata(dir).map_err(|e| format!("the clone directory {shown}: {e}"))?;
    if !meta.is_dir() {
        return Err(format!("the clone directory {shown} is not a directory"));
    }
    if meta.uid() != euid() {
        return Err(format!(
            "the clone directory {shown} belongs to another user (uid {}); mirrors there could have been planted by them. Use a directory of your own (--clone-dir)",
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(None);
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
        format!(
            "the clone directory {shown} is open to other users (mode {mode:o}) and cannot be made private: {e}"
        )
    })?;
    Ok(Some(format!(
        "the clone directory {shown} was open to other users (mode {mode:o}); made private (700): it holds full copies of the repositories"
    )))
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Clone `remote` as a bare mirror under `clone_dir` (made private with
/// [`private_dir`] first), or fetch into the mirror an earlier run left
/// there, its config written anew. The error is a short message with the
/// URL redacted, for the audit's list of errors. `interrupt` (Ctrl-C) stops
/// git.
pub fn mirror(
    remote: &Remote,
    clone_dir: &Path,
    timeout: Duration,
    interrupt: Option<&AtomicBool>,
) -> Result<Mirror, String> {
    let path = clone_dir.join(cache_name(&remote.url));
    let replaced = match existing(&path)? {
        Existing::Mirror(format) => {
            write_config(&path, &remote.url, format)?;
            let mut fetch = git(remote);
            fetch
                .arg("--git-dir")
                .arg(&path)
                .args(["fetch", "--prune", "--quiet", "origin"]);
            run(fetch, timeout, remote, interrupt)?;
            return Ok(Mirror {
                path,
                fetched: true,
                replaced: None,
            });
        }
        Existing::Nothing => None,
        Existing::Foreign(why) => Some(why),
    };
    // Cloned beside the final place and renamed: a clone cut short never
    // looks like a mirror to the next run.
    let mut tmp_name = path
        .file_name()
        .expect("cache_name is a file name")
        .to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    remove(&tmp);
    let mut clone = git(remote);
    clone
        .args(["clone", "--mirror", "--quiet", "--template="])
        .arg("--")
        .arg(&remote.url)
        .arg(&tmp);
    if let Err(e) = run(clone, timeout, remote, interrupt) {
        remove(&tmp);
        return Err(e);
    }
    // The config as every later fetch will find it.
    if let Err(e) = existing(&tmp).and_then(|found| match found {
        Existing::Mirror(format) => write_config(&tmp, &remote.url, format),
        _ => Err(format!("git clone left no mirror at {}", tmp.display())),
    }) {
        remove(&tmp);
        return Err(e);
    }
    remove(&path);
    std::fs::rename(&tmp, &path).map_err(|e| {
        remove(&tmp);
        format!("cannot move the clone to {}: {e}", path.display())
    })?;
    Ok(Mirror {
        path,
        fetched: false,
        replaced,
    })
}

/// Remove a directory, or the symbolic link or file in its place.
fn remove(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// What the clone directory holds at a mirror's place.
enum Existing {
    Nothing,
    /// A mirror of ours, with its repository format.
    Mirror(Format),
    /// Something else (why), to be replaced by a fresh clone.
    Foreign(String),
}

/// The repository format extensions a mirror's config keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Format {
    sha256: bool,
    reftable: bool,
}

fn existing(path: &Path) -> Result<Existing, String> {
    let shown = path.display();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) => return Err(format!("{shown}: {e}")),
    };
    if meta.uid() != euid() {
        return Err(format!(
            "the mirror {shown} belongs to another user (uid {}); not used",
            meta.uid()
        ));
    }
    if !meta.is_dir() {
        return Ok(Existing::Foreign("not a directory".into()));
    }
    let is = |rel: &str, dir: bool| {
        std::fs::symlink_metadata(path.join(rel)).is_ok_and(|m| {
            if dir {
                m.is_dir()
            } else {
                m.is_file()
            }
        })
    };
    if !is("HEAD", false) || !is("objects", true) {
        return Ok(Existing::Foreign("not a git repository".into()));
    }
    if !is("config", false) {
        return Ok(Existing::Foreign("its config is not a file".into()));
    }
    if let Some(f) = FOREIGN
        .iter()
        .find(|f| std::fs::symlink_metadata(path.join(f)).is_ok())
    {
        return Ok(Existing::Foreign(format!("it holds {f}")));
    }
    if let Some(link) = link_in(path, path, 0) {
        return Ok(Existing::Foreign(format!(
            "it holds a symbolic link, {}",
            link.strip_prefix(path).unwrap_or(&link).display()
        )));
    }
    // Written in place by git, not replaced: a hard link planted there would
    // have git write into another file. Neither is needed (a bare mirror
    // keeps no reflogs; FETCH_HEAD is written anew by every fetch).
    for stale in ["FETCH_HEAD", "logs"] {
        remove(&path.join(stale));
    }
    let config = std::fs::read(path.join("config")).map_err(|e| format!("{shown}/config: {e}"))?;
    Ok(Existing::Mirror(format_of(&String::from_utf8_lossy(
        &config,
    ))))
}

/// Directories nested at most in a mirror (refs/heads/a/b/… included).
const MAX_DEPTH: usize = 64;

/// The first symbolic link under `dir` (a mirror at `root`), or `dir`
/// itself when nested too deep. The loose objects' fan-out directories are
/// looked at, not into (git only creates files there).
fn link_in(root: &Path, dir: &Path, depth: usize) -> Option<PathBuf> {
    if depth > MAX_DEPTH {
        return Some(dir.to_path_buf());
    }
    let entries = std::fs::read_dir(dir).ok()?;
    let objects = root.join("objects");
    for entry in entries.flatten() {
        let kind = entry.file_type().ok()?;
        let path = entry.path();
        if kind.is_symlink() {
            return Some(path);
        }
        let fan_out = dir == objects
            && entry.file_name().len() == 2
            && entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_hexdigit()));
        if kind.is_dir() && !fan_out {
            if let Some(found) = link_in(root, &path, depth + 1) {
                return Some(found);
            }
        }
    }
    None
}

/// The object format and ref storage a config names (`[extensions]`):
/// kept when the config is written anew, or git could not read the mirror.
fn format_of(config: &str) -> Format {
    let mut format = Format::default();
    let mut section = String::new();
    for line in config.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix('[') {
            section = rest
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            continue;
        }
        if section != "extensions" {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_ascii_lowercase();
        match key.trim().to_ascii_lowercase().as_str() {
            "objectformat" => format.sha256 = value == "sha256",
            "refstorage" => format.reftable = value == "reftable",
            _ => {}
        }
    }
    format
}

/// The whole config of a mirror: what `git clone --mirror` writes, with
/// `url`, and nothing else. Written beside and renamed over the old one
/// (a symbolic link in its place is replaced, not followed); the mirror
/// itself is made private again.
fn write_config(path: &Path, url: &str, format: Format) -> Result<(), String> {
    let mut text = format!(
        "[core]\n\trepositoryformatversion = {}\n\tbare = true\n",
        u8::from(format.sha256 || format.reftable)
    );
    if format.sha256 || format.reftable {
        text.push_str("[extensions]\n");
        if format.sha256 {
            text.push_str("\tobjectformat = sha256\n");
        }
        if format.reftable {
            text.push_str("\trefstorage = reftable\n");
        }
    }
    // check_url refused control characters; quotes and backslashes are
    // escaped as git reads them.
    let quoted = url.replace('\\', "\\\\").replace('"', "\\\"");
    text.push_str(&format!(
        "[remote \"origin\"]\n\turl = \"{quoted}\"\n\tfetch = +refs/*:refs/*\n\tmirror = true\n"
    ));
    let fail = |e: std::io::Error| format!("cannot write {}/config: {e}", path.display());
    let tmp = path.join("config.leakhound-tmp");
    remove(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(fail)?;
    drop(file);
    std::fs::rename(&tmp, path.join("config")).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("cannot make {} private: {e}", path.display()))?;
    Ok(())
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

/// `git` with what every call gets: [`SETTINGS`] (and no redirects with a
/// token), no prompts, the token (if any) as an extra header for its origin
/// only, no hosting token variables, umask 077, a process group of its own.
fn git(remote: &Remote) -> Command {
    let mut c = Command::new("git");
    for setting in SETTINGS {
        c.arg("-c").arg(setting);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("GIT_TERMINAL_PROMPT", "0")
        // git needs neither; a helper or hook it runs should not see them.
        .env_remove("GITHUB_TOKEN")
        .env_remove("GITLAB_TOKEN")
        .process_group(0);
    // Set by a hook leakhound runs in, they would point git at another
    // repository's objects or config.
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
    ] {
        c.env_remove(var);
    }
    // SAFETY: umask is async-signal-safe and touches only the child.
    unsafe {
        c.pre_exec(|| {
            libc::umask(0o077);
            Ok(())
        });
    }
    if let Some(auth) = &remote.auth {
        c.arg("-c").arg(NO_REDIRECTS);
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

/// Process groups of the git commands running now: killed if leakhound
/// exits before they end (a second Ctrl-C exits at once).
static RUNNING: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static AT_EXIT: Once = Once::new();

extern "C" fn kill_running() {
    // A thread holding the lock at exit is only adding or removing one.
    for _ in 0..100 {
        if let Ok(groups) = RUNNING.try_lock() {
            for &g in groups.iter() {
                kill_group(g);
            }
            return;
        }
        std::thread::yield_now();
    }
}

fn kill_group(group: i32) {
    // SAFETY: kill has no memory effects; a negative pid names the group,
    // which is the git we started (its pid) and what it started.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

fn running(group: i32, live: bool) {
    let mut groups = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    if live {
        groups.push(group);
    } else {
        groups.retain(|&g| g != group);
    }
}

/// Run a git command to its end within `timeout`, or until `interrupt`;
/// then its whole process group is killed. Its error is git's last lines
/// of stderr, sanitized, with URLs redacted.
fn run(
    mut command: Command,
    timeout: Duration,
    remote: &Remote,
    interrupt: Option<&AtomicBool>,
) -> Result<(), String> {
    AT_EXIT.call_once(|| {
        // SAFETY: registers a plain function; it only reads RUNNING and
        // sends signals.
        unsafe {
            libc::atexit(kill_running);
        }
    });
    let mut child = command.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "git is not installed (remote repositories are cloned with the system git)".to_string()
        } else {
            format!("cannot run git: {e}")
        }
    })?;
    let group = child.id() as i32;
    running(group, true);
    // stderr is read on a thread so a chatty git never blocks on a full pipe.
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut text);
        text
    });
    let end = Instant::now() + timeout;
    let status = loop {
        let stop = if interrupt.is_some_and(|i| i.load(Ordering::Relaxed)) {
            Some("interrupted".to_string())
        } else if Instant::now() >= end {
            Some(format!(
                "git did not finish within {} s (--clone-timeout)",
                timeout.as_secs()
            ))
        } else {
            None
        };
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if stop.is_some() => {
                kill_group(group);
                let _ = child.wait();
                running(group, false);
                return Err(stop.unwrap_or_default());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                kill_group(group);
                let _ = child.wait();
                running(group, false);
                return Err(format!("cannot wait for git: {e}"));
            }
        }
    };
    running(group, false);
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
    let redirect = if remote.auth.is_some() && tail.contains("error: 30") {
        " (a redirect: with a token git follows none, so the token stays with the clone URL's origin)"
    } else {
        ""
    };
    Err(format!(
        "git failed ({}): {}{redirect}",
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
    fn a_rewritten_config_keeps_only_the_repository_format() {
        assert_eq!(format_of("[core]\n\tbare = true\n"), Format::default());
        let f = format_of(
            "[core]\nrepositoryformatversion = 1\n[Extensions]\n\tobjectFormat = sha256\n\trefstorage = \"reftable\"\n[remote \"origin\"]\n\tobjectformat = sha1\n",
        );
        assert_eq!(
            f,
            Format {
                sha256: true,
                reftable: true
            }
        );
        // An extension named outside [extensions] is not one.
        assert_eq!(
            format_of("[remote \"x\"]\nobjectformat = sha256\n"),
            Format::default()
        );
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
