//! Podero's token endpoint, `POST /oauth2/token/`, as its Django OAuth Toolkit server answers.
//!
//! Check order (the first failing check answers):
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
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::http::{self, media_type};
use crate::oauth::{self, OAuthError, TokenRejection, basic_credentials, token_response};
use crate::state::{State, later};
use crate::types::{Vendor, random_alphanumeric};

fn invalid_request(description: &'static str) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request").description(description)
}

/// The token request's parameters, or the `invalid_request` to answer.
fn parameters(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut parameters = HashMap::new();
    match media_type(headers).as_deref() {
        Some("application/json") => {
            let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
                return Err(invalid_request("The request body is not a JSON object."));
            };
            for (name, value) in object {
                match value {
                    Value::String(value) => {
                        parameters.insert(name, value);
                    }
                    // Other parameters are ignored whatever their type; a grant type must be
                    // text.
                    _ if name == "grant_type" => {
                        return Err(invalid_request("grant_type must be a string."));
                    }
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
                    return Err(invalid_request("A parameter is repeated."));
                }
            }
        }
        _ => {
            return Err(invalid_request(
                "Content-Type must be application/json or application/x-www-form-urlencoded.",
            ));
        }
    }
    Ok(parameters)
}

/// `POST /oauth2/token/`
pub(crate) async fn token(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, TokenRejection> {
    let client = &state.config.podero;
    let authenticated = basic_credentials(&headers)
        .is_some_and(|(id, secret)| id == client.client_id && secret == client.client_secret);
    if !authenticated {
        return Err(OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client")
            .challenge("Basic realm=\"oauth2\"")
            .into());
    }
    let body = http::body(body)?;
    let parameters = parameters(&headers, &body)?;
    match parameters.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        None => return Err(invalid_request("Missing grant_type parameter.").into()),
        Some(_) => {
            return Err(OAuthError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type").into());
        }
    }

    let token = random_alphanumeric(30);
    let lifetime = state.settings().podero_lifetime;
    let now = state.now();
    let expires_at = later(now, lifetime);
    oauth::issue(
        &state,
        Vendor::Podero,
        token.clone(),
        expires_at,
        expires_at.timestamp(),
        now,
    );
    Ok(token_response(&json!({
        "access_token": token,
        "expires_in": lifetime.as_secs(),
        "token_type": "Bearer",
        "scope": "read write",
    })))
}
