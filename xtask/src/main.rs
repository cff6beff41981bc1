//! Project automation, run as `cargo xtask <command>` (see `.cargo/config.toml`).
//!
//! - `verify`: every check CI runs, in order, stopping at the first failure.
//! - `fixtures`: the vendor fixture replay (a step of `verify`).
//! - `readme`: the README's `partner` commands exist (a step of `verify`).
//! - `redis`: installs `redis-server` if it is missing (a step of `verify`, before the tests).
//!
//! Shell calls read like the commands a person would type; each step says what it runs.

// xtask is a command-line tool: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]
// xtask times its steps on the wall clock; the one-clock rule is for the libraries.
#![allow(clippy::disallowed_methods)]

mod fixtures;
mod readme;
mod redis;
mod verify;

#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const HELP: &str = "\
usage: cargo xtask <command>

commands:
  verify    fmt, clippy (warnings denied), tests, docs (warnings denied), fixture checks
  fixtures  replay fixtures/<vendor>/ through the adapters (INSTA_UPDATE=always to accept
            new snapshots)
  readme    check that every `partner` command the README shows exists
  redis     make sure redis-server and redis-cli are installed (apt-get install -y
            redis-server when root), for the Redis tests
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("verify") => verify::run(),
        Some("fixtures") => fixtures::run(),
        Some("readme") => readme::run(),
        Some("redis") => redis::run(),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => {
            eprint!("unknown command `{other}`\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
