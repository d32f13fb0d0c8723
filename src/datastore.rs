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
use crate::exposure::{may_close, Exposure, Key, Lifecycle, Secret, Span, Status, VerdictAt};
use crate::finding::{CommitInfo, Finding, Part, SourceKind, Verdict};
use crate::rules::Severity;
use crate::text::sanitize;
use crate::wire::ReportFinding;

/// The schema this build writes.
pub const SCHEMA_VERSION: i64 = 2;

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

/// The environment variable that gives a datastore's exposure key.
pub const EXPOSURE_KEY_VAR: &str = "LEAKHOUND_EXPOSURE_KEY";

/// Exposure (schema 2; `exposure`): secrets by keyed-hash id, each
/// repository's view of where the key lives, the blobs and spans to read
/// it back from (never the key itself), its verdicts over time and its
/// closure. The HMAC key stays in this file and in no report.
const EXPOSURE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS exposure_key (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    redacted TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    closed_at TEXT,
    closed_reason TEXT,
    revocation TEXT,
    unreadable TEXT
);
CREATE TABLE IF NOT EXISTS secret_repositories (
    secret TEXT NOT NULL,
    repository TEXT NOT NULL,
    exposure TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (secret, repository)
);
CREATE TABLE IF NOT EXISTS secret_blobs (
    secret TEXT NOT NULL,
    blob TEXT NOT NULL,
    PRIMARY KEY (secret, blob)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS secret_blobs_blob ON secret_blobs (blob);
CREATE TABLE IF NOT EXISTS secret_spans (
    secret TEXT NOT NULL,
    repository TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    blob TEXT NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    chars INTEGER NOT NULL,
    PRIMARY KEY (secret, repository, fingerprint)
);
CREATE TABLE IF NOT EXISTS secret_verdicts (
    secret TEXT NOT NULL,
    at TEXT NOT NULL,
    verdict TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS secret_closures (
    secret TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT NOT NULL,
    how TEXT NOT NULL
);
";

/// Create the schema in `conn`, whose schema is at `version` (0: empty),
/// or migrate it, up to [`SCHEMA_VERSION`]. A new file runs every step
/// from version 0, so a migrated file and a new one hold the same schema
/// (the same SQL text) and [`verify_schema`] can compare them exactly.
fn migrate(conn: &Connection, version: i64) -> rusqlite::Result<()> {
    if version < 1 {
        conn.execute_batch(SCHEMA)?;
    }
    // 1 -> 2: the exposure tables.
    if version < 2 {
        conn.execute_batch(EXPOSURE_SCHEMA)?;
    }
    // Later versions: one step each here.
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
    /// Secrets (exposure) the output did not have.
    pub secrets: u64,
    /// Inputs whose secrets were left out, with why (merged otherwise).
    pub notes: Vec<(PathBuf, String)>,
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
        if (1..SCHEMA_VERSION).contains(&version) {
            return fail(
                &self.path,
                format!(
                    "written by an older leakhound (datastore schema {version}; this one reads \
                     {SCHEMA_VERSION}); an audit with it (`scan --datastore`) upgrades it"
                ),
            );
        }
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

/// Exposure: the secrets, where they live, their verdicts and closure
/// (`exposure` owns the rules; this is their storage).
impl Datastore {
    /// The key this datastore names secrets with, made on first use: the
    /// one `LEAKHOUND_EXPOSURE_KEY` gives (64 hex digits; shards that share
    /// it can be merged with their secrets), or a random one. A datastore
    /// that already has another key than the variable's is an error: its
    /// ids would not match the other shards'.
    pub fn exposure_key(&mut self) -> Result<Key> {
        let given = match std::env::var(EXPOSURE_KEY_VAR) {
            Ok(text) if !text.trim().is_empty() => Some(Key::from_hex(&text).ok_or_else(|| {
                Error::Usage(format!(
                    "{EXPOSURE_KEY_VAR} is not 64 hex digits (make one with `openssl rand -hex 32`)"
                ))
            })?),
            _ => None,
        };
        if let Some(key) = self.stored_exposure_key()? {
            if given
                .as_ref()
                .is_some_and(|g| g.as_bytes() != key.as_bytes())
            {
                return Err(fail(
                    &self.path,
                    format!(
                        "names its secrets with another key than {EXPOSURE_KEY_VAR}; \
                         unset it, or start a new datastore with it"
                    ),
                ));
            }
            return Ok(key);
        }
        let key = given.unwrap_or_else(Key::random);
        self.conn
            .execute(
                "INSERT OR IGNORE INTO exposure_key (one, key) VALUES (1, ?1)",
                [key.as_bytes()],
            )
            .map_err(|e| self.fail(&e))?;
        // Another process may have written one first.
        self.stored_exposure_key()?
            .ok_or_else(|| fail(&self.path, "the exposure key was not stored".into()))
    }

    fn stored_exposure_key(&self) -> Result<Option<Key>> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT key FROM exposure_key WHERE one = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.fail(&e))?;
        match bytes {
            None => Ok(None),
            Some(b) => Key::from_bytes(&b)
                .map(Some)
                .ok_or_else(|| fail(&self.path, "the exposure key is damaged".into())),
        }
    }

    /// Open an existing datastore to change it (`datastore close`): a
    /// path that names no file is an error, not a new datastore.
    pub fn open_existing(path: &Path) -> Result<Datastore> {
        if !path.is_file() {
            return Err(Error::NotFound {
                path: path.to_path_buf(),
            });
        }
        Datastore::open(path)
    }

    /// The full id of the secret `prefix` names (7 characters or more).
    pub fn resolve_secret(&self, prefix: &str) -> Result<String> {
        let prefix = prefix.trim().to_ascii_lowercase();
        if prefix.len() < 7 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail(
                &self.path,
                format!(
                    "`{}` is not a secret id (7 or more hex digits, as reports show it)",
                    crate::text::sanitize(&prefix)
                ),
            ));
        }
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM secrets WHERE substr(id, 1, ?2) = ?1 LIMIT 2")
            .map_err(|e| self.fail(&e))?;
        let ids: Vec<String> = stmt
            .query_map(params![prefix, prefix.len() as i64], |r| r.get(0))
            .map_err(|e| self.fail(&e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.fail(&e))?;
        match ids.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(fail(&self.path, format!("no secret with id {prefix}"))),
            _ => Err(fail(
                &self.path,
                format!("more than one secret's id starts with {prefix}: give more of it"),
            )),
        }
    }

    /// Every blob known to hold a secret, with the secrets' ids.
    pub fn secret_blobs(&self) -> Result<HashMap<Oid, Vec<String>>> {
        let mut stmt = self
            .conn
            .prepare("SELECT blob, secret FROM secret_blobs")
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.fail(&e))?;
        let mut out: HashMap<Oid, Vec<String>> = HashMap::new();
        for row in rows {
            let (blob, secret) = row.map_err(|e| self.fail(&e))?;
            if let Ok(oid) = Oid::from_str(&blob) {
                out.entry(oid).or_default().push(secret);
            }
        }
        Ok(out)
    }

    /// Record one repository's view of its secrets: each secret (first
    /// seen now, if new), where it lives there, its blobs and the spans to
    /// read it back from. A secret recorded for the repository before and
    /// not seen now is no longer reachable there.
    pub fn record_exposure(
        &mut self,
        repository: &str,
        secrets: &[Secret],
        spans: &[Span],
    ) -> Result<()> {
        let now = now();
        let path = self.path.clone();
        let f = |e: rusqlite::Error| fail(&path, describe(&e));
        let tx = self.conn.transaction().map_err(f)?;
        let seen: std::collections::HashSet<&str> = secrets.iter().map(|s| s.id.as_str()).collect();
        let before: Vec<(String, String)> = {
            let mut stmt = tx
                .prepare("SELECT secret, detail FROM secret_repositories WHERE repository = ?1")
                .map_err(f)?;
            let rows = stmt
                .query_map([repository], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(f)?;
            rows.collect::<rusqlite::Result<_>>().map_err(f)?
        };
        // The findings that named a secret before still name it when this
        // audit saw it only in blobs scanned earlier (no finding of its own).
        let mut named: HashMap<String, Vec<String>> = HashMap::new();
        for (id, detail) in before {
            if seen.contains(id.as_str()) {
                if let Ok(old) = serde_json::from_str::<Secret>(&detail) {
                    named.insert(id, old.findings);
                }
                continue;
            }
            let Ok(mut gone) = serde_json::from_str::<Secret>(&detail) else {
                continue;
            };
            gone.exposure = Exposure::Unreachable;
            gone.refs.clear();
            gone.branches.clear();
            let detail = serde_json::to_string(&gone)
                .map_err(|e| fail(&path, format!("cannot store a secret: {e}")))?;
            tx.execute(
                "UPDATE secret_repositories SET exposure = ?1, seen_at = ?2, detail = ?3
                 WHERE secret = ?4 AND repository = ?5",
                params![Exposure::Unreachable.as_str(), now, detail, id, repository],
            )
            .map_err(f)?;
        }
        for s in secrets {
            tx.execute(
                "INSERT INTO secrets (id, rule_id, provider, redacted, first_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET
                   rule_id = CASE WHEN rule_id = '' THEN excluded.rule_id ELSE rule_id END,
                   provider = CASE WHEN provider = '' THEN excluded.provider ELSE provider END,
                   redacted = CASE WHEN redacted = '' THEN excluded.redacted ELSE redacted END",
                params![s.id, s.rule_id, s.provider, s.secret, now],
            )
            .map_err(f)?;
            let mut stored = s.clone();
            if let Some(old) = named.remove(&s.id) {
                stored.findings.extend(old);
                stored.findings.sort();
                stored.findings.dedup();
            }
            stored.lifecycle = Default::default();
            stored.verdict = None;
            stored.deleted_but_live = false;
            let detail = serde_json::to_string(&stored)
                .map_err(|e| fail(&path, format!("cannot store a secret: {e}")))?;
            tx.execute(
                "INSERT INTO secret_repositories (secret, repository, exposure, seen_at, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (secret, repository) DO UPDATE SET exposure = excluded.exposure,
                   seen_at = excluded.seen_at, detail = excluded.detail",
                params![s.id, repository, s.exposure.as_str(), now, detail],
            )
            .map_err(f)?;
            for b in &s.blob_ids {
                tx.execute(
                    "INSERT OR IGNORE INTO secret_blobs (secret, blob) VALUES (?1, ?2)",
                    params![s.id, b.to_string()],
                )
                .map_err(f)?;
            }
        }
        for span in spans {
            tx.execute(
                "INSERT OR REPLACE INTO secret_spans
                 (secret, repository, fingerprint, blob, line, col, chars)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    span.secret,
                    span.repository,
                    span.fingerprint,
                    span.blob.to_string(),
                    span.line as i64,
                    span.column as i64,
                    span.chars as i64
                ],
            )
            .map_err(f)?;
        }
        tx.commit().map_err(f)
    }

    /// The spans of a repository's open secrets, to read them back.
    pub fn open_spans(&self, repository: &str) -> Result<Vec<Span>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT p.secret, p.fingerprint, p.blob, p.line, p.col, p.chars
                 FROM secret_spans p JOIN secrets s ON s.id = p.secret
                 WHERE p.repository = ?1 AND s.closed_at IS NULL
                 ORDER BY p.secret, p.fingerprint",
            )
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map([repository], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .map_err(|e| self.fail(&e))?;
        let mut out = Vec::new();
        for row in rows {
            let (secret, fingerprint, blob, line, column, chars) =
                row.map_err(|e| self.fail(&e))?;
            let Ok(blob) = Oid::from_str(&blob) else {
                continue;
            };
            out.push(Span {
                secret,
                repository: repository.to_string(),
                fingerprint,
                blob,
                line: line as usize,
                column: column as usize,
                chars: chars as usize,
            });
        }
        Ok(out)
    }

    /// The stored finding of `repository` with `fingerprint`, if any.
    pub fn finding(&self, repository: &str, fingerprint: &str) -> Result<Option<Finding>> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT report FROM findings WHERE repository = ?1 AND fingerprint = ?2",
                params![repository, fingerprint],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.fail(&e))?;
        text.map(|t| self.parse_report(&t).map(stored_finding))
            .transpose()
    }

    /// Record a secret's verification outcome with the time.
    pub fn record_secret_verdict(&mut self, id: &str, verdict: &VerdictAt) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO secret_verdicts (secret, at, verdict, detail) VALUES (?1, ?2, ?3, ?4)",
                params![id, verdict.at, verdict.verdict.as_str(), verdict.detail],
            )
            .map(|_| ())
            .map_err(|e| self.fail(&e))
    }

    /// Say why a secret could not be read back (`None`: it was).
    pub fn record_unreadable(&mut self, id: &str, reason: Option<&str>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE secrets SET unreadable = ?1 WHERE id = ?2",
                params![reason, id],
            )
            .map(|_| ())
            .map_err(|e| self.fail(&e))
    }

    /// Link the revocation of the finding with `fingerprint` (its
    /// audit-log entry, `FILE:LINE`) to its secret; returns the secret's id.
    pub fn record_revocation(&mut self, fingerprint: &str, entry: &str) -> Result<Option<String>> {
        let id: Option<String> = self
            .conn
            .query_row(
                "SELECT secret FROM secret_spans WHERE fingerprint = ?1",
                [fingerprint],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.fail(&e))?;
        if let Some(id) = &id {
            self.conn
                .execute(
                    "UPDATE secrets SET revocation = ?1 WHERE id = ?2",
                    params![entry, id],
                )
                .map_err(|e| self.fail(&e))?;
        }
        Ok(id)
    }

    /// Close a secret, recorded with the time, the reason and how
    /// (`manual`, `automatic`). Closing a closed secret changes nothing;
    /// an unknown id is an error.
    pub fn close_secret(&mut self, id: &str, reason: &str, how: &str) -> Result<bool> {
        let now = now();
        let exists: Option<Option<String>> = self
            .conn
            .query_row("SELECT closed_at FROM secrets WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.fail(&e))?;
        match exists {
            None => Err(fail(&self.path, format!("no secret with id {id}"))),
            Some(Some(_)) => Ok(false),
            Some(None) => {
                let path = self.path.clone();
                let f = |e: rusqlite::Error| fail(&path, describe(&e));
                let tx = self.conn.transaction().map_err(f)?;
                tx.execute(
                    "UPDATE secrets SET closed_at = ?1, closed_reason = ?2 WHERE id = ?3",
                    params![now, reason, id],
                )
                .map_err(f)?;
                tx.execute(
                    "INSERT INTO secret_closures (secret, at, reason, how) VALUES (?1, ?2, ?3, ?4)",
                    params![id, now, reason, how],
                )
                .map_err(f)?;
                tx.commit().map_err(f)?;
                Ok(true)
            }
        }
    }

    /// The secrets of `repositories` (all when empty), each merged over
    /// them, with its lifecycle; open ones only with `open_only`. Worst
    /// first.
    pub fn secrets(&self, repositories: &[String], open_only: bool) -> Result<Vec<Secret>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT s.id, s.first_seen, s.closed_at, s.closed_reason, s.revocation,
                        s.unreadable, r.repository, r.detail, s.rule_id, s.provider, s.redacted
                 FROM secrets s JOIN secret_repositories r ON r.secret = s.id
                 ORDER BY s.id, r.repository",
            )
            .map_err(|e| self.fail(&e))?;
        type Row = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            String,
            (String, String, String),
        );
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    (r.get(8)?, r.get(9)?, r.get(10)?),
                ))
            })
            .map_err(|e| self.fail(&e))?;
        let mut merged: Vec<Secret> = Vec::new();
        for row in rows {
            let (
                id,
                first_seen,
                closed_at,
                closed_reason,
                revocation,
                unreadable,
                repo,
                detail,
                names,
            ): Row = row.map_err(|e| self.fail(&e))?;
            if !repositories.is_empty() && !repositories.contains(&repo) {
                continue;
            }
            if open_only && closed_at.is_some() {
                continue;
            }
            let mut s: Secret = serde_json::from_str(&detail)
                .map_err(|e| fail(&self.path, format!("a stored secret does not parse: {e}")))?;
            // A repository that saw the key only in blobs an earlier audit
            // scanned has no finding of its own to name it by.
            (s.rule_id, s.provider, s.secret) = names;
            s.lifecycle = Lifecycle {
                status: Some(if closed_at.is_some() {
                    Status::Closed
                } else {
                    Status::Open
                }),
                first_seen: Some(first_seen),
                closed_at,
                closed_reason,
                verdicts: self.secret_verdicts(&id)?,
                revocation,
                unreadable,
            };
            s.verdict = s.lifecycle.verdicts.last().map(|v| v.verdict);
            s.deleted_but_live = s.verdict == Some(Verdict::Live)
                && s.branches.iter().any(|b| b.removed_by.is_some());
            crate::exposure::merge(&mut merged, vec![s]);
        }
        crate::exposure::sort(&mut merged);
        Ok(merged)
    }

    fn secret_verdicts(&self, id: &str) -> Result<Vec<VerdictAt>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at, verdict, detail FROM secret_verdicts WHERE secret = ?1 ORDER BY at, rowid",
            )
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.fail(&e))?;
        let mut out = Vec::new();
        for row in rows {
            let (at, verdict, detail) = row.map_err(|e| self.fail(&e))?;
            let verdict = match verdict.as_str() {
                "live" => Verdict::Live,
                "dead" => Verdict::Dead,
                _ => Verdict::Unknown,
            };
            out.push(VerdictAt {
                at,
                verdict,
                detail,
            });
        }
        Ok(out)
    }

    /// Close every open secret that may be closed now: dead (its latest
    /// verdict, or revoked) and reached by no branch or tag in any
    /// repository. Returns the ids closed.
    pub fn close_settled(&mut self) -> Result<Vec<String>> {
        let mut closed = Vec::new();
        for s in self.secrets(&[], true)? {
            if may_close(&s, s.lifecycle.revocation.is_some())
                && self.close_secret(
                    &s.id,
                    "dead and no longer reachable from any branch or tag",
                    "automatic",
                )?
            {
                closed.push(s.id);
            }
        }
        Ok(closed)
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
            Ok(one) => {
                summary.repositories += one.repositories;
                summary.blobs += one.blobs;
                summary.findings += one.findings;
                summary.secrets += one.secrets;
                if let Some(note) = one.note {
                    summary.notes.push((input.clone(), note));
                }
            }
            Err(e) => summary.failed.push((input.clone(), e)),
        }
    }
    Ok(summary)
}

