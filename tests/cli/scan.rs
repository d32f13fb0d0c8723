//! Scanning file trees and stdin: exit codes, ignore rules, dotfiles,
//! binary files, encoded keys, suppression and baselines.

use crate::util::*;

#[test]
fn exit_status_is_0_when_clean_and_1_with_findings() {
    let dir = tempdir();
    write(dir.path(), "a.py", "print('hello')\n");
    let r = run(leakhound().current_dir(dir.path()).arg("scan"));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("0 findings"), "{}", r.stdout);

    write(dir.path(), "b.py", format!("KEY = \"{KUNAVO}\"\n"));
    let r = run(leakhound().current_dir(dir.path()).arg("scan"));
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("b.py:1:8"), "{}", r.stdout);
}

#[test]
fn stdin_is_scanned_with_dash() {
    use std::io::Write;
    let mut child = leakhound()
        .args(["scan", "-", "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("line one\ntoken={PINAIVU}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["path"], "<stdin>");
    assert_eq!(f["source"], "stdin");
    assert_eq!(f["line"], 2);
    assert_eq!(f["rule_id"], "pinaivu-api-key");
}

#[test]
fn gitignore_is_honoured_dotfiles_are_scanned_and_dot_git_never() {
    let dir = tempdir();
    let d = dir.path();
    write(d, ".gitignore", "build/\n");
    write(d, "build/out.js", format!("var k='{KUNAVO}';"));
    write(d, ".env", format!("PINAIVU_API_KEY={PINAIVU}\n"));
    write(d, ".git/config", format!("token = {GITHUB}\n"));
    write(d, ".git/objects/aa/bb", format!("{GITHUB}\n"));

    let r = scan_json(d, &[]);
    let paths: Vec<String> = r
        .findings()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paths, vec![".env"], "{}", r.stdout);

    let r = scan_json(d, &["--no-ignore"]);
    let mut paths: Vec<String> = r
        .findings()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    assert_eq!(paths, vec![".env", "build/out.js"], "{}", r.stdout);
}

#[test]
fn large_files_are_skipped_and_counted() {
    let dir = tempdir();
    write(
        dir.path(),
        "big.txt",
        format!("{}\n{KUNAVO}\n", "x".repeat(4000)),
    );
    write(dir.path(), "small.txt", format!("{PINAIVU}\n"));
    let r = scan_json(dir.path(), &["--max-file-size", "1K"]);
    assert_eq!(secrets(&r), vec![PINAIVU.to_string()]);
    let skipped = r.json()["stats"]["skipped"].as_array().unwrap().clone();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["path"], "big.txt");
    assert!(skipped[0]["reason"]
        .as_str()
        .unwrap()
        .contains("max-file-size"));
}

#[test]
fn binary_files_are_scanned() {
    let dir = tempdir();
    let mut blob = vec![0u8, 1, 2, 0xff, 0xfe, 0, 0];
    blob.extend_from_slice(KUNAVO.as_bytes());
    blob.extend_from_slice(&[0, 0, 0x89, b'P', b'N', b'G']);
    write(dir.path(), "bundle.bin", blob);
    let r = scan_json(dir.path(), &[]);
    assert_eq!(secrets(&r), vec![KUNAVO.to_string()]);
}

#[test]
fn threads_do_not_change_results() {
    let dir = tempdir();
    for i in 0..40 {
        write(
            dir.path(),
            &format!("d{}/f{i}.txt", i % 5),
            format!("noise {i}\nk={KUNAVO}\n"),
        );
    }
    let one = scan_json(dir.path(), &["-j", "1"]);
    let many = scan_json(dir.path(), &["-j", "4"]);
    assert_eq!(one.findings().len(), 40);
    assert_eq!(one.findings(), many.findings());
}

