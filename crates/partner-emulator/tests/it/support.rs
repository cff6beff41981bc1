//! Requests, answers and expectations shared by every test module.
//!
//! Tests are data: a table of rows, each an input and the [`Expect`]ed answer, run through one
//! check per boundary. A row remembers the line it was written on, so a failing row names its
//! own line, not the loop's.

use std::panic::Location;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use partner_emulator::Emulator;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// An id and secret that break every shortcut: a space, a `:` (the Basic separator), and
/// `+ / = % &` and a non-ASCII letter, which form-urlencoding must all escape.
pub(crate) const AWKWARD: &str = "a b:c+d/e=f%&é";

/// Podero's documented token request body.
pub(crate) const GRANT: &str = r#"{"grant_type":"client_credentials"}"#;

/// The media type of form bodies.
pub(crate) const FORM: &str = "application/x-www-form-urlencoded";

/// The documented POA token path, and the documents' sample path.
pub(crate) const POA_PATHS: [&str; 2] = ["/v2/auth/cybrillarta/token", "/poa/auth/token"];

/// A new client, so that tests do not share pooled connections unless they mean to.
/// The emulator speaks plain HTTP: loading no root certificates makes a client cost
/// microseconds instead of tens of milliseconds.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only(std::iter::empty())
        .build()
        .unwrap()
}

/// A Basic header as RFC 6749 section 2.3.1 says: form-urlencode id and secret, then
/// base64 `id:secret`.
pub(crate) fn basic(id: &str, secret: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
}

/// A Basic header that base64-encodes `id:secret` without RFC 6749's form-urlencoding, as
/// Podero's own sample does.
pub(crate) fn naive_basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// What came back: the status, the headers and the body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// The body as JSON, `Null` when empty.
    pub(crate) fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header as text, `None` when absent.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// Sends the request and reads the whole answer.
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap().to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// An expected answer: a status, and optionally the exact JSON body and header values
/// (`None` for a header that must be absent). Built where the row is written, so that a
/// failure names that line.
#[derive(Clone, Debug)]
pub(crate) struct Expect {
    pub(crate) status: u16,
    pub(crate) body: Option<Value>,
    pub(crate) headers: Vec<(&'static str, Option<String>)>,
    pub(crate) empty: bool,
    pub(crate) fields: Vec<(&'static str, Value)>,
    pub(crate) line: &'static Location<'static>,
}

/// An answer with `status` and exactly this JSON `body`.
#[track_caller]
pub(crate) fn expect(status: u16, body: Value) -> Expect {
    Expect {
        status,
        body: Some(body),
        headers: Vec::new(),
        empty: false,
        fields: Vec::new(),
        line: Location::caller(),
    }
}

/// An answer with `status`, whatever the body.
#[track_caller]
pub(crate) fn status(status: u16) -> Expect {
    Expect {
        status,
        body: None,
        headers: Vec::new(),
        empty: false,
        fields: Vec::new(),
        line: Location::caller(),
    }
}

impl Expect {
    /// Also expects header `name` to be `value`.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, Some(value.into())));
        self
    }

    /// Also expects header `name` to be absent.
    pub(crate) fn no_header(mut self, name: &'static str) -> Self {
        self.headers.push((name, None));
        self
    }

    /// Also expects the JSON body's top-level `field` to be `value`.
    pub(crate) fn field(mut self, field: &'static str, value: Value) -> Self {
        self.fields.push((field, value));
        self
    }

    /// Also expects the body to be empty.
    pub(crate) fn empty_body(mut self) -> Self {
        self.empty = true;
        self
    }

    /// Panics, naming the row's line and `context`, unless `got` is what this expects.
    pub(crate) fn check(&self, got: &Answer, context: &str) {
        let line = self.line;
        assert_eq!(
            got.status,
            self.status,
            "row at {line} ({context}): status; body {}",
            String::from_utf8_lossy(&got.body)
        );
        if self.empty {
            assert!(
                got.body.is_empty(),
                "row at {line} ({context}): body not empty"
            );
        }
        if let Some(body) = &self.body {
            assert_eq!(&got.json(), body, "row at {line} ({context}): body");
        }
        for (field, value) in &self.fields {
            assert_eq!(
                &got.json()[field],
                value,
                "row at {line} ({context}): field {field}"
            );
        }
        for (name, value) in &self.headers {
            assert_eq!(
                got.header(name),
                value.as_deref(),
                "row at {line} ({context}): header {name}"
            );
        }
    }
}

/// A Podero token request with the given `Authorization` header (none when empty),
/// `Content-Type` and body.
pub(crate) fn podero_token_request(
    emulator: &Emulator,
    authorization: &str,
    content_type: &str,
    body: &str,
) -> reqwest::RequestBuilder {
    podero_token_request_to(
        &format!("{}/oauth2/token/", emulator.base_url()),
        authorization,
        content_type,
        body,
    )
}

/// [`podero_token_request`] to another URL, e.g. with a query string.
pub(crate) fn podero_token_request_to(
    url: &str,
    authorization: &str,
    content_type: &str,
    body: &str,
) -> reqwest::RequestBuilder {
    let mut request = http()
        .post(url)
        .header("content-type", content_type)
        .body(body.to_owned());
    if !authorization.is_empty() {
        request = request.header("authorization", authorization);
    }
    request
}

/// A fresh Podero access token.
pub(crate) async fn podero_token(emulator: &Emulator) -> String {
    let credentials = emulator.podero_credentials();
    let answer = send(podero_token_request(
        emulator,
        &basic(&credentials.client_id, &credentials.client_secret),
        "application/json",
        GRANT,
    ))
    .await;
    let body = answer.json();
    assert_eq!(answer.status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// A POA token request to `path` with the given `Content-Type` (none when empty) and body.
pub(crate) fn poa_token_request(
    emulator: &Emulator,
    path: &str,
    content_type: &str,
    body: String,
) -> reqwest::RequestBuilder {
    let request = http()
        .post(format!("{}{path}", emulator.base_url()))
        .body(body);
    if content_type.is_empty() {
        request
    } else {
        request.header("content-type", content_type)
    }
}

/// A form body with the given parameters, in order.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// POA's documented token request body.
pub(crate) fn poa_form(id: &str, secret: &str) -> String {
    form(&[
        ("client_id", id),
        ("client_secret", secret),
        ("grant_type", "client_credentials"),
    ])
}

/// A fresh POA token response body.
pub(crate) async fn poa_token(emulator: &Emulator) -> Value {
    let credentials = emulator.poa_credentials();
    let answer = send(poa_token_request(
        emulator,
        POA_PATHS[0],
        FORM,
        poa_form(&credentials.client_id, &credentials.client_secret),
    ))
    .await;
    let body = answer.json();
    assert_eq!(answer.status, 200, "{body}");
    body
}

pub(crate) fn users_url(emulator: &Emulator) -> String {
    format!(
        "{}/api/partners/v2.0/org/{}/users",
        emulator.base_url(),
        emulator.org_id()
    )
}

/// One decoded part of a JWT: 0 the header, 1 the claims.
pub(crate) fn jwt_part(jwt: &str, part: usize) -> Value {
    let encoded = jwt.split('.').nth(part).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap()
}

/// `exp - iat` of a POA token response's JWT.
pub(crate) fn jwt_lifetime(body: &Value) -> i64 {
    let claims = jwt_part(body["access_token"].as_str().unwrap(), 1);
    claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap()
}

/// The keys and JSON types of an object, for comparing shapes.
pub(crate) fn shape(value: &Value) -> Vec<(String, &'static str)> {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let mut shape: Vec<_> = value
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), kind(v)))
        .collect();
    shape.sort();
    shape
}

