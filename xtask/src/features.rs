//! `cargo xtask features`: each workspace crate compiles with each of its features alone,
//! with none, and with all (what `cargo hack check --each-feature` does, without installing
//! it). One `cargo check --locked` per combination: compile checks of the libraries and
//! binaries, no tests and no code generation, so the step stays short.
//!
//! The crates and their features come from `cargo metadata`; `default` is not a combination
//! of its own (it is a set of features each checked alone). A crate without features gets one
//! check. Every combination runs even after a failure, and the failures are listed at the end.

use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use crate::cargo;

pub(crate) fn run() -> Result<()> {
    let started = Instant::now();
    let crates = workspace_features()?;
    let checks = checks(&crates);
    let mut failed = Vec::new();
    for args in &checks {
        let command = format!("cargo {}", args.join(" "));
        println!("$ {command}");
        let check_started = Instant::now();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let status = cargo(&args)
            .status()
            .with_context(|| format!("could not run `{command}`"))?;
        let outcome = if status.success() { "ok" } else { "FAILED" };
        println!(
            "  {outcome} in {:.1}s",
            check_started.elapsed().as_secs_f64()
        );
        if !status.success() {
            failed.push(command);
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} feature combinations do not compile:\n  {}",
            failed.len(),
            checks.len(),
            failed.join("\n  ")
        );
    }
    println!(
        "features: {} combinations of {} crates compile, in {:.1}s",
        checks.len(),
        crates.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Each workspace crate and its features other than `default`, sorted, from `cargo metadata`.
fn workspace_features() -> Result<Vec<(String, Vec<String>)>> {
    let output = cargo(&["metadata", "--locked", "--format-version", "1", "--no-deps"])
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata prints JSON")?;
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata lists packages")?;
    let mut crates: Vec<(String, Vec<String>)> = packages
        .iter()
        .map(|package| {
            let name = package["name"].as_str().unwrap_or_default().to_owned();
            let mut features: Vec<String> = package["features"]
                .as_object()
                .map(|features| {
                    features
                        .keys()
                        .filter(|feature| *feature != "default")
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            features.sort();
            (name, features)
        })
        .collect();
    crates.sort();
    Ok(crates)
}

/// The `cargo check` arguments for each combination of each crate.
fn checks(crates: &[(String, Vec<String>)]) -> Vec<Vec<String>> {
    let mut checks = Vec::new();
    for (name, features) in crates {
        let check = |extra: &[&str]| -> Vec<String> {
            ["check", "--locked", "--package", name]
                .iter()
                .chain(extra)
                .map(|arg| (*arg).to_owned())
                .collect()
        };
        if features.is_empty() {
            checks.push(check(&[]));
            continue;
        }
        checks.push(check(&["--no-default-features"]));
        for feature in features {
            checks.push(check(&["--no-default-features", "--features", feature]));
        }
        checks.push(check(&["--all-features"]));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::checks;

    #[test]
    fn each_feature_alone_none_and_all() {
        let crates = [
            ("plain".to_owned(), vec![]),
            ("lib".to_owned(), vec!["a".to_owned(), "b".to_owned()]),
        ];
        let commands: Vec<String> = checks(&crates)
            .into_iter()
            .map(|args| args.join(" "))
            .collect();
        assert_eq!(
            commands,
            [
                "check --locked --package plain",
                "check --locked --package lib --no-default-features",
                "check --locked --package lib --no-default-features --features a",
                "check --locked --package lib --no-default-features --features b",
                "check --locked --package lib --all-features",
            ]
        );
    }
}
