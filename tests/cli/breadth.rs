//! Rule breadth through the binary: the generic rule (marked, low, beaten by
//! provider rules, can be turned off), published example keys (suppressed
//! and counted), multi-part credentials (linked as `parts`), and the
//! generated rule table in docs/rules.md.

use crate::util::*;

// Test fixtures, random strings made up for these tests.
const GENERIC_VALUE: &str = "hJ7s9Kd2LqP0zX4c"; // leakhound:allow (test fixture)
const AWS_ID: &str = "AKIANQLWDWMUMPX4AAHR"; // leakhound:allow (test fixture)
const AWS_SECRET: &str = "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"; // leakhound:allow (test fixture)

#[test]
fn generic_findings_are_marked_low_and_can_be_turned_off() {
    let dir = tempdir();
    write(
        dir.path(),
        "app.env",
        format!(
            "DB_PASSWORD={GENERIC_VALUE}\nDB_PASSWORD_FILE=/run/secrets/db\nKUNAVO_API_KEY={}\n",
            kunavo("generic")
        ),
    );
    let run = scan_json(dir.path(), &["app.env"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    assert_eq!(findings.len(), 2, "{findings:#?}");
    let generic = &findings[0];
    assert_eq!(generic["rule_id"], "generic-secret-assignment");
    assert_eq!(generic["secret"], GENERIC_VALUE);
    assert_eq!(generic["severity"], "low");
    assert_eq!(generic["generic"], true);
    // The provider rule wins over the generic one on its own key, and the
    // generic rule is not named as an alternative provider.
    let kunavo = &findings[1];
    assert_eq!(kunavo["rule_id"], "kunavo-api-key");
    assert!(kunavo.get("generic").is_none(), "{kunavo}");
    assert_eq!(kunavo["alternatives"], serde_json::json!([]));

    let text = run_text(dir.path(), &["app.env"]);
    assert!(
        text.contains("generic rule: a value under a secret's name"),
        "{text}"
    );

    write(
        dir.path(),
        "off.toml",
        "disabled_rules = [\"generic-secret-assignment\"]\n",
    );
    let run = scan_json(dir.path(), &["--config", "off.toml", "app.env"]);
    let ids: Vec<String> = run
        .findings()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["kunavo-api-key"]);
}

fn run_text(dir: &std::path::Path, args: &[&str]) -> String {
    run(leakhound()
        .current_dir(dir)
        .args(["scan", "--format", "text", "--color", "never"])
        .args(args))
    .stdout
}

#[test]
fn published_example_keys_are_counted_not_reported() {
    let dir = tempdir();
    write(
        dir.path(),
        "README.md",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n\
         aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\
         stripe.api_key = \"sk_test_4eC39HqLyjWDarjtT1zdp7dc\"\n\
         Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\n\
         firebase: { apiKey: \"AIzaSyDOCAbC123dEf456GhI789jKl012-MnO\" }\n",
    );
    let run = scan_json(dir.path(), &["README.md"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(report["stats"]["known_examples"], 5, "{}", report["stats"]);

    let text = run_text(dir.path(), &["README.md"]);
    assert!(text.contains("5 known examples"), "{text}");

    // One character off is not the published value: reported.
    write(
        dir.path(),
        "real.env",
        "STRIPE_SECRET_KEY=sk_test_4eC39HqLyjWDarjtT1zdp7dX\n",
    );
    let run = scan_json(dir.path(), &["real.env"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.json()["stats"]["known_examples"], 0);
}

#[test]
fn the_halves_of_a_credential_are_linked_as_parts() {
    let dir = tempdir();
    write(
        dir.path(),
        "credentials",
        format!("[default]\naws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n"),
    );
    let shown = scan_json(dir.path(), &["credentials"]);
    let findings = shown.findings();
    let secret = findings
        .iter()
        .find(|f| f["rule_id"] == "aws-secret-access-key")
        .expect("secret found");
    assert_eq!(
        secret["parts"],
        serde_json::json!([{
            "rule_id": "aws-access-key-id",
            "secret": AWS_ID,
            "secret_redacted": false,
            "line": 2,
            "column": 21,
        }])
    );
    // The key id is a finding of its own too (it is no part-only rule).
    assert!(findings.iter().any(|f| f["rule_id"] == "aws-access-key-id"));

    // Redacted by default, like every secret.
    let redacted =
        run(leakhound()
            .current_dir(dir.path())
            .args(["scan", "--format", "json", "credentials"]));
    assert!(!redacted.stdout.contains(AWS_ID), "{}", redacted.stdout);
    assert!(!redacted.stdout.contains(AWS_SECRET));
    let parts = redacted
        .findings()
        .into_iter()
        .find(|f| f["rule_id"] == "aws-secret-access-key")
        .unwrap()["parts"]
        .clone();
    assert_eq!(parts[0]["secret_redacted"], true);

    // Too far apart (more than `lines` = 10): not linked.
    let filler = "# comment\n".repeat(20);
    write(
        dir.path(),
        "far",
        format!("aws_access_key_id = {AWS_ID}\n{filler}aws_secret_access_key = {AWS_SECRET}\n"),
    );
    let far = scan_json(dir.path(), &["far"]);
    let secret = far
        .findings()
        .into_iter()
        .find(|f| f["rule_id"] == "aws-secret-access-key")
        .expect("secret found");
    assert!(secret.get("parts").is_none(), "{secret}");
}

#[test]
fn part_only_halves_are_reported_only_as_parts() {
    let dir = tempdir();
    write(
        dir.path(),
        "twilio.env",
        "TWILIO_ACCOUNT_SID=AC186b3f2a332f8b26346e67afa11ac430\n\
         TWILIO_AUTH_TOKEN=17889f547d6187dcaa8288198c43f7b6\n",
    );
    write(
        dir.path(),
        "sid-only.env",
        "TWILIO_ACCOUNT_SID=AC186b3f2a332f8b26346e67afa11ac430\n",
    );
    let run = scan_json(dir.path(), &["twilio.env", "sid-only.env"]);
    let findings = run.findings();
    let ids: Vec<&str> = findings
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["twilio-auth-token"], "{findings:#?}");
    assert_eq!(findings[0]["parts"][0]["rule_id"], "twilio-account-sid");
    assert_eq!(
        findings[0]["parts"][0]["secret"],
        "AC186b3f2a332f8b26346e67afa11ac430"
    );
    assert_eq!(findings[0]["parts"][0]["line"], 1);
}

#[test]
fn the_rule_table_in_docs_is_current() {
    let run = run(leakhound().args(["rules", "list", "--format", "markdown"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md"))
        .expect("docs/rules.md");
    let (start, end) = ("<!-- rules-table:start -->\n", "<!-- rules-table:end -->");
    let from = docs.find(start).expect("start marker") + start.len();
    let to = docs.find(end).expect("end marker");
    assert!(
        docs[from..to] == run.stdout,
        "docs/rules.md's rule table is stale; regenerate it with\n  \
         bash bench/rules-table.sh\n\
         (it puts `leakhound rules list --format markdown` between the \
         rules-table markers)"
    );
}

#[test]
fn rules_list_says_which_rules_can_be_verified() {
    let all = run(leakhound().args(["rules", "list"]));
    assert!(all.stdout.contains("  verifiable  "), "{}", all.stdout);
    let only = run(leakhound().args(["rules", "list", "--verifiable"]));
    assert_eq!(only.code, 0, "{}", only.stderr);
    let count = |s: &str| s.lines().count() - 1;
    assert!(count(&only.stdout) < count(&all.stdout));
    assert!(
        only.stdout.lines().any(|l| l.starts_with("github-pat")),
        "{}",
        only.stdout
    );
    assert!(!only.stdout.contains("generic-secret-assignment"));
    assert!(only
        .stdout
        .lines()
        .filter(|l| !l.contains(" rules; "))
        .all(|l| l.contains("  verifiable  ")));
    let json = run(leakhound().args(["rules", "list", "--format", "json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    let github = list.iter().find(|r| r["provider"] == "github").unwrap();
    assert_eq!(github["verifiable"], true);
    let generic = list
        .iter()
        .find(|r| r["id"] == "generic-secret-assignment")
        .unwrap();
    assert_eq!(generic["verifiable"], false);
    assert_eq!(generic["generic"], true);
    // Issue 11: at least 80 providers have a check, paired ones included;
    // the partner rules are not verifiable by themselves.
    let providers: std::collections::BTreeSet<&str> = list
        .iter()
        .filter(|r| r["verifiable"] == true)
        .map(|r| r["provider"].as_str().unwrap())
        .collect();
    assert!(
        providers.len() >= 80,
        "{} providers: {providers:?}",
        providers.len()
    );
    let verifiable = |id: &str| list.iter().find(|r| r["id"] == id).unwrap()["verifiable"].clone();
    for id in [
        "aws-secret-access-key",
        "twilio-auth-token",
        "algolia-admin-api-key",
        "paypal-client-secret",
        "gcp-service-account-key",
        "azure-storage-account-key",
    ] {
        assert_eq!(verifiable(id), true, "{id}");
    }
    for id in [
        "aws-access-key-id",
        "twilio-account-sid",
        "azure-storage-account-name",
    ] {
        assert_eq!(verifiable(id), false, "{id}");
    }
}

/// Random-looking test values, made at run time so that no key-shaped
/// literal sits in this file (`leakhound scan .` stays clean).
fn made_up(seed: u64, len: usize, alphabet: &str) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            chars[((state >> 33) % chars.len() as u64) as usize]
        })
        .collect()
}

const LOWER_ALNUM: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const DIGITS: &str = "0123456789";
const HEX: &str = "0123456789abcdef";

#[test]
fn name_anchored_rules_read_every_common_assignment_syntax() {
    // A Twitch secret is found only by its variable's name, so the
    // assignment's syntax decides: Go's typed `var`, PHP's `.=`, Make's
    // `::=`/`?=`, a Java property call, an XML element, a JSON escape.
    let secret = made_up(21, 30, LOWER_ALNUM);
    let shapes = [
        format!("var twitchToken string = \"{secret}\"\n"),
        format!("$twitchToken .= \"{secret}\";\n"),
        format!("TWITCH_TOKEN ::= \"{secret}\"\n"),
        format!("TWITCH_TOKEN ?= {secret}\n"),
        format!("System.setProperty(\"TWITCH_TOKEN\", \"{secret}\");\n"),
        format!("<twitchToken>\n    {secret}\n</twitchToken>\n"),
        format!("{{\"app.ini\": \"TWITCH_TOKEN={secret}\\nDEBUG=false\"}}\n"),
        format!("twitchToken := `{secret}`\n"),
        format!("  \"twitchToken\" => \"{secret}\",\n"),
    ];
    let dir = tempdir();
    for (i, text) in shapes.iter().enumerate() {
        write(dir.path(), &format!("shapes/{i}.txt"), text);
    }
    let run = scan_json(dir.path(), &["shapes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    for (i, text) in shapes.iter().enumerate() {
        let path = format!("shapes/{i}.txt");
        assert!(
            findings.iter().any(|f| f["path"] == path.as_str()
                && f["rule_id"] == "twitch-client-secret"
                && f["secret"] == secret.as_str()),
            "not found in {text:?}: {findings:#?}"
        );
    }
}

#[test]
fn older_and_variant_key_shapes_are_attributed_to_their_provider() {
    let bot_id = format!("8{}", made_up(3, 9, DIGITS));
    let cases = [
        // Slack bot tokens of the older two-part shape.
        (
            "slack",
            format!(
                "xox{}-{}-{}",
                "b",
                made_up(4, 11, DIGITS),
                made_up(5, 24, ALNUM)
            ),
        ),
        // Slack legacy session tokens.
        (
            "slack",
            format!(
                "xox{}-{}-{}-{}-{}",
                "s",
                made_up(6, 10, DIGITS),
                made_up(7, 10, DIGITS),
                made_up(8, 10, DIGITS),
                made_up(9, 10, HEX)
            ),
        ),
        // Telegram bot tokens, known by their shape without a Telegram name.
        (
            "telegram",
            format!("{bot_id}:{}{}", "AA", made_up(10, 33, ALNUM)),
        ),
        // Adafruit IO keys.
        ("adafruit", format!("{}_{}", "aio", made_up(11, 28, ALNUM))),
        // SettleMint service access tokens.
        (
            "settlemint",
            format!("sm_{}_{}", "sat", made_up(12, 16, ALNUM)),
        ),
        // New Relic browser keys.
        ("newrelic", format!("{}-{}", "NRJS", made_up(13, 19, HEX))),
    ];
    let dir = tempdir();
    for (i, (_, key)) in cases.iter().enumerate() {
        write(
            dir.path(),
            &format!("keys/{i}.txt"),
            format!("value = \"{key}\"\n"),
        );
    }
    let sidekiq = format!("{}:{}", made_up(14, 8, HEX), made_up(15, 8, HEX));
    write(
        dir.path(),
        "keys/Gemfile",
        format!(
            "source \"https://{sidekiq}@gems.contribsys.com/\" do\n  gem \"sidekiq-pro\"\nend\n"
        ),
    );
    let run = scan_json(dir.path(), &["keys"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    for (i, (provider, key)) in cases.iter().enumerate() {
        let path = format!("keys/{i}.txt");
        assert!(
            findings.iter().any(|f| f["path"] == path.as_str()
                && f["provider"] == *provider
                && f["secret"] == key.as_str()),
            "{provider} key {i} not found: {findings:#?}"
        );
    }
    assert!(
        findings.iter().any(|f| f["path"] == "keys/Gemfile"
            && f["provider"] == "sidekiq"
            && f["secret"] == sidekiq.as_str()),
        "{findings:#?}"
    );
}
