//! Authenticated partner API clients.
//!
//! - [`AuthenticatedClient`]: any vendor's API over any [`auth_core::TokenProvider`]: the bearer
//!   header on every request, one token refresh on a 401 (compare-and-invalidate, never a
//!   loop), retries of transient failures that never repeat a non-idempotent request the server
//!   may have processed, bounded bodies, typed [`ApiError`]s without secrets, and `tracing`
//!   spans per request.
//! - [`podero`]: the typed Podero org/users API ([`PoderoClient`]).
//! - `middleware` (feature `middleware`): the same bearer handling as a `reqwest-middleware`
//!   middleware, for an existing middleware stack.
//!
//! # Podero: users CRUD
//! ```no_run
//! use partner_sdk::PoderoClient;
//! use partner_sdk::podero::{NewUser, Role, UserUpdate};
//!
//! # async fn run() -> Result<(), partner_sdk::ApiError> {
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
//!
//! # async fn run() -> Result<(), partner_sdk::ApiError> {
//! let tokens = poa_auth::PoaAuth::from_env()?.into_cache()?;
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
pub mod podero;
pub mod retry;

pub use client::{
    ApiResponse, AuthenticatedClient, AuthenticatedClientBuilder, DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
};
pub use error::{ApiError, ErrorBody};
pub use podero::PoderoClient;

/// The README's examples, compiled (and the emulator one run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
