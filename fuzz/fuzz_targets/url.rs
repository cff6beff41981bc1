#![no_main]
//! cargo-fuzz target `url`: the body is `harness::url::run` (see `fuzz/harness`).

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::url::run(data));
