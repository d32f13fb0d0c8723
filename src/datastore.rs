//! The audit datastore (`--datastore PATH`): one SQLite file (rusqlite's
//! bundled SQLite, nothing to install) holding the repositories audited,
//! the blobs already scanned under each rule set, and the findings with
//! their provenance.
//!
//! A rescan skips every blob the datastore holds under the same rule-set
//! hash, across repositories (forks share most of their blobs), so the
//! second audit of an organisation reads only what changed; a change of
//! rules (or of an option that changes findings) is a new hash, so
//! everything is scanned again. Shards of one audit write datastores of
//! their own and [`merge`] joins them.
//!
//! Findings are stored as the JSON report writes them **redacted**: the
//! datastore never holds a raw secret (it is a file that gets copied
//! between CI jobs), so findings read back from it cannot be verified
//! again; a run's new findings are verified (with `--verify`) while their
//! raw secrets are in memory, and the verdicts recorded with their time.
//!
//! The schema is versioned with SQLite's `user_version`; an older file is
//! migrated when opened, one written by a newer leakhound is refused.
//!
//! A datastore is data from elsewhere (a restored cache, a shard's
//! artifact), so its schema is not trusted for more than data: before a
//! file is used, its whole schema (`sqlite_master`: every table, index,
//! trigger and view, with its SQL) must be exactly what this build's
//! [`migrate`] writes into an empty database, so a trigger, a view or any
//! other object leakhound did not create is refused, naming it. Files only
//! read (`report`, `merge` inputs) are opened read-only, and every
//! connection runs with `trusted_schema` off and SQLite's defensive mode.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use git2::Oid;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::error::{Error, Result};
use crate::finding::{CommitInfo, Finding, Part, SourceKind};
use crate::rules::Severity;
use crate::text::sanitize;
use crate::wire::ReportFinding;

/// The schema this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// How long a writer waits for another process's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Version 1's schema. Everything the datastore holds is created by
/// [`migrate`] and nowhere else: [`verify_schema`] compares each file with
/// what `migrate` writes into an empty in-memory database, so a table,
/// column or index added there is expected automatically.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS repositories (
    url TEXT PRIMARY KEY,
    web TEXT,
    scanned_at TEXT NOT NULL,
    commits INTEGER NOT NULL DEFAULT 0,
    blobs INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS blobs (
    blob TEXT NOT NULL,
    rules TEXT NOT NULL,
    findings INTEGER NOT NULL,
    PRIMARY KEY (blob, rules)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS findings (
    repository TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    blob TEXT,
    rules TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    path TEXT NOT NULL,
    commit_id TEXT,
    found_at TEXT NOT NULL,
    verdict TEXT,
    verified_at TEXT,
    report TEXT NOT NULL,
    PRIMARY KEY (repository, fingerprint)
);
CREATE INDEX IF NOT EXISTS findings_blob ON findings (blob);
";

/// Create the schema in `conn`, whose schema is at `version` (0: empty),
/// or migrate it, up to [`SCHEMA_VERSION`]. A new file runs every step
/// from version 0, so a migrated file and a new one hold the same schema
/// (the same SQL text) and [`verify_schema`] can compare them exactly.
fn migrate(conn: &Connection, version: i64) -> rusqlite::Result<()> {
    if version < 1 {
        conn.execute_batch(SCHEMA)?;
    }
    // Later versions: one step each here (`if version < 2 { … }`).
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
}

/// One object of a schema: type, name, table and SQL, as `sqlite_master`
/// lists them.
type SchemaObject = (String, String, String, Option<String>);

/// What [`migrate`] writes into an empty database: the only schema a
/// datastore of [`SCHEMA_VERSION`] may hold.
fn expected_schema() -> &'static [SchemaObject] {
    static EXPECTED: std::sync::OnceLock<Vec<SchemaObject>> = std::sync::OnceLock::new();
    EXPECTED.get_or_init(|| {
        let conn = Connection::open_in_memory().expect("an in-memory database opens");
        migrate(&conn, 0).expect("the schema applies to an empty database");
        schema_of(&conn, "main").expect("an in-memory schema reads")
    })
}

