//! The HTTP side of Podero's users API under `/api/partners/v2.0/org/{org_id}/users`: the
//! handlers, request bodies as Django REST Framework parses them, the list formats, and the
//! rejections with DRF's error shapes. The users themselves live in `user_store.rs`.
//!
//! Every call checks, in this order: the bearer token (401), the organisation (404, also for a
//! path that does not decode), the user (404), then the body (413, 415, 400). Only the
//! emulator's one organisation exists.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Extension, Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::bearer::{self, PoderoRejection};
use crate::faults::PaginationTrap;
use crate::http::{self, BodyRejection, media_type};
use crate::state::State;
use crate::types::ListFormat;
use crate::user_store::{FieldErrors, User};

/// Why a users call was refused, answered with Django REST Framework's shapes.
#[derive(Debug)]
pub(crate) enum UsersRejection {
    /// The bearer token: 401.
    Unauthorized(PoderoRejection),
    /// An unknown organisation or user, or a path that does not decode: 404 "Not found.".
    NotFound,
    /// A page number that is not a positive integer or lies beyond the last page: 404.
    InvalidPage,
    /// The body could not be read: 413 or 400.
    Body(BodyRejection),
    /// A body of another media type than JSON: 415.
    UnsupportedMediaType(String),
    /// A body that is not JSON: 400.
    JsonParse,
    /// A JSON body that is not an object (the name of its Python type): 400.
    NotAnObject(&'static str),
    /// Field errors: 400.
    Invalid(FieldErrors),
}

impl From<PoderoRejection> for UsersRejection {
    fn from(rejection: PoderoRejection) -> Self {
        UsersRejection::Unauthorized(rejection)
    }
}

impl From<BodyRejection> for UsersRejection {
    fn from(rejection: BodyRejection) -> Self {
        UsersRejection::Body(rejection)
    }
}

impl From<FieldErrors> for UsersRejection {
    fn from(errors: FieldErrors) -> Self {
        UsersRejection::Invalid(errors)
    }
}

impl IntoResponse for UsersRejection {
    fn into_response(self) -> Response {
        match self {
            UsersRejection::Unauthorized(rejection) => rejection.into_response(),
            UsersRejection::NotFound => {
                http::json(StatusCode::NOT_FOUND, &json!({"detail": "Not found."}))
            }
            UsersRejection::InvalidPage => {
                http::json(StatusCode::NOT_FOUND, &json!({"detail": "Invalid page."}))
            }
            UsersRejection::Body(rejection) => rejection.into_response(),
            UsersRejection::UnsupportedMediaType(media_type) => http::json(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &json!({
                    "detail": format!("Unsupported media type \"{media_type}\" in request."),
                }),
            ),
            UsersRejection::JsonParse => http::json(
                StatusCode::BAD_REQUEST,
                &json!({"detail": "JSON parse error"}),
            ),
            UsersRejection::NotAnObject(kind) => http::json(
                StatusCode::BAD_REQUEST,
                &json!({
                    "non_field_errors": [
                        format!("Invalid data. Expected a dictionary, but got {kind}.")
                    ],
                }),
            ),
            UsersRejection::Invalid(errors) => http::json(StatusCode::BAD_REQUEST, &errors),
        }
    }
}

/// The checks every users call starts with: the bearer token (401), then the path (404 if
/// axum cannot decode it), then the organisation (404). Answers the path parameters.
fn authorize<T: OrgPath>(
    state: &State,
    headers: &HeaderMap,
    path: Result<Path<T>, PathRejection>,
) -> Result<T, UsersRejection> {
    bearer::podero(state, headers)?;
    let Ok(Path(params)) = path else {
        return Err(UsersRejection::NotFound);
    };
    match Uuid::try_parse(params.org_id()) {
        Ok(org) if org == state.config.org_id => Ok(params),
        _ => Err(UsersRejection::NotFound),
    }
}

/// Path parameters that start with the organisation id.
trait OrgPath {
    fn org_id(&self) -> &str;
}

impl OrgPath for String {
    fn org_id(&self) -> &str {
        self
    }
}

impl OrgPath for (String, String) {
    fn org_id(&self) -> &str {
        &self.0
    }
}

/// The user id of a path, or the 404 for one that is not a UUID.
fn user_id(raw: &str) -> Result<Uuid, UsersRejection> {
    Uuid::try_parse(raw).map_err(|_| UsersRejection::NotFound)
}

/// The request body as a JSON object, as DRF's JSON parser and serializer see it: an empty
/// body is an empty object, a body of another media type is a 415.
fn json_object(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, UsersRejection> {
    let body = http::body(body)?;
    match media_type(headers) {
        None => {}
        Some(media_type) if media_type == "application/json" => {}
        Some(media_type) => return Err(UsersRejection::UnsupportedMediaType(media_type)),
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(UsersRejection::NotAnObject(match other {
            Value::Array(_) => "list",
            Value::String(_) => "str",
            Value::Number(_) => "int",
            Value::Bool(_) => "bool",
            _ => "NoneType",
        })),
        Err(_) => Err(UsersRejection::JsonParse),
    }
}

/// `GET .../users`
pub(crate) async fn list(
    AxumState(state): AxumState<Arc<State>>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    trap: Option<Extension<PaginationTrap>>,
) -> Result<Response, UsersRejection> {
    authorize(&state, &headers, path)?;
    if let Some(Extension(trap)) = trap {
        return Ok(trapped_page(&state, &uri, trap));
    }
    let org = state.config.org_id;
    let list_format = state.settings().list_format;
    let page_size = match list_format {
        ListFormat::BareArray => {
            let users = state.users();
            let all: Vec<&User> = users.all().collect();
            return Ok(http::json(StatusCode::OK, &all));
        }
        ListFormat::Results { page_size } | ListFormat::Items { page_size } => page_size.max(1),
    };
    // DRF answers 404 "Invalid page." for a page that is not a positive integer or lies
    // beyond the last page (page 1 always exists, even when empty).
    let page = page_number(&uri).ok_or(UsersRejection::InvalidPage)?;
    let users = state.users();
    let total = users.len();
    let start = (page - 1).saturating_mul(page_size);
    if page > 1 && start >= total {
        return Err(UsersRejection::InvalidPage);
    }
    let items: Vec<&User> = users.all().skip(start).take(page_size).collect();
    let base = format!(
        "{}/api/partners/v2.0/org/{org}/users",
        state.config.base_url
    );
    let next =
        (start.saturating_add(page_size) < total).then(|| format!("{base}?page={}", page + 1));
    let body = match list_format {
        ListFormat::Items { .. } => json!({"items": items, "next": next}),
        _ => {
            // As DRF does, the link to the first page carries no page parameter.
            let previous = match page {
                1 => None,
                2 => Some(base.clone()),
                _ => Some(format!("{base}?page={}", page - 1)),
            };
            json!({"count": total, "next": next, "previous": previous, "results": items})
        }
    };
    Ok(http::json(StatusCode::OK, &body))
}

/// A page that misleads a client following `next` links; see [`PaginationTrap`].
fn trapped_page(state: &State, uri: &Uri, trap: PaginationTrap) -> Response {
    let (page_size, items_envelope) = match state.settings().list_format {
        ListFormat::Items { page_size } => (page_size.max(1), true),
        ListFormat::Results { page_size } => (page_size.max(1), false),
        ListFormat::BareArray => (100, false),
    };
    let page = page_number(uri).unwrap_or(1);
    let base = format!(
        "{}/api/partners/v2.0/org/{}/users",
        state.config.base_url, state.config.org_id
    );
    let made_up = |count: usize| -> Vec<User> {
        (0..count)
            .map(|n| User::made_up(format!("trap-{page}-{n}@example.com")))
            .collect()
    };
    let real = || -> Vec<User> {
        let start = (page - 1).saturating_mul(page_size);
        state
            .users()
            .all()
            .skip(start)
            .take(page_size)
            .cloned()
            .collect()
    };
    let (items, next, count) = match trap {
        PaginationTrap::SelfLink => {
            let items = real();
            let here = format!("{}{}", state.config.base_url, uri);
            let count = state.users().len();
            (items, Some(here), count)
        }
        PaginationTrap::Cycle => {
            let next = if page == 1 {
                format!("{base}?page=2")
            } else {
                format!("{base}?page=1")
            };
            (real(), Some(next), state.users().len())
        }
        PaginationTrap::Endless => {
            let count = page.saturating_add(1).saturating_mul(page_size);
            (
                made_up(page_size),
                Some(format!("{base}?page={}", page.saturating_add(1))),
                count,
            )
        }
        PaginationTrap::HugePage { users } => (made_up(users), None, users),
        PaginationTrap::CrossOrigin { next } => (real(), Some(next), state.users().len()),
    };
    let body = if items_envelope {
        json!({"items": items, "next": next})
    } else {
        let previous = match page {
            1 => None,
            2 => Some(base.clone()),
            _ => Some(format!("{base}?page={}", page - 1)),
        };
        json!({"count": count, "next": next, "previous": previous, "results": items})
    };
    http::json(StatusCode::OK, &body)
}

/// The `page` query parameter: 1 when absent, `None` when not a positive integer.
fn page_number(uri: &Uri) -> Option<usize> {
    let query = uri.query().unwrap_or_default();
    match form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "page") {
        None => Some(1),
        Some((_, value)) => value.parse::<usize>().ok().filter(|page| *page >= 1),
    }
}

/// `POST .../users`: 201 with the created user.
pub(crate) async fn create(
    AxumState(state): AxumState<Arc<State>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, UsersRejection> {
    authorize(&state, &headers, path)?;
    let request = json_object(&headers, body)?;
    let now = state.now();
    let user = state.users().create(&request, &now)?;
    Ok(http::json(StatusCode::CREATED, &user))
}

/// `GET .../users/{user_id}`
pub(crate) async fn get(
    AxumState(state): AxumState<Arc<State>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, UsersRejection> {
    let (_, user_id) = authorize(&state, &headers, path)?;
    let id = self::user_id(&user_id)?;
    let users = state.users();
    let user = users.get(id).ok_or(UsersRejection::NotFound)?;
    Ok(http::json(StatusCode::OK, user))
}

/// `PUT .../users/{user_id}`: only the fields in the body change; answers the whole user.
pub(crate) async fn update(
    AxumState(state): AxumState<Arc<State>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, UsersRejection> {
    let (_, user_id) = authorize(&state, &headers, path)?;
    let id = self::user_id(&user_id)?;
    // The user is looked up before the body is read, so an unknown user is a 404 whatever
    // the body; the lock is not held while the body is parsed.
    if state.users().get(id).is_none() {
        return Err(UsersRejection::NotFound);
    }
    let request = json_object(&headers, body)?;
    let now = state.now();
    // `None`: deleted by a concurrent request since the check above.
    let user = state
        .users()
        .update(id, &request, &now)
        .ok_or(UsersRejection::NotFound)??;
    Ok(http::json(StatusCode::OK, &user))
}

/// `DELETE .../users/{user_id}`: 204, immediately.
pub(crate) async fn delete(
    AxumState(state): AxumState<Arc<State>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, UsersRejection> {
    let (_, user_id) = authorize(&state, &headers, path)?;
    let id = self::user_id(&user_id)?;
    if state.users().remove(id) {
        Ok(http::no_content())
    } else {
        Err(UsersRejection::NotFound)
    }
}
