//! The HTTP server: the router, the layers that count, fault and log requests, and the accept
//! loop with its connection tasks.
//!
//! The loop is ours rather than `axum::serve` for two reasons. Some faults must take a
//! connection away from hyper: to drop it without a single response byte, or to write bytes
//! hyper would never write (a partial head, a flood of `100 Continue`, two `Content-Length`
//! headers). Each connection task races hyper's connection future against a per-connection
//! takeover signal; a fault fires it with an optional [`RawPlan`] and never answers, and the
//! task then drops the connection, or takes the socket back (`Connection::into_parts`) and
//! hands it to `wire.rs`. And an emulator that is dropped must leave nothing behind:
//! connection tasks live in a `JoinSet` owned by the server task, so aborting that one task
//! ends them all, raw faults included.
//!
//! Which fault does what is decided in [`apply`]; the bodies that break clients are built in
//! `tamper.rs`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, delete, get, post, put};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower_service::Service as _;

use crate::faults::FaultKind;
use crate::http::{self, MAX_BODY_BYTES, with_header};
use crate::state::State;
use crate::types::{Endpoint, LoggedRequest};
use crate::wire::{self, RawPlan};
use crate::{control, poa, podero, tamper, users};

/// How long a graceful shutdown waits for requests in flight before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Every route. Emulated endpoints are wrapped in [`track`]; everything but the control API is
/// logged by [`observe`].
pub(crate) fn router(state: Arc<State>) -> Router {
    let tracked = |endpoint: Endpoint, route: MethodRouter<Arc<State>>| {
        route.layer(middleware::from_fn_with_state(
            (Arc::clone(&state), endpoint),
            track,
        ))
    };
    Router::new()
        .route(
            "/oauth2/token/",
            tracked(Endpoint::PoderoToken, post(podero::token)),
        )
        .route(
            "/v2/auth/cybrillarta/token",
            tracked(Endpoint::PoaToken, post(poa::token)),
        )
        .route(
            "/poa/auth/token",
            tracked(Endpoint::PoaToken, post(poa::token)),
        )
        .route(
            "/api/partners/v2.0/org/{org_id}/users",
            tracked(Endpoint::ListUsers, get(users::list))
                .merge(tracked(Endpoint::CreateUser, post(users::create))),
        )
        .route(
            "/api/partners/v2.0/org/{org_id}/users/{user_id}",
            tracked(Endpoint::GetUser, get(users::get))
                .merge(tracked(Endpoint::UpdateUser, put(users::update)))
                .merge(tracked(Endpoint::DeleteUser, delete(users::delete))),
        )
        .route(
            "/__emulator/poa/whoami",
            tracked(Endpoint::PoaWhoami, get(poa::whoami)),
        )
        .route("/__emulator/counters", get(control::counters))
        .route("/__emulator/requests", get(control::requests))
        .route("/__emulator/faults", post(control::faults))
        .route("/__emulator/token-lifetime", post(control::token_lifetime))
        .route(
            "/__emulator/poa-jwt-lifetime",
            post(control::poa_jwt_lifetime),
        )
        .route("/__emulator/revoke-tokens", post(control::revoke_tokens))
        .route("/__emulator/advance-time", post(control::advance_time))
        .route("/__emulator/reset", post(control::reset))
        .route("/__emulator/list-format", put(control::list_format))
        .route("/__emulator/clients", post(control::clients))
        .route(
            "/__emulator/podero-token-backend",
            put(control::podero_token_backend),
        )
        .route(
            "/__emulator/podero-bearer-rejection",
            put(control::podero_bearer_rejection),
        )
        .route(
            "/__emulator/revoke-on-new-token",
            put(control::revoke_on_new_token),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        .with_state(state)
}

async fn not_found() -> Response {
    http::json(StatusCode::NOT_FOUND, &json!({"detail": "Not found."}))
}

async fn method_not_allowed(method: Method) -> Response {
    http::json(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"detail": format!("Method \"{method}\" not allowed.")}),
    )
}

/// Marks a response as coming from an emulated endpoint, for [`observe`].
#[derive(Clone, Copy)]
struct Tracked(Endpoint);

/// A connection's control, in every request's extensions: a handler that fires it takes the
/// connection away from hyper, to drop it (no plan) or to write a [`RawPlan`] on it.
#[derive(Clone, Debug, Default)]
struct Connection {
    control: Arc<Takeover>,
}

#[derive(Debug, Default)]
struct Takeover {
    fired: Notify,
    plan: Mutex<Option<RawPlan>>,
}

/// The largest response body a fault reads from the endpoint to damage it.
const MAX_DAMAGED_BODY: usize = 64 * 1024 * 1024;

/// Counts a request to `endpoint`, applies the fault queued for it, if any, and marks the
/// response for the log.
async fn track(
    AxumState((state, endpoint)): AxumState<(Arc<State>, Endpoint)>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = match state.begin(endpoint) {
        None => next.run(request).await,
        Some(kind) => apply(&state, endpoint, kind, request, next).await,
    };
    response.extensions_mut().insert(Tracked(endpoint));
    response
}

