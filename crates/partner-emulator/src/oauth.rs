//! The two token endpoints, as each vendor's OAuth server answers, and the POA whoami call.
//!
//! Podero (Django OAuth Toolkit): client authentication by HTTP Basic only, checked first;
//! then the body, JSON or form. POA (Keycloak): a form body only; `grant_type` is checked
//! before the client, as Keycloak does.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::state::{State, Vendor, random_alphanumeric};

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// An RFC 6749 section 5.2 error.
fn oauth_error(status: StatusCode, error: &str, description: Option<&str>) -> Response {
    let mut body = json!({ "error": error });
    if let Some(description) = description {
        body["error_description"] = json!(description);
    }
    json_response(status, body)
}

/// A success answer as RFC 6749 section 5.1 asks: not cacheable.
fn token_response(body: Value) -> Response {
    let mut response = json_response(StatusCode::OK, body);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The media type of the request, lowercased, without parameters.
fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// Decodes application/x-www-form-urlencoded text: `+` is a space, `%XX` a byte.
fn form_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// The client id and secret of a Basic header, decoded as RFC 6749 section 2.3.1 says:
/// base64, split at the first `:`, then each part form-urlencoded-decoded.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

/// The token of an `Authorization: Bearer` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// `POST /oauth2/token/`
pub(crate) async fn podero_token(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = &state.config.podero;
    let authenticated = basic_credentials(&headers)
        .is_some_and(|(id, secret)| id == client.client_id && secret == client.client_secret);
    if !authenticated {
        let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", None);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oauth2\""),
        );
        return response;
    }
    let params: HashMap<String, String> = match content_type(&headers).as_str() {
        "application/json" => match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(object)) => object
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
                .collect(),
            _ => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    Some("The request body is not a JSON object."),
                );
            }
        },
        "application/x-www-form-urlencoded" => form(&body),
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some("Content-Type must be application/json or application/x-www-form-urlencoded."),
            );
        }
    };
    match params.get("grant_type").map(String::as_str) {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some("Missing grant_type parameter."),
            );
        }
        Some("client_credentials") => {}
        Some(_) => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", None),
    }

    let token = random_alphanumeric(30);
    let mut inner = state.lock();
    let lifetime = inner.podero_lifetime;
    let expires_at = inner.now() + TimeDelta::from_std(lifetime).unwrap_or(TimeDelta::MAX);
    inner.issue(token.clone(), Vendor::Podero, &client.client_id, expires_at);
    drop(inner);
    token_response(json!({
        "access_token": token,
        "expires_in": lifetime.as_secs(),
        "token_type": "Bearer",
        "scope": "read write",
    }))
}

/// `POST /v2/auth/cybrillarta/token` and `POST /poa/auth/token`
pub(crate) async fn poa_token(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if content_type(&headers) != "application/x-www-form-urlencoded" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Some("Content-Type must be application/x-www-form-urlencoded"),
        );
    }
    let params = form(&body);
    match params.get("grant_type").map(String::as_str) {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some("Missing form parameter: grant_type"),
            );
        }
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                Some("Unsupported grant_type"),
            );
        }
    }
    let client = &state.config.poa;
    let (Some(id), Some(secret)) = (params.get("client_id"), params.get("client_secret")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Some("Missing form parameter: client_id or client_secret"),
        );
    };
    if *id != client.client_id || *secret != client.client_secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            Some("Invalid client or Invalid client credentials"),
        );
    }

    let mut inner = state.lock();
    let now = inner.now();
    let lifetime = inner.poa_lifetime;
    let expires_at = now + TimeDelta::from_std(lifetime).unwrap_or(TimeDelta::MAX);
    let exp = inner
        .poa_jwt_lifetime
        .and_then(|d| TimeDelta::from_std(d).ok())
        .map_or(expires_at, |d| now + d);
    let token = jwt(&json!({
        "exp": exp.timestamp(),
        "iat": now.timestamp(),
        "jti": uuid::Uuid::new_v4().to_string(),
        "iss": format!("{}/realms/cybrillarta", state.config.base_url),
        "azp": client.client_id,
        "scope": "partner",
        "typ": "Bearer",
    }));
    // The server honours the earlier of the two, as Keycloak's resource servers check `exp`.
    inner.issue(
        token.clone(),
        Vendor::Poa,
        &client.client_id,
        expires_at.min(exp),
    );
    drop(inner);
    token_response(json!({
        "access_token": token,
        "expires_in": lifetime.as_secs(),
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": "partner",
    }))
}

/// A JWT-shaped token: real header and claims, a random "signature" (nothing verifies it).
fn jwt(claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "emulator"});
    let signature: Vec<u8> = std::iter::repeat_with(|| fastrand::u8(..))
        .take(64)
        .collect();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// The 401 a resource server answers for a missing or bad bearer token.
pub(crate) fn unauthorized(missing: bool) -> Response {
    let (detail, challenge) = if missing {
        (
            "Authentication credentials were not provided.",
            "Bearer realm=\"api\"",
        )
    } else {
        ("Invalid token.", "Bearer error=\"invalid_token\"")
    };
    let mut response = json_response(StatusCode::UNAUTHORIZED, json!({ "detail": detail }));
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

/// `GET /__emulator/poa/whoami`
pub(crate) async fn poa_whoami(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorized(true);
    };
    let inner = state.lock();
    let Some((client_id, expires_at)) = inner.valid_token(token, Vendor::Poa) else {
        return unauthorized(false);
    };
    json_response(
        StatusCode::OK,
        json!({"client_id": client_id, "scope": "partner", "exp": expires_at.timestamp()}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded_after_splitting() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("a+b%3Ac%2Bd:s%25%26%C3%A9");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("a b:c+d".to_owned(), "s%&é".to_owned()))
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&headers), None);
    }
}
