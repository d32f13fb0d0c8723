//! The HTML report, rendered in a real browser: headless Chromium (Debian's
//! `chromium`, which `.ci/run` installs) loads the file, runs its script and
//! dumps the DOM. The test fails, not skips, when Chromium is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::gitutil::Repo;
use crate::util::*;

/// The Chromium binary: `$CHROMIUM`, else `chromium` or `chromium-browser`
/// on PATH.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
        {
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() && !path.is_empty() {
                return PathBuf::from(path);
            }
        }
    }
    panic!("chromium is not installed (`apt-get install -y chromium`; .ci/run does this)");
}

/// Load `file` (with `fragment`, e.g. `#q=kunavo`) in headless Chromium and
/// return the DOM after the page's script ran. Chromium gets no network:
/// every request would go to a proxy that does not exist.
fn dump_dom(file: &Path, fragment: &str) -> String {
    let profile = tempdir();
    let url = format!("file://{}{fragment}", file.display());
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--proxy-server=http://127.0.0.1:9",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

/// The `data-path` of each shown finding row, in the order the page shows
/// them (hidden rows carry `hidden=""`).
fn shown_paths(dom: &str) -> Vec<String> {
    dom.split("<tbody class=\"finding\"")
        .skip(1)
        .filter_map(|row| {
            let tag = &row[..row.find('>').expect("tag ends")];
            if tag.contains(" hidden") {
                return None;
            }
            let at = tag.find("data-path=\"").expect("data-path") + 11;
            Some(tag[at..at + tag[at..].find('"').unwrap()].to_string())
        })
        .collect()
}

/// A repository whose history holds three keys, one committed by an author
/// whose name and message need escaping, and one in a file whose name is.
fn repo_with_keys() -> Repo {
    let repo = Repo::init();
    repo.write("app/config.py", &format!("KUNAVO_API_KEY = \"{KUNAVO}\"\n"));
    repo.commit("add config");
    repo.write(
        "deploy/<img src=x onerror=alert(1)>.env",
        &format!("PINAIVU_API_KEY={PINAIVU}\n"),
    );
    repo.git(&["add", "-A"]);
    repo.git(&[
        "commit",
        "-q",
        "--author=Eve \"M\" & 'Mal' Jr <evil@example.invalid>",
        "-m",
        "<b>bold</b> & \"quoted\"",
    ]);
    repo.write("z.env", &format!("GH={GITHUB}\n"));
    repo.commit("token");
    repo
}

#[test]
fn html_report_is_self_contained_escaped_and_redacted() {
    let repo = repo_with_keys();
    let out = tempdir();
    let report = out.path().join("report.html");
    let r = run(leakhound()
        .current_dir(repo.path())
        .args(["scan", "--git", "--format", "html", "--output"])
        .arg(&report));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let html = std::fs::read_to_string(&report).unwrap();
    for secret in [KUNAVO, PINAIVU, GITHUB] {
        assert!(!html.contains(secret), "raw secret in the HTML report");
        assert!(!html.contains(&secret[secret.len() - 12..]));
    }
    assert!(html.contains("sk-kunavo-u8jz…"), "redacted secret shown");
    // Nothing to fetch: no external scripts, styles, fonts or images.
    for external in [
        "src=\"http",
        "href=\"http",
        "url(",
        "@import",
        "<link",
        "<img",
    ] {
        assert!(!html.contains(external), "{external} in the report");
    }
    assert_eq!(html.matches("<script").count(), 1, "one inline script");
    assert!(
        html.contains("default-src 'none'"),
        "a CSP forbids the network"
    );
    // Repository-controlled text is escaped.
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;.env"));
    assert!(html.contains("Eve &quot;M&quot; &amp; &#39;Mal&#39; Jr &lt;evil@example.invalid&gt;"));
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;"));
}

#[test]
fn html_report_renders_every_finding_and_filters_and_sorts_in_chromium() {
    let repo = repo_with_keys();
    let out = tempdir();
    let report = out.path().join("report.html");
    let r = run(leakhound()
        .current_dir(repo.path())
        .args(["scan", "--git", "--format", "html", "-o"])
        .arg(&report));
    assert_eq!(r.code, 1, "{}", r.stderr);

    let dom = dump_dom(&report, "");
    let all = shown_paths(&dom);
    assert_eq!(all.len(), 3, "every finding is shown: {all:?}");
    assert!(dom.contains("3 of 3 shown"), "the script ran");
    // The markup in a path, author and message stayed text: no element was
    // made of it.
    assert!(!dom.contains("<img"), "a path became markup");
    assert!(!dom.contains("<b>bold"), "a commit message became markup");
    assert_eq!(dom.matches("<script").count(), 1);
    assert!(dom.contains("Eve \"M\" &amp; 'Mal' Jr &lt;evil@example.invalid&gt;"));
    // Summary: by provider, severity, verdict and repository.
    for summary in ["Provider", "Severity", "Verdict", "Repository"] {
        assert!(dom.contains(&format!("<h2>{summary}</h2>")), "{summary}");
    }
    assert!(dom.contains("href=\"#provider=kunavo\""), "{dom}");
    // A git scan of `.` is grouped under the repository's directory name.
    let name = repo.path().file_name().unwrap().to_string_lossy();
    assert!(dom.contains(&format!("data-repo=\"{name}\"")), "{dom}");
    // Commit and author where known.
    assert!(dom.contains("add config"));
    for secret in [KUNAVO, PINAIVU, GITHUB] {
        assert!(!dom.contains(secret));
    }

    // Filter through the URL fragment: text, then provider, then severity.
    let kunavo = shown_paths(&dump_dom(&report, "#q=KUNAVO_API"));
    assert_eq!(kunavo, vec!["app/config.py"]);
    let by_provider = dump_dom(&report, "#provider=pinaivu");
    assert_eq!(
        shown_paths(&by_provider),
        vec!["deploy/&lt;img src=x onerror=alert(1)&gt;.env"]
    );
    assert!(by_provider.contains("1 of 3 shown"));
    let none = dump_dom(&report, "#severity=low");
    assert!(shown_paths(&none).is_empty());
    assert!(none.contains("0 of 3 shown"));

    // Sort by path, both ways.
    let mut ascending = all.clone();
    ascending.sort();
    assert_eq!(shown_paths(&dump_dom(&report, "#sort=path")), ascending);
    let descending: Vec<String> = ascending.iter().rev().cloned().collect();
    let dom = dump_dom(&report, "#sort=-path");
    assert_eq!(shown_paths(&dom), descending);
    assert!(dom.contains("data-key=\"path\" aria-sort=\"descending\""));
}

#[test]
fn html_report_of_a_clean_tree_says_so() {
    let dir = tempdir();
    write(dir.path(), "a.txt", "nothing here\n");
    let r = run(leakhound()
        .current_dir(dir.path())
        .args(["scan", "--format", "html", "."]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("No secrets found."));
    assert!(r.stdout.contains("1 file scanned"));
}
