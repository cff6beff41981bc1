//! The typed Podero Partner API: organisation users.
//!
//! [`PoderoClient`] holds an [`AuthenticatedClient`] for the Podero base URL and the
//! organisation id; [`Users`] has one method per documented operation. Paths follow
//! `/api/partners/v2.0/org/{org_id}/users[/{user_id}]`.

mod models;
mod pages;

use std::sync::Arc;

use auth_core::{ConfigError, TokenProvider, env};
use futures_util::stream::{self, Stream, TryStreamExt as _};
use podero_auth::{PoderoAuth, PoderoTokenCache};
use reqwest::{Method, Url};
use serde::Serialize;

pub use self::models::{NewUser, OrgId, Role, User, UserId, UserUpdate};
use crate::client::{AuthenticatedClient, Call, bytes_body::Body};
use crate::error::ApiError;

/// `PODERO_ORG_ID`
pub const ENV_ORG_ID: &str = "PODERO_ORG_ID";

/// The most pages [`Users::list`] follows: a guard against a `next` link that never ends.
pub const MAX_PAGES: usize = 10_000;

/// A client for one Podero organisation.
///
/// ```no_run
/// # async fn run() -> Result<(), partner_sdk::ApiError> {
/// use partner_sdk::PoderoClient;
/// use podero_auth::PoderoAuth;
///
/// let org = "016b78a7-0c7c-4241-a277-015c3ad3cb90".parse().map_err(|_| {
///     auth_core::ConfigError::Invalid { field: "org id", reason: "not a UUID".into() }
/// })?;
/// let podero = PoderoClient::from_auth(PoderoAuth::new("client-id", "client-secret"), org)?;
/// let everyone = podero.users().list().await?;
/// # let _ = everyone;
/// # Ok(())
/// # }
/// ```
pub struct PoderoClient<P = PoderoTokenCache> {
    api: AuthenticatedClient<P>,
    org_id: OrgId,
    /// `{base}/api/partners/v2.0/org/{org_id}/users`, parsed once.
    users_url: Result<Url, ApiError>,
}

impl<P> Clone for PoderoClient<P> {
    fn clone(&self) -> Self {
        Self {
            api: self.api.clone(),
            org_id: self.org_id,
            users_url: self.users_url.clone(),
        }
    }
}

impl PoderoClient<PoderoTokenCache> {
    /// A client from a [`PoderoAuth`] configuration: the configuration's base URL, and one HTTP
    /// client (the one given to [`PoderoAuth::http_client`], or a default one) and one clock
    /// shared by the token exchange and the API calls.
    ///
    /// # Errors
    /// [`ApiError::Config`] for an invalid configuration.
    pub fn from_auth(auth: PoderoAuth, org_id: OrgId) -> Result<Self, ApiError> {
        let base = auth.base_url()?;
        let tokens = auth.into_cache()?;
        // The token exchange's HTTP client (the caller's, if the configuration had one) and
        // clock serve the API calls too.
        let http = tokens.source().http_client().clone();
        let clock = Arc::clone(tokens.clock());
        let api = AuthenticatedClient::builder(base.as_str(), tokens)
            .http_client(http)
            .clock(clock)
            .build()?;
        Ok(Self::new(api, org_id))
    }

    /// A client from `PODERO_CLIENT_ID`, `PODERO_CLIENT_SECRET`, `PODERO_ORG_ID` and,
    /// optionally, `PODERO_BASE_URL`.
    ///
    /// # Errors
    /// [`ApiError::Config`] naming a missing, empty or invalid variable.
    pub fn from_env() -> Result<Self, ApiError> {
        Self::from_lookup(env::process)
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Self, ApiError> {
        let auth = PoderoAuth::from_lookup(&lookup)?;
        let org_id =
            env::required(&lookup, ENV_ORG_ID)?
                .parse()
                .map_err(|_| ConfigError::Invalid {
                    field: ENV_ORG_ID,
                    reason: "it is not a UUID".into(),
                })?;
        Self::from_auth(auth, org_id)
    }
}

impl<P: TokenProvider> PoderoClient<P> {
    /// A client with default settings over any token provider (a `podero-auth` cache, or your
    /// own), for the Podero deployment at `base_url`.
    ///
    /// # Errors
    /// [`ApiError::Config`] for a base URL that does not parse or is plain HTTP to a
    /// non-loopback host.
    pub fn with_tokens(tokens: P, base_url: &str, org_id: OrgId) -> Result<Self, ApiError> {
        Ok(Self::new(
            AuthenticatedClient::builder(base_url, tokens).build()?,
            org_id,
        ))
    }

