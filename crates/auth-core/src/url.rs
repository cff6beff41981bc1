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

    /// Joins a base URL (e.g. `https://app.podero.com`) and a path (e.g. `/oauth2/token/`)
    /// structurally, path segment by path segment: a path prefix on the base is kept
    /// (`https://host/prefix` + `/token` gives `https://host/prefix/token`), and the path can
    /// never land in a query or fragment. The base must have neither (see [`parse_base_url`]).
    ///
    /// # Errors
    /// As [`parse`](Self::parse), and [`ConfigError::InvalidUrl`] for a base with a query or
    /// fragment.
    pub fn from_base(base: &str, path: &str) -> Result<Self, ConfigError> {
        let base = parse_base_url(base, "base URL")?;
        Self::from_url(join(&base, path))
    }

    /// Validates an already parsed URL.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn from_url(url: Url) -> Result<Self, ConfigError> {
        check_transport_security(&url, "token URL")?;
        if url.fragment().is_some() {
            return Err(ConfigError::invalid_url(
                "token URL",
                "a token URL must not have a #fragment",
            ));
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

/// Parses a base URL (`https://host[:port][/prefix]`): absolute, the transport rule applied,
/// and neither a query nor a fragment, because endpoint paths are appended to it. `what` names
/// the URL in errors: pass the environment variable it came from, if it did.
///
/// # Errors
/// [`ConfigError::InvalidUrl`] or [`ConfigError::InsecureUrl`], naming `what`.
pub fn parse_base_url(url: &str, what: &'static str) -> Result<Url, ConfigError> {
    let url = parse_url(url, what)?;
    check_transport_security(&url, what)?;
    check_base(&url, what)?;
    Ok(url)
}

fn check_base(url: &Url, what: &'static str) -> Result<(), ConfigError> {
    if url.cannot_be_a_base() {
        return Err(ConfigError::invalid_url(what, "it cannot have a path"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::invalid_url(
            what,
            "a base URL must not have a ?query or #fragment (endpoint paths are appended to it): give only scheme, host, port and an optional path prefix",
        ));
    }
    Ok(())
}

/// Appends `path` to `base`'s path, segment by segment (each segment percent-encoded as
/// needed), keeping a trailing slash of `path`. The query and fragment of `base` are dropped.
/// Dot segments (`.`, `..`, also spelt `%2e` or with tabs and newlines, which URL parsing
/// ignores) are skipped: they would climb out of `base`'s path.
pub fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty();
        let path = path.strip_prefix('/').unwrap_or(path);
        if !path.is_empty() {
            segments.extend(path.split('/').filter(|s| !is_dot_segment(s)));
        }
    }
    url
}

/// Whether URL parsing reads `segment` as `.` or `..`. `PathSegmentsMut` skips exactly those
/// two spellings, but parses the others, and `..` then removes the segment before it (found
/// by the url fuzz target: `.\t.` took the last segment of a base's path prefix away).
fn is_dot_segment(segment: &str) -> bool {
    let plain: String = segment
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect::<String>()
        .to_ascii_lowercase()
        .replace("%2e", ".");
    plain == "." || plain == ".."
}

/// Parses an absolute URL, naming `what` in the error.
///
/// # Errors
/// [`ConfigError::InvalidUrl`]; the message never repeats the URL, which may hold credentials.
pub fn parse_url(url: &str, what: &'static str) -> Result<Url, ConfigError> {
    Url::parse(url.trim()).map_err(|e| ConfigError::invalid_url(what, e.to_string()))
}

/// Checks the transport-security rule: `https://`, or `http://` for a loopback host
/// (`localhost`, `127.0.0.0/8`, `::1`); never credentials embedded in the URL.
///
/// # Errors
/// [`ConfigError::InsecureUrl`] or [`ConfigError::InvalidUrl`].
pub fn check_transport_security(url: &Url, what: &'static str) -> Result<(), ConfigError> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::invalid_url(
            what,
            "credentials must not be embedded in the URL",
        ));
    }
    let host = url.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err(ConfigError::invalid_url(what, "the URL has no host"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        "http" => Err(ConfigError::InsecureUrl {
            what,
            host: host.to_owned(),
        }),
        other => Err(ConfigError::invalid_url(
            what,
            format!(
                "unsupported scheme {}:// (use https://)",
                crate::redact::sanitize(other, 20)
            ),
        )),
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

    fn base(url: &str) -> Url {
        Url::parse(url).unwrap()
    }

    #[test]
    fn joins_base_and_path_structurally() {
        let url = TokenUrl::from_base("https://acme.podero.com/", "/oauth2/token/").unwrap();
        assert_eq!(url.to_string(), "https://acme.podero.com/oauth2/token/");
        let url = TokenUrl::from_base("https://h/prefix", "v2/token").unwrap();
        assert_eq!(url.to_string(), "https://h/prefix/v2/token");
        let url = TokenUrl::from_base("https://h/prefix/", "/v2/token").unwrap();
        assert_eq!(url.to_string(), "https://h/prefix/v2/token");
        // A `?` or `#` in a path is a character of a segment, never a query.
        assert_eq!(
            join(&base("https://h/p"), "/a?b#c").as_str(),
            "https://h/p/a%3Fb%23c"
        );
    }

    #[test]
    fn a_path_never_climbs_out_of_the_base_prefix() {
        // Found by the url fuzz target: `.\t.` is `..` to the URL parser.
        for path in [
            "/../t",
            "/./t",
            "/.\t./t",
            "/%2e%2e/t",
            "/%2E./t",
            "/.%2e/t",
            "/%2e/t",
            "/..\n/t",
            "/a/../../t",
        ] {
            let joined = join(&base("https://h/prefix/v1"), path);
            assert!(
                joined.path().starts_with("/prefix/v1/") && joined.path().ends_with("/t"),
                "{path:?} gave {joined}"
            );
        }
        // Dots inside a name are ordinary characters.
        assert_eq!(
            join(&base("https://h/p"), "/.well-known/a..b").as_str(),
            "https://h/p/.well-known/a..b"
        );
    }

    #[test]
    fn a_base_with_a_query_or_fragment_is_refused_naming_the_variable() {
        for url in ["https://host/prefix?tenant=a", "https://host/#frag"] {
            let err = parse_base_url(url, "PODERO_BASE_URL").unwrap_err();
            assert!(
                err.to_string().starts_with("invalid PODERO_BASE_URL:"),
                "{err}"
            );
            assert!(TokenUrl::from_base(url, "/t").is_err());
        }
        assert!(parse_base_url("https://host/prefix", "X").is_ok());
        let err = parse_base_url("http://example.com", "POA_BASE_URL").unwrap_err();
        assert!(matches!(
            err,
            ConfigError::InsecureUrl {
                what: "POA_BASE_URL",
                ..
            }
        ));
    }
}
