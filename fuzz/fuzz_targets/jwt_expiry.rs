#![no_main]
//! cargo-fuzz target `jwt_expiry`: the body is `harness::jwt_expiry::run` (see `fuzz/harness`).

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::jwt_expiry::run(data));
