#![no_main]
//! cargo-fuzz target `redactor`: the body is `harness::redactor::run` (see `fuzz/harness`).

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::redactor::run(data));
