#![no_main]
//! cargo-fuzz target `env_config`: the body is `harness::env_config::run` (see `fuzz/harness`).

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::env_config::run(data));
