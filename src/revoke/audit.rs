//! The audit log: one JSON line per finding acted on, appended, never
//! rewritten. It records what was done, where, with which credential (by
//! environment variable name) and what the provider said afterwards; keys
//! appear only redacted and as a SHA-256, never raw.
//!
//! The file is opened (created if need be) before the first revocation
//! request, so a run that cannot record what it does does nothing, and
//! each line is synced as soon as its key's call is settled.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// One line of the audit log.
#[derive(Debug, Serialize)]
pub struct AuditEntry {
    /// RFC 3339, UTC.
    pub time: String,
    pub provider: String,
    pub rule: String,
    pub fingerprint: String,
    pub path: String,
    /// The key as reports show it redacted.
    pub key: String,
    /// SHA-256 of the key: matches a provider that stores only hashes.
    pub key_sha256: String,
    /// `POST https://…/keys/revoke` (`{{key_sha256}}` left as written).
    pub endpoint: String,
    /// `$KUNAVO_ADMIN_TOKEN`, `the leaked key itself`, `none …`.
    pub credential: String,
    /// `revoked`, `already-revoked`, `revoke-submitted`, `revoke-failed`.
    pub outcome: String,
    /// HTTP status of the revocation request, if one was answered.
    pub status: Option<u16>,
    pub detail: String,
    /// The re-verification after the call (`dead (HTTP 401): …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_after: Option<String>,
}

/// An open, append-only audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
}

impl AuditLog {
    /// Open `path` for appending, creating it (and nothing else) if needed.
    pub fn open(path: &Path) -> Result<AuditLog> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::Usage(format!("cannot open audit log {}: {e}", path.display())))?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one entry as one line, written through to the disk at once:
    /// a run killed right after a revocation still has its line.
    pub fn append(&mut self, entry: &AuditEntry) -> Result<()> {
        let mut line = serde_json::to_string(entry).expect("audit entries serialize");
        line.push('\n');
        // One write per line so concurrent appenders do not interleave.
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::Io {
                path: self.path.clone(),
                source: e,
            })
    }
}

/// Now, as RFC 3339 UTC with seconds (`2024-05-01T12:00:00Z`).
pub fn now_rfc3339() -> String {
    rfc3339(jiff::Timestamp::now())
}

/// A time as RFC 3339 UTC, whole seconds.
fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        let at = |s: i64| rfc3339(jiff::Timestamp::new(s, 999_000_000).unwrap());
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_582_977_600), "2020-02-29T12:00:00Z");
        assert_eq!(at(784_111_777), "1994-11-06T08:49:37Z");
        assert_eq!(at(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn appends_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let entry = AuditEntry {
            time: now_rfc3339(),
            provider: "kunavo".into(),
            rule: "kunavo-api-key".into(),
            fingerprint: "f".into(),
            path: "a.env".into(),
            key: "sk-kunavo-abcd…".into(),
            key_sha256: "00".into(),
            endpoint: "POST https://x/revoke".into(),
            credential: "$KUNAVO_ADMIN_TOKEN".into(),
            outcome: "revoked".into(),
            status: Some(200),
            detail: "ok".into(),
            verified_after: None,
        };
        for _ in 0..2 {
            AuditLog::open(&path).unwrap().append(&entry).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(v["outcome"], "revoked");
    }
}
