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
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::faults::Fault;
use crate::http::{self, no_content};
use crate::state::State;
use crate::types::{Endpoint, ListFormat, Vendor};

fn invalid(description: &str) -> Response {
    http::json(
        StatusCode::BAD_REQUEST,
        &json!({"error": "invalid_request", "error_description": description}),
    )
}

/// The body as `T`, or the 400 (or 413) to answer instead.
// The error is a ready response; boxing it would only move the allocation elsewhere.
#[allow(clippy::result_large_err)]
fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, Response> {
    let body = http::body(body)?;
    serde_json::from_slice(&body).map_err(|error| invalid(&error.to_string()))
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
) -> Response {
    let request: FaultRequest = match parse(body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    if request.count == 0 {
        return invalid("count must be at least 1");
    }
    if request.retry_after.is_some() && request.status.is_none() {
        return invalid("retry_after goes with status");
    }
    let fault = match (request.status, request.delay_ms, request.close_connection) {
        (Some(status), None, false) if (200..=599).contains(&status) => {
            let fault = Fault::status(status);
            match request.retry_after {
                Some(secs) => fault.retry_after(secs),
                None => fault,
            }
        }
        (Some(_), None, false) => return invalid("status must be within 200-599"),
        (None, Some(ms), false) => Fault::delay(Duration::from_millis(ms)),
        (None, None, true) => Fault::close_connection(),
        _ => {
            return invalid(
                "give exactly one of status, delay_ms or close_connection (set to true)",
            );
        }
    };
    state.inject(request.endpoint, fault.times(request.count));
    no_content()
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
) -> Response {
    match parse::<LifetimeRequest>(body) {
        Ok(request) => {
            state.set_token_lifetime(request.vendor, Duration::from_secs(request.seconds));
            no_content()
        }
        Err(response) => response,
    }
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
) -> Response {
    let seconds = match parse::<JwtLifetimeRequest>(body) {
        Ok(request) => request.seconds,
        Err(response) => return response,
    };
    let lifetime = match seconds {
        serde_json::Value::Null => None,
        seconds => match seconds.as_u64() {
            Some(seconds) => Some(Duration::from_secs(seconds)),
            None => return invalid("seconds must be a non-negative integer or null"),
        },
    };
    state.set_poa_jwt_lifetime(lifetime);
    no_content()
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
) -> Response {
    match parse::<AdvanceRequest>(body) {
        Ok(request) => {
            state.advance_time(Duration::from_secs(request.seconds));
            no_content()
        }
        Err(response) => response,
    }
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
) -> Response {
    let format = match parse::<ListFormatRequest>(body) {
        Ok(ListFormatRequest::BareArray {}) => ListFormat::BareArray,
        Ok(ListFormatRequest::Results { page_size }) if page_size > 0 => {
            ListFormat::Results { page_size }
        }
        Ok(ListFormatRequest::Items { page_size }) if page_size > 0 => {
            ListFormat::Items { page_size }
        }
        Ok(_) => return invalid("page_size must be at least 1"),
        Err(response) => return response,
    };
    state.set_list_format(format);
    no_content()
}
