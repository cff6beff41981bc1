//! The typed Podero Partner API: organisation users (feature `podero`, on by default).
//!
//! [`PoderoClient`] holds an [`AuthenticatedClient`] for the Podero base URL and the
//! organisation id; [`Users`] has one method per documented operation. Paths follow
//! `/api/partners/v2.0/org/{org_id}/users[/{user_id}]`.

mod models;
mod pages;

use std::time::Duration;

use auth_core::{ConfigError, SharedTokenProvider, env};
use futures_util::stream::{self, Stream, TryStreamExt as _};
use podero_auth::{PoderoAuth, SourceConfig as _};
use reqwest::{Method, Url};
use serde::Serialize;

pub use self::models::{NewUser, OrgId, OtherRole, Role, User, UserId, UserUpdate};
use crate::client::{AuthenticatedClient, Call, bytes_body::Body};
use crate::error::ApiError;

/// `PODERO_ORG_ID`
pub const ENV_ORG_ID: &str = "PODERO_ORG_ID";

/// `PODERO_MAX_PAGES` (optional; the page bound of listings, default [`MAX_PAGES`])
pub const ENV_MAX_PAGES: &str = "PODERO_MAX_PAGES";

/// The most pages a listing follows by default: a guard against a `next` link that never
/// ends.
pub const MAX_PAGES: usize = 10_000;

/// The most users [`Users::list`] collects by default: it holds them all in memory, so its
/// memory is bounded by this many users (stream with [`Users::pages`] to go beyond).
pub const MAX_USERS: usize = 100_000;

/// Bounds on a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListOptions {
    /// The most pages followed (default [`MAX_PAGES`]); a listing that would go further ends
    /// with [`ApiError::Decode`].
    pub max_pages: usize,
    /// The most users [`Users::list_with`] collects (default [`MAX_USERS`]); the streams
    /// ignore it.
    pub max_users: usize,
}

impl Default for ListOptions {
    fn default() -> Self {
        Self {
            max_pages: MAX_PAGES,
            max_users: MAX_USERS,
        }
    }
}

impl ListOptions {
    /// The default bounds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the page bound (at least 1).
    #[must_use]
    pub fn max_pages(mut self, pages: usize) -> Self {
        self.max_pages = pages.max(1);
        self
    }

    /// Sets the user bound of a collected list.
    #[must_use]
    pub fn max_users(mut self, users: usize) -> Self {
        self.max_users = users;
        self
    }
}

/// A client for one Podero organisation.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use partner_sdk::PoderoClient;
/// use podero_auth::PoderoAuth;
///
/// let org = "016b78a7-0c7c-4241-a277-015c3ad3cb90".parse()?;
/// let podero = PoderoClient::from_auth(PoderoAuth::new("client-id", "client-secret"), org)?;
/// let everyone = podero.users().list().await?;
/// # let _ = everyone;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PoderoClient {
    api: AuthenticatedClient,
    org_id: OrgId,
    /// `{base}/api/partners/v2.0/org/{org_id}/users`, built once.
    users_url: Url,
    /// The bounds of [`Users::list`] and [`Users::pages`].
    list_options: ListOptions,
}

impl PoderoClient {
    /// A client from a [`PoderoAuth`] configuration: the configuration's base URL, one HTTP
    /// client (the one given to the configuration, or a default one) and one clock shared by
    /// the token exchange and the API calls, and Podero's rule for stale tokens (a bare 403
    /// gets one refresh, as a 401 does: see
    /// [`refresh_on_forbidden`](crate::AuthenticatedClientBuilder::refresh_on_forbidden)).
    ///
    /// # Errors
    /// [`ConfigError`] for an invalid configuration.
    pub fn from_auth(auth: PoderoAuth, org_id: OrgId) -> Result<Self, ConfigError> {
        let base = auth.base_url()?;
        Self::from_cache(base.as_str(), auth.into_cache()?, org_id, None)
    }

