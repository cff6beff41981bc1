//! The Podero users API under `/api/partners/v2.0/org/{org_id}/users`: the user store, the
//! request validation with Django REST Framework's error shapes, and the list formats.
//!
//! Every call checks, in this order: the bearer token (401), the organisation (404, also for a
//! path that does not decode), the user (404), then the body (413, 415, 400). Only the
//! emulator's one organisation exists.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::SecondsFormat;
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::http::{self, media_type};
use crate::podero::{authenticate, unauthorized};
use crate::state::State;
use crate::types::ListFormat;

const ROLES: [&str; 3] = ["admin", "staff", "user"];

/// Django's `EmailField` limit.
const MAX_EMAIL_LEN: usize = 254;

/// A user, serialised with exactly the documented fields, in the documented order; absent
/// optional fields are `null`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct User {
    id: Uuid,
    external_user_id: Option<String>,
    role: String,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    street_and_number: Option<String>,
    street_add_info: Option<String>,
    zip_code: Option<String>,
    town: Option<String>,
    country: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    location_last_updated: Option<String>,
}

/// The organisation's users, in creation order, indexed by id and by lowercased email.
#[derive(Debug, Default)]
pub(crate) struct UserStore {
    by_serial: BTreeMap<u64, User>,
    serial_of: HashMap<Uuid, u64>,
    email_owner: HashMap<String, Uuid>,
    next_serial: u64,
}

impl UserStore {
    fn get(&self, id: Uuid) -> Option<&User> {
        self.by_serial.get(self.serial_of.get(&id)?)
    }

    fn insert(&mut self, user: User) {
        let serial = self.next_serial;
        self.next_serial += 1;
        self.email_owner.insert(user.email.to_lowercase(), user.id);
        self.serial_of.insert(user.id, serial);
        self.by_serial.insert(serial, user);
    }

    fn replace(&mut self, user: User) {
        let Some(serial) = self.serial_of.get(&user.id).copied() else {
            return;
        };
        if let Some(old) = self.by_serial.insert(serial, user.clone()) {
            self.email_owner.remove(&old.email.to_lowercase());
        }
        self.email_owner.insert(user.email.to_lowercase(), user.id);
    }

    fn remove(&mut self, id: Uuid) -> bool {
        let Some(serial) = self.serial_of.remove(&id) else {
            return false;
        };
        if let Some(user) = self.by_serial.remove(&serial) {
            self.email_owner.remove(&user.email.to_lowercase());
        }
        true
    }

    /// Whether another user than `me` has this email, compared case-insensitively.
    fn email_taken(&self, email: &str, me: Option<Uuid>) -> bool {
        self.email_owner
            .get(&email.to_lowercase())
            .is_some_and(|owner| Some(*owner) != me)
    }
}

fn not_found() -> Response {
    http::json(StatusCode::NOT_FOUND, &json!({"detail": "Not found."}))
}

