//! The emulator's state: configuration, issued tokens, users, faults, counters and the request
//! log, behind one short-held mutex.
//!
//! Locks are never held across an `.await`; every operation takes the lock, does its few
//! map operations and releases it, so the emulator keeps up with thousands of requests per
//! second on two cores.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The most log entries kept.
pub(crate) const LOG_CAPACITY: usize = 1_000;

/// Tokens kept before expired ones are pruned.
const PRUNE_ABOVE: usize = 10_000;

/// Which vendor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Vendor {
    /// Podero.
    Podero,
    /// Cybrilla POA.
    Poa,
}

/// The emulated endpoints: the unit of counters, the request log and fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /oauth2/token/`
    PoderoToken,
    /// `POST /v2/auth/cybrillarta/token` and `POST /poa/auth/token`
    PoaToken,
    /// `GET /api/partners/v2.0/org/{org_id}/users`
    ListUsers,
    /// `POST /api/partners/v2.0/org/{org_id}/users`
    CreateUser,
    /// `GET /api/partners/v2.0/org/{org_id}/users/{user_id}`
    GetUser,
    /// `PUT /api/partners/v2.0/org/{org_id}/users/{user_id}`
    UpdateUser,
    /// `DELETE /api/partners/v2.0/org/{org_id}/users/{user_id}`
    DeleteUser,
    /// `GET /__emulator/poa/whoami` (emulator-only: an API call with a POA token)
    PoaWhoami,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 8] = [
        Endpoint::PoderoToken,
        Endpoint::PoaToken,
        Endpoint::ListUsers,
        Endpoint::CreateUser,
        Endpoint::GetUser,
        Endpoint::UpdateUser,
        Endpoint::DeleteUser,
        Endpoint::PoaWhoami,
    ];

    /// The snake_case name used in counters and over HTTP.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::PoderoToken => "podero_token",
            Endpoint::PoaToken => "poa_token",
            Endpoint::ListUsers => "list_users",
            Endpoint::CreateUser => "create_user",
            Endpoint::GetUser => "get_user",
            Endpoint::UpdateUser => "update_user",
            Endpoint::DeleteUser => "delete_user",
            Endpoint::PoaWhoami => "poa_whoami",
        }
    }
}

/// A fault to inject into the next requests of one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub(crate) kind: FaultKind,
    pub(crate) times: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FaultKind {
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    Delay(Duration),
    CloseConnection,
}

impl Fault {
    /// Answer with `status` (body `{"error":"injected","status":S}`) instead of handling the
    /// request.
    pub fn status(status: u16) -> Self {
        Self {
            kind: FaultKind::Status {
                status,
                retry_after: None,
            },
            times: 1,
        }
    }

    /// Wait `delay`, then handle the request normally.
    pub fn delay(delay: Duration) -> Self {
        Self {
            kind: FaultKind::Delay(delay),
            times: 1,
        }
    }

    /// Close the connection without any HTTP response: the client sees a connection error.
    pub fn close_connection() -> Self {
        Self {
            kind: FaultKind::CloseConnection,
            times: 1,
        }
    }

    /// With [`status`](Self::status): add `Retry-After: secs`.
    #[must_use]
    pub fn retry_after(mut self, secs: u64) -> Self {
        if let FaultKind::Status { retry_after, .. } = &mut self.kind {
            *retry_after = Some(secs);
        }
        self
    }

    /// Apply to the next `n` requests (default 1).
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }
}

/// How `GET .../users` answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ListFormat {
    /// A bare JSON array of every user (the default; the documents do not say).
    #[default]
    BareArray,
    /// Django REST Framework pagination: `{"count","next","previous","results"}`, `?page=N`.
    Results {
        /// Users per page.
        page_size: usize,
    },
    /// `{"items": [...], "next": ...}`, `?page=N`.
    Items {
        /// Users per page.
        page_size: usize,
    },
}

/// One line of the request log: never headers, bodies, tokens or secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// The method.
    pub method: String,
    /// The path (no query string).
    pub path: String,
    /// The status answered; 0 when the connection was closed without an answer.
    pub status: u16,
    /// The endpoint, if the path is one.
    pub endpoint: Option<Endpoint>,
    /// When, on the emulator's clock.
    pub at: DateTime<Utc>,
}

/// A client's credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
}

impl Credentials {
    pub(crate) fn generated(prefix: &str) -> Self {
        Self {
            client_id: format!("{prefix}-{}", random_alphanumeric(12).to_ascii_lowercase()),
            client_secret: random_alphanumeric(40),
        }
    }
}

/// Random letters and digits (not cryptographic: these are emulator tokens).
pub(crate) fn random_alphanumeric(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(len)
        .collect()
}