    /// As [`from_auth`](Self::from_auth), with a shared token store in front of the exchange
    /// (feature `store`): one token for every process that shares `store`.
    ///
    /// # Errors
    /// [`ConfigError`] for an invalid configuration.
    #[cfg(feature = "store")]
    pub fn from_auth_shared<St: auth_core::store::TokenStore>(
        auth: PoderoAuth,
        store: St,
        org_id: OrgId,
    ) -> Result<Self, ConfigError> {
        let base = auth.base_url()?;
        Self::from_cache(
            base.as_str(),
            auth.shared(store).into_cache()?,
            org_id,
            None,
        )
    }

    /// A client over a token cache of a client-credentials exchange: the exchange's HTTP
    /// client (the caller's, if the configuration had one) serves the API calls too, the clock
    /// comes with the token provider, and `timeout` (if any) is the API calls' per-attempt
    /// timeout.
    fn from_cache<S: auth_core::TokenSource + auth_core::HasExchange>(
        base: &str,
        tokens: auth_core::TokenCache<S>,
        org_id: OrgId,
        timeout: Option<Duration>,
    ) -> Result<Self, ConfigError> {
        let http = tokens.source().exchange().http_client().clone();
        let mut api = AuthenticatedClient::builder(base, tokens)
            .http_client(http)
            .refresh_on_forbidden(true);
        if let Some(timeout) = timeout {
            api = api.timeout(timeout);
        }
        Self::new(api.build()?, org_id)
    }

    /// A client from `PODERO_CLIENT_ID`, `PODERO_CLIENT_SECRET`, `PODERO_ORG_ID` and,
    /// optionally, `PODERO_BASE_URL`, `PODERO_TOKEN_BODY`, `PODERO_TIMEOUT` (seconds per
    /// attempt, for the token request and the API calls alike) and `PODERO_MAX_PAGES` (the
    /// page bound of listings, at least 1).
    ///
    /// # Errors
    /// [`ConfigError`] naming a missing, empty or invalid variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env::process)
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Self, ConfigError> {
        let settings = Settings::from_lookup(&lookup)?;
        let base = settings.auth.base_url()?;
        let tokens = settings.auth.into_cache()?;
        Ok(
            Self::from_cache(base.as_str(), tokens, settings.org, settings.timeout)?
                .with_list_options(settings.options),
        )
    }

    /// As [`from_lookup`](Self::from_lookup), with a shared token store in front of the
    /// exchange (feature `store`).
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    #[cfg(feature = "store")]
    pub fn from_lookup_shared<St: auth_core::store::TokenStore>(
        lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
        store: St,
    ) -> Result<Self, ConfigError> {
        let settings = Settings::from_lookup(&lookup)?;
        let base = settings.auth.base_url()?;
        let tokens = settings.auth.shared(store).into_cache()?;
        Ok(
            Self::from_cache(base.as_str(), tokens, settings.org, settings.timeout)?
                .with_list_options(settings.options),
        )
    }

    /// A client with default settings (and Podero's rule for stale tokens) over any token
    /// provider, for the Podero deployment at `base_url`.
    ///
    /// # Errors
    /// [`ConfigError`] for a base URL that does not parse or is plain HTTP to a non-loopback
    /// host.
    pub fn with_tokens(
        tokens: impl Into<SharedTokenProvider>,
        base_url: &str,
        org_id: OrgId,
    ) -> Result<Self, ConfigError> {
        let api = AuthenticatedClient::builder(base_url, tokens)
            .refresh_on_forbidden(true)
            .build()?;
        Self::new(api, org_id)
    }

    /// A client over any authenticated client whose base URL is a Podero deployment.
    ///
    /// # Errors
    /// [`ConfigError`] if the users URL cannot be built on that base URL.
    pub fn new(api: AuthenticatedClient, org_id: OrgId) -> Result<Self, ConfigError> {
        let users_url = api
            .url(&format!("/api/partners/v2.0/org/{org_id}/users"))
            .map_err(|_| ConfigError::invalid_url("API base URL", "cannot hold the users path"))?;
        Ok(Self {
            api,
            org_id,
            users_url,
            list_options: ListOptions::default(),
        })
    }

