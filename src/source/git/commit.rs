//! Commit metadata as findings name it: id, author, date, summary.

use crate::finding::CommitInfo;

/// A commit as findings name it. Author and summary bytes are decoded as
/// the commit's `encoding` header says (Latin-1 is common in old
/// repositories), else as UTF-8 with replacement characters.
pub(crate) fn commit_info(commit: &git2::Commit) -> CommitInfo {
    let encoding = commit.message_encoding();
    let author = commit.author();
    CommitInfo {
        id: commit.id().to_string(),
        author_name: decode(author.name_bytes(), encoding),
        author_email: decode(author.email_bytes(), encoding),
        date: rfc3339(author.when()),
        summary: decode(commit.summary_bytes().unwrap_or_default(), encoding),
        other_locations: Vec::new(),
        unreachable: false,
        repository: None,
        url: None,
    }
}

fn decode(bytes: &[u8], encoding: Option<&str>) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    let latin1 = encoding.is_some_and(|e| {
        let e = e.to_ascii_lowercase();
        e == "iso-8859-1" || e == "latin1" || e == "latin-1" || e == "iso8859-1"
    });
    if latin1 {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// A git time as RFC 3339 in the author's own offset. Empty for a time
/// outside the years -9999 to 9999, which only a corrupt or forged commit
/// holds. The offset is written as git stored it, even one outside the
/// ±25:59 that a time zone can have.
fn rfc3339(t: git2::Time) -> String {
    let offset = t.offset_minutes();
    let local = t
        .seconds()
        .checked_add(i64::from(offset) * 60)
        .and_then(|s| jiff::Timestamp::from_second(s).ok());
    let Some(local) = local else {
        return String::new();
    };
    let sign = if offset < 0 { '-' } else { '+' };
    let off = offset.unsigned_abs();
    format!(
        "{}{sign}{:02}:{:02}",
        local.strftime("%Y-%m-%dT%H:%M:%S"),
        off / 60,
        off % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_in_the_authors_offset() {
        assert_eq!(rfc3339(git2::Time::new(0, 0)), "1970-01-01T00:00:00+00:00");
        assert_eq!(
            rfc3339(git2::Time::new(1_700_000_000, 120)),
            "2023-11-15T00:13:20+02:00"
        );
        assert_eq!(
            rfc3339(git2::Time::new(951_782_400, -330)),
            "2000-02-28T18:30:00-05:30"
        );
        assert_eq!(
            rfc3339(git2::Time::new(951_782_400, 0)),
            "2000-02-29T00:00:00+00:00"
        );
        assert_eq!(rfc3339(git2::Time::new(-1, 0)), "1969-12-31T23:59:59+00:00");
        assert_eq!(rfc3339(git2::Time::new(i64::MAX, 0)), "");
    }

    #[test]
    fn text_is_decoded_as_the_commit_says() {
        assert_eq!(decode("café".as_bytes(), None), "café");
        assert_eq!(decode(b"caf\xe9", Some("ISO-8859-1")), "café");
        assert_eq!(decode(b"caf\xe9", None), "caf\u{fffd}");
    }
}
