//! RFC 6749 token responses (section 5.1) and error responses (section 5.2).
//!
//! Parsing is lenient where servers differ (`expires_in` as a number or a numeric string,
//! `token_type` in any case, a `scope` list, extra fields) and strict where it matters: an
//! `error` member in a 2xx body is an error, the token must be a non-empty header-safe string,
//! and a body that is not JSON becomes a typed error carrying only a redacted excerpt. This
//! module does no I/O.

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::{Map, Value};

use crate::error::{AuthError, OAuthErrorCode, OAuthErrorResponse};
use crate::redact::Redactor;
use crate::token::{AccessToken, Scopes, TokenType};

/// The largest token response body read, in bytes. Real responses are a few hundred bytes;
/// the bound keeps a misbehaving endpoint from filling memory.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The longest `expires_in` believed: ten years. Larger values are clamped.
const MAX_EXPIRES_IN_SECS: i64 = 10 * 365 * 24 * 3600;

/// Response members that are credentials: never kept in [`AccessToken::extra`].
const DROPPED_MEMBERS: [&str; 2] = ["refresh_token", "id_token"];

/// Parses a token endpoint's answer.
///
/// `obtained_at` is when the request was sent; `expires_in` counts from it, so network time
/// eats into the token's lifetime rather than extending it.
///
/// # Errors
/// - [`AuthError::RejectedCredentials`] for 401, or `invalid_client` / `unauthorized_client`
///   at any status (a 2xx included);
/// - [`AuthError::OAuth`] for any other RFC 6749 error response;
/// - [`AuthError::UnexpectedStatus`] for a non-2xx answer that is not an OAuth error;
/// - [`AuthError::MalformedResponse`] for a 2xx answer that is not a usable token response.
pub fn parse_token_response(
    status: StatusCode,
    body: &[u8],
    obtained_at: DateTime<Utc>,
    redactor: &Redactor,
) -> Result<AccessToken, AuthError> {
    let parsed = serde_json::from_slice::<Value>(body);
    let object = match &parsed {
        Ok(Value::Object(object)) => Some(object.clone()),
        _ => None,
    };

    if let Some(object) = &object
        && let Some(error) = oauth_error(object, redactor)
    {
        return Err(classify_error(status, Some(error)));
    }
    if !status.is_success() {
        return Err(match status {
            StatusCode::UNAUTHORIZED => classify_error(status, None),
            _ => AuthError::UnexpectedStatus {
                status,
                excerpt: redactor.excerpt(body),
                retry_after: None,
            },
        });
    }
    let malformed = |reason: &str| AuthError::MalformedResponse {
        status,
        reason: reason.to_owned(),
        excerpt: redactor.excerpt(body),
    };
    let Some(mut object) = object else {
        return Err(match parsed {
            Ok(_) => malformed("the body is JSON but not an object"),
            Err(error) => malformed(&describe_json_error(&error)),
        });
    };

    let secret = match object.remove("access_token") {
        Some(Value::String(secret)) if !secret.is_empty() => secret,
        Some(Value::String(_)) => return Err(malformed("`access_token` is empty")),
        Some(_) => return Err(malformed("`access_token` is not a string")),
        None => return Err(malformed("`access_token` is missing")),
    };
    let token_type = match object.remove("token_type") {
        Some(Value::String(token_type)) => TokenType::parse(&token_type),
        // Required by RFC 6749, but some servers omit it; everything here is a bearer token.
        None | Some(Value::Null) => TokenType::Bearer,
        Some(_) => return Err(malformed("`token_type` is not a string")),
    };
    if token_type != TokenType::Bearer {
        // Server text like any other: redacted (a server may echo a credential here), then
        // escaped and bounded.
        return Err(malformed(&format!(
            "unsupported `token_type` `{}`: only bearer tokens can be used",
            crate::redact::sanitize(&redactor.text(token_type.scheme()), 40)
        )));
    }
    let expires_in = match object.remove("expires_in") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            parse_expires_in(&value)
                .ok_or_else(|| malformed("`expires_in` is not a whole number of seconds"))?,
        ),
    };
    let scopes = match object.remove("scope") {
        None | Some(Value::Null) => Scopes::empty(),
        Some(Value::String(scope)) => Scopes::parse(&scope),
        // Not RFC 6749, but seen in the wild: a JSON array of scope strings.
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .flat_map(str::split_whitespace)
            .collect(),
        Some(_) => return Err(malformed("`scope` is not a string")),
    };
    for member in DROPPED_MEMBERS {
        object.remove(member);
    }

    let mut token = AccessToken::new(secret, token_type, obtained_at)
        .map_err(|e| malformed(&e.to_string()))?
        .with_scopes(scopes)
        .with_extra(object);
    // A zero or negative lifetime is treated as absent: the cache's default lifetime applies
    // rather than a token that is expired before it arrives.
    if let Some(seconds) = expires_in.filter(|s| *s > 0) {
        let seconds = seconds.min(MAX_EXPIRES_IN_SECS);
        if let Some(expires_at) = obtained_at.checked_add_signed(TimeDelta::seconds(seconds)) {
            token = token.with_expires_at(expires_at);
        }
    }
    Ok(token)
}

/// Parses an RFC 6749 section 5.2 error body, if `body` is one.
pub fn parse_error_response(body: &[u8], redactor: &Redactor) -> Option<OAuthErrorResponse> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => oauth_error(&object, redactor),
        _ => None,
    }
}

fn oauth_error(object: &Map<String, Value>, redactor: &Redactor) -> Option<OAuthErrorResponse> {
    let code = object.get("error")?.as_str()?;
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| redactor.text(s))
    };
    let code = match OAuthErrorCode::parse(code) {
        // An unknown code is server text like any other: redacted before it is kept.
        OAuthErrorCode::Other(_) => OAuthErrorCode::parse(&redactor.text(code)),
        known => known,
    };
    let mut response = OAuthErrorResponse::new(code);
    response.error_description = text("error_description");
    response.error_uri = text("error_uri");
    Some(response)
}

fn classify_error(status: StatusCode, error: Option<OAuthErrorResponse>) -> AuthError {
    match error {
        Some(error)
            if status != StatusCode::UNAUTHORIZED && !error.error.is_rejected_credentials() =>
        {
            AuthError::oauth(status, error)
        }
        error => AuthError::rejected_credentials(status, error),
    }
}

/// What is wrong with a body that does not parse, in words: not JSON at all, cut short, or
/// JSON this parser refuses (a number out of range, nesting too deep).
fn describe_json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if error.is_eof() {
        "the body ends before the JSON does (truncated)".to_owned()
    } else if text.contains("recursion limit") {
        "the body is JSON nested too deeply to read".to_owned()
    } else if text.contains("number out of range") {
        "the body is JSON with a number out of range".to_owned()
    } else {
        "the body is not JSON".to_owned()
    }
}

/// `expires_in` as an integer, a float with no fraction, or a string holding either.
fn parse_expires_in(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.is_finite() && f.fract() == 0.0)
                .map(|f| f.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        }),
        Value::String(text) => {
            let text = text.trim();
            text.parse::<i64>().ok().or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && f.fract() == 0.0)
                    .map(|f| f.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
            })
        }
        _ => None,
    }
}
