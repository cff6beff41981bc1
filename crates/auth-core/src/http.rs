//! HTTP plumbing shared by the token exchange and the SDK: the default client and bounded
//! body reads.

use std::time::Duration;

use crate::error::ConfigError;

/// The connect timeout of clients built here.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A `reqwest` client builder with this workspace's defaults: redirects never followed (a
/// token endpoint that redirects is misconfigured, and following it could carry credentials
/// elsewhere), a 10 s connect timeout, and a `User-Agent` naming this crate.
///
/// Build one client from it and share it between the token exchange and API calls; extend it
/// as you need (proxies, root certificates), but keep redirects off for token endpoints.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
        .user_agent(concat!("auth-core/", env!("CARGO_PKG_VERSION")))
}

/// A client from [`client_builder`].
///
/// # Errors
/// [`ConfigError::HttpClient`] if the TLS backend cannot be initialised.
pub fn default_client() -> Result<reqwest::Client, ConfigError> {
    client_builder()
        .build()
        .map_err(|e| ConfigError::HttpClient {
            reason: e.to_string(),
        })
}

/// Why a bounded body read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Reading failed (the connection broke, or the request's timeout expired).
    #[error("could not read the response body")]
    Read(#[source] reqwest::Error),
    /// The body is larger than the bound.
    #[error("the response body is larger than {limit} bytes")]
    TooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
}

/// Reads a response body, refusing to hold more than `limit` bytes.
///
/// # Errors
/// [`BodyError`].
pub async fn read_body_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
