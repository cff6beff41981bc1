//! The emulator's shared state: the fixed configuration, the clock, the settings tests change,
//! the registered clients, the issued tokens, the users, the fault queues, the counters and the
//! request log.
//!
//! Each part sits behind its own `std::sync::Mutex` (counters are atomics), so a request takes
//! only the locks it needs, each for a few map operations, and never across an `.await`. A
//! poisoned lock is used as it is: the data behind every lock stays consistent at each
//! statement, and taking the emulator down would fail every later test for the wrong reason.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::faults::{Fault, FaultKind, FaultQueues};
use crate::tokens::TokenStore;
use crate::types::{
    Client, Counters, Credentials, Endpoint, ListFormat, LoggedRequest, PoderoBearerRejection,
    PoderoTokenBackend, Vendor,
};
use crate::user_store::UserStore;

/// The most log entries kept; older ones are dropped first.
pub(crate) const LOG_CAPACITY: usize = 1_000;

/// How far the clock can be moved in total (about a thousand years). The cap keeps every date
/// computation far inside chrono's range, so no input can make one overflow.
const MAX_OFFSET: TimeDelta = TimeDelta::days(365_250);

/// What does not change while the emulator runs.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) base_url: String,
    pub(crate) org_id: Uuid,
    pub(crate) podero: Credentials,
    pub(crate) poa: Credentials,
    /// What the emulator started with, restored by a reset.
    pub(crate) podero_lifetime: Duration,
    pub(crate) poa_lifetime: Duration,
    pub(crate) podero_token_backend: PoderoTokenBackend,
    pub(crate) podero_bearer_rejection: PoderoBearerRejection,
    /// Per vendor ([`vendor_index`]): whether a new token revokes the client's earlier ones.
    pub(crate) revoke_on_new_token: [bool; 2],
    /// Clients registered with the builder besides the main ones.
    pub(crate) extra_clients: Vec<(Vendor, Client)>,
}

/// The position of a vendor in per-vendor arrays.
pub(crate) fn vendor_index(vendor: Vendor) -> usize {
    match vendor {
        Vendor::Podero => 0,
        Vendor::Poa => 1,
    }
}

/// The clients each vendor's token endpoint knows, by id.
#[derive(Clone, Debug, Default)]
pub(crate) struct Clients([HashMap<String, Client>; 2]);

impl Clients {
    fn initial(config: &Config) -> Self {
        let mut clients = Self::default();
        clients.insert(
            Vendor::Podero,
            Client::new(
                config.podero.client_id.as_str(),
                config.podero.client_secret.as_str(),
            ),
        );
        clients.insert(
            Vendor::Poa,
            Client::new(
                config.poa.client_id.as_str(),
                config.poa.client_secret.as_str(),
            ),
        );
        for (vendor, client) in &config.extra_clients {
            clients.insert(*vendor, client.clone());
        }
        clients
    }

    /// Registers `client`, replacing any client of `vendor` with the same id.
    pub(crate) fn insert(&mut self, vendor: Vendor, client: Client) {
        self.0[vendor_index(vendor)].insert(client.credentials().client_id.clone(), client);
    }

    pub(crate) fn get(&self, vendor: Vendor, id: &str) -> Option<&Client> {
        self.0[vendor_index(vendor)].get(id)
    }
}

/// What tests change, and a reset restores.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) podero_lifetime: Duration,
    pub(crate) poa_lifetime: Duration,
    pub(crate) poa_jwt_lifetime: Option<Duration>,
    pub(crate) list_format: ListFormat,
    pub(crate) podero_token_backend: PoderoTokenBackend,
    pub(crate) podero_bearer_rejection: PoderoBearerRejection,
    pub(crate) revoke_on_new_token: [bool; 2],
    /// How far tests moved the clock.
    offset: TimeDelta,
}

impl Settings {
    fn initial(config: &Config) -> Self {
        Self {
            podero_lifetime: config.podero_lifetime,
            poa_lifetime: config.poa_lifetime,
            poa_jwt_lifetime: None,
            list_format: ListFormat::default(),
            podero_token_backend: config.podero_token_backend,
            podero_bearer_rejection: config.podero_bearer_rejection,
            revoke_on_new_token: config.revoke_on_new_token,
            offset: TimeDelta::zero(),
        }
    }
}

pub(crate) struct State {
    pub(crate) config: Config,
    settings: Mutex<Settings>,
    clients: Mutex<Clients>,
    tokens: Mutex<TokenStore>,
    users: Mutex<UserStore>,
    faults: Mutex<FaultQueues>,
    counters: [AtomicU64; Endpoint::ALL.len()],
    log: Mutex<VecDeque<LoggedRequest>>,
    /// Client connections whose task is running, raw faults included.
    pub(crate) open_connections: AtomicUsize,
}

