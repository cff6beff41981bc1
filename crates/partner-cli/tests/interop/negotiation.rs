//! What the Podero token body and the CLI's error output do against both of DOT's backends:
//! - `PODERO_TOKEN_BODY=json|form|auto`, `auto` (the default) negotiating JSON first, a form
//!   body once if the server found no grant type;
//! - the hints follow django-oauth-toolkit's codes (`unauthorized_client`: enable the
//!   client-credentials grant; `unsupported_grant_type`: `PODERO_TOKEN_BODY`);
//! - by default the CLI prints only its `error:` and `hint:` lines.

use crate::cli::{Partner, Run};
use crate::support::{Credentials, DotServer};
use crate::users::crud;
use crate::{FORM_DRF, FORM_PROTECTED, JSON_DRF, JSON_PROTECTED};

#[test]
fn form_body_gets_a_token_from_the_form_backend() {
    for variant in [FORM_DRF, FORM_PROTECTED] {
        let server = DotServer::shared(variant);
        let client = server.new_client();
        let partner = Partner::new(server, &client).var("PODERO_TOKEN_BODY", "form");
        let json = partner.run(&["token", "--vendor", "podero"]).ok_json();
        assert_eq!(json["scope"], "read write");
        assert_eq!(json["token_type"], "Bearer");
        assert_eq!(server.tokens_of(&client.client_id).len(), 1);
    }
}

#[test]
fn auto_gets_a_token_from_either_backend() {
    // Waits for: PODERO_TOKEN_BODY=auto (negotiation between Podero's documented JSON body
    // and RFC 6749's form body).
    for variant in [JSON_DRF, FORM_DRF] {
        let server = DotServer::shared(variant);
        let client = server.new_client();
        let partner = Partner::new(server, &client).var("PODERO_TOKEN_BODY", "auto");
        for _ in 0..2 {
            let json = partner.run(&["token", "--vendor", "podero"]).ok_json();
            assert_eq!(json["scope"], "read write", "{variant:?}");
        }
        partner.run(&["users", "list"]).ok_json();
        // One token for the three runs: the first run's, kept in the token cache directory.
        assert_eq!(server.tokens_of(&client.client_id).len(), 1, "{variant:?}");
    }
}

#[test]
fn users_crud_on_the_form_backend_with_drf_resources_and_a_form_body() {
    crud(FORM_DRF, &[("PODERO_TOKEN_BODY", "form")]);
}

#[test]
fn users_crud_on_the_form_backend_with_dot_protected_resources_and_a_form_body() {
    crud(FORM_PROTECTED, &[("PODERO_TOKEN_BODY", "form")]);
}

#[test]
fn users_crud_on_the_form_backend_with_drf_resources_and_auto() {
    // Waits for: PODERO_TOKEN_BODY=auto.
    crud(FORM_DRF, &[("PODERO_TOKEN_BODY", "auto")]);
}

#[test]
fn users_crud_on_the_form_backend_with_dot_protected_resources_and_auto() {
    // Waits for: PODERO_TOKEN_BODY=auto.
    crud(FORM_PROTECTED, &[("PODERO_TOKEN_BODY", "auto")]);
}

#[test]
fn a_wrong_secret_on_the_form_backend_exits_3() {
    // Waits for: PODERO_TOKEN_BODY (today the JSON body earns `unsupported_grant_type`
    // before DOT looks at the credentials, so the CLI exits 4).
    let server = DotServer::shared(FORM_DRF);
    let wrong = Credentials {
        client_id: server.client.client_id.clone(),
        client_secret: format!("wrong-{}", uuid::Uuid::new_v4().simple()),
    };
    for body in ["form", "auto"] {
        let partner = Partner::new(server, &wrong).var("PODERO_TOKEN_BODY", body);
        for args in [&["token", "--vendor", "podero"][..], &["users", "list"][..]] {
            let run = partner.run_plain(args);
            run.assert_code(3);
            assert!(run.stderr.contains("HTTP 401"), "{body}: {run:?}");
            assert!(run.stderr.contains("invalid_client"), "{body}: {run:?}");
            partner.run(args).assert_code(3);
        }
    }
}

