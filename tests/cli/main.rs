//! Integration tests through the real `leakhound` binary. One test binary
//! with modules, so it links once.

mod util;

mod action;
mod bad_input;
mod baseline;
mod config;
mod formats;
mod report;
mod rules;
mod scan;
