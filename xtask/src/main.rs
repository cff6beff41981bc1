//! Project automation, run as `cargo xtask <command>` (see `.cargo/config.toml`).
//!
//! - `verify`: every check CI runs, in order, stopping at the first failure.
//! - `features`: each crate compiles with each of its features alone, none and all (a step of
//!   `verify`).
//! - `fixtures`: the vendor fixture replay tests, alone (`verify`'s test step runs them too).
//! - `interop-env`: the Python virtualenv with the real django-oauth-toolkit that the interop
//!   tests run (a step of `verify`, before the tests).
//!
//! The tidy tests (`cargo test -p xtask`, `tidy.rs`) check the codebase itself.
//! - `redis`: installs `redis-server` if it is missing (a step of `verify`, before the tests).
//!
//! Shell calls read like the commands a person would type; each step says what it runs.

// xtask is a command-line tool: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]
// xtask times its steps on the wall clock; the one-clock rule is for the libraries.
#![allow(clippy::disallowed_methods)]

mod features;
mod fixtures;
mod interop;
mod redis;
mod verify;

#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const HELP: &str = "\
usage: cargo xtask <command>

commands:
  verify    fmt, clippy (warnings denied), the feature matrix, tests (tidy tests, fixture
            replay and README check included), docs (warnings denied); all with --locked
  features  cargo check each crate with each feature alone, with none and with all
  fixtures  run the vendor fixture replay tests and count the fixtures replayed
            (INSTA_UPDATE=always to accept new snapshots)
  interop-env
            build (or check) the Python virtualenv with django-oauth-toolkit the interop
            tests run
  redis     make sure redis-server and redis-cli are installed (apt-get install -y
            redis-server when root), for the Redis tests
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("verify") => verify::run(),
        Some("features") => features::run(),
        Some("fixtures") => fixtures::run(),
        Some("interop-env") => interop::run(),
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

/// `cargo <args>`, run in the workspace root.
fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command.args(args).current_dir(project_root());
    command
}

/// The workspace root.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
