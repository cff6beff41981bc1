//! Authenticated partner API clients.
//!
//! - [`AuthenticatedClient`]: any vendor's API over any [`auth_core::TokenProvider`]: the bearer
//!   header on every request, one token refresh on a 401 (compare-and-invalidate, never a
//!   loop), retries of transient failures that never repeat a non-idempotent request the server
//!   may have processed, bounded bodies, typed [`ApiError`]s without secrets, and `tracing`
//!   spans per request.
//! - [`podero`] (feature `podero`, on by default): the typed Podero org/users API
//!   ([`PoderoClient`]).
//! - `middleware` (feature `middleware`): the same bearer handling as a `reqwest-middleware`
//!   middleware, for an existing middleware stack, sending the token only to allowed origins.
//!
//! Features: `podero` (default), `middleware`, `native-tls` (the OS's TLS stack instead of
//! rustls, for platforms whose policy requires the OS certificate store).
//!
//! # Podero: users CRUD
//! ```no_run
//! use partner_sdk::PoderoClient;
//! use partner_sdk::podero::{NewUser, Role, UserUpdate};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // PODERO_CLIENT_ID, PODERO_CLIENT_SECRET, PODERO_ORG_ID, optionally PODERO_BASE_URL.
//! let podero = PoderoClient::from_env()?;
//! let users = podero.users();
//! let created = users
//!     .create(&NewUser::new("jane@example.com", Role::User).first_name("Jane"))
//!     .await?;
//! let fetched = users.get(&created.id).await?;
//! let updated = users
//!     .update(&fetched.id, &UserUpdate::new().zip_code("01067").town("Dresden"))
//!     .await?;
//! println!("{} lives in {:?}", updated.email, updated.town);
//! for user in users.list().await? {
//!     println!("{} {:?}", user.id, user.role);
//! }
//! users.delete(&created.id).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Cybrilla POA: a token cache and a generic GET
//! ```no_run
//! use partner_sdk::AuthenticatedClient;
//! use poa_auth::{PoaAuth, SourceConfig as _};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let tokens = PoaAuth::from_env()?.into_cache()?;
//! let poa = AuthenticatedClient::builder("https://poa.example.com", tokens).build()?;
//! let answer: serde_json::Value = poa.get_json("/poa/v1/some-resource").await?;
//! # let _ = answer;
//! # Ok(())
//! # }
//! ```

mod client;
mod error;
#[cfg(feature = "middleware")]
pub mod middleware;
#[cfg(feature = "podero")]
pub mod podero;
pub mod retry;

pub use auth_core::{SharedTokenProvider, Token};
pub use reqwest;

pub use client::{
    ApiResponse, AuthenticatedClient, AuthenticatedClientBuilder, DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
};
pub use error::{ApiError, ErrorBody, StatusError};
#[cfg(feature = "podero")]
pub use podero::PoderoClient;

/// The README's examples, compiled (and the emulator one run) as doctests.
#[cfg(all(doctest, feature = "podero"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
