//! The public handle: [`Emulator`], its [`EmulatorBuilder`] and [`EmulatorError`].
//!
//! This module owns the server task's lifetime (start, graceful shutdown, stop on drop) and
//! forwards every knob to the shared state; it holds no state of its own beyond that.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::faults::Fault;
use crate::server;
use crate::state::vendor_index;
use crate::state::{Config, State};
use crate::types::{
    Client, Counters, Credentials, Endpoint, ListFormat, LoggedRequest, PoderoBearerRejection,
    PoderoTokenBackend, Vendor,
};

/// Podero's documented token lifetime (10 hours).
const PODERO_LIFETIME: Duration = Duration::from_secs(36_000);
/// POA's documented token lifetime (30 minutes).
const POA_LIFETIME: Duration = Duration::from_secs(1_800);

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// [`EmulatorBuilder::start`] was called outside a Tokio runtime.
    #[error("the emulator must be started inside a Tokio runtime (with I/O and time enabled)")]
    NoRuntime,
    /// A client id or secret given to the builder or to
    /// [`Emulator::add_client`] is empty.
    #[error("the {vendor} client id and secret must not be empty")]
    EmptyCredentials {
        /// Whose credentials.
        vendor: Vendor,
    },
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Configures an [`Emulator`]; every setting has a default.
#[derive(Clone, Debug)]
#[must_use]
pub struct EmulatorBuilder {
    addr: SocketAddr,
    org_id: Option<Uuid>,
    podero: Option<Credentials>,
    poa: Option<Credentials>,
    podero_lifetime: Duration,
    poa_lifetime: Duration,
    podero_token_backend: PoderoTokenBackend,
    podero_bearer_rejection: PoderoBearerRejection,
    revoke_on_new_token: [bool; 2],
    extra_clients: Vec<(Vendor, Client)>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            org_id: None,
            podero: None,
            poa: None,
            podero_lifetime: PODERO_LIFETIME,
            poa_lifetime: POA_LIFETIME,
            podero_token_backend: PoderoTokenBackend::default(),
            podero_bearer_rejection: PoderoBearerRejection::default(),
            revoke_on_new_token: [false; 2],
            extra_clients: Vec::new(),
        }
    }
}

impl EmulatorBuilder {
    /// The address to listen on (default `127.0.0.1:0`: a free port on loopback). The control
    /// API is unauthenticated: listen on anything but loopback only on a trusted network.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The Podero organisation id (default: a random v4 UUID).
    pub fn org_id(mut self, org_id: Uuid) -> Self {
        self.org_id = Some(org_id);
        self
    }

