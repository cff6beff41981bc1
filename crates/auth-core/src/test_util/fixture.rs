//! Replaying vendor fixtures: the checks both vendor crates' fixture tests make, written once.
//!
//! A fixture is a JSON file of a vendor's directory (`fixtures/<vendor>/` in this repository):
//!
//! - `request-*.json`: a `config` (`client_id`, `client_secret` and vendor options the vendor's
//!   test reads) and the `request` the adapter must build for it: `method`, `path`, the
//!   [`SIGNIFICANT_HEADERS`] (`null` or absent: the header must be absent) and `body`, either
//!   `{"json": value}` or `{"form": [[key, value], …]}` (pairs in order).
//! - `response-*.json`: a `response` (`status`, and the body as raw text in `body` or as JSON in
//!   `body_json`) and what parsing it must give in `expect`: `{"outcome": "token"}`, optionally
//!   with `expires_at`, or `{"outcome": "error", "kind": …}` with a kind of [`error_kind`].
//!
//! Both kinds carry a `description` (and a `source`: where in the vendor's documents the case
//! comes from). Credentials in fixtures are the vendors' documented placeholders only
//! ([`PLACEHOLDERS`]), configured and on the wire.
//!
//! A vendor's test reads each file with [`Fixture::read`], builds the request or parses the
//! response with the vendor's code, and records the mismatches in a [`Replay`], whose
//! [`finish`](Replay::finish) fails listing all of them.

// Helpers for tests: a malformed fixture or a mismatch is a failed test.
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use super::wire::decode_basic;
use crate::error::AuthError;
use crate::token::AccessToken;

/// The request headers a request fixture pins.
pub const SIGNIFICANT_HEADERS: [&str; 4] =
    ["authorization", "content-type", "accept", "cache-control"];

/// The credentials the vendors' documents use as placeholders: the only ones fixtures may hold.
pub const PLACEHOLDERS: [&str; 4] = [
    "your_client_id",
    "your_client_secret",
    "<client_id>",
    "<client_secret>",
];

/// The instant responses are parsed as if their request had been sent at:
/// 2025-01-01T00:00:00Z.
pub fn obtained_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default()
}

/// The name fixtures use for the kind of a token exchange error.
pub fn error_kind(error: &AuthError) -> &'static str {
    match error {
        AuthError::RejectedCredentials { .. } => "rejected_credentials",
        AuthError::OAuth { .. } => "oauth_error",
        AuthError::UnexpectedStatus { .. } => "unexpected_status",
        AuthError::MalformedResponse { .. } => "malformed_response",
        _ => "other",
    }
}

/// Which of the two kinds a fixture is, by its file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixtureKind {
    /// `request-*.json`: the request an adapter builds.
    Request,
    /// `response-*.json`: what parsing a response gives.
    Response,
}

/// One fixture file, read and parsed.
#[derive(Clone, Debug)]
pub struct Fixture {
    path: PathBuf,
    name: String,
    json: Value,
}

