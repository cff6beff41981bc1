//! Podero's token endpoint, `POST /oauth2/token/`, as its Django OAuth Toolkit (DOT) server
//! answers: DOT's `TokenView` over oauthlib's `Server`, with either of DOT's body backends
//! ([`PoderoTokenBackend`]).
//!
//! Check order (the first failing check answers; every answer but the 413 carries
//! `Cache-Control: no-store` and `Pragma: no-cache`, as oauthlib's default headers do):
//! 1. the body at most 64 KiB (→ 413, an emulator bound);
//! 2. no query string (oauthlib `_raise_on_bad_post_request`) → 400 `invalid_request`
//!    "URL query parameters are not allowed";
//! 3. the parameters, read by the backend (DOT `JSONOAuthLibCore.extract_body` or Django's
//!    `request.POST`): a repeated name keeps its last value;
//! 4. dispatch on `grant_type` (oauthlib `TokenEndpoint`): `client_credentials`, or DOT's other
//!    grants (see [`other_grant`]); anything else, or none, goes to oauthlib's default
//!    authorization-code handler, which answers 400 `{"error":"unsupported_grant_type"}`;
//! 5. client authentication (DOT `OAuth2Validator.authenticate_client`): HTTP Basic first
//!    (RFC 6749 section 2.3.1), then `client_id`/`client_secret` in the body → else 401
//!    `{"error":"invalid_client"}` with `WWW-Authenticate: Bearer error="invalid_client"`; a
//!    body `client_id` naming another client than the authenticated one → 400 `server_error`;
//! 6. the client's application allows the grant (DOT `validate_grant_type`) → else 400
//!    `{"error":"unauthorized_client"}`.
//!
//! A `scope` parameter is accepted and ignored: every token gets `read write`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Value, json};

use crate::http::{self, media_type};
use crate::oauth::{
    self, Escapes, OAuthError, TokenRejection, decode_component, no_store, token_response,
};
use crate::state::{State, later};
use crate::types::{Client, PoderoTokenBackend, Vendor, random_alphanumeric};

fn invalid_request(description: &'static str) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request").description(description)
}

fn invalid_grant() -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant")
}

