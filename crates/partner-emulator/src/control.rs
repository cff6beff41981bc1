//! The control API under `/__emulator/`: the Rust API's knobs over HTTP, so that a CLI or a
//! test in another process can drive the emulator.
//!
//! It is unauthenticated on purpose: the emulator is a test tool meant for loopback. Control
//! requests are neither counted nor logged, so they never disturb what a test asserts about
//! the emulated endpoints. Bodies are JSON (whatever the `Content-Type`); unknown fields and
//! out-of-range values are a 400 `{"error":"invalid_request","error_description":...}`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::faults::Fault;
use crate::http::{self, BodyRejection, no_content};
use crate::state::State;
use crate::types::{
    Client, Endpoint, ListFormat, PoderoBearerRejection, PoderoTokenBackend, Vendor,
};

/// Why a control request was refused: 400 `{"error":"invalid_request",...}`, or the body
/// could not be read.
#[derive(Debug)]
pub(crate) enum ControlRejection {
    Body(BodyRejection),
    Invalid(String),
}

impl From<BodyRejection> for ControlRejection {
    fn from(rejection: BodyRejection) -> Self {
        ControlRejection::Body(rejection)
    }
}

impl IntoResponse for ControlRejection {
    fn into_response(self) -> Response {
        match self {
            ControlRejection::Body(rejection) => rejection.into_response(),
            ControlRejection::Invalid(description) => http::json(
                StatusCode::BAD_REQUEST,
                &json!({"error": "invalid_request", "error_description": description}),
            ),
        }
    }
}

fn invalid(description: impl Into<String>) -> ControlRejection {
    ControlRejection::Invalid(description.into())
}

/// The body as `T`, or the 400 (or 413) to answer instead.
fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ControlRejection> {
    let body = http::body(body)?;
    serde_json::from_slice(&body).map_err(|error| invalid(error.to_string()))
}

/// `GET /__emulator/counters`: `{"podero_token": 3, ...}`, every endpoint present.
pub(crate) async fn counters(AxumState(state): AxumState<Arc<State>>) -> Response {
    http::json(StatusCode::OK, &state.counters())
}

/// `GET /__emulator/requests`: the request log, oldest first.
pub(crate) async fn requests(AxumState(state): AxumState<Arc<State>>) -> Response {
    http::json(StatusCode::OK, &state.request_log())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    endpoint: Endpoint,
    #[serde(default = "one")]
    count: u32,
    status: Option<u16>,
    retry_after: Option<u64>,
    delay_ms: Option<u64>,
    #[serde(default)]
    close_connection: bool,
}

fn one() -> u32 {
    1
}

