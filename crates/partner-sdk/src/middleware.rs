//! [`BearerAuth`]: the bearer token and the one refresh on 401 as a `reqwest-middleware`
//! middleware (feature `middleware`), so a token cache plugs into an existing middleware stack
//! (retries, tracing, ...).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use partner_sdk::middleware::BearerAuth;
//!
//! let tokens = podero_auth::PoderoAuth::from_env()?.into_cache()?;
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(BearerAuth::new(tokens))
//!     .build();
//! let response = client
//!     .get("https://app.podero.com/api/partners/v2.0/org/016b78a7-0c7c-4241-a277-015c3ad3cb90/users")
//!     .send()
//!     .await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use auth_core::{Clock, SystemClock, TokenProvider};
use http::Extensions;
use reqwest::header::AUTHORIZATION;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Error, Middleware, Next, Result};

/// Adds `Authorization: Bearer …` from a [`TokenProvider`]; on a 401 it invalidates exactly the
/// token it sent and sends the request once more with a fresh one.
///
/// The repeat happens only if the request can be cloned (a streaming body cannot) and the
/// rejected token was not fetched for this very request. Retries of transient failures are
/// left to the rest of the stack.
pub struct BearerAuth<P> {
    tokens: P,
    clock: Arc<dyn Clock>,
}

impl<P: TokenProvider> BearerAuth<P> {
    /// A middleware over `tokens`.
    pub fn new(tokens: P) -> Self {
        Self {
            tokens,
            clock: Arc::new(SystemClock::new()),
        }
    }

    /// The clock telling whether a token was fetched during this request (default: a
    /// [`SystemClock`]); use the token source's clock.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

#[async_trait]
impl<P: TokenProvider + 'static> Middleware for BearerAuth<P> {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let started = self.clock.now();
        let token = self.tokens.token().await.map_err(Error::middleware)?;
        let repeat = request.try_clone();
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.authorization().clone());
        let response = next.clone().run(request, extensions).await?;
        if response.status() != StatusCode::UNAUTHORIZED || token.obtained_at() > started {
            return Ok(response);
        }
        let Some(mut repeat) = repeat else {
            return Ok(response);
        };
        tracing::debug!("401 Unauthorized: refreshing the token once");
        self.tokens.invalidate(&token);
        let fresh = self.tokens.token().await.map_err(Error::middleware)?;
        repeat
            .headers_mut()
            .insert(AUTHORIZATION, fresh.authorization().clone());
        next.run(repeat, extensions).await
    }
}
