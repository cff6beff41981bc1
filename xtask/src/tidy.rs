//! Tidy tests: `cargo test` also checks the codebase itself (rust-analyzer's habit).

use std::collections::BTreeSet;
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
    ("xtask", &["auth-core", "poa-auth", "podero-auth"], &[]),
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

/// The credentials the vendors' documents use as placeholders: the only ones fixtures may hold.
const PLACEHOLDERS: [&str; 4] = [
    "your_client_id",
    "your_client_secret",
    "<client_id>",
    "<client_secret>",
];

#[test]
fn fixtures_hold_only_the_documented_placeholder_credentials() {
    use crate::fixtures::{Vendor, files, read_json};
    let mut seen = 0;
    for vendor in Vendor::ALL {
        for path in files(vendor, "").expect("fixture directory") {
            let fixture = read_json(&path).expect("fixture JSON");
            let label = path.display().to_string();
            // Configured credentials.
            for key in ["client_id", "client_secret"] {
                if let Some(value) = fixture["config"][key].as_str() {
                    assert!(
                        PLACEHOLDERS.contains(&value),
                        "{label}: config.{key} {value:?}"
                    );
                    seen += 1;
                }
            }
            // Credentials on the wire: the Basic header and form pairs.
            if let Some(basic) = fixture["request"]["headers"]["authorization"].as_str() {
                let encoded = basic.strip_prefix("Basic ").expect("Basic header");
                let decoded =
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
                        .map(|bytes| String::from_utf8(bytes).expect("UTF-8 credentials"))
                        .expect("base64 credentials");
                let (id, secret) = decoded.split_once(':').expect("id:secret");
                assert!(PLACEHOLDERS.contains(&id), "{label}: Basic id {id:?}");
                assert!(
                    PLACEHOLDERS.contains(&secret),
                    "{label}: Basic secret {secret:?}"
                );
            }
            if let Some(pairs) = fixture["request"]["body"]["form"].as_array() {
                for pair in pairs {
                    let (key, value) = (
                        pair[0].as_str().expect("key"),
                        pair[1].as_str().expect("value"),
                    );
                    if key.starts_with("client_") {
                        assert!(
                            PLACEHOLDERS.contains(&value),
                            "{label}: form {key}={value:?}"
                        );
                    }
                }
            }
        }
    }
    assert!(
        seen > 0,
        "no fixture credentials found: is fixtures/ empty?"
    );
}