/// `POST /__emulator/faults`: exactly one of `status` (with an optional `retry_after`),
/// `delay_ms` or `"close_connection": true`; `count` defaults to 1.
pub(crate) async fn faults(
    AxumState(state): AxumState<Arc<State>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlRejection> {
    let request: FaultRequest = parse(body)?;
    if request.count == 0 {
        return Err(invalid("count must be at least 1"));
    }
    if request.retry_after.is_some() && request.status.is_none() {
        return Err(invalid("retry_after goes with status"));
    }
    let fault = match (request.status, request.delay_ms, request.close_connection) {
        (Some(status), None, false) if (200..=599).contains(&status) => {
            let fault = Fault::status(status);
            match request.retry_after {
                Some(secs) => fault.retry_after(secs),
                None => fault,
            }
        }
        (Some(_), None, false) => return Err(invalid("status must be within 200-599")),
        (None, Some(ms), false) => Fault::delay(Duration::from_millis(ms)),
        (None, None, true) => Fault::close_connection(),
        _ => {
            return Err(invalid(
                "give exactly one of status, delay_ms or close_connection (set to true)",
            ));
        }
    };
    state.inject(request.endpoint, fault.times(request.count));
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LifetimeRequest {
    vendor: Vendor,
    seconds: u64,
}

/// `POST /__emulator/token-lifetime`: `{"vendor": "podero"|"poa", "seconds": 60}`.
pub(crate) async fn token_lifetime(
    AxumState(state): AxumState<Arc<State>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlRejection> {
    let request: LifetimeRequest = parse(body)?;
    state.set_token_lifetime(request.vendor, Duration::from_secs(request.seconds));
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JwtLifetimeRequest {
    /// A `Value` rather than an `Option`, so that a missing field is an error and only an
    /// explicit `null` turns the knob off.
    seconds: serde_json::Value,
}

/// `POST /__emulator/poa-jwt-lifetime`: `{"seconds": 60}` or `{"seconds": null}`.
pub(crate) async fn poa_jwt_lifetime(
    AxumState(state): AxumState<Arc<State>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlRejection> {
    let request: JwtLifetimeRequest = parse(body)?;
    let lifetime = match request.seconds {
        serde_json::Value::Null => None,
        seconds => Some(Duration::from_secs(seconds.as_u64().ok_or_else(|| {
            invalid("seconds must be a non-negative integer or null")
        })?)),
    };
    state.set_poa_jwt_lifetime(lifetime);
    Ok(no_content())
}

/// `POST /__emulator/revoke-tokens`
pub(crate) async fn revoke_tokens(AxumState(state): AxumState<Arc<State>>) -> Response {
    state.tokens().revoke_all();
    no_content()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceRequest {
    seconds: u64,
}

/// `POST /__emulator/advance-time`: `{"seconds": 100}`.
pub(crate) async fn advance_time(
    AxumState(state): AxumState<Arc<State>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlRejection> {
    let request: AdvanceRequest = parse(body)?;
    state.advance_time(Duration::from_secs(request.seconds));
    Ok(no_content())
}

/// `POST /__emulator/reset`
pub(crate) async fn reset(AxumState(state): AxumState<Arc<State>>) -> Response {
    state.reset();
    no_content()
}

#[derive(Deserialize)]
#[serde(tag = "format", rename_all = "snake_case", deny_unknown_fields)]
enum ListFormatRequest {
    // A struct variant, not a unit one: serde ignores unknown fields next to the tag of a unit
    // variant even with `deny_unknown_fields`.
    BareArray {},
    Results { page_size: usize },
    Items { page_size: usize },
}

/// `PUT /__emulator/list-format`: `{"format": "bare_array"}`, or `"results"` / `"items"`
/// with a `page_size` of at least 1.
pub(crate) async fn list_format(
    AxumState(state): AxumState<Arc<State>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlRejection> {
    let format = match parse::<ListFormatRequest>(body)? {
        ListFormatRequest::BareArray {} => ListFormat::BareArray,
        ListFormatRequest::Results { page_size } if page_size > 0 => {
            ListFormat::Results { page_size }
        }
        ListFormatRequest::Items { page_size } if page_size > 0 => ListFormat::Items { page_size },
        _ => return Err(invalid("page_size must be at least 1")),
    };
    state.set_list_format(format);
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientRequest {
    vendor: Vendor,
    client_id: String,
    client_secret: String,
    #[serde(default = "yes")]
    client_credentials_grant: bool,
}

fn yes() -> bool {
    true
}

/// `POST /__emulator/clients`: `{"vendor": "podero"|"poa", "client_id": "...",
/// "client_secret": "...", "client_credentials_grant": false}` (the grant flag defaults to
/// `true`); replaces a client with the same id.
pub(crate) async fn clients(
    AxumState(state): AxumState<Arc<State>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlRejection> {
    let request: ClientRequest = parse(body)?;
    if request.client_id.is_empty() || request.client_secret.is_empty() {
        return Err(invalid("client_id and client_secret must not be empty"));
    }
    let client = Client::new(request.client_id, request.client_secret);
    let client = if request.client_credentials_grant {
        client
    } else {
        client.without_client_credentials_grant()
    };
    state.clients().insert(request.vendor, client);
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendRequest {
    backend: PoderoTokenBackend,
}

/// `PUT /__emulator/podero-token-backend`: `{"backend": "json"|"form"}`.
pub(crate) async fn podero_token_backend(
    AxumState(state): AxumState<Arc<State>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlRejection> {
    let request: BackendRequest = parse(body)?;
    state.set_podero_token_backend(request.backend);
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BearerRejectionRequest {
    style: PoderoBearerRejection,
}

/// `PUT /__emulator/podero-bearer-rejection`: `{"style": "drf_401"|"protected_resource_403"}`.
pub(crate) async fn podero_bearer_rejection(
    AxumState(state): AxumState<Arc<State>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlRejection> {
    let request: BearerRejectionRequest = parse(body)?;
    state.set_podero_bearer_rejection(request.style);
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeOnNewTokenRequest {
    vendor: Vendor,
    enabled: bool,
}

/// `PUT /__emulator/revoke-on-new-token`: `{"vendor": "podero"|"poa", "enabled": true}`.
pub(crate) async fn revoke_on_new_token(
    AxumState(state): AxumState<Arc<State>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlRejection> {
    let request: RevokeOnNewTokenRequest = parse(body)?;
    state.set_revoke_on_new_token(request.vendor, request.enabled);
    Ok(no_content())
}
