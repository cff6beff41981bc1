//! Errors: one [`AuthError`] for everything that can go wrong while obtaining a token.
//!
//! Errors keep what the server said (status, RFC 6749 error code and description) and never a
//! secret: descriptions and body excerpts pass through [`Redactor`] first. Errors are `Clone`
//! because the cache hands the same error to every waiter of a failed fetch.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;

/// Everything that can go wrong while obtaining a token.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token endpoint rejected the client credentials: HTTP 401, or an `invalid_client` /
    /// `unauthorized_client` error. Retrying with the same credentials cannot help.
    #[error("the token endpoint rejected the client credentials (HTTP {status}){}", describe(.error))]
    RejectedCredentials {
        /// The HTTP status.
        status: StatusCode,
        /// The RFC 6749 error response, if the body was one.
        error: Option<OAuthErrorResponse>,
    },

    /// The token endpoint answered with any other RFC 6749 section 5.2 error response.
    #[error("the token endpoint returned an OAuth error (HTTP {status}): {error}")]
    OAuth {
        /// The HTTP status.
        status: StatusCode,
        /// The error response.
        error: OAuthErrorResponse,
    },

    /// The token endpoint answered with a status that is neither success nor an OAuth error
    /// (an HTML 502 page, a redirect, which is never followed, ...).
    #[error("the token endpoint answered HTTP {status}{}", describe_excerpt(.excerpt))]
    UnexpectedStatus {
        /// The HTTP status.
        status: StatusCode,
        /// The start of the body, with anything secret-looking redacted.
        excerpt: Option<Excerpt>,
    },

    /// The request did not complete: DNS, connect, TLS, or the connection broke.
    #[error("could not {} the token endpoint", .kind)]
    Transport {
        /// What failed.
        kind: TransportKind,
        /// The underlying error.
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// No complete answer within the timeout.
    #[error("the token request timed out after {after:?}")]
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },

    /// A success status with a body that is not a usable token response.
    #[error("malformed token response (HTTP {status}): {reason}{}", describe_excerpt(.excerpt))]
    MalformedResponse {
        /// The HTTP status.
        status: StatusCode,
        /// What is wrong with it.
        reason: String,
        /// The start of the body, with anything secret-looking redacted.
        excerpt: Option<Excerpt>,
    },

    /// The configuration cannot work; fix it and restart.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The task fetching the token ended without a result (it panicked, or the runtime is
    /// shutting down).
    #[error("the token fetch ended without a result (the task panicked or the runtime shut down)")]
    FetchAborted,
}

impl AuthError {
    /// Whether trying again later can succeed: transport failures, timeouts, 408, 429 and 5xx
    /// answers (OAuth-shaped or not). Rejected credentials, other OAuth errors, malformed
    /// responses and configuration errors are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Timeout { .. } | Self::FetchAborted => true,
            Self::UnexpectedStatus { status, .. } => is_transient_status(*status),
            Self::OAuth { status, error } => {
                is_transient_status(*status)
                    || matches!(
                        error.error,
                        OAuthErrorCode::ServerError | OAuthErrorCode::TemporarilyUnavailable
                    )
            }
            Self::RejectedCredentials { .. } | Self::MalformedResponse { .. } | Self::Config(_) => {
                false
            }
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

    pub(crate) fn transport(error: reqwest::Error) -> Self {
        let kind = if error.is_connect() {
            TransportKind::Connect
        } else if error.is_body() || error.is_decode() {
            TransportKind::ReadBody
        } else {
            TransportKind::Send
        };
        Self::Transport {
            kind,
            source: Arc::new(error.without_url()),
        }
    }
}

/// Statuses worth retrying: 408, 429 and every 5xx.
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
    /// Sending the request or waiting for the response head.
    Send,
    /// Reading the response body.
    ReadBody,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect to",
            Self::Send => "send the request to",
            Self::ReadBody => "read the response of",
        })
    }
}