/// The schema of the database `db` (`main`, or an attached one).
fn schema_of(conn: &Connection, db: &str) -> rusqlite::Result<Vec<SchemaObject>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT type, name, tbl_name, sql FROM {db}.sqlite_master ORDER BY type, name, tbl_name"
    ))?;
    let rows = stmt.query_map([], |r| {
        let sql: Option<String> = r.get(3)?;
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, sql.as_deref().map(spacing)))
    })?;
    rows.collect()
}

/// SQL with its layout made canonical (runs of white space as one space,
/// none around brackets and commas), so that re-indenting the schema's
/// source text does not make earlier files differ; anything else in the
/// text still counts.
fn spacing(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut space = false;
    for c in sql.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        let tight = |c: char| matches!(c, '(' | ')' | ',');
        if space && !out.is_empty() && !tight(c) && !out.ends_with(tight) {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    out
}

/// The schema of `db` is exactly what [`migrate`] writes, else why not
/// (naming the first object that differs).
fn verify_schema(conn: &Connection, db: &str) -> std::result::Result<(), String> {
    let actual = schema_of(conn, db).map_err(|e| describe(&e))?;
    let expected = expected_schema();
    if actual == expected {
        return Ok(());
    }
    let name = |o: &SchemaObject| {
        let shown: String = sanitize(&o.1).chars().take(80).collect();
        format!("{} `{shown}`", o.0)
    };
    let why = if let Some(extra) = actual
        .iter()
        .find(|o| !expected.iter().any(|e| e.0 == o.0 && e.1 == o.1))
    {
        format!("it holds a {} that leakhound does not create", name(extra))
    } else if let Some(changed) = actual.iter().find(|o| !expected.contains(o)) {
        format!(
            "its {} differs from the one leakhound creates",
            name(changed)
        )
    } else if let Some(missing) = expected.iter().find(|e| !actual.contains(e)) {
        format!("it lacks the {}", name(missing))
    } else {
        "its schema differs from the one leakhound creates".into()
    };
    Err(format!(
        "not a leakhound datastore, or changed by something else: {why}; refusing to use it"
    ))
}

/// Settings every connection runs with: the schema is not trusted to call
/// functions with side effects, and the file cannot be corrupted through
/// SQL (defensive mode).
fn harden(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA,
        false,
    )?;
    Ok(())
}

/// An open datastore.
pub struct Datastore {
    conn: Connection,
    path: PathBuf,
}

/// A repository as the datastore records it.
pub struct RepoRecord<'a> {
    /// The redacted URL.
    pub url: &'a str,
    pub web: Option<&'a str>,
    pub commits: u64,
    pub blobs: u64,
}

/// Which findings [`Datastore::findings`] returns.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only these repositories (their redacted URLs); all when empty.
    pub repositories: Vec<String>,
    /// Only these providers; all when empty.
    pub providers: Vec<String>,
    /// Only these verdicts (`live`, `dead`, `unknown`, or `unverified` for
    /// never checked); all when empty.
    pub verdicts: Vec<String>,
    /// Only findings whose commit date is at or after this (RFC 3339
    /// prefix compared as text: `2024-01-01`).
    pub since: Option<String>,
}

/// What [`merge`] did.
#[derive(Debug, Default)]
pub struct MergeSummary {
    pub repositories: u64,
    pub blobs: u64,
    pub findings: u64,
    /// Inputs that could not be read, with why.
    pub failed: Vec<(PathBuf, String)>,
}

