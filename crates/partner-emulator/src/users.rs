//! The Podero users API under `/api/partners/v2.0/org/{org_id}/users`, with the fields and
//! rules of the vendor's documentation and Django REST Framework's error shapes.
//!
//! Every call checks the bearer token first, then the organisation, then the user.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::oauth::{bearer, json_response, unauthorized};
use crate::state::{Inner, ListFormat, State, Vendor};

/// Optional text fields, as documented.
const TEXT_FIELDS: [&str; 6] = [
    "external_user_id",
    "first_name",
    "last_name",
    "street_and_number",
    "street_add_info",
    "town",
];

const ROLES: [&str; 3] = ["admin", "staff", "user"];

fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
}

/// Checks the bearer token and the organisation; on success the caller holds the lock.
// An early-return response is axum's idiom; its size is irrelevant next to an HTTP round trip.
#[allow(clippy::result_large_err)]
fn authorize<'a>(
    state: &'a State,
    headers: &HeaderMap,
    org_id: &str,
) -> Result<std::sync::MutexGuard<'a, Inner>, Response> {
    let Some(token) = bearer(headers) else {
        return Err(unauthorized(true));
    };
    let inner = state.lock();
    if inner.valid_token(token, Vendor::Podero).is_none() {
        return Err(unauthorized(false));
    }
    if Uuid::parse_str(org_id).ok() != Some(state.config.org_id) {
        return Err(not_found());
    }
    Ok(inner)
}

fn find(inner: &Inner, user_id: &str) -> Option<usize> {
    let id = Uuid::parse_str(user_id).ok()?.to_string();
    inner
        .users
        .iter()
        .position(|user| user.get("id").and_then(Value::as_str) == Some(id.as_str()))
}

/// `GET .../users`
pub(crate) async fn list(
    AxumState(state): AxumState<Arc<State>>,
    Path(org_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let inner = match authorize(&state, &headers, &org_id) {
        Ok(inner) => inner,
        Err(response) => return response,
    };
    let page_size = match &inner.list_format {
        ListFormat::BareArray => {
            return json_response(StatusCode::OK, Value::Array(values(&inner.users)));
        }
        ListFormat::Results { page_size } | ListFormat::Items { page_size } => (*page_size).max(1),
    };
    let page: usize = query
        .get("page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let total = inner.users.len();
    let start = (page - 1).saturating_mul(page_size);
    if start >= total && page > 1 {
        return json_response(StatusCode::NOT_FOUND, json!({"detail": "Invalid page."}));
    }
    let items = values(&inner.users[start.min(total)..(start + page_size).min(total)]);
    let link = |n: usize| {
        json!(format!(
            "{}/api/partners/v2.0/org/{org_id}/users?page={n}",
            state.config.base_url
        ))
    };
    let next = if start + page_size < total {
        link(page + 1)
    } else {
        Value::Null
    };
    let body = match &inner.list_format {
        ListFormat::Items { .. } => json!({ "items": items, "next": next }),
        _ => json!({
            "count": total,
            "next": next,
            "previous": if page > 1 { link(page - 1) } else { Value::Null },
            "results": items,
        }),
    };
    json_response(StatusCode::OK, body)
}

fn values(users: &[Map<String, Value>]) -> Vec<Value> {
    users.iter().cloned().map(Value::Object).collect()
}

/// `POST .../users`
pub(crate) async fn create(
    AxumState(state): AxumState<Arc<State>>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = match authorize(&state, &headers, &org_id) {
        Ok(inner) => inner,
        Err(response) => return response,
    };
    let Some(request) = parse_body(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"detail": "JSON parse error"}),
        );
    };
    let mut user = Map::new();
    user.insert("id".into(), json!(Uuid::new_v4().to_string()));
    for field in [
        "external_user_id",
        "role",
        "email",
        "first_name",
        "last_name",
    ] {
        user.insert(field.into(), Value::Null);
    }
    for field in [
        "street_and_number",
        "street_add_info",
        "zip_code",
        "town",
        "country",
        "latitude",
        "longitude",
        "location_last_updated",
    ] {
        user.insert(field.into(), Value::Null);
    }
    if let Err(errors) = apply(&inner, &mut user, &request, true) {
        return json_response(StatusCode::BAD_REQUEST, Value::Object(errors));
    }
    inner.users.push(user.clone());
    (StatusCode::CREATED, axum::Json(Value::Object(user))).into_response()
}

