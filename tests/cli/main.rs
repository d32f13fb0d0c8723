//! The integration tests: one binary, one module per concern.

mod git;
mod hook;
mod staged;
mod util;
