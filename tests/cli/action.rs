//! The GitHub Action (action.yml + action/run.sh), run locally: action.yml
//! is parsed, its composite steps run one after the other with bash as the
//! runner would (inputs and step outputs fed through `env:`), in a simulated
//! GitHub environment: an event file, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, a
//! workspace. The binary under test stands in for the build (LEAKHOUND_BIN).
//!
//! The pull-request and push modes scan git ranges (`scan --range`,
//! `--since`) of real repositories built in the test (the
//! `action_pull_request_*` and `action_push_*` tests below).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use crate::util::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn load_yaml(text: &str) -> Yaml {
    YamlLoader::load_from_str(text)
        .expect("valid YAML")
        .into_iter()
        .next()
        .expect("one YAML document")
}

fn action_yml() -> Yaml {
    load_yaml(&std::fs::read_to_string(Path::new(ROOT).join("action.yml")).unwrap())
}

fn keys(map: &Yaml) -> Vec<String> {
    map.as_hash()
        .expect("a mapping")
        .keys()
        .map(|k| k.as_str().expect("string key").to_string())
        .collect()
}

fn steps(action: &Yaml) -> Vec<Yaml> {
    action["runs"]["steps"].as_vec().expect("steps").clone()
}

/// What one simulated run of the action left behind.
struct ActionRun {
    code: i32,
    stdout: String,
    stderr: String,
    outputs: BTreeMap<String, String>,
    summary: String,
    /// The `uses:` steps whose `if:` held (the simulation does not run
    /// other actions), with their evaluated `with:`.
    used: Vec<(String, BTreeMap<String, String>)>,
}

/// A simulated GitHub runner: a workspace, a temp dir for the runner's
/// files, and the event that triggered the workflow.
struct Runner {
    workspace: tempfile::TempDir,
    runner_temp: tempfile::TempDir,
    event_name: String,
    event: serde_json::Value,
    /// Extra environment for every step (PATH for the build test).
    env: Vec<(String, String)>,
    /// Use the binary under test instead of building.
    prebuilt: bool,
}

impl Runner {
    fn new(event_name: &str, event: serde_json::Value) -> Runner {
        Runner {
            workspace: tempdir(),
            runner_temp: tempdir(),
            event_name: event_name.into(),
            event,
            env: Vec::new(),
            prebuilt: true,
        }
    }

    fn ws(&self) -> &Path {
        self.workspace.path()
    }

    /// Run the action's steps with `with` as its inputs, as a composite
    /// action runs: step by step, stopping at the first that fails.
    fn run(&self, with: &[(&str, &str)]) -> ActionRun {
        let action = action_yml();
        let declared = keys(&action["inputs"]);
        let mut inputs: BTreeMap<String, String> = BTreeMap::new();
        for name in &declared {
            let default = &action["inputs"][name.as_str()]["default"];
            let default = eval(
                default.as_str().unwrap_or(""),
                &BTreeMap::new(),
                &BTreeMap::new(),
            );
            inputs.insert(name.clone(), default);
        }
        for (k, v) in with {
            assert!(
                declared.iter().any(|d| d == k),
                "`{k}` is not an input of action.yml"
            );
            inputs.insert(k.to_string(), v.to_string());
        }
        let tmp = self.runner_temp.path();
        let event_path = tmp.join("event.json");
        std::fs::write(&event_path, self.event.to_string()).unwrap();
        let summary_path = tmp.join("step_summary.md");
        std::fs::write(&summary_path, "").unwrap();

        let mut step_outputs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let (mut code, mut stdout, mut stderr) = (0, String::new(), String::new());
        let mut used = Vec::new();
        for (i, step) in steps(&action).iter().enumerate() {
            if let Some(cond) = step["if"].as_str() {
                if !eval_if(cond, &step_outputs) {
                    continue;
                }
            }
            if let Some(uses) = step["uses"].as_str() {
                let mut with = BTreeMap::new();
                if let Some(map) = step["with"].as_hash() {
                    for (k, v) in map {
                        let value = eval(v.as_str().unwrap_or(""), &inputs, &step_outputs);
                        with.insert(k.as_str().unwrap().to_string(), value);
                    }
                }
                used.push((uses.to_string(), with));
                continue;
            }
            let script = step["run"].as_str().expect("composite steps run scripts");
            assert_eq!(step["shell"].as_str(), Some("bash"));
            let script_path = tmp.join(format!("step{i}.sh"));
            std::fs::write(&script_path, script).unwrap();
            let output_path = tmp.join(format!("output{i}"));
            std::fs::write(&output_path, "").unwrap();
            let mut cmd = Command::new("bash");
            // What the runner runs for `shell: bash`.
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script_path)
                .current_dir(self.ws())
                .env_remove("LEAKHOUND_BIN")
                .env_remove("NO_COLOR")
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_ACTION_PATH", ROOT)
                .env("GITHUB_WORKSPACE", self.ws())
                .env("GITHUB_EVENT_NAME", &self.event_name)
                .env("GITHUB_EVENT_PATH", &event_path)
                .env("GITHUB_OUTPUT", &output_path)
                .env("GITHUB_STEP_SUMMARY", &summary_path)
                .env("GITHUB_REPOSITORY", "octo/app")
                .env("RUNNER_OS", "Linux")
                .env("RUNNER_ARCH", "X64")
                .env("RUNNER_TEMP", tmp);
            if self.prebuilt {
                cmd.env("LEAKHOUND_BIN", env!("CARGO_BIN_EXE_leakhound"));
            }
            for (k, v) in &self.env {
                cmd.env(k, v);
            }
            if let Some(env) = step["env"].as_hash() {
                for (k, v) in env {
                    let value = eval(v.as_str().unwrap_or(""), &inputs, &step_outputs);
                    cmd.env(k.as_str().unwrap(), value);
                }
            }
            let r = run(&mut cmd);
            stdout.push_str(&r.stdout);
            stderr.push_str(&r.stderr);
            if let Some(id) = step["id"].as_str() {
                let text = std::fs::read_to_string(&output_path).unwrap();
                step_outputs.insert(id.to_string(), parse_github_output(&text));
            }
            code = r.code;
            if code != 0 {
                break;
            }
        }
        let mut outputs = BTreeMap::new();
        for name in keys(&action["outputs"]) {
            let expr = action["outputs"][name.as_str()]["value"].as_str().unwrap();
            outputs.insert(name, eval(expr, &inputs, &step_outputs));
        }
        ActionRun {
            code,
            stdout,
            stderr,
            outputs,
            summary: std::fs::read_to_string(&summary_path).unwrap(),
            used,
        }
    }
}

