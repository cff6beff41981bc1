#![no_main]
//! cargo-fuzz target `users_page`: the body is `harness::users_page::run` (see `fuzz/harness`).

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::users_page::run(data));