impl Datastore {
    /// Open (creating if needed) the datastore at `path`.
    pub fn open(path: &Path) -> Result<Datastore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(path, format!("cannot create: {e}")))?;
        }
        let conn = Connection::open(path).map_err(|e| fail(path, describe(&e)))?;
        harden(&conn).map_err(|e| fail(path, describe(&e)))?;
        let store = Datastore {
            conn,
            path: path.to_path_buf(),
        };
        store.prepare()?;
        Ok(store)
    }

    /// Open an existing datastore read-only (`report`, `merge` inputs).
    pub fn open_read_only(path: &Path) -> Result<Datastore> {
        if !path.is_file() {
            return Err(Error::NotFound {
                path: path.to_path_buf(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| fail(path, describe(&e)))?;
        harden(&conn).map_err(|e| fail(path, describe(&e)))?;
        let store = Datastore {
            conn,
            path: path.to_path_buf(),
        };
        let version = store.version()?;
        if version != SCHEMA_VERSION {
            return Err(store.version_error(version));
        }
        store.verify()?;
        Ok(store)
    }

    fn fail(&self, e: &rusqlite::Error) -> Error {
        fail(&self.path, describe(e))
    }

    /// The schema version; a file that is not SQLite is an error here.
    fn version(&self) -> Result<i64> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.fail(&e))?;
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.fail(&e))
    }

    /// The file's schema is exactly this build's.
    fn verify(&self) -> Result<()> {
        verify_schema(&self.conn, "main").map_err(|why| fail(&self.path, why))
    }

    fn version_error(&self, version: i64) -> Error {
        if version > SCHEMA_VERSION {
            fail(
                &self.path,
                format!(
                    "written by a newer leakhound (datastore schema {version}; this one reads {SCHEMA_VERSION}); upgrade leakhound"
                ),
            )
        } else {
            fail(
                &self.path,
                format!("not a leakhound datastore (schema version {version})"),
            )
        }
    }

    /// Create or migrate the schema.
    fn prepare(&self) -> Result<()> {
        let version = self.version()?;
        if version > SCHEMA_VERSION {
            return Err(self.version_error(version));
        }
        if version == 0 {
            // A new file, or an SQLite file of someone else's: refuse the
            // latter rather than add tables to it (any object at all: a
            // trigger or view alone is not an empty file either).
            let objects: i64 = self
                .conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| self.fail(&e))?;
            if objects > 0 {
                return Err(self.version_error(0));
            }
        }
        if version == SCHEMA_VERSION {
            // Nothing to write: opening a datastore does not need free space.
            return self.verify();
        }
        // Older versions are migrated in one transaction, then checked like
        // any other file.
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.fail(&e))?;
        migrate(&tx, version).map_err(|e| self.fail(&e))?;
        tx.commit().map_err(|e| self.fail(&e))?;
        self.verify()
    }

    /// Every blob scanned under `rules`, and whether it held findings.
    pub fn seen_blobs(&self, rules: &str) -> Result<HashMap<Oid, bool>> {
        let mut stmt = self
            .conn
            .prepare("SELECT blob, findings FROM blobs WHERE rules = ?1")
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map([rules], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(|e| self.fail(&e))?;
        let mut seen = HashMap::new();
        for row in rows {
            let (blob, n) = row.map_err(|e| self.fail(&e))?;
            if let Ok(oid) = Oid::from_str(&blob) {
                seen.insert(oid, n > 0);
            }
        }
        Ok(seen)
    }

    /// The findings recorded for `blob` in any repository, as stored.
    pub fn findings_of_blob(&self, blob: &Oid) -> Result<Vec<ReportFinding>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT report FROM findings WHERE blob = ?1 ORDER BY repository, fingerprint",
            )
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map([blob.to_string()], |r| r.get::<_, String>(0))
            .map_err(|e| self.fail(&e))?;
        let mut out = Vec::new();
        for row in rows {
            let text = row.map_err(|e| self.fail(&e))?;
            out.push(self.parse_report(&text)?);
        }
        Ok(out)
    }

    fn parse_report(&self, text: &str) -> Result<ReportFinding> {
        serde_json::from_str(text)
            .map_err(|e| fail(&self.path, format!("a stored finding does not parse: {e}")))
    }

    /// Record one repository's scan in one transaction: the repository, the
    /// blobs scanned (with their finding counts) and the findings, each
    /// with the blob it is in. A finding already recorded for the
    /// repository (same fingerprint) keeps its first record.
    pub fn record(
        &mut self,
        repo: &RepoRecord,
        rules: &str,
        scanned: &[Oid],
        findings: &[(&Finding, Option<Oid>)],
    ) -> Result<()> {
        let now = now();
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| fail(&path, describe(&e)))?;
        let f = |e: rusqlite::Error| fail(&path, describe(&e));
        tx.execute(
            "INSERT INTO repositories (url, web, scanned_at, commits, blobs) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (url) DO UPDATE SET web = excluded.web, scanned_at = excluded.scanned_at,
             commits = excluded.commits, blobs = blobs + excluded.blobs",
            params![repo.url, repo.web, now, repo.commits as i64, repo.blobs as i64],
        )
        .map_err(f)?;
        let mut counts: HashMap<Oid, i64> = scanned.iter().map(|b| (*b, 0)).collect();
        for (_, blob) in findings {
            if let Some(n) = blob.and_then(|b| counts.get_mut(&b)) {
                *n += 1;
            }
        }
        {
            let mut insert = tx
                .prepare("INSERT OR IGNORE INTO blobs (blob, rules, findings) VALUES (?1, ?2, ?3)")
                .map_err(f)?;
            for (blob, n) in &counts {
                insert
                    .execute(params![blob.to_string(), rules, n])
                    .map_err(f)?;
            }
            let mut insert = tx
                .prepare(
                    "INSERT OR IGNORE INTO findings (repository, fingerprint, blob, rules, rule_id,
                     provider, path, commit_id, found_at, verdict, verified_at, report)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(f)?;
            for (finding, blob) in findings {
                // Redacted: the datastore never holds a raw secret.
                let report = ReportFinding::new(finding, false);
                let json = serde_json::to_string(&report)
                    .map_err(|e| fail(&path, format!("cannot store a finding: {e}")))?;
                let verdict = finding.verification.as_ref().map(|v| v.verdict.as_str());
                insert
                    .execute(params![
                        repo.url,
                        finding.fingerprint,
                        blob.map(|b| b.to_string()),
                        rules,
                        finding.rule_id,
                        finding.provider,
                        finding.path,
                        finding.commit.as_ref().map(|c| c.id.as_str()),
                        now,
                        verdict,
                        verdict.map(|_| now.as_str()),
                        json,
                    ])
                    .map_err(f)?;
            }
        }
        tx.commit().map_err(f)
    }

    /// Record the verdicts of verified findings (matched by repository and
    /// fingerprint) with the time; returns how many records changed.
    pub fn record_verdicts(&mut self, findings: &[Finding]) -> Result<usize> {
        let now = now();
        let path = self.path.clone();
        let f = |e: rusqlite::Error| fail(&path, describe(&e));
        let tx = self.conn.transaction().map_err(f)?;
        let mut changed = 0;
        for finding in findings {
            let (Some(v), Some(repo)) = (
                &finding.verification,
                finding
                    .commit
                    .as_ref()
                    .and_then(|c| c.repository.as_deref()),
            ) else {
                continue;
            };
            let stored: Option<String> = tx
                .query_row(
                    "SELECT report FROM findings WHERE repository = ?1 AND fingerprint = ?2",
                    params![repo, finding.fingerprint],
                    |r| r.get(0),
                )
                .optional()
                .map_err(f)?;
            let Some(stored) = stored else {
                continue;
            };
            // The stored record keeps its own attribution; only the verdict
            // changes.
            let mut report: ReportFinding = serde_json::from_str(&stored)
                .map_err(|e| fail(&path, format!("a stored finding does not parse: {e}")))?;
            report.verification = Some(v.clone());
            let json = serde_json::to_string(&report)
                .map_err(|e| fail(&path, format!("cannot store a finding: {e}")))?;
            changed += tx
                .execute(
                    "UPDATE findings SET verdict = ?1, verified_at = ?2, report = ?3
                     WHERE repository = ?4 AND fingerprint = ?5",
                    params![v.verdict.as_str(), now, json, repo, finding.fingerprint],
                )
                .map_err(f)?;
        }
        tx.commit().map_err(f)?;
        Ok(changed)
    }

    /// The findings the filter selects, ordered by repository, path, line.
    pub fn findings(&self, filter: &Filter) -> Result<Vec<Finding>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT repository, provider, report FROM findings
                 ORDER BY repository, path, fingerprint",
            )
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.fail(&e))?;
        let mut out = Vec::new();
        for row in rows {
            let (repo, provider, text) = row.map_err(|e| self.fail(&e))?;
            if !filter.repositories.is_empty() && !filter.repositories.contains(&repo) {
                continue;
            }
            if !filter.providers.is_empty() && !filter.providers.contains(&provider) {
                continue;
            }
            let finding = stored_finding(self.parse_report(&text)?);
            let verdict = finding
                .verification
                .as_ref()
                .map_or("unverified", |v| v.verdict.as_str());
            if !filter.verdicts.is_empty() && !filter.verdicts.iter().any(|v| v == verdict) {
                continue;
            }
            if let Some(since) = &filter.since {
                let date = finding.commit.as_ref().map_or("", |c| c.date.as_str());
                if date < since.as_str() {
                    continue;
                }
            }
            out.push(finding);
        }
        Ok(out)
    }

    /// Blobs recorded, under any rule set.
    pub fn blob_count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT count(*) FROM blobs", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.fail(&e))
    }

    /// The repositories recorded.
    pub fn repositories(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT url FROM repositories ORDER BY url")
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.fail(&e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.fail(&e))
    }

    /// When the repository was last recorded, if ever.
    pub fn scanned_at(&self, url: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT scanned_at FROM repositories WHERE url = ?1",
                [url],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.fail(&e))
    }
}