#[test]
fn a_secret_that_needs_encoding_works_on_the_form_backend() {
    for variant in [FORM_DRF, FORM_PROTECTED] {
        let server = DotServer::shared(variant);
        let partner = Partner::new(server, &server.special).var("PODERO_TOKEN_BODY", "auto");
        partner.run(&["token", "--vendor", "podero"]).ok_json();
        let created = partner
            .run(&["users", "create", "--email", "special@example.com"])
            .ok_json();
        assert_eq!(
            partner.run(&["users", "list"]).ok_json(),
            serde_json::json!([created])
        );
    }
}

/// The `hint:` line of a run, if any.
fn hint(run: &Run) -> Option<&str> {
    run.stderr
        .lines()
        .find_map(|line| line.strip_prefix("hint: "))
}

#[test]
fn the_grant_hint_names_the_client_credentials_grant() {
    // Waits for: the CLI hint for DOT's 400 `unauthorized_client`.
    for variant in [JSON_DRF, JSON_PROTECTED] {
        let server = DotServer::shared(variant);
        let partner = Partner::new(server, &server.authcode);
        for args in [&["token", "--vendor", "podero"][..], &["users", "list"][..]] {
            let run = partner.run_plain(args);
            assert!(matches!(run.code, Some(3 | 4)), "{run:?}");
            let hint = hint(&run).unwrap_or_else(|| panic!("no hint: {run:?}"));
            assert!(
                hint.contains("client-credentials grant")
                    || hint.contains("client credentials grant"),
                "{run:?}"
            );
            assert!(hint.contains("enable"), "{run:?}");
            partner.run(args);
        }
    }
}

#[test]
fn the_unsupported_grant_type_hint_points_at_podero_token_body() {
    // Waits for: the CLI hint for `unsupported_grant_type`.
    let server = DotServer::shared(FORM_DRF);
    let partner = Partner::new(server, &server.client).var("PODERO_TOKEN_BODY", "json");
    let run = partner.run_plain(&["token", "--vendor", "podero"]);
    run.assert_code(4);
    assert!(run.stderr.contains("unsupported_grant_type"), "{run:?}");
    let hint = hint(&run).unwrap_or_else(|| panic!("no hint: {run:?}"));
    assert!(hint.contains("PODERO_TOKEN_BODY"), "{run:?}");
}

#[test]
fn failures_print_only_error_and_hint_lines() {
    // Waits for: no WARN log line by default (RUST_LOG unset), only `error:` and `hint:`.
    let server = DotServer::shared(JSON_DRF);
    let wrong = Credentials {
        client_id: server.client.client_id.clone(),
        client_secret: "wrong".to_owned(),
    };
    let unknown = Credentials {
        client_id: "unknown".to_owned(),
        client_secret: "unknown".to_owned(),
    };
    let form_server = DotServer::shared(FORM_DRF);
    let cases = [
        Partner::new(server, &wrong),
        Partner::new(server, &unknown),
        Partner::new(server, &server.authcode),
        Partner::new(form_server, &form_server.client).var("PODERO_TOKEN_BODY", "json"),
    ];
    for partner in &cases {
        for args in [&["token", "--vendor", "podero"][..], &["users", "list"][..]] {
            let run = partner.run_plain(args);
            assert!(matches!(run.code, Some(3 | 4)), "{run:?}");
            let lines: Vec<&str> = run.stderr.lines().collect();
            assert!(
                lines.first().is_some_and(|l| l.starts_with("error: ")),
                "{run:?}"
            );
            assert!(
                lines[1..].iter().all(|l| l.starts_with("hint: ")) && lines.len() <= 2,
                "only `error:` and `hint:` lines: {run:?}"
            );
        }
    }
}