/// The response body of one of the repository's vendor fixtures.
pub(crate) fn fixture(path: &str) -> Value {
    let path = format!("{}/../../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    fixture["response"]["body_json"].clone()
}

/// `RequestBuilder::json` needs reqwest's `json` feature; this is all the tests need of it.
pub(crate) trait JsonBody {
    fn json_body(self, body: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(body.to_string())
    }
}

/// The statuses the log holds for `endpoint`, oldest first.
pub(crate) fn logged_statuses(
    emulator: &Emulator,
    endpoint: partner_emulator::Endpoint,
) -> Vec<u16> {
    emulator
        .request_log()
        .iter()
        .filter(|entry| entry.endpoint == Some(endpoint))
        .map(|entry| entry.status)
        .collect()
}

/// Waits until `condition` holds, checking every few milliseconds, for at most `within`;
/// panics with `what` if it never does.
pub(crate) async fn wait_until(
    within: std::time::Duration,
    what: &str,
    condition: impl Fn() -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// A client that gives up after `timeout`, for faults that never finish.
pub(crate) fn impatient(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only(std::iter::empty())
        .timeout(timeout)
        .build()
        .unwrap()
}

/// The raw bytes of the documented Podero token request, with the emulator's credentials.
pub(crate) fn raw_token_request(emulator: &Emulator) -> Vec<u8> {
    let credentials = emulator.podero_credentials();
    format!(
        "POST /oauth2/token/ HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{GRANT}",
        emulator.addr(),
        basic(&credentials.client_id, &credentials.client_secret),
        GRANT.len()
    )
    .into_bytes()
}

/// What a plain TCP client saw: every byte received, and how the stream ended (`None`: the
/// server closed it; `Some(kind)`: an error; the deadline passing counts as `TimedOut`).
pub(crate) async fn raw_exchange(
    emulator: &Emulator,
    request: &[u8],
    within: std::time::Duration,
    keep_at_most: usize,
) -> (Vec<u8>, Option<std::io::ErrorKind>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(emulator.addr())
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 16 * 1024];
    let read_all = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) => return None,
                Ok(n) => {
                    received.extend_from_slice(&buffer[..n]);
                    if received.len() >= keep_at_most {
                        return Some(std::io::ErrorKind::FileTooLarge);
                    }
                }
                Err(error) => return Some(error.kind()),
            }
        }
    };
    let end = tokio::time::timeout(within, read_all)
        .await
        .unwrap_or(Some(std::io::ErrorKind::TimedOut));
    (received, end)
}
