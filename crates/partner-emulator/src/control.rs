//! The control API under `/__emulator/`: the Rust API's knobs over HTTP, so that a CLI or a
//! test in another process can drive the emulator. Unauthenticated: the emulator is a loopback
//! test tool. Control requests are neither counted nor logged.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::TimeDelta;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::oauth::json_response;
use crate::state::{Endpoint, Fault, ListFormat, State, Vendor};

// An early-return response is axum's idiom; its size is irrelevant next to an HTTP round trip.
#[allow(clippy::result_large_err)]
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid control request", "detail": e.to_string()}),
        )
    })
}

fn done() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /__emulator/counters`
pub(crate) async fn counters(AxumState(state): AxumState<Arc<State>>) -> Response {
    axum::Json(state.counters()).into_response()
}

/// `GET /__emulator/requests`
pub(crate) async fn requests(AxumState(state): AxumState<Arc<State>>) -> Response {
    axum::Json(state.request_log()).into_response()
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

/// `POST /__emulator/faults`
pub(crate) async fn faults(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    let request: FaultRequest = match parse(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let fault = match (request.status, request.delay_ms, request.close_connection) {
        (Some(status), None, false) if (100..=999).contains(&status) => {
            let fault = Fault::status(status);
            match request.retry_after {
                Some(secs) => fault.retry_after(secs),
                None => fault,
            }
        }
        (None, Some(ms), false) => Fault::delay(Duration::from_millis(ms)),
        (None, None, true) => Fault::close_connection(),
        _ => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid control request",
                       "detail": "give exactly one of `status` (100-999), `delay_ms`, `close_connection: true`"}),
            );
        }
    };
    state.inject(request.endpoint, fault.times(request.count));
    done()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LifetimeRequest {
    vendor: Vendor,
    seconds: u64,
}

/// `POST /__emulator/token-lifetime`
pub(crate) async fn token_lifetime(
    AxumState(state): AxumState<Arc<State>>,
    body: Bytes,
) -> Response {
    let request: LifetimeRequest = match parse(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let lifetime = Duration::from_secs(request.seconds);
    let mut inner = state.lock();
    match request.vendor {
        Vendor::Podero => inner.podero_lifetime = lifetime,
        Vendor::Poa => inner.poa_lifetime = lifetime,
    }
    done()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JwtLifetimeRequest {
    seconds: Option<u64>,
}

/// `POST /__emulator/poa-jwt-lifetime`
pub(crate) async fn poa_jwt_lifetime(
    AxumState(state): AxumState<Arc<State>>,
    body: Bytes,
) -> Response {
    let request: JwtLifetimeRequest = match parse(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    state.lock().poa_jwt_lifetime = request.seconds.map(Duration::from_secs);
    done()
}

/// `POST /__emulator/revoke-tokens`
pub(crate) async fn revoke_tokens(AxumState(state): AxumState<Arc<State>>) -> Response {
    state.lock().tokens.clear();
    done()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceRequest {
    seconds: u64,
}

/// `POST /__emulator/advance-time`
pub(crate) async fn advance_time(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    let request: AdvanceRequest = match parse(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let by = TimeDelta::try_seconds(i64::try_from(request.seconds).unwrap_or(i64::MAX))
        .unwrap_or(TimeDelta::MAX);
    let mut inner = state.lock();
    inner.offset = inner.offset.checked_add(&by).unwrap_or(TimeDelta::MAX);
    done()
}

/// `POST /__emulator/reset`
pub(crate) async fn reset(AxumState(state): AxumState<Arc<State>>) -> Response {
    state.reset();
    done()
}

/// `PUT /__emulator/list-format`
pub(crate) async fn list_format(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    let format: ListFormat = match parse(&body) {
        Ok(format) => format,
        Err(response) => return response,
    };
    state.lock().list_format = format;
    done()
}
