#![no_main]
//! cargo-fuzz target `retry_after`: the body is `harness::retry_after::run` (see `fuzz/harness`).

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::retry_after::run(data));
