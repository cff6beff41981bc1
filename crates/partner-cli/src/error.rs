//! Failures as the user sees them: a message, maybe a hint, and an exit code.
//!
//! Messages come from the libraries' `Display`, which never contains a secret or token.

use auth_core::{AuthError, ConfigError};
use partner_sdk::ApiError;

/// The exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    /// Usage or configuration error.
    Config = 2,
    /// The token endpoint rejected the credentials.
    Rejected = 3,
    /// The API (or token endpoint) answered with an error.
    ApiError = 4,
    /// Network or transient failure, after retries.
    Transient = 5,
}

#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: Code,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl CliError {
    pub(crate) fn new(code: Code, message: impl Into<String>, hint: Option<&str>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Transient, message, None)
    }

    pub(crate) fn usage(message: impl Into<String>, hint: &str) -> Self {
        Self::new(Code::Config, message, Some(hint))
    }
}

/// The error and its causes, joined: `could not connect to the token endpoint: ...`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl From<ConfigError> for CliError {
    fn from(error: ConfigError) -> Self {
        let hint = match &error {
            ConfigError::MissingEnv { .. } | ConfigError::EmptyEnv { .. } => {
                "set it in the environment (see `partner emulator` for a local setup)"
            }
            ConfigError::InsecureUrl { .. } => "use an https:// URL",
            _ => "check the configuration (docs/configuration.md)",
        };
        Self::new(Code::Config, error.to_string(), Some(hint))
    }
}

impl From<AuthError> for CliError {
    fn from(error: AuthError) -> Self {
        let message = chain(&error);
        match error {
            AuthError::Config(config) => config.into(),
            AuthError::RejectedCredentials { .. } => Self::new(
                Code::Rejected,
                message,
                Some("check the client id and secret"),
            ),
            error if error.is_retryable() => Self::new(
                Code::Transient,
                message,
                Some("the token endpoint is unreachable or failing; try again later"),
            ),
            _ => Self::new(Code::ApiError, message, None),
        }
    }
}

impl From<ApiError> for CliError {
    fn from(error: ApiError) -> Self {
        let message = chain(&error);
        match error {
            ApiError::Auth(auth) => auth.into(),
            ApiError::Config(config) => config.into(),
            ApiError::Transport { .. } | ApiError::Timeout { .. } => Self::new(
                Code::Transient,
                message,
                Some("the API is unreachable; check the base URL and your network"),
            ),
            ApiError::Status { status, .. }
                if status.is_server_error() || status.as_u16() == 429 =>
            {
                Self::new(
                    Code::Transient,
                    message,
                    Some("the API is failing; try again later"),
                )
            }
            ApiError::Status { status, .. } if status.as_u16() == 404 => Self::new(
                Code::ApiError,
                message,
                Some("check the organisation id and the user id"),
            ),
            _ => Self::new(Code::ApiError, message, None),
        }
    }
}
