#![no_main]
//! cargo-fuzz target `error_response`: the body is `harness::error_response::run` (see `fuzz/harness`).

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::error_response::run(data));