/// A configuration that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable is not set.
    #[error("environment variable {name} is not set")]
    MissingEnv {
        /// The variable.
        name: &'static str,
    },
    /// An environment variable is set but empty (or only whitespace).
    #[error("environment variable {name} is empty")]
    EmptyEnv {
        /// The variable.
        name: &'static str,
    },
    /// An environment variable is set but not valid Unicode.
    #[error("environment variable {name} is not valid Unicode")]
    NonUnicodeEnv {
        /// The variable.
        name: &'static str,
    },
    /// A URL does not parse or is unusable.
    #[error("invalid URL for {what}: {reason}")]
    InvalidUrl {
        /// Which URL (e.g. "token URL").
        what: &'static str,
        /// Why (never the URL's credentials).
        reason: String,
    },
    /// A plain `http://` URL for a host that is not loopback.
    #[error(
        "{what} must use https:// (plain http:// is allowed for loopback hosts only), got http://{host}"
    )]
    InsecureUrl {
        /// Which URL.
        what: &'static str,
        /// The host.
        host: String,
    },
    /// Any other invalid setting.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {reason}")]
    HttpClient {
        /// Why.
        reason: String,
    },
    /// The token cache was used outside a Tokio runtime: it runs each fetch in its own task.
    #[error("the token cache needs a Tokio runtime to run its fetch task")]
    NoRuntime,
}

/// An error response of RFC 6749 section 5.2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthErrorResponse {
    /// The `error` code.
    pub error: OAuthErrorCode,
    /// The `error_description`, redacted and shortened.
    pub error_description: Option<String>,
    /// The `error_uri`.
    pub error_uri: Option<String>,
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
    /// Any other code, as sent.
    Other(String),
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
            other => Self::Other(other.to_owned()),
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
            Self::Other(other) => other,
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

/// The start of a response body, safe to log: known secrets, values of credential-bearing
/// keys and every long token-like run of characters are replaced by `[redacted]`, then the
/// text is cut to [`Excerpt::MAX_CHARS`] characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Excerpt(String);

impl Excerpt {
    /// The longest excerpt, in characters.
    pub const MAX_CHARS: usize = 160;

    /// The excerpt text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Removes secrets from text taken from a response before it goes into an error.
///
/// Three passes, in this order, over the whole text before it is shortened (so a secret cut in
/// half by the shortening is already gone): every known secret (the client secret) is
/// replaced; the value after a credential-bearing key (`access_token`, `refresh_token`,
/// `id_token`, `client_secret`, `password`, `assertion`) is replaced; every run of 20 or more
/// characters from the token alphabet (`A-Z a-z 0-9 - . _ ~ + / =`) is replaced.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<Arc<str>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} known secrets)", self.secrets.len())
    }
}

const REDACTED: &str = "[redacted]";
const SENSITIVE_KEYS: [&str; 6] = [
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "assertion",
];
const LONG_RUN: usize = 20;

impl Redactor {
    /// A redactor that knows no specific secret (the generic passes still apply).
    pub fn new() -> Self {
        Self::default()
    }

    /// Also replaces every occurrence of `secret` (ignored if empty).
    #[must_use]
    pub fn with_secret(mut self, secret: &str) -> Self {
        if !secret.is_empty() {
            self.secrets.push(Arc::from(secret));
            // Bodies may carry the secret form-urlencoded (a form body echoed back).
            let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            if encoded != secret {
                self.secrets.push(Arc::from(encoded.as_str()));
            }
        }
        self
    }

    /// An excerpt of a raw body (lossy UTF-8), redacted and shortened; `None` if the body is
    /// empty or only whitespace.
    pub fn excerpt(&self, body: &[u8]) -> Option<Excerpt> {
        let text = String::from_utf8_lossy(body);
        let text = self.redact(&text);
        let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            return None;
        }
        Some(Excerpt(truncate_chars(&collapsed, Excerpt::MAX_CHARS)))
    }

    /// Redacts free text (such as an `error_description`) and shortens it to 500 characters.
    pub fn text(&self, text: &str) -> String {
        truncate_chars(&self.redact(text), 500)
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(&**secret) {
                text = text.replace(&**secret, REDACTED);
            }
        }
        redact_long_runs(&redact_sensitive_values(&text))
    }
}

