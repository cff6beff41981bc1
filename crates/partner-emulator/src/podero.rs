//! Podero's token endpoint, `POST /oauth2/token/`, as its Django OAuth Toolkit server answers,
//! and the bearer check of Podero's API.
//!
//! Check order of the token endpoint (the first failing check answers):
//! 1. client authentication, HTTP Basic only, decoded as RFC 6749 section 2.3.1 says
//!    → 401 `{"error":"invalid_client"}` with `WWW-Authenticate: Basic realm="oauth2"`;
//! 2. the body: at most 64 KiB (→ 413), `Content-Type` `application/json` (an object) or
//!    `application/x-www-form-urlencoded`, each parameter at most once
//!    → 400 `{"error":"invalid_request","error_description":...}`;
//! 3. `grant_type` present (→ 400 `invalid_request`) and `client_credentials`
//!    (→ 400 `{"error":"unsupported_grant_type"}`).
//!
//! A `scope` parameter is accepted and ignored: every token gets `read write`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::http::{self, authorization, media_type, with_header};
use crate::state::{State, later};
use crate::types::{Vendor, random_alphanumeric};

/// An RFC 6749 section 5.2 error.
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: Option<&str>) -> Response {
    let body = match description {
        Some(description) => json!({"error": error, "error_description": description}),
        None => json!({ "error": error }),
    };
    http::json(status, &body)
}

/// A token response as RFC 6749 section 5.1 asks: JSON, never cached.
pub(crate) fn token_response(body: &Value) -> Response {
    let response = http::json(StatusCode::OK, body);
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
                    rest = &rest[2..];
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
    let (id, secret) = (&decoded[..colon], &decoded[colon + 1..]);
    Some((form_decode(id)?, form_decode(secret)?))
}

/// The token request's parameters, or the `invalid_request` description.
fn parameters(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, &'static str> {
    let mut parameters = HashMap::new();
    match media_type(headers).as_deref() {
        Some("application/json") => {
            let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
                return Err("The request body is not a JSON object.");
            };
            for (name, value) in object {
                match value {
                    Value::String(value) => {
                        parameters.insert(name, value);
                    }
                    // Other parameters are ignored whatever their type; a grant type must be
                    // text.
                    _ if name == "grant_type" => return Err("grant_type must be a string."),
                    _ => {}
                }
            }
        }
        Some("application/x-www-form-urlencoded") => {
            for (name, value) in form_urlencoded::parse(body) {
                if parameters
                    .insert(name.into_owned(), value.into_owned())
                    .is_some()
                {
                    return Err("A parameter is repeated.");
                }
            }
        }
        _ => {
            return Err(
                "Content-Type must be application/json or application/x-www-form-urlencoded.",
            );
        }
    }
    Ok(parameters)
}

/// `POST /oauth2/token/`
pub(crate) async fn token(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let client = &state.config.podero;
    let authenticated = basic_credentials(&headers)
        .is_some_and(|(id, secret)| id == client.client_id && secret == client.client_secret);
    if !authenticated {
        return with_header(
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", None),
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oauth2\""),
        );
    }
    let body = match http::body(body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let parameters = match parameters(&headers, &body) {
        Ok(parameters) => parameters,
        Err(description) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some(description),
            );
        }
    };
    match parameters.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some("Missing grant_type parameter."),
            );
        }
        Some(_) => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", None),
    }

    let token = random_alphanumeric(30);
    let lifetime = state.settings().podero_lifetime;
    let now = state.now();
    let expires_at = later(now, lifetime);
    state.tokens().issue(
        token.clone(),
        Vendor::Podero,
        expires_at,
        expires_at.timestamp(),
        now,
    );
    token_response(&json!({
        "access_token": token,
        "expires_in": lifetime.as_secs(),
        "token_type": "Bearer",
        "scope": "read write",
    }))
}

/// Why Podero's API refuses a request's bearer token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// No `Authorization: Bearer` header at all.
    Missing,
    /// A bearer header whose token is empty, unknown, expired, revoked or not Podero's.
    Invalid,
}

/// Checks the request's bearer token against Podero's issued tokens.
pub(crate) fn authenticate(state: &State, headers: &HeaderMap) -> Result<(), Rejected> {
    let token = authorization(headers, "bearer").ok_or(Rejected::Missing)?;
    if token.is_empty() {
        return Err(Rejected::Invalid);
    }
    let now = state.now();
    match state.tokens().check(token, Vendor::Podero, now) {
        Some(_) => Ok(()),
        None => Err(Rejected::Invalid),
    }
}

/// The 401 Django REST Framework answers for a rejected bearer token.
pub(crate) fn unauthorized(rejected: Rejected) -> Response {
    let (detail, challenge) = match rejected {
        Rejected::Missing => (
            "Authentication credentials were not provided.",
            "Bearer realm=\"api\"",
        ),
        Rejected::Invalid => ("Invalid token.", "Bearer error=\"invalid_token\""),
    };
    with_header(
        http::json(StatusCode::UNAUTHORIZED, &json!({ "detail": detail })),
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    )
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
