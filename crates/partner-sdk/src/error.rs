//! [`ApiError`]: everything that can go wrong with an API call.
//!
//! An error keeps what the server said (status, its error body, the request id) and never a
//! secret: text bodies pass through auth-core's `Redactor`, and a body that contains the
//! bearer token that was sent is replaced by a redacted excerpt.

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
    #[error("{method} {path} answered HTTP {status}{}{}", describe_body(.body), describe_request_id(.request_id))]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The request method.
        method: Method,
        /// The request path (no query string).
        path: String,
        /// The error body.
        body: ErrorBody,
        /// The request id the server sent (`x-request-id` and similar), for support tickets.
        request_id: Option<String>,
    },

    /// The request did not complete: DNS, connect, TLS, or the connection broke.
    #[error("{method} {path}: could not {kind} the server")]
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
    Timeout {
        /// The request method.
        method: Method,
        /// The request path.
        path: String,
        /// The timeout that expired.
        after: Duration,
    },

    /// A success answer whose body is not what the API documents.
    #[error("{method} {path}: unexpected response body: {reason}")]
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
    /// The HTTP status the API answered, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
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
            Self::Json(value) => {
                let text = value.to_string();
                match text.char_indices().nth(300) {
                    Some((cut, _)) => write!(f, "{}…", &text[..cut]),
                    None => f.write_str(&text),
                }
            }
            Self::Text(excerpt) => write!(f, "{excerpt}"),
        }
    }
}

fn describe_body(body: &ErrorBody) -> String {
    match body {
        ErrorBody::Empty => String::new(),
        body => format!(": {body}"),
    }
}

fn describe_request_id(request_id: &Option<String>) -> String {
    request_id
        .as_ref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}