    /// The bounds [`Users::list`] and [`Users::pages`] use (default: [`ListOptions::default`]).
    #[must_use]
    pub fn with_list_options(mut self, options: ListOptions) -> Self {
        self.list_options = options;
        self
    }

    /// The organisation.
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    /// The underlying authenticated client, for endpoints this crate does not wrap.
    pub fn api(&self) -> &AuthenticatedClient {
        &self.api
    }

    /// The organisation's users.
    pub fn users(&self) -> Users<'_> {
        Users { client: self }
    }
}

/// What `from_lookup` reads: the token configuration, the organisation, the API calls'
/// timeout and the listing bounds.
struct Settings {
    auth: PoderoAuth,
    org: OrgId,
    timeout: Option<Duration>,
    options: ListOptions,
}

impl Settings {
    fn from_lookup(
        lookup: &impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Self, ConfigError> {
        let auth = PoderoAuth::from_lookup(lookup)?;
        let timeout = env::optional_timeout(lookup, podero_auth::ENV_TIMEOUT)?;
        let mut options = ListOptions::default();
        if let Some(pages) = env::optional(lookup, ENV_MAX_PAGES)? {
            options.max_pages = pages
                .parse::<usize>()
                .ok()
                .filter(|pages| *pages >= 1)
                .ok_or_else(|| {
                    ConfigError::invalid(
                        ENV_MAX_PAGES,
                        "it must be a whole number of pages, at least 1",
                    )
                })?;
        }
        Ok(Self {
            auth,
            org: org_from_lookup(lookup)?,
            timeout,
            options,
        })
    }
}

/// Parses one page of the users list as the listing does (a bare array, or an envelope with
/// the users under `results` or `items` and the next page's URL under `next`): the users and
/// the `next` link. Exposed, hidden from the documentation, for the fuzz targets.
///
/// # Errors
/// [`ApiError::Decode`], as a listing reports a page it cannot read.
#[doc(hidden)]
pub fn parse_users_page(body: &[u8]) -> Result<(Vec<User>, Option<String>), ApiError> {
    let response = crate::client::ApiResponse::from_body(Method::GET, USERS, body.to_vec());
    let page = pages::parse(&response)?;
    Ok((page.users, page.next))
}

/// Reads `PODERO_ORG_ID` through `lookup`.
///
/// # Errors
/// [`ConfigError`] naming the variable.
pub fn org_from_lookup(
    lookup: &impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<OrgId, ConfigError> {
    env::required(lookup, ENV_ORG_ID)?
        .parse()
        .map_err(|_| ConfigError::invalid(ENV_ORG_ID, "it is not a UUID"))
}

/// The users of the organisation: one method per documented operation.
#[derive(Debug)]
pub struct Users<'a> {
    client: &'a PoderoClient,
}

const USERS: &str = "/api/partners/v2.0/org/{org_id}/users";
const USER: &str = "/api/partners/v2.0/org/{org_id}/users/{user_id}";

impl Users<'_> {
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

