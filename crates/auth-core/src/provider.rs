//! The two seams: [`TokenSource`] (how a token is obtained) and [`TokenProvider`] (what
//! callers ask for a token), and [`SharedTokenProvider`], the one type-erased handle.
//!
//! A source performs exactly one exchange per call and caches nothing; a provider decides
//! when to call its source. [`TokenCache`](crate::TokenCache) turns any source into a
//! provider.
//!
//! Both traits are implemented with a plain `async fn` (they return `impl Future + Send`), so
//! users write no macro and the cache's calls allocate nothing. Type erasure happens once, in
//! [`SharedTokenProvider`], through a crate-private `async-trait` twin (`dynamic`).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};

use crate::cache::Schedule;
use crate::clock::SharedClock;
use crate::error::AuthError;
use crate::token::{AccessToken, Token};

/// Performs one exchange with a token endpoint and returns the token it issued.
///
/// Implementations may retry transient failures inside one call (the client-credentials
/// exchange does) but must not cache: caching, single flight and refresh timing belong to
/// the provider. Implement it with a plain `async fn`:
///
/// ```
/// use auth_core::{AccessToken, AuthError, TokenSource};
/// use chrono::{TimeDelta, Utc};
///
/// struct Fixed;
///
/// impl TokenSource for Fixed {
///     async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
///         # #[allow(clippy::disallowed_methods)]
///         let now = Utc::now();
///         let token = AccessToken::bearer("t0k3n", now)?; // an invalid value is an `AuthError`
///         Ok(token.with_expires_at(now + TimeDelta::hours(1)))
///     }
/// }
/// ```
pub trait TokenSource: Send + Sync + 'static {
    /// Obtains a new token.
    fn fetch_token(&self) -> impl Future<Output = Result<AccessToken, AuthError>> + Send;

    /// Obtains a new token for a cache, which says why it asks ([`FetchContext`]). The default
    /// ignores the context and calls [`fetch_token`](Self::fetch_token); decorators such as a
    /// shared store use it to judge whether a token they hold is fresh enough, and to drop a
    /// token a server rejected.
    fn fetch_token_with(
        &self,
        context: &FetchContext,
    ) -> impl Future<Output = Result<AccessToken, AuthError>> + Send {
        let _ = context;
        self.fetch_token()
    }
}

impl<S: TokenSource + ?Sized> TokenSource for Arc<S> {
    fn fetch_token(&self) -> impl Future<Output = Result<AccessToken, AuthError>> + Send {
        (**self).fetch_token()
    }

    fn fetch_token_with(
        &self,
        context: &FetchContext,
    ) -> impl Future<Output = Result<AccessToken, AuthError>> + Send {
        (**self).fetch_token_with(context)
    }
}

/// Why a cache asks its source for a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchReason {
    /// The cache holds no token (the first call, or after an invalidation whose token was
    /// already replaced).
    Empty,
    /// The cached token entered its refresh-ahead window: callers are served it meanwhile.
    RefreshAhead,
    /// The cached token is inside its safety margin or expired: callers wait.
    Expiring,
    /// A server rejected the cached token ([`FetchContext::rejected`]).
    Rejected,
}

/// What a cache tells its source about a fetch: why it asks, the token a server rejected (if
/// that is why), and how fresh a token must be for the cache to use it without refreshing it
/// at once.
#[derive(Clone, Debug)]
pub struct FetchContext {
    reason: FetchReason,
    rejected: Option<Token>,
    schedule: Schedule,
}

impl FetchContext {
    pub(crate) fn new(reason: FetchReason, rejected: Option<Token>, schedule: Schedule) -> Self {
        Self {
            reason,
            rejected,
            schedule,
        }
    }

    /// A context for a direct call outside any cache: reason [`FetchReason::Empty`], the
    /// default cache settings.
    pub fn standalone() -> Self {
        Self::new(FetchReason::Empty, None, Schedule::default())
    }

    /// Why the cache asks.
    pub fn reason(&self) -> FetchReason {
        self.reason
    }

    /// Whether no caller waits for this fetch (a refresh ahead of expiry).
    pub fn is_background(&self) -> bool {
        self.reason == FetchReason::RefreshAhead
    }

