//! `partner`: the whole workspace from a terminal.
//!
//! - `partner demo`: Podero and POA flows against the embedded emulator, no setup needed.
//! - `partner emulator`: serve the emulator and print the environment to use it.
//! - `partner token --vendor podero|poa`: fetch a token with credentials from the environment.
//! - `partner users list|get|create|update|delete`: the Podero users API.
//!
//! Exit codes: 0 success, 2 usage or configuration error, 3 credentials rejected by the token
//! endpoint, 4 API error response, 5 network or transient failure after retries.

mod cli;
mod commands;
mod config;
mod error;
mod store;

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap prints help and version to stdout (exit 0), usage errors to stderr (exit 2).
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return report(&CliError::internal(format!(
                "cannot start the runtime: {error}"
            )));
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    if let Some(url) = &cli.base_url {
        // Checked here, so the error names the flag rather than the variable it overrides.
        auth_core::url::parse_base_url(url, "--base-url")?;
    }
    let overrides = config::Overrides {
        base_url: cli.base_url,
        org_id: cli.org_id,
        no_token_cache: cli.no_token_cache,
        redis_url: cli.redis_url,
    };
    match cli.command {
        Command::Demo => commands::demo::run().await,
        Command::Emulator(args) => commands::emulator::run(args).await,
        Command::Token(args) => commands::token::run(args, &overrides).await,
        Command::Users(args) => commands::users::run(args, &overrides).await,
    }
}

/// Prints the error (one or two lines on stderr, escaped and bounded: nothing a server sent can
/// forge a line or drive the terminal) and returns its exit code.
fn report(error: &CliError) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(
        stderr,
        "error: {}",
        auth_core::redact::sanitize(&error.message, 2_000)
    );
    if let Some(hint) = &error.hint {
        let _ = writeln!(stderr, "hint: {}", auth_core::redact::sanitize(hint, 500));
    }
    ExitCode::from(error.code as u8)
}

/// `RUST_LOG` turns on tracing output on stderr; by default there is none, so a failure
/// prints only its `error:` and `hint:` lines.
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
