//! Failures as the user sees them: a message, maybe a hint, and an exit code.
//!
//! Messages come from the libraries' `Display`, which never contains a secret or token and
//! escapes what servers sent; [`CliError::message`] is escaped and bounded once more before it
//! reaches the terminal. Hints follow the OAuth error code as each vendor's server uses it,
//! because the two servers disagree: django-oauth-toolkit (Podero) answers a client that may
//! not use this grant with 400 `unauthorized_client`, while Keycloak (POA) answers a wrong or
//! missing secret with 401 `unauthorized_client` and an unknown or disabled client with 401
//! `invalid_client`.

use auth_core::{AuthError, ConfigError, OAuthErrorCode};
use partner_sdk::ApiError;

use crate::cli::Vendor;

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

    /// A token error from `vendor`'s token endpoint, with the hint its server's codes call for.
    pub(crate) fn from_auth(error: AuthError, vendor: Vendor) -> Self {
        let message = chain(&error);
        if let AuthError::Config(config) = error {
            return config.into();
        }
        let oauth = error.oauth_error();
        let code = oauth.map(|e| &e.error);
        let description = oauth
            .and_then(|e| e.error_description.as_deref())
            .unwrap_or_default();
        let credentials = match vendor {
            Vendor::Podero => "check PODERO_CLIENT_ID and PODERO_CLIENT_SECRET",
            Vendor::Poa => "check POA_CLIENT_ID and POA_CLIENT_SECRET",
        };
        match (vendor, code) {
            // django-oauth-toolkit: the application exists and authenticated, but its
            // authorization grant type is not client credentials.
            (Vendor::Podero, Some(OAuthErrorCode::UnauthorizedClient)) => Self::new(
                Code::Rejected,
                message,
                Some(
                    "the application may not use the client-credentials grant: enable it for the application (its authorization grant type) at Podero",
                ),
            ),
            (Vendor::Podero, Some(OAuthErrorCode::UnsupportedGrantType)) => Self::new(
                Code::ApiError,
                message,
                Some(
                    "the token endpoint did not find the grant type in the request body: set PODERO_TOKEN_BODY=form (or json, or auto)",
                ),
            ),
            // Keycloak: service accounts off, or a public client.
            (Vendor::Poa, Some(OAuthErrorCode::UnauthorizedClient))
                if description.contains("service account") =>
            {
                Self::new(
                    Code::Rejected,
                    message,
                    Some(
                        "the client may not use the client-credentials grant: ask POA to enable service accounts for it",
                    ),
                )
            }
            _ if error.is_rejected_credentials() => {
                Self::new(Code::Rejected, message, Some(credentials))
            }
            _ if error.is_retryable() => Self::new(
                Code::Transient,
                message,
                Some("the token endpoint is unreachable or failing; try again later"),
            ),
            _ => Self::new(Code::ApiError, message, None),
        }
    }

    /// An API error of a `vendor` command.
    pub(crate) fn from_api(error: ApiError, vendor: Vendor) -> Self {
        let message = chain(&error);
        match error {
            ApiError::Auth(auth) => Self::from_auth(auth, vendor),
            ApiError::Config(config) => config.into(),
            ApiError::Transport { kind, .. } if kind.never_sent() => Self::new(
                Code::Transient,
                message,
                Some("the API is unreachable; check the base URL and your network"),
            ),
            ApiError::Transport { .. } | ApiError::Timeout { .. } => Self::new(
                Code::Transient,
                message,
                Some(
                    "the connection to the API broke or timed out after the request was sent; it may have been processed, so check before repeating a change",
                ),
            ),
            ApiError::Status(status)
                if status.status().is_server_error() || status.status().as_u16() == 429 =>
            {
                Self::new(
                    Code::Transient,
                    message,
                    Some("the API is failing; try again later"),
                )
            }
            ApiError::Status(status) if status.status().as_u16() == 404 => Self::new(
                Code::ApiError,
                message,
                Some("check the organisation id and the user id"),
            ),
            ApiError::Status(status) if matches!(status.status().as_u16(), 401 | 403) => Self::new(
                Code::ApiError,
                message,
                Some(
                    "the API refused a freshly obtained token too: check that the client may use this organisation",
                ),
            ),
            _ => Self::new(Code::ApiError, message, None),
        }
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

#[cfg(test)]
mod tests {
    use auth_core::OAuthErrorResponse;
    use partner_sdk::reqwest::StatusCode;

    use super::*;

    fn oauth(status: u16, code: &str, description: Option<&str>) -> AuthError {
        let mut error = OAuthErrorResponse::new(OAuthErrorCode::parse(code));
        if let Some(description) = description {
            error = error.with_description(description);
        }
        let status = StatusCode::from_u16(status).unwrap();
        if status == StatusCode::UNAUTHORIZED || error.error.is_rejected_credentials() {
            AuthError::rejected_credentials(status, Some(error))
        } else {
            AuthError::oauth(status, error)
        }
    }

    #[track_caller]
    fn check(error: AuthError, vendor: Vendor, code: Code, hint: &str) {
        let cli = CliError::from_auth(error, vendor);
        assert_eq!(cli.code, code, "{cli:?}");
        assert!(
            cli.hint.as_deref().unwrap_or_default().contains(hint),
            "{cli:?}"
        );
    }

    #[test]
    fn hints_follow_each_vendors_server() {
        // django-oauth-toolkit (Podero).
        check(
            oauth(401, "invalid_client", None),
            Vendor::Podero,
            Code::Rejected,
            "PODERO_CLIENT_SECRET",
        );
        check(
            oauth(400, "unauthorized_client", None),
            Vendor::Podero,
            Code::Rejected,
            "enable it",
        );
        check(
            oauth(400, "unsupported_grant_type", None),
            Vendor::Podero,
            Code::ApiError,
            "PODERO_TOKEN_BODY",
        );
        // Keycloak (POA).
        let invalid = Some("Invalid client or Invalid client credentials");
        check(
            oauth(401, "unauthorized_client", invalid),
            Vendor::Poa,
            Code::Rejected,
            "POA_CLIENT_SECRET",
        );
        check(
            oauth(401, "invalid_client", invalid),
            Vendor::Poa,
            Code::Rejected,
            "POA_CLIENT_ID",
        );
        check(
            oauth(
                401,
                "unauthorized_client",
                Some("Client not enabled to retrieve service account"),
            ),
            Vendor::Poa,
            Code::Rejected,
            "service accounts",
        );
        check(
            AuthError::unexpected_status(StatusCode::SERVICE_UNAVAILABLE),
            Vendor::Poa,
            Code::Transient,
            "try again later",
        );
    }
}