/// Evaluate the `${{ inputs.X }}` and `${{ steps.ID.outputs.X }}`
/// expressions action.yml uses; anything else fails the test, so that the
/// simulation never silently differs from the runner.
fn eval(
    text: &str,
    inputs: &BTreeMap<String, String>,
    steps: &BTreeMap<String, BTreeMap<String, String>>,
) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed expression") + start;
        let expr = rest[start + 3..end].trim();
        let parts: Vec<&str> = expr.split('.').collect();
        let value = match parts.as_slice() {
            ["inputs", name] => inputs
                .get(*name)
                .unwrap_or_else(|| panic!("no input `{name}`"))
                .clone(),
            ["steps", id, "outputs", name] => steps
                .get(*id)
                .and_then(|o| o.get(*name))
                .cloned()
                .unwrap_or_default(),
            ["runner", "os"] => "Linux".into(),
            ["runner", "arch"] => "X64".into(),
            ["github", "token"] => "the-github-token".into(),
            _ => panic!("expression the simulation does not know: {expr}"),
        };
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A step's `if:` of the one form action.yml uses,
/// `steps.ID.outputs.NAME == 'VALUE'`; anything else fails the test.
fn eval_if(cond: &str, steps: &BTreeMap<String, BTreeMap<String, String>>) -> bool {
    let (lhs, rhs) = cond
        .split_once(" == ")
        .unwrap_or_else(|| panic!("if: the simulation does not know: {cond}"));
    let want = rhs.trim().trim_matches('\'');
    match lhs.trim().split('.').collect::<Vec<_>>().as_slice() {
        ["steps", id, "outputs", name] => {
            steps
                .get(*id)
                .and_then(|o| o.get(*name))
                .map(String::as_str)
                == Some(want)
        }
        _ => panic!("if: the simulation does not know: {cond}"),
    }
}

/// `name=value` lines and `name<<DELIM` blocks, as the runner reads them.
fn parse_github_output(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        }
    }
    out
}

fn pull_request_event(base: &str, head: &str) -> serde_json::Value {
    serde_json::json!({
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "title": "Add config $(touch pwned) `touch pwned`",
            "base": { "ref": "main", "sha": base },
            "head": { "ref": "feature", "sha": head },
        },
        "repository": { "default_branch": "main", "full_name": "acme/app" },
    })
}

fn tree_with_two_keys(dir: &Path) {
    write(
        dir,
        "config/app.py",
        format!("import os\nKUNAVO_API_KEY = \"{KUNAVO}\"\n"),
    );
    write(dir, "deploy/.env", format!("GITHUB_TOKEN={GITHUB}\n"));
    write(dir, "README.md", "# app\n");
}

fn assert_no_raw_secret(what: &str, text: &str) {
    for secret in [KUNAVO, PINAIVU, GITHUB] {
        assert!(!text.contains(secret), "{what} shows a raw secret:\n{text}");
    }
}

