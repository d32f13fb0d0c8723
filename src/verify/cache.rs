//! The optional on-disk verdict cache (`--verify-cache DIR`), so repeated CI
//! runs do not ask providers about the same keys again and again.
//!
//! One small JSON file per (provider, endpoint, key), named by a SHA-256 of
//! the three: the raw key is never written. Only settled verdicts (`live`,
//! `dead`) are stored; `unknown` is usually transient (a timeout, a rate
//! limit) and is asked again next time. Entries older than the TTL, or
//! dated in the future, are ignored. A cache that cannot be written is not
//! an error: the check ran.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::finding::{Verdict, Verification};
use crate::provider::{Check, Secret};

/// How far in the future a `checked_at` may be (clock skew).
const FUTURE_SLACK: u64 = 60;

#[derive(Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
    ttl: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    verdict: Verdict,
    status: Option<u16>,
    detail: String,
    provider: String,
    /// Seconds since the Unix epoch.
    checked_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scopes: Vec<String>,
}

impl Cache {
    pub(crate) fn open(dir: &Path, ttl: Duration) -> Result<Cache> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Cache {
            dir: dir.to_path_buf(),
            ttl,
        })
    }

    /// The file name for a key: a hash, so the key itself is never stored.
    pub(crate) fn key(
        check: &Check,
        secret: &Secret,
        partner: Option<&Secret>,
        targets: &[usize],
    ) -> String {
        let mut h = Sha256::new();
        h.update(b"leakhound-verify-cache-v2\0");
        h.update(check.provider.as_bytes());
        h.update([0]);
        // Every host asked: a verdict settled at one region is not one
        // settled at all of them.
        for &t in targets {
            if let Ok(url) = check.endpoint_at(t, None) {
                h.update(url.as_str().as_bytes());
            } else {
                h.update(check.hosts().get(t).map_or("", String::as_str).as_bytes());
            }
            h.update([0]);
        }
        h.update([0]);
        h.update(secret.expose().as_bytes());
        if let Some(p) = partner {
            h.update([0]);
            h.update(p.expose().as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// A fresh entry, marked `cached`.
    pub(crate) fn get(&self, key: &str) -> Option<Verification> {
        let text = std::fs::read_to_string(self.path(key)).ok()?;
        let entry: Entry = serde_json::from_str(&text).ok()?;
        // An entry from the future (a clock set back, or a hand-edited file)
        // would never expire: it is ignored, and the key asked again. A
        // minute of slack covers clocks of machines sharing a cache.
        let now = now();
        if entry.checked_at > now + FUTURE_SLACK {
            return None;
        }
        let age = now.saturating_sub(entry.checked_at);
        if Duration::from_secs(age) >= self.ttl || entry.verdict == Verdict::Unknown {
            return None;
        }
        Some(Verification {
            verdict: entry.verdict,
            reason: None,
            status: entry.status,
            detail: entry.detail,
            provider: Some(entry.provider),
            cached: true,
            identity: entry.identity,
            scopes: entry.scopes,
        })
    }

    /// Store a settled verdict; returns false if it could not be written.
    pub(crate) fn put(&self, key: &str, v: &Verification) -> bool {
        if v.verdict == Verdict::Unknown {
            return false;
        }
        let entry = Entry {
            verdict: v.verdict,
            status: v.status,
            detail: v.detail.clone(),
            provider: v.provider.clone().unwrap_or_default(),
            checked_at: now(),
            identity: v.identity.clone(),
            scopes: v.scopes.clone(),
        };
        let Ok(text) = serde_json::to_string(&entry) else {
            return false;
        };
        // Write then rename, so a concurrent run never reads half a file.
        let tmp = self.dir.join(format!(".{key}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text).is_ok() && std::fs::rename(&tmp, self.path(key)).is_ok()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