    /// The token a server rejected, when that is why the cache asks. A source that can hand
    /// out the same token again (a shared store) must not.
    pub fn rejected(&self) -> Option<&Token> {
        self.rejected.as_ref()
    }

    /// Whether the cache would serve `token` at `now` without starting a refresh at once:
    /// it has more life left than the cache's refresh lead for its lifetime (the earliest
    /// refresh point, jitter included). A source holding tokens obtained earlier (a shared
    /// store) hands out only such tokens, so that the cache does not ask again at once.
    pub fn is_fresh(&self, token: &AccessToken, now: DateTime<Utc>) -> bool {
        self.schedule.is_fresh(token, now)
    }

    /// When the cache will consider `token` expired: its own expiry, or the cache's default
    /// lifetime after it was obtained.
    pub fn expires_at(&self, token: &AccessToken) -> DateTime<Utc> {
        self.schedule.expires_at(token)
    }
}

/// Hands out valid tokens and takes back rejected ones. This is what HTTP clients use.
///
/// [`TokenCache`](crate::TokenCache) is the implementation almost everyone wants; implement
/// this trait (with a plain `async fn`) only for a provider of your own.
pub trait TokenProvider: Send + Sync + 'static {
    /// A token valid for at least the provider's safety margin.
    fn token(&self) -> impl Future<Output = Result<Token, AuthError>> + Send;

    /// Reports that a server rejected `rejected` (a 401). The provider drops its cached token
    /// only if it is still that token, so many concurrent reports of one rejection cause one
    /// new fetch, and a report about an already replaced token changes nothing.
    fn invalidate(&self, rejected: &Token);

    /// A token that can be served right now without waiting or starting any work, if there
    /// is one: the synchronous fast path a type-erased handle takes before it allocates a
    /// future. The default has none.
    fn fresh_token(&self) -> Option<Token> {
        None
    }

    /// The clock this provider decides expiry by; clients built over the provider use it for
    /// their own waits. The default is the system clock.
    fn clock(&self) -> SharedClock {
        SharedClock::system()
    }
}

impl<P: TokenProvider + ?Sized> TokenProvider for Arc<P> {
    fn token(&self) -> impl Future<Output = Result<Token, AuthError>> + Send {
        (**self).token()
    }

    fn invalidate(&self, rejected: &Token) {
        (**self).invalidate(rejected);
    }

    fn fresh_token(&self) -> Option<Token> {
        (**self).fresh_token()
    }

    fn clock(&self) -> SharedClock {
        (**self).clock()
    }
}

/// The dyn-compatible twin of [`TokenProvider`], with a blanket implementation: the one place
/// where a provider's future is boxed.
mod dynamic {
    use async_trait::async_trait;

    use crate::clock::SharedClock;
    use crate::error::AuthError;
    use crate::token::Token;

    #[async_trait]
    pub(super) trait DynTokenProvider: Send + Sync + 'static {
        async fn token(&self) -> Result<Token, AuthError>;
        fn invalidate(&self, rejected: &Token);
        fn fresh_token(&self) -> Option<Token>;
        fn clock(&self) -> SharedClock;
        fn type_name(&self) -> &'static str;
    }

    #[async_trait]
    impl<P: super::TokenProvider> DynTokenProvider for P {
        async fn token(&self) -> Result<Token, AuthError> {
            super::TokenProvider::token(self).await
        }

        fn invalidate(&self, rejected: &Token) {
            super::TokenProvider::invalidate(self, rejected);
        }

        fn fresh_token(&self) -> Option<Token> {
            super::TokenProvider::fresh_token(self)
        }

        fn clock(&self) -> SharedClock {
            super::TokenProvider::clock(self)
        }

        fn type_name(&self) -> &'static str {
            std::any::type_name::<P>()
        }
    }
}

