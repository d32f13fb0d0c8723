//! Running verification: per-provider rate limits and concurrency from the
//! spec (or `[providers.NAME]`), and the progress line on a terminal. The
//! stand-in on 127.0.0.1 records when each request arrived and how many it
//! answered at once.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::fake_provider::{Reply, Server};
use crate::util::{kunavo, leakhound, offline, on_terminal, run, tempdir, write, Run};

/// `n` Kunavo keys, one file each, and a config pointing Kunavo at
/// `server` with `extra` under `[providers.kunavo]`.
fn fixture(server: &Server, n: usize, extra: &str) -> tempfile::TempDir {
    let dir = tempdir();
    for i in 0..n {
        write(
            dir.path(),
            &format!("svc{i}/.env"),
            format!("KUNAVO_API_KEY={}\n", kunavo(&format!("limits-{i}"))),
        );
    }
    write(
        dir.path(),
        ".leakhound.toml",
        format!(
            "[providers.kunavo]\nbase_url = \"{}/kunavo/v1\"\n{extra}\n\n[verify]\nconcurrency = 8\nper_provider = 4\nretries = 0\n",
            server.url()
        ),
    );
    dir
}

fn scan_verify(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = leakhound();
    offline(&mut cmd);
    run(cmd
        .current_dir(dir)
        .args([
            "scan",
            ".",
            "-c",
            ".leakhound.toml",
            "--format",
            "json",
            "--verify",
        ])
        .args(args))
}

#[test]
fn a_rate_limit_spaces_the_requests_to_its_provider() {
    let server = Server::start(|_, _| Reply::status(200));
    let dir = fixture(&server, 6, "requests_per_second = 2");
    let started = Instant::now();
    let out = scan_verify(dir.path(), &[]);
    let took = started.elapsed();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let mut at: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 6);
    at.sort();
    // Two a second: the i-th request cannot start before i half-seconds
    // after the run did, and cannot arrive before it starts. (Arrival
    // times jitter on a loaded machine, so gaps between two arrivals are
    // not compared one by one.)
    for (i, t) in at.iter().enumerate() {
        let since = *t - started;
        assert!(
            since >= Duration::from_millis(500) * i as u32,
            "request {i} arrived {since:?} after the start"
        );
    }
    // Without pacing, four go out at once (per_provider = 4): the six
    // arrivals spread over two seconds at least only when paced.
    assert!(
        at[5] - at[0] >= Duration::from_secs(2),
        "{:?}",
        at[5] - at[0]
    );
    assert!(took >= Duration::from_millis(2500), "{took:?}");
    let live = out
        .findings()
        .iter()
        .filter(|f| f["verification"]["verdict"] == "live")
        .count();
    assert_eq!(live, 6);
}

#[test]
fn a_concurrency_limit_bounds_the_checks_in_flight() {
    let server = Server::start(|_, _| Reply::status(200).delay(Duration::from_millis(300)));
    let dir = fixture(&server, 4, "concurrency = 1");
    let out = scan_verify(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(server.requests().len(), 4);
    assert_eq!(server.max_in_flight("kunavo"), 1);
    // Without the limit the run's own bound (`per_provider = 4`) applies,
    // and is reached: each answer waits until four requests have arrived
    // (ordered by events, not by a delay that a loaded machine may
    // stretch), so four are in flight at once, and the fifth key's check
    // waits for one of them.
    let arrived = std::sync::Arc::new((std::sync::Mutex::new(0usize), std::sync::Condvar::new()));
    let gate = std::sync::Arc::clone(&arrived);
    let server = Server::start(move |_, _| {
        let (count, ready) = &*gate;
        let mut n = count.lock().unwrap();
        *n += 1;
        ready.notify_all();
        // Bounded, so that a broken limit fails the assertions below
        // instead of hanging the test.
        let _ = ready
            .wait_timeout_while(n, Duration::from_secs(20), |n| *n < 4)
            .unwrap();
        Reply::status(200)
    });
    let dir = fixture(&server, 5, "");
    let out = scan_verify(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(server.requests().len(), 5);
    assert_eq!(server.max_in_flight("kunavo"), 4);
}

#[test]
fn limits_out_of_range_are_refused() {
    let server = Server::start(|_, _| Reply::status(200));
    for (extra, says) in [
        ("requests_per_second = 0", "requests_per_second"),
        ("requests_per_second = -1.5", "requests_per_second"),
        ("concurrency = 0", "concurrency"),
    ] {
        let dir = fixture(&server, 1, extra);
        let out = scan_verify(dir.path(), &[]);
        assert_eq!(out.code, 2, "{extra}: {}", out.stderr);
        assert!(
            out.stderr.contains("[providers.kunavo]") && out.stderr.contains(says),
            "{extra}: {}",
            out.stderr
        );
    }
    assert!(server.requests().is_empty());
}

/// `script` (util-linux) gives the run a terminal; `.ci/run` installs it.
#[cfg(target_os = "linux")]
#[test]
fn progress_while_verifying_on_a_terminal_only() {
    let server = Server::start(|_, _| Reply::status(200).delay(Duration::from_millis(400)));
    let dir = fixture(&server, 3, "concurrency = 1");
    let root = dir.path().to_str().unwrap();
    let report = format!("{root}/report.json");
    let args = [
        "scan",
        root,
        "-c",
        &format!("{root}/.leakhound.toml"),
        "--format",
        "json",
        "--output",
        &report,
        "--verify",
    ];
    let (shown, code) = on_terminal(dir.path(), &args, &[("HTTPS_PROXY", "http://127.0.0.1:9")]);
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("verifying"), "terminal showed: {shown:?}");
    assert!(shown.contains("/3 keys"), "terminal showed: {shown:?}");
    assert!(shown.contains("live"), "terminal showed: {shown:?}");
    // Not on a pipe.
    let out = scan_verify(dir.path(), &[]);
    assert_eq!(out.code, 1);
    assert!(!out.stderr.contains("verifying"), "{}", out.stderr);
}
