//! Licenses and duplicate versions of every dependency, read from `cargo metadata` (no
//! network: `--offline`; the build before the tests has downloaded every package).
//!
//! The packages checked are those `cargo metadata --all-features --filter-platform <host>`
//! lists: everything the lock file resolves for the platform the tests run on, every feature
//! on, dev- and build-dependencies included. Packages only other platforms use (Windows,
//! wasm, Android: e.g. `windows-sys`, `schannel`, `webpki-root-certs`) are outside the check,
//! because `cargo metadata` must read the manifest of every package it lists and a build
//! downloads only the host's.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

use crate::project_root;

/// The licenses a dependency may be under (SPDX identifiers), with the packages that need
/// each one today. A package is allowed if its license expression holds with these (`OR`:
/// one side suffices; `AND`: both). Each entry must be needed by some package: the test
/// fails on an entry nothing needs any more.
const LICENSES: &[(&str, &str)] = &[
    ("MIT", "most crates (alone or as `MIT OR Apache-2.0`)"),
    (
        "Apache-2.0",
        "insta, similar, sync_wrapper, fragile, ciborium (criterion), openssl (feature \
         native-tls); ring and aws-lc with ISC",
    ),
    (
        "ISC",
        "rustls-webpki, untrusted; ring, aws-lc-rs and aws-lc-sys with Apache-2.0",
    ),
    (
        "BSD-3-Clause",
        "subtle; matchit (axum) and aws-lc-sys together with MIT",
    ),
    (
        "BSL-1.0",
        "xxhash-rust (redis: the key hashing of Redis Cluster slots)",
    ),
    (
        "Unicode-3.0",
        "the ICU4X crates behind url's IDNA (icu_*, zerovec, yoke, …) and unicode-ident",
    ),
];

/// Crates the lock file holds in more than one semver-incompatible version, with the
/// versions (`0.22`, `2`: cargo's compatibility ranges) and why. A crate in several versions
/// that is not listed fails the test, and so does an entry that no longer matches.
const DUPLICATES: &[(&str, &[&str], &str)] = &[
    (
        "base64",
        &["0.22", "0.23"],
        "wiremock 0.6 (tests only) uses 0.22; the libraries use 0.23",
    ),
    (
        "getrandom",
        &["0.2", "0.4"],
        "0.2 only through ring, which the lock file holds for quinn-proto's wasm target and \
         no host build compiles (`cargo tree -i ring` finds nothing); 0.4 through rand, \
         tempfile and uuid",
    ),
    (
        "syn",
        &["2", "3"],
        "proc-macro crates move to syn 3 one by one: async-trait, serde_derive, thiserror-impl, \
         clap_derive and tokio-macros are on 3; mockall_derive, tracing-attributes and \
         zerocopy-derive still on 2",
    ),
];

