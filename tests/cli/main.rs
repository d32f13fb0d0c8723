//! Integration tests through the real `leakhound` binary. One test binary
//! with modules, so it links once.

mod util;

mod bad_input;
mod fake_provider;
mod progress;
mod report;
mod revoke;
mod rules;
mod scan;
mod verify;