/// Join the datastores `inputs` into `output` (created, or added to): every
/// repository, blob and finding, the first record of each kept. An input
/// that cannot be read is named in the summary and the rest are merged.
pub fn merge(inputs: &[PathBuf], output: &Path) -> Result<MergeSummary> {
    let mut out = Datastore::open(output)?;
    let mut summary = MergeSummary::default();
    for input in inputs {
        if same_file(input, output) {
            summary
                .failed
                .push((input.clone(), "is the output; skipped".into()));
            continue;
        }
        if let Err(e) = Datastore::open_read_only(input) {
            summary.failed.push((input.clone(), strip_path(&e, input)));
            continue;
        }
        match merge_one(&mut out, input) {
            Ok((r, b, f)) => {
                summary.repositories += r;
                summary.blobs += b;
                summary.findings += f;
            }
            Err(e) => summary.failed.push((input.clone(), e)),
        }
    }
    Ok(summary)
}

fn merge_one(out: &mut Datastore, input: &Path) -> std::result::Result<(u64, u64, u64), String> {
    // Read-only, and checked again once attached: the file may have
    // changed since it was opened for the check.
    out.conn
        .execute("ATTACH DATABASE ?1 AS src", [read_only_uri(input)])
        .map_err(|e| describe(&e))?;
    if let Err(why) = verify_schema(&out.conn, "src") {
        let _ = out.conn.execute("DETACH DATABASE src", []);
        return Err(why);
    }
    let result = (|| {
        let tx = out.conn.transaction()?;
        let r = tx.execute(
            "INSERT INTO main.repositories SELECT * FROM src.repositories WHERE true
             ON CONFLICT (url) DO UPDATE SET scanned_at = max(scanned_at, excluded.scanned_at)",
            [],
        )?;
        let b = tx.execute(
            "INSERT OR IGNORE INTO main.blobs SELECT * FROM src.blobs",
            [],
        )?;
        let f = tx.execute(
            "INSERT OR IGNORE INTO main.findings SELECT * FROM src.findings",
            [],
        )?;
        tx.commit()?;
        Ok::<_, rusqlite::Error>((r as u64, b as u64, f as u64))
    })()
    .map_err(|e| describe(&e));
    let detached = out.conn.execute("DETACH DATABASE src", []);
    let counts = result?;
    detached.map_err(|e| describe(&e))?;
    Ok(counts)
}