/// Locks `mutex`, using the data even if another thread panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `at + by`, or the latest representable instant if that overflows.
pub(crate) fn later(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by)
        .ok()
        .and_then(|by| at.checked_add_signed(by))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl State {
    pub(crate) fn new(config: Config) -> Self {
        let settings = Settings::initial(&config);
        let clients = Clients::initial(&config);
        Self {
            config,
            settings: Mutex::new(settings),
            clients: Mutex::new(clients),
            tokens: Mutex::new(TokenStore::default()),
            users: Mutex::new(UserStore::default()),
            faults: Mutex::new(FaultQueues::default()),
            counters: Default::default(),
            log: Mutex::new(VecDeque::with_capacity(LOG_CAPACITY)),
            open_connections: AtomicUsize::new(0),
        }
    }

    /// The emulator's clock: the real time plus however far tests moved it.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let offset = lock(&self.settings).offset;
        Utc::now()
            .checked_add_signed(offset)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// A copy of the current settings (cheap: a few words and a small enum).
    pub(crate) fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    pub(crate) fn set_token_lifetime(&self, vendor: Vendor, lifetime: Duration) {
        let mut settings = lock(&self.settings);
        match vendor {
            Vendor::Podero => settings.podero_lifetime = lifetime,
            Vendor::Poa => settings.poa_lifetime = lifetime,
        }
    }

    pub(crate) fn set_poa_jwt_lifetime(&self, lifetime: Option<Duration>) {
        lock(&self.settings).poa_jwt_lifetime = lifetime;
    }

    pub(crate) fn set_list_format(&self, format: ListFormat) {
        lock(&self.settings).list_format = format;
    }

    pub(crate) fn set_podero_token_backend(&self, backend: PoderoTokenBackend) {
        lock(&self.settings).podero_token_backend = backend;
    }

    pub(crate) fn set_podero_bearer_rejection(&self, rejection: PoderoBearerRejection) {
        lock(&self.settings).podero_bearer_rejection = rejection;
    }

    pub(crate) fn set_revoke_on_new_token(&self, vendor: Vendor, enabled: bool) {
        lock(&self.settings).revoke_on_new_token[vendor_index(vendor)] = enabled;
    }

    pub(crate) fn clients(&self) -> MutexGuard<'_, Clients> {
        lock(&self.clients)
    }

    /// Moves the clock forward by `by`, saturating at [`MAX_OFFSET`] in total.
    pub(crate) fn advance_time(&self, by: Duration) {
        let by = TimeDelta::from_std(by).unwrap_or(MAX_OFFSET);
        let mut settings = lock(&self.settings);
        settings.offset = settings
            .offset
            .checked_add(&by)
            .map_or(MAX_OFFSET, |offset| offset.min(MAX_OFFSET));
    }

    pub(crate) fn tokens(&self) -> MutexGuard<'_, TokenStore> {
        lock(&self.tokens)
    }

    pub(crate) fn users(&self) -> MutexGuard<'_, UserStore> {
        lock(&self.users)
    }

    pub(crate) fn inject(&self, endpoint: Endpoint, fault: Fault) {
        lock(&self.faults).push(endpoint, fault);
    }

    /// Counts a request to `endpoint` and takes the fault it gets, if any.
    pub(crate) fn begin(&self, endpoint: Endpoint) -> Option<FaultKind> {
        self.counters[endpoint.index()].fetch_add(1, Ordering::Relaxed);
        lock(&self.faults).take(endpoint)
    }

    pub(crate) fn count(&self, endpoint: Endpoint) -> u64 {
        self.counters[endpoint.index()].load(Ordering::Relaxed)
    }

    pub(crate) fn counters(&self) -> Counters {
        Counters::from_counts(Endpoint::ALL.map(|endpoint| (endpoint, self.count(endpoint))))
    }

    pub(crate) fn log(&self, entry: LoggedRequest) {
        let mut log = lock(&self.log);
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(entry);
    }

    pub(crate) fn request_log(&self) -> Vec<LoggedRequest> {
        lock(&self.log).iter().cloned().collect()
    }

    /// Back to how the emulator started, credentials and org id kept. Requests in flight while
    /// this runs may still count or log themselves afterwards.
    pub(crate) fn reset(&self) {
        *lock(&self.settings) = Settings::initial(&self.config);
        *lock(&self.clients) = Clients::initial(&self.config);
        lock(&self.tokens).revoke_all();
        *lock(&self.users) = UserStore::default();
        lock(&self.faults).clear();
        for counter in &self.counters {
            counter.store(0, Ordering::Relaxed);
        }
        lock(&self.log).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State::new(Config {
            base_url: "http://127.0.0.1:1".into(),
            org_id: Uuid::nil(),
            podero: Credentials::generated("podero"),
            poa: Credentials::generated("poa"),
            podero_lifetime: Duration::from_secs(1),
            poa_lifetime: Duration::from_secs(1),
            podero_token_backend: PoderoTokenBackend::Json,
            podero_bearer_rejection: PoderoBearerRejection::Drf401,
            revoke_on_new_token: [false; 2],
            extra_clients: Vec::new(),
        })
    }

    #[test]
    fn the_clock_saturates_instead_of_overflowing() {
        let state = state();
        state.advance_time(Duration::MAX);
        state.advance_time(Duration::MAX);
        let now = state.now();
        assert!(now > Utc::now() + TimeDelta::days(365 * 900));
        assert_eq!(later(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            later(DateTime::<Utc>::MAX_UTC, Duration::from_secs(1)),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn the_log_keeps_the_last_thousand() {
        let state = state();
        for n in 0..(LOG_CAPACITY + 5) {
            state.log(LoggedRequest {
                method: "GET".into(),
                path: format!("/{n}"),
                status: 200,
                endpoint: None,
                at: Utc::now(),
            });
        }
        let log = state.request_log();
        assert_eq!(log.len(), LOG_CAPACITY);
        assert_eq!(log[0].path, "/5");
    }
}
