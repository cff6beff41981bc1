//! The bearer checks of the emulated APIs: Podero's users API (as Django OAuth Toolkit reads
//! the token, answered in either of its server styles) and the POA `whoami` call. Each check
//! reads the `Authorization` header, looks the token up in the store, and answers either the
//! issued token or a rejection that is its own response.
//!
//! It issues nothing and knows nothing about the endpoints it protects.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::{self, authorization, with_header};
use crate::state::State;
use crate::tokens::{Issued, Lookup};
use crate::types::{PoderoBearerRejection, Vendor};

/// Why Podero's API refuses a request's bearer token, and in which server style it says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoderoRejection {
    reason: Reason,
    style: PoderoBearerRejection,
}

/// The three answers of DOT's `OAuth2Validator.validate_bearer_token`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    /// No token found in the request (no header, another scheme, not exactly two words):
    /// DOT sets no error.
    Missing,
    /// A token DOT does not know (never issued, revoked, another vendor's).
    Invalid,
    /// A known token past its expiry.
    Expired,
}

impl IntoResponse for PoderoRejection {
    fn into_response(self) -> Response {
        match self.style {
            // DOT's `ProtectedResourceMixin` answers `HttpResponseForbidden()`: Django's
            // default content type and nothing else.
            PoderoBearerRejection::ProtectedResource403 => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::FORBIDDEN;
                with_header(
                    response,
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                )
            }
            // DRF: the authenticator returned no user, so the permission check raises
            // `NotAuthenticated`, answered 401 with the first authenticator's challenge: DOT's
            // `OAuth2Authentication.authenticate_header`, `realm="api"` plus the error DOT
            // recorded.
            PoderoBearerRejection::Drf401 => {
                let challenge = match self.reason {
                    Reason::Missing => "Bearer realm=\"api\"",
                    Reason::Invalid => concat!(
                        r#"Bearer realm="api",error="invalid_token","#,
                        r#"error_description="The access token is invalid.""#
                    ),
                    Reason::Expired => concat!(
                        r#"Bearer realm="api",error="invalid_token","#,
                        r#"error_description="The access token has expired.""#
                    ),
                };
                with_header(
                    http::json(
                        StatusCode::UNAUTHORIZED,
                        &json!({"detail": "Authentication credentials were not provided."}),
                    ),
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                )
            }
        }
    }
}

/// The token of an `Authorization` header as oauthlib's `get_token_from_header` reads it:
/// the value split on whitespace must be exactly two words, the first `bearer` in any case.
fn dot_bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let mut words = value.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("bearer") => Some(token),
        _ => None,
    }
}

/// Checks the request's bearer token against Podero's issued tokens.
pub(crate) fn podero(state: &State, headers: &HeaderMap) -> Result<Issued, PoderoRejection> {
    let style = state.settings().podero_bearer_rejection;
    let reject = |reason| PoderoRejection { reason, style };
    let token = dot_bearer_token(headers).ok_or(reject(Reason::Missing))?;
    let now = state.now();
    // Bind the lookup so the store's lock is released before answering.
    let lookup = state.tokens().lookup(token, Vendor::Podero, now);
    match lookup {
        Lookup::Valid(issued) => Ok(issued),
        Lookup::Expired => Err(reject(Reason::Expired)),
        Lookup::Unknown => Err(reject(Reason::Invalid)),
    }
}

/// A request to the POA `whoami` call without a known, unexpired, unrevoked POA token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoaRejection;

impl IntoResponse for PoaRejection {
    fn into_response(self) -> Response {
        with_header(
            http::json(
                StatusCode::UNAUTHORIZED,
                &json!({
                    "error": "invalid_token",
                    "error_description":
                        "The access token is missing, unknown, expired or revoked.",
                }),
            ),
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        )
    }
}

/// Checks the request's bearer token against POA's issued tokens.
pub(crate) fn poa(state: &State, headers: &HeaderMap) -> Result<Issued, PoaRejection> {
    let now = state.now();
    let token = authorization(headers, "bearer")
        .filter(|token| !token.is_empty())
        .ok_or(PoaRejection)?;
    let issued = state.tokens().check(token, Vendor::Poa, now);
    issued.ok_or(PoaRejection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_as_oauthlib_reads_them() {
        let read = |value: &'static [u8]| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_bytes(value).unwrap(),
            );
            dot_bearer_token(&headers).map(str::to_owned)
        };
        assert_eq!(read(b"Bearer abc").as_deref(), Some("abc"));
        assert_eq!(read(b"bEaReR \t abc ").as_deref(), Some("abc"));
        for missing in [
            &b"Bearer"[..],
            b"bearer  ",
            b"Bearer a b",
            b"Token abc",
            b"Bearer \xff",
        ] {
            assert_eq!(read(missing), None, "{missing:?}");
        }
        assert_eq!(dot_bearer_token(&HeaderMap::new()), None);
    }
}