/// What the request was, for the log, once the request itself is gone.
struct Seen {
    method: String,
    path: String,
    connection: Option<Connection>,
}

impl Seen {
    fn of(request: &Request) -> Self {
        Self {
            method: request.method().to_string(),
            path: request.uri().path().to_owned(),
            connection: request.extensions().get::<Connection>().cloned(),
        }
    }
}

/// Carries out one fault; see [`Fault`](crate::Fault) for what each does.
async fn apply(
    state: &State,
    endpoint: Endpoint,
    kind: FaultKind,
    request: Request,
    next: Next,
) -> Response {
    match kind {
        FaultKind::Delay(delay) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        FaultKind::Status {
            status,
            retry_after,
        } => {
            let response = http::json(
                final_status(status),
                &json!({"error": "injected", "status": status}),
            );
            match retry_after {
                Some(secs) => with_header(response, header::RETRY_AFTER, HeaderValue::from(secs)),
                None => response,
            }
        }
        FaultKind::CloseConnection => {
            let seen = Seen::of(&request);
            take_over(state, endpoint, seen, None, 0).await
        }
        FaultKind::ResetMidHeaders => {
            let plan = RawPlan::default()
                .write(b"HTTP/1.1 200 OK\r\nContent-Type: application/js".to_vec())
                .reset();
            read_then_take_over(state, endpoint, request, plan, 0).await
        }
        FaultKind::NeverAnswer => {
            read_then_take_over(state, endpoint, request, RawPlan::default().hold(), 0).await
        }
        FaultKind::InformationalFlood => {
            read_then_take_over(state, endpoint, request, RawPlan::default().flood(), 0).await
        }
        FaultKind::OversizedBody { bytes, chunked } => {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            let lengths: &[u64] = if chunked { &[] } else { &[bytes] };
            let head = wire::head(StatusCode::OK, &headers, lengths, chunked);
            let plan = RawPlan::default().write(head).filler(bytes, chunked);
            read_then_take_over(state, endpoint, request, plan, 200).await
        }
        FaultKind::GzipBomb(body) => {
            let mut response = Response::new(Body::from(body.bytes));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            with_header(
                response,
                header::CONTENT_ENCODING,
                HeaderValue::from_static("gzip"),
            )
        }
        FaultKind::DeepJson { depth } => with_header(
            Response::new(Body::from(tamper::deep_json(depth))),
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        FaultKind::Redirect { status, location } => match HeaderValue::try_from(location) {
            Ok(location) => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
                with_header(response, header::LOCATION, location)
            }
            Err(_) => http::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({
                    "error": "injected",
                    "detail": "the redirect location is not a valid header value",
                }),
            ),
        },
        FaultKind::EchoCredentials { status, format } => {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
                .await
                .unwrap_or_default();
            let secret = tamper::presented_credential(&parts.headers, &body);
            let (content_type, body) = tamper::echo(format, &secret);
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = final_status(status);
            with_header(
                response,
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type),
            )
        }
        FaultKind::ControlCharacters { status } => {
            http::json(final_status(status), &tamper::control_characters())
        }
        FaultKind::Pagination(trap) => {
            let mut request = request;
            request.extensions_mut().insert(trap);
            next.run(request).await
        }
        FaultKind::InvalidUtf8 => {
            let (mut parts, body) = next.run(request).await.into_parts();
            let body = axum::body::to_bytes(body, MAX_DAMAGED_BODY)
                .await
                .unwrap_or_default();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(tamper::invalid_utf8(&body)))
        }
        FaultKind::JsonField { name, raw } => {
            let (mut parts, body) = next.run(request).await.into_parts();
            let body = axum::body::to_bytes(body, MAX_DAMAGED_BODY)
                .await
                .unwrap_or_default();
            parts.headers.remove(header::CONTENT_LENGTH);
            let body = tamper::set_json_field(&body, &name, &raw).unwrap_or_else(|| body.to_vec());
            Response::from_parts(parts, Body::from(body))
        }
        FaultKind::TruncatedBody
        | FaultKind::SlowHeaders { .. }
        | FaultKind::SlowBody { .. }
        | FaultKind::ConflictingContentLength => {
            let seen = Seen::of(&request);
            let (parts, body) = next.run(request).await.into_parts();
            let body = axum::body::to_bytes(body, MAX_DAMAGED_BODY)
                .await
                .unwrap_or_default()
                .to_vec();
            let length = body.len() as u64;
            let head = |lengths: &[u64]| wire::head(parts.status, &parts.headers, lengths, false);
            let plan = match kind {
                FaultKind::TruncatedBody => {
                    let sent = body.get(..body.len() / 2).unwrap_or_default().to_vec();
                    // A body of nothing cannot be cut: promise one byte that never comes.
                    let promised = length.max(1);
                    RawPlan::default().write([head(&[promised]), sent].concat())
                }
                FaultKind::SlowHeaders { bytes_per_second } => RawPlan::default()
                    .write_slowly(head(&[length]), bytes_per_second)
                    .write(body),
                FaultKind::SlowBody { bytes_per_second } => RawPlan::default()
                    .write(head(&[length]))
                    .write_slowly(body, bytes_per_second),
                _ => RawPlan::default().write([head(&[length, length + 1]), body].concat()),
            };
            take_over(state, endpoint, seen, Some(plan), parts.status.as_u16()).await
        }
    }
}