#[test]
fn action_yml_declares_the_documented_inputs_and_outputs() {
    let action = action_yml();
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    assert_eq!(
        keys(&action["inputs"]),
        [
            "path",
            "mode",
            "config",
            "baseline",
            "verify",
            "fail-on",
            "format",
            "sarif-file",
            "extra-args",
            "comment",
            "token"
        ]
    );
    for name in keys(&action["inputs"]) {
        let input = &action["inputs"][name.as_str()];
        assert!(
            input["description"].as_str().is_some_and(|d| d.len() > 10),
            "input `{name}` needs a description"
        );
        assert!(
            input["default"].as_str().is_some(),
            "input `{name}` needs a string default"
        );
    }
    assert_eq!(keys(&action["outputs"]), ["findings", "live", "sarif-file"]);
    let ids: Vec<_> = steps(&action)
        .iter()
        .map(|s| s["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids, ["locate", "", "build", "scan"]);
}

#[test]
fn action_steps_never_splice_expressions_into_shell_code() {
    // Inputs reach the script through `env:` only: `${{ }}` inside `run:`
    // would let a crafted input (a branch name, a PR title) run commands.
    for step in steps(&action_yml()) {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        assert!(!script.contains("${{"), "expression in run: {script}");
        assert!(
            script.contains("\"$GITHUB_ACTION_PATH/action/run.sh\""),
            "{script}"
        );
    }
    let script = std::fs::read_to_string(Path::new(ROOT).join("action/run.sh")).unwrap();
    assert!(!script.contains("eval "), "run.sh must not eval input");
}

#[test]
fn action_files_mode_writes_outputs_annotations_summary_and_sarif() {
    // A pull_request event, but `mode: files` scans the checked-out tree.
    let runner = Runner::new(
        "pull_request",
        pull_request_event("a".repeat(40).as_str(), "b".repeat(40).as_str()),
    );
    tree_with_two_keys(runner.ws());
    let r = runner.run(&[("mode", "files")]);
    assert_eq!(
        r.code, 1,
        "findings fail the step\n{}\n{}",
        r.stdout, r.stderr
    );
    assert_eq!(r.outputs["findings"], "2");
    assert_eq!(r.outputs["live"], "0");
    assert_eq!(r.outputs["sarif-file"], "leakhound.sarif");

    // Annotations in the log, on the files and lines.
    assert!(
        r.stdout
            .contains("::error file=config/app.py,line=2,endLine=2,col=19"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("::error file=deploy/.env,line=1"),
        "{}",
        r.stdout
    );

    // The job summary: a table of redacted findings.
    let s = &r.summary;
    assert!(
        s.starts_with("## leakhound: 2 findings (2 critical)"),
        "{s}"
    );
    assert!(
        s.contains(
            "| critical | high | `config/app.py` | 2 | `kunavo-api-key` | `kunavo` | `sk-kunavo-u8jz…` |"
        ),
        "{s}"
    );
    assert!(
        s.contains("`deploy/.env` | 1 | `github-pat-classic`"),
        "{s}"
    );

    // SARIF for upload-sarif, with stable fingerprints.
    let sarif: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(runner.ws().join("leakhound.sarif")).unwrap(),
    )
    .unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for result in results {
        let fp = result["partialFingerprints"]["leakhound/v1"]
            .as_str()
            .unwrap();
        assert_eq!(fp.len(), 32);
        let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(uri == "config/app.py" || uri == "deploy/.env", "{uri}");
    }

    assert_no_raw_secret("the log", &r.stdout);
    assert_no_raw_secret("the summary", &r.summary);
    assert_no_raw_secret(
        "the SARIF file",
        &std::fs::read_to_string(runner.ws().join("leakhound.sarif")).unwrap(),
    );
}

#[test]
fn action_clean_tree_passes_with_zero_findings() {
    let runner = Runner::new("workflow_dispatch", serde_json::json!({}));
    write(runner.ws(), "src/main.py", "print('hello')\n");
    // No mode: a workflow_dispatch event scans the files.
    let r = runner.run(&[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "0");
    assert_eq!(r.outputs["live"], "0");
    assert!(
        r.summary.starts_with("## leakhound: no secrets found"),
        "{}",
        r.summary
    );
    assert!(r.summary.contains("Scanned 1 file"), "{}", r.summary);
    assert!(!r.stdout.contains("::error"), "{}", r.stdout);
}

#[test]
fn action_fail_on_never_reports_without_failing_and_text_format_logs_text() {
    let runner = Runner::new("workflow_dispatch", serde_json::json!({}));
    tree_with_two_keys(runner.ws());
    let r = runner.run(&[("fail-on", "never"), ("format", "text"), ("sarif-file", "")]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "2");
    assert_eq!(r.outputs["sarif-file"], "");
    assert!(!runner.ws().join("leakhound.sarif").exists());
    assert!(r.stdout.contains("kunavo-api-key"), "{}", r.stdout);
    assert!(!r.stdout.contains("::error"), "{}", r.stdout);
    assert!(r.summary.contains("2 findings"), "{}", r.summary);
}

#[test]
fn action_config_baseline_path_and_extra_args_inputs() {
    let runner = Runner::new("workflow_dispatch", serde_json::json!({}));
    let ws = runner.ws();
    tree_with_two_keys(&ws.join("app"));
    // Accept today's findings in a baseline, then add a new key.
    let r = run(leakhound().current_dir(ws).args([
        "baseline",
        "create",
        "app",
        "--output",
        "baseline.json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    write(ws, "app/new.py", format!("K = '{PINAIVU}'\n"));
    write(ws, "team.toml", "[allowlist]\npaths = [\"**/vendor/**\"]\n");
    write(ws, "app/vendor/x.py", format!("K = '{PINAIVU}'\n"));
    write(ws, "app/.gitignore", "ignored.txt\n");
    write(ws, "app/ignored.txt", format!("K = '{PINAIVU}'\n"));
    let r = runner.run(&[
        ("path", "app"),
        ("config", "team.toml"),
        ("baseline", "baseline.json"),
        ("extra-args", "--no-ignore  --max-file-size 1M"),
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    // New key + the one --no-ignore reveals; baseline and allowlist hold.
    assert_eq!(r.outputs["findings"], "2", "{}", r.stdout);
    assert!(r.stdout.contains("file=app/new.py"), "{}", r.stdout);
    assert!(r.stdout.contains("file=app/ignored.txt"), "{}", r.stdout);
}

#[test]
fn action_rejects_bad_inputs_with_exit_status_2() {
    let runner = Runner::new("workflow_dispatch", serde_json::json!({}));
    tree_with_two_keys(runner.ws());
    for (with, message) in [
        (
            vec![("fail-on", "sometimes")],
            "fail-on must be any, live or never",
        ),
        (
            vec![("fail-on", "live")],
            "fail-on: live needs verify: true",
        ),
        (
            vec![("mode", "everything")],
            "mode `everything` is not one of",
        ),
        (vec![("format", "sarif")], "format must be github or text"),
        (vec![("verify", "yes")], "verify must be true or false"),
        (
            vec![("mode", "pull-request")],
            "mode pull-request: no pull_request.base.sha/head.sha in the event",
        ),
    ] {
        let r = runner.run(&with);
        assert_eq!(r.code, 2, "{with:?}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout
                .contains(&format!("::error title=leakhound::{message}")),
            "{with:?}: {}",
            r.stdout
        );
    }
    // A scan that cannot start (no such path): exit 2, empty outputs, and
    // the summary says so.
    let r = runner.run(&[("path", "missing")]);
    assert_eq!(r.code, 2);
    assert_eq!(r.outputs["findings"], "");
    assert!(
        r.summary.contains("the scan failed (exit status 2)"),
        "{}",
        r.summary
    );
    assert!(
        r.stderr.contains("missing: no such file or directory"),
        "{}",
        r.stderr
    );
}

#[test]
fn action_inputs_cannot_inject_shell_commands() {
    let runner = Runner::new("pull_request", pull_request_event("0", "1"));
    let ws = runner.ws();
    write(ws, "a.py", "x = 1\n");
    for (input, value) in [
        ("path", "$(touch pwned1)"),
        ("path", "\"; touch pwned2; echo \""),
        (
            "extra-args",
            "; touch pwned3 `touch pwned4` $(touch pwned5)",
        ),
        ("config", "x'; touch pwned6; '"),
    ] {
        let r = runner.run(&[("mode", "files"), (input, value)]);
        assert_eq!(r.code, 2, "{input}={value}: {}\n{}", r.stdout, r.stderr);
    }
    for i in 1..=6 {
        assert!(
            !ws.join(format!("pwned{i}")).exists(),
            "pwned{i} was created"
        );
    }
}

/// A PATH of `dirs` plus the system directories, and a `python3` first on
/// it that records being called: the action must not need python3.
fn path_without_python(runner: &Runner, dirs: &[&Path]) -> (String, PathBuf) {
    let trap = runner.runner_temp.path().join("trap");
    let called = runner.runner_temp.path().join("python3-called");
    write(
        &trap,
        "python3",
        format!("#!/bin/sh\ntouch '{}'\nexit 99\n", called.display()),
    );
    make_executable(&trap.join("python3"));
    let mut path = vec![trap.display().to_string()];
    path.extend(dirs.iter().map(|d| d.display().to_string()));
    path.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(String::from));
    (path.join(":"), called)
}

/// A release of the action's own version as the release workflow lays it
/// out (`vX.Y.Z/leakhound-vX.Y.Z-TARGET.tar.gz` and its `.sha256`), holding
/// the binary under test, served from a `file://` base URL.
fn fake_release(dir: &Path, target: &str) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("leakhound-v{version}-{target}");
    let stage = dir.join("stage").join(&name);
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_leakhound"), stage.join("leakhound")).unwrap();
    let out = dir.join(format!("v{version}"));
    std::fs::create_dir_all(&out).unwrap();
    let archive = out.join(format!("{name}.tar.gz"));
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.join("stage"))
        .arg(&name)
        .status()
        .unwrap();
    assert!(status.success());
    let sum = Command::new("sha256sum").arg(&archive).output().unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout);
    let hash = sum.split_whitespace().next().unwrap();
    std::fs::write(
        out.join(format!("{name}.tar.gz.sha256")),
        format!("{hash}  {name}.tar.gz\n"),
    )
    .unwrap();
    format!("file://{}", dir.display())
}

#[test]
fn action_downloads_the_release_of_its_version_and_checks_its_sha256() {
    let mut runner = Runner::new("workflow_dispatch", serde_json::json!({}));
    runner.prebuilt = false;
    let releases = tempdir();
    let url = fake_release(releases.path(), "x86_64-unknown-linux-musl");
    let jq = which("jq");
    let (path, python_called) = path_without_python(&runner, &[jq.parent().unwrap()]);
    runner.env = vec![("PATH".into(), path), ("LEAKHOUND_RELEASE_URL".into(), url)];
    write(runner.ws(), "a.py", format!("K = '{KUNAVO}'\n"));
    let r = runner.run(&[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "1");
    assert!(r.stderr.contains("SHA-256"), "{}", r.stderr);
    assert!(r.used.is_empty(), "no build, no build cache: {:?}", r.used);
    assert!(!python_called.exists(), "the action ran python3");

    // A tampered archive is refused, not run and not replaced by a build.
    let version = env!("CARGO_PKG_VERSION");
    let sum = releases.path().join(format!(
        "v{version}/leakhound-v{version}-x86_64-unknown-linux-musl.tar.gz.sha256"
    ));
    std::fs::write(&sum, format!("{}  x.tar.gz\n", "0".repeat(64))).unwrap();
    let r = runner.run(&[]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("does not match"), "{}", r.stdout);
    assert!(r.outputs["findings"].is_empty());
}

#[test]
fn action_without_a_release_builds_with_cargo_install_cached_by_the_lock_file() {
    // No release for this version (an empty release directory): a fake
    // cargo records its arguments and "installs" the binary under test.
    let mut runner = Runner::new("workflow_dispatch", serde_json::json!({}));
    runner.prebuilt = false;
    let releases = tempdir();
    let fake = tempdir();
    let log = fake.path().join("cargo.log");
    write(
        fake.path(),
        "cargo",
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nroot=$(echo \"$@\" | sed 's/.*--root //')\nmkdir -p \"$root/bin\"\nln -sf '{}' \"$root/bin/leakhound\"\n",
            log.display(),
            env!("CARGO_BIN_EXE_leakhound")
        ),
    );
    make_executable(&fake.path().join("cargo"));
    let cache = runner.runner_temp.path().join("cache");
    let jq = which("jq");
    let (path, python_called) = path_without_python(&runner, &[fake.path(), jq.parent().unwrap()]);
    runner.env = vec![
        ("PATH".into(), path),
        ("LEAKHOUND_CACHE_DIR".into(), cache.display().to_string()),
        (
            "LEAKHOUND_RELEASE_URL".into(),
            format!("file://{}", releases.path().display()),
        ),
    ];
    write(runner.ws(), "a.py", format!("K = '{KUNAVO}'\n"));
    let r = runner.run(&[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "1");
    assert!(!python_called.exists(), "the action ran python3");
    let root = cache.join("cargo-install");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        logged,
        format!("install --locked --path {ROOT} --root {}\n", root.display())
    );
    // The cache step keeps the installed binary, keyed by the lock file.
    let lock = std::fs::read(Path::new(ROOT).join("Cargo.lock")).unwrap();
    let out = Command::new("sha256sum")
        .arg(Path::new(ROOT).join("Cargo.lock"))
        .output()
        .unwrap();
    assert!(!lock.is_empty());
    let hash = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(r.used.len(), 1, "{:?}", r.used);
    let (uses, with) = &r.used[0];
    assert!(uses.starts_with("actions/cache@"), "{uses}");
    assert_eq!(with["path"], root.display().to_string());
    assert_eq!(
        with["key"],
        format!("leakhound-cargo-install-Linux-X64-{hash}")
    );

    // A cache hit (the binary is there): nothing is built.
    let r = runner.run(&[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        logged,
        "built again"
    );
    assert!(r.stdout.contains("using the cached"), "{}", r.stdout);
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn which(program: &str) -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The workflow file the README shows, parsed.
fn readme_workflow() -> Yaml {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let start = readme
        .find("<!-- workflow: .github/workflows/leakhound.yml -->")
        .expect("README marks its workflow example");
    let block = &readme[start..];
    let body_start = block.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let body_end = block[body_start..].find("```").unwrap() + body_start;
    load_yaml(&block[body_start..body_end])
}

/// The README workflow's leakhound step and its `with:` inputs.
fn readme_leakhound_step(workflow: &Yaml) -> (String, Vec<(String, String)>) {
    let steps = workflow["jobs"]["leakhound"]["steps"].as_vec().unwrap();
    let step = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("leakhound/leakhound@"))
        })
        .expect("a step that uses the action");
    let id = step["id"].as_str().expect("the step has an id").to_string();
    let with = step["with"]
        .as_hash()
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Yaml::String(s) => s.clone(),
                        Yaml::Boolean(b) => b.to_string(),
                        Yaml::Integer(i) => i.to_string(),
                        other => panic!("unexpected input value {other:?}"),
                    };
                    (k.as_str().unwrap().to_string(), v)
                })
                .collect()
        })
        .unwrap_or_default();
    (id, with)
}

