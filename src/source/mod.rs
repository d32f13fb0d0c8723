//! Where bytes come from: file trees and standard input (`fs`), git history
//! and ranges (`git`), the staged index (`staged`). Each source hands buffers
//! with their provenance to `scan::Scanner::scan_buffer`.

pub mod fs;
pub mod git;
mod loose;
pub mod staged;