/// `POST /oauth2/token/`
pub(crate) async fn token(
    AxumState(state): AxumState<Arc<State>>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, TokenRejection> {
    let body = http::body(body)?;
    let backend = state.settings().podero_token_backend;
    let answer = dot_token(&state, &uri, &headers, &body, backend)
        .unwrap_or_else(IntoResponse::into_response);
    Ok(no_store(answer))
}

/// Checks 2 to 6 of the module documentation, then issues the token.
fn dot_token(
    state: &State,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    backend: PoderoTokenBackend,
) -> Result<Response, OAuthError> {
    if uri.query().is_some_and(|query| !query.is_empty()) {
        return Err(invalid_request("URL query parameters are not allowed"));
    }
    let parameters = token_parameters(backend, media_type(headers).as_deref(), body);
    let get = |name: &str| parameters.get(name).map(String::as_str);
    let client = match get("grant_type") {
        Some("client_credentials") => authenticate(state, headers, &parameters)?,
        Some(grant @ ("authorization_code" | "password" | "refresh_token")) => {
            return Err(other_grant(state, headers, &parameters, grant));
        }
        _ => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
            ));
        }
    };
    if !client.allows_client_credentials_grant() {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        ));
    }

    let token = random_alphanumeric(30);
    let lifetime = state.settings().podero_lifetime;
    let now = state.now();
    let expires_at = later(now, lifetime);
    oauth::issue(
        state,
        Vendor::Podero,
        &client.credentials().client_id,
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

/// The answer to DOT's other grants, for the emulator's clients, which are all confidential
/// client-credentials applications without users, codes or refresh tokens. Each grant's own
/// checks come in oauthlib's order:
/// - `authorization_code`: no `code` → 400 `invalid_request` "Missing code parameter.";
///   client authentication (401); then the application's grant type → 400
///   `unauthorized_client`, or, for a client that may not use client credentials, 400
///   `invalid_grant` (no such code);
/// - `password`: no `username`, then no `password` → 400 `invalid_request` "Request is missing
///   username parameter." / "... password parameter."; client authentication (401); then 400
///   `invalid_grant` "Invalid credentials given." (no such user);
/// - `refresh_token`: no `refresh_token` → 400 `invalid_request` "Missing refresh token
///   parameter."; client authentication (401); then 400 `invalid_grant` (DOT allows refresh
///   tokens for every application type; no such token).
fn other_grant(
    state: &State,
    headers: &HeaderMap,
    parameters: &HashMap<String, String>,
    grant: &str,
) -> OAuthError {
    let missing = |name: &str| parameters.get(name).is_none_or(String::is_empty);
    let result = match grant {
        "authorization_code" if !parameters.contains_key("code") => {
            Err(invalid_request("Missing code parameter."))
        }
        "password" if missing("username") => {
            Err(invalid_request("Request is missing username parameter."))
        }
        "password" if missing("password") => {
            Err(invalid_request("Request is missing password parameter."))
        }
        "refresh_token" if !parameters.contains_key("refresh_token") => {
            Err(invalid_request("Missing refresh token parameter."))
        }
        _ => authenticate(state, headers, parameters),
    };
    match result {
        Err(error) => error,
        Ok(client) if grant == "authorization_code" && client.allows_client_credentials_grant() => {
            OAuthError::new(StatusCode::BAD_REQUEST, "unauthorized_client")
        }
        Ok(_) if grant == "password" => invalid_grant().description("Invalid credentials given."),
        Ok(_) => invalid_grant(),
    }
}

/// DOT's client authentication (`OAuth2Validator.authenticate_client`, then oauthlib's
/// `validate_client_confidential`): the Basic header first; if that fails, the body's
/// `client_id` and `client_secret`. A Basic header naming a known client leaves that client
/// loaded, so a body secret is then checked against it whatever the body's `client_id` says,
/// as DOT's `_load_application` does.
fn authenticate(
    state: &State,
    headers: &HeaderMap,
    parameters: &HashMap<String, String>,
) -> Result<Client, OAuthError> {
    let invalid_client = || {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client")
            .challenge("Bearer error=\"invalid_client\"")
    };
    let clients = state.clients();
    let mut loaded: Option<&Client> = None;
    let mut authenticated = None;
    if let Some((id, secret)) = dot_basic(headers) {
        loaded = clients.get(Vendor::Podero, &id);
        authenticated = loaded.filter(|client| client.credentials().client_secret == secret);
    }
    let client = match authenticated {
        Some(client) => client,
        None => {
            let body_id = parameters.get("client_id");
            let client = loaded
                .or_else(|| body_id.and_then(|id| clients.get(Vendor::Podero, id)))
                .ok_or_else(invalid_client)?;
            let secret = parameters.get("client_secret").map_or("", String::as_str);
            if client.credentials().client_secret != secret {
                return Err(invalid_client());
            }
            client
        }
    };
    if let Some(body_id) = parameters.get("client_id")
        && *body_id != client.credentials().client_id
    {
        return Err(OAuthError::new(StatusCode::BAD_REQUEST, "server_error")
            .description("Discrepency found between client identifier"));
    }
    Ok(client.clone())
}

/// The client id and secret of a Basic header as DOT reads it (`_extract_basic_auth`,
/// `_authenticate_basic_auth`): the scheme exactly `Basic`, base64 decoded leniently as
/// Python's `base64.b64decode` does, strict UTF-8, split at the first `:`, each half decoded
/// with Python's `unquote_plus`. `None` for anything else.
pub(crate) fn dot_basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if scheme != "Basic" || encoded.is_empty() {
        return None;
    }
    let decoded = String::from_utf8(python_b64decode(encoded)?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |half: &str| decode_component(half, Escapes::Lenient).ok();
    Some((decode(id)?, decode(secret)?))
}

/// Base64 with padding optional at the very end and any trailing bits ignored.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Python's `base64.b64decode(s)` without `validate`: characters outside the alphabet are
/// skipped; enough `=` after a partial group ends the data; otherwise the data characters
/// must come in whole groups of four.
fn python_b64decode(encoded: &str) -> Option<Vec<u8>> {
    let mut data = Vec::with_capacity(encoded.len());
    let mut pads = 0;
    let mut padded = false;
    for byte in encoded.bytes() {
        if byte == b'=' {
            let partial = data.len() % 4;
            if partial >= 2 {
                pads += 1;
                if partial + pads >= 4 {
                    padded = true;
                    break;
                }
            }
            continue;
        }
        if byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/' {
            data.push(byte);
            pads = 0;
        }
    }
    if !padded && data.len() % 4 != 0 {
        return None;
    }
    LENIENT_BASE64.decode(&data).ok()
}

