//! The fuzz corpus, replayed on stable: every committed input of every cargo-fuzz target
//! (`fuzz/corpus/<target>/`) and every crash the fuzzer found (`fuzz/regressions/<target>/`)
//! runs through the same harness the fuzzer runs (`fuzz/harness`, included by path), so that
//! `cargo test` covers the parsers with the fuzzer's inputs without nightly or cargo-fuzz.
//!
//! It lives in this crate because its dev-dependencies already reach every parsed surface:
//! auth-core, poa-auth, podero-auth, partner-sdk itself and partner-emulator.
// Test code: a failed unwrap or a panic is a failed test (the harness asserts by panicking).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

#[path = "../../../../fuzz/harness/mod.rs"]
mod harness;

/// The `fuzz/` directory.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files directly in `dir` (none if it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every corpus and regression input of `target`; returns how many ran.
fn replay(target: &str) -> usize {
    let (_, run) = harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no harness for {target}"));
    let corpus = files(&fuzz_dir().join("corpus").join(target));
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{target} is empty: commit a minimised corpus (cargo fuzz cmin {target})"
    );
    let regressions = files(&fuzz_dir().join("regressions").join(target));
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", path.display());
    }
    corpus.len() + regressions.len()
}

/// `FUZZ_TARGET=<target> FUZZ_INPUT=<file> cargo test -p partner-sdk --test fuzz_replay
/// one_input -- --nocapture` runs one file (a crash cargo-fuzz just wrote, say) through a
/// harness on stable, where a debugger and backtraces work as usual. Without them, nothing.
#[test]
fn one_input() {
    let (Some(target), Some(input)) = (
        std::env::var_os("FUZZ_TARGET"),
        std::env::var_os("FUZZ_INPUT"),
    ) else {
        return;
    };
    let target = target.to_string_lossy();
    let (_, run) = harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no harness for {target}"));
    run(&std::fs::read(input).unwrap());
}

macro_rules! replay_tests {
    ($($target:ident),* $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target));
            }
        )*

        #[test]
        fn every_target_is_replayed() {
            let mut tested = vec![$(stringify!($target)),*];
            let mut targets: Vec<&str> = harness::TARGETS.iter().map(|(name, _)| *name).collect();
            tested.sort_unstable();
            targets.sort_unstable();
            assert_eq!(tested, targets);
            let mut on_disk: Vec<String> = files(&fuzz_dir().join("fuzz_targets"))
                .iter()
                .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
                .collect();
            on_disk.sort_unstable();
            assert_eq!(on_disk, targets, "every fuzz target has a harness and a replay");
        }
    };
}

replay_tests!(
    emulator_request,
    env_config,
    error_response,
    jwt_expiry,
    redactor,
    retry_after,
    token_response,
    url,
    users_page,
);
