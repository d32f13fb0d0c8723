//! Archives: zip (and its build-output kin: jar, war, ear, whl, nupkg,
//! apk), tar, and gzip, bzip2, xz and zstd streams, alone or around a tar,
//! opened wherever a file or blob is scanned, nested up to a depth limit.
//!
//! An entry is reported as `dist/app.jar!BOOT-INF/classes/application.yml`
//! (nested: `a.zip!b.tar.gz!c/d.env`); that path goes into the finding's
//! fingerprint like any other, so a baseline entry for a key inside an
//! archive holds as long as the archive's path and the entry's name do.
//!
//! Archives are recognised by their first bytes (a tar by its header's
//! checksum), not by their name; a name only helps find a zip with
//! something prepended (an executable Spring Boot jar starts with a shell
//! script). An archive that opens is scanned through its entries instead of
//! as raw bytes (its compressed bytes hold nothing readable, and its stored
//! entries would be found twice); one that does not open is listed and
//! scanned as raw bytes, as before archives were opened.
//!
//! Work is bounded so that a bomb costs little: the bytes read out of one
//! archive and everything nested in it, its entries, the inflation ratio
//! of each compressed stream, and the nesting depth all have limits
//! (`scan::ArchiveLimits`); what a limit cut is listed among the skipped
//! paths, with the limit's name. Each entry is held to `--max-file-size`
//! like a file. Compressed streams and tars are read entry by entry, never
//! inflated whole; an entry is held in memory while it is scanned, and an
//! archive nested in an entry is opened from that copy, so memory is at
//! most the nesting depth times `--max-file-size`.
//!
//! A corrupt archive is a note for that path and the scan goes on; the
//! entries read before the damage are scanned.

use std::cell::Cell;
use std::io::{self, Cursor, Read};
use std::path::Path;
use std::sync::atomic::Ordering;

use crate::engine::Scratch;
use crate::finding::{Finding, SourceKind};
use crate::scan::{ArchiveLimits, PathNote, Scanner, Stats};

/// A compressed stream's inflation ratio is checked once it has put out
/// this much: small files compress far better than bombs need to.
const RATIO_FLOOR: u64 = 1 << 20;
/// Memory liblzma may use to decode one xz stream (the `xz -9` dictionary
/// is 64 MiB).
const XZ_MEMORY: u64 = 256 << 20;
/// Where a zip's end-of-central-directory record can sit, from the end.
const EOCD_SPAN: usize = 22 + 65535;
/// The longest entry name kept (a tar's GNU long name or pax path, a zip's
/// name field): a longer one is cut here, and the cut listed. Every
/// finding in the entry carries its path, so the name is bounded before
/// it is read, not after.
pub(crate) const NAME_MAX: usize = 4096;
/// The largest pax extended header read (its records name the next
/// entry); a larger one is passed over and listed.
const PAX_MAX: u64 = 64 << 10;
/// Notes (skipped or cut entries) listed for one archive, nested ones
/// included; past this, notes are counted by reason and listed as one
/// line each with the count.
const NOTES_MAX: usize = 20;
/// Names that say "zip" when the file does not start with a zip header.
const ZIP_NAMES: &[&str] = &[
    ".zip", ".jar", ".war", ".ear", ".whl", ".nupkg", ".apk", ".aar", ".egg",
];

/// What kind of archive a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Zip,
    Tar,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Zip => "zip",
            Kind::Tar => "tar",
            Kind::Gzip => "gzip",
            Kind::Bzip2 => "bzip2",
            Kind::Xz => "xz",
            Kind::Zstd => "zstd",
        }
    }
}

