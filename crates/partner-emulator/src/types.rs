//! The public value types the emulator is driven and observed with: [`Endpoint`], [`Vendor`],
//! [`ListFormat`], [`Counters`], [`LoggedRequest`], [`Credentials`], [`Client`] and the
//! server styles [`PoderoTokenBackend`] and [`PoderoBearerRejection`].
//!
//! They carry no behaviour beyond naming and (de)serialising themselves; the state that uses
//! them lives in `state.rs`. Their serde forms are the ones the HTTP control API speaks.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which vendor a token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Vendor {
    /// Podero (`"podero"` over HTTP).
    Podero,
    /// Cybrilla POA (`"poa"` over HTTP).
    Poa,
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Vendor::Podero => "podero",
            Vendor::Poa => "poa",
        })
    }
}

/// The emulated endpoints: the unit of counters, of the request log and of fault injection.
///
/// Over HTTP and in [`Counters`] each one is called by its snake_case [`name`](Self::name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /oauth2/token/` (`podero_token`).
    PoderoToken,
    /// `POST /v2/auth/cybrillarta/token` and `POST /poa/auth/token` (`poa_token`).
    PoaToken,
    /// `GET /api/partners/v2.0/org/{org_id}/users` (`list_users`).
    ListUsers,
    /// `POST /api/partners/v2.0/org/{org_id}/users` (`create_user`).
    CreateUser,
    /// `GET /api/partners/v2.0/org/{org_id}/users/{user_id}` (`get_user`).
    GetUser,
    /// `PUT /api/partners/v2.0/org/{org_id}/users/{user_id}` (`update_user`).
    UpdateUser,
    /// `DELETE /api/partners/v2.0/org/{org_id}/users/{user_id}` (`delete_user`).
    DeleteUser,
    /// `GET /__emulator/poa/whoami` (`poa_whoami`): emulator-only, an API call that needs a
    /// POA token.
    PoaWhoami,
}

impl Endpoint {
    /// Every endpoint, in the order counters list them.
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

    /// The snake_case name used in counters and over HTTP, e.g. `"get_user"`.
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

    /// The position in [`ALL`](Self::ALL), used to index the counters.
    pub(crate) fn index(self) -> usize {
        match self {
            Endpoint::PoderoToken => 0,
            Endpoint::PoaToken => 1,
            Endpoint::ListUsers => 2,
            Endpoint::CreateUser => 3,
            Endpoint::GetUser => 4,
            Endpoint::UpdateUser => 5,
            Endpoint::DeleteUser => 6,
            Endpoint::PoaWhoami => 7,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How `GET .../users` answers. The vendor does not document the list's shape, so clients
/// should cope with each of these.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ListFormat {
    /// A bare JSON array of every user, in creation order (the default).
    #[default]
    BareArray,
    /// Django REST Framework page-number pagination:
    /// `{"count": N, "next": url|null, "previous": url|null, "results": [...]}`, pages chosen
    /// with `?page=1..`.
    Results {
        /// Users per page (0 is served as 1).
        page_size: usize,
    },
    /// `{"items": [...], "next": url|null}`, pages chosen with `?page=1..`.
    Items {
        /// Users per page (0 is served as 1).
        page_size: usize,
    },
}

/// How many requests each endpoint received, faulted and rejected ones included.
///
/// Serialises as a map from [`Endpoint::name`] to count, every endpoint present:
/// `{"podero_token": 3, "poa_token": 0, ...}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Counters(BTreeMap<Endpoint, u64>);

impl Counters {
    pub(crate) fn from_counts(counts: impl IntoIterator<Item = (Endpoint, u64)>) -> Self {
        Self(counts.into_iter().collect())
    }

    /// The count of one endpoint.
    pub fn get(&self, endpoint: Endpoint) -> u64 {
        self.0.get(&endpoint).copied().unwrap_or(0)
    }

    /// Every endpoint with its count, in [`Endpoint::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Endpoint, u64)> + '_ {
        self.0.iter().map(|(endpoint, count)| (*endpoint, *count))
    }

    /// The sum over all endpoints.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// One entry of the request log.
///
/// It never holds headers, bodies, query strings, tokens or secrets: only what a test needs to
/// assert the sequence of calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LoggedRequest {
    /// The method, e.g. `"GET"`.
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The status answered; 0 when a fault closed the connection without an answer.
    pub status: u16,
    /// The endpoint, or `None` for a path the emulator does not serve (answered 404).
    pub endpoint: Option<Endpoint>,
    /// When the request arrived, on the emulator's clock.
    pub at: DateTime<Utc>,
}

/// A client's id and secret.
///
/// `Debug` shows the id and hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
}