#[test]
fn encoded_keys_are_found_at_the_encoded_text() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let dir = tempdir();
    let d = dir.path();
    // A Kubernetes Secret.
    write(
        d,
        "k8s/secret.yaml",
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: llm\ndata:\n  KUNAVO_API_KEY: {}\n",
            b64(KUNAVO)
        ),
    );
    // .dockerconfigjson: base64 JSON holding base64 `user:token`.
    let docker_pat = "dckr_pat_Zp4Wq8Ns2Lx6Rv0Tb3Hc7Jm1Kd5";
    let auth = b64(&format!("deploy:{docker_pat}"));
    let cfg = b64(&format!(
        r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}}}}}}"#
    ));
    write(
        d,
        "k8s/pull.yaml",
        format!("kind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {cfg}\n"),
    );
    // A basic-auth header.
    write(
        d,
        "req.http",
        format!(
            "GET / HTTP/1.1\nAuthorization: Basic {}\n",
            b64(&format!("ci:{GITHUB}"))
        ),
    );
    let r = scan_json(d, &[]);
    let findings = r.findings();
    let find = |path: &str| {
        findings
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("nothing in {path}: {}", r.stdout))
            .clone()
    };
    let k = find("k8s/secret.yaml");
    assert_eq!(k["secret"], KUNAVO);
    assert_eq!(k["encoding"], "base64");
    assert_eq!(
        (k["line"].as_u64(), k["column"].as_u64()),
        (Some(6), Some(19))
    );
    let p = find("k8s/pull.yaml");
    assert_eq!(p["secret"], docker_pat);
    assert_eq!(p["line"], 4);
    let g = find("req.http");
    assert_eq!(g["secret"], GITHUB);
    assert_eq!(g["rule_id"], "github-pat-classic");
}

#[test]
fn percent_encoded_keys_are_found() {
    let dir = tempdir();
    // A key with one character percent-encoded in a URL query.
    let key = "sk-kunavo-u8jzPde0IgxLd6Gn%2DcfBAepfJBd0Kh8oOOL8dKLzd";
    write(dir.path(), "log.txt", format!("GET /proxy?key={key}&x=1\n"));
    let r = scan_json(dir.path(), &[]);
    let f = &r.findings()[0];
    assert_eq!(
        f["secret"],
        "sk-kunavo-u8jzPde0IgxLd6Gn-cfBAepfJBd0Kh8oOOL8dKLzd"
    );
    assert_eq!(f["encoding"], "percent");
    assert_eq!(f["column"], 16);
}

#[test]
fn konnect_and_stripe_are_told_apart_by_context() {
    let dir = tempdir();
    let live = "sk_live_StPKR0CsTy4Qwb8DwkNhFdnXsiVpzz63";
    write(
        dir.path(),
        "konnect.env",
        format!("# https://api.konnect.ai/v1\nKONNECT_API_KEY={live}\n"),
    );
    write(dir.path(), "pay.env", format!("STRIPE_SECRET_KEY={live}\n"));
    write(dir.path(), "bare.env", format!("SECRET={live}\n"));
    let r = scan_json(dir.path(), &[]);
    let by_path = |p: &str| r.findings().into_iter().find(|f| f["path"] == p).unwrap();
    assert_eq!(by_path("konnect.env")["provider"], "konnect");
    assert_eq!(by_path("konnect.env")["ambiguous"], false);
    assert_eq!(by_path("pay.env")["provider"], "stripe");
    assert_eq!(by_path("pay.env")["ambiguous"], false);
    let bare = by_path("bare.env");
    assert_eq!(bare["provider"], "stripe");
    assert_eq!(bare["ambiguous"], true);
    assert!(bare["alternatives"]
        .as_array()
        .unwrap()
        .contains(&"konnect".into()));
}

#[test]
fn synstar_needs_evidence_otherwise_generic_and_ambiguous() {
    let dir = tempdir();
    let key = "sk-WHtP3fS2qHx6kwXoIIXGvOoNZYW2mZp0zVZomHFw";
    write(
        dir.path(),
        "syn.py",
        format!("client = OpenAI(api_key=\"{key}\", base_url=\"https://www.kkiai.com/v1\")\n"),
    );
    write(dir.path(), "bare.py", format!("api_key = \"{key}\"\n"));
    let r = scan_json(dir.path(), &[]);
    let by_path = |p: &str| r.findings().into_iter().find(|f| f["path"] == p).unwrap();
    assert_eq!(by_path("syn.py")["provider"], "synstar");
    assert_eq!(by_path("syn.py")["ambiguous"], false);
    let bare = by_path("bare.py");
    assert_eq!(bare["ambiguous"], true);
    let alts = bare["alternatives"].as_array().unwrap();
    assert!(alts.contains(&"synstar".into()), "{bare}");
}