    /// The Podero client's credentials (default: generated, alphanumeric).
    pub fn podero_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.podero = Some(Credentials {
            client_id: id.into(),
            client_secret: secret.into(),
        });
        self
    }

    /// The POA client's credentials (default: generated, alphanumeric).
    pub fn poa_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.poa = Some(Credentials {
            client_id: id.into(),
            client_secret: secret.into(),
        });
        self
    }

    /// The lifetime of Podero tokens (default 36000 s, as documented).
    pub fn podero_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.podero_lifetime = lifetime;
        self
    }

    /// The lifetime of POA tokens (default 1800 s, as documented).
    pub fn poa_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.poa_lifetime = lifetime;
        self
    }

    /// How Podero's token endpoint reads its body (default [`PoderoTokenBackend::Json`]).
    pub fn podero_token_backend(mut self, backend: PoderoTokenBackend) -> Self {
        self.podero_token_backend = backend;
        self
    }

    /// How Podero's users API answers a missing, unknown, revoked or expired token (default
    /// [`PoderoBearerRejection::Drf401`]).
    pub fn podero_bearer_rejection(mut self, rejection: PoderoBearerRejection) -> Self {
        self.podero_bearer_rejection = rejection;
        self
    }

    /// With `true`, each token `vendor` issues makes the same client's earlier tokens invalid,
    /// as servers that keep one token per client do (default `false` for both vendors).
    pub fn revoke_on_new_token(mut self, vendor: Vendor, enabled: bool) -> Self {
        self.revoke_on_new_token[vendor_index(vendor)] = enabled;
        self
    }

    /// Registers another client with `vendor`'s token endpoint, besides the main one (see
    /// [`Client`]); a client with the main client's id replaces it. Builder clients survive
    /// [`Emulator::reset`].
    pub fn client(mut self, vendor: Vendor, client: Client) -> Self {
        self.extra_clients.push((vendor, client));
        self
    }

    /// Binds the address and starts serving on the current Tokio runtime, which needs I/O and
    /// time enabled (`#[tokio::test]` and `#[tokio::main]` enable both). The emulator serves
    /// only while that runtime runs.
    ///
    /// # Errors
    /// [`EmulatorError::NoRuntime`] outside a Tokio runtime,
    /// [`EmulatorError::EmptyCredentials`] for an empty client id or secret (main or extra
    /// client),
    /// [`EmulatorError::Bind`] if the address cannot be bound.
    pub async fn start(self) -> Result<Emulator, EmulatorError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| EmulatorError::NoRuntime)?;
        let podero = checked(self.podero, Vendor::Podero)?;
        let poa = checked(self.poa, Vendor::Poa)?;
        if let Some((vendor, _)) = self.extra_clients.iter().find(|(_, c)| c.is_empty()) {
            return Err(EmulatorError::EmptyCredentials { vendor: *vendor });
        }
        let bind_error = |source| EmulatorError::Bind {
            addr: self.addr,
            source,
        };
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let config = Config {
            base_url: format!("http://{}", reachable(addr)),
            org_id: self.org_id.unwrap_or_else(Uuid::new_v4),
            podero,
            poa,
            podero_lifetime: self.podero_lifetime,
            poa_lifetime: self.poa_lifetime,
            podero_token_backend: self.podero_token_backend,
            podero_bearer_rejection: self.podero_bearer_rejection,
            revoke_on_new_token: self.revoke_on_new_token,
            extra_clients: self.extra_clients,
        };
        let state = Arc::new(State::new(config));
        let (stop, stopped) = watch::channel(());
        let task = runtime.spawn(server::serve(
            listener,
            Arc::clone(&state),
            server::router(Arc::clone(&state)),
            stopped,
        ));
        tracing::debug!(base_url = %state.config.base_url, "emulator started");
        Ok(Emulator {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// The given credentials, or generated ones; empty ones are refused.
fn checked(given: Option<Credentials>, vendor: Vendor) -> Result<Credentials, EmulatorError> {
    match given {
        Some(credentials)
            if credentials.client_id.is_empty() || credentials.client_secret.is_empty() =>
        {
            Err(EmulatorError::EmptyCredentials { vendor })
        }
        Some(credentials) => Ok(credentials),
        None => Ok(Credentials::generated(&vendor.to_string())),
    }
}

/// The address clients on this host use: an unspecified address (`0.0.0.0`, `::`) is reached
/// through loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, v4.port()))
        }
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, v6.port()))
        }
        other => other,
    }
}

