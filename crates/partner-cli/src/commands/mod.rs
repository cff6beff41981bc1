//! One module per subcommand.

pub(crate) mod demo;
pub(crate) mod emulator;
pub(crate) mod token;
pub(crate) mod users;

use std::io::Write as _;

use serde::Serialize;

use crate::error::CliError;

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::internal(format!("cannot format the answer as JSON: {e}")))?;
    print_line(&text)
}

/// Prints a line on stdout; a closed pipe (`partner users list | head`) is not an error.
pub(crate) fn print_line(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::internal(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}
