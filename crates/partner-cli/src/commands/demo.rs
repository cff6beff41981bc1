//! `partner demo`: the whole flow against an emulator started in this process.
//!
//! Every step prints one line; numbers come from the emulator's own counters, so the
//! transcript shows what went over the wire (one token request for many calls, one 401 and
//! one refresh after a revocation).

use std::time::Duration;

use auth_core::{AuthError, Clock as _, ConfigError, SharedClock};
use chrono::{SecondsFormat, Utc};
use partner_emulator::{Emulator, Endpoint};
use partner_sdk::podero::{NewUser, OrgId, Role, UserUpdate};
use partner_sdk::{ApiError, AuthenticatedClient, PoderoClient};
use poa_auth::PoaAuth;
use podero_auth::{Environment, PoderoAuth, SourceConfig as _};

use super::print_line;
use crate::cli::Vendor;
use crate::error::CliError;

pub(crate) async fn run() -> Result<(), CliError> {
    let emulator = Emulator::builder()
        .start()
        .await
        .map_err(|e| CliError::internal(format!("cannot start the embedded emulator: {e}")))?;
    let base = emulator.base_url().to_owned();
    say(&format!(
        "partner demo: Podero and Cybrilla POA against the embedded emulator at {base}"
    ))?;

    podero(&emulator)
        .await
        .map_err(|e| e.for_vendor(Vendor::Podero))?;
    poa(&emulator)
        .await
        .map_err(|e| e.for_vendor(Vendor::Poa))?;

    say(&format!(
        "\ndone: {} Podero token request(s) and {} POA token request(s) served {} API call(s)",
        emulator.request_count(Endpoint::PoderoToken),
        emulator.request_count(Endpoint::PoaToken),
        [
            Endpoint::ListUsers,
            Endpoint::CreateUser,
            Endpoint::GetUser,
            Endpoint::UpdateUser,
            Endpoint::DeleteUser,
            Endpoint::PoaWhoami,
        ]
        .iter()
        .map(|e| emulator.request_count(*e))
        .sum::<u64>()
    ))?;
    emulator.shutdown().await;
    Ok(())
}

/// A failed step of one vendor's section: a CLI error, or the libraries' error, which becomes
/// one with that vendor's hints.
enum Step {
    Cli(CliError),
    Api(ApiError),
}

impl From<CliError> for Step {
    fn from(error: CliError) -> Self {
        Self::Cli(error)
    }
}

