//! [`BearerAuth`]: the bearer token and the one refresh on 401 as a `reqwest-middleware`
//! middleware (feature `middleware`), so a token cache plugs into an existing middleware stack
//! (retries, tracing, ...).
//!
//! The token goes only to the origins the middleware is built for: a request to any other
//! host passes through without an `Authorization` header.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use partner_sdk::middleware::BearerAuth;
//! use podero_auth::{PoderoAuth, SourceConfig as _};
//!
//! let tokens = PoderoAuth::from_env()?.into_cache()?;
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(BearerAuth::new(tokens, "https://app.podero.com")?)
//!     .build();
//! let response = client
//!     .get("https://app.podero.com/api/partners/v2.0/org/016b78a7-0c7c-4241-a277-015c3ad3cb90/users")
//!     .send()
//!     .await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```

use std::fmt;

use async_trait::async_trait;
use auth_core::url::{check_transport_security, parse_url};
use auth_core::{ConfigError, SharedTokenProvider};
use http::Extensions;
use reqwest::header::AUTHORIZATION;
use reqwest::{Request, Response, StatusCode, Url};
use reqwest_middleware::{Error, Middleware, Next, Result};

/// Adds `Authorization: Bearer …` from a token provider to requests for its allowed origins;
/// on a 401 it invalidates exactly the token it sent and sends the request once more with a
/// newer one.
///
/// The repeat happens only if the request can be cloned (a streaming body cannot) and the
/// provider hands out a newer token. Retries of transient failures are left to the rest of the
/// stack.
pub struct BearerAuth {
    tokens: SharedTokenProvider,
    /// URLs whose origins may receive the token.
    origins: Vec<Url>,
}

impl BearerAuth {
    /// A middleware over `tokens` (any token provider) for requests to the origin of
    /// `base_url` (scheme, host and port); add more with [`allow_origin`](Self::allow_origin).
    ///
    /// # Errors
    /// [`ConfigError`] for a URL that does not parse or is plain HTTP to a non-loopback host.
    pub fn new(
        tokens: impl Into<SharedTokenProvider>,
        base_url: &str,
    ) -> std::result::Result<Self, ConfigError> {
        Ok(Self {
            tokens: tokens.into(),
            origins: vec![origin_url(base_url)?],
        })
    }

    /// Also sends the token to the origin of `url`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn allow_origin(mut self, url: &str) -> std::result::Result<Self, ConfigError> {
        self.origins.push(origin_url(url)?);
        Ok(self)
    }

    fn allowed(&self, url: &Url) -> bool {
        let origin = url.origin();
        self.origins
            .iter()
            .any(|allowed| allowed.origin() == origin)
    }
}

fn origin_url(url: &str) -> std::result::Result<Url, ConfigError> {
    let url = parse_url(url, "BearerAuth origin")?;
    check_transport_security(&url, "BearerAuth origin")?;
    Ok(url)
}

impl fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origins: Vec<String> = self
            .origins
            .iter()
            .map(|url| url.origin().ascii_serialization())
            .collect();
        f.debug_struct("BearerAuth")
            .field("tokens", &self.tokens)
            .field("origins", &origins)
            .finish()
    }
}

#[async_trait]
impl Middleware for BearerAuth {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        if !self.allowed(request.url()) {
            // Not a host this token was issued for: never attach it.
            request.headers_mut().remove(AUTHORIZATION);
            return next.run(request, extensions).await;
        }
        let token = self.tokens.token().await.map_err(Error::middleware)?;
        let repeat = request.try_clone();
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.authorization().clone());
        let response = next.clone().run(request, extensions).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some(mut repeat) = repeat else {
            return Ok(response);
        };
        tracing::debug!("401 Unauthorized: refreshing the token once");
        self.tokens.invalidate(&token);
        let fresh = self.tokens.token().await.map_err(Error::middleware)?;
        if fresh.generation() <= token.generation() && fresh.same_token(&token) {
            // The provider handed back the rejected token: repeating would be refused too.
            return Ok(response);
        }
        repeat
            .headers_mut()
            .insert(AUTHORIZATION, fresh.authorization().clone());
        next.run(repeat, extensions).await
    }
}