/// Scan `bytes`, found at `path`: through its entries if it is an archive
/// (and archives are opened), else as one buffer.
pub(crate) fn scan(
    scanner: &Scanner,
    bytes: &[u8],
    path: &str,
    source: SourceKind,
    scratch: &mut Scratch,
    stats: &mut Stats,
) -> Vec<Finding> {
    let limits = scanner.options.archives;
    let kind = if limits.depth == 0 {
        None
    } else {
        detect(bytes, path)
    };
    let Some(kind) = kind else {
        return scanner.scan_buffer(bytes, path, source, scratch, stats);
    };
    let budget = Budget::new(limits);
    let mut walk = Walk {
        scanner,
        source,
        scratch,
        stats,
        findings: Vec::new(),
        notes: 0,
        unlisted: Vec::new(),
    };
    walk.archive(&budget, bytes, path, kind, 1);
    walk.list_unlisted(path);
    walk.findings
}

/// What kind of archive `b` is, if any.
fn detect(b: &[u8], name: &str) -> Option<Kind> {
    if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") {
        return Some(Kind::Zip);
    }
    if b.starts_with(&[0x1f, 0x8b, 0x08]) {
        return Some(Kind::Gzip);
    }
    if b.len() >= 10
        && b.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&b[3])
        // A block or the end of the stream follows the header.
        && matches!(&b[4..10], [0x31, 0x41, 0x59, 0x26, 0x53, 0x59] | [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
    {
        return Some(Kind::Bzip2);
    }
    if b.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return Some(Kind::Xz);
    }
    if b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Some(Kind::Zstd);
    }
    if is_tar_header(b) {
        return Some(Kind::Tar);
    }
    let lower = name.to_ascii_lowercase();
    if ZIP_NAMES.iter().any(|e| lower.ends_with(e))
        && memchr::memmem::rfind(&b[b.len().saturating_sub(EOCD_SPAN)..], b"PK\x05\x06").is_some()
    {
        return Some(Kind::Zip);
    }
    None
}

/// Does `b` start with a tar header: a name, and a checksum that adds up
/// (ustar, GNU and old v7 headers alike)?
fn is_tar_header(b: &[u8]) -> bool {
    let Some(h) = b.get(..512) else {
        return false;
    };
    if h[0] == 0 {
        return false;
    }
    let field = &h[148..156];
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&c| c == b' ')
        .take_while(|c| (b'0'..=b'7').contains(c))
        .collect();
    if digits.is_empty() {
        return false;
    }
    let Ok(stored) = u32::from_str_radix(std::str::from_utf8(&digits).unwrap_or("x"), 8) else {
        return false;
    };
    let (unsigned, signed) = h.iter().enumerate().fold((0u32, 0i32), |(u, s), (i, &c)| {
        let c = if (148..156).contains(&i) { b' ' } else { c };
        (u + u32::from(c), s + i32::from(c as i8))
    });
    stored == unsigned || i64::from(stored) == i64::from(signed)
}

/// The name of what a lone compressed file holds: `app.log.gz` holds
/// `app.log`, `site.tgz` a tar.
fn inner_name(path: &str) -> String {
    let last = path.rsplit(['/', '!']).next().unwrap_or(path);
    let lower = last.to_ascii_lowercase();
    for (ext, instead) in [
        (".tgz", ".tar"),
        (".tbz2", ".tar"),
        (".tbz", ".tar"),
        (".txz", ".tar"),
        (".tzst", ".tar"),
        (".gz", ""),
        (".bz2", ""),
        (".xz", ""),
        (".zst", ""),
        (".zstd", ""),
    ] {
        if lower.ends_with(ext) && lower.len() > ext.len() {
            return format!("{}{instead}", &last[..last.len() - ext.len()]);
        }
    }
    last.to_string()
}

/// A limit that stopped a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trip {
    Bytes,
    Ratio,
    /// A zip's entries together put out too much for the zip's size
    /// (entries that share their compressed bytes).
    WholeRatio,
}

/// What one archive, nesting included, may still cost.
struct Budget {
    limits: ArchiveLimits,
    read: Cell<u64>,
    entries: Cell<u64>,
    /// The bytes or entries limit was reached: everything stops.
    spent: Cell<bool>,
    /// The limit that stopped the last failed read, not yet reported.
    trip: Cell<Option<Trip>>,
}

