//! What both token endpoints share: RFC 6749 error bodies as a rejection value, the token
//! response, decoding client credentials (form-urlencoded components, HTTP Basic), and issuing
//! a token into the store.
//!
//! It knows neither vendor's rules: which checks run, in which order, with which strings, is
//! `podero.rs`'s and `poa.rs`'s business.

use std::borrow::Cow;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::http::{self, BodyRejection, authorization, with_header};
use crate::state::State;
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

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
/// A `%` not followed by two hex digits stays as it is, as browsers and Python's `unquote_plus`
/// leave it. `None` if the bytes are not UTF-8.
pub(crate) fn form_decode(component: &[u8]) -> Option<String> {
    fn hex(byte: u8) -> Option<u8> {
        match byte {
            b'0'..=b'9' => Some(byte - b'0'),
            b'a'..=b'f' => Some(byte - b'a' + 10),
            b'A'..=b'F' => Some(byte - b'A' + 10),
            _ => None,
        }
    }
    let mut decoded = Vec::with_capacity(component.len());
    let mut rest = component;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'+' => decoded.push(b' '),
            b'%' => match (
                rest.first().copied().and_then(hex),
                rest.get(1).copied().and_then(hex),
            ) {
                (Some(high), Some(low)) => {
                    decoded.push(high << 4 | low);
                    rest = rest.get(2..).unwrap_or_default();
                }
                _ => decoded.push(b'%'),
            },
            other => decoded.push(other),
        }
    }
    String::from_utf8(decoded).ok()
}

/// The client id and secret of a Basic `Authorization` header, as RFC 6749 section 2.3.1
/// says: base64-decode, split at the *first* `:`, then form-urlencoded-decode each part.
/// `None` for anything that does not decode.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = authorization(headers, "basic")?;
    let decoded = STANDARD.decode(encoded).ok()?;
    let colon = decoded.iter().position(|byte| *byte == b':')?;
    let (id, secret) = (decoded.get(..colon)?, decoded.get(colon + 1..)?);
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Remembers a newly issued token of `vendor`, honoured until `expires_at`; `exp` is what
/// the `whoami` call reports.
pub(crate) fn issue(
    state: &State,
    vendor: Vendor,
    token: String,
    expires_at: DateTime<Utc>,
    exp: i64,
    now: DateTime<Utc>,
) {
    state.tokens().issue(token, vendor, expires_at, exp, now);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode(b"a+b%3Ac%2Bd").as_deref(), Some("a b:c+d"));
        assert_eq!(form_decode(b"%C3%A9%26%3d").as_deref(), Some("é&="));
        assert_eq!(form_decode(b"100%").as_deref(), Some("100%"));
        assert_eq!(form_decode(b"%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(form_decode(b"%ff"), None);
    }

    #[test]
    fn basic_credentials_split_at_the_first_colon_before_decoding() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("a+b%3Ac:s:%25%26%C3%A9");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("a b:c".to_owned(), "s:%&é".to_owned()))
        );
        for bad in ["Basic !!!", "Basic", "Bearer abc", "Basic YWJj"] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(bad));
            assert_eq!(basic_credentials(&headers), None, "{bad}");
        }
    }
}
