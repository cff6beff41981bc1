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
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::faults::{EchoFormat, Fault, MAX_DEPTH, MAX_PAGE_USERS, PaginationTrap};
use crate::gzip;
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

/// The first form of a fault request: exactly one of `status` (with an optional
/// `retry_after`), `delay_ms` or `"close_connection": true`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyFault {
    status: Option<u16>,
    retry_after: Option<u64>,
    delay_ms: Option<u64>,
    #[serde(default)]
    close_connection: bool,
}

impl LegacyFault {
    fn fault(self) -> Result<Fault, ControlRejection> {
        if self.retry_after.is_some() && self.status.is_none() {
            return Err(invalid("retry_after goes with status"));
        }
        match (self.status, self.delay_ms, self.close_connection) {
            (Some(status), None, false) => FaultSpec::Status {
                status,
                retry_after: self.retry_after,
            }
            .fault(),
            (None, Some(ms), false) => Ok(Fault::delay(Duration::from_millis(ms))),
            (None, None, true) => Ok(Fault::close_connection()),
            _ => Err(invalid(
                "give exactly one of status, delay_ms or close_connection (set to true), or a kind",
            )),
        }
    }
}

/// A fault by `kind`, with that kind's parameters. Struct variants, not unit ones: serde
/// ignores unknown fields next to the tag of a unit variant even with `deny_unknown_fields`.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum FaultSpec {
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    Delay {
        ms: u64,
    },
    CloseConnection {},
    ResetMidHeaders {},
    TruncatedBody {},
    SlowHeaders {
        bytes_per_second: u32,
    },
    SlowBody {
        bytes_per_second: u32,
    },
    NeverAnswer {},
    OversizedBody {
        bytes: u64,
        #[serde(default)]
        chunked: bool,
    },
    GzipBomb {
        inflated_bytes: u64,
    },
    InvalidUtf8 {},
    DeepJson {
        depth: usize,
    },
    InformationalFlood {},
    ConflictingContentLength {},
    Redirect {
        location: String,
        #[serde(default = "found")]
        status: u16,
    },
    EchoCredentials {
        format: EchoFormat,
        #[serde(default = "server_error")]
        status: u16,
    },
    ControlCharacters {
        #[serde(default = "bad_request")]
        status: u16,
    },
    Pagination {
        trap: TrapName,
        users: Option<usize>,
        next: Option<String>,
    },
    JsonField {
        name: String,
        raw: String,
    },
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TrapName {
    SelfLink,
    Cycle,
    Endless,
    HugePage,
    CrossOrigin,
}

fn found() -> u16 {
    302
}

fn server_error() -> u16 {
    500
}

fn bad_request() -> u16 {
    400
}

/// A final status, or the 400 for one outside 200–599.
fn final_status(status: u16) -> Result<u16, ControlRejection> {
    if (200..=599).contains(&status) {
        Ok(status)
    } else {
        Err(invalid("status must be within 200-599"))
    }
}

/// `value`, or the 400 when it is 0.
fn at_least_one(value: u64, name: &str) -> Result<u64, ControlRejection> {
    if value == 0 {
        Err(invalid(format!("{name} must be at least 1")))
    } else {
        Ok(value)
    }
}

