//! Where keys may go, and where they went: the allow-list of hosts a run
//! may contact (`[verify] allow_hosts`, `--verify-allow-host`), shared by
//! verification and revocation, and the tally of requests per host that
//! the summary and the JSON report show.
//!
//! The allow-list is matched against the host a request is actually sent
//! to (after any `[providers.NAME]` override), so it is the last word on
//! egress whatever the specs or the configuration say. A host outside it
//! gets nothing: the check is `unknown (egress-denied)` before any
//! connection is made.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::Url;

/// The hosts a run may contact: exact names (`api.github.com`) or `*.`
/// patterns (`*.newrelic.com`: any name below `newrelic.com`, not the
/// name itself). Empty means every host a spec declares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowHosts {
    entries: Vec<String>,
}

impl AllowHosts {
    /// Parse the entries, lowercased; a bad entry is named in the error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> std::result::Result<AllowHosts, String> {
        let mut out = Vec::new();
        for e in entries {
            let raw = e.as_ref().trim();
            let lower = raw.to_ascii_lowercase();
            let name = lower.strip_prefix("*.").unwrap_or(&lower);
            let ipv6 = name.parse::<std::net::Ipv6Addr>().is_ok() && name.len() == lower.len();
            let ok = ipv6
                || !name.is_empty()
                    && name.len() <= 253
                    && !name.starts_with(['.', '-'])
                    && !name.ends_with('.')
                    && !name.contains("..")
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !ok {
                return Err(format!(
                    "allowed host `{raw}` is not a host name or a `*.` pattern (`api.github.com`, `*.newrelic.com`)"
                ));
            }
            out.push(lower);
        }
        Ok(AllowHosts { entries: out })
    }

    /// No restriction set.
    pub fn is_open(&self) -> bool {
        self.entries.is_empty()
    }

    /// May a request go to `host` (a host name or IP literal, no port)?
    pub fn allows(&self, host: &str) -> bool {
        if self.entries.is_empty() {
            return true;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        self.entries.iter().any(|e| match e.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            None => *e == host,
        })
    }

    /// May a request go to `url`'s host?
    pub fn allows_url(&self, url: &Url) -> bool {
        url.host_str().is_some_and(|h| self.allows(h))
    }

    /// The entries, for messages.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }
}

/// How a contacted host is named in the tally: the host, and the port when
/// it is not the scheme's default (`127.0.0.1:8080`).
pub fn host_label(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// Requests sent per host, shared by a run's workers.
#[derive(Debug, Default)]
pub struct Tally {
    hosts: Mutex<BTreeMap<String, usize>>,
}

impl Tally {
    /// Count one request to `url` (counted when sent, not when answered).
    pub fn record(&self, url: &Url) {
        let mut hosts = self.hosts.lock().expect("no code panics holding the lock");
        *hosts.entry(host_label(url)).or_default() += 1;
    }

    /// The counts so far.
    pub fn snapshot(&self) -> BTreeMap<String, usize> {
        self.hosts
            .lock()
            .expect("no code panics holding the lock")
            .clone()
    }
}

/// One line of the egress manifest (`leakhound rules hosts`): a rule
/// whose keys can be verified, and every host its keys may be sent to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HostsRow {
    pub rule: String,
    pub provider: String,
    /// The verification check's hosts (`{partner}` where the other half
    /// of a paired credential goes).
    pub verify: Vec<String>,
    /// The revocation endpoint's host, if the provider has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke: Option<String>,
}

/// Every verifiable rule of `set` with the hosts its keys may be sent to,
/// with the `[providers.NAME]` overrides of `providers` applied (a
/// configured base URL replaces the declared hosts), in rule order.
pub fn manifest(
    set: &crate::rules::RuleSet,
    providers: &BTreeMap<String, super::Settings>,
) -> crate::error::Result<Vec<HostsRow>> {
    let mut checks = Vec::new();
    for (origin, spec) in super::builtin_providers()? {
        let settings = providers.get(&spec.id);
        let none = BTreeMap::new();
        let check = super::Check::configured(
            &spec,
            settings.and_then(|s| s.base_url.as_deref()),
            settings.map_or(&none, |s| &s.hosts),
            origin,
        )?;
        let base = settings
            .and_then(|s| s.base_url.as_deref())
            .unwrap_or(&spec.base_url);
        let revoke = match super::revoke::Revocation::new(
            &spec.id,
            &spec.name,
            base,
            spec.revoke.as_ref(),
            settings.and_then(|s| s.revoke.as_ref()),
            origin,
        ) {
            Ok(r) if spec.revoke.is_some() || settings.is_some_and(|s| s.revoke.is_some()) => {
                Url::parse(&r.url_for(&["k"])).ok().map(|u| host_label(&u))
            }
            _ => None,
        };
        checks.push((check, revoke));
    }
    let mut rows = Vec::new();
    for r in set.rules() {
        let samples: Vec<&str> = r
            .spec
            .examples
            .iter()
            .map(|e| e.secret.as_ref())
            .chain(r.spec.keywords.iter().map(|k| k.as_ref()))
            .collect();
        if let Some((check, revoke)) = checks
            .iter()
            .find(|(c, _)| c.provider == r.provider() && c.may_judge_rule(r.id(), &samples))
        {
            rows.push(HostsRow {
                rule: r.id().to_string(),
                provider: check.provider.clone(),
                verify: check.hosts(),
                revoke: revoke.clone(),
            });
        }
    }
    Ok(rows)
}

