//! Errors, by phase: [`ConfigError`] for everything a builder or a `from_env` can refuse (fix
//! the configuration and restart), [`AuthError`] for everything that can go wrong while
//! obtaining a token.
//!
//! Errors keep what the server said (status, RFC 6749 error code and description) and never a
//! secret: descriptions and body excerpts pass through the [`Redactor`](crate::Redactor)
//! first. Errors are `Clone` because the cache hands the same error to every waiter of a
//! failed fetch. Struct variants are `#[non_exhaustive]`: match them with `..`, and build them
//! (in tests, or in a source of your own) through the constructor functions.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;

use crate::redact::Excerpt;
use crate::token::InvalidTokenValue;

/// Everything that can go wrong while obtaining a token.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token endpoint rejected the client credentials: HTTP 401, or an `invalid_client` /
    /// `unauthorized_client` error. Retrying with the same credentials cannot help.
    #[error("the token endpoint rejected the client credentials (HTTP {status}){}", describe(.error))]
    #[non_exhaustive]
    RejectedCredentials {
        /// The HTTP status.
        status: StatusCode,
        /// The RFC 6749 error response, if the body was one.
        error: Option<OAuthErrorResponse>,
    },

    /// The token endpoint answered with any other RFC 6749 section 5.2 error response.
    #[error("the token endpoint returned an OAuth error (HTTP {status}): {error}")]
    #[non_exhaustive]
    OAuth {
        /// The HTTP status.
        status: StatusCode,
        /// The error response.
        error: OAuthErrorResponse,
        /// The `Retry-After` the server sent, if any.
        retry_after: Option<Duration>,
    },

    /// The token endpoint answered with a status that is neither success nor an OAuth error
    /// (an HTML 502 page, a redirect, which is never followed, ...).
    #[error("the token endpoint answered HTTP {status}{}", describe_excerpt(.excerpt))]
    #[non_exhaustive]
    UnexpectedStatus {
        /// The HTTP status.
        status: StatusCode,
        /// The start of the body, with anything secret-looking redacted.
        excerpt: Option<Excerpt>,
        /// The `Retry-After` the server sent, if any.
        retry_after: Option<Duration>,
    },

    /// The request did not complete: DNS, connect, TLS, or the connection broke.
    #[error("could not {} the token endpoint", .kind)]
    #[non_exhaustive]
    Transport {
        /// What failed.
        kind: TransportKind,
        /// The underlying error.
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// No complete answer within the timeout.
    #[error("the token request timed out after {after:?}")]
    #[non_exhaustive]
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },

    /// A success status with a body that is not a usable token response.
    #[error("malformed token response (HTTP {status}): {reason}{}", describe_excerpt(.excerpt))]
    #[non_exhaustive]
    MalformedResponse {
        /// The HTTP status.
        status: StatusCode,
        /// What is wrong with it.
        reason: String,
        /// The start of the body, with anything secret-looking redacted.
        excerpt: Option<Excerpt>,
    },

    /// The source returned a token that had already expired when it arrived: the token
    /// server's clock, or the source, is wrong. The cache never serves such a token.
    #[error(
        "the token source returned a token that had expired {expired_for:?} before it arrived (the token server's clock, or the source, is wrong)"
    )]
    #[non_exhaustive]
    ExpiredOnArrival {
        /// How long before its arrival the token expired (zero: at that instant).
        expired_for: Duration,
    },

    /// A token source of your own failed; see [`AuthError::source_error`].
    #[error("the token source failed: {0}")]
    Source(SourceError),

    /// The configuration cannot work; fix it and restart.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The fetch ended without a result: the source panicked, or every runtime the cache
    /// started it on stopped, or never ran it.
    #[error(
        "the token fetch ended without a result: the source panicked, or the runtime it ran on stopped or never ran it"
    )]
    FetchAborted,
}

