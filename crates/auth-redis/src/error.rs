//! Turning redis-rs errors into [`StoreError`]s that are safe to log.
//!
//! A redis-rs error's text can carry what the server or the connection said: a server's
//! error detail, an address, in principle a URL. None of it is copied: the message is made
//! of fixed words chosen by the error's kind, plus the server's error code (one upper-case
//! word such as `WRONGTYPE` or `CLUSTERDOWN`), so no password and no stored value can reach
//! a log through it.

use std::time::Duration;

use auth_core::store::StoreError;
use redis::{ErrorKind, RedisError};

/// The scrubbed [`StoreError`] for `error`; `timeout` is what a timeout is reported as.
pub(crate) fn scrub(error: &RedisError, timeout: Duration) -> StoreError {
    if error.is_timeout() {
        return StoreError::Timeout(timeout);
    }
    let what = if error.is_connection_refusal() {
        "connection refused"
    } else if error.is_connection_dropped() {
        "connection dropped"
    } else if error.is_io_error() {
        "I/O error"
    } else {
        match error.kind() {
            ErrorKind::AuthenticationFailed => "authentication failed",
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType => "unexpected reply",
            ErrorKind::InvalidClientConfig => "invalid client configuration",
            ErrorKind::ClusterConnectionNotFound => "no connection to a cluster node",
            ErrorKind::Server(_) => "server error",
            _ => "client error",
        }
    };
    match error.code().filter(|code| is_error_code(code)) {
        Some(code) => StoreError::Unavailable(format!("redis: {what} {code}")),
        None => StoreError::Unavailable(format!("redis: {what}")),
    }
}

/// Whether `code` looks like a Redis error code (`ERR`, `WRONGTYPE`, `NOSCRIPT`, ...): one
/// short upper-case word, nothing a server could smuggle a value in.
fn is_error_code(code: &str) -> bool {
    (1..=24).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_hold_fixed_words_and_codes_only() {
        let server = RedisError::from((
            ErrorKind::Server(redis::ServerErrorKind::ResponseError),
            "detail",
            "the value s3cr3t at redis://:hunter2@host".to_owned(),
        ));
        let text = scrub(&server, Duration::from_secs(1)).to_string();
        assert!(
            !text.contains("s3cr3t") && !text.contains("hunter2"),
            "{text}"
        );
        let io = RedisError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "redis://:hunter2@host",
        ));
        let text = scrub(&io, Duration::from_secs(1)).to_string();
        assert_eq!(
            text,
            "the token store is unavailable: redis: connection refused"
        );
        assert!(is_error_code("WRONGTYPE"));
        assert!(!is_error_code("wrongtype"));
        assert!(!is_error_code("ERR with spaces"));
    }
}
