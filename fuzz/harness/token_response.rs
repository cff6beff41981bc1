//! `auth_core::response::parse_token_response` with any status, time and body.
//!
//! Input: `status` (three ASCII digits; 200 otherwise) SEP `obtained at` (ASCII seconds since
//! the epoch; 2025 otherwise) SEP `body`.
//!
//! Properties: no panic; a token only from a 2xx answer, with a header-safe value and an
//! expiry after it was obtained and at most ten years later; an error's message holds no raw
//! control character and no encoding of the client secret the redactor knows.

use auth_core::Redactor;
use auth_core::response::parse_token_response;
use chrono::TimeDelta;
use reqwest::StatusCode;

use super::{EPOCH_2025, assert_printable, date_or, fields};

/// The credentials the redactor knows, as a vendor crate configures it.
pub(crate) const CLIENT_ID: &str = "fuzz-client";
pub(crate) const CLIENT_SECRET: &str = "hs-P0d!s3cr&=/é";

/// Encodings of [`CLIENT_SECRET`] no message may show (see the redactor target for all).
pub(crate) const SECRET_FORMS: [&str; 6] = [
    "hs-P0d!s3cr&=/é",
    r"hs-P0d!s3cr&=\/\u00e9",
    "hs-P0d%21s3cr%26%3D%2F%C3%A9",
    "hs-P0d!s3cr&amp;=/é",
    "aHMtUDBkIXMzY3ImPS/DqQ",
    "ZnV6ei1jbGllbnQ6aHMtUDBkIXMzY3ImPS/DqQ",
];

pub(crate) fn run(data: &[u8]) {
    let [status, obtained_at, body] = fields::<3>(data);
    let status = StatusCode::from_bytes(status).unwrap_or(StatusCode::OK);
    let obtained_at = date_or(obtained_at, EPOCH_2025);
    let redactor = Redactor::new().with_basic_credentials(CLIENT_ID, CLIENT_SECRET);
    match parse_token_response(status, body, obtained_at, &redactor) {
        Ok(token) => {
            assert!(status.is_success(), "a token from HTTP {status}");
            let value = token.expose_secret();
            assert!(
                !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
                "a token value that is not header-safe: {value:?}"
            );
            if let Some(expires_at) = token.expires_at() {
                assert!(
                    expires_at > obtained_at,
                    "expires {expires_at} before {obtained_at}"
                );
                assert!(
                    expires_at - obtained_at <= TimeDelta::days(3651),
                    "expires {expires_at}, more than ten years after {obtained_at}"
                );
            }
        }
        Err(error) => check_error_text(&error.to_string()),
    }
}

/// An error message: printable, and free of the client secret.
#[track_caller]
pub(crate) fn check_error_text(text: &str) {
    assert_printable("error message", text);
    for form in SECRET_FORMS {
        assert!(
            !text.contains(form),
            "the error shows the secret ({form:?}): {text:?}"
        );
    }
}
