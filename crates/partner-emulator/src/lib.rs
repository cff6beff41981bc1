//! An emulator of the Podero and Cybrilla POA partner APIs, on loopback, for tests,
//! benchmarks, demos and your own integration tests.
//!
//! It serves what the vendors document (see `docs/testing.md` for the details and for what it
//! deliberately leaves out):
//! - Podero's token endpoint `POST /oauth2/token/` (HTTP Basic client authentication decoded as
//!   RFC 6749 section 2.3.1 says, JSON or form body) and the users API under
//!   `/api/partners/v2.0/org/{org_id}/users` with bearer checks and Django REST Framework error
//!   shapes;
//! - POA's Keycloak token endpoint `POST /v2/auth/cybrillarta/token` (and the documents' sample
//!   path `/poa/auth/token`), form body only, JWT-shaped tokens.
//!
//! Knobs, from Rust or over HTTP under `/__emulator/`: token lifetimes, fault injection
//! (status codes with `Retry-After`, delays, dropped connections), token revocation, a clock
//! that tests move forward, request counters and a bounded request log.
//!
//! It depends on no other crate of this workspace: it is an independent check of them.
//!
//! ```
//! use partner_emulator::{Emulator, Endpoint};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = Emulator::builder().start().await?;
//! let credentials = emulator.podero_credentials();
//! let response = reqwest::Client::new()
//!     .post(format!("{}/oauth2/token/", emulator.base_url()))
//!     .basic_auth(&credentials.client_id, Some(&credentials.client_secret))
//!     .header("content-type", "application/json")
//!     .body(r#"{"grant_type":"client_credentials"}"#)
//!     .send()
//!     .await?;
//! assert_eq!(response.status(), 200);
//! assert_eq!(emulator.request_count(Endpoint::PoderoToken), 1);
//! # Ok(())
//! # }
//! ```

mod control;
mod oauth;
mod server;
mod state;
mod users;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::state::{Config, State};
pub use crate::state::{Credentials, Endpoint, Fault, ListFormat, LoggedRequest, Vendor};

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Configures an [`Emulator`].
#[derive(Clone, Debug)]
#[must_use]
pub struct EmulatorBuilder {
    addr: SocketAddr,
    org_id: Option<Uuid>,
    podero: Option<Credentials>,
    poa: Option<Credentials>,
    podero_lifetime: Duration,
    poa_lifetime: Duration,
}

impl EmulatorBuilder {
    /// The address to listen on (default `127.0.0.1:0`: any free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The Podero organisation id (default: random).
    pub fn org_id(mut self, org_id: Uuid) -> Self {
        self.org_id = Some(org_id);
        self
    }

    /// The Podero client's credentials (default: generated).
    pub fn podero_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.podero = Some(Credentials {
            client_id: id.into(),
            client_secret: secret.into(),
        });
        self
    }

    /// The POA client's credentials (default: generated).
    pub fn poa_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.poa = Some(Credentials {
            client_id: id.into(),
            client_secret: secret.into(),
        });
        self
    }

    /// Podero token lifetime (default 36000 s, as documented).
    pub fn podero_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.podero_lifetime = lifetime;
        self
    }

    /// POA token lifetime (default 1800 s, as documented).
    pub fn poa_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.poa_lifetime = lifetime;
        self
    }

    /// Binds the address and starts serving on the current Tokio runtime.
    ///
    /// # Errors
    /// [`EmulatorError::Bind`] if the address cannot be bound.
    pub async fn start(self) -> Result<Emulator, EmulatorError> {
        let bind_error = |source| EmulatorError::Bind {
            addr: self.addr,
            source,
        };
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .map_err(bind_error)?;
        let addr = server::bound_addr(&listener).map_err(bind_error)?;
        let config = Config {
            base_url: format!("http://{addr}"),
            org_id: self.org_id.unwrap_or_else(Uuid::new_v4),
            podero: self
                .podero
                .unwrap_or_else(|| Credentials::generated("podero")),
            poa: self.poa.unwrap_or_else(|| Credentials::generated("poa")),
            podero_lifetime: self.podero_lifetime,
            poa_lifetime: self.poa_lifetime,
        };
        let state = Arc::new(State::new(config));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, Arc::clone(&state), async move {
            let _ = stopped.await;
        }));
        Ok(Emulator {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A running emulator. Dropping it stops the server; [`shutdown`](Self::shutdown) also waits
/// until the port is free.
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Emulator {
    /// Starts configuring an emulator.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            org_id: None,
            podero: None,
            poa: None,
            podero_lifetime: Duration::from_secs(36_000),
            poa_lifetime: Duration::from_secs(1_800),
        }
    }

    /// The base URL, `http://127.0.0.1:PORT` (no trailing slash): both vendors' base URL.
    pub fn base_url(&self) -> &str {
        &self.state.config.base_url
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Podero organisation id.
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

    /// The lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, vendor: Vendor, lifetime: Duration) {
        let mut inner = self.state.lock();
        match vendor {
            Vendor::Podero => inner.podero_lifetime = lifetime,
            Vendor::Poa => inner.poa_lifetime = lifetime,
        }
    }

    /// With `Some(d)`, POA JWTs carry `exp = iat + d` while the response's `expires_in` stays
    /// the token lifetime (a JWT that expires before `expires_in` says); `None` makes them
    /// agree again.
    pub fn set_poa_jwt_lifetime(&self, lifetime: Option<Duration>) {
        self.state.lock().poa_jwt_lifetime = lifetime;
    }

    /// Queues a fault for the next requests to `endpoint`; faults for one endpoint apply in
    /// order.
    pub fn inject_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.state.inject(endpoint, fault);
    }

    /// Makes every token issued so far (both vendors) invalid.
    pub fn revoke_all_tokens(&self) {
        self.state.lock().tokens.clear();
    }

    /// Moves the emulator's clock forward: tokens expire as if that much time had passed.
    pub fn advance_time(&self, by: Duration) {
        let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        let mut inner = self.state.lock();
        inner.offset = inner.offset.checked_add(&by).unwrap_or(TimeDelta::MAX);
    }

    /// How many requests `endpoint` received (faulted ones included).
    pub fn request_count(&self, endpoint: Endpoint) -> u64 {
        self.state.count(endpoint)
    }

    /// Every endpoint's request count, by name.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.state.counters()
    }

    /// The last requests (at most 1000), oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.state.request_log()
    }

    /// How `GET .../users` answers.
    pub fn set_list_format(&self, format: ListFormat) {
        self.state.lock().list_format = format;
    }

    /// Back to the initial state: faults, counters, log, tokens, clock, lifetimes, list format
    /// and users; the credentials and the org id stay.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Stops serving and waits until the port is free.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
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
