//! Integration tests through the real `leakhound` binary. One test binary
//! with modules, so it links once.

mod util;

mod fake_provider;
mod verify;
