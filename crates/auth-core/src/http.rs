//! HTTP plumbing shared by the token exchange and the SDK: the default client, bounded body
//! reads, `Retry-After`, and the one classification of a reqwest error into a
//! [`TransportKind`].
//!
//! [`client_builder`] and [`default_client`] are public API; the rest is shared between this
//! workspace's crates and hidden from the documentation (it may change in any release).

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

use crate::error::{ConfigError, TransportKind};

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
#[doc(hidden)]
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
#[doc(hidden)]
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
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (RFC 9110 section 10.2.3), relative to
/// `now`. Absurd values saturate rather than overflow.
#[doc(hidden)]
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default())
}

/// What part of a request a reqwest error says failed (timeouts are the caller's to check
/// first, with `is_timeout`).
#[doc(hidden)]
pub fn transport_kind(error: &reqwest::Error) -> TransportKind {
    if error.is_connect() {
        return TransportKind::Connect;
    }
    if error.is_body() || error.is_decode() {
        return TransportKind::ReadBody;
    }
    // A malformed or oversized response head, or a connection closed before a complete
    // answer, surfaces as a hyper error somewhere in the chain; a connection the server reset
    // or aborted once it was established (e.g. halfway through the response head) as an I/O
    // error: either way the answer is what could not be received.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>()
            && (hyper.is_parse() || hyper.is_incomplete_message())
        {
            return TransportKind::Receive;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            )
        {
            return TransportKind::Receive;
        }
        source = cause.source();
    }
    TransportKind::Send
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(
            "retry-after",
            HeaderValue::from_static("99999999999999999999999"),
        );
        assert_eq!(retry_after(&headers, now), None);
    }
}
