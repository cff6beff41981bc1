//! Tidy tests: `cargo test` also checks the codebase itself (rust-analyzer's habit): the
//! layering, crate docs, the `rust-version` against the toolchain, the size of test files,
//! `--locked` in the `cargo xtask` alias, and (in `deps`) every dependency's license and
//! duplicate versions.

mod deps;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::project_root;

/// `cargo metadata` for the workspace, without external crates' details.
fn metadata() -> Value {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(project_root())
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata failed");
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// Workspace package name → the workspace packages it depends on (normal, dev and build).
fn workspace_dependencies() -> Vec<(String, BTreeSet<String>, BTreeSet<String>)> {
    let metadata = metadata();
    let packages = metadata["packages"].as_array().expect("packages");
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect();
    packages
        .iter()
        .map(|package| {
            let name = package["name"].as_str().expect("name").to_owned();
            let mut normal = BTreeSet::new();
            let mut dev = BTreeSet::new();
            for dep in package["dependencies"].as_array().expect("dependencies") {
                let dep_name = dep["name"].as_str().expect("dependency name");
                if !names.contains(dep_name) || dep_name == name {
                    continue;
                }
                if dep["kind"].as_str() == Some("dev") {
                    dev.insert(dep_name.to_owned());
                } else {
                    normal.insert(dep_name.to_owned());
                }
            }
            (name, normal, dev)
        })
        .collect()
}

/// Which workspace crates each crate may depend on (normal dependencies; dev-dependencies in
/// the second list). Dependencies point down the layers only; the emulator stays independent
/// of everything it checks.
const LAYERS: &[(&str, &[&str], &[&str])] = &[
    ("auth-core", &[], &[]),
    // The Redis store: the store seam of auth-core, nothing above it.
    ("auth-redis", &["auth-core"], &["auth-core"]),
    ("podero-auth", &["auth-core"], &["auth-core"]),
    ("poa-auth", &["auth-core"], &["auth-core"]),
    ("partner-emulator", &[], &[]),
    (
        "partner-sdk",
        &["auth-core", "podero-auth"],
        &[
            "auth-core",
            "auth-redis",
            "partner-emulator",
            "partner-sdk",
            "poa-auth",
            "podero-auth",
        ],
    ),
    (
        "partner-cli",
        &[
            "auth-core",
            "auth-redis",
            "partner-emulator",
            "partner-sdk",
            "poa-auth",
            "podero-auth",
        ],
        &[],
    ),
    // Test-only fleet suites and benchmarks: the top layer, like the CLI.
    (
        "fleet-tests",
        &[
            "auth-core",
            "auth-redis",
            "partner-emulator",
            "partner-sdk",
            "podero-auth",
        ],
        &["auth-core"],
    ),
    // Project automation runs cargo; it links none of the crates it checks.
    ("xtask", &[], &[]),
];

#[test]
fn dependencies_follow_the_layers() {
    let deps = workspace_dependencies();
    for (name, normal, dev) in &deps {
        let Some((_, allowed, allowed_dev)) = LAYERS.iter().find(|(layer, _, _)| layer == name)
        else {
            panic!("{name} is not in xtask's LAYERS table: add it with its allowed dependencies");
        };
        for dep in normal {
            assert!(
                allowed.contains(&dep.as_str()),
                "{name} must not depend on {dep}"
            );
        }
        for dep in dev {
            assert!(
                allowed_dev.contains(&dep.as_str()) || allowed.contains(&dep.as_str()),
                "{name} must not dev-depend on {dep}"
            );
        }
    }
    let auth_core = deps.iter().find(|(name, _, _)| name == "auth-core");
    assert!(
        auth_core.is_some_and(|(_, normal, dev)| normal.is_empty() && dev.is_empty()),
        "auth-core depends on no workspace crate"
    );
}

#[test]
fn every_crate_has_crate_docs() {
    let metadata = metadata();
    for package in metadata["packages"].as_array().expect("packages") {
        for target in package["targets"].as_array().expect("targets") {
            let kinds: Vec<&str> = target["kind"]
                .as_array()
                .expect("kind")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if !kinds.iter().any(|k| matches!(*k, "lib" | "bin")) {
                continue;
            }
            let path = target["src_path"].as_str().expect("src_path");
            let source = std::fs::read_to_string(path).expect("target source is readable");
            assert!(
                source.trim_start().starts_with("//!"),
                "{path} must start with a `//!` crate doc"
            );
        }
    }
}

/// `rustc -vV` of the toolchain running these tests: the `rustc` next to the `cargo` that
/// built them (rustup installs them side by side), else the one on `PATH`.
fn rustc_verbose() -> String {
    let beside_cargo = Path::new(env!("CARGO")).with_file_name("rustc");
    let rustc = if beside_cargo.exists() {
        beside_cargo
    } else {
        PathBuf::from("rustc")
    };
    let output = Command::new(&rustc)
        .arg("-vV")
        .current_dir(project_root())
        .output()
        .expect("rustc -vV runs");
    assert!(output.status.success(), "rustc -vV failed");
    String::from_utf8(output.stdout).expect("rustc -vV prints UTF-8")
}

/// `1.95` or `1.95.0` as `(1, 95, 0)`.
fn version_triple(version: &str) -> (u32, u32, u32) {
    let mut parts = version
        .split(['-', ' '])
        .next()
        .unwrap_or(version)
        .split('.')
        .map(|part| part.parse::<u32>().expect("a numeric version part"));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

/// The root `Cargo.toml` declares `rust-version` once, every crate inherits it (no crate claims
/// an older toolchain), and the toolchain running these tests (the one `cargo xtask verify`
/// builds and tests with) is at least that version: what is declared is what is verified.
#[test]
fn rust_version_is_the_verified_toolchain() {
    let metadata = metadata();
    let declared: BTreeSet<String> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|package| {
            let name = package["name"].as_str().expect("name");
            package["rust_version"]
                .as_str()
                .unwrap_or_else(|| {
                    panic!("{name} declares no rust-version: inherit the workspace's")
                })
                .to_owned()
        })
        .collect();
    assert_eq!(
        declared.len(),
        1,
        "every crate inherits the workspace's rust-version, found {declared:?}"
    );
    let declared = declared.into_iter().next().expect("one version");
    let verbose = rustc_verbose();
    let running = verbose
        .lines()
        .find_map(|line| line.strip_prefix("release: "))
        .expect("rustc -vV names its release");
    assert!(
        version_triple(running) >= version_triple(&declared),
        "rust-version is {declared}, but this toolchain is {running}: it cannot verify it"
    );
}

#[test]
fn versions_compare_numerically() {
    assert_eq!(version_triple("1.95"), (1, 95, 0));
    assert_eq!(version_triple("1.95.0"), (1, 95, 0));
    assert_eq!(version_triple("1.96.0-nightly"), (1, 96, 0));
    assert!(version_triple("1.100.0") > version_triple("1.95"));
}

/// The most lines a file under `crates/*/tests/` may have: past that, split it by area.
const TEST_FILE_LINES: usize = 600;

/// Test files allowed over [`TEST_FILE_LINES`], each with the reason. An entry that no longer
/// exists or fits fails the test, so the list only shrinks.
const LONG_TEST_FILES: &[(&str, &str)] = &[];

#[test]
fn test_files_stay_short() {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(project_root().join("crates")).expect("crates/") {
        let tests = entry.expect("crates/ entry").path().join("tests");
        if tests.is_dir() {
            rust_files(&tests, &mut files);
        }
    }
    assert!(
        !files.is_empty(),
        "no test files found under crates/*/tests"
    );
    let mut problems = Vec::new();
    for path in &files {
        let relative = path
            .strip_prefix(project_root())
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        let lines = std::fs::read_to_string(path)
            .expect("a readable test file")
            .lines()
            .count();
        let allowed = LONG_TEST_FILES.iter().any(|(file, _)| *file == relative);
        if lines > TEST_FILE_LINES && !allowed {
            problems.push(format!(
                "{relative}: {lines} lines, over {TEST_FILE_LINES}: split it by area"
            ));
        }
        if lines <= TEST_FILE_LINES && allowed {
            problems.push(format!(
                "{relative}: {lines} lines now: remove it from LONG_TEST_FILES"
            ));
        }
    }
    for (file, _) in LONG_TEST_FILES {
        if !project_root().join(file).exists() {
            problems.push(format!(
                "{file} no longer exists: remove it from LONG_TEST_FILES"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// `cargo xtask` builds xtask with `--locked`, like every cargo step of `verify`, so CI never
/// rewrites the lock file.
#[test]
fn the_xtask_alias_is_locked() {
    let config = std::fs::read_to_string(project_root().join(".cargo/config.toml"))
        .expect(".cargo/config.toml");
    let alias = config
        .lines()
        .find_map(|line| line.trim().strip_prefix("xtask = "))
        .expect("an xtask alias");
    assert!(
        alias.starts_with("\"run --locked "),
        "the xtask alias must start `run --locked`: {alias}"
    );
}
