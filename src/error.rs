//! The library's error type. Every variant says what failed and on what (a
//! file, a rule id, a line), because a secret scanner's users are usually
//! looking at CI logs, not at a debugger. Secrets never appear here.

use std::path::PathBuf;

/// A fatal error: bad configuration, bad rules, a path that does not exist.
/// Per-file read failures are not errors of this kind; they are counted in
/// the scan's statistics and the scan goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error("{origin}: rule `{rule}`: {message}")]
    Rule {
        origin: String,
        rule: String,
        message: String,
    },

    #[error("{origin}: {message}")]
    RuleFile { origin: String, message: String },

    #[error("{path}: no such file or directory")]
    NotFound { path: PathBuf },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Usage(String),

    /// A JSON report that cannot be read back (`leakhound verify`).
    #[error("{path}: {message}")]
    Report { path: PathBuf, message: String },

    #[error("{path}: {message}")]
    Git { path: PathBuf, message: String },

    /// The audit datastore (`--datastore`) cannot be opened or written.
    #[error("{path}: {message}")]
    Datastore { path: PathBuf, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turn a byte offset in `text` into a 1-based (line, column) pair, the
/// column counted in characters. Used to point at errors in TOML files.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..crate::text::floor_boundary(text, offset)];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Describe a `toml` parse error as `line:column: message`.
pub(crate) fn describe_toml_error(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim().to_string();
    match err.span() {
        Some(span) => {
            let (line, column) = line_col(text, span.start);
            format!("{line}:{column}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(line_col(text, 9), (2, 3));
    }
}
