//! The vendor fixtures (`fixtures/poa/*.json`) replayed through the adapter: for each
//! `request-*.json`, the request it builds; for each `response-*.json`, the parsed outcome
//! (with the JWT-aware expiry) and its `Debug` (insta snapshots in `fixtures/snapshots/`).
//! `cargo xtask fixtures` runs this test on its own; the checks are
//! `auth_core::test_util::fixture`'s.

use auth_core::Redactor;
use auth_core::test_util::fixture::{Fixture, FixtureKind, Replay, obtained_at};
use poa_auth::{PoaAuth, SourceConfig as _};

/// The request the adapter builds for the fixture's `config`: `client_id`, `client_secret`
/// and, if set, `token_path`, against `https://poa.example.com`.
fn request(fixture: &Fixture) -> reqwest::Request {
    let (id, secret) = fixture.credentials();
    let mut auth = PoaAuth::new("https://poa.example.com", id, secret);
    if let Some(path) = fixture.config("token_path") {
        auth = auth.token_path(path);
    }
    auth.into_source()
        .unwrap()
        .exchange()
        .token_request()
        .unwrap()
}

#[test]
fn replay() {
    let mut replay = Replay::new(
        "poa",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/poa"),
    );
    insta::with_settings!({
        snapshot_path => "../../../../fixtures/snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::glob!("../../../../fixtures/poa", "*.json", |path| {
            let fixture = Fixture::read(path);
            let mismatches = match fixture.kind() {
                FixtureKind::Request => fixture.request_mismatches(&request(&fixture)),
                FixtureKind::Response => {
                    let (status, body) = fixture.response();
                    let parsed = poa_auth::parse_token_response(
                        status,
                        &body,
                        obtained_at(),
                        &Redactor::new(),
                    );
                    insta::with_settings!({ description => fixture.description() }, {
                        insta::assert_snapshot!("poa", format!("{parsed:#?}"));
                    });
                    fixture.outcome_mismatches(&parsed)
                }
            };
            replay.record(&fixture, mismatches);
        });
    });
    replay.finish();
}