    /// A client over any authenticated client whose base URL is a Podero deployment.
    pub fn new(api: AuthenticatedClient<P>, org_id: OrgId) -> Self {
        let users_url = api.url(&format!("/api/partners/v2.0/org/{org_id}/users"));
        Self {
            api,
            org_id,
            users_url,
        }
    }

    /// The organisation.
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    /// The underlying authenticated client, for endpoints this crate does not wrap.
    pub fn api(&self) -> &AuthenticatedClient<P> {
        &self.api
    }

    /// The organisation's users.
    pub fn users(&self) -> Users<'_, P> {
        Users { client: self }
    }
}

/// The users of the organisation: one method per documented operation.
pub struct Users<'a, P> {
    client: &'a PoderoClient<P>,
}

const USERS: &str = "/api/partners/v2.0/org/{org_id}/users";
const USER: &str = "/api/partners/v2.0/org/{org_id}/users/{user_id}";

impl<P: TokenProvider> Users<'_, P> {
    fn call<B: Serialize>(
        &self,
        method: Method,
        url: Url,
        template: &'static str,
        body: Option<&B>,
    ) -> Result<Call<'static>, ApiError> {
        let body = body.map(|b| Body::json(b, &method, &url)).transpose()?;
        Ok(Call {
            method,
            url,
            template: template.into(),
            body,
        })
    }

    fn users_url(&self) -> Result<Url, ApiError> {
        self.client.users_url.clone()
    }

    /// The user's URL: the users URL plus one path segment (no re-parsing per call).
    fn user_url(&self, id: &UserId) -> Result<Url, ApiError> {
        let mut url = self.users_url()?;
        url.path_segments_mut()
            .map_err(|()| {
                ApiError::Config(ConfigError::InvalidUrl {
                    what: "API base URL",
                    reason: "it cannot have a path".into(),
                })
            })?
            .push(&id.to_string());
        Ok(url)
    }

    /// Every user of the organisation, following pagination if the server paginates (a bare
    /// JSON array, or an envelope with `results` or `items` and a `next` link).
    ///
    /// # Errors
    /// [`ApiError`] for a failed page; [`ApiError::Decode`] for an unexpected shape or a
    /// pagination loop.
    pub async fn list(&self) -> Result<Vec<User>, ApiError> {
        self.list_stream().try_collect().await
    }

    /// Every user of the organisation, page by page as a stream.
    pub fn list_stream(&self) -> impl Stream<Item = Result<User, ApiError>> + '_ {
        let first = self.users_url();
        let state = pages::Cursor::new(first);
        stream::try_unfold(state, move |mut cursor| async move {
            let Some(url) = cursor.next_url()? else {
                return Ok::<_, ApiError>(None);
            };
            let call = self.call::<()>(Method::GET, url.clone(), USERS, None)?;
            let response = self.client.api.execute(call).await?;
            let page = pages::parse(&response)?;
            cursor.advance(&url, page.next.as_deref(), |next| self.client.api.url(next))?;
            Ok(Some((stream::iter(page.users.into_iter().map(Ok)), cursor)))
        })
        .try_flatten()
    }

    /// One user.
    ///
    /// # Errors
    /// [`ApiError::Status`] with 404 for an unknown user; other [`ApiError`]s.
    pub async fn get(&self, id: &UserId) -> Result<User, ApiError> {
        let call = self.call::<()>(Method::GET, self.user_url(id)?, USER, None)?;
        self.client.api.execute(call).await?.json()
    }

    /// Creates a user. Not retried after a failure the server may have processed (a timeout,
    /// a 503): retrying could create the user twice.
    ///
    /// # Errors
    /// [`ApiError::Status`] with 400 and the field errors for invalid data; other
    /// [`ApiError`]s.
    pub async fn create(&self, user: &NewUser) -> Result<User, ApiError> {
        let url = self.users_url()?;
        let call = self.call(Method::POST, url, USERS, Some(user))?;
        self.client.api.execute(call).await?.json()
    }

    /// Changes the fields set in `update` (PUT with a partial body, as Podero documents).
    ///
    /// # Errors
    /// As [`get`](Self::get) and [`create`](Self::create).
    pub async fn update(&self, id: &UserId, update: &UserUpdate) -> Result<User, ApiError> {
        let call = self.call(Method::PUT, self.user_url(id)?, USER, Some(update))?;
        self.client.api.execute(call).await?.json()
    }

    /// Removes a user, at once and for good.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn delete(&self, id: &UserId) -> Result<(), ApiError> {
        let call = self.call::<()>(Method::DELETE, self.user_url(id)?, USER, None)?;
        self.client.api.execute(call).await.map(drop)
    }
}

impl<P> std::fmt::Debug for PoderoClient<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoderoClient")
            .field("api", &self.api)
            .field("org_id", &self.org_id)
            .finish()
    }
}