#[test]
fn kindo_keys_are_found_through_context_only() {
    let dir = tempdir();
    let key = "Vb6Nc1Xz8Lk3Jh7Gf2Ds9Aq4Wr0Ety5U";
    write(dir.path(), "kindo.py", format!("client = OpenAI(\n    api_key=\"{key}\",\n    base_url=\"https://api.kindo.ai/v1\",\n)\n"));
    write(
        dir.path(),
        "other.py",
        format!("client = OpenAI(\n    api_key=\"{key}\",\n)\n"),
    );
    write(dir.path(), "k.env", format!("KINDO_API_KEY={key}\n"));
    let r = scan_json(dir.path(), &[]);
    let mut got: Vec<(String, String)> = r
        .findings()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().into(),
                f["provider"].as_str().unwrap().into(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        // Without Kindo evidence the key is no Kindo key; only the generic
        // rule reports it, as a random value under `api_key`.
        vec![
            ("k.env".into(), "kindo".into()),
            ("kindo.py".into(), "kindo".into()),
            ("other.py".into(), "generic".into())
        ]
    );
}

#[test]
fn inline_allow_comments_suppress_a_line() {
    let dir = tempdir();
    write(
        dir.path(),
        "a.py",
        format!("A = '{KUNAVO}'  # leakhound:allow\nB = '{PINAIVU}'  # gitleaks:allow\nC = '{GITHUB}'\n"),
    );
    let r = scan_json(dir.path(), &[]);
    assert_eq!(secrets(&r), vec![GITHUB.to_string()]);
    assert_eq!(r.json()["stats"]["suppressed"], 2);
}

#[test]
fn config_allowlist_paths_regexes_and_fingerprints() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "fixtures/keys.txt", format!("{KUNAVO}\n"));
    write(d, "src/a.py", format!("A='{PINAIVU}'\nB='{GITHUB}'\n"));
    let all = scan_json(d, &[]);
    assert_eq!(all.findings().len(), 3);
    let gh_fp = all
        .findings()
        .into_iter()
        .find(|f| f["secret"] == GITHUB)
        .unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    write(
        d,
        ".leakhound.toml",
        format!(
            "[allowlist]\npaths = [\"fixtures/**\"]\nregexes = ['^sk-pnv-DL7D']\nfingerprints = [\"{gh_fp}\"]\n"
        ),
    );
    let r = scan_json(d, &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // --no-config ignores it; an explicit --config elsewhere works too.
    assert_eq!(scan_json(d, &["--no-config"]).findings().len(), 3);
    std::fs::rename(d.join(".leakhound.toml"), d.join("team.toml")).unwrap();
    assert_eq!(scan_json(d, &["--config", "team.toml"]).code, 0);
}

#[test]
fn baseline_suppresses_known_findings_even_when_lines_move() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "a.py", format!("KEY = '{KUNAVO}'\n"));
    let first = scan_json(d, &[]);
    std::fs::write(
        d.join("..").join(format!(
            "{}-baseline.json",
            d.file_name().unwrap().to_string_lossy()
        )),
        &first.stdout,
    )
    .unwrap();
    let baseline = d.join("..").join(format!(
        "{}-baseline.json",
        d.file_name().unwrap().to_string_lossy()
    ));
    // The key moves down three lines and a new key appears.
    write(
        d,
        "a.py",
        format!("# one\n# two\n# three\nKEY = '{KUNAVO}'\nNEW = '{PINAIVU}'\n"),
    );
    let r = scan_json(d, &["--baseline", baseline.to_str().unwrap()]);
    assert_eq!(secrets(&r), vec![PINAIVU.to_string()]);
    assert_eq!(r.json()["stats"]["suppressed"], 1);
    std::fs::remove_file(baseline).unwrap();
}
