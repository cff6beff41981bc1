//! What both token endpoints share: RFC 6749 error bodies as a rejection value, the token
//! response and its no-store headers, decoding the form-urlencoded halves of Basic client
//! credentials, and issuing a token into the store.
//!
//! It knows neither vendor's rules: which checks run, in which order, with which strings, is
//! `podero.rs`'s and `poa.rs`'s business.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::http::{self, BodyRejection, with_header};
use crate::state::{State, vendor_index};
use crate::tokens::NewToken;
use crate::types::Vendor;

/// An RFC 6749 section 5.2 error: `{"error": ..., "error_description": ...}` (the description
/// only when there is one), optionally with a `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub(crate) status: StatusCode,
    pub(crate) error: &'static str,
    pub(crate) description: Option<Cow<'static, str>>,
    pub(crate) challenge: Option<&'static str>,
}

impl OAuthError {
    pub(crate) fn new(status: StatusCode, error: &'static str) -> Self {
        Self {
            status,
            error,
            description: None,
            challenge: None,
        }
    }

    #[must_use]
    pub(crate) fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = Some(description.into());
        self
    }

    #[must_use]
    pub(crate) fn challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = match &self.description {
            Some(description) => json!({"error": self.error, "error_description": description}),
            None => json!({ "error": self.error }),
        };
        let response = http::json(self.status, &body);
        match self.challenge {
            Some(challenge) => with_header(
                response,
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ),
            None => response,
        }
    }
}

/// Why a token endpoint refused a request: its body could not be read, or an RFC 6749 error.
#[derive(Debug)]
pub(crate) enum TokenRejection {
    Body(BodyRejection),
    OAuth(OAuthError),
}

impl From<BodyRejection> for TokenRejection {
    fn from(rejection: BodyRejection) -> Self {
        TokenRejection::Body(rejection)
    }
}

impl From<OAuthError> for TokenRejection {
    fn from(error: OAuthError) -> Self {
        TokenRejection::OAuth(error)
    }
}

impl IntoResponse for TokenRejection {
    fn into_response(self) -> Response {
        match self {
            TokenRejection::Body(rejection) => rejection.into_response(),
            TokenRejection::OAuth(error) => error.into_response(),
        }
    }
}

/// A token response as RFC 6749 section 5.1 asks: JSON, never cached.
pub(crate) fn token_response(body: &Value) -> Response {
    no_store(http::json(StatusCode::OK, body))
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache`.
pub(crate) fn no_store(response: Response) -> Response {
    let response = with_header(
        response,
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    with_header(
        response,
        header::PRAGMA,
        HeaderValue::from_static("no-cache"),
    )
}

/// A `%` not followed by two hex digits, in a decoder that refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MalformedEscape;

/// How a decoder treats a `%` not followed by two hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Escapes {
    /// Keeps it as it is, as Python's `unquote_plus` and browsers do.
    Lenient,
    /// Refuses it, as `java.net.URLDecoder` does.
    Strict,
}

/// Decodes one `application/x-www-form-urlencoded` component, as RFC 6749 section 2.3.1 asks
/// of Basic credentials: `+` is a space, `%XX` a byte; the bytes are read as UTF-8 with
/// U+FFFD for invalid sequences, as both Python and Java servers do.
pub(crate) fn decode_component(text: &str, escapes: Escapes) -> Result<String, MalformedEscape> {
    let mut decoded = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'+' => decoded.push(b' '),
            b'%' => {
                let high = tail.first().and_then(|b| char::from(*b).to_digit(16));
                let low = tail.get(1).and_then(|b| char::from(*b).to_digit(16));
                match (high, low, escapes) {
                    (Some(high), Some(low), _) => {
                        decoded.extend(u8::try_from(high * 16 + low).ok());
                        rest = tail.get(2..).unwrap_or_default();
                    }
                    (_, _, Escapes::Lenient) => decoded.push(b'%'),
                    (_, _, Escapes::Strict) => return Err(MalformedEscape),
                }
            }
            other => decoded.push(other),
        }
    }
    Ok(String::from_utf8_lossy(&decoded).into_owned())
}

/// Remembers a newly issued token of `vendor` for `client_id`, honoured until `expires_at`;
/// `exp` is what the `whoami` call reports. When the vendor is set to revoke earlier tokens,
/// the client's earlier tokens are rejected from now on.
pub(crate) fn issue(
    state: &State,
    vendor: Vendor,
    client_id: &str,
    token: String,
    expires_at: DateTime<Utc>,
    exp: i64,
    now: DateTime<Utc>,
) {
    let revoke_earlier = state.settings().revoke_on_new_token[vendor_index(vendor)];
    let new = NewToken {
        token,
        vendor,
        client_id: Arc::from(client_id),
        expires_at,
        exp,
    };
    state.tokens().issue(new, now, revoke_earlier);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_decode_leniently_or_strictly() {
        let lenient = |text: &str| decode_component(text, Escapes::Lenient);
        let strict = |text: &str| decode_component(text, Escapes::Strict);
        for (text, decoded) in [
            ("a+b%3Ac%2Bd", "a b:c+d"),
            ("%C3%A9%26%3d", "é&="),
            ("%C3%A9é", "éé"),
            ("%ff", "\u{fffd}"),
        ] {
            assert_eq!(lenient(text).as_deref(), Ok(decoded), "{text}");
            assert_eq!(strict(text).as_deref(), Ok(decoded), "{text}");
        }
        for (text, decoded) in [("100%", "100%"), ("%zz%4", "%zz%4"), ("a%&b", "a%&b")] {
            assert_eq!(lenient(text).as_deref(), Ok(decoded), "{text}");
            assert_eq!(strict(text), Err(MalformedEscape), "{text}");
        }
    }
}