impl AuthError {
    /// Whether trying again later can succeed: transport failures, timeouts, 408, 429 and 5xx
    /// answers (OAuth-shaped or not), and sources of your own that said so. Rejected
    /// credentials, other OAuth errors, malformed responses, expired-on-arrival tokens and
    /// configuration errors are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Timeout { .. } | Self::FetchAborted => true,
            Self::UnexpectedStatus { status, .. } => is_transient_status(*status),
            Self::OAuth { status, error, .. } => {
                is_transient_status(*status)
                    || matches!(
                        error.error,
                        OAuthErrorCode::ServerError | OAuthErrorCode::TemporarilyUnavailable
                    )
            }
            Self::Source(error) => error.retryable,
            Self::RejectedCredentials { .. }
            | Self::MalformedResponse { .. }
            | Self::ExpiredOnArrival { .. }
            | Self::Config(_) => false,
        }
    }

    /// Whether the token endpoint rejected the client credentials.
    pub fn is_rejected_credentials(&self) -> bool {
        matches!(self, Self::RejectedCredentials { .. })
    }

    /// The HTTP status the token endpoint answered, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::RejectedCredentials { status, .. }
            | Self::OAuth { status, .. }
            | Self::UnexpectedStatus { status, .. }
            | Self::MalformedResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The OAuth error response, if the token endpoint sent one.
    pub fn oauth_error(&self) -> Option<&OAuthErrorResponse> {
        match self {
            Self::RejectedCredentials { error, .. } => error.as_ref(),
            Self::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }

    /// How long the token endpoint asked to be left alone (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::OAuth { retry_after, .. } | Self::UnexpectedStatus { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The credentials were rejected with `status` (and the OAuth error, if the body was one).
    pub fn rejected_credentials(status: StatusCode, error: Option<OAuthErrorResponse>) -> Self {
        Self::RejectedCredentials { status, error }
    }

    /// An OAuth error response at `status`.
    pub fn oauth(status: StatusCode, error: OAuthErrorResponse) -> Self {
        Self::OAuth {
            status,
            error,
            retry_after: None,
        }
    }

    /// An answer with an unexpected `status` and no excerpt.
    pub fn unexpected_status(status: StatusCode) -> Self {
        Self::UnexpectedStatus {
            status,
            excerpt: None,
            retry_after: None,
        }
    }

    /// A timeout after `after`.
    pub fn timeout(after: Duration) -> Self {
        Self::Timeout { after }
    }

    /// A success answer at `status` whose body is unusable, for `reason`.
    pub fn malformed(status: StatusCode, reason: impl Into<String>) -> Self {
        Self::MalformedResponse {
            status,
            reason: reason.into(),
            excerpt: None,
        }
    }

    /// The failure of a token source of your own; mark it retryable with
    /// [`SourceError::retryable`] when trying again later can succeed.
    pub fn source_error(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Source(SourceError::new(error))
    }

    /// This error with the server's `Retry-After` attached (a no-op for variants that carry
    /// none: [`AuthError::OAuth`] and [`AuthError::UnexpectedStatus`] carry one).
    #[must_use]
    pub fn with_retry_after(mut self, asked: Option<Duration>) -> Self {
        if let Self::OAuth { retry_after, .. } | Self::UnexpectedStatus { retry_after, .. } =
            &mut self
        {
            *retry_after = asked;
        }
        self
    }
}

impl From<InvalidTokenValue> for AuthError {
    fn from(error: InvalidTokenValue) -> Self {
        Self::source_error(error)
    }
}

/// The failure of a token source of your own, kept opaque: its message and whether it is worth
/// retrying.
#[derive(Clone, Debug)]
pub struct SourceError {
    inner: Arc<dyn std::error::Error + Send + Sync>,
    retryable: bool,
}

impl SourceError {
    /// A non-retryable failure.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            inner: Arc::new(error),
            retryable: false,
        }
    }

    /// Marks the failure retryable (or not).
    #[must_use]
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Whether trying again later can succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.inner)
    }
}