/// What does not change while the emulator runs.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) base_url: String,
    pub(crate) org_id: Uuid,
    pub(crate) podero: Credentials,
    pub(crate) poa: Credentials,
    pub(crate) podero_lifetime: Duration,
    pub(crate) poa_lifetime: Duration,
}

pub(crate) struct Issued {
    pub(crate) vendor: Vendor,
    pub(crate) client_id: String,
    pub(crate) expires_at: DateTime<Utc>,
}

/// What changes.
pub(crate) struct Inner {
    pub(crate) podero_lifetime: Duration,
    pub(crate) poa_lifetime: Duration,
    pub(crate) poa_jwt_lifetime: Option<Duration>,
    pub(crate) offset: TimeDelta,
    pub(crate) tokens: HashMap<String, Issued>,
    pub(crate) users: Vec<Map<String, Value>>,
    pub(crate) list_format: ListFormat,
    faults: HashMap<Endpoint, VecDeque<Fault>>,
    counters: BTreeMap<Endpoint, u64>,
    log: VecDeque<LoggedRequest>,
}

impl Inner {
    fn new(config: &Config) -> Self {
        Self {
            podero_lifetime: config.podero_lifetime,
            poa_lifetime: config.poa_lifetime,
            poa_jwt_lifetime: None,
            offset: TimeDelta::zero(),
            tokens: HashMap::new(),
            users: Vec::new(),
            list_format: ListFormat::default(),
            faults: HashMap::new(),
            counters: BTreeMap::new(),
            log: VecDeque::new(),
        }
    }

    /// The emulator's clock: real time plus the offset tests moved it by.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }

    pub(crate) fn issue(
        &mut self,
        token: String,
        vendor: Vendor,
        client_id: &str,
        expires_at: DateTime<Utc>,
    ) {
        if self.tokens.len() >= PRUNE_ABOVE {
            let now = self.now();
            self.tokens.retain(|_, issued| issued.expires_at > now);
        }
        self.tokens.insert(
            token,
            Issued {
                vendor,
                client_id: client_id.to_owned(),
                expires_at,
            },
        );
    }

    /// The client id of a valid (issued, unexpired, unrevoked) token of `vendor`.
    pub(crate) fn valid_token(&self, token: &str, vendor: Vendor) -> Option<(&str, DateTime<Utc>)> {
        let issued = self.tokens.get(token)?;
        (issued.vendor == vendor && issued.expires_at > self.now())
            .then_some((issued.client_id.as_str(), issued.expires_at))
    }
}

/// The shared state.
pub(crate) struct State {
    pub(crate) config: Config,
    inner: Mutex<Inner>,
}

impl State {
    pub(crate) fn new(config: Config) -> Self {
        let inner = Inner::new(&config);
        Self {
            config,
            inner: Mutex::new(inner),
        }
    }

    /// The lock. Nothing panics while holding it; a poisoned lock is used as it is rather than
    /// taking the emulator down.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a request and takes the next fault queued for its endpoint.
    pub(crate) fn begin(&self, endpoint: Endpoint) -> Option<FaultKind> {
        let mut inner = self.lock();
        *inner.counters.entry(endpoint).or_default() += 1;
        let queue = inner.faults.get_mut(&endpoint)?;
        let front = queue.front_mut()?;
        let kind = front.kind.clone();
        front.times = front.times.saturating_sub(1);
        if front.times == 0 {
            queue.pop_front();
        }
        Some(kind)
    }

    pub(crate) fn log(
        &self,
        method: String,
        path: String,
        status: u16,
        endpoint: Option<Endpoint>,
    ) {
        let mut inner = self.lock();
        let at = inner.now();
        if inner.log.len() >= LOG_CAPACITY {
            inner.log.pop_front();
        }
        inner.log.push_back(LoggedRequest {
            method,
            path,
            status,
            endpoint,
            at,
        });
    }

    pub(crate) fn inject(&self, endpoint: Endpoint, fault: Fault) {
        if fault.times > 0 {
            self.lock()
                .faults
                .entry(endpoint)
                .or_default()
                .push_back(fault);
        }
    }

    pub(crate) fn counters(&self) -> BTreeMap<String, u64> {
        let inner = self.lock();
        Endpoint::ALL
            .iter()
            .map(|e| {
                (
                    e.name().to_owned(),
                    inner.counters.get(e).copied().unwrap_or(0),
                )
            })
            .collect()
    }

    pub(crate) fn count(&self, endpoint: Endpoint) -> u64 {
        self.lock().counters.get(&endpoint).copied().unwrap_or(0)
    }

    pub(crate) fn request_log(&self) -> Vec<LoggedRequest> {
        self.lock().log.iter().cloned().collect()
    }

    pub(crate) fn reset(&self) {
        *self.lock() = Inner::new(&self.config);
    }
}
