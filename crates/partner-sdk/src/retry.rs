//! Which failed API calls may be sent again: the classification half of the retry split
//! (the policy is `auth_core::RetryPolicy`, the loop is `AuthenticatedClient::send`).
//!
//! A retry must never do twice what the caller asked for once. So:
//! - a request that provably never reached the server (the connection could not be made) may
//!   be retried whatever its method;
//! - a request refused with 429 was not processed, so it may be retried whatever its method;
//! - other transient failures (timeouts, broken connections, 408, 502, 503, 504) are retried for
//!   idempotent methods only (GET, HEAD, OPTIONS, PUT, DELETE): a POST that timed out may have
//!   created the user already.
//!
//! A 401 is not a retry at all: the client refreshes the token once, outside the backoff loop.

use reqwest::{Method, StatusCode};

/// Whether an attempt may be repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Send it again after the policy's delay.
    Transient,
    /// Do not: return the outcome to the caller.
    Fatal,
}

/// Whether `method` may be repeated without changing the result (RFC 9110 section 9.2.2).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// The verdict for an answer with `status`.
pub fn classify_status(method: &Method, status: StatusCode) -> Retry {
    match status {
        StatusCode::TOO_MANY_REQUESTS => Retry::Transient,
        StatusCode::REQUEST_TIMEOUT
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT
            if is_idempotent(method) =>
        {
            Retry::Transient
        }
        _ => Retry::Fatal,
    }
}

/// The verdict for a request that got no answer. `never_sent` is true when the connection
/// could not be established (connect error, DNS, TLS handshake), so the server never saw it.
pub fn classify_transport(method: &Method, never_sent: bool) -> Retry {
    if never_sent || is_idempotent(method) {
        Retry::Transient
    } else {
        Retry::Fatal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_is_retried_only_when_provably_unprocessed() {
        assert_eq!(
            classify_status(&Method::POST, StatusCode::SERVICE_UNAVAILABLE),
            Retry::Fatal
        );
        assert_eq!(
            classify_status(&Method::POST, StatusCode::TOO_MANY_REQUESTS),
            Retry::Transient
        );
        assert_eq!(classify_transport(&Method::POST, true), Retry::Transient);
        assert_eq!(classify_transport(&Method::POST, false), Retry::Fatal);
    }

    #[test]
    fn idempotent_methods_are_retried_on_transient_statuses() {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            for status in [408, 429, 502, 503, 504] {
                let status = StatusCode::from_u16(status).unwrap();
                assert_eq!(
                    classify_status(&method, status),
                    Retry::Transient,
                    "{method} {status}"
                );
            }
            for status in [400, 401, 403, 404, 409, 422, 500, 501] {
                let status = StatusCode::from_u16(status).unwrap();
                assert_eq!(
                    classify_status(&method, status),
                    Retry::Fatal,
                    "{method} {status}"
                );
            }
            assert_eq!(classify_transport(&method, false), Retry::Transient);
        }
    }
}
