//! `cargo xtask fixtures`: the vendor fixture replay, as the named entry point.
//!
//! The replay itself is a test in each vendor crate, `fixtures::replay` (in
//! `crates/podero-auth/tests/podero/fixtures.rs` and `crates/poa-auth/tests/poa/fixtures.rs`),
//! so `cargo test` runs it too. This runs exactly those two tests and adds up the fixtures
//! each one reports having replayed (`fixture replay: <vendor>: <n> fixtures …`). Each test
//! fails unless it replayed every `*.json` file of its directory.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;

use anyhow::{Context as _, Result, bail};

use crate::cargo;

/// `cargo test …`: the two fixture tests and nothing else, their output shown.
pub(crate) const ARGS: &[&str] = &[
    "test",
    "--locked",
    "--package",
    "podero-auth",
    "--package",
    "poa-auth",
    "--test",
    "podero",
    "--test",
    "poa",
    "--",
    "--exact",
    "fixtures::replay",
    "--nocapture",
];

/// The line each replay test prints when every fixture matched.
const REPORT: &str = "fixture replay: ";

pub(crate) fn run() -> Result<()> {
    println!("$ cargo {}", ARGS.join(" "));
    let mut child = cargo(ARGS)
        .stdout(Stdio::piped())
        .spawn()
        .context("running cargo test")?;
    let stdout = child
        .stdout
        .take()
        .context("capturing cargo test's output")?;
    let mut counts = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo test's output")?;
        println!("{line}");
        if let Some(report) = line.strip_prefix(REPORT) {
            counts.push(parse_report(report)?);
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    if !status.success() {
        bail!(
            "the fixture replay failed: `cargo {}` exited with {status}",
            ARGS.join(" ")
        );
    }
    if counts.len() != 2 {
        bail!(
            "expected a count from each vendor's replay test (podero, poa), got {counts:?}: \
             did a test stop printing `{REPORT}<vendor>: <n> fixtures`?"
        );
    }
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let each: Vec<String> = counts
        .iter()
        .map(|(vendor, n)| format!("{vendor} {n}"))
        .collect();
    println!(
        "fixtures: {total} replayed ({}), all match",
        each.join(", ")
    );
    Ok(())
}

/// `podero: 9 fixtures (2 requests, 7 responses), all match` → `("podero", 9)`.
fn parse_report(report: &str) -> Result<(String, usize)> {
    let parsed = report.split_once(": ").and_then(|(vendor, rest)| {
        let n = rest.split_whitespace().next()?.parse().ok()?;
        Some((vendor.to_owned(), n))
    });
    parsed.with_context(|| format!("unexpected replay report {report:?}"))
}

#[cfg(test)]
mod tests {
    use super::parse_report;

    #[test]
    fn reads_the_count_of_a_replay_report() {
        assert_eq!(
            parse_report("podero: 9 fixtures (2 requests, 7 responses), all match").unwrap(),
            ("podero".to_owned(), 9)
        );
        assert!(parse_report("podero: many").is_err());
    }
}