    /// The user's URL: the users URL plus one path segment (no re-parsing per call).
    fn user_url(&self, id: &UserId) -> Url {
        let mut url = self.client.users_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(&id.to_string());
        }
        url
    }

    /// Every user of the organisation, following pagination if the server paginates (a bare
    /// JSON array, or an envelope with `results` or `items` and a `next` link), with the
    /// client's [`ListOptions`] (see [`PoderoClient::with_list_options`]).
    ///
    /// # Errors
    /// [`ApiError`] for a failed page; [`ApiError::Decode`] for an unexpected shape, a
    /// pagination loop, a `next` link to another origin, or more than the bounds.
    pub async fn list(&self) -> Result<Vec<User>, ApiError> {
        self.list_with(self.client.list_options).await
    }

    /// [`list`](Self::list) with other bounds.
    ///
    /// # Errors
    /// As [`list`](Self::list).
    pub async fn list_with(&self, options: ListOptions) -> Result<Vec<User>, ApiError> {
        let mut users = Vec::new();
        let mut pages = std::pin::pin!(self.pages_with(options));
        while let Some(page) = pages.try_next().await? {
            if users.len().saturating_add(page.len()) > options.max_users {
                return Err(ApiError::decode(
                    &Method::GET,
                    self.client.users_url.path(),
                    format!(
                        "the list holds more than {} users (the limit; stream it with `Users::pages`)",
                        options.max_users
                    ),
                    None,
                ));
            }
            users.extend(page);
        }
        Ok(users)
    }

    /// The users page by page, as a stream: memory stays bounded by one page. Follows `next`
    /// links on the API's origin only, never one fetched before, at most
    /// [`ListOptions::max_pages`] pages (the client's options, see
    /// [`PoderoClient::with_list_options`]).
    pub fn pages(&self) -> impl Stream<Item = Result<Vec<User>, ApiError>> + '_ {
        self.pages_with(self.client.list_options)
    }

    /// [`pages`](Self::pages) with other bounds.
    pub fn pages_with(
        &self,
        options: ListOptions,
    ) -> impl Stream<Item = Result<Vec<User>, ApiError>> + '_ {
        let cursor = pages::Cursor::new(Ok(self.client.users_url.clone()), options.max_pages);
        stream::try_unfold(cursor, move |mut cursor| async move {
            let Some(url) = cursor.next_url()? else {
                return Ok::<_, ApiError>(None);
            };
            let call = self.call::<()>(Method::GET, url.clone(), USERS, None)?;
            let response = self.client.api.execute(call).await?;
            let page = pages::parse(&response)?;
            cursor.advance(url, page.next.as_deref(), |next| self.client.api.url(next))?;
            Ok(Some((page.users, cursor)))
        })
    }

    /// The users one by one, as a stream (page by page underneath).
    pub fn list_stream(&self) -> impl Stream<Item = Result<User, ApiError>> + '_ {
        self.pages()
            .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
            .try_flatten()
    }

    /// One user.
    ///
    /// # Errors
    /// [`ApiError::Status`] with 404 for an unknown user; other [`ApiError`]s.
    pub async fn get(&self, id: &UserId) -> Result<User, ApiError> {
        let call = self.call::<()>(Method::GET, self.user_url(id), USER, None)?;
        self.client.api.execute(call).await?.json()
    }

    /// Creates a user. Not retried after a failure the server may have processed (a timeout,
    /// a 503): retrying could create the user twice.
    ///
    /// # Errors
    /// [`ApiError::Status`] with 400 and the field errors for invalid data; other
    /// [`ApiError`]s.
    pub async fn create(&self, user: &NewUser) -> Result<User, ApiError> {
        let url = self.client.users_url.clone();
        let call = self.call(Method::POST, url, USERS, Some(user))?;
        self.client.api.execute(call).await?.json()
    }

    /// Changes the fields set in `update` (PUT with a partial body, as Podero documents).
    ///
    /// # Errors
    /// As [`get`](Self::get) and [`create`](Self::create).
    pub async fn update(&self, id: &UserId, update: &UserUpdate) -> Result<User, ApiError> {
        let call = self.call(Method::PUT, self.user_url(id), USER, Some(update))?;
        self.client.api.execute(call).await?.json()
    }

    /// Removes a user, at once and for good.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn delete(&self, id: &UserId) -> Result<(), ApiError> {
        let call = self.call::<()>(Method::DELETE, self.user_url(id), USER, None)?;
        self.client.api.execute(call).await.map(drop)
    }
}

impl std::fmt::Debug for PoderoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoderoClient")
            .field("api", &self.api)
            .field("org_id", &self.org_id)
            .field("list_options", &self.list_options)
            .finish()
    }
}
