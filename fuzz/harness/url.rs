//! Endpoint URLs: `auth_core::url::{parse_base_url, join}` and `TokenUrl::{parse, from_base}`.
//!
//! Input: `base URL` SEP `path` (both lossy UTF-8).
//!
//! Properties: no panic; an accepted base URL obeys the transport rule and has no query,
//! fragment or credentials; joining a path keeps the base's origin and path prefix and never
//! lands in a query or fragment; `TokenUrl::from_base` accepts what `parse_base_url` accepts
//! and builds the joined URL; accepted token URLs obey the transport rule; every error names
//! the URL and is printable.

use auth_core::TokenUrl;
use auth_core::url::{is_loopback_host, join, parse_base_url};
use reqwest::Url;

use super::{assert_printable, fields};

pub(crate) fn run(data: &[u8]) {
    let [base, path] = fields::<2>(data);
    let base = String::from_utf8_lossy(base);
    let path = String::from_utf8_lossy(path);

    match parse_base_url(&base, "FUZZ_BASE_URL") {
        Ok(url) => {
            check_transport(&url);
            assert!(url.query().is_none() && url.fragment().is_none(), "{url}");
            let joined = join(&url, &path);
            check_joined(&url, &joined, &path);
            let token = TokenUrl::from_base(&base, &path)
                .unwrap_or_else(|e| panic!("from_base refuses {base:?} + {path:?}: {e}"));
            assert_eq!(token.as_url(), &joined);
        }
        Err(error) => {
            let text = error.to_string();
            assert_printable("base URL error", &text);
            assert!(text.contains("FUZZ_BASE_URL"), "{text}");
            assert!(TokenUrl::from_base(&base, &path).is_err());
        }
    }
    match TokenUrl::parse(&base) {
        Ok(token) => {
            check_transport(token.as_url());
            assert!(token.as_url().fragment().is_none());
        }
        Err(error) => assert_printable("token URL error", &error.to_string()),
    }
}

#[track_caller]
fn check_transport(url: &Url) {
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{url}"
    );
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" => assert!(!host.is_empty(), "{url}"),
        "http" => assert!(is_loopback_host(host), "{url}"),
        other => panic!("scheme {other} accepted: {url}"),
    }
}

#[track_caller]
fn check_joined(base: &Url, joined: &Url, path: &str) {
    assert!(
        joined.query().is_none() && joined.fragment().is_none(),
        "{base} + {path:?} gave {joined}"
    );
    assert_eq!(
        joined.origin(),
        base.origin(),
        "{base} + {path:?} gave {joined}"
    );
    let prefix = base.path().trim_end_matches('/');
    assert!(
        joined.path().starts_with(prefix),
        "{base} + {path:?} gave {joined}: the base's path prefix is lost"
    );
}
