//! The bearer checks of the emulated APIs: Podero's users API (Django REST Framework's 401)
//! and the POA `whoami` call. Each check reads the `Authorization` header, looks the token up
//! in the store, and answers either the issued token or a rejection that is its own response.
//!
//! It issues nothing and knows nothing about the endpoints it protects.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::{self, authorization, with_header};
use crate::state::State;
use crate::tokens::Issued;
use crate::types::Vendor;

/// Why Podero's API refuses a request's bearer token; answered as Django REST Framework does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PoderoRejection {
    /// No `Authorization: Bearer` header at all.
    Missing,
    /// A bearer header whose token is empty, unknown, expired, revoked or not Podero's.
    Invalid,
}

impl IntoResponse for PoderoRejection {
    fn into_response(self) -> Response {
        let (detail, challenge) = match self {
            PoderoRejection::Missing => (
                "Authentication credentials were not provided.",
                "Bearer realm=\"api\"",
            ),
            PoderoRejection::Invalid => ("Invalid token.", "Bearer error=\"invalid_token\""),
        };
        with_header(
            http::json(StatusCode::UNAUTHORIZED, &json!({ "detail": detail })),
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        )
    }
}

/// Checks the request's bearer token against Podero's issued tokens.
pub(crate) fn podero(state: &State, headers: &HeaderMap) -> Result<Issued, PoderoRejection> {
    let token = authorization(headers, "bearer").ok_or(PoderoRejection::Missing)?;
    if token.is_empty() {
        return Err(PoderoRejection::Invalid);
    }
    let now = state.now();
    state
        .tokens()
        .check(token, Vendor::Podero, now)
        .ok_or(PoderoRejection::Invalid)
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
                    "error_description": "The access token is missing, unknown, expired or revoked.",
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
    authorization(headers, "bearer")
        .filter(|token| !token.is_empty())
        .and_then(|token| state.tokens().check(token, Vendor::Poa, now))
        .ok_or(PoaRejection)
}