/// What one input added.
struct Merged {
    repositories: u64,
    blobs: u64,
    findings: u64,
    secrets: u64,
    note: Option<String>,
}

fn merge_one(out: &mut Datastore, input: &Path) -> std::result::Result<Merged, String> {
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
        let (secrets, note) = merge_exposure(&tx)?;
        tx.commit()?;
        Ok::<_, rusqlite::Error>(Merged {
            repositories: r as u64,
            blobs: b as u64,
            findings: f as u64,
            secrets,
            note,
        })
    })()
    .map_err(|e| describe(&e));
    let detached = out.conn.execute("DETACH DATABASE src", []);
    let merged = result?;
    detached.map_err(|e| describe(&e))?;
    Ok(merged)
}

/// A row of the `secrets` table, as `merge` reads and writes it.
struct SecretRow {
    id: String,
    rule_id: String,
    provider: String,
    redacted: String,
    first_seen: String,
    closed_at: Option<String>,
    closed_reason: Option<String>,
    revocation: Option<String>,
    unreadable: Option<String>,
}

impl SecretRow {
    const COLUMNS: &'static str = "id, rule_id, provider, redacted, first_seen, closed_at, \
                                   closed_reason, revocation, unreadable";

    fn read(r: &rusqlite::Row) -> rusqlite::Result<SecretRow> {
        Ok(SecretRow {
            id: r.get(0)?,
            rule_id: r.get(1)?,
            provider: r.get(2)?,
            redacted: r.get(3)?,
            first_seen: r.get(4)?,
            closed_at: r.get(5)?,
            closed_reason: r.get(6)?,
            revocation: r.get(7)?,
            unreadable: r.get(8)?,
        })
    }
}