/// `GET .../users/{user_id}`
pub(crate) async fn get(
    AxumState(state): AxumState<Arc<State>>,
    Path((org_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let inner = match authorize(&state, &headers, &org_id) {
        Ok(inner) => inner,
        Err(response) => return response,
    };
    match find(&inner, &user_id) {
        Some(index) => json_response(StatusCode::OK, Value::Object(inner.users[index].clone())),
        None => not_found(),
    }
}

/// `PUT .../users/{user_id}`: only the fields in the body change.
pub(crate) async fn update(
    AxumState(state): AxumState<Arc<State>>,
    Path((org_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = match authorize(&state, &headers, &org_id) {
        Ok(inner) => inner,
        Err(response) => return response,
    };
    let Some(index) = find(&inner, &user_id) else {
        return not_found();
    };
    let Some(request) = parse_body(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"detail": "JSON parse error"}),
        );
    };
    let mut user = inner.users[index].clone();
    if let Err(errors) = apply(&inner, &mut user, &request, false) {
        return json_response(StatusCode::BAD_REQUEST, Value::Object(errors));
    }
    inner.users[index] = user.clone();
    json_response(StatusCode::OK, Value::Object(user))
}

/// `DELETE .../users/{user_id}`
pub(crate) async fn delete(
    AxumState(state): AxumState<Arc<State>>,
    Path((org_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut inner = match authorize(&state, &headers, &org_id) {
        Ok(inner) => inner,
        Err(response) => return response,
    };
    match find(&inner, &user_id) {
        Some(index) => {
            inner.users.remove(index);
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found(),
    }
}

fn parse_body(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    }
}

/// Validates `request` and applies it to `user`; on failure, DRF-style field errors
/// (`{"email": ["This field is required."]}`). `creating` makes `email` and `role` required.
fn apply(
    inner: &Inner,
    user: &mut Map<String, Value>,
    request: &Map<String, Value>,
    creating: bool,
) -> Result<(), Map<String, Value>> {
    let mut errors = Map::new();
    let mut error = |field: &str, message: String| {
        errors.insert(field.to_owned(), json!([message]));
    };
    let required = "This field is required.".to_owned();

    match request.get("email") {
        None | Some(Value::Null) if creating => error("email", required.clone()),
        None => {}
        Some(Value::String(email)) if email.trim().is_empty() => {
            error("email", "This field may not be blank.".into());
        }
        Some(Value::String(email)) if !looks_like_email(email) => {
            error("email", "Enter a valid email address.".into());
        }
        Some(Value::String(email)) => {
            let id = user.get("id").cloned();
            let taken = inner.users.iter().any(|other| {
                other.get("id").cloned() != id
                    && other
                        .get("email")
                        .and_then(Value::as_str)
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
            });
            if taken {
                error("email", "user with this email already exists.".into());
            } else {
                user.insert("email".into(), json!(email));
            }
        }
        Some(_) => error("email", "Enter a valid email address.".into()),
    }

    match request.get("role") {
        None | Some(Value::Null) if creating => error("role", required.clone()),
        None => {}
        Some(Value::String(role)) if ROLES.contains(&role.as_str()) => {
            user.insert("role".into(), json!(role));
        }
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned);
            error("role", format!("\"{shown}\" is not a valid choice."));
        }
    }

    for field in TEXT_FIELDS {
        match request.get(field) {
            None => {}
            Some(value @ (Value::String(_) | Value::Null)) => {
                user.insert(field.into(), value.clone());
            }
            Some(_) => error(field, "Not a valid string.".into()),
        }
    }

    // Documented as an integer, sent as a string in the update example: both accepted, kept
    // as text so leading zeros survive.
    match request.get("zip_code") {
        None => {}
        Some(Value::Null) => {
            user.insert("zip_code".into(), Value::Null);
        }
        Some(Value::String(zip)) => {
            user.insert("zip_code".into(), json!(zip));
        }
        Some(Value::Number(zip)) => {
            user.insert("zip_code".into(), json!(zip.to_string()));
        }
        Some(_) => error("zip_code", "A valid integer is required.".into()),
    }

    // `country_iso2` in requests, `country` in responses; either is accepted.
    for field in ["country_iso2", "country"] {
        match request.get(field) {
            None => {}
            Some(value @ (Value::String(_) | Value::Null)) => {
                user.insert("country".into(), value.clone());
            }
            Some(_) => error(field, "Not a valid string.".into()),
        }
    }

    let mut located = false;
    for field in ["latitude", "longitude"] {
        match request.get(field) {
            None => {}
            Some(value @ (Value::Number(_) | Value::Null)) => {
                located |= value.is_number();
                user.insert(field.into(), value.clone());
            }
            Some(_) => error(field, "A valid number is required.".into()),
        }
    }
    if located {
        user.insert(
            "location_last_updated".into(),
            json!(inner.now().to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
    }

    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Django's email check, roughly: one `@`, a non-empty local part, a dotted domain, no spaces.
fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !email.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::looks_like_email;

    #[test]
    fn email_check() {
        assert!(looks_like_email("someone@example.com"));
        assert!(looks_like_email("a.b+c@sub.example.co"));
        for bad in ["", "a", "a@b", "@b.c", "a b@c.d", "a@.c", "a@c.", "a@@b.c"] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}