impl From<SourceError> for AuthError {
    fn from(error: SourceError) -> Self {
        Self::Source(error)
    }
}

/// Statuses worth retrying at a token endpoint: 408, 429 and every 5xx. (The SDK's API calls
/// retry a narrower set, because an API call may not be idempotent: see `partner_sdk::retry`.)
pub fn is_transient_status(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// Which part of a request failed at the transport level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// Resolving, connecting or the TLS handshake: the request never reached the server.
    Connect,
    /// Sending the request.
    Send,
    /// Receiving the response: the head was malformed or too large, or the connection was
    /// closed, reset or aborted before a complete answer.
    Receive,
    /// Reading the response body.
    ReadBody,
}

impl TransportKind {
    /// Whether the server provably never saw the request.
    pub fn never_sent(self) -> bool {
        self == Self::Connect
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect to",
            Self::Send => "send the request to",
            Self::Receive => "receive a complete answer from",
            Self::ReadBody => "read the response of",
        })
    }
}

/// A configuration that cannot work: what builders, `from_env` and vendor conversions return.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable is not set.
    #[error("environment variable {name} is not set")]
    #[non_exhaustive]
    MissingEnv {
        /// The variable.
        name: &'static str,
    },
    /// An environment variable is set but empty (or only whitespace).
    #[error("environment variable {name} is empty")]
    #[non_exhaustive]
    EmptyEnv {
        /// The variable.
        name: &'static str,
    },
    /// An environment variable is set but not valid Unicode.
    #[error("environment variable {name} is not valid Unicode")]
    #[non_exhaustive]
    NonUnicodeEnv {
        /// The variable.
        name: &'static str,
    },
    /// A URL does not parse or is unusable.
    #[error("invalid {what}: {reason}")]
    #[non_exhaustive]
    InvalidUrl {
        /// Which URL (e.g. "token URL", or the variable it came from).
        what: &'static str,
        /// Why (never the URL's credentials).
        reason: String,
    },
    /// A plain `http://` URL for a host that is not loopback.
    #[error(
        "{what} must use https:// (plain http:// is allowed for loopback hosts only), got http://{host}"
    )]
    #[non_exhaustive]
    InsecureUrl {
        /// Which URL.
        what: &'static str,
        /// The host.
        host: String,
    },
    /// Any other invalid setting.
    #[error("invalid {field}: {reason}")]
    #[non_exhaustive]
    Invalid {
        /// The setting.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {reason}")]
    #[non_exhaustive]
    HttpClient {
        /// Why.
        reason: String,
    },
    /// The token cache was used outside a Tokio runtime: it runs each fetch in its own task.
    #[error("the token cache needs a Tokio runtime to run its fetch task")]
    NoRuntime,
    /// The Tokio runtime has a driver disabled that the token source needs (the HTTP exchange
    /// needs both: time for its timeouts, IO for its sockets).
    #[error(
        "the Tokio runtime was built without a driver the token source needs: build it with `{enable}()` (or `enable_all()`)"
    )]
    #[non_exhaustive]
    DisabledDriver {
        /// The runtime builder's method that enables it: `enable_time` or `enable_io`.
        enable: &'static str,
    },
}

impl ConfigError {
    /// An invalid setting `field`, for `reason`.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// An unusable URL (`what` names it, or the variable it came from), for `reason`.
    pub fn invalid_url(what: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidUrl {
            what,
            reason: reason.into(),
        }
    }

    /// The environment variable `name` is not set.
    pub fn missing_env(name: &'static str) -> Self {
        Self::MissingEnv { name }
    }

    /// Whether a required setting (an environment variable) is missing or empty.
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::MissingEnv { .. } | Self::EmptyEnv { .. })
    }
}

/// An error response of RFC 6749 section 5.2.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthErrorResponse {
    /// The `error` code.
    pub error: OAuthErrorCode,
    /// The `error_description`, redacted, escaped and shortened.
    pub error_description: Option<String>,
    /// The `error_uri`, escaped and shortened.
    pub error_uri: Option<String>,
}

