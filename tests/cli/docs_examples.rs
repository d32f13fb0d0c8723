//! Every TOML example in README.md and docs/ works where the docs put it.
//! Each example says on its first line where it goes:
//!
//! - `# .leakhound.toml`: the project config that `scan` finds by itself
//!   (trusted less): written there, `config check` and `scan` must pass;
//! - `# ~/.config/leakhound/config.toml, or a file named with --config`: a
//!   trusted file: named with `--config`, both must pass;
//! - `# rules/NAME.toml`: a rule file: it must parse and compile;
//! - `# fragment: …`: part of a larger file: it must be valid TOML.
//!
//! An example with none of these is a failure: a reader must be told.

use std::path::{Path, PathBuf};

use crate::util::{leakhound, run, tempdir, Run};

struct Example {
    /// `docs/config.md:24`
    at: String,
    text: String,
}

/// The fenced ```toml blocks of a Markdown file, dedented by their fence's
/// indentation.
fn toml_blocks(path: &Path, shown: &str) -> Vec<Example> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut open: Option<(usize, usize, Vec<String>)> = None;
    for (i, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        match &mut open {
            None if line.trim_start().starts_with("```toml") => {
                open = Some((i + 1, indent, Vec::new()))
            }
            None => {}
            Some((start, fence, lines)) => {
                if line.trim_start().starts_with("```") {
                    out.push(Example {
                        at: format!("{shown}:{start}"),
                        text: lines.join("\n") + "\n",
                    });
                    open = None;
                } else {
                    let cut = indent.min(*fence);
                    lines.push(line[cut..].to_string());
                }
            }
        }
    }
    out
}

fn all_examples() -> Vec<Example> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files.insert(0, root.join("README.md"));
    files
        .iter()
        .flat_map(|f| {
            let shown = f.strip_prefix(root).unwrap().display().to_string();
            toml_blocks(f, &shown)
        })
        .collect()
}

fn must_pass(what: &str, at: &str, r: &Run, example: &str) -> Option<String> {
    (r.code != 0).then(|| {
        format!(
            "{at}: `{what}` exits {}:\n{}{}\n--- the example:\n{example}",
            r.code, r.stdout, r.stderr
        )
    })
}

/// Run one example where its first line puts it; the failures, if any.
fn try_example(e: &Example) -> Vec<String> {
    let label = e.text.lines().next().unwrap_or("").trim();
    let mut failures = Vec::new();
    if label == "# .leakhound.toml" {
        let dir = tempdir();
        std::fs::write(dir.path().join(".leakhound.toml"), &e.text).unwrap();
        let check = run(leakhound()
            .current_dir(dir.path())
            .args(["config", "check"]));
        failures.extend(must_pass("config check", &e.at, &check, &e.text));
        let scan = run(leakhound().current_dir(dir.path()).args(["scan", "."]));
        failures.extend(must_pass("scan .", &e.at, &scan, &e.text));
        if !scan.stdout.contains("config: .leakhound.toml") {
            failures.push(format!(
                "{}: scan did not read the file:\n{}",
                e.at, scan.stdout
            ));
        }
    } else if label.starts_with("# ~/.config/leakhound/config.toml") && label.contains("--config") {
        let dir = tempdir();
        std::fs::write(dir.path().join("trusted.toml"), &e.text).unwrap();
        let check =
            run(leakhound()
                .current_dir(dir.path())
                .args(["config", "check", "trusted.toml"]));
        failures.extend(must_pass(
            "config check trusted.toml",
            &e.at,
            &check,
            &e.text,
        ));
        let scan = run(leakhound().current_dir(dir.path()).args([
            "scan",
            "--config",
            "trusted.toml",
            ".",
        ]));
        failures.extend(must_pass(
            "scan --config trusted.toml .",
            &e.at,
            &scan,
            &e.text,
        ));
    } else if let Some(name) = label.strip_prefix("# rules/") {
        let origin = format!("rules/{}", name.split_whitespace().next().unwrap_or(""));
        match leakhound::rules::parse_rule_file(&origin, &e.text) {
            Ok(specs) if specs.is_empty() => failures.push(format!("{}: no [[rules]]", e.at)),
            Ok(specs) => {
                for spec in specs {
                    if let Err(err) = leakhound::rules::Rule::compile(spec, &origin) {
                        failures.push(format!("{}: {err}", e.at));
                    }
                }
            }
            Err(err) => failures.push(format!("{}: {err}", e.at)),
        }
    } else if label.starts_with("# fragment") {
        if let Err(err) = e.text.parse::<toml::Table>() {
            failures.push(format!("{}: not TOML: {err}", e.at));
        }
    } else {
        failures.push(format!(
            "{}: a TOML example must say on its first line where it goes \
             (`# .leakhound.toml`, `# ~/.config/leakhound/config.toml, or a file named with --config`, \
             `# rules/NAME.toml`, `# fragment: …`); it says `{label}`",
            e.at
        ));
    }
    failures
}

#[test]
fn every_toml_example_in_the_docs_works_where_the_docs_put_it() {
    let examples = all_examples();
    // README, config.md (two), archives.md, rules.md (three), revoke.md,
    // verify.md (three) at the time of writing.
    assert!(
        examples.len() >= 10,
        "only {} examples found",
        examples.len()
    );
    let failures: Vec<String> = examples.iter().flat_map(try_example).collect();
    assert!(
        failures.is_empty(),
        "{} of {} examples fail:\n\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n\n")
    );
}

/// The documented project config really is refused where a trusted one is
/// not: the check above cannot pass by accident with the trust model off.
#[test]
fn a_trusted_example_in_the_project_config_is_refused_by_scan_and_config_check() {
    let example = all_examples()
        .into_iter()
        .find(|e| e.at.starts_with("docs/config.md") && e.text.contains("[providers.kindo]"))
        .expect("docs/config.md has a trusted example with [providers.kindo]");
    let dir = tempdir();
    std::fs::write(dir.path().join(".leakhound.toml"), &example.text).unwrap();
    let scan = run(leakhound().current_dir(dir.path()).args(["scan", "."]));
    assert_eq!(scan.code, 2, "{}{}", scan.stdout, scan.stderr);
    assert!(scan.stderr.contains("[providers.kindo]"), "{}", scan.stderr);
    let check = run(leakhound()
        .current_dir(dir.path())
        .args(["config", "check"]));
    assert_eq!(check.code, 2, "{}{}", check.stdout, check.stderr);
    // Every refusal at once, where scan names only the first.
    for what in [
        "[providers.kindo]",
        "[providers.kunavo]",
        "[scan] follow",
        "[verify] cache_dir",
    ] {
        assert!(check.stderr.contains(what), "no {what}:\n{}", check.stderr);
    }
    let rules_check =
        run(leakhound()
            .current_dir(dir.path())
            .args(["rules", "check", ".leakhound.toml"]));
    assert_eq!(
        rules_check.code, 2,
        "{}{}",
        rules_check.stdout, rules_check.stderr
    );
}