/// A running emulator of both vendors' APIs. See the [crate documentation](crate).
///
/// Every method takes `&self` and is cheap; the emulator is `Send + Sync`, so tests can share
/// it by reference or in an `Arc`. Dropping it stops the server at once (connections and
/// requests in flight included); [`shutdown`](Self::shutdown) stops it gracefully and waits.
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<watch::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts configuring an emulator.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The base URL of both vendors' APIs, like `http://127.0.0.1:41234` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.state.config.base_url
    }

    /// The address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Podero organisation id, the only organisation the users API knows.
    pub fn org_id(&self) -> Uuid {
        self.state.config.org_id
    }

    /// The Podero client's credentials.
    pub fn podero_credentials(&self) -> &Credentials {
        &self.state.config.podero
    }

    /// The POA client's credentials.
    pub fn poa_credentials(&self) -> &Credentials {
        &self.state.config.poa
    }

    /// The emulator's clock: the real time plus everything [`advance_time`](Self::advance_time)
    /// added. Token expiry, JWT `iat`/`exp`, `location_last_updated` and the log use it.
    pub fn now(&self) -> DateTime<Utc> {
        self.state.now()
    }

    /// Sets the lifetime of `vendor`'s tokens issued from now on (tokens already issued keep
    /// theirs). Sub-second parts count for expiry but not in `expires_in`, which is whole
    /// seconds.
    pub fn set_token_lifetime(&self, vendor: Vendor, lifetime: Duration) {
        self.state.set_token_lifetime(vendor, lifetime);
    }

    /// With `Some(d)`, POA JWTs issued from now on carry `exp = iat + d` while the response's
    /// `expires_in` stays the token lifetime, so tests can hand out a JWT that expires before
    /// `expires_in` says. The emulator honours a POA token until the earlier of the two.
    /// `None` (the default) makes `exp` match `expires_in` again.
    pub fn set_poa_jwt_lifetime(&self, lifetime: Option<Duration>) {
        self.state.set_poa_jwt_lifetime(lifetime);
    }

    /// Queues `fault` for the next requests to `endpoint`, after any fault already queued for
    /// it.
    pub fn inject_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.state.inject(endpoint, fault);
    }

    /// The access tokens the emulator remembers, of both vendors, in no particular order:
    /// every token issued since the start or the last [`reset`](Self::reset), except those
    /// [`revoke_all_tokens`](Self::revoke_all_tokens) forgot and, beyond the bound of 100 000,
    /// the oldest. For tests that check that a client never prints or logs one.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.tokens().all()
    }

    /// Makes every token issued so far, of both vendors, invalid.
    pub fn revoke_all_tokens(&self) {
        self.state.tokens().revoke_all();
    }

    /// Moves the emulator's clock forward by `by`: tokens expire as if that much time had
    /// passed. The total is capped at about a thousand years.
    pub fn advance_time(&self, by: Duration) {
        self.state.advance_time(by);
    }

    /// How many requests `endpoint` received, faulted and rejected ones included.
    pub fn request_count(&self, endpoint: Endpoint) -> u64 {
        self.state.count(endpoint)
    }

    /// Every endpoint's request count.
    pub fn counters(&self) -> Counters {
        self.state.counters()
    }

    /// How many client connections are open right now: idle keep-alive ones, those of the
    /// control API and those a fault holds included. It drops as soon as the emulator has
    /// closed a connection, so a test can wait for it to show that a fault stopped once its
    /// client went away.
    pub fn open_connections(&self) -> usize {
        self.state
            .open_connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The last requests (at most 1000), oldest first. Control requests are not in it.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.state.request_log()
    }

    /// Chooses how `GET .../users` answers (default [`ListFormat::BareArray`]).
    pub fn set_list_format(&self, format: ListFormat) {
        self.state.set_list_format(format);
    }

    /// Chooses how Podero's token endpoint reads its body from now on.
    pub fn set_podero_token_backend(&self, backend: PoderoTokenBackend) {
        self.state.set_podero_token_backend(backend);
    }

    /// Chooses how Podero's users API answers a missing, unknown, revoked or expired token
    /// from now on.
    pub fn set_podero_bearer_rejection(&self, rejection: PoderoBearerRejection) {
        self.state.set_podero_bearer_rejection(rejection);
    }

    /// With `true`, each token `vendor` issues from now on makes the same client's earlier
    /// tokens invalid; with `false`, earlier tokens stay valid (tokens already replaced stay
    /// invalid).
    pub fn set_revoke_on_new_token(&self, vendor: Vendor, enabled: bool) {
        self.state.set_revoke_on_new_token(vendor, enabled);
    }

    /// Registers a client with `vendor`'s token endpoint, replacing any client with the same
    /// id (the main one included: its credentials as reported by
    /// [`podero_credentials`](Self::podero_credentials) do not change). [`reset`](Self::reset)
    /// removes clients added this way.
    ///
    /// # Errors
    /// [`EmulatorError::EmptyCredentials`] for an empty id or secret; nothing is registered.
    pub fn add_client(&self, vendor: Vendor, client: Client) -> Result<(), EmulatorError> {
        if client.is_empty() {
            return Err(EmulatorError::EmptyCredentials { vendor });
        }
        self.state.clients().insert(vendor, client);
        Ok(())
    }

    /// Back to the initial state: faults, counters, log, tokens, clock, users and every
    /// setting (token lifetimes, JWT lifetime, list format, Podero backend and bearer
    /// rejection, revoke on new token, clients) return to how the emulator was built;
    /// credentials, org id and address stay.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Stops accepting connections, closes idle ones, lets requests in flight finish (for up
    /// to 5 seconds) and returns when the port is free.
    pub async fn shutdown(mut self) {
        // Dropping the sender is the signal; the server task watches for it.
        drop(self.stop.take());
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            tracing::warn!(%error, "emulator: server task failed");
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        drop(self.stop.take());
        // Aborting the server task also ends every connection task, which it owns. The
        // listener closes when the runtime drops the task, which it does at its next turn.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url())
            .field("org_id", &self.org_id())
            .finish_non_exhaustive()
    }
}
