//! The two seams: [`TokenSource`] (how a token is obtained) and [`TokenProvider`] (what
//! callers ask for a token).
//!
//! A source performs exactly one exchange per call and caches nothing; a provider decides
//! when to call its source. [`TokenCache`](crate::TokenCache) turns any source into a
//! provider.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::AuthError;
use crate::token::AccessToken;

/// Performs one exchange with a token endpoint and returns the token it issued.
///
/// Implementations may retry transient failures inside one call (the client-credentials
/// exchange does) but must not cache: caching, single flight and refresh timing belong to
/// the provider.
#[cfg_attr(feature = "test-util", mockall::automock)]
#[async_trait]
pub trait TokenSource: Send + Sync + 'static {
    /// Obtains a new token.
    async fn fetch_token(&self) -> Result<AccessToken, AuthError>;
}

#[async_trait]
impl<S: TokenSource + ?Sized> TokenSource for Arc<S> {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        (**self).fetch_token().await
    }
}

#[async_trait]
impl<S: TokenSource + ?Sized> TokenSource for Box<S> {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        (**self).fetch_token().await
    }
}

/// Hands out valid tokens and takes back rejected ones. This is what HTTP clients use.
#[cfg_attr(feature = "test-util", mockall::automock)]
#[async_trait]
pub trait TokenProvider: Send + Sync {
    /// A token valid for at least the provider's safety margin.
    async fn token(&self) -> Result<Arc<AccessToken>, AuthError>;

    /// Reports that a server rejected `rejected` (a 401). The provider drops its cached token
    /// only if it is still that token, so many concurrent reports of one rejection cause one
    /// new fetch, and a report about an already replaced token changes nothing.
    fn invalidate(&self, rejected: &AccessToken);
}

#[async_trait]
impl<P: TokenProvider + ?Sized> TokenProvider for Arc<P> {
    async fn token(&self) -> Result<Arc<AccessToken>, AuthError> {
        (**self).token().await
    }

    fn invalidate(&self, rejected: &AccessToken) {
        (**self).invalidate(rejected);
    }
}
