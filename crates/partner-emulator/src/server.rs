//! The HTTP server: a listener whose connections a handler can cut, the router, and the layer
//! that counts, logs and injects faults for every emulated endpoint.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use axum::serve::{IncomingStream, Listener};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::state::{Endpoint, FaultKind, State};
use crate::{control, oauth, users};

/// The largest request body accepted (413 above).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// A connection's kill switch: set by a handler, obeyed by the connection's stream.
#[derive(Clone, Debug, Default)]
pub(crate) struct Connection {
    killed: Arc<AtomicBool>,
}

impl Connection {
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }

    fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }
}

impl axum::extract::connect_info::Connected<IncomingStream<'_, KillableListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose streams fail every read and write once their [`Connection`] is killed,
/// so hyper drops the connection without writing a response.
pub(crate) struct KillableListener(pub(crate) TcpListener);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = Connection;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let connection = Connection::default();
                    return (
                        KillableStream {
                            inner: stream,
                            connection: connection.clone(),
                        },
                        connection,
                    );
                }
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(error) => {
                    tracing::warn!(%error, "emulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(Connection::default())
    }
}

pub(crate) struct KillableStream {
    inner: TcpStream,
    connection: Connection,
}

fn killed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection closed by a fault",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.connection.is_killed() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.connection.is_killed() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.connection.is_killed() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.connection.is_killed() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Every route, each emulated endpoint wrapped in [`track`].
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
            tracked(Endpoint::PoderoToken, post(oauth::podero_token)),
        )
        .route(
            "/v2/auth/cybrillarta/token",
            tracked(Endpoint::PoaToken, post(oauth::poa_token)),
        )
        .route(
            "/poa/auth/token",
            tracked(Endpoint::PoaToken, post(oauth::poa_token)),
        )
        .route(
            "/__emulator/poa/whoami",
            tracked(Endpoint::PoaWhoami, get(oauth::poa_whoami)),
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
                .merge(tracked(
                    Endpoint::DeleteUser,
                    axum::routing::delete(users::delete),
                )),
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
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Counts the request, applies a queued fault, and logs the outcome.
async fn track(
    AxumState((state, endpoint)): AxumState<(Arc<State>, Endpoint)>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = match state.begin(endpoint) {
        None => next.run(request).await,
        Some(FaultKind::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Some(FaultKind::Status {
            status,
            retry_after,
        }) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (
                code,
                axum::Json(json!({"error": "injected", "status": status})),
            )
                .into_response();
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
        Some(FaultKind::CloseConnection) => {
            connection.kill();
            state.log(method, path, 0, Some(endpoint));
            return Response::new(Body::empty());
        }
    };
    state.log(method, path, response.status().as_u16(), Some(endpoint));
    response
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"detail": "Not found."})),
    )
        .into_response()
}

/// Serves until `shutdown` resolves.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<Connection>();
    axum::serve(KillableListener(listener), app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The address a listener is bound to.
pub(crate) fn bound_addr(listener: &TcpListener) -> io::Result<SocketAddr> {
    listener.local_addr()
}