/// Every package `cargo metadata` lists for the host, as `(name, version, license)`.
fn packages() -> Vec<(String, String, Option<String>)> {
    let host = super::rustc_verbose()
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned();
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--offline",
            "--all-features",
            "--filter-platform",
            &host,
        ])
        .current_dir(project_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata --offline failed (it needs every package of the host downloaded: \
         `cargo fetch --locked --target {host}` does that):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata JSON");
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|package| {
            (
                package["name"].as_str().expect("name").to_owned(),
                package["version"].as_str().expect("version").to_owned(),
                package["license"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn every_dependency_has_an_allowed_license() {
    let packages = packages();
    let allowed: BTreeSet<&str> = LICENSES.iter().map(|(license, _)| *license).collect();
    let mut refused = Vec::new();
    for (name, version, license) in &packages {
        match license {
            None => refused.push(format!(
                "{name} {version}: no SPDX `license` in its manifest"
            )),
            Some(expression) => match satisfied(expression, &|id| allowed.contains(id)) {
                Ok(true) => {}
                Ok(false) => refused.push(format!("{name} {version}: {expression}")),
                Err(error) => refused.push(format!("{name} {version}: {expression:?}: {error}")),
            },
        }
    }
    assert!(
        refused.is_empty(),
        "licenses outside the allow-list (xtask/src/tidy/deps.rs, LICENSES):\n  {}",
        refused.join("\n  ")
    );
    // Each entry is needed: without it, some package would be refused.
    for (license, _) in LICENSES {
        let needed = packages.iter().any(|(_, _, expression)| {
            expression.as_deref().is_some_and(|expression| {
                satisfied(expression, &|id| id != *license && allowed.contains(id)) == Ok(false)
            })
        });
        assert!(
            needed,
            "no dependency needs {license} any more: remove it from LICENSES"
        );
    }
}

#[test]
fn duplicate_versions_are_the_listed_ones() {
    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, version, _) in packages() {
        versions
            .entry(name)
            .or_default()
            .insert(compatibility_range(&version));
    }
    let mut problems = Vec::new();
    for (name, ranges) in &versions {
        let listed = DUPLICATES.iter().find(|(listed, _, _)| listed == name);
        match listed {
            Some((_, listed_ranges, _)) => {
                let listed_ranges: BTreeSet<String> =
                    listed_ranges.iter().map(|r| (*r).to_owned()).collect();
                if &listed_ranges != ranges {
                    problems.push(format!(
                        "{name}: the lock file has {ranges:?}, DUPLICATES lists {listed_ranges:?}"
                    ));
                }
            }
            None if ranges.len() > 1 => problems.push(format!(
                "{name} in several versions {ranges:?}: unify them, or list them in DUPLICATES \
                 with the reason"
            )),
            None => {}
        }
    }
    for (name, _, _) in DUPLICATES {
        if !versions.contains_key(*name) {
            problems.push(format!(
                "{name} is no longer a dependency: remove it from DUPLICATES"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "duplicate versions (xtask/src/tidy/deps.rs):\n  {}",
        problems.join("\n  ")
    );
}

/// Cargo's semver-compatibility range of a version: `0.22.1` → `0.22`, `2.0.119` → `2`,
/// `0.0.3` → `0.0.3`.
fn compatibility_range(version: &str) -> String {
    let core = version.split(['-', '+']).next().unwrap_or(version);
    let parts: Vec<&str> = core.split('.').collect();
    match parts.as_slice() {
        ["0", "0", patch, ..] => format!("0.0.{patch}"),
        ["0", minor, ..] => format!("0.{minor}"),
        [major, ..] => (*major).to_owned(),
        [] => version.to_owned(),
    }
}

/// Whether the SPDX license `expression` holds when the identifiers for which `allowed` is
/// true are allowed. `OR` binds looser than `AND`; parentheses group; `A WITH B` is one
/// identifier; the old `A/B` form means `A OR B`.
fn satisfied(expression: &str, allowed: &dyn Fn(&str) -> bool) -> Result<bool, String> {
    let spaced = expression
        .replace('(', " ( ")
        .replace(')', " ) ")
        .replace('/', " OR ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut parser = Parser {
        tokens: &tokens,
        at: 0,
        allowed,
    };
    let value = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(value),
        Some(token) => Err(format!("unexpected {token:?}")),
    }
}

struct Parser<'a> {
    tokens: &'a [&'a str],
    at: usize,
    allowed: &'a dyn Fn(&str) -> bool,
}

impl Parser<'_> {
    fn next_is(&self, token: &str) -> bool {
        self.tokens.get(self.at) == Some(&token)
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut value = self.and()?;
        while self.next_is("OR") {
            self.at += 1;
            value |= self.and()?;
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut value = self.license()?;
        while self.next_is("AND") {
            self.at += 1;
            value &= self.license()?;
        }
        Ok(value)
    }

    fn license(&mut self) -> Result<bool, String> {
        let token = *self.tokens.get(self.at).ok_or("a license is missing")?;
        self.at += 1;
        if token == "(" {
            let value = self.or()?;
            if !self.next_is(")") {
                return Err("a `)` is missing".to_owned());
            }
            self.at += 1;
            return Ok(value);
        }
        if matches!(token, ")" | "AND" | "OR" | "WITH") {
            return Err(format!("unexpected {token:?}"));
        }
        if self.next_is("WITH") {
            let exception = *self
                .tokens
                .get(self.at + 1)
                .ok_or("an exception is missing")?;
            self.at += 2;
            return Ok((self.allowed)(&format!("{token} WITH {exception}")));
        }
        Ok((self.allowed)(token))
    }
}

#[test]
fn license_expressions_evaluate_as_spdx_says() {
    let allowed = |id: &str| matches!(id, "MIT" | "Apache-2.0" | "ISC");
    let cases = [
        ("MIT", Ok(true)),
        ("GPL-3.0", Ok(false)),
        ("MIT OR GPL-3.0", Ok(true)),
        ("MIT AND GPL-3.0", Ok(false)),
        ("MIT/Apache-2.0", Ok(true)),
        ("Apache-2.0 WITH LLVM-exception OR MIT", Ok(true)),
        ("Apache-2.0 WITH LLVM-exception", Ok(false)),
        ("ISC AND (Apache-2.0 OR GPL-3.0)", Ok(true)),
        ("(MIT OR Apache-2.0) AND BSD-3-Clause", Ok(false)),
        ("MIT OR", Err("a license is missing".to_owned())),
        ("(MIT", Err("a `)` is missing".to_owned())),
    ];
    for (expression, expected) in cases {
        assert_eq!(satisfied(expression, &allowed), expected, "{expression}");
    }
}

#[test]
fn compatibility_ranges_follow_cargo() {
    for (version, range) in [
        ("0.22.1", "0.22"),
        ("2.0.119", "2"),
        ("0.0.3", "0.0.3"),
        ("0.11.1+wasi-snapshot-preview1", "0.11"),
        ("1.0.0-rc.1", "1"),
    ] {
        assert_eq!(compatibility_range(version), range, "{version}");
    }
}
