//! `leakhound datastore merge`.

use crate::cli::MergeArgs;

use super::{CLEAN, ERROR};

/// `leakhound datastore merge A B … -o ALL`.
pub fn merge(args: &MergeArgs) -> anyhow::Result<u8> {
    let summary = crate::datastore::merge(&args.inputs, &args.output)?;
    for (path, why) in &summary.failed {
        eprintln!(
            "leakhound: {}: {}",
            crate::text::sanitize(&path.display().to_string()),
            crate::text::sanitize(why)
        );
    }
    let merged = args.inputs.len() - summary.failed.len();
    eprintln!(
        "leakhound: merged {merged} datastore{} into {}: {} repositor{}, {}, {} added",
        if merged == 1 { "" } else { "s" },
        args.output.display(),
        summary.repositories,
        if summary.repositories == 1 {
            "y"
        } else {
            "ies"
        },
        crate::text::plural(summary.blobs, "blob"),
        crate::text::plural(summary.findings, "finding")
    );
    Ok(if summary.failed.is_empty() {
        CLEAN
    } else {
        ERROR
    })
}