/// `status` as a final status: 500 outside 200–599.
fn final_status(status: u16) -> StatusCode {
    StatusCode::from_u16(status)
        .ok()
        .filter(|code| (200..=599).contains(&code.as_u16()))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Reads the request body (so that closing later does not reset the connection over unread
/// bytes), then takes the connection over.
async fn read_then_take_over(
    state: &State,
    endpoint: Endpoint,
    request: Request,
    plan: RawPlan,
    status: u16,
) -> Response {
    let seen = Seen::of(&request);
    let _ = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await;
    take_over(state, endpoint, seen, Some(plan), status).await
}

/// Logs the request with `status` (0 when no status line will be written), then takes the
/// connection away from hyper and never answers: the connection task drops it (no plan) or
/// runs the plan on the socket.
async fn take_over(
    state: &State,
    endpoint: Endpoint,
    seen: Seen,
    plan: Option<RawPlan>,
    status: u16,
) -> Response {
    state.log(LoggedRequest {
        method: seen.method,
        path: seen.path,
        status,
        endpoint: Some(endpoint),
        at: state.now(),
    });
    match seen.connection {
        Some(connection) => {
            *connection
                .control
                .plan
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = plan;
            connection.control.fired.notify_one();
            std::future::pending().await
        }
        // Only a router served by something else than `serve` lacks the control; answer
        // rather than hang.
        None => http::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": "injected", "status": 0}),
        ),
    }
}

/// Logs every request except the control API's: method, path (no query), status, endpoint.
async fn observe(
    AxumState(state): AxumState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let at = state.now();
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let endpoint = response
        .extensions()
        .get::<Tracked>()
        .map(|Tracked(endpoint)| *endpoint);
    if endpoint.is_some() || !path.starts_with("/__emulator/") {
        let status = response.status().as_u16();
        tracing::debug!(%method, %path, status, endpoint = ?endpoint, "emulator request");
        state.log(LoggedRequest {
            method,
            path,
            status,
            endpoint,
            at,
        });
    }
    response
}

/// Accepts connections until `stop` changes or its sender is dropped, then shuts down
/// gracefully: no new connections, idle ones closed, requests in flight given
/// [`SHUTDOWN_GRACE`] to finish.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    router: Router,
    mut stop: watch::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            // Finished connection tasks are reaped as they end, so the set only holds live ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let open = OpenConnection::new(Arc::clone(&state));
                    let task = serve_connection(stream, peer, router.clone(), stop.clone(), open);
                    connections.spawn(task);
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%error, "emulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            "emulator: requests still in flight after the shutdown grace period, cutting them off"
        );
    }
    // Dropping the set aborts whatever is left.
}

/// Counts a connection as open for as long as its task holds this, aborted tasks included.
struct OpenConnection(Arc<State>);

impl OpenConnection {
    fn new(state: Arc<State>) -> Self {
        state.open_connections.fetch_add(1, Ordering::Relaxed);
        Self(state)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one connection (HTTP/1.1, keep-alive) until the client closes it, a fault takes it
/// over, or shutdown closes it once idle.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<()>,
    _open: OpenConnection,
) {
    // Small JSON answers: send them at once rather than waiting for Nagle.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "emulator: cannot set TCP_NODELAY");
    }
    let connection = Connection::default();
    let control = Arc::clone(&connection.control);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(connection.clone());
        let mut router = router.clone();
        // A `Router` is always ready, so calling it without `poll_ready` is allowed.
        router.call(request)
    });
    let mut conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    let mut stopping = false;
    loop {
        tokio::select! {
            biased;
            () = control.fired.notified() => {
                let plan = control.plan.lock().unwrap_or_else(PoisonError::into_inner).take();
                match plan {
                    None => tracing::debug!(%peer, "emulator: connection closed by a fault"),
                    Some(plan) => {
                        tracing::debug!(%peer, "emulator: connection taken over by a fault");
                        // The request in flight (the fault's, which never answers) is dropped
                        // with hyper's connection; the socket comes back to us.
                        let stream = conn.into_parts().io.into_inner();
                        wire::run(plan, stream, stop).await;
                    }
                }
                return;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                std::pin::Pin::new(&mut conn).graceful_shutdown();
            }
            result = &mut conn => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "emulator: connection ended with an error");
                }
                return;
            }
        }
    }
}
