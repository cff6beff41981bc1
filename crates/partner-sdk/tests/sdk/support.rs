//! Starting an emulator and a client pointed at it.

use auth_core::ManualClock;
use partner_emulator::{Emulator, Endpoint};
use partner_sdk::PoderoClient;
use partner_sdk::podero::OrgId;
use podero_auth::{Environment, PoderoAuth, SourceConfig as _};

/// An emulator and a Podero client for its organisation, sharing a manual clock with the
/// client (the emulator keeps its own clock; tests move both when they need expiry).
pub(crate) struct Setup {
    pub(crate) emulator: Emulator,
    pub(crate) client: PoderoClient,
    pub(crate) clock: ManualClock,
}

pub(crate) async fn setup() -> Setup {
    let emulator = Emulator::builder().start().await.unwrap();
    let clock = ManualClock::at_epoch_2025();
    let client = client_for(&emulator, &clock, OrgId::new(emulator.org_id()));
    Setup {
        emulator,
        client,
        clock,
    }
}

pub(crate) fn auth_for(emulator: &Emulator, clock: &ManualClock) -> PoderoAuth {
    let credentials = emulator.podero_credentials();
    PoderoAuth::new(
        credentials.client_id.as_str(),
        credentials.client_secret.as_str(),
    )
    .environment(Environment::Custom(emulator.base_url().to_owned()))
    .clock(clock.clone())
}

pub(crate) fn client_for(emulator: &Emulator, clock: &ManualClock, org: OrgId) -> PoderoClient {
    PoderoClient::from_auth(auth_for(emulator, clock), org).unwrap()
}

impl Setup {
    pub(crate) fn token_requests(&self) -> u64 {
        self.emulator.request_count(Endpoint::PoderoToken)
    }

    /// The statuses the emulator answered for `endpoint`, in order.
    pub(crate) fn statuses(&self, endpoint: Endpoint) -> Vec<u16> {
        self.emulator
            .request_log()
            .into_iter()
            .filter(|entry| entry.endpoint == Some(endpoint))
            .map(|entry| entry.status)
            .collect()
    }
}