impl FaultSpec {
    /// The fault, or the 400 for parameters out of range (the Rust API clamps them instead).
    fn fault(self) -> Result<Fault, ControlRejection> {
        Ok(match self {
            FaultSpec::Status {
                status,
                retry_after,
            } => {
                let fault = Fault::status(final_status(status)?);
                match retry_after {
                    Some(secs) => fault.retry_after(secs),
                    None => fault,
                }
            }
            FaultSpec::Delay { ms } => Fault::delay(Duration::from_millis(ms)),
            FaultSpec::CloseConnection {} => Fault::close_connection(),
            FaultSpec::ResetMidHeaders {} => Fault::reset_mid_headers(),
            FaultSpec::TruncatedBody {} => Fault::truncated_body(),
            FaultSpec::SlowHeaders { bytes_per_second } => {
                at_least_one(bytes_per_second.into(), "bytes_per_second")?;
                Fault::slow_headers(bytes_per_second)
            }
            FaultSpec::SlowBody { bytes_per_second } => {
                at_least_one(bytes_per_second.into(), "bytes_per_second")?;
                Fault::slow_body(bytes_per_second)
            }
            FaultSpec::NeverAnswer {} => Fault::never_answer(),
            FaultSpec::OversizedBody { bytes, chunked } => {
                let bytes = at_least_one(bytes, "bytes")?;
                if chunked {
                    Fault::oversized_chunked_body(bytes)
                } else {
                    Fault::oversized_body(bytes)
                }
            }
            FaultSpec::GzipBomb { inflated_bytes } => {
                if !(1..=gzip::MAX_INFLATED).contains(&inflated_bytes) {
                    return Err(invalid(format!(
                        "inflated_bytes must be within 1-{}",
                        gzip::MAX_INFLATED
                    )));
                }
                Fault::gzip_bomb(inflated_bytes)
            }
            FaultSpec::InvalidUtf8 {} => Fault::invalid_utf8(),
            FaultSpec::DeepJson { depth } => {
                if !(1..=MAX_DEPTH).contains(&depth) {
                    return Err(invalid(format!("depth must be within 1-{MAX_DEPTH}")));
                }
                Fault::deep_json(depth)
            }
            FaultSpec::InformationalFlood {} => Fault::informational_flood(),
            FaultSpec::ConflictingContentLength {} => Fault::conflicting_content_length(),
            FaultSpec::Redirect { location, status } => {
                if !(300..=399).contains(&status) {
                    return Err(invalid("a redirect status must be within 300-399"));
                }
                if location.is_empty() || HeaderValue::try_from(location.as_str()).is_err() {
                    return Err(invalid("location must be a non-empty header value"));
                }
                Fault::redirect(status, location)
            }
            FaultSpec::EchoCredentials { format, status } => {
                Fault::echo_credentials(final_status(status)?, format)
            }
            FaultSpec::ControlCharacters { status } => {
                Fault::control_characters(final_status(status)?)
            }
            FaultSpec::Pagination { trap, users, next } => {
                Fault::pagination(match (trap, users, next) {
                    (TrapName::SelfLink, None, None) => PaginationTrap::SelfLink,
                    (TrapName::Cycle, None, None) => PaginationTrap::Cycle,
                    (TrapName::Endless, None, None) => PaginationTrap::Endless,
                    (TrapName::HugePage, Some(users), None) if users <= MAX_PAGE_USERS => {
                        PaginationTrap::HugePage { users }
                    }
                    (TrapName::CrossOrigin, None, Some(next)) if !next.is_empty() => {
                        PaginationTrap::CrossOrigin { next }
                    }
                    _ => {
                        return Err(invalid(format!(
                            "huge_page takes users (at most {MAX_PAGE_USERS}), cross_origin a \
                         non-empty next, the other traps nothing"
                        )));
                    }
                })
            }
            FaultSpec::JsonField { name, raw } => {
                if name.is_empty() {
                    return Err(invalid("name must not be empty"));
                }
                Fault::json_field(name, raw)
            }
        })
    }
}

/// `POST /__emulator/faults`: `endpoint`, an optional `count` (default 1), and either a
/// `kind` with its parameters or the first form (see [`LegacyFault`]). A pagination fault
/// goes to `list_users` only.
pub(crate) async fn faults(
    AxumState(state): AxumState<Arc<State>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlRejection> {
    let Value::Object(mut request) = parse::<Value>(body)? else {
        return Err(invalid("the body must be a JSON object"));
    };
    let endpoint: Endpoint = match request.remove("endpoint") {
        Some(endpoint) => serde_json::from_value(endpoint).map_err(|e| invalid(e.to_string()))?,
        None => return Err(invalid("missing field `endpoint`")),
    };
    let count: u32 = match request.remove("count") {
        Some(count) => serde_json::from_value(count).map_err(|e| invalid(e.to_string()))?,
        None => 1,
    };
    if count == 0 {
        return Err(invalid("count must be at least 1"));
    }
    let rest = Value::Object(request);
    let fault = if rest.get("kind").is_some() {
        let spec: FaultSpec = serde_json::from_value(rest).map_err(|e| invalid(e.to_string()))?;
        if matches!(spec, FaultSpec::Pagination { .. }) && endpoint != Endpoint::ListUsers {
            return Err(invalid("a pagination fault goes to list_users"));
        }
        spec.fault()?
    } else {
        let legacy: LegacyFault =
            serde_json::from_value(rest).map_err(|e| invalid(e.to_string()))?;
        legacy.fault()?
    };
    state.inject(endpoint, fault.times(count));
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
