//! One module per subcommand.

pub(crate) mod demo;
pub(crate) mod emulator;
pub(crate) mod token;
pub(crate) mod users;

use std::io::Write as _;

use futures_util::{Stream, TryStreamExt as _};
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

/// Prints the items of a paged stream as one pretty JSON array, page by page, so memory stays
/// bounded by one page whatever the length of the list. Nothing is printed before the first
/// page arrived; an error after it ends the array early (the output is then not valid JSON)
/// and is returned; a closed pipe ends the listing quietly.
pub(crate) async fn print_stream<T, S>(pages: S) -> Result<(), CliError>
where
    T: Serialize,
    S: Stream<Item = Result<Vec<T>, CliError>>,
{
    let mut pages = std::pin::pin!(pages);
    let mut first = true;
    let mut out = Output::new();
    let mut opened = false;
    while let Some(page) = pages.try_next().await? {
        if !opened {
            out.write("[")?;
            opened = true;
        }
        for item in page {
            let text = serde_json::to_string_pretty(&item).map_err(|e| {
                CliError::internal(format!("cannot format the answer as JSON: {e}"))
            })?;
            let indented = text.replace('\n', "\n  ");
            out.write(if first { "\n  " } else { ",\n  " })?;
            out.write(&indented)?;
            first = false;
        }
        out.flush()?;
        if out.closed {
            return Ok(());
        }
    }
    if !opened {
        out.write("[")?;
    }
    out.write(if first { "]\n" } else { "\n]\n" })?;
    out.flush()
}

/// Buffered stdout that treats a closed pipe as the end of the listing.
struct Output {
    stdout: std::io::BufWriter<std::io::Stdout>,
    closed: bool,
}

impl Output {
    fn new() -> Self {
        Self {
            stdout: std::io::BufWriter::new(std::io::stdout()),
            closed: false,
        }
    }

    fn write(&mut self, text: &str) -> Result<(), CliError> {
        if self.closed {
            return Ok(());
        }
        let result = self.stdout.write_all(text.as_bytes());
        self.result(result)
    }

    fn flush(&mut self) -> Result<(), CliError> {
        if self.closed {
            return Ok(());
        }
        let result = self.stdout.flush();
        self.result(result)
    }

    fn result(&mut self, result: std::io::Result<()>) -> Result<(), CliError> {
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(CliError::internal(format!("cannot write to stdout: {e}"))),
            Ok(()) => Ok(()),
        }
    }
}
