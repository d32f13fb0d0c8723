//! Where bytes come from: file trees and standard input (`fs`), git history
//! and ranges (`git`), the staged index (`staged`); remote repositories are
//! mirrored with the system git (`remote`) and then read as git history. Each
//! source hands buffers with their provenance to `archive::scan`, which opens
//! the archives among them and passes everything else to
//! `scan::Scanner::scan_buffer`.

mod archive;
pub mod fs;
pub mod git;
mod index;
mod loose;
pub mod remote;
pub mod staged;