/// An SQLite URI that opens `path` read-only (for `ATTACH`).
fn read_only_uri(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    // `file:///abs` (an empty authority) or `file:relative`.
    let mut uri = String::from(if path.is_absolute() {
        "file://"
    } else {
        "file:"
    });
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro");
    uri
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The message of an error about `path`, without the path.
fn strip_path(e: &Error, path: &Path) -> String {
    let text = e.to_string();
    let prefix = format!("{}: ", path.display());
    text.strip_prefix(&prefix).unwrap_or(&text).to_string()
}

fn fail(path: &Path, message: String) -> Error {
    Error::Datastore {
        path: path.to_path_buf(),
        message,
    }
}

/// SQLite's error in words a user can act on.
fn describe(e: &rusqlite::Error) -> String {
    use rusqlite::ffi::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            "not a leakhound datastore (not an SQLite database, or corrupt)".into()
        }
        Some(ErrorCode::DatabaseCorrupt) => "the datastore is corrupt".into(),
        Some(ErrorCode::DiskFull) => "the disk is full; the datastore was not updated".into(),
        Some(ErrorCode::ReadOnly) => "the datastore is read-only".into(),
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            "the datastore is locked by another process".into()
        }
        Some(ErrorCode::CannotOpen) => "cannot open the datastore".into(),
        _ => e.to_string(),
    }
}

