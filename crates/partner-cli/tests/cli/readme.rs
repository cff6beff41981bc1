//! Every `partner` command the README shows exists: the README's code blocks name
//! subcommands, and each one answers `--help` with success.
//!
//! Commands are the code-block lines starting with `partner ` or `cargo run -p partner-cli -- `
//! (optionally after `$ `); the words up to the first flag or placeholder are the subcommand
//! path.

use std::process::{Command, Stdio};

/// The subcommand paths of the `partner` lines in `readme`'s code blocks, deduplicated, in
/// order of appearance.
fn commands(readme: &str) -> Vec<Vec<String>> {
    let mut in_code = false;
    let mut found: Vec<Vec<String>> = Vec::new();
    for line in readme.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            continue;
        }
        let trimmed = trimmed.trim_start_matches("$ ");
        let rest = trimmed
            .strip_prefix("cargo run -p partner-cli -- ")
            .or_else(|| trimmed.strip_prefix("cargo run -q -p partner-cli -- "))
            .or_else(|| trimmed.strip_prefix("partner "));
        let Some(rest) = rest else {
            continue;
        };
        let path: Vec<String> = rest
            .split_whitespace()
            .take_while(|word| {
                word.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && word.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            })
            .map(str::to_owned)
            .collect();
        if !path.is_empty() && !found.contains(&path) {
            found.push(path);
        }
    }
    found
}

#[test]
fn extracts_subcommand_paths_from_code_blocks() {
    let readme = "\
partner demo outside a block is ignored
```sh
cargo run -p partner-cli -- demo
partner users create --email a@b.c
$ partner token --vendor podero
partner users get <USER_ID>
partner users create --email x
```
";
    assert_eq!(
        commands(readme),
        [
            vec!["demo"],
            vec!["users", "create"],
            vec!["token"],
            vec!["users", "get"]
        ]
    );
}

#[test]
fn every_command_the_readme_shows_exists() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md is readable");
    let commands = commands(&readme);
    assert!(!commands.is_empty(), "README.md shows no `partner` command");
    let missing: Vec<String> = commands
        .iter()
        .filter(|path| {
            !Command::new(env!("CARGO_BIN_EXE_partner"))
                .args(path.iter())
                .arg("--help")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("the partner binary runs")
                .success()
        })
        .map(|path| format!("partner {}", path.join(" ")))
        .collect();
    assert!(
        missing.is_empty(),
        "README commands that do not exist: {}",
        missing.join(", ")
    );
}
