//! Where bytes come from: file trees and standard input (`fs`). Each source
//! hands buffers with their provenance to `scan::Scanner::scan_buffer`.

pub mod fs;