/// Replaces the value following any sensitive key, in JSON (`"key": "value"`) or form
/// (`key=value`) syntax, up to the next quote, `&`, comma, brace or whitespace.
fn redact_sensitive_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for key in SENSITIVE_KEYS {
            if let Some(after_key) = rest.strip_prefix(key) {
                out.push_str(key);
                // Skip the key's closing quote, the separator and the value's opening quote.
                let trimmed = after_key.trim_start_matches(['"', ' ', '\t']);
                let Some(after_sep) = trimmed.strip_prefix([':', '=']) else {
                    rest = after_key;
                    continue 'outer;
                };
                let spaced = after_sep.trim_start_matches([' ', '\t']);
                let quoted = spaced.starts_with('"');
                let value_start = spaced.trim_start_matches('"');
                out.push_str(&after_key[..after_key.len() - value_start.len()]);
                // A quoted value runs to its closing quote, spaces included; a bare one (form
                // syntax, JSON numbers) to the next delimiter.
                let end = if quoted {
                    value_start.find('"')
                } else {
                    value_start.find(['&', ',', '}', ' ', '\n', '\r', '\t'])
                }
                .unwrap_or(value_start.len());
                if end > 0 {
                    out.push_str(REDACTED);
                }
                rest = &value_start[end..];
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '/' | '=')
}

fn redact_long_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= LONG_RUN {
            out.push_str(REDACTED);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
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
    fn excerpt_redacts_known_secrets_keys_and_long_runs() {
        let redactor = Redactor::new().with_secret("s3cr3t!");
        let body = br#"{"access_token":"abc","note":"s3cr3t! leaked","jwt":"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln"}"#;
        let excerpt = redactor.excerpt(body).unwrap();
        let text = excerpt.as_str();
        assert!(!text.contains("abc"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!text.contains("eyJ"), "{text}");
        assert_eq!(
            text,
            r#"{"access_token":"[redacted]","note":"[redacted] leaked","jwt":"[redacted]"}"#
        );
    }

    #[test]
    fn excerpt_redacts_form_syntax_and_encoded_secrets() {
        let redactor = Redactor::new().with_secret("a b&c");
        let text = redactor
            .excerpt(b"client_id=x&client_secret=a+b%26c&password=pw")
            .unwrap();
        assert_eq!(
            text.as_str(),
            "client_id=x&client_secret=[redacted]&password=[redacted]"
        );
    }

    #[test]
    fn excerpt_is_short_and_secret_free_even_when_cut() {
        let secret = "x".repeat(10);
        let mut body = "<html>".repeat(30);
        body.push_str(&secret);
        let redactor = Redactor::new().with_secret(&secret);
        let excerpt = redactor.excerpt(body.as_bytes()).unwrap();
        assert!(excerpt.as_str().chars().count() <= Excerpt::MAX_CHARS + 1);
        assert!(!excerpt.as_str().contains("xxxx"));
    }

    #[test]
    fn html_stays_readable() {
        let excerpt = Redactor::new()
            .excerpt(
                b"<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>",
            )
            .unwrap();
        assert_eq!(
            excerpt.as_str(),
            "<html> <head><title>502 Bad Gateway</title></head> <body>nginx</body></html>"
        );
    }

    #[test]
    fn empty_bodies_have_no_excerpt() {
        assert_eq!(Redactor::new().excerpt(b" \n "), None);
        assert_eq!(Redactor::new().excerpt(b""), None);
    }

    #[test]
    fn invalid_utf8_is_handled() {
        let excerpt = Redactor::new().excerpt(&[0xff, 0xfe, b'o', b'k']).unwrap();
        assert!(excerpt.as_str().ends_with("ok"));
    }

    #[test]
    fn retryable_classification() {
        let status = |s: u16| AuthError::UnexpectedStatus {
            status: StatusCode::from_u16(s).unwrap(),
            excerpt: None,
        };
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(status(408).is_retryable());
        assert!(!status(404).is_retryable());
        assert!(!status(302).is_retryable());
        let rejected = AuthError::RejectedCredentials {
            status: StatusCode::UNAUTHORIZED,
            error: None,
        };
        assert!(!rejected.is_retryable());
        assert!(rejected.is_rejected_credentials());
        let server_error = AuthError::OAuth {
            status: StatusCode::BAD_REQUEST,
            error: OAuthErrorResponse {
                error: OAuthErrorCode::TemporarilyUnavailable,
                error_description: None,
                error_uri: None,
            },
        };
        assert!(server_error.is_retryable());
    }
}