/// Any [`TokenProvider`] behind one cheap-to-clone handle: what the SDK's clients hold, so a
/// field's type is `PoderoClient`, not `PoderoClient<TokenCache<...>>`.
///
/// A fresh token is served through [`TokenProvider::fresh_token`] without allocating; only a
/// call that has to wait boxes its future.
///
/// ```
/// # use auth_core::{AccessToken, AuthError, SharedTokenProvider, TokenCache, TokenSource};
/// # struct Fixed;
/// # impl TokenSource for Fixed {
/// #     async fn fetch_token(&self) -> Result<AccessToken, AuthError> { unimplemented!() }
/// # }
/// let tokens = SharedTokenProvider::from(TokenCache::new(Fixed));
/// let for_another_task = tokens.clone(); // the same cache
/// # let _ = for_another_task;
/// ```
#[derive(Clone)]
pub struct SharedTokenProvider {
    inner: Arc<dyn dynamic::DynTokenProvider>,
}

impl SharedTokenProvider {
    /// Erases `provider` (a `SharedTokenProvider` is not wrapped again: use `From`).
    pub fn new<P: TokenProvider>(provider: P) -> Self {
        Self {
            inner: Arc::new(provider),
        }
    }
}

impl<P: TokenProvider> From<P> for SharedTokenProvider {
    fn from(provider: P) -> Self {
        Self::new(provider)
    }
}

impl fmt::Debug for SharedTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedTokenProvider")
            .field(&self.inner.type_name())
            .finish()
    }
}

// Not through the blanket impl (which would box twice): the handle forwards to the erased
// provider, taking the fast path first.
impl SharedTokenProvider {
    /// A token valid for at least the provider's safety margin; see [`TokenProvider::token`].
    ///
    /// A fresh token is taken synchronously, before any future exists: the returned
    /// [`TokenFuture`] is then already complete, and only a call that has to wait boxes the
    /// provider's future.
    ///
    /// # Errors
    /// The provider's [`AuthError`].
    #[inline]
    pub fn token(&self) -> TokenFuture<'_> {
        match self.inner.fresh_token() {
            Some(token) => TokenFuture(Kind::Ready(Some(token))),
            None => TokenFuture(Kind::Waiting(self.inner.token())),
        }
    }

    /// See [`TokenProvider::invalidate`].
    pub fn invalidate(&self, rejected: &Token) {
        self.inner.invalidate(rejected);
    }

    /// See [`TokenProvider::fresh_token`].
    pub fn fresh_token(&self) -> Option<Token> {
        self.inner.fresh_token()
    }

    /// See [`TokenProvider::clock`].
    pub fn clock(&self) -> SharedClock {
        self.inner.clock()
    }
}

/// The future of [`SharedTokenProvider::token`]: complete at once when the token was fresh
/// (no allocation), else the provider's boxed future.
#[must_use = "futures do nothing unless awaited"]
pub struct TokenFuture<'a>(Kind<'a>);

enum Kind<'a> {
    Ready(Option<Token>),
    Waiting(Pin<Box<dyn Future<Output = Result<Token, AuthError>> + Send + 'a>>),
}

impl Future for TokenFuture<'_> {
    type Output = Result<Token, AuthError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            // Polled again after completion: the token was handed out already; a second
            // poll is a caller's bug, answered without panicking.
            Kind::Ready(token) => Poll::Ready(token.take().ok_or(AuthError::FetchAborted)),
            Kind::Waiting(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for TokenFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.0 {
            Kind::Ready(_) => "ready",
            Kind::Waiting(_) => "waiting",
        };
        f.debug_tuple("TokenFuture").field(&state).finish()
    }
}

#[cfg(feature = "test-util")]
pub use mocks::{MockTokenProvider, MockTokenSource};

#[cfg(feature = "test-util")]
mod mocks {
    use super::{AccessToken, AuthError, SharedClock, Token};

    mockall::mock! {
        /// A mockall mock of [`TokenSource`](super::TokenSource) (feature `test-util`). Only
        /// `fetch_token` is mocked; `fetch_token_with` keeps its default, which calls it.
        pub TokenSource {}

        impl super::TokenSource for TokenSource {
            async fn fetch_token(&self) -> Result<AccessToken, AuthError>;
        }
    }

    mockall::mock! {
        /// A mockall mock of [`TokenProvider`](super::TokenProvider) (feature `test-util`).
        pub TokenProvider {}

        impl super::TokenProvider for TokenProvider {
            async fn token(&self) -> Result<Token, AuthError>;
            fn invalidate(&self, rejected: &Token);
            fn fresh_token(&self) -> Option<Token>;
            fn clock(&self) -> SharedClock;
        }
    }
}
