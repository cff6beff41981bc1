#![no_main]
//! cargo-fuzz target `token_response`: the body is `harness::token_response::run` (see `fuzz/harness`).

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::token_response::run(data));