#[test]
fn readme_workflow_is_complete_and_matches_action_yml() {
    let workflow = readme_workflow();
    for event in ["pull_request", "push"] {
        assert!(
            !workflow["on"][event].is_badvalue(),
            "the workflow runs on {event}"
        );
    }
    assert_eq!(
        workflow["permissions"]["security-events"].as_str(),
        Some("write"),
        "upload-sarif needs security-events: write"
    );
    let steps = workflow["jobs"]["leakhound"]["steps"].as_vec().unwrap();
    let checkout = &steps[0];
    assert!(checkout["uses"]
        .as_str()
        .unwrap()
        .starts_with("actions/checkout@"));
    assert_eq!(
        checkout["with"]["fetch-depth"].as_i64(),
        Some(0),
        "the git modes need the whole history"
    );
    let (id, with) = readme_leakhound_step(&workflow);
    let declared = keys(&action_yml()["inputs"]);
    for (k, _) in &with {
        assert!(declared.contains(k), "README uses unknown input `{k}`");
    }
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
        })
        .expect("an upload-sarif step");
    assert_eq!(
        upload["with"]["sarif_file"].as_str(),
        Some(format!("${{{{ steps.{id}.outputs.sarif-file }}}}").as_str())
    );
    assert!(
        upload["if"]
            .as_str()
            .is_some_and(|c| c.contains("always()")),
        "SARIF is uploaded when the scan step failed too"
    );
}