impl Budget {
    fn new(limits: ArchiveLimits) -> Budget {
        Budget {
            limits,
            read: Cell::new(0),
            entries: Cell::new(0),
            spent: Cell::new(false),
            trip: Cell::new(None),
        }
    }

    /// Count one entry; false (and spent) when that is one too many.
    fn take_entry(&self) -> bool {
        let n = self.entries.get() + 1;
        self.entries.set(n);
        if n > self.limits.max_entries {
            self.spent.set(true);
            return false;
        }
        true
    }

    fn describe(&self, trip: Trip) -> String {
        match trip {
            Trip::Bytes => format!(
                "archive limit: more than {} bytes read out of the archive ([scan] archive_max_bytes); the rest of it was not scanned",
                self.limits.max_bytes
            ),
            Trip::Ratio => format!(
                "archive limit: inflates to more than {} times its compressed size ([scan] archive_max_ratio); the rest of it was not scanned",
                self.limits.max_ratio
            ),
            Trip::WholeRatio => format!(
                "archive limit: the archive's entries put out more than {} times the archive's size ([scan] archive_max_ratio; entries that overlap are counted each time); the rest of it was not scanned",
                self.limits.max_ratio
            ),
        }
    }
}

/// How many compressed bytes a stream has consumed, for its ratio.
#[derive(Clone, Copy)]
enum Input<'c> {
    /// Not compressed: no ratio.
    Plain,
    /// The bytes a counting reader has passed on.
    Counted(&'c Cell<u64>),
    /// A zip entry's compressed size (its reader reads no more).
    Known(u64),
}

/// Counts the bytes read through it.
struct Counted<'c, R> {
    inner: R,
    count: &'c Cell<u64>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Charges what is read through it to the budget, and fails the read that
/// passes a limit (after saying which in `budget.trip`).
struct Metered<'b, R> {
    inner: R,
    budget: &'b Budget,
    input: Input<'b>,
    out: u64,
    /// A zip entry's: what all entries of its zip have put out, and the
    /// zip's size, for the ratio of the archive as a whole.
    whole: Option<(&'b Cell<u64>, u64)>,
}

impl<'b, R: Read> Metered<'b, R> {
    fn new(inner: R, budget: &'b Budget, input: Input<'b>) -> Self {
        Metered {
            inner,
            budget,
            input,
            out: 0,
            whole: None,
        }
    }

    fn stop(&self, trip: Option<Trip>) -> io::Error {
        if let Some(t) = trip {
            self.budget.trip.set(Some(t));
        }
        io::Error::other("archive limit reached")
    }
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let b = self.budget;
        if b.spent.get() {
            return Err(self.stop(None));
        }
        let left = b.limits.max_bytes.saturating_sub(b.read.get());
        let cap = buf
            .len()
            .min(usize::try_from(left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..cap])?;
        if n as u64 > left {
            b.spent.set(true);
            return Err(self.stop(Some(Trip::Bytes)));
        }
        b.read.set(b.read.get() + n as u64);
        self.out += n as u64;
        let consumed = match self.input {
            Input::Plain => None,
            Input::Counted(c) => Some(c.get()),
            Input::Known(k) => Some(k),
        };
        if let Some(consumed) = consumed {
            if self.out > RATIO_FLOOR && self.out / consumed.max(1) > b.limits.max_ratio {
                return Err(self.stop(Some(Trip::Ratio)));
            }
        }
        if let Some((produced, size)) = self.whole {
            let all = produced.get() + n as u64;
            produced.set(all);
            if all > RATIO_FLOOR && all / size.max(1) > b.limits.max_ratio {
                return Err(self.stop(Some(Trip::WholeRatio)));
            }
        }
        Ok(n)
    }
}

/// Why an archive could not be read to its end.
struct Failure {
    /// Something was read from it: it is an archive, damaged further on.
    opened: bool,
    reason: String,
}

impl Failure {
    fn at_start(e: impl std::fmt::Display) -> Failure {
        Failure {
            opened: false,
            reason: e.to_string(),
        }
    }

