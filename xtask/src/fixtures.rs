//! `cargo xtask fixtures`: replays `fixtures/<vendor>/` through the vendor adapters.
//!
//! - `request-*.json`: the adapter, configured as the fixture says, must build a request with
//!   the same method, path, significant headers (`authorization`, `content-type`, `accept`,
//!   `cache-control`; `null` means absent) and decoded body (JSON value, or form pairs in
//!   order).
//! - `response-*.json`: the vendor's parser must turn the response into the expected outcome
//!   (a token, or an error of the expected kind), and its `Debug` output must match the insta
//!   snapshot in `fixtures/snapshots/`.
//!
//! Every mismatch is listed before the check fails.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use auth_core::{AccessToken, AuthError, BodyEncoding, Redactor};
use chrono::{DateTime, Utc};
use poa_auth::PoaAuth;
use podero_auth::{Environment, PoderoAuth, SourceConfig as _};
use reqwest::StatusCode;
use serde_json::Value;

use crate::project_root;

/// The headers a request fixture pins.
const SIGNIFICANT_HEADERS: [&str; 4] = ["authorization", "content-type", "accept", "cache-control"];

/// Responses are parsed as if the request had been sent at this instant.
const OBTAINED_AT: &str = "2025-01-01T00:00:00Z";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vendor {
    Podero,
    Poa,
}

impl Vendor {
    pub(crate) const ALL: [Vendor; 2] = [Vendor::Podero, Vendor::Poa];

    pub(crate) fn dir(self) -> &'static str {
        match self {
            Vendor::Podero => "podero",
            Vendor::Poa => "poa",
        }
    }
}

pub(crate) fn fixtures_dir() -> PathBuf {
    project_root().join("fixtures")
}

/// The fixture files of one vendor whose names start with `prefix`, sorted.
pub(crate) fn files(vendor: Vendor, prefix: &str) -> Result<Vec<PathBuf>> {
    let dir = fixtures_dir().join(vendor.dir());
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension().is_some_and(|e| e == "json")
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    files.sort();
    Ok(files)
}

pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn name(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned()
}

pub(crate) fn run() -> Result<()> {
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for vendor in Vendor::ALL {
        for path in files(vendor, "request-")? {
            checked += 1;
            let label = format!("{}/{}", vendor.dir(), name(&path));
            if let Err(error) = check_request(vendor, &read_json(&path)?) {
                mismatches.push(format!("{label}: {error:#}"));
            }
        }
        for path in files(vendor, "response-")? {
            checked += 1;
            let label = format!("{}/{}", vendor.dir(), name(&path));
            if let Err(error) = check_response(vendor, &name(&path), &read_json(&path)?) {
                mismatches.push(format!("{label}: {error:#}"));
            }
        }
    }
    if checked == 0 {
        bail!("no fixtures found under {}", fixtures_dir().display());
    }
    if !mismatches.is_empty() {
        for mismatch in &mismatches {
            eprintln!("  mismatch: {mismatch}");
        }
        bail!("{} of {checked} fixtures do not match", mismatches.len());
    }
    println!("fixtures: {checked} checked, all match");
    Ok(())
}

fn config_str<'a>(config: &'a Value, key: &str) -> Result<&'a str> {
    config[key]
        .as_str()
        .with_context(|| format!("config.{key} must be a string"))
}

/// Builds the request the adapter sends for the fixture's configuration.
fn build_request(vendor: Vendor, config: &Value) -> Result<reqwest::Request> {
    let id = config_str(config, "client_id")?;
    let secret = config_str(config, "client_secret")?;
    Ok(match vendor {
        Vendor::Podero => {
            let body = match config["body"].as_str() {
                None | Some("json") => BodyEncoding::Json,
                Some("form") => BodyEncoding::Form,
                Some(other) => bail!("config.body {other:?} is neither json nor form"),
            };
            PoderoAuth::new(id, secret)
                .environment(Environment::Production)
                .body_encoding(body)
                .into_source()?
                .token_request()?
        }
        Vendor::Poa => {
            let mut auth = PoaAuth::new("https://poa.example.com", id, secret);
            if let Some(path) = config["token_path"].as_str() {
                auth = auth.token_path(path);
            }
            auth.into_source()?.exchange().token_request()?
        }
    })
}

fn check_request(vendor: Vendor, fixture: &Value) -> Result<()> {
    let request = build_request(vendor, &fixture["config"])?;
    let expected = &fixture["request"];
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
    if problems.is_empty() {
        Ok(())
    } else {
        bail!("{}", problems.join("; "))
    }
}

fn parse_response(vendor: Vendor, response: &Value) -> Result<Result<AccessToken, AuthError>> {
    let status = response["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .context("response.status must be an HTTP status")?;
    let body = match (&response["body"], &response["body_json"]) {
        (Value::String(raw), _) => raw.clone().into_bytes(),
        (_, json) if !json.is_null() => serde_json::to_vec(json)?,
        _ => bail!("response needs `body` (raw text) or `body_json`"),
    };
    let obtained_at: DateTime<Utc> = OBTAINED_AT.parse()?;
    let redactor = Redactor::new();
    Ok(match vendor {
        Vendor::Podero => {
            auth_core::response::parse_token_response(status, &body, obtained_at, &redactor)
        }
        Vendor::Poa => poa_auth::parse_token_response(status, &body, obtained_at, &redactor),
    })
}

fn error_kind(error: &AuthError) -> &'static str {
    match error {
        AuthError::RejectedCredentials { .. } => "rejected_credentials",
        AuthError::OAuth { .. } => "oauth_error",
        AuthError::UnexpectedStatus { .. } => "unexpected_status",
        AuthError::MalformedResponse { .. } => "malformed_response",
        _ => "other",
    }
}

fn check_response(vendor: Vendor, name: &str, fixture: &Value) -> Result<()> {
    let parsed = parse_response(vendor, &fixture["response"])?;
    let expect = &fixture["expect"];
    match (expect["outcome"].as_str(), &parsed) {
        (Some("token"), Ok(token)) => {
            if let Some(expires_at) = expect["expires_at"].as_str() {
                let wanted: DateTime<Utc> = expires_at.parse()?;
                if token.expires_at() != Some(wanted) {
                    bail!("expires_at {:?} != {wanted}", token.expires_at());
                }
            }
        }
        (Some("error"), Err(error)) => {
            let wanted = expect["kind"].as_str().unwrap_or_default();
            if error_kind(error) != wanted {
                bail!("error kind {} != {wanted}: {error}", error_kind(error));
            }
        }
        (outcome, parsed) => bail!("expected {outcome:?}, parsed {parsed:?}"),
    }
    let snapshot = format!("{parsed:#?}");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(fixtures_dir().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(
        fixture["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    let snapshot_name = format!("{}__{name}", vendor.dir());
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(snapshot_name.as_str(), snapshot));
    }));
    if outcome.is_err() {
        bail!("parsed value differs from fixtures/snapshots/{snapshot_name}.snap");
    }
    Ok(())
}
