//! [`ApiError`]: everything that can go wrong with an API call.
//!
//! An error keeps what the server said (status, its error body, the request id, the
//! `WWW-Authenticate` description) and never a secret: text bodies pass through auth-core's
//! `Redactor`, a body that contains the bearer token that was sent (in any encoding) is
//! replaced by a redacted excerpt, and every server text is escaped and bounded before it is
//! shown. Struct variants are `#[non_exhaustive]`: match them with `..`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{AuthError, ConfigError, Excerpt, TransportKind};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Everything that can go wrong with an API call.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No token could be obtained; the request was not sent.
    #[error("could not obtain an access token: {0}")]
    Auth(#[source] AuthError),

    /// The API answered with a non-success status (after any retries, and after the one
    /// token refresh a 401 gets).
    #[error(transparent)]
    Status(StatusError),

    /// The request did not complete: DNS, connect, TLS, or the connection broke.
    #[error("{method} {path}: could not {kind} the server")]
    #[non_exhaustive]
    Transport {
        /// The request method.
        method: Method,
        /// The request path.
        path: String,
        /// What failed.
        kind: TransportKind,
        /// The underlying error.
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// No complete answer within the timeout.
    #[error("{method} {path}: no answer within {after:?}")]
    #[non_exhaustive]
    Timeout {
        /// The request method.
        method: Method,
        /// The request path.
        path: String,
        /// The timeout that expired.
        after: Duration,
    },

    /// A success answer whose body is not what the API documents (or a pagination link the
    /// client would not follow).
    #[error("{method} {path}: unexpected response body: {reason}")]
    #[non_exhaustive]
    Decode {
        /// The request method.
        method: Method,
        /// The request path.
        path: String,
        /// What is wrong with it.
        reason: String,
        /// The start of the body, redacted.
        excerpt: Option<Excerpt>,
    },

    /// The request body could not be serialised to JSON.
    #[error("{method} {path}: the request body cannot be serialised: {reason}")]
    #[non_exhaustive]
    Encode {
        /// The request method.
        method: Method,
        /// The request path.
        path: String,
        /// Why.
        reason: String,
    },

    /// The configuration cannot work.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl ApiError {
    /// A success answer to `method path` whose body is unusable, for `reason`.
    pub fn decode(
        method: &Method,
        path: &str,
        reason: impl Into<String>,
        excerpt: Option<Excerpt>,
    ) -> Self {
        Self::Decode {
            method: method.clone(),
            path: auth_core::redact::sanitize(path, 200),
            reason: auth_core::redact::sanitize(&reason.into(), 500),
            excerpt,
        }
    }

    /// The HTTP status the API answered, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status(error) => Some(error.status()),
            _ => None,
        }
    }

    /// The API's error answer, if it answered with one.
    pub fn status_error(&self) -> Option<&StatusError> {
        match self {
            Self::Status(error) => Some(error),
            _ => None,
        }
    }

    /// Whether the API answered 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// The token error, if no token could be obtained.
    pub fn auth_error(&self) -> Option<&AuthError> {
        match self {
            Self::Auth(error) => Some(error),
            _ => None,
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Config(config) => Self::Config(config),
            other => Self::Auth(other),
        }
    }
}

/// A non-success answer of the API: what the server said, kept small (boxed) so that
/// `Result<_, ApiError>` stays cheap to move.
#[derive(Clone, Debug)]
pub struct StatusError {
    inner: Box<StatusDetails>,
}

#[derive(Clone, Debug)]
struct StatusDetails {
    status: StatusCode,
    method: Method,
    path: String,
    body: ErrorBody,
    request_id: Option<String>,
    challenge: Option<String>,
}

impl StatusError {
    pub(crate) fn new(
        status: StatusCode,
        method: Method,
        path: String,
        body: ErrorBody,
        request_id: Option<String>,
        challenge: Option<String>,
    ) -> Self {
        Self {
            inner: Box::new(StatusDetails {
                status,
                method,
                path,
                body,
                request_id,
                challenge,
            }),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.inner.method
    }

    /// The request path (no query string).
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The error body.
    pub fn body(&self) -> &ErrorBody {
        &self.inner.body
    }

    /// The request id the server sent (`x-request-id` and similar), for support tickets.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// The `error_description` of the answer's `WWW-Authenticate` challenge, if any (escaped
    /// and shortened).
    pub fn challenge(&self) -> Option<&str> {
        self.inner.challenge.as_deref()
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        write!(
            f,
            "{} {} answered HTTP {}",
            inner.method,
            auth_core::redact::sanitize(&inner.path, 200),
            inner.status
        )?;
        if let Some(challenge) = &inner.challenge {
            write!(f, " ({challenge})")?;
        }
        if !matches!(inner.body, ErrorBody::Empty) {
            write!(f, ": {}", inner.body)?;
        }
        if let Some(id) = &inner.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for StatusError {}

/// An API error body.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ErrorBody {
    /// No body.
    Empty,
    /// A JSON body, as sent (for Podero: `{"detail": ...}` or `{"field": ["message"]}`).
    Json(Value),
    /// Anything else: the start of it, redacted.
    Text(Excerpt),
}

impl ErrorBody {
    /// The JSON body, if it was JSON.
    pub fn json(&self) -> Option<&Value> {
        match self {
            Self::Json(value) => Some(value),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => Ok(()),
            Self::Json(value) => f.write_str(&auth_core::redact::sanitize(&value.to_string(), 300)),
            Self::Text(excerpt) => write!(f, "{excerpt}"),
        }
    }
}
