//! `cargo xtask readme`: every `partner` command the README shows must exist.
//!
//! Commands are taken from the README's code blocks: lines starting with `partner ` or
//! `cargo run -p partner-cli -- `. The words up to the first flag or placeholder are the
//! subcommand path, which must answer `--help` with success.

use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::project_root;

/// The subcommand paths of the `partner` lines in `readme`'s code blocks, deduplicated.
pub(crate) fn commands(readme: &str) -> Vec<Vec<String>> {
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

pub(crate) fn run() -> Result<()> {
    let root = project_root();
    let readme = std::fs::read_to_string(root.join("README.md")).context("reading README.md")?;
    let commands = commands(&readme);
    if commands.is_empty() {
        bail!("README.md shows no `partner` command");
    }
    let mut missing = Vec::new();
    for path in &commands {
        let status = Command::new("cargo")
            .args(["run", "--quiet", "--package", "partner-cli", "--"])
            .args(path)
            .arg("--help")
            .current_dir(&root)
            .stdout(std::process::Stdio::null())
            .status()
            .context("running cargo run -p partner-cli")?;
        if !status.success() {
            missing.push(path.join(" "));
        }
    }
    if !missing.is_empty() {
        bail!(
            "README commands that do not exist: partner {}",
            missing.join(", partner ")
        );
    }
    println!(
        "readme: {} `partner` commands checked, all exist",
        commands.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::commands;

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
}
