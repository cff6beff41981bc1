//! Token endpoints over real HTTP on loopback (wiremock), for tests of code that sends token
//! requests: a server answering one path, the request it received, header and Basic
//! credential helpers, and credentials that exercise RFC 6749 section 2.3.1's encoding.

// Helpers for tests: a failed expectation is a failed test.
#![allow(clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::error::AuthError;
use crate::token::AccessToken;

/// Credentials with every character RFC 6749 section 2.3.1's encoding has to handle: a space,
/// `:`, `+`, `/`, `=`, `%`, `&` and a non-ASCII letter.
pub const AWKWARD: &str = "a b:c+d/e=f%&é";

/// [`AWKWARD`] form-urlencoded (`application/x-www-form-urlencoded`), as it must appear in a
/// form body and, before base64, in a Basic header.
pub const AWKWARD_FORM_ENCODED: &str = "a+b%3Ac%2Bd%2Fe%3Df%25%26%C3%A9";

/// A loopback server whose `POST {token_path}` answers `response`; any other request gets
/// wiremock's 404.
pub async fn token_endpoint(token_path: &str, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(token_path))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

/// A loopback server whose `POST {token_path}` gives `responses` in turn: each but the last
/// answers one request, the last answers every later one.
pub async fn token_endpoint_in_turn(
    token_path: &str,
    responses: impl IntoIterator<Item = ResponseTemplate>,
) -> MockServer {
    let server = MockServer::start().await;
    let mut responses = responses.into_iter().peekable();
    while let Some(response) = responses.next() {
        let mock = Mock::given(method("POST"))
            .and(path(token_path))
            .respond_with(response);
        // Mocks are matched in the order they were mounted; an exhausted one no longer matches.
        let mock = if responses.peek().is_some() {
            mock.up_to_n_times(1)
        } else {
            mock
        };
        mock.mount(&server).await;
    }
    server
}

/// The requests `server` received, in order.
pub async fn requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("the mock server records requests (the default)")
}

/// The one request `server` received; panics if it received none or several.
pub async fn only_request(server: &MockServer) -> Request {
    let mut requests = requests(server).await;
    assert_eq!(requests.len(), 1, "expected exactly one request");
    requests.remove(0)
}

/// An exchange's outcome ([`describe_outcome`](super::describe_outcome)) and how many
/// requests `server` received, in one line: `token; 2 requests`.
pub async fn describe_exchange(
    result: &Result<AccessToken, AuthError>,
    server: &MockServer,
) -> String {
    let sent = requests(server).await.len();
    let plural = if sent == 1 { "" } else { "s" };
    format!(
        "{}; {sent} request{plural}",
        super::describe_outcome(result)
    )
}

/// The value of header `name` in `request`, if present; panics if it is not visible ASCII.
#[track_caller]
pub fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(|value| {
        value
            .to_str()
            .unwrap_or_else(|_| panic!("header {name} is not visible ASCII"))
    })
}

/// `Basic base64(user:password)` with `user` and `password` written as given (RFC 7617).
/// OAuth2 clients form-urlencode them first (RFC 6749 section 2.3.1): pass
/// [`AWKWARD_FORM_ENCODED`] for [`AWKWARD`].
pub fn basic_authorization(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// The user and password in a `Basic` authorization value, as written (not form-decoded);
/// `None` if it is not `Basic` followed by base64 of UTF-8 `user:password`.
pub fn decode_basic(value: &str) -> Option<(String, String)> {
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::{AWKWARD, AWKWARD_FORM_ENCODED, basic_authorization, decode_basic};

    #[test]
    fn basic_credentials_round_trip() {
        let value = basic_authorization("your_client_id", "your_client_secret");
        assert_eq!(value, "Basic eW91cl9jbGllbnRfaWQ6eW91cl9jbGllbnRfc2VjcmV0");
        assert_eq!(
            decode_basic(&value),
            Some(("your_client_id".into(), "your_client_secret".into()))
        );
        assert_eq!(decode_basic("Bearer abc"), None);
        assert_eq!(decode_basic("Basic !!!"), None);
    }

    #[test]
    fn the_awkward_credentials_encode_as_stated() {
        let encoded: String = form_urlencoded::byte_serialize(AWKWARD.as_bytes()).collect();
        assert_eq!(encoded, AWKWARD_FORM_ENCODED);
    }
}
