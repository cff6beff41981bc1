//! `partner emulator`: serve both vendors on loopback until interrupted.

use std::time::Duration;

use partner_emulator::Emulator;

use super::print_line;
use crate::cli::EmulatorArgs;
use crate::error::{CliError, Code};

pub(crate) async fn run(args: EmulatorArgs) -> Result<(), CliError> {
    let emulator = Emulator::builder()
        .addr(args.addr)
        .podero_token_lifetime(Duration::from_secs(args.podero_token_lifetime))
        .poa_token_lifetime(Duration::from_secs(args.poa_token_lifetime))
        .start()
        .await
        .map_err(|e| {
            CliError::new(
                Code::Config,
                format!("cannot start the emulator on {}: {e}", args.addr),
                Some("choose another address with --addr 127.0.0.1:PORT"),
            )
        })?;
    let base = emulator.base_url();
    let podero = emulator.podero_credentials();
    let poa = emulator.poa_credentials();
    let org = emulator.org_id();
    let text = format!(
        "partner emulator: Podero and Cybrilla POA on {base} (Ctrl-C to stop)\n\
         \n\
         Podero org id       {org}\n\
         Podero client       {pid} / {psecret}\n\
         POA client          {aid} / {asecret}\n\
         controls            {base}/__emulator/ (see docs/testing.md)\n\
         \n\
         # In another terminal:\n\
         {exports}",
        pid = podero.client_id,
        psecret = podero.client_secret,
        aid = poa.client_id,
        asecret = poa.client_secret,
        exports = [
            ("PODERO_BASE_URL", base),
            ("PODERO_CLIENT_ID", &podero.client_id),
            ("PODERO_CLIENT_SECRET", &podero.client_secret),
            ("PODERO_ORG_ID", &org.to_string()),
            ("POA_BASE_URL", base),
            ("POA_CLIENT_ID", &poa.client_id),
            ("POA_CLIENT_SECRET", &poa.client_secret),
        ]
        .iter()
        .map(|(name, value)| format!("export {name}={}", shell_quote(value)))
        .collect::<Vec<_>>()
        .join("\n"),
    );
    print_line(&text)?;
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| CliError::internal(format!("cannot wait for Ctrl-C: {e}")))?;
    emulator.shutdown().await;
    Ok(())
}

/// Single-quotes a value for POSIX shells (`'` becomes `'\''`).
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn shell_quoting() {
        assert_eq!(super::shell_quote("abc"), "'abc'");
        assert_eq!(super::shell_quote("a'b"), r"'a'\''b'");
    }
}
