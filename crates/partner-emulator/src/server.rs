//! The HTTP server: the router, the layers that count, fault and log requests, and the accept
//! loop with its connection tasks.
//!
//! The loop is ours rather than `axum::serve` for two reasons. A close-connection fault must
//! drop a connection without a single response byte: each connection task races hyper's
//! connection future against a per-connection kill signal, and a fault fires that signal and
//! never answers, so the task drops the connection (and the socket) before anything is
//! written. And an emulator that is dropped must leave nothing behind: connection tasks live
//! in a `JoinSet` owned by the server task, so aborting that one task ends them all.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State as AxumState};
use axum::http::{HeaderValue, Method, StatusCode, header};
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
use crate::{control, poa, podero, users};

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

/// A connection's kill switch, in every request's extensions: a handler that fires it gets its
/// connection dropped without a response.
#[derive(Clone, Debug, Default)]
struct Connection {
    kill: Arc<Notify>,
}

/// Counts a request to `endpoint`, applies the fault queued for it, if any, and marks the
/// response for the log.
async fn track(
    AxumState((state, endpoint)): AxumState<(Arc<State>, Endpoint)>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = match state.begin(endpoint) {
        None => next.run(request).await,
        Some(FaultKind::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Some(FaultKind::Status {
            status,
            retry_after,
        }) => {
            let code = StatusCode::from_u16(status)
                .ok()
                .filter(|code| (200..=599).contains(&code.as_u16()))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let response = http::json(code, &json!({"error": "injected", "status": status}));
            match retry_after {
                Some(secs) => with_header(response, header::RETRY_AFTER, HeaderValue::from(secs)),
                None => response,
            }
        }
        Some(FaultKind::CloseConnection) => {
            return close_connection(&state, endpoint, request).await;
        }
    };
    response.extensions_mut().insert(Tracked(endpoint));
    response
}

/// Logs the request (status 0), fires the connection's kill switch and never answers: the
/// connection task drops the connection as soon as it sees the signal.
async fn close_connection(state: &State, endpoint: Endpoint, request: Request) -> Response {
    state.log(LoggedRequest {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        status: 0,
        endpoint: Some(endpoint),
        at: state.now(),
    });
    match request.extensions().get::<Connection>() {
        Some(connection) => {
            connection.kill.notify_one();
            std::future::pending().await
        }
        // Only a router served by something else than `serve` lacks the kill switch; answer
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
pub(crate) async fn serve(listener: TcpListener, router: Router, mut stop: watch::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            // Finished connection tasks are reaped as they end, so the set only holds live ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(stream, peer, router.clone(), stop.clone()));
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

/// Serves one connection (HTTP/1.1, keep-alive) until the client closes it, a fault kills it,
/// or shutdown closes it once idle.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<()>,
) {
    // Small JSON answers: send them at once rather than waiting for Nagle.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "emulator: cannot set TCP_NODELAY");
    }
    let connection = Connection::default();
    let kill = Arc::clone(&connection.kill);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(connection.clone());
        let mut router = router.clone();
        // A `Router` is always ready, so calling it without `poll_ready` is allowed.
        router.call(request)
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            biased;
            () = kill.notified() => {
                tracing::debug!(%peer, "emulator: connection closed by a fault");
                return;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "emulator: connection ended with an error");
                }
                return;
            }
        }
    }
}
