#![no_main]
//! cargo-fuzz target `emulator_request`: the body is `harness::emulator_request::run` (see `fuzz/harness`).

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::emulator_request::run(data));