impl Credentials {
    /// Random credentials: an id like `podero-k3x9...` and a 40-character secret, both
    /// alphanumeric so that naive Basic encoders (the vendor's own sample) work with them.
    pub(crate) fn generated(prefix: &str) -> Self {
        Self {
            client_id: format!("{prefix}-{}", random_alphanumeric(16).to_ascii_lowercase()),
            client_secret: random_alphanumeric(40),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// A client registered with one vendor's token endpoint: its credentials, and whether it may
/// use the client-credentials grant.
///
/// Register extra clients with [`EmulatorBuilder::client`](crate::EmulatorBuilder::client)
/// or [`Emulator::add_client`](crate::Emulator::add_client). `Debug` hides the secret.
///
/// ```
/// use partner_emulator::Client;
///
/// // Any id and secret, e.g. one that naive Basic encoders get wrong.
/// let awkward = Client::new("a b:c+d/e=f%&é", "a b:c+d/e=f%&é");
/// // A client whose application does not allow the client-credentials grant.
/// let forbidden = Client::new("reporting", "s3cret").without_client_credentials_grant();
/// assert!(!forbidden.allows_client_credentials_grant());
/// # let _ = awkward;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    credentials: Credentials,
    client_credentials_grant: bool,
}

impl Client {
    /// A client with this id and secret, allowed the client-credentials grant.
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            credentials: Credentials {
                client_id: id.into(),
                client_secret: secret.into(),
            },
            client_credentials_grant: true,
        }
    }

    /// The client authenticates, but may not use the client-credentials grant: Podero answers
    /// `400 {"error":"unauthorized_client"}` (Django OAuth Toolkit), POA `401
    /// unauthorized_client` "Client not enabled to retrieve service account" (Keycloak).
    #[must_use]
    pub fn without_client_credentials_grant(mut self) -> Self {
        self.client_credentials_grant = false;
        self
    }

    /// The client's id and secret.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Whether the client may use the client-credentials grant.
    pub fn allows_client_credentials_grant(&self) -> bool {
        self.client_credentials_grant
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.credentials.client_id.is_empty() || self.credentials.client_secret.is_empty()
    }
}

/// How Podero's token endpoint reads its request body: the two backends of Django OAuth
/// Toolkit (DOT), so a client can be tested against either.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PoderoTokenBackend {
    /// DOT's `JSONOAuthLibCore` (the default, as Podero documents a JSON body): the body is
    /// read as a JSON object whatever the `Content-Type`; any other body, a form body
    /// included, carries no parameters (`"json"` over HTTP).
    #[default]
    Json,
    /// DOT's default `OAuthLibCore`: only an `application/x-www-form-urlencoded` body carries
    /// parameters; a JSON body has none, so it gets `400 {"error":"unsupported_grant_type"}`
    /// (`"form"` over HTTP).
    Form,
}

/// How Podero's users API answers a missing, unknown, revoked or expired bearer token: the
/// two ways a Django OAuth Toolkit (DOT) server protects an API.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PoderoBearerRejection {
    /// Django REST Framework with DOT's `OAuth2Authentication` (the default): `401
    /// {"detail":"Authentication credentials were not provided."}` with a `WWW-Authenticate:
    /// Bearer realm="api"...` challenge (`"drf_401"` over HTTP).
    #[default]
    #[serde(rename = "drf_401")]
    Drf401,
    /// DOT's own `ProtectedResourceView`: a bare `403` with an empty body and no
    /// `WWW-Authenticate` (`"protected_resource_403"` over HTTP).
    #[serde(rename = "protected_resource_403")]
    ProtectedResource403,
}

/// Random ASCII letters and digits. `fastrand` is not a cryptographic generator, which is
/// fine: these are an emulator's tokens and test credentials, never real secrets.
pub(crate) fn random_alphanumeric(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(len)
        .collect()
}