    fn later(e: impl std::fmt::Display) -> Failure {
        Failure {
            opened: true,
            reason: e.to_string(),
        }
    }
}

/// One archive file or blob being scanned through its entries.
struct Walk<'a, 's> {
    scanner: &'a Scanner<'a>,
    source: SourceKind,
    scratch: &'s mut Scratch,
    stats: &'s mut Stats,
    findings: Vec<Finding>,
    /// Notes listed for this archive so far (at most [`NOTES_MAX`]).
    notes: usize,
    /// Notes past that bound: each reason once, with how many.
    unlisted: Vec<(String, u64)>,
}

impl Walk<'_, '_> {
    fn interrupted(&self) -> bool {
        self.scanner
            .options
            .interrupt
            .as_ref()
            .is_some_and(|i| i.load(Ordering::Relaxed))
    }

    /// List `path` as skipped or cut, for `reason`; past [`NOTES_MAX`]
    /// notes in one archive, only counted.
    fn skip(&mut self, path: &str, reason: String) {
        if self.notes < NOTES_MAX {
            self.notes += 1;
            self.stats.skipped.push(PathNote {
                path: path.to_string(),
                reason,
            });
            return;
        }
        if let Some((_, n)) = self.unlisted.iter_mut().find(|(r, _)| *r == reason) {
            *n += 1;
        } else if self.unlisted.len() < NOTES_MAX {
            self.unlisted.push((reason, 1));
        } else if let Some((_, n)) = self.unlisted.last_mut() {
            // Reasons past the bound are counted under the last one kept.
            *n += 1;
        }
    }

    /// The notes past the bound, one per reason with its count.
    fn list_unlisted(&mut self, path: &str) {
        for (reason, n) in std::mem::take(&mut self.unlisted) {
            self.stats.skipped.push(PathNote {
                path: path.to_string(),
                reason: format!(
                    "{n} more entr{} not listed (at most {NOTES_MAX} notes per archive): {reason}",
                    if n == 1 { "y" } else { "ies" }
                ),
            });
        }
    }

    fn plain(&mut self, bytes: &[u8], path: &str) {
        let found = self
            .scanner
            .scan_buffer(bytes, path, self.source, self.scratch, self.stats);
        self.findings.extend(found);
    }

    /// Scan the archive `bytes` (of `kind`, at nesting level `depth`)
    /// through its entries.
    fn archive(&mut self, budget: &Budget, bytes: &[u8], path: &str, kind: Kind, depth: u32) {
        let result = match kind {
            Kind::Zip => self.zip(budget, bytes, path, depth),
            Kind::Tar => self.tar(
                budget,
                Metered::new(bytes, budget, Input::Plain),
                path,
                depth,
            ),
            _ => self.compressed(budget, bytes, path, kind, depth),
        };
        let Err(failure) = result else {
            return;
        };
        let reason = match budget.trip.take() {
            Some(trip) => budget.describe(trip),
            // Spent further in: reported where it happened.
            None if budget.spent.get() => return,
            None => format!("damaged {} archive: {}", kind.name(), failure.reason),
        };
        if failure.opened {
            self.skip(path, reason);
        } else {
            self.skip(path, format!("{reason}; scanned as plain bytes"));
            self.plain(bytes, path);
        }
    }

    /// An entry's content, at `path`, read out of an archive at `depth`.
    fn entry(&mut self, budget: &Budget, data: &[u8], path: &str, depth: u32) {
        if self.scanner.options.allowlist.allows_path(Path::new(path)) {
            return;
        }
        match detect(data, path) {
            Some(kind) if depth < budget.limits.depth => {
                self.archive(budget, data, path, kind, depth + 1);
            }
            Some(kind) => {
                self.skip(
                    path,
                    format!(
                        "archive limit: a {} archive nested deeper than {} ([scan] archive_depth, --archive-depth); scanned as plain bytes",
                        kind.name(),
                        budget.limits.depth
                    ),
                );
                self.plain(data, path);
            }
            None => self.plain(data, path),
        }
    }

