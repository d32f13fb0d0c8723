//! Integration tests through the real `leakhound` binary. One test binary
//! with modules, so it links once.

mod gitutil;
mod util;

mod action;
mod bad_input;
mod baseline;
mod config;
mod fake_provider;
mod formats;
mod git;
mod hook;
mod progress;
mod provider_tables;
mod report;
mod revoke;
mod rules;
mod scan;
mod staged;
mod verify;
