//! Endpoint URLs and the transport-security rule: HTTPS, except for loopback hosts.
//!
//! Tests and the emulator run on `http://127.0.0.1`; nothing else may receive credentials or
//! tokens in clear text. The rule lives here once and every crate that accepts a URL applies
//! it through [`check_transport_security`] or [`TokenUrl`].

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

use crate::error::ConfigError;

/// The URL of a token endpoint: absolute, `https://` (or `http://` for a loopback host),
/// without embedded credentials or fragment.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenUrl(Url);

impl TokenUrl {
    /// Parses and validates a token URL.
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] or [`ConfigError::InsecureUrl`].
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        Self::from_url(parse_url(url, "token URL")?)
    }

    /// Joins a base URL (e.g. `https://app.podero.com`) and a path (e.g. `/oauth2/token/`);
    /// a path prefix on the base is kept (`https://host/prefix` + `/token` gives
    /// `https://host/prefix/token`).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn from_base(base: &str, path: &str) -> Result<Self, ConfigError> {
        let joined = format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        Self::parse(&joined)
    }

    /// Validates an already parsed URL.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn from_url(url: Url) -> Result<Self, ConfigError> {
        check_transport_security(&url, "token URL")?;
        if url.fragment().is_some() {
            return Err(ConfigError::InvalidUrl {
                what: "token URL",
                reason: "a token URL must not have a #fragment".into(),
            });
        }
        Ok(Self(url))
    }

    /// The URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The host, for logs.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }
}

impl fmt::Debug for TokenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TokenUrl").field(&self.0.as_str()).finish()
    }
}

impl fmt::Display for TokenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Parses an absolute URL, naming `what` in the error.
///
/// # Errors
/// [`ConfigError::InvalidUrl`]; the message never repeats the URL, which may hold credentials.
pub fn parse_url(url: &str, what: &'static str) -> Result<Url, ConfigError> {
    Url::parse(url.trim()).map_err(|e| ConfigError::InvalidUrl {
        what,
        reason: e.to_string(),
    })
}

/// Checks the transport-security rule: `https://`, or `http://` for a loopback host
/// (`localhost`, `127.0.0.0/8`, `::1`); never credentials embedded in the URL.
///
/// # Errors
/// [`ConfigError::InsecureUrl`] or [`ConfigError::InvalidUrl`].
pub fn check_transport_security(url: &Url, what: &'static str) -> Result<(), ConfigError> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::InvalidUrl {
            what,
            reason: "credentials must not be embedded in the URL".into(),
        });
    }
    let host = url.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err(ConfigError::InvalidUrl {
            what,
            reason: "the URL has no host".into(),
        });
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        "http" => Err(ConfigError::InsecureUrl {
            what,
            host: host.to_owned(),
        }),
        other => Err(ConfigError::InvalidUrl {
            what,
            reason: format!("unsupported scheme {other}:// (use https://)"),
        }),
    }
}

/// Whether `host` names this machine: `localhost` (and `*.localhost`, RFC 6761), an address
/// in `127.0.0.0/8`, or `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_are_accepted() {
        for url in [
            "https://app.podero.com/oauth2/token/",
            "http://127.0.0.1:8080/oauth2/token/",
            "http://127.1.2.3/t",
            "http://localhost:9/t",
            "http://[::1]:9/t",
            "https://host/t?tenant=a",
        ] {
            assert!(TokenUrl::parse(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn plain_http_elsewhere_is_refused() {
        for url in [
            "http://app.podero.com/t",
            "http://10.0.0.1/t",
            "http://localhost.evil.com/t",
        ] {
            assert!(
                matches!(TokenUrl::parse(url), Err(ConfigError::InsecureUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn other_bad_urls_are_refused_without_echoing_credentials() {
        let err = TokenUrl::parse("https://user:hunter2@host/t").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert!(TokenUrl::parse("ftp://host/t").is_err());
        assert!(TokenUrl::parse("not a url").is_err());
        assert!(TokenUrl::parse("https://host/t#frag").is_err());
    }

    #[test]
    fn joins_base_and_path() {
        let url = TokenUrl::from_base("https://acme.podero.com/", "/oauth2/token/").unwrap();
        assert_eq!(url.to_string(), "https://acme.podero.com/oauth2/token/");
        let url = TokenUrl::from_base("https://h/prefix", "v2/token").unwrap();
        assert_eq!(url.to_string(), "https://h/prefix/v2/token");
    }
}