/// The checks every users call starts with: the bearer token (401), then the path (404 if
/// axum cannot decode it), then the organisation (404). Answers the path parameters.
// The error is a ready response; boxing it would only move the allocation elsewhere.
#[allow(clippy::result_large_err)]
fn authorize<T: OrgPath>(
    state: &State,
    headers: &HeaderMap,
    path: Result<Path<T>, PathRejection>,
) -> Result<T, Response> {
    authenticate(state, headers).map_err(unauthorized)?;
    let Ok(Path(params)) = path else {
        return Err(not_found());
    };
    match Uuid::try_parse(params.org_id()) {
        Ok(org) if org == state.config.org_id => Ok(params),
        _ => Err(not_found()),
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

/// The request body as a JSON object, as DRF's JSON parser and serializer see it: an empty
/// body is an empty object, a body of another media type is a 415.
// The error is a ready response; boxing it would only move the allocation elsewhere.
#[allow(clippy::result_large_err)]
fn json_object(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, Response> {
    let body = http::body(body)?;
    match media_type(headers) {
        None => {}
        Some(media_type) if media_type == "application/json" => {}
        Some(media_type) => {
            return Err(http::json(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &json!({
                    "detail": format!("Unsupported media type \"{media_type}\" in request."),
                }),
            ));
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => {
            let kind = match other {
                Value::Array(_) => "list",
                Value::String(_) => "str",
                Value::Number(_) => "int",
                Value::Bool(_) => "bool",
                _ => "NoneType",
            };
            Err(http::json(
                StatusCode::BAD_REQUEST,
                &json!({
                    "non_field_errors": [
                        format!("Invalid data. Expected a dictionary, but got {kind}.")
                    ],
                }),
            ))
        }
        Err(_) => Err(http::json(
            StatusCode::BAD_REQUEST,
            &json!({"detail": "JSON parse error"}),
        )),
    }
}

/// `GET .../users`
pub(crate) async fn list(
    AxumState(state): AxumState<Arc<State>>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = authorize(&state, &headers, path) {
        return response;
    }
    let org = state.config.org_id;
    let list_format = state.settings().list_format;
    let page_size = match list_format {
        ListFormat::BareArray => {
            let users = state.users();
            let all: Vec<&User> = users.by_serial.values().collect();
            return http::json(StatusCode::OK, &all);
        }
        ListFormat::Results { page_size } | ListFormat::Items { page_size } => page_size.max(1),
    };
    // DRF answers 404 "Invalid page." for a page that is not a positive integer or lies
    // beyond the last page (page 1 always exists, even when empty).
    let page = match page_number(&uri) {
        Some(page) => page,
        None => return invalid_page(),
    };
    let users = state.users();
    let total = users.by_serial.len();
    let start = (page - 1).saturating_mul(page_size);
    if page > 1 && start >= total {
        return invalid_page();
    }
    let items: Vec<&User> = users
        .by_serial
        .values()
        .skip(start)
        .take(page_size)
        .collect();
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

fn invalid_page() -> Response {
    http::json(StatusCode::NOT_FOUND, &json!({"detail": "Invalid page."}))
}

/// `POST .../users`: 201 with the created user.
pub(crate) async fn create(
    AxumState(state): AxumState<Arc<State>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(response) = authorize(&state, &headers, path) {
        return response;
    }
    let request = match json_object(&headers, body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let now = state.now();
    let mut users = state.users();
    match validate(&users, &request, None, &now) {
        Ok(changes) => {
            let mut user = User {
                id: Uuid::new_v4(),
                external_user_id: None,
                role: String::new(),
                email: String::new(),
                first_name: None,
                last_name: None,
                street_and_number: None,
                street_add_info: None,
                zip_code: None,
                town: None,
                country: None,
                latitude: None,
                longitude: None,
                location_last_updated: None,
            };
            changes.apply(&mut user);
            users.insert(user.clone());
            drop(users);
            http::json(StatusCode::CREATED, &user)
        }
        Err(errors) => http::json(StatusCode::BAD_REQUEST, &errors),
    }
}

/// `GET .../users/{user_id}`
pub(crate) async fn get(
    AxumState(state): AxumState<Arc<State>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let (_, user_id) = match authorize(&state, &headers, path) {
        Ok(params) => params,
        Err(response) => return response,
    };
    let Ok(id) = Uuid::try_parse(&user_id) else {
        return not_found();
    };
    let users = state.users();
    match users.get(id) {
        Some(user) => http::json(StatusCode::OK, user),
        None => not_found(),
    }
}

/// `PUT .../users/{user_id}`: only the fields in the body change; answers the whole user.
pub(crate) async fn update(
    AxumState(state): AxumState<Arc<State>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (_, user_id) = match authorize(&state, &headers, path) {
        Ok(params) => params,
        Err(response) => return response,
    };
    let Ok(id) = Uuid::try_parse(&user_id) else {
        return not_found();
    };
    // The user is looked up before the body is read, so an unknown user is a 404 whatever
    // the body; the lock is not held while the body is parsed.
    if state.users().get(id).is_none() {
        return not_found();
    }
    let request = match json_object(&headers, body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let now = state.now();
    let mut users = state.users();
    // Deleted by a concurrent request since the check above.
    let Some(mut user) = users.get(id).cloned() else {
        return not_found();
    };
    match validate(&users, &request, Some(id), &now) {
        Ok(changes) => {
            changes.apply(&mut user);
            users.replace(user.clone());
            drop(users);
            http::json(StatusCode::OK, &user)
        }
        Err(errors) => http::json(StatusCode::BAD_REQUEST, &errors),
    }
}

/// `DELETE .../users/{user_id}`: 204, immediately.
pub(crate) async fn delete(
    AxumState(state): AxumState<Arc<State>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let (_, user_id) = match authorize(&state, &headers, path) {
        Ok(params) => params,
        Err(response) => return response,
    };
    match Uuid::try_parse(&user_id) {
        Ok(id) if state.users().remove(id) => http::no_content(),
        _ => not_found(),
    }
}

/// A validated request: for each field, `None` leaves it alone, `Some(value)` sets it.
#[derive(Default)]
struct Changes {
    email: Option<String>,
    role: Option<String>,
    text: Vec<(TextField, Option<String>)>,
    zip_code: Option<Option<String>>,
    country: Option<Option<String>>,
    latitude: Option<Option<f64>>,
    longitude: Option<Option<f64>>,
    location_last_updated: Option<String>,
}

#[derive(Clone, Copy)]
enum TextField {
    ExternalUserId,
    FirstName,
    LastName,
    StreetAndNumber,
    StreetAddInfo,
    Town,
}

impl TextField {
    const ALL: [(TextField, &'static str); 6] = [
        (TextField::ExternalUserId, "external_user_id"),
        (TextField::FirstName, "first_name"),
        (TextField::LastName, "last_name"),
        (TextField::StreetAndNumber, "street_and_number"),
        (TextField::StreetAddInfo, "street_add_info"),
        (TextField::Town, "town"),
    ];
}

impl Changes {
    fn apply(self, user: &mut User) {
        if let Some(email) = self.email {
            user.email = email;
        }
        if let Some(role) = self.role {
            user.role = role;
        }
        for (field, value) in self.text {
            let slot = match field {
                TextField::ExternalUserId => &mut user.external_user_id,
                TextField::FirstName => &mut user.first_name,
                TextField::LastName => &mut user.last_name,
                TextField::StreetAndNumber => &mut user.street_and_number,
                TextField::StreetAddInfo => &mut user.street_add_info,
                TextField::Town => &mut user.town,
            };
            *slot = value;
        }
        if let Some(zip_code) = self.zip_code {
            user.zip_code = zip_code;
        }
        if let Some(country) = self.country {
            user.country = country;
        }
        if let Some(latitude) = self.latitude {
            user.latitude = latitude;
        }
        if let Some(longitude) = self.longitude {
            user.longitude = longitude;
        }
        if let Some(at) = self.location_last_updated {
            user.location_last_updated = Some(at);
        }
    }
}

/// DRF-style field errors: `{"email": ["This field is required."]}`.
type FieldErrors = BTreeMap<String, Vec<String>>;

const REQUIRED: &str = "This field is required.";
const NOT_NULL: &str = "This field may not be null.";
const NOT_A_STRING: &str = "Not a valid string.";

/// Validates a create (`me` is `None`: `email` and `role` required) or an update (`me` is the
/// user: only the fields present are checked and changed). Unknown fields are ignored.
fn validate(
    users: &UserStore,
    request: &Map<String, Value>,
    me: Option<Uuid>,
    now: &chrono::DateTime<chrono::Utc>,
) -> Result<Changes, FieldErrors> {
    let creating = me.is_none();
    let mut errors = FieldErrors::new();
    let mut error = |field: &str, message: String| {
        errors.entry(field.to_owned()).or_default().push(message);
    };
    let mut changes = Changes::default();

    match request.get("email") {
        None if creating => error("email", REQUIRED.into()),
        None => {}
        Some(Value::Null) => error("email", NOT_NULL.into()),
        Some(Value::String(email)) => {
            let email = email.trim();
            if email.is_empty() {
                error("email", "This field may not be blank.".into());
            } else if email.chars().count() > MAX_EMAIL_LEN {
                error(
                    "email",
                    format!("Ensure this field has no more than {MAX_EMAIL_LEN} characters."),
                );
            } else if !looks_like_email(email) {
                error("email", "Enter a valid email address.".into());
            } else if users.email_taken(email, me) {
                error("email", "user with this email already exists.".into());
            } else {
                changes.email = Some(email.to_owned());
            }
        }
        Some(_) => error("email", "Enter a valid email address.".into()),
    }

    match request.get("role") {
        None if creating => error("role", REQUIRED.into()),
        None => {}
        Some(Value::Null) => error("role", NOT_NULL.into()),
        Some(Value::String(role)) if ROLES.contains(&role.as_str()) => {
            changes.role = Some(role.clone());
        }
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned);
            error("role", format!("\"{shown}\" is not a valid choice."));
        }
    }

    for (field, name) in TextField::ALL {
        match request.get(name) {
            None => {}
            Some(Value::Null) => changes.text.push((field, None)),
            Some(Value::String(text)) => changes.text.push((field, Some(text.clone()))),
            // DRF's CharField turns numbers into text.
            Some(Value::Number(number)) => changes.text.push((field, Some(number.to_string()))),
            Some(_) => error(name, NOT_A_STRING.into()),
        }
    }

    // Documented as an integer, sent as a string in the vendor's update example, and German
    // postcodes have leading zeros: a string is kept as it is, an integer becomes its digits.
    match request.get("zip_code") {
        None => {}
        Some(Value::Null) => changes.zip_code = Some(None),
        Some(Value::String(zip)) => changes.zip_code = Some(Some(zip.clone())),
        Some(Value::Number(zip)) if zip.is_i64() || zip.is_u64() => {
            changes.zip_code = Some(Some(zip.to_string()));
        }
        Some(_) => error("zip_code", "A valid integer is required.".into()),
    }

    // `country_iso2` is the documented request field and wins over `country`, the response
    // field, which is accepted too.
    for name in ["country", "country_iso2"] {
        match request.get(name) {
            None => {}
            Some(Value::Null) => changes.country = Some(None),
            Some(Value::String(country)) => changes.country = Some(Some(country.clone())),
            Some(_) => error(name, NOT_A_STRING.into()),
        }
    }

    for name in ["latitude", "longitude"] {
        let Some(value) = request.get(name) else {
            continue;
        };
        let Ok(value) = coordinate(value) else {
            error(name, "A valid number is required.".into());
            continue;
        };
        if value.is_some() {
            changes.location_last_updated = Some(now.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
        if name == "latitude" {
            changes.latitude = Some(value);
        } else {
            changes.longitude = Some(value);
        }
    }

    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

/// A latitude or longitude: a number, a numeric string (DRF's `FloatField` takes both) or
/// null; `Err` for anything else.
fn coordinate(value: &Value) -> Result<Option<f64>, ()> {
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => number.as_f64().map(Some).ok_or(()),
        Value::String(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite())
            .map(Some)
            .ok_or(()),
        _ => Err(()),
    }
}

/// Roughly Django's email check: one `@`, a non-empty local part, a dotted domain whose labels
/// are non-empty, no whitespace.
fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains('@')
        && !email.contains(char::is_whitespace)
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

#[cfg(test)]
mod tests {
    use super::looks_like_email;

    #[test]
    fn email_check() {
        assert!(looks_like_email("someone@example.com"));
        assert!(looks_like_email("a.b+c@sub.example.co"));
        for bad in [
            "", "a", "a@b", "@b.c", "a b@c.d", "a@.c", "a@c.", "a@@b.c", "a@b..c",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}