#[test]
fn readme_workflow_step_runs_as_written_on_workflow_dispatch() {
    // workflow_dispatch scans the checked-out files; the pull_request and
    // push paths scan ranges (the `action_pull_request_*` and
    // `action_push_*` tests below).
    let workflow = readme_workflow();
    assert!(!workflow["on"]["workflow_dispatch"].is_badvalue());
    let (_, with) = readme_leakhound_step(&workflow);
    let with: Vec<(&str, &str)> = with.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let runner = Runner::new("workflow_dispatch", serde_json::json!({}));
    tree_with_two_keys(runner.ws());
    let r = runner.run(&with);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "2");
    let sarif = r.outputs["sarif-file"].clone();
    assert!(!sarif.is_empty() && runner.ws().join(&sarif).is_file());
}

// Git fixtures for the pull-request and push modes.

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A workspace repo: `main` has a key committed long ago (outside any
/// range under test), `feature` adds one more key on top.
fn repo_with_base_and_head(runner: &Runner) -> (String, String) {
    let ws = runner.ws();
    git(ws, &["init", "-q", "-b", "main"]);
    write(ws, "old.py", format!("K = '{GITHUB}'\n"));
    git(ws, &["add", "."]);
    git(ws, &["commit", "-qm", "old key"]);
    let base = git(ws, &["rev-parse", "HEAD"]);
    git(ws, &["checkout", "-qb", "feature"]);
    write(ws, "new.py", format!("K = '{KUNAVO}'\n"));
    git(ws, &["add", "."]);
    git(ws, &["commit", "-qm", "new key"]);
    let head = git(ws, &["rev-parse", "HEAD"]);
    (base, head)
}

#[test]
fn action_pull_request_mode_scans_only_the_pull_requests_commits() {
    let mut runner = Runner::new("pull_request", serde_json::json!({}));
    let (base, head) = repo_with_base_and_head(&runner);
    runner.event = pull_request_event(&base, &head);
    // No mode: the pull_request event picks pull-request.
    let r = runner.run(&[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.outputs["findings"], "1",
        "only the PR's key: {}",
        r.stdout
    );
    assert!(
        r.stdout.contains("::error file=new.py,line=1"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("old.py"), "{}", r.stdout);
    assert!(r.summary.contains("`new.py`"), "{}", r.summary);
    assert_no_raw_secret("the summary", &r.summary);
}

/// Exposure (issue 24): the summary says which keys the pull request
/// brings and which were already in the base branch's history (an old
/// key copied to a new file is still an old leak).
#[test]
fn action_pull_request_summary_tells_new_keys_from_old_leaks() {
    let mut runner = Runner::new("pull_request", serde_json::json!({}));
    let (base, _) = repo_with_base_and_head(&runner);
    let ws = runner.ws();
    write(ws, "copied.py", format!("OLD = '{GITHUB}'\n"));
    git(ws, &["add", "."]);
    git(ws, &["commit", "-qm", "copy the old key"]);
    let head = git(ws, &["rev-parse", "HEAD"]);
    runner.event = pull_request_event(&base, &head);
    let r = runner.run(&[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "2", "{}", r.stdout);
    let s = &r.summary;
    assert!(s.contains("| new or old |"), "{s}");
    // The secrets table's row for the provider's key (not the findings').
    let line = |provider: &str| {
        s.lines()
            .find(|l| {
                l.contains(&format!("| `{provider}` |"))
                    && (l.contains("new in this change") || l.contains("old leak"))
            })
            .unwrap_or_else(|| panic!("no {provider} row in {s}"))
            .to_string()
    };
    assert!(line("kunavo").contains("new in this change"), "{s}");
    assert!(
        line("github").contains("already in the base branch's history"),
        "{s}"
    );
    assert_no_raw_secret("the summary", s);
}

#[test]
fn action_push_mode_scans_the_pushed_commits() {
    let mut runner = Runner::new("push", serde_json::json!({}));
    let (before, after) = repo_with_base_and_head(&runner);
    runner.event = serde_json::json!({
        "ref": "refs/heads/feature",
        "before": before,
        "after": after,
        "repository": { "default_branch": "main" },
    });
    let r = runner.run(&[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "1", "{}", r.stdout);
    assert!(r.stdout.contains("file=new.py"), "{}", r.stdout);
}

#[test]
fn action_push_of_a_new_branch_scans_the_commits_the_default_branch_lacks() {
    let mut runner = Runner::new("push", serde_json::json!({}));
    let (base, after) = repo_with_base_and_head(&runner);
    // actions/checkout leaves the default branch as origin/main.
    git(
        runner.ws(),
        &["update-ref", "refs/remotes/origin/main", &base],
    );
    runner.event = serde_json::json!({
        "ref": "refs/heads/feature",
        "before": "0000000000000000000000000000000000000000",
        "after": after,
        "created": true,
        "repository": { "default_branch": "main" },
    });
    let r = runner.run(&[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "1", "{}", r.stdout);
    assert!(r.stdout.contains("file=new.py"), "{}", r.stdout);
}

/// 12 Kunavo keys in files `k00.env`..`k11.env`; the last one is live (the
/// loopback provider says so), the others unknown (403).
fn twelve_keys_one_live(runner: &Runner) -> crate::fake_provider::Server {
    let live = kunavo("action-cap-11");
    let server = crate::fake_provider::Server::start(move |req, _| {
        if req.key() == live {
            crate::fake_provider::Reply::status(200)
        } else {
            crate::fake_provider::Reply::status(403)
        }
    });
    for i in 0..12 {
        write(
            runner.ws(),
            &format!("k{i:02}.env"),
            format!("KUNAVO_API_KEY={}\n", kunavo(&format!("action-cap-{i}"))),
        );
    }
    write(
        runner.ws(),
        ".leakhound.toml",
        format!(
            "[providers.kunavo]\nbase_url = \"{}/kunavo/v1\"\n",
            server.url()
        ),
    );
    server
}

#[test]
fn action_annotates_at_most_ten_live_first_and_the_summary_lists_all() {
    let mut runner = Runner::new("workflow_dispatch", serde_json::json!({}));
    runner.env = vec![
        ("HTTPS_PROXY".into(), "http://127.0.0.1:9".into()),
        ("HTTP_PROXY".into(), "http://127.0.0.1:9".into()),
    ];
    let _server = twelve_keys_one_live(&runner);
    let r = runner.run(&[("verify", "true"), ("config", ".leakhound.toml")]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "12");
    assert_eq!(r.outputs["live"], "1");
    let errors: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(errors.len(), 10, "{}", r.stdout);
    assert!(
        errors[0].starts_with("::error file=k11.env,"),
        "the live key first: {}",
        errors[0]
    );
    assert!(
        r.stdout
            .contains("leakhound: 2 of 12 findings not annotated"),
        "{}",
        r.stdout
    );
    // The summary says how many were not annotated and lists them all.
    assert!(
        r.summary
            .contains("2 of 12 findings are not annotated on the files"),
        "{}",
        r.summary
    );
    for i in 0..12 {
        assert!(
            r.summary.contains(&format!("`k{i:02}.env`")),
            "{}",
            r.summary
        );
    }
    assert_no_raw_secret("the summary", &r.summary);
}

#[test]
fn action_push_after_a_force_push_scans_from_the_merge_base() {
    let mut runner = Runner::new("push", serde_json::json!({}));
    let (base, after) = repo_with_base_and_head(&runner);
    git(
        runner.ws(),
        &["update-ref", "refs/remotes/origin/main", &base],
    );
    // `before` was rewritten away by the force-push: no such commit.
    runner.event = serde_json::json!({
        "ref": "refs/heads/feature",
        "before": "1234567890abcdef1234567890abcdef12345678",
        "after": after,
        "forced": true,
        "repository": { "default_branch": "main" },
    });
    let r = runner.run(&[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "1", "{}", r.stdout);
    assert!(r.stdout.contains("file=new.py"), "{}", r.stdout);
    assert!(!r.stdout.contains("old.py"), "{}", r.stdout);
    assert!(r.stdout.contains("force-push"), "{}", r.stdout);
}

/// A loopback stand-in for the GitHub API's issue comments: it keeps the
/// comments of pull request 7 of octo/app, checks the token, and refuses
/// writes when `read_only` (a fork's pull request).
struct FakeGitHub {
    server: crate::fake_provider::Server,
    comments: std::sync::Arc<std::sync::Mutex<Vec<(u64, String)>>>,
}

impl FakeGitHub {
    fn start(read_only: bool) -> FakeGitHub {
        use crate::fake_provider::Reply;
        let comments = std::sync::Arc::new(std::sync::Mutex::new(vec![(
            1u64,
            "LGTM, a human comment".to_string(),
        )]));
        let state = std::sync::Arc::clone(&comments);
        let server = crate::fake_provider::Server::start(move |req, _| {
            if req.header("authorization") != ["Bearer pr-token"] {
                return Reply::status(401);
            }
            let mut comments = state.lock().unwrap();
            let list = "/repos/octo/app/issues/7/comments";
            match (req.method.as_str(), req.path.as_str()) {
                ("GET", p) if p.starts_with(&format!("{list}?")) => {
                    let page: Vec<_> = comments
                        .iter()
                        .map(|(id, body)| serde_json::json!({"id": id, "body": body}))
                        .collect();
                    Reply::status(200).body(&serde_json::Value::from(page).to_string())
                }
                _ if read_only => Reply::status(403),
                ("POST", p) if p == list => {
                    let id = 100 + comments.len() as u64;
                    comments.push((id, req.json()["body"].as_str().unwrap().to_string()));
                    Reply::status(201).body(&format!("{{\"id\":{id}}}"))
                }
                ("PATCH", p) => {
                    let id: u64 = p
                        .strip_prefix("/repos/octo/app/issues/comments/")
                        .and_then(|i| i.parse().ok())
                        .unwrap_or(0);
                    match comments.iter_mut().find(|(i, _)| *i == id) {
                        Some(c) => {
                            c.1 = req.json()["body"].as_str().unwrap().to_string();
                            Reply::status(200)
                        }
                        None => Reply::status(404),
                    }
                }
                _ => Reply::status(404),
            }
        });
        FakeGitHub { server, comments }
    }

    fn comments(&self) -> Vec<(u64, String)> {
        self.comments.lock().unwrap().clone()
    }
}

fn pr_runner(api: &FakeGitHub) -> Runner {
    let mut runner = Runner::new(
        "pull_request",
        serde_json::json!({ "pull_request": { "number": 7 } }),
    );
    runner.env = vec![("GITHUB_API_URL".into(), api.server.url())];
    runner
}

#[test]
fn action_pull_request_comment_is_created_once_and_updated_in_place() {
    let api = FakeGitHub::start(false);
    let runner = pr_runner(&api);
    tree_with_two_keys(runner.ws());
    let with = [
        ("mode", "files"),
        ("comment", "true"),
        ("token", "pr-token"),
    ];
    let r = runner.run(&with);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("created the pull-request comment"),
        "{}",
        r.stdout
    );
    let comments = api.comments();
    assert_eq!(comments.len(), 2, "{comments:?}");
    let (id, body) = &comments[1];
    assert!(body.contains("leakhound: 2 findings"), "{body}");
    assert!(body.contains("`config/app.py`"), "{body}");
    assert_no_raw_secret("the comment", body);

    // Next run, one key removed: the same comment is updated.
    write(runner.ws(), "deploy/.env", "GITHUB_TOKEN=${GITHUB_TOKEN}\n");
    let r = runner.run(&with);
    assert!(
        r.stdout.contains("updated the pull-request comment"),
        "{}",
        r.stdout
    );
    let comments = api.comments();
    assert_eq!(comments.len(), 2, "one comment, updated: {comments:?}");
    assert_eq!(&comments[1].0, id);
    assert!(
        comments[1].1.contains("leakhound: 1 finding"),
        "{}",
        comments[1].1
    );
    assert_eq!(comments[0].1, "LGTM, a human comment");

    // Fixed: the comment says so rather than keep the old alarm.
    std::fs::remove_file(runner.ws().join("config/app.py")).unwrap();
    let r = runner.run(&with);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let comments = api.comments();
    assert_eq!(comments.len(), 2);
    assert!(
        comments[1].1.contains("no secrets found"),
        "{}",
        comments[1].1
    );
    // The token never reaches the log.
    assert!(!r.stdout.contains("pr-token") && !r.stderr.contains("pr-token"));
}

#[test]
fn action_comment_on_a_forks_pull_request_warns_and_keeps_the_result() {
    let api = FakeGitHub::start(true);
    let runner = pr_runner(&api);
    tree_with_two_keys(runner.ws());
    let r = runner.run(&[
        ("mode", "files"),
        ("comment", "true"),
        ("token", "pr-token"),
    ]);
    assert_eq!(r.code, 1, "the findings decide: {}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("::warning title=leakhound::cannot write the pull-request comment"),
        "{}",
        r.stdout
    );
    assert_eq!(api.comments().len(), 1);
    // No comment without findings and without an earlier comment.
    let clean = pr_runner(&api);
    write(clean.ws(), "a.txt", "nothing\n");
    let r = clean.run(&[
        ("mode", "files"),
        ("comment", "true"),
        ("token", "pr-token"),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("::warning"), "{}", r.stdout);
}

#[test]
fn action_pull_request_mode_does_not_trust_the_pull_requests_own_config() {
    // Hardening M6: a pull request that adds `[allowlist] paths = ["**"]`
    // must not silence its own check.
    let mut runner = Runner::new("pull_request", serde_json::json!({}));
    let ws = runner.ws().to_path_buf();
    git(&ws, &["init", "-q", "-b", "main"]);
    write(
        &ws,
        ".leakhound.toml",
        "[allowlist]\nstopwords = [\"example\"]\n",
    );
    git(&ws, &["add", "."]);
    git(&ws, &["commit", "-qm", "base"]);
    let base = git(&ws, &["rev-parse", "HEAD"]);
    git(&ws, &["checkout", "-qb", "feature"]);
    write(&ws, "new.py", format!("K = '{KUNAVO}'\n"));
    write(
        &ws,
        ".leakhound.toml",
        "[allowlist]\npaths = [\"**\"]\n[scan]\nmax_file_size = 1\n",
    );
    git(&ws, &["add", "."]);
    git(&ws, &["commit", "-qm", "add a key and silence the check"]);
    let head = git(&ws, &["rev-parse", "HEAD"]);
    runner.event = pull_request_event(&base, &head);
    let r = runner.run(&[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "1", "{}", r.stdout);
    assert!(r.stdout.contains("file=new.py"), "{}", r.stdout);
    assert!(
        r.summary
            .contains("base commit's `.leakhound.toml` applied")
            && r.summary
                .contains("this pull request changes `.leakhound.toml`"),
        "{}",
        r.summary
    );
}

#[test]
fn action_pull_request_mode_reads_the_baseline_from_the_base_commit() {
    // Hardening M6: a pull request that adds its own key to the baseline
    // must not hide it; nor may one that brings a baseline the base lacks.
    for base_has_baseline in [true, false] {
        let mut runner = Runner::new("pull_request", serde_json::json!({}));
        let ws = runner.ws().to_path_buf();
        git(&ws, &["init", "-q", "-b", "main"]);
        write(&ws, "old.py", format!("K = '{GITHUB}'\n"));
        if base_has_baseline {
            // The base accepts its old key.
            let r = run(Command::new(env!("CARGO_BIN_EXE_leakhound"))
                .current_dir(&ws)
                .args(["baseline", "create", ".", "--no-config", "-q"]));
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        git(&ws, &["add", "."]);
        git(&ws, &["commit", "-qm", "base"]);
        let base = git(&ws, &["rev-parse", "HEAD"]);
        git(&ws, &["checkout", "-qb", "feature"]);
        write(&ws, "new.py", format!("K = '{KUNAVO}'\n"));
        // ... and the pull request accepts its new one.
        let r = run(Command::new(env!("CARGO_BIN_EXE_leakhound"))
            .current_dir(&ws)
            .args(["baseline", "create", ".", "--no-config", "-q"]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        git(&ws, &["add", "."]);
        git(&ws, &["commit", "-qm", "add a key and accept it"]);
        let head = git(&ws, &["rev-parse", "HEAD"]);
        runner.event = pull_request_event(&base, &head);
        let r = runner.run(&[("baseline", ".leakhound-baseline.json")]);
        assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.outputs["findings"], "1", "{}", r.stdout);
        assert!(r.stdout.contains("file=new.py"), "{}", r.stdout);
        let said = if base_has_baseline {
            "**Baseline:** `.leakhound-baseline.json` read from the base commit"
        } else {
            "**Baseline:** the base commit has no `.leakhound-baseline.json`: no baseline applied"
        };
        assert!(
            r.summary.contains(said) && r.summary.contains("this pull request changes it"),
            "{}",
            r.summary
        );
    }
    // A push scans with the checked-out baseline as before.
    let mut runner = Runner::new("push", serde_json::json!({}));
    let ws = runner.ws().to_path_buf();
    git(&ws, &["init", "-q", "-b", "main"]);
    write(&ws, "a.txt", "a\n");
    git(&ws, &["add", "."]);
    git(&ws, &["commit", "-qm", "first"]);
    let before = git(&ws, &["rev-parse", "HEAD"]);
    write(&ws, "new.py", format!("K = '{KUNAVO}'\n"));
    let r = run(Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .current_dir(&ws)
        .args(["baseline", "create", ".", "--no-config", "-q"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    git(&ws, &["add", "."]);
    git(&ws, &["commit", "-qm", "add a key and accept it"]);
    let after = git(&ws, &["rev-parse", "HEAD"]);
    runner.event = serde_json::json!({"before": before, "after": after});
    let r = runner.run(&[("baseline", ".leakhound-baseline.json")]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.summary.contains("**Baseline:**"), "{}", r.summary);
}

#[test]
fn action_push_of_a_new_branch_without_the_default_branch_scans_all_history() {
    let mut runner = Runner::new("push", serde_json::json!({}));
    let (_, after) = repo_with_base_and_head(&runner);
    // No origin/main to compare with (a shallow or single-branch checkout).
    runner.event = serde_json::json!({
        "ref": "refs/heads/feature",
        "before": "0000000000000000000000000000000000000000",
        "after": after,
        "created": true,
        "repository": { "default_branch": "main" },
    });
    let r = runner.run(&[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("new branch and no origin/main to compare with: scanning the whole history"),
        "{}",
        r.stdout
    );
    assert_eq!(r.outputs["findings"], "2", "{}", r.stdout);
    assert!(r.stdout.contains("file=old.py"), "{}", r.stdout);
    assert!(r.stdout.contains("file=new.py"), "{}", r.stdout);
}

#[test]
fn action_history_mode_finds_keys_deleted_long_ago() {
    let runner = Runner::new("workflow_dispatch", serde_json::json!({}));
    repo_with_base_and_head(&runner);
    let ws = runner.ws();
    std::fs::remove_file(ws.join("old.py")).unwrap();
    git(ws, &["add", "-A"]);
    git(ws, &["commit", "-qm", "remove the old key"]);
    // The checked-out files hold one key; the history holds two.
    let files = runner.run(&[("mode", "files")]);
    assert_eq!(files.outputs["findings"], "1", "{}", files.stdout);
    let r = runner.run(&[("mode", "history")]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "2", "{}", r.stdout);
    assert!(r.stdout.contains("file=old.py"), "{}", r.stdout);
    assert!(r.summary.contains("`old.py`"), "{}", r.summary);
}

#[test]
fn action_pull_request_target_event_scans_the_pull_requests_commits() {
    let mut runner = Runner::new("pull_request_target", serde_json::json!({}));
    let (base, head) = repo_with_base_and_head(&runner);
    runner.event = pull_request_event(&base, &head);
    let r = runner.run(&[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "1", "{}", r.stdout);
    assert!(r.stdout.contains("file=new.py"), "{}", r.stdout);
    assert!(!r.stdout.contains("old.py"), "{}", r.stdout);
    assert!(
        r.stderr.contains(&format!("--range {base}..{head}")),
        "{}",
        r.stderr
    );
}

#[test]
fn action_verify_counts_live_keys_and_fail_on_live_fails_only_for_them() {
    use crate::fake_provider::{Reply, Server};
    use std::sync::{Arc, Mutex};
    // The Kunavo key is live until the test says otherwise; GitHub's is dead.
    let kunavo_live = Arc::new(Mutex::new(true));
    let live = Arc::clone(&kunavo_live);
    let server = Server::start(move |req, _| {
        let up = req.path.starts_with("/kunavo/") && req.key() == KUNAVO && *live.lock().unwrap();
        Reply::status(if up { 200 } else { 401 })
    });
    let mut runner = Runner::new("workflow_dispatch", serde_json::json!({}));
    tree_with_two_keys(runner.ws());
    write(
        runner.ws(),
        "verify.toml",
        format!(
            "[providers.kunavo]\nbase_url = \"{0}/kunavo/v1\"\n\n\
             [providers.github]\nbase_url = \"{0}/github\"\n\n\
             [verify]\nmax_wait = 0.1\nretries = 0\n",
            server.url()
        ),
    );
    // Anything not on loopback goes to a proxy that does not exist.
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        runner.env.push((var.into(), "http://127.0.0.1:9".into()));
    }
    let with = [
        ("config", "verify.toml"),
        ("verify", "true"),
        ("fail-on", "live"),
    ];
    let r = runner.run(&with);
    assert_eq!(r.code, 1, "a live key fails: {}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "2", "{}", r.stdout);
    assert_eq!(r.outputs["live"], "1", "{}", r.stdout);
    assert!(r.summary.contains("live"), "{}", r.summary);
    assert_no_raw_secret("the log", &r.stdout);
    assert_no_raw_secret("the summary", &r.summary);
    let asked: Vec<String> = server.requests().iter().map(|q| q.path.clone()).collect();
    assert!(asked.iter().any(|p| p.starts_with("/kunavo/")), "{asked:?}");
    assert!(asked.iter().any(|p| p.starts_with("/github/")), "{asked:?}");

    // Revoked: both keys dead, still two findings, and the step passes.
    *kunavo_live.lock().unwrap() = false;
    let r = runner.run(&with);
    assert_eq!(r.code, 0, "no live key: {}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "2", "{}", r.stdout);
    assert_eq!(r.outputs["live"], "0", "{}", r.stdout);
    // Without fail-on: live, dead keys still fail the step.
    let r = runner.run(&[("config", "verify.toml"), ("verify", "true")]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn action_pull_request_mode_reads_gitleaksignore_from_the_base_commit() {
    // A pull request that adds its own key's fingerprint to
    // `.gitleaksignore` must not hide it; the base commit's file applies.
    let mut runner = Runner::new("pull_request", serde_json::json!({}));
    let ws = runner.ws().to_path_buf();
    git(&ws, &["init", "-q", "-b", "main"]);
    // The base accepts a key at accepted.py line 1 (a gitleaks id).
    write(&ws, ".gitleaksignore", "accepted.py:github-pat:1\n");
    git(&ws, &["add", "."]);
    git(&ws, &["commit", "-qm", "base"]);
    let base = git(&ws, &["rev-parse", "HEAD"]);
    git(&ws, &["checkout", "-qb", "feature"]);
    write(&ws, "accepted.py", format!("K = '{GITHUB}'\n"));
    write(&ws, "new.py", format!("K = '{KUNAVO}'\n"));
    write(
        &ws,
        ".gitleaksignore",
        "accepted.py:github-pat:1\nnew.py:kunavo-api-key:1\n",
    );
    git(&ws, &["add", "."]);
    git(&ws, &["commit", "-qm", "add keys and hide one"]);
    let head = git(&ws, &["rev-parse", "HEAD"]);
    runner.event = pull_request_event(&base, &head);
    let r = runner.run(&[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["findings"], "1", "{}", r.stdout);
    assert!(r.stdout.contains("file=new.py"), "{}", r.stdout);
    assert!(!r.stdout.contains("file=accepted.py"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("this pull request changes `.gitleaksignore`"),
        "{}",
        r.stdout
    );
}