/// Carry the attached `src`'s secrets into `main`, when both name secrets
/// with the same key (an output without one takes the input's). A secret
/// in both is one secret: its first sighting the earlier, every
/// repository's view (the newer where both saw the same repository), every
/// blob, span, verdict and closure. It stays closed only if it was closed
/// by hand in either, or closed in both; otherwise it is open again (the
/// other input saw it where it still lives or still works).
fn merge_exposure(tx: &rusqlite::Transaction) -> rusqlite::Result<(u64, Option<String>)> {
    let key = |db: &str| -> rusqlite::Result<Option<Vec<u8>>> {
        tx.query_row(
            &format!("SELECT key FROM {db}.exposure_key WHERE one = 1"),
            [],
            |r| r.get(0),
        )
        .optional()
    };
    let Some(theirs) = key("src")? else {
        return Ok((0, None));
    };
    match key("main")? {
        None => {
            tx.execute(
                "INSERT INTO main.exposure_key (one, key) VALUES (1, ?1)",
                [&theirs],
            )?;
        }
        Some(ours) if ours == theirs => {}
        Some(_) => {
            let n: i64 = tx.query_row("SELECT count(*) FROM src.secrets", [], |r| r.get(0))?;
            return Ok((
                0,
                (n > 0).then(|| {
                    let (what, them) = if n == 1 {
                        ("1 secret is".to_string(), "it is")
                    } else {
                        (format!("{n} secrets are"), "they are")
                    };
                    format!(
                        "its {what} named with another key, so {them} left out (give every \
                         shard the same {EXPOSURE_KEY_VAR}); its findings are merged"
                    )
                }),
            ));
        }
    }
    // Closed by hand in one input: closed in the merge.
    let manual = |db: &str, id: &str| -> rusqlite::Result<bool> {
        tx.query_row(
            &format!("SELECT EXISTS (SELECT 1 FROM {db}.secret_closures WHERE secret = ?1 AND how = 'manual')"),
            [id],
            |r| r.get(0),
        )
    };
    let rows: Vec<SecretRow> = {
        let mut stmt = tx.prepare(&format!("SELECT {} FROM src.secrets", SecretRow::COLUMNS))?;
        let rows = stmt.query_map([], SecretRow::read)?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut added = 0u64;
    for theirs in rows {
        let ours: Option<SecretRow> = tx
            .query_row(
                &format!(
                    "SELECT {} FROM main.secrets WHERE id = ?1",
                    SecretRow::COLUMNS
                ),
                [&theirs.id],
                SecretRow::read,
            )
            .optional()?;
        let merged = match ours {
            None => {
                added += 1;
                theirs
            }
            Some(ours) => {
                let (closed_at, closed_reason) = if manual("main", &ours.id)? {
                    (ours.closed_at, ours.closed_reason)
                } else if manual("src", &theirs.id)? {
                    (theirs.closed_at, theirs.closed_reason)
                } else if ours.closed_at.is_some() && theirs.closed_at.is_some() {
                    if ours.closed_at >= theirs.closed_at {
                        (ours.closed_at, ours.closed_reason)
                    } else {
                        (theirs.closed_at, theirs.closed_reason)
                    }
                } else {
                    (None, None)
                };
                let pick = |a: String, b: String| if a.is_empty() { b } else { a };
                SecretRow {
                    id: ours.id,
                    rule_id: pick(ours.rule_id, theirs.rule_id),
                    provider: pick(ours.provider, theirs.provider),
                    redacted: pick(ours.redacted, theirs.redacted),
                    first_seen: ours.first_seen.min(theirs.first_seen),
                    closed_at,
                    closed_reason,
                    revocation: ours.revocation.or(theirs.revocation),
                    // Unreadable only if neither can read it back.
                    unreadable: ours.unreadable.and(theirs.unreadable),
                }
            }
        };
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO main.secrets ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                SecretRow::COLUMNS
            ),
            params![
                merged.id,
                merged.rule_id,
                merged.provider,
                merged.redacted,
                merged.first_seen,
                merged.closed_at,
                merged.closed_reason,
                merged.revocation,
                merged.unreadable
            ],
        )?;
    }
    tx.execute_batch(
        "INSERT INTO main.secret_repositories SELECT * FROM src.secret_repositories WHERE true
           ON CONFLICT (secret, repository) DO UPDATE SET exposure = excluded.exposure,
             seen_at = excluded.seen_at, detail = excluded.detail
           WHERE excluded.seen_at > seen_at;
         INSERT OR IGNORE INTO main.secret_blobs SELECT * FROM src.secret_blobs;
         INSERT OR IGNORE INTO main.secret_spans SELECT * FROM src.secret_spans;
         INSERT INTO main.secret_verdicts SELECT * FROM src.secret_verdicts s
           WHERE NOT EXISTS (SELECT 1 FROM main.secret_verdicts m WHERE m.secret = s.secret
             AND m.at = s.at AND m.verdict = s.verdict AND m.detail = s.detail);
         INSERT INTO main.secret_closures SELECT * FROM src.secret_closures s
           WHERE NOT EXISTS (SELECT 1 FROM main.secret_closures m WHERE m.secret = s.secret
             AND m.at = s.at AND m.how = s.how);",
    )?;
    Ok((added, None))
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
        confidence: f.confidence.unwrap_or_default(),
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
    fn a_schema_1_datastore_gains_the_exposure_tables_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        let err = Datastore::open_read_only(&path).err().unwrap().to_string();
        assert!(err.contains("older leakhound"), "{err}");
        let mut store = Datastore::open(&path).unwrap();
        let key = store.exposure_key().unwrap();
        // The same key from then on.
        assert_eq!(store.exposure_key().unwrap().id("x"), key.id("x"));
        drop(store);
        assert!(Datastore::open_read_only(&path).is_ok());
    }

    #[test]
    fn secrets_close_once_by_id_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Datastore::open(&dir.path().join("a.db")).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO secrets (id, rule_id, provider, redacted, first_seen)
                 VALUES ('0123456789abcdef0123456789abcdef', 'r', 'p', 's…', 'now')",
                [],
            )
            .unwrap();
        assert!(store.resolve_secret("01234").is_err(), "too short");
        assert!(store.resolve_secret("fffffff").is_err(), "no such id");
        let id = store.resolve_secret("0123456789A").unwrap();
        assert!(store.close_secret(&id, "test key", "manual").unwrap());
        assert!(!store.close_secret(&id, "again", "manual").unwrap());
        let closures: i64 = store
            .conn
            .query_row("SELECT count(*) FROM secret_closures", [], |r| r.get(0))
            .unwrap();
        assert_eq!(closures, 1);
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
