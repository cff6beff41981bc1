//! The vendor fixtures (`fixtures/podero/*.json`) replayed through the adapter: for each
//! `request-*.json`, the request it builds; for each `response-*.json`, the parsed outcome and
//! its `Debug` (insta snapshots in `fixtures/snapshots/`). `cargo xtask fixtures` runs this
//! test on its own; the checks are `auth_core::test_util::fixture`'s.

use auth_core::test_util::fixture::{Fixture, FixtureKind, Replay, obtained_at};
use auth_core::{BodyEncoding, Redactor};
use podero_auth::{Environment, PoderoAuth, SourceConfig as _};

/// The request the adapter builds for the fixture's `config`: `client_id`, `client_secret`
/// and `body` (`json`, the default, or `form`), for production.
fn request(fixture: &Fixture) -> reqwest::Request {
    let (id, secret) = fixture.credentials();
    let body = match fixture.config("body") {
        None | Some("json") => BodyEncoding::Json,
        Some("form") => BodyEncoding::Form,
        Some(other) => panic!(
            "{}: config.body {other:?} is neither json nor form",
            fixture.name()
        ),
    };
    PoderoAuth::new(id, secret)
        .environment(Environment::Production)
        .body_encoding(body)
        .into_source()
        .unwrap()
        .token_request()
        .unwrap()
}

#[test]
fn replay() {
    let mut replay = Replay::new(
        "podero",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/podero"),
    );
    insta::with_settings!({
        snapshot_path => "../../../../fixtures/snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::glob!("../../../../fixtures/podero", "*.json", |path| {
            let fixture = Fixture::read(path);
            let mismatches = match fixture.kind() {
                FixtureKind::Request => fixture.request_mismatches(&request(&fixture)),
                FixtureKind::Response => {
                    let (status, body) = fixture.response();
                    let parsed = auth_core::response::parse_token_response(
                        status,
                        &body,
                        obtained_at(),
                        &Redactor::new(),
                    );
                    insta::with_settings!({ description => fixture.description() }, {
                        insta::assert_snapshot!("podero", format!("{parsed:#?}"));
                    });
                    fixture.outcome_mismatches(&parsed)
                }
            };
            replay.record(&fixture, mismatches);
        });
    });
    replay.finish();
}