    /// Read one entry (at most `--max-file-size`) and scan it; an entry
    /// over the limit is listed and passed over. Err: the read failed (the
    /// archive is damaged there, or a limit stopped it).
    fn read_entry(
        &mut self,
        budget: &Budget,
        from: impl Read,
        declared: u64,
        path: &str,
        depth: u32,
    ) -> Result<(), String> {
        let max = self.scanner.options.max_file_size;
        if declared > max {
            self.skip(
                path,
                format!("larger than --max-file-size ({declared} bytes > {max})"),
            );
            return Ok(());
        }
        let mut data = Vec::with_capacity(usize::try_from(declared.min(max)).unwrap_or(0));
        match from.take(max.saturating_add(1)).read_to_end(&mut data) {
            Ok(_) if data.len() as u64 > max => {
                self.skip(
                    path,
                    format!("larger than --max-file-size (more than {max} bytes)"),
                );
                Ok(())
            }
            Ok(_) => {
                self.entry(budget, &data, path, depth);
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Note why an entry's read failed; true when the archive around it
    /// cannot go on (a spent budget).
    fn entry_failed(&mut self, budget: &Budget, path: &str, kind: Kind, reason: String) -> bool {
        let trip = budget.trip.take();
        match trip {
            Some(trip) => self.skip(path, budget.describe(trip)),
            None if budget.spent.get() => {}
            None => self.skip(
                path,
                format!("damaged {} archive entry: {reason}", kind.name()),
            ),
        }
        budget.spent.get() || trip == Some(Trip::WholeRatio)
    }

    fn entries_spent(&mut self, budget: &Budget, path: &str) {
        self.skip(
            path,
            format!(
                "archive limit: more than {} entries ([scan] archive_max_entries); the rest of it was not scanned",
                budget.limits.max_entries
            ),
        );
    }

    fn zip(
        &mut self,
        budget: &Budget,
        bytes: &[u8],
        path: &str,
        depth: u32,
    ) -> Result<(), Failure> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(Failure::at_start)?;
        // Everything this zip's entries put out, against its size: entries
        // may share compressed bytes, so each entry's own ratio is not
        // enough.
        let produced = Cell::new(0);
        for i in 0..zip.len() {
            if self.interrupted() || budget.spent.get() {
                break;
            }
            // Every record counts, whether it can be read or not (and
            // directories too): the limit is on what the archive lists.
            if !budget.take_entry() {
                self.entries_spent(budget, path);
                break;
            }
            let (name, cut) = match zip.name_for_index(i) {
                Some(name) => bounded_name(name.as_bytes()),
                None => (format!("<entry {i}>"), false),
            };
            let inner = format!("{path}!{name}");
            if cut {
                self.name_cut(&inner);
            }
            let file = match zip.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    self.skip(&inner, format!("cannot read this zip entry: {e}"));
                    continue;
                }
            };
            if file.is_dir() {
                continue;
            }
            let declared = file.size();
            let input = Input::Known(file.compressed_size());
            let mut reader = Metered::new(file, budget, input);
            reader.whole = Some((&produced, bytes.len() as u64));
            if let Err(reason) = self.read_entry(budget, reader, declared, &inner, depth) {
                if self.entry_failed(budget, &inner, Kind::Zip, reason) {
                    break;
                }
            }
        }
        Ok(())
    }