impl Fixture {
    /// Reads and parses the fixture at `path`; panics naming the file if it is unreadable, not
    /// JSON, or named neither `request-*.json` nor `response-*.json`.
    #[track_caller]
    pub fn read(path: &Path) -> Self {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default()
            .to_owned();
        let fixture = Self {
            path: path.to_owned(),
            name,
            json,
        };
        let _ = fixture.kind();
        fixture
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file name without `.json`, e.g. `response-documented`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kind, by the file name.
    #[track_caller]
    pub fn kind(&self) -> FixtureKind {
        if self.name.starts_with("request-") {
            FixtureKind::Request
        } else if self.name.starts_with("response-") {
            FixtureKind::Response
        } else {
            panic!(
                "{}: a fixture's name starts with `request-` or `response-`",
                self.path.display()
            )
        }
    }

    /// The fixture's `description`.
    pub fn description(&self) -> &str {
        self.json["description"].as_str().unwrap_or_default()
    }

    /// The string `config.{key}`, if present.
    pub fn config(&self, key: &str) -> Option<&str> {
        self.json["config"][key].as_str()
    }

    /// The configured `(client_id, client_secret)`; panics if either is missing.
    #[track_caller]
    pub fn credentials(&self) -> (&str, &str) {
        let get = |key| {
            self.config(key)
                .unwrap_or_else(|| panic!("{}: config.{key} must be a string", self.name))
        };
        (get("client_id"), get("client_secret"))
    }

    /// How `request` differs from the fixture's `request`: method, path, each of the
    /// [`SIGNIFICANT_HEADERS`], and the body decoded as JSON or as form pairs in order.
    pub fn request_mismatches(&self, request: &reqwest::Request) -> Vec<String> {
        let expected = &self.json["request"];
        let mut problems = Vec::new();
        let method = expected["method"].as_str().unwrap_or_default();
        if request.method().as_str() != method {
            problems.push(format!("method {} != {method}", request.method()));
        }
        let path = expected["path"].as_str().unwrap_or_default();
        if request.url().path() != path {
            problems.push(format!("path {} != {path}", request.url().path()));
        }
        for header in SIGNIFICANT_HEADERS {
            let actual = request
                .headers()
                .get(header)
                .map(|v| v.to_str().unwrap_or("<not text>"));
            let wanted = expected["headers"][header].as_str();
            if actual != wanted {
                problems.push(format!("header {header}: {actual:?} != {wanted:?}"));
            }
        }
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .unwrap_or_default();
        let expected_body = &expected["body"];
        if let Some(json) = expected_body.get("json") {
            match serde_json::from_slice::<Value>(body) {
                Ok(actual) if &actual == json => {}
                Ok(actual) => problems.push(format!("JSON body {actual} != {json}")),
                Err(e) => problems.push(format!("body is not JSON: {e}")),
            }
        } else if let Some(form) = expected_body.get("form") {
            let actual: Vec<Value> = form_urlencoded::parse(body)
                .map(|(k, v)| Value::from(vec![k.into_owned(), v.into_owned()]))
                .collect();
            if Value::from(actual.clone()) != *form {
                problems.push(format!("form body {actual:?} != {form}"));
            }
        } else {
            problems.push("request.body must hold `json` or `form`".to_owned());
        }
        problems
    }

    /// The fixture's response: its status and body bytes (`body` as text, or `body_json`
    /// serialised); panics if the fixture has neither or no valid status.
    #[track_caller]
    pub fn response(&self) -> (StatusCode, Vec<u8>) {
        let response = &self.json["response"];
        let status = response["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or_else(|| panic!("{}: response.status must be an HTTP status", self.name));
        let body = match (&response["body"], &response["body_json"]) {
            (Value::String(raw), _) => raw.clone().into_bytes(),
            (_, json) if !json.is_null() => json.to_string().into_bytes(),
            _ => panic!(
                "{}: the response needs `body` (raw text) or `body_json`",
                self.name
            ),
        };
        (status, body)
    }

    /// How `parsed` differs from the fixture's `expect`: the outcome (token or error), then
    /// the token's `expires_at` or the error's kind.
    pub fn outcome_mismatches(&self, parsed: &Result<AccessToken, AuthError>) -> Vec<String> {
        let expect = &self.json["expect"];
        let problem = match (expect["outcome"].as_str(), parsed) {
            (Some("token"), Ok(token)) => match expect["expires_at"].as_str() {
                None => None,
                Some(wanted) => match wanted.parse::<DateTime<Utc>>() {
                    Ok(wanted) if token.expires_at() == Some(wanted) => None,
                    Ok(wanted) => Some(format!("expires_at {:?} != {wanted}", token.expires_at())),
                    Err(e) => Some(format!("expect.expires_at {wanted:?}: {e}")),
                },
            },
            (Some("error"), Err(error)) => {
                let wanted = expect["kind"].as_str().unwrap_or_default();
                (error_kind(error) != wanted)
                    .then(|| format!("error kind {} != {wanted}: {error}", error_kind(error)))
            }
            (outcome, parsed) => Some(format!("expected {outcome:?}, parsed {parsed:?}")),
        };
        problem.into_iter().collect()
    }

    /// Credentials that are not [`PLACEHOLDERS`]: the configured ones, those in a Basic header
    /// and the `client_*` pairs of a form body.
    pub fn credential_mismatches(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |what: &str, value: &str| {
            if !PLACEHOLDERS.contains(&value) {
                problems.push(format!("{what} {value:?} is not a documented placeholder"));
            }
        };
        for key in ["client_id", "client_secret"] {
            if let Some(value) = self.config(key) {
                check(&format!("config.{key}"), value);
            }
        }
        let request = &self.json["request"];
        if let Some(value) = request["headers"]["authorization"].as_str() {
            match decode_basic(value) {
                Some((id, secret)) => {
                    check("Basic id", &id);
                    check("Basic secret", &secret);
                }
                None => check("authorization header", value),
            }
        }
        for pair in request["body"]["form"].as_array().into_iter().flatten() {
            let key = pair[0].as_str().unwrap_or_default();
            if key.starts_with("client_") {
                check(&format!("form {key}"), pair[1].as_str().unwrap_or_default());
            }
        }
        problems
    }
}

/// The replay of one vendor's fixture directory: [`record`](Self::record) each fixture's
/// mismatches, then [`finish`](Self::finish).
#[derive(Debug)]
pub struct Replay {
    vendor: String,
    dir: PathBuf,
    replayed: BTreeSet<PathBuf>,
    requests: usize,
    responses: usize,
    mismatches: Vec<String>,
}

impl Replay {
    /// A replay of the fixtures in `dir` (every `*.json` file there), reported as `vendor`'s.
    pub fn new(vendor: &str, dir: impl Into<PathBuf>) -> Self {
        Self {
            vendor: vendor.to_owned(),
            dir: dir.into(),
            replayed: BTreeSet::new(),
            requests: 0,
            responses: 0,
            mismatches: Vec::new(),
        }
    }

    /// Records that `fixture` was replayed with these `mismatches`; its credentials are
    /// checked here too ([`Fixture::credential_mismatches`]).
    pub fn record(&mut self, fixture: &Fixture, mismatches: Vec<String>) {
        match fixture.kind() {
            FixtureKind::Request => self.requests += 1,
            FixtureKind::Response => self.responses += 1,
        }
        self.replayed.insert(canonical(fixture.path()));
        for mismatch in mismatches
            .into_iter()
            .chain(fixture.credential_mismatches())
        {
            self.mismatches
                .push(format!("{}/{}: {mismatch}", self.vendor, fixture.name()));
        }
    }

    /// Fails listing every mismatch, or if some `*.json` file of the directory was not
    /// replayed (or none was); otherwise prints
    /// `fixture replay: <vendor>: <n> fixtures (<r> requests, <s> responses), all match`
    /// (the line `cargo xtask fixtures` counts) and returns `n`.
    #[track_caller]
    #[allow(clippy::print_stdout)] // The count is this test's report.
    pub fn finish(self) -> usize {
        let on_disk: BTreeSet<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.dir.display()))
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .map(|path| canonical(&path))
            .collect();
        let mut report = String::new();
        for missed in on_disk.difference(&self.replayed) {
            let _ = writeln!(report, "  not replayed: {}", missed.display());
        }
        for mismatch in &self.mismatches {
            let _ = writeln!(report, "  mismatch: {mismatch}");
        }
        let replayed = self.replayed.len();
        assert!(
            report.is_empty(),
            "{} fixtures of {} replayed; problems:\n{report}",
            replayed,
            self.dir.display()
        );
        assert!(replayed > 0, "no fixtures found in {}", self.dir.display());
        println!(
            "fixture replay: {}: {replayed} fixtures ({} requests, {} responses), all match",
            self.vendor, self.requests, self.responses
        );
        replayed
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}
