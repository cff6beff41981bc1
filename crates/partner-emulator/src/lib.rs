//! An emulator of the Podero and Cybrilla POA partner APIs on loopback, for tests, benchmarks,
//! demos and your own integration tests.
//!
//! It serves what the vendors document, with their request rules and error shapes:
//! - Podero's token endpoint `POST /oauth2/token/` as Django OAuth Toolkit answers: HTTP Basic
//!   (decoded as RFC 6749 section 2.3.1 says) or body client authentication, a JSON body or,
//!   with [`PoderoTokenBackend::Form`], a form body, 30-character opaque tokens valid for
//!   36000 s;
//! - Podero's users API under `/api/partners/v2.0/org/{org_id}/users` (list, create, get,
//!   partial update with `PUT`, delete), with bearer checks answered as Django REST Framework
//!   or Django OAuth Toolkit's own views do ([`PoderoBearerRejection`]), and DRF error shapes;
//! - POA's Keycloak token endpoint `POST /v2/auth/cybrillarta/token` (and the documents'
//!   sample path `/poa/auth/token`) with Keycloak's check order and strings: form body only,
//!   Basic or form client credentials, JWT-shaped tokens valid for 1800 s;
//! - `GET /__emulator/poa/whoami`, an emulator-only API call that needs a POA token.
//!
//! Tests turn knobs from Rust or over HTTP under `/__emulator/`: token lifetimes, a clock that
//! only moves when told ([`Emulator::advance_time`]), revocation (also of a client's earlier
//! tokens whenever it gets a new one), extra clients ([`Client`]), fault injection
//! ([`Fault`]: statuses with `Retry-After`, delays, broken connections, damaged, oversized or
//! hostile answers written byte by byte on the socket, echoed secrets, pagination traps), the
//! list format, request counters, open connections and a bounded request log.
//! `docs/testing.md` in the repository lists every knob, its default, the check order of each
//! endpoint and what is deliberately not emulated.
//!
//! The emulator depends on no other crate of its workspace: it is an independent check of
//! them. It never panics on what a client sends, and keeps up with thousands of requests per
//! second on two cores.
//!
//! # Example
//!
//! ```
//! use partner_emulator::{Emulator, Endpoint};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = Emulator::builder().start().await?;
//! let credentials = emulator.podero_credentials();
//!
//! // Generated credentials are alphanumeric, so plain Basic encoding is RFC 6749-correct.
//! let response = reqwest::Client::new()
//!     .post(format!("{}/oauth2/token/", emulator.base_url()))
//!     .basic_auth(&credentials.client_id, Some(&credentials.client_secret))
//!     .header("content-type", "application/json")
//!     .body(r#"{"grant_type":"client_credentials"}"#)
//!     .send()
//!     .await?;
//! assert_eq!(response.status(), 200);
//! let token: serde_json::Value = serde_json::from_slice(&response.bytes().await?)?;
//! assert_eq!(token["expires_in"], 36000);
//! assert_eq!(token["scope"], "read write");
//! assert_eq!(emulator.request_count(Endpoint::PoderoToken), 1);
//!
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod bearer;
mod control;
mod emulator;
mod faults;
mod fuzz;
mod gzip;
mod http;
mod oauth;
mod poa;
mod podero;
mod server;
mod state;
mod tamper;
mod tokens;
mod types;
mod user_store;
mod users;
mod wire;

pub use crate::emulator::{Emulator, EmulatorBuilder, EmulatorError};
pub use crate::faults::{EchoFormat, Fault, PaginationTrap};
#[doc(hidden)]
pub use crate::fuzz::{ParsedTokenRequest, parse_token_request};
pub use crate::types::{
    Client, Counters, Credentials, Endpoint, ListFormat, LoggedRequest, PoderoBearerRejection,
    PoderoTokenBackend, Vendor,
};

/// `docs/testing.md`'s examples, compiled as doctests so the guide stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/testing.md")]
pub struct TestingGuideDoctests;
