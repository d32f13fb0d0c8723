//! Ctrl-C and SIGTERM, caught by the commands that can stop early and still
//! report what they did (`scan`, `verify`, `revoke`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Ctrl-C and SIGTERM (what CI sends on cancel), caught once per run: the
/// first stops the scan or the verification and the report of what was done
/// is still written; a second one exits at once (status 130, as the signal
/// would have), the one exit outside `main`.
pub(crate) fn catch_interrupts(quiet: bool) -> Arc<AtomicBool> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupt);
    let installed = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    if installed.is_err() && !quiet {
        eprintln!("leakhound: warning: cannot catch Ctrl-C; interrupting loses the report");
    }
    interrupt
}