fn now() -> String {
    let t = jiff::Timestamp::now();
    jiff::Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

/// A stored finding read back. Its secret is the redacted form (both
/// `secret` and `redacted`), so nothing can show or send a raw key.
pub fn stored_finding(f: ReportFinding) -> Finding {
    let encoding = match f.encoding.as_deref() {
        Some("base64") => Some("base64"),
        Some("percent") => Some("percent"),
        _ => None,
    };
    let parts = f
        .parts
        .into_iter()
        .map(|p| Part {
            rule_id: p.rule_id,
            redacted: p.secret.clone(),
            secret: p.secret,
            line: p.line,
            column: p.column,
        })
        .collect();
    let commit: Option<CommitInfo> = f.commit;
    Finding {
        rule_id: f.rule_id,
        description: f.description,
        provider: f.provider,
        severity: f.severity.unwrap_or(Severity::High),
        path: f.path,
        line: f.line,
        column: f.column,
        end_line: f.end_line,
        end_column: f.end_column,
        redacted: f.secret.clone(),
        secret: f.secret,
        fingerprint: f.fingerprint,
        source: f.source.unwrap_or(SourceKind::Git),
        commit,
        verification: f.verification,
        encoding,
        ambiguous: f.ambiguous,
        alternatives: f.alternatives,
        generic: f.generic,
        parts,
        by_context: false,
        evidence: f.evidence,
        snippet: f.snippet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        drop(Datastore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = Datastore::open(&path).err().unwrap().to_string();
        assert!(err.contains("newer leakhound"), "{err}");
        let err = Datastore::open_read_only(&path).err().unwrap().to_string();
        assert!(err.contains("newer leakhound"), "{err}");
    }

    #[test]
    fn only_the_schema_leakhound_writes_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        drop(Datastore::open(&path).unwrap());
        // Reopened, read-only or not: the schema is exactly the expected.
        drop(Datastore::open(&path).unwrap());
        drop(Datastore::open_read_only(&path).unwrap());
        for (add, named) in [
            (
                "CREATE TRIGGER t AFTER INSERT ON blobs BEGIN SELECT 1; END",
                "trigger `t`",
            ),
            ("CREATE VIEW v AS SELECT 1", "view `v`"),
            ("CREATE TABLE extra (x)", "table `extra`"),
        ] {
            let other = dir.path().join("b.db");
            std::fs::copy(&path, &other).unwrap();
            Connection::open(&other)
                .unwrap()
                .execute_batch(add)
                .unwrap();
            for err in [
                Datastore::open(&other).err().unwrap().to_string(),
                Datastore::open_read_only(&other).err().unwrap().to_string(),
            ] {
                assert!(err.contains(named), "{add}: {err}");
                assert!(err.contains("b.db"), "{err}");
            }
            std::fs::remove_file(&other).unwrap();
        }
        // A view or trigger alone in a file of version 0 is not empty.
        let other = dir.path().join("c.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE VIEW v AS SELECT 1")
            .unwrap();
        let err = Datastore::open(&other).err().unwrap().to_string();
        assert!(err.contains("not a leakhound datastore"), "{err}");
    }

    #[test]
    fn the_schema_compares_without_its_layout() {
        assert_eq!(
            spacing("CREATE TABLE t (\n    a TEXT NOT NULL,\n    b  INTEGER\n)"),
            "CREATE TABLE t(a TEXT NOT NULL,b INTEGER)"
        );
        assert_eq!(
            spacing("CREATE TABLE t(a TEXT NOT NULL, b INTEGER)"),
            spacing("CREATE TABLE t (a TEXT NOT NULL,\n\tb INTEGER )")
        );
        assert_ne!(spacing("a TEXT"), spacing("aTEXT"));
    }

    #[test]
    fn read_only_uris_escape_what_sqlite_would_read_as_syntax() {
        let uri = read_only_uri(Path::new("/no/such dir/a?b#c%d.db"));
        assert_eq!(uri, "file:///no/such%20dir/a%3Fb%23c%25d.db?mode=ro");
    }

    #[test]
    fn a_file_that_is_not_a_datastore_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let err = Datastore::open(&path).err().unwrap().to_string();
        assert!(err.contains("not a leakhound datastore"), "{err}");
        let other = dir.path().join("b.db");
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE t (x)").unwrap();
        drop(conn);
        let err = Datastore::open(&other).err().unwrap().to_string();
        assert!(err.contains("not a leakhound datastore"), "{err}");
    }
}