    /// A tar read from `from` (already metered). Entries are read raw and
    /// its extension headers handled here, so that a name is bounded
    /// before it is read: a GNU long name (`L`) or a pax header (`x`)
    /// names the entry after it, a long link name (`K`) and a global pax
    /// header (`g`) are passed over unread.
    fn tar(
        &mut self,
        budget: &Budget,
        from: impl Read,
        path: &str,
        depth: u32,
    ) -> Result<(), Failure> {
        let mut tar = tar::Archive::new(from);
        let entries = tar.entries().map_err(Failure::at_start)?.raw(true);
        let mut opened = false;
        // What extension headers said about the next entry.
        let mut long_name: Option<(Vec<u8>, bool)> = None;
        let mut pax_name: Option<(Vec<u8>, bool)> = None;
        let mut pax_size: Option<u64> = None;
        for entry in entries {
            if self.interrupted() || budget.spent.get() {
                break;
            }
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) if opened => return Err(Failure::later(e)),
                Err(e) => return Err(Failure::at_start(e)),
            };
            opened = true;
            let header = entry.header();
            let kind = header.entry_type();
            let extension = header.as_gnu().is_some() || header.as_ustar().is_some();
            if extension && kind.is_gnu_longname() {
                let (name, cut) =
                    read_bounded(&mut entry, NAME_MAX as u64).map_err(Failure::later)?;
                long_name = Some((trim_nuls(name), cut));
                continue;
            }
            if extension && kind.is_pax_local_extensions() {
                let (data, cut) = read_bounded(&mut entry, PAX_MAX).map_err(Failure::later)?;
                if cut {
                    self.skip(
                        path,
                        format!("archive limit: a pax extended header larger than {PAX_MAX} bytes was not read; the entry after it is shown by its plain name"),
                    );
                    continue;
                }
                for record in tar::PaxExtensions::new(&data).flatten() {
                    match record.key_bytes() {
                        b"path" => {
                            let v = record.value_bytes();
                            pax_name =
                                Some((v[..v.len().min(NAME_MAX)].to_vec(), v.len() > NAME_MAX));
                        }
                        b"size" => {
                            pax_size = std::str::from_utf8(record.value_bytes())
                                .ok()
                                .and_then(|v| v.parse().ok());
                        }
                        _ => {}
                    }
                }
                continue;
            }
            if extension && (kind.is_gnu_longlink() || kind.is_pax_global_extensions()) {
                continue;
            }
            let names = (long_name.take(), pax_name.take());
            if pax_size.take().is_some_and(|size| size != entry.size()) {
                // Read raw, the entry spans its header's size; a tar tool
                // would read the pax size instead. Rather than disagree
                // about where the next entry starts, stop here.
                return Err(Failure::later(
                    "a pax header gives an entry a size other than its own header's",
                ));
            }
            if kind.is_gnu_sparse() && header.as_gnu().is_some_and(|g| g.is_extended()) {
                return Err(Failure::later(
                    "a sparse entry with extended sparse headers, which are not read",
                ));
            }
            if !kind.is_file() {
                continue;
            }
            if !budget.take_entry() {
                self.entries_spent(budget, path);
                break;
            }
            let (name, cut) = match names {
                (Some(long), _) => long,
                (None, Some(pax)) => pax,
                (None, None) => (entry.path_bytes().into_owned(), false),
            };
            let (name, cut_here) = bounded_name(&name);
            let inner = format!("{path}!{name}");
            if cut || cut_here {
                self.name_cut(&inner);
            }
            let declared = entry.size();
            if let Err(reason) = self.read_entry(budget, entry, declared, &inner, depth) {
                // A tar cannot skip a damaged entry: what follows is lost.
                self.entry_failed(budget, &inner, Kind::Tar, reason);
                break;
            }
        }
        Ok(())
    }

    /// Note that the entry at `inner` has a name cut to [`NAME_MAX`].
    fn name_cut(&mut self, inner: &str) {
        self.skip(
            inner,
            format!("archive limit: the entry's name is longer than {NAME_MAX} bytes; it is shown cut there (the entry was scanned)"),
        );
    }

    /// A gzip, bzip2, xz or zstd stream: a tar inside is read entry by
    /// entry; anything else is one entry named after the file.
    fn compressed(
        &mut self,
        budget: &Budget,
        bytes: &[u8],
        path: &str,
        kind: Kind,
        depth: u32,
    ) -> Result<(), Failure> {
        let consumed = Cell::new(0);
        let input = Counted {
            inner: bytes,
            count: &consumed,
        };
        let decoder: Box<dyn Read + '_> = match kind {
            Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Kind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
            Kind::Xz => {
                let stream = liblzma::stream::Stream::new_stream_decoder(
                    XZ_MEMORY,
                    liblzma::stream::CONCATENATED,
                )
                .map_err(Failure::at_start)?;
                Box::new(liblzma::read::XzDecoder::new_stream(input, stream))
            }
            Kind::Zstd => {
                Box::new(zstd::stream::read::Decoder::new(input).map_err(Failure::at_start)?)
            }
            Kind::Zip | Kind::Tar => unreachable!("only compressed kinds come here"),
        };
        let mut stream = Metered::new(decoder, budget, Input::Counted(&consumed));
        let mut head = Vec::with_capacity(512);
        (&mut stream)
            .take(512)
            .read_to_end(&mut head)
            .map_err(Failure::at_start)?;
        if is_tar_header(&head) {
            return self.tar(budget, Cursor::new(head).chain(stream), path, depth);
        }
        if !budget.take_entry() {
            self.entries_spent(budget, path);
            return Ok(());
        }
        let inner = format!("{path}!{}", inner_name(path));
        let rest = Cursor::new(head).chain(stream);
        if let Err(reason) = self.read_entry(budget, rest, 0, &inner, depth) {
            return Err(Failure::later(reason));
        }
        Ok(())
    }
}

