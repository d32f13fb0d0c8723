//! `leakhound datastore merge`, `close`, `link-revocations`.

use crate::cli::{CloseArgs, LinkRevocationsArgs, MergeArgs};

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
    for (path, note) in &summary.notes {
        eprintln!(
            "leakhound: {}: {}",
            crate::text::sanitize(&path.display().to_string()),
            crate::text::sanitize(note)
        );
    }
    let merged = args.inputs.len() - summary.failed.len();
    eprintln!(
        "leakhound: merged {merged} datastore{} into {}: {} repositor{}, {}, {}, {} added",
        if merged == 1 { "" } else { "s" },
        crate::text::sanitize(&args.output.display().to_string()),
        summary.repositories,
        if summary.repositories == 1 {
            "y"
        } else {
            "ies"
        },
        crate::text::plural(summary.blobs, "blob"),
        crate::text::plural(summary.findings, "finding"),
        crate::text::plural(summary.secrets, "secret")
    );
    Ok(if summary.failed.is_empty() {
        CLEAN
    } else {
        ERROR
    })
}

/// `leakhound datastore close DATASTORE ID --reason TEXT`.
pub fn close(args: &CloseArgs) -> anyhow::Result<u8> {
    if args.reason.trim().is_empty() {
        anyhow::bail!("--reason is empty: say why the secret is closed");
    }
    let mut store = crate::datastore::Datastore::open_existing(&args.datastore)?;
    let id = store.resolve_secret(&args.id)?;
    let closed = store.close_secret(&id, args.reason.trim(), "manual")?;
    eprintln!(
        "leakhound: secret {} {}",
        crate::report::short_id(&id),
        if closed {
            "closed"
        } else {
            "was closed already; nothing changed"
        }
    );
    Ok(CLEAN)
}

/// `leakhound datastore link-revocations DATASTORE --audit-log FILE`.
pub fn link_revocations(args: &LinkRevocationsArgs) -> anyhow::Result<u8> {
    let mut store = crate::datastore::Datastore::open_existing(&args.datastore)?;
    let mut linked = 0;
    for (fingerprint, entry) in crate::exposure::revocations(&args.audit_log)? {
        if store.record_revocation(&fingerprint, &entry)?.is_some() {
            linked += 1;
        }
    }
    let closed = store.close_settled()?;
    eprintln!(
        "leakhound: {} revocation{} linked, {} secret{} closed",
        linked,
        if linked == 1 { "" } else { "s" },
        closed.len(),
        if closed.len() == 1 { "" } else { "s" }
    );
    Ok(CLEAN)
}