/// The manifest as text, one rule a line: `rule  provider  host, host
/// [revoke: host]`.
pub fn write_manifest(out: &mut dyn std::io::Write, rows: &[HostsRow]) -> std::io::Result<()> {
    let width = rows.iter().map(|r| r.rule.len()).max().unwrap_or(0);
    for r in rows {
        write!(
            out,
            "{:width$}  {:14}  {}",
            r.rule,
            r.provider,
            r.verify.join(", ")
        )?;
        if let Some(h) = &r.revoke {
            write!(out, "  [revoke: {h}]")?;
        }
        writeln!(out)?;
    }
    let mut hosts: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.verify.iter().chain(r.revoke.iter()))
        .map(String::as_str)
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    writeln!(
        out,
        "{} verifiable rules; {} hosts may be contacted",
        rows.len(),
        hosts.len()
    )
}

/// The manifest as the Markdown table of docs/verify.md: one row per
/// provider (its rules together), sorted by provider.
pub fn markdown_manifest(rows: &[HostsRow]) -> String {
    let mut by_provider: BTreeMap<&str, (Vec<&str>, &HostsRow)> = BTreeMap::new();
    for r in rows {
        by_provider
            .entry(r.provider.as_str())
            .or_insert_with(|| (Vec::new(), r))
            .0
            .push(r.rule.as_str());
    }
    let mut out = String::from(
        "| provider | rules | verification hosts | revocation host |\n|---|---|---|---|\n",
    );
    for (provider, (rules, row)) in &by_provider {
        let rules: Vec<String> = rules.iter().map(|r| format!("`{r}`")).collect();
        let hosts: Vec<String> = row.verify.iter().map(|h| format!("`{h}`")).collect();
        out.push_str(&format!(
            "| {provider} | {} | {} | {} |\n",
            rules.join(", "),
            hosts.join(", "),
            row.revoke
                .as_deref()
                .map_or("-".to_string(), |h| format!("`{h}`"))
        ));
    }
    out.push_str(&format!(
        "\n{} providers, {} verifiable rules.\n",
        by_provider.len(),
        rows.len()
    ));
    out
}

/// Markers around the generated host table in docs/verify.md.
pub const BEGIN: &str =
    "<!-- egress-hosts:begin (generated from rules/*.toml and rules/providers/*.toml; do not edit) -->";
pub const END: &str = "<!-- egress-hosts:end -->";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_hosts_and_star_patterns() {
        let a = AllowHosts::parse(&["api.github.com", "*.newrelic.com", "127.0.0.1"]).unwrap();
        assert!(a.allows("api.github.com"));
        assert!(a.allows("API.GitHub.com"));
        assert!(!a.allows("github.com"));
        assert!(!a.allows("api.github.com.evil.test"));
        assert!(a.allows("api.eu.newrelic.com"));
        assert!(a.allows("api.newrelic.com"));
        assert!(!a.allows("newrelic.com"));
        assert!(!a.allows("evilnewrelic.com"));
        assert!(a.allows("127.0.0.1"));
        assert!(!a.allows("localhost"));
        assert!(AllowHosts::default().allows("anything.test"));
        assert!(AllowHosts::parse(&["::1"]).unwrap().allows("[::1]"));
        for bad in [
            "",
            "*.",
            "a..b",
            "https://x.test",
            "x.test/path",
            "*x.test",
            ".x.test",
            "x.test:8080",
        ] {
            assert!(AllowHosts::parse(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_tally_counts_per_host_and_port() {
        let t = Tally::default();
        t.record(&Url::parse("https://api.github.com/user").unwrap());
        t.record(&Url::parse("https://api.github.com/x").unwrap());
        t.record(&Url::parse("http://127.0.0.1:8080/v1").unwrap());
        let s = t.snapshot();
        assert_eq!(s["api.github.com"], 2);
        assert_eq!(s["127.0.0.1:8080"], 1);
    }

    /// docs/verify.md holds exactly the host table the specs and rules
    /// generate (`LEAKHOUND_BLESS=1 cargo test --lib provider::egress`
    /// rewrites it).
    #[test]
    fn docs_host_table_matches_the_specs() {
        let _file = super::super::docs::DOCS_FILE
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let set = crate::rules::RuleSet::new(crate::rules::builtin_rules().unwrap()).unwrap();
        let rows = manifest(&set, &BTreeMap::new()).unwrap();
        // Multi-host providers list every host.
        let nr = rows.iter().find(|r| r.provider == "newrelic").unwrap();
        assert!(
            nr.verify.contains(&"api.eu.newrelic.com".to_string()),
            "{nr:?}"
        );
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/verify.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
            panic!("docs/verify.md lacks the {BEGIN} / {END} markers");
        };
        let current = &doc[b + BEGIN.len()..e];
        let table = format!("\n{}", markdown_manifest(&rows));
        if current != table {
            if std::env::var_os("LEAKHOUND_BLESS").is_some() {
                let updated = format!("{}{BEGIN}{table}{}", &doc[..b], &doc[e..]);
                std::fs::write(path, updated).unwrap();
            } else {
                panic!(
                    "docs/verify.md's host table is stale: \
                     run LEAKHOUND_BLESS=1 cargo test --lib provider::egress"
                );
            }
        }
    }
}
