//! Credentials DOT rejects, and a secret that needs encoding.

use crate::cli::{Partner, Run};
use crate::support::{Credentials, DotServer, Variant};
use crate::{JSON_DRF, JSON_PROTECTED};

/// The secret of the `special` application, with every character that form- or
/// percent-encoding must escape, and a non-ASCII one.
const SPECIAL: &str = "a b:c+d/e=f%&é";

/// Runs `token` and `users list` with `credentials`, plain and traced (both are scanned).
fn both_commands(server: &DotServer, credentials: &Credentials) -> Vec<Run> {
    let partner = Partner::new(server, credentials);
    let mut runs = Vec::new();
    for args in [&["token", "--vendor", "podero"][..], &["users", "list"][..]] {
        runs.push(partner.run_plain(args));
        runs.push(partner.run(args));
    }
    runs
}

#[test]
fn a_wrong_secret_exits_3() {
    let server = DotServer::shared(JSON_DRF);
    let wrong = Credentials {
        client_id: server.client.client_id.clone(),
        client_secret: format!("wrong-{}", uuid::Uuid::new_v4().simple()),
    };
    for run in both_commands(server, &wrong) {
        run.assert_code(3);
        assert!(
            run.stderr
                .contains("the token endpoint rejected the client credentials (HTTP 401"),
            "{run:?}"
        );
        assert!(run.stderr.contains("invalid_client"), "{run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
    }
}

#[test]
fn an_unknown_client_exits_3() {
    let server = DotServer::shared(JSON_PROTECTED);
    let unknown = Credentials {
        client_id: format!("unknown{}", uuid::Uuid::new_v4().simple()),
        client_secret: server.client.client_secret.clone(),
    };
    for run in both_commands(server, &unknown) {
        run.assert_code(3);
        assert!(run.stderr.contains("HTTP 401"), "{run:?}");
        assert!(run.stderr.contains("invalid_client"), "{run:?}");
    }
}

#[test]
fn a_client_without_the_client_credentials_grant_is_refused() {
    // DOT answers 400 `unauthorized_client` (oauthlib's validate_grant_type): the credentials
    // are right, the application may not use this grant. Today the CLI reports it as rejected
    // credentials (exit 3); the hint about enabling the grant is pending (pending.rs).
    let server = DotServer::shared(JSON_DRF);
    for run in both_commands(server, &server.authcode) {
        assert!(matches!(run.code, Some(3 | 4)), "{run:?}");
        assert!(run.stderr.contains("HTTP 400"), "{run:?}");
        assert!(run.stderr.contains("unauthorized_client"), "{run:?}");
    }
    assert!(server.tokens_of(&server.authcode.client_id).is_empty());
}

#[test]
fn a_secret_that_needs_encoding_works_with_drf_resources() {
    special_secret(JSON_DRF);
}

#[test]
fn a_secret_that_needs_encoding_works_with_dot_protected_resources() {
    special_secret(JSON_PROTECTED);
}

/// `a b:c+d/e=f%&é`, stored hashed by DOT. DOT form-decodes the Basic credentials
/// (`unquote_plus`, oauth2_validators.py), so only RFC 6749 2.3.1's encoding gets through;
/// every run is scanned for the secret in each encoding.
fn special_secret(variant: Variant) {
    let server = DotServer::shared(variant);
    assert_eq!(server.special.client_secret, SPECIAL);
    let partner = Partner::new(server, &server.special);
    let token = partner.run(&["token", "--vendor", "podero"]).ok_json();
    assert_eq!(token["scope"], "read write");
    let created = partner
        .run(&["users", "create", "--email", "special@example.com"])
        .ok_json();
    let listed = partner.run(&["users", "list"]).ok_json();
    assert_eq!(listed.as_array().unwrap(), &[created]);
    // Error output is scanned too.
    partner
        .run(&["users", "get", &uuid::Uuid::new_v4().to_string()])
        .assert_code(4);

    // An application of its own with the same secret: three runs share one token through
    // the token cache directory; without it, three runs fetch three.
    let client = server.new_client_with_secret(SPECIAL);
    let partner = Partner::new(server, &client);
    for _ in 0..3 {
        partner.run(&["users", "list"]).ok_json();
    }
    assert_eq!(server.tokens_of(&client.client_id).len(), 1);
    for _ in 0..2 {
        partner
            .run(&["--no-token-cache", "users", "list"])
            .ok_json();
    }
    assert_eq!(server.tokens_of(&client.client_id).len(), 3);
}
