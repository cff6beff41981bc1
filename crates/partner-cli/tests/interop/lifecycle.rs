//! Tokens that stop working: revoked through DOT's `/oauth2/revoke_token/`, or expired.
//!
//! The CLI fetches a token per invocation, so a stale token never reaches it from a previous
//! run: these tests prove that a run after revocation or expiry works, that DOT really
//! rejects the old token (401 from DRF, a bare 403 from DOT's protected views), and that the
//! old token never shows up in output. Revocation and expiry *during* a session are the SDK's
//! (`crates/partner-sdk/tests/dot`).

use std::time::Duration;

use crate::cli::Partner;
use crate::support::{DotServer, Style, Variant};
use crate::{JSON_DRF, JSON_PROTECTED, SHORT_SECONDS};

/// The status DOT answers a stale token in this resource style.
fn stale_status(variant: Variant) -> u16 {
    match variant.style {
        Style::Drf => 401,
        Style::Protected => 403,
    }
}

#[test]
fn after_revocation_drf_answers_401_and_the_next_run_works() {
    after_revocation(JSON_DRF);
}

#[test]
fn after_revocation_dot_views_answer_a_bare_403_and_the_next_run_works() {
    after_revocation(JSON_PROTECTED);
}

fn after_revocation(variant: Variant) {
    let server = DotServer::shared(variant);
    let client = server.new_client();
    let partner = Partner::new(server, &client);
    let (_, revoked) = partner.run_showing_token();
    assert_eq!(server.status_with_token(&revoked), 200);
    server.revoke(&revoked, &client);

    let answer = server.http(
        "GET",
        &format!("/api/partners/v2.0/org/{}/users", partner.org_id()),
        &[("Authorization", &format!("Bearer {revoked}"))],
        b"",
    );
    assert_eq!(answer.status, stale_status(variant), "{answer:?}");
    match variant.style {
        Style::Drf => assert!(
            answer
                .header("www-authenticate")
                .is_some_and(|h| h.contains("invalid_token")),
            "{answer:?}"
        ),
        Style::Protected => {
            assert!(answer.body.is_empty(), "{answer:?}");
            assert_eq!(answer.header("www-authenticate"), None, "{answer:?}");
        }
    }

    partner
        .run(&["users", "create", "--email", "after-revocation@example.com"])
        .ok_json();
    let listed = partner.run(&["users", "list"]).ok_json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // The first run's token (kept in the cache directory) was revoked: the next run is
    // refused once, drops it, fetches one new token and keeps it for the run after.
    let tokens = server.tokens_of(&client.client_id);
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert_eq!(tokens.iter().filter(|t| !t.stored).count(), 1, "{tokens:?}");
}

#[test]
fn after_expiry_drf_answers_401_and_the_next_run_works() {
    after_expiry(JSON_DRF.token_seconds(SHORT_SECONDS));
}

#[test]
fn after_expiry_dot_views_answer_a_bare_403_and_the_next_run_works() {
    after_expiry(JSON_PROTECTED.token_seconds(SHORT_SECONDS));
}

fn after_expiry(variant: Variant) {
    let server = DotServer::shared(variant);
    let client = server.new_client();
    let partner = Partner::new(server, &client);
    let (shown, expired) = partner.run_showing_token();
    assert!(shown.json()["expires_in"].as_i64().unwrap() <= 5);
    let status = server.wait_until_rejected(&expired, Duration::from_secs(30));
    assert_eq!(status, stale_status(variant));

    let listed = partner.run(&["users", "list"]).ok_json();
    assert_eq!(listed.as_array().unwrap().len(), 0);
    let tokens = server.tokens_of(&client.client_id);
    // DOT keeps expired tokens; the scan after the last run covered both.
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert!(tokens.iter().all(|t| t.stored));
}
