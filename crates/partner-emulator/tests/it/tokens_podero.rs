//! Podero's token endpoint, `POST /oauth2/token/`.

use partner_emulator::{Emulator, Endpoint};
use serde_json::json;

use crate::support::*;

/// One request to the token endpoint: `Authorization` (none when empty), `Content-Type`,
/// body.
struct Row {
    authorization: String,
    content_type: &'static str,
    body: String,
    expect: Expect,
}

fn row(authorization: &str, content_type: &'static str, body: &str, expect: Expect) -> Row {
    Row {
        authorization: authorization.to_owned(),
        content_type,
        body: body.to_owned(),
        expect,
    }
}

/// Sends every row and checks its answer; every answer is JSON.
async fn check(emulator: &Emulator, rows: &[Row]) {
    for row in rows {
        let got = send(podero_token_request(
            emulator,
            &row.authorization,
            row.content_type,
            &row.body,
        ))
        .await;
        let context = format!("{:?} {} {}", row.authorization, row.content_type, row.body);
        assert_eq!(
            got.header("content-type"),
            Some("application/json"),
            "{context}"
        );
        row.expect.check(&got, &context);
    }
}

#[tokio::test]
async fn success_matches_the_documented_shape() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credentials = emulator.podero_credentials();
    let authorization = basic(&credentials.client_id, &credentials.client_secret);
    let got = send(podero_token_request(
        &emulator,
        &authorization,
        "application/json",
        GRANT,
    ))
    .await;
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("cache-control"), Some("no-store"));
    assert_eq!(got.header("pragma"), Some("no-cache"));
    assert_eq!(got.status, 200);
    let body = got.json();
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.len(), 30);
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric()), "{token}");
    assert_eq!(
        body,
        json!({"access_token": token, "expires_in": 36000, "token_type": "Bearer", "scope": "read write"})
    );
    assert_eq!(
        shape(&body),
        shape(&fixture("podero/response-documented.json"))
    );

    // A form body, a media type parameter and a scope are all fine; the scope is ignored.
    let granted = || {
        status(200)
            .header("cache-control", "no-store")
            .field("scope", json!("read write"))
    };
    check(
        &emulator,
        &[
            row(
                &authorization,
                FORM,
                "grant_type=client_credentials&scope=read",
                granted(),
            ),
            row(
                &authorization,
                "application/json; charset=utf-8",
                r#"{"grant_type":"client_credentials","scope":"write"}"#,
                granted(),
            ),
        ],
    )
    .await;
    // Every token is new.
    assert_ne!(podero_token(&emulator).await, podero_token(&emulator).await);
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 5);
}

#[tokio::test]
async fn errors_have_the_rfc_6749_shapes_in_the_documented_order() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credentials = emulator.podero_credentials();
    let good = basic(&credentials.client_id, &credentials.client_secret);
    let wrong_secret = basic(&credentials.client_id, "wrong");
    let wrong_id = basic("wrong", &credentials.client_secret);
    let json_type = "application/json";
    let invalid_client = || {
        expect(401, json!({"error": "invalid_client"}))
            .header("www-authenticate", "Basic realm=\"oauth2\"")
    };
    let invalid_request = |description: &str| {
        expect(
            400,
            json!({"error": "invalid_request", "error_description": description}),
        )
    };
    let unsupported = || expect(400, json!({"error": "unsupported_grant_type"}));
    check(
        &emulator,
        &[
            // 1. Client authentication, before anything about the body.
            row(&wrong_secret, json_type, GRANT, invalid_client()),
            row(&wrong_id, json_type, GRANT, invalid_client()),
            row(&wrong_secret, "text/plain", "garbage", invalid_client()),
            row("Basic !!!", json_type, GRANT, invalid_client()),
            // base64 of "no-colon-here"
            row(
                "Basic bm8tY29sb24taGVyZQ==",
                json_type,
                GRANT,
                invalid_client(),
            ),
            // base64 of "id:%FF" (the secret decodes to a byte that is not UTF-8)
            row("Basic aWQ6JUZG", json_type, GRANT, invalid_client()),
            row("Bearer abc", json_type, GRANT, invalid_client()),
            // No Authorization header at all.
            row("", json_type, GRANT, invalid_client()),
            // 2. The body.
            row(
                &good,
                json_type,
                "not json",
                invalid_request("The request body is not a JSON object."),
            ),
            row(
                &good,
                json_type,
                r#"["grant_type"]"#,
                invalid_request("The request body is not a JSON object."),
            ),
            row(
                &good,
                "text/plain",
                "grant_type=client_credentials",
                invalid_request(
                    "Content-Type must be application/json or application/x-www-form-urlencoded.",
                ),
            ),
            row(
                &good,
                FORM,
                "grant_type=client_credentials&grant_type=client_credentials",
                invalid_request("A parameter is repeated."),
            ),
            // 3. The grant type.
            row(
                &good,
                json_type,
                "{}",
                invalid_request("Missing grant_type parameter."),
            ),
            row(
                &good,
                json_type,
                r#"{"grant_type":1}"#,
                invalid_request("grant_type must be a string."),
            ),
            row(
                &good,
                json_type,
                r#"{"grant_type":"password"}"#,
                unsupported(),
            ),
            row(&good, FORM, "grant_type=authorization_code", unsupported()),
        ],
    )
    .await;
    // The vendor's documented rejection, exactly.
    assert_eq!(
        invalid_client().body.unwrap(),
        fixture("podero/response-rejected-credentials.json")
    );
}

#[tokio::test]
async fn basic_credentials_are_decoded_as_rfc_6749_section_2_3_1_says() {
    let emulator = Emulator::builder()
        .podero_client(AWKWARD, AWKWARD)
        .start()
        .await
        .unwrap();
    check(
        &emulator,
        &[
            row(
                &basic(AWKWARD, AWKWARD),
                "application/json",
                GRANT,
                status(200),
            ),
            // Without the form-urlencoding, the id's `:` splits the pair in the wrong place
            // and `+` decodes to a space.
            row(
                &naive_basic(AWKWARD, AWKWARD),
                "application/json",
                GRANT,
                status(401),
            ),
            // Nor do the plain parts of it work.
            row(
                &basic("a b", "c+d/e=f%&é"),
                "application/json",
                GRANT,
                status(401),
            ),
        ],
    )
    .await;
}
