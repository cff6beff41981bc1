//! Shared test helpers: the ones this workspace shares between crates live in
//! `auth_core::test_util` (feature `test-util`); this module adds what only these tests use.

pub(crate) use auth_core::test_util::{
    CountingSource, TokioClock, assert_no_secret, eventually, wait_until,
};

/// A retryable error, as a 503 from the token endpoint gives.
pub(crate) fn unavailable() -> auth_core::AuthError {
    auth_core::AuthError::unexpected_status(reqwest::StatusCode::SERVICE_UNAVAILABLE)
}

/// The deadline for conditions in tests: generous, since it only bounds a failing test.
pub(crate) const DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);