impl OAuthErrorResponse {
    /// A response with only the `error` code.
    pub fn new(error: OAuthErrorCode) -> Self {
        Self {
            error,
            error_description: None,
            error_uri: None,
        }
    }

    /// Adds an `error_description` (it is escaped and shortened as a server's would be).
    #[must_use]
    pub fn with_description(mut self, description: &str) -> Self {
        self.error_description = Some(crate::redact::sanitize(description, 500));
        self
    }
}

impl fmt::Display for OAuthErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        if let Some(description) = &self.error_description {
            write!(f, ": {description}")?;
        }
        if let Some(uri) = &self.error_uri {
            write!(f, " (see {uri})")?;
        }
        Ok(())
    }
}

/// The `error` code of an RFC 6749 error response.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client`
    InvalidClient,
    /// `invalid_grant`
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// `server_error` (section 4.1.2.1; some token endpoints use it)
    ServerError,
    /// `temporarily_unavailable` (section 4.1.2.1; some token endpoints use it)
    TemporarilyUnavailable,
    /// Any other code, as sent (escaped and shortened). Only [`OAuthErrorCode::parse`] builds
    /// it, so it never holds one of the codes above.
    Other(OtherErrorCode),
}

/// An `error` code this crate does not name (see [`OAuthErrorCode::Other`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OtherErrorCode(String);

impl OtherErrorCode {
    /// The code as sent (escaped and shortened).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl OAuthErrorCode {
    /// Parses an `error` code.
    pub fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            other => Self::Other(OtherErrorCode(crate::redact::sanitize(other, 100))),
        }
    }

    /// The code as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::Other(other) => other.as_str(),
        }
    }

    /// Whether the code says the client credentials were rejected.
    pub fn is_rejected_credentials(&self) -> bool {
        matches!(self, Self::InvalidClient | Self::UnauthorizedClient)
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn describe(error: &Option<OAuthErrorResponse>) -> String {
    error.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
}

fn describe_excerpt(excerpt: &Option<Excerpt>) -> String {
    excerpt
        .as_ref()
        .map(|e| format!("; body starts: {e}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_classification() {
        let status = |s: u16| AuthError::unexpected_status(StatusCode::from_u16(s).unwrap());
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(status(408).is_retryable());
        assert!(!status(404).is_retryable());
        assert!(!status(302).is_retryable());
        let rejected = AuthError::rejected_credentials(StatusCode::UNAUTHORIZED, None);
        assert!(!rejected.is_retryable());
        assert!(rejected.is_rejected_credentials());
        let server_error = AuthError::oauth(
            StatusCode::BAD_REQUEST,
            OAuthErrorResponse::new(OAuthErrorCode::TemporarilyUnavailable),
        );
        assert!(server_error.is_retryable());
        assert!(
            !AuthError::ExpiredOnArrival {
                expired_for: Duration::ZERO
            }
            .is_retryable()
        );
        let custom = SourceError::new(InvalidTokenValue).retryable(true);
        assert!(AuthError::from(custom).is_retryable());
    }

    #[test]
    fn retry_after_travels_with_the_error() {
        let error = AuthError::unexpected_status(StatusCode::SERVICE_UNAVAILABLE)
            .with_retry_after(Some(Duration::from_secs(3)));
        assert_eq!(error.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(AuthError::timeout(Duration::ZERO).retry_after(), None);
    }

    #[test]
    fn unknown_codes_are_kept_escaped_and_known_ones_are_never_other() {
        assert_eq!(
            OAuthErrorCode::parse("invalid_client"),
            OAuthErrorCode::InvalidClient
        );
        let other = OAuthErrorCode::parse("slow_down\x1b[2J");
        assert_eq!(other.as_str(), "slow_down\\u{1b}[2J");
        assert!(matches!(other, OAuthErrorCode::Other(_)));
    }
}
