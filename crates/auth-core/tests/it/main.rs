//! auth-core's integration tests: one binary, one module per concern.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cache;
mod cache_model;
mod cache_runtimes;
mod cache_timing;
mod exchange;
mod file_store;
mod parsing;
mod published;
mod secrets;
mod support;