/// Read at most `max` bytes of `from`: the bytes, and whether there were
/// more (those are left unread).
fn read_bounded(from: impl Read, max: u64) -> io::Result<(Vec<u8>, bool)> {
    let mut data = Vec::new();
    from.take(max + 1).read_to_end(&mut data)?;
    let cut = data.len() as u64 > max;
    data.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    Ok((data, cut))
}

/// A GNU long name ends in NUL.
fn trim_nuls(mut name: Vec<u8>) -> Vec<u8> {
    while name.last() == Some(&0) {
        name.pop();
    }
    name
}

/// An entry's name as shown, at most [`NAME_MAX`] bytes (cut at a
/// character boundary), and whether it was cut.
fn bounded_name(name: &[u8]) -> (String, bool) {
    let text = String::from_utf8_lossy(&name[..name.len().min(NAME_MAX)]);
    if name.len() <= NAME_MAX && text.len() <= NAME_MAX {
        return (text.into_owned(), false);
    }
    let mut end = NAME_MAX.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_string(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_lone_compressed_files() {
        assert_eq!(inner_name("logs/app.log.gz"), "app.log");
        assert_eq!(inner_name("a.zip!site.tgz"), "site.tar");
        assert_eq!(inner_name("dump.XZ"), "dump");
        assert_eq!(inner_name("blob"), "blob");
        assert_eq!(inner_name(".gz"), ".gz");
    }

    #[test]
    fn kinds_are_told_by_their_bytes() {
        assert_eq!(detect(b"PK\x03\x04rest", "x.txt"), Some(Kind::Zip));
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0], "x"), Some(Kind::Gzip));
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd, 0], "x"), Some(Kind::Zstd));
        assert_eq!(detect(b"\xfd7zXZ\x00\x00", "x"), Some(Kind::Xz));
        // Text that starts like a bzip2 header is not one.
        assert_eq!(detect(b"BZh9 is what bzip2 writes first", "x"), None);
        assert_eq!(detect(b"plain text", "x.zip"), None);
        // A zip after a launch script, found by its name.
        let mut exec = b"#!/bin/sh\nexec java -jar \"$0\"\n".to_vec();
        exec.extend_from_slice(b"PK\x05\x06");
        exec.extend_from_slice(&[0; 18]);
        assert_eq!(detect(&exec, "app.jar"), Some(Kind::Zip));
        assert_eq!(detect(&exec, "app.sh"), None);
    }

    #[test]
    fn tar_headers_need_a_checksum_that_adds_up() {
        let mut h = vec![0u8; 512];
        h[..5].copy_from_slice(b"a.env");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&c| u32::from(c)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        assert!(is_tar_header(&h));
        h[0] = b'b';
        assert!(!is_tar_header(&h));
        assert!(!is_tar_header(&[b'a'; 100]));
    }
}