/// The token request's parameters as DOT hands them to oauthlib: a map where a repeated name
/// keeps its last value (Django's `QueryDict.items()`, Python's `json.loads`), every value as
/// text.
///
/// - [`PoderoTokenBackend::Json`]: the body as a JSON object whatever `media_type` says;
///   anything else (not JSON, not UTF-8, not an object) carries no parameters. A value that is
///   not a string becomes its Python `str()`: `1`, `True`, `None`.
/// - [`PoderoTokenBackend::Form`]: only a body of media type
///   `application/x-www-form-urlencoded` carries parameters, decoded as UTF-8 with U+FFFD for
///   invalid bytes.
pub(crate) fn token_parameters(
    backend: PoderoTokenBackend,
    media_type: Option<&str>,
    body: &[u8],
) -> HashMap<String, String> {
    let mut parameters = HashMap::new();
    match backend {
        PoderoTokenBackend::Json => {
            if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) {
                for (name, value) in object {
                    parameters.insert(name, python_str(&value));
                }
            }
        }
        PoderoTokenBackend::Form => {
            if media_type == Some("application/x-www-form-urlencoded") {
                for (name, value) in form_urlencoded::parse(body) {
                    parameters.insert(name.into_owned(), value.into_owned());
                }
            }
        }
    }
    parameters
}

/// What Python's `str()` makes of a JSON value once `json.loads` has read it (containers as
/// JSON text, which Python would print differently but which names no client either).
fn python_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn basic_headers_are_read_as_django_oauth_toolkit_reads_them() {
        let read = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            dot_basic(&headers)
        };
        let pair = |id: &str, secret: &str| Some((id.to_owned(), secret.to_owned()));
        // "a+b%3Ac:s:%25%26%C3%A9"
        assert_eq!(
            read("Basic YStiJTNBYzpzOiUyNSUyNiVDMyVBOQ=="),
            pair("a b:c", "s:%&é")
        );
        // Characters outside the alphabet are skipped, padding may end early.
        assert_eq!(read("Basic YTpi"), pair("a", "b"));
        assert_eq!(read("Basic Y T*pi"), pair("a", "b"));
        assert_eq!(read("Basic Y To*pi"), None);
        assert_eq!(read("Basic YTpiYw=="), pair("a", "bc"));
        assert_eq!(read("Basic YTpiYw=junk"), None);
        // A `%` without hex digits stays; bytes that are not UTF-8 become U+FFFD.
        assert_eq!(read("Basic YTolenolNA=="), pair("a", "%zz%4"));
        assert_eq!(read("Basic YTolRkY="), pair("a", "\u{fffd}"));
        for bad in [
            "basic YTpi",
            "Basic",
            "Basic ",
            "Bearer YTpi",
            "Basic YWJj",
            "Basic YTp",
        ] {
            assert_eq!(read(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_backends_read_only_their_own_bodies() {
        let json = PoderoTokenBackend::Json;
        let form = PoderoTokenBackend::Form;
        let grant = |parameters: HashMap<String, String>| parameters.get("grant_type").cloned();
        let cc = Some("client_credentials".to_owned());
        let json_body = br#"{"grant_type":"client_credentials"}"#;
        let form_body = b"grant_type=client_credentials";
        assert_eq!(
            grant(token_parameters(json, Some("text/plain"), json_body)),
            cc
        );
        assert_eq!(grant(token_parameters(json, None, form_body)), None);
        assert_eq!(
            grant(token_parameters(form, Some("application/json"), json_body)),
            None
        );
        let form_type = Some("application/x-www-form-urlencoded");
        assert_eq!(grant(token_parameters(form, form_type, form_body)), cc);
        let repeated = token_parameters(form, form_type, b"a=1&a=2");
        assert_eq!(repeated.get("a").map(String::as_str), Some("2"));
        let typed = token_parameters(json, None, br#"{"a":1,"b":true,"c":null,"d":[1]}"#);
        assert_eq!(typed.get("a").map(String::as_str), Some("1"));
        assert_eq!(typed.get("b").map(String::as_str), Some("True"));
        assert_eq!(typed.get("c").map(String::as_str), Some("None"));
        assert_eq!(typed.get("d").map(String::as_str), Some("[1]"));
    }
}