impl From<ApiError> for Step {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<AuthError> for Step {
    fn from(error: AuthError) -> Self {
        Self::Api(error.into())
    }
}

impl From<ConfigError> for Step {
    fn from(error: ConfigError) -> Self {
        Self::Cli(error.into())
    }
}

impl Step {
    fn for_vendor(self, vendor: Vendor) -> CliError {
        match self {
            Self::Cli(error) => error,
            Self::Api(error) => CliError::from_api(error, vendor),
        }
    }
}

async fn podero(emulator: &Emulator) -> Result<(), Step> {
    let credentials = emulator.podero_credentials();
    let auth = PoderoAuth::new(
        credentials.client_id.as_str(),
        credentials.client_secret.as_str(),
    )
    .environment(Environment::Custom(emulator.base_url().to_owned()));
    let client = PoderoClient::from_auth(auth, OrgId::new(emulator.org_id()))?;
    let tokens = client.api().tokens();
    let token_requests = || emulator.request_count(Endpoint::PoderoToken);

    say("\n[podero] OAuth2 client credentials: Basic auth, JSON body, POST /oauth2/token/")?;
    let token = tokens.token().await?;
    say(&format!(
        "[podero] token fetched: {}, scope \"{}\", expires {} (token requests at the emulator: {})",
        token.token_type(),
        token.scopes(),
        expiry(token.expires_at()),
        token_requests()
    ))?;
    let again = tokens.token().await?;
    say(&format!(
        "[podero] second token() served from the cache: same token = {}, token requests still {}",
        again.is(&token),
        token_requests()
    ))?;

    let users = client.users();
    let created = users
        .create(
            &NewUser::new("jane.doe@example.com", Role::User)
                .first_name("Jane")
                .last_name("Doe")
                .zip_code("01067")
                .country("DE"),
        )
        .await?;
    say(&format!(
        "[podero] created user {} <{}> role {}, zip {}",
        created.id,
        created.email,
        created.role,
        created.zip_code.as_deref().unwrap_or("-")
    ))?;
    let listed = users.list().await?;
    say(&format!("[podero] listed {} user(s)", listed.len()))?;
    let fetched = users.get(&created.id).await?;
    say(&format!(
        "[podero] fetched user {}: {} {}",
        fetched.id,
        fetched.first_name.as_deref().unwrap_or_default(),
        fetched.last_name.as_deref().unwrap_or_default()
    ))?;
    let updated = users
        .update(&created.id, &UserUpdate::new().town("Dresden"))
        .await?;
    say(&format!(
        "[podero] updated user {}: town {} (other fields kept: zip {})",
        updated.id,
        updated.town.as_deref().unwrap_or("-"),
        updated.zip_code.as_deref().unwrap_or("-")
    ))?;
    users.delete(&created.id).await?;
    let gone = users.get(&created.id).await;
    say(&format!(
        "[podero] deleted user {}; fetching it now answers {}",
        created.id,
        match &gone {
            Err(error) if error.is_not_found() => "404 Not Found".to_owned(),
            Err(error) => error.to_string(),
            Ok(_) => "200 (unexpected)".to_owned(),
        }
    ))?;
    say(&format!(
        "[podero] {} API calls so far, all with the first token (token requests: {})",
        emulator.request_count(Endpoint::ListUsers)
            + emulator.request_count(Endpoint::CreateUser)
            + emulator.request_count(Endpoint::GetUser)
            + emulator.request_count(Endpoint::UpdateUser)
            + emulator.request_count(Endpoint::DeleteUser),
        token_requests()
    ))?;

    // Recovery: the server forgets every token; the next call gets one 401, the client
    // invalidates exactly that token, fetches one new token and repeats the call once.
    emulator.revoke_all_tokens();
    say("\n[recovery] the emulator revoked every token it issued")?;
    let before = emulator.request_log().len();
    let listed = users.list().await?;
    let statuses: Vec<String> = emulator.request_log()[before..]
        .iter()
        .map(|entry| {
            format!(
                "{} {} -> {}",
                entry.method,
                entry.endpoint.map_or("?", |e| e.name()),
                entry.status
            )
        })
        .collect();
    say(&format!(
        "[recovery] next list call: {} (token requests now {}); listed {} user(s)",
        statuses.join(", "),
        token_requests(),
        listed.len()
    ))?;
    Ok(())
}

async fn poa(emulator: &Emulator) -> Result<(), Step> {
    let credentials = emulator.poa_credentials();
    let auth = PoaAuth::new(
        emulator.base_url(),
        credentials.client_id.as_str(),
        credentials.client_secret.as_str(),
    );
    say(
        "\n[poa] OAuth2 client credentials: form body, POST /v2/auth/cybrillarta/token (Keycloak)",
    )?;
    // Let the JWT's own `exp` come before the response's `expires_in`, as a Keycloak realm with
    // a shorter token lifespan would: the client must honour the earlier one.
    emulator.set_poa_jwt_lifetime(Some(Duration::from_secs(600)));
    let tokens = auth.into_cache()?;
    let token = tokens.token().await?;
    say(&format!(
        "[poa] token fetched: {}, scope \"{}\"; expires_in said 1800 s but the JWT's exp is earlier, so it expires {}",
        token.token_type(),
        token.scopes(),
        expiry(token.expires_at()),
    ))?;
    say(&format!(
        "[poa] Keycloak extras kept: refresh_expires_in {}, not-before-policy {}",
        token
            .extra()
            .get("refresh_expires_in")
            .map_or("-".into(), ToString::to_string),
        token
            .extra()
            .get("not-before-policy")
            .map_or("-".into(), ToString::to_string),
    ))?;
    let poa = AuthenticatedClient::builder(emulator.base_url(), tokens).build()?;
    let whoami: serde_json::Value = poa.get_json("/__emulator/poa/whoami").await?;
    say(&format!(
        "[poa] generic authenticated GET /__emulator/poa/whoami: client {}, scope {} (POA token requests: {})",
        whoami["client_id"],
        whoami["scope"],
        emulator.request_count(Endpoint::PoaToken)
    ))?;
    Ok(())
}

fn expiry(at: Option<chrono::DateTime<Utc>>) -> String {
    match at {
        Some(at) => format!(
            "at {} (in {} s)",
            at.to_rfc3339_opts(SecondsFormat::Secs, true),
            (at - SharedClock::system().now()).num_seconds()
        ),
        None => "never said (the cache assumes 1 h)".to_owned(),
    }
}

fn say(line: &str) -> Result<(), CliError> {
    print_line(line)
}
