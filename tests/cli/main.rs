//! Integration tests through the real `leakhound` binary. One test binary
//! with modules, so it links once.

mod gitutil;
mod util;

mod accuracy;
mod action;
mod archive;
mod audit;
mod bad_input;
mod baseline;
mod breadth;
mod confidence;
mod config;
mod config_check;
mod docs_examples;
mod exposure;
mod fake_provider;
mod flags;
mod formats;
mod fuzz;
mod git;
mod git_scale;
mod hardening_audit;
mod hardening_data;
mod hardening_git;
mod hardening_sources;
mod hardening_trust;
mod hook;
mod html;
mod layering;
mod progress;
mod release;
mod report;
mod revoke;
mod rules;
mod scan;
mod selfscan;
mod staged;
mod verify;
mod verify_hosts;
mod verify_limits;
mod verify_paired;
mod verify_specs;
