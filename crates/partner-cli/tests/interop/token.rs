//! `partner token` against DOT's token endpoint.

use crate::cli::{Partner, TOKEN_ATTEMPTS};
use crate::support::{DotServer, Variant};
use crate::{FORM_DRF, FORM_PROTECTED, JSON_DRF, JSON_PROTECTED, SHORT_SECONDS};

#[test]
fn the_json_backend_issues_a_token_for_the_documented_json_body() {
    let server = DotServer::shared(JSON_DRF);
    let client = server.new_client();
    let partner = Partner::new(server, &client);

    let json = partner.run(&["token", "--vendor", "podero"]).ok_json();
    assert_eq!(json["vendor"], "podero");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["scope"], "read write");
    let expires_in = json["expires_in"].as_i64().unwrap();
    assert!((35_990..=36_000).contains(&expires_in), "{json}");
    assert!(
        json["expires_at"].as_str().unwrap().ends_with('Z'),
        "{json}"
    );
    assert!(json.get("access_token").is_none(), "{json}");
    assert_eq!(server.tokens_of(&client.client_id).len(), 1);

    // The printed token is the one DOT stored for this client: the second run reuses the
    // first run's, kept in the token cache directory.
    let (_, token) = partner.run_showing_token();
    let tokens = server.tokens_of(&client.client_id);
    assert_eq!(tokens.len(), 1);
    assert!(tokens.iter().any(|t| t.token == token && t.stored));
    assert_eq!(server.status_with_token(&token), 200);
}

#[test]
fn the_form_backend_refuses_a_json_body_with_drf_resources() {
    json_body_refused(FORM_DRF);
}

#[test]
fn the_form_backend_refuses_a_json_body_with_dot_protected_resources() {
    json_body_refused(FORM_PROTECTED);
}

/// DOT's default backend reads only form bodies: the JSON body reaches oauthlib without a
/// grant_type, which sends it to the default (authorization-code) grant: 400
/// `unsupported_grant_type`. PODERO_TOKEN_BODY=json keeps this about the JSON body once the
/// variable exists.
fn json_body_refused(variant: Variant) {
    let server = DotServer::shared(variant);
    let client = server.new_client();
    let partner = Partner::new(server, &client).var("PODERO_TOKEN_BODY", "json");

    let run = partner.run_plain(&["token", "--vendor", "podero"]);
    run.assert_code(4);
    assert!(run.stderr.contains("HTTP 400"), "{run:?}");
    assert!(run.stderr.contains("unsupported_grant_type"), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    partner.run(&["users", "list"]).assert_code(4);
    assert!(server.tokens_of(&client.client_id).is_empty());
}

#[test]
#[allow(clippy::disallowed_methods)] // The run's wall time, not the library's clock.
fn five_second_tokens_report_their_lifetime() {
    let server = DotServer::shared(JSON_PROTECTED.token_seconds(SHORT_SECONDS));
    let partner = Partner::new(server, &server.client);
    let mut started = std::time::Instant::now();
    let mut run = partner.run(&["token", "--vendor", "podero"]);
    for _ in 1..TOKEN_ATTEMPTS {
        if !run.expired_on_arrival() {
            break;
        }
        started = std::time::Instant::now();
        run = partner.run(&["token", "--vendor", "podero"]);
    }
    let json = run.ok_json();
    // What is left of the five seconds when the binary prints it: all of it, less the time
    // the run took (DOT answers slowly on a loaded machine) and up to two seconds of rounding.
    let took = i64::try_from(started.elapsed().as_secs()).unwrap();
    let expires_in = json["expires_in"].as_i64().unwrap();
    let lifetime = i64::from(SHORT_SECONDS);
    assert!(
        (lifetime - took - 2..=lifetime).contains(&expires_in),
        "{json} after {took} s"
    );
}
