//! Podero's token endpoint, `POST /oauth2/token/`, as Django OAuth Toolkit (DOT) over oauthlib
//! answers, with either of DOT's body backends.

use partner_emulator::{Client, Emulator, Endpoint, PoderoTokenBackend, Vendor};
use serde_json::json;

use crate::support::*;

/// One request to the token endpoint: `Authorization` (none when empty), `Content-Type`,
/// body, and a query string (none when empty).
struct Row {
    authorization: String,
    content_type: &'static str,
    body: String,
    query: &'static str,
    expect: Expect,
}

fn row(authorization: &str, content_type: &'static str, body: &str, expect: Expect) -> Row {
    Row {
        authorization: authorization.to_owned(),
        content_type,
        body: body.to_owned(),
        query: "",
        expect,
    }
}

impl Row {
    fn query(mut self, query: &'static str) -> Self {
        self.query = query;
        self
    }
}

/// Sends every row and checks its answer; every answer is JSON and never cached, as
/// oauthlib's default headers say.
async fn check(emulator: &Emulator, rows: &[Row]) {
    for row in rows {
        let mut url = format!("{}/oauth2/token/", emulator.base_url());
        if !row.query.is_empty() {
            url = format!("{url}?{}=1", row.query);
        }
        let got = send(podero_token_request_to(
            &url,
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
        assert_eq!(got.header("cache-control"), Some("no-store"), "{context}");
        assert_eq!(got.header("pragma"), Some("no-cache"), "{context}");
        row.expect.check(&got, &context);
    }
}

fn granted() -> Expect {
    status(200).field("scope", json!("read write"))
}

/// oauthlib's `InvalidClientError`: 401 with an RFC 6750 challenge.
fn invalid_client() -> Expect {
    expect(401, json!({"error": "invalid_client"}))
        .header("www-authenticate", "Bearer error=\"invalid_client\"")
}

fn oauth(status: u16, error: &str) -> Expect {
    expect(status, json!({ "error": error })).no_header("www-authenticate")
}

fn described(status: u16, error: &str, description: &str) -> Expect {
    expect(
        status,
        json!({"error": error, "error_description": description}),
    )
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

    // DOT's JSON backend reads the body as JSON whatever the media type says; a scope is
    // ignored.
    check(
        &emulator,
        &[
            row(
                &authorization,
                "application/json; charset=utf-8",
                r#"{"grant_type":"client_credentials","scope":"write"}"#,
                granted(),
            ),
            row(&authorization, "text/plain", GRANT, granted()),
        ],
    )
    .await;
    // Every token is new.
    assert_ne!(podero_token(&emulator).await, podero_token(&emulator).await);
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 5);
}

/// DOT's two backends: each reads only its own kind of body, so the other kind has no
/// `grant_type` and oauthlib's default handler answers `unsupported_grant_type`, before any
/// client authentication.
#[tokio::test]
async fn each_backend_reads_only_its_own_body() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credentials = emulator.podero_credentials();
    let good = basic(&credentials.client_id, &credentials.client_secret);
    let wrong = basic(&credentials.client_id, "wrong");
    let form_body = "grant_type=client_credentials&scope=read";
    let unsupported = || oauth(400, "unsupported_grant_type");
    check(
        &emulator,
        &[
            row(&good, FORM, form_body, unsupported()),
            row(&wrong, FORM, form_body, unsupported()),
        ],
    )
    .await;
    emulator.set_podero_token_backend(PoderoTokenBackend::Form);
    check(
        &emulator,
        &[
            row(&good, FORM, form_body, granted()),
            row(&good, "application/json", GRANT, unsupported()),
            // A wrong secret is never looked at: the client is not authenticated at all.
            row(&wrong, "application/json", GRANT, unsupported()),
            row(&good, "text/plain", form_body, unsupported()),
            row(&wrong, FORM, form_body, invalid_client()),
        ],
    )
    .await;
    let built = Emulator::builder()
        .podero_token_backend(PoderoTokenBackend::Form)
        .start()
        .await
        .unwrap();
    let credentials = built.podero_credentials();
    let good = basic(&credentials.client_id, &credentials.client_secret);
    check(&built, &[row(&good, FORM, form_body, granted())]).await;
}

/// oauthlib's `TokenEndpoint` and `ClientCredentialsGrant`, with DOT's `OAuth2Validator`.
#[tokio::test]
async fn errors_have_oauthlib_shapes_in_oauthlib_order() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credentials = emulator.podero_credentials();
    let (id, secret) = (
        credentials.client_id.as_str(),
        credentials.client_secret.as_str(),
    );
    let good = basic(id, secret);
    let wrong_secret = basic(id, "wrong");
    let json_type = "application/json";
    let unsupported = || oauth(400, "unsupported_grant_type");
    let with_body = |grant: &str, extra: serde_json::Value| {
        let mut body = json!({ "grant_type": grant });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body.to_string()
    };
    check(
        &emulator,
        &[
            // `_raise_on_bad_post_request`: no query string at all, before anything else.
            row(
                &good,
                json_type,
                GRANT,
                described(
                    400,
                    "invalid_request",
                    "URL query parameters are not allowed",
                ),
            )
            .query("grant_type"),
            row(&wrong_secret, json_type, GRANT, status(400)).query("x"),
            // No grant type, or one oauthlib does not know: its default handler
            // (authorization code) refuses it, before client authentication.
            row(&wrong_secret, json_type, "{}", unsupported()),
            row(&wrong_secret, json_type, "not json", unsupported()),
            row(&good, json_type, r#"["grant_type"]"#, unsupported()),
            row(&good, json_type, r#"{"grant_type":1}"#, unsupported()),
            row(
                &good,
                json_type,
                r#"{"grant_type":"Client_Credentials"}"#,
                unsupported(),
            ),
            row(
                "",
                json_type,
                r#"{"grant_type":"urn:ietf:params:oauth:grant-type:jwt-bearer"}"#,
                unsupported(),
            ),
            // Client authentication: Basic, then the body.
            row(&wrong_secret, json_type, GRANT, invalid_client()),
            row(&basic("wrong", secret), json_type, GRANT, invalid_client()),
            row(&wrong_secret, "text/plain", GRANT, invalid_client()),
            row("", json_type, GRANT, invalid_client()),
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
            // DOT compares the scheme exactly.
            row(
                &good.replacen("Basic", "basic", 1),
                json_type,
                GRANT,
                invalid_client(),
            ),
            // The body, when Basic fails.
            row(
                "",
                json_type,
                &with_body(
                    "client_credentials",
                    json!({"client_id": id, "client_secret": secret}),
                ),
                granted(),
            ),
            row(
                &wrong_secret,
                json_type,
                &with_body("client_credentials", json!({"client_secret": secret})),
                granted(),
            ),
            row(
                "",
                json_type,
                &with_body(
                    "client_credentials",
                    json!({"client_id": id, "client_secret": "wrong"}),
                ),
                invalid_client(),
            ),
            row(
                "",
                json_type,
                &with_body("client_credentials", json!({"client_id": id})),
                invalid_client(),
            ),
            // A body client id naming another client than the authenticated one.
            row(
                &good,
                json_type,
                &with_body("client_credentials", json!({"client_id": "other"})),
                described(
                    400,
                    "server_error",
                    "Discrepency found between client identifier",
                ),
            ),
            // The last of repeated values counts (Python's `json.loads`).
            row(
                &good,
                json_type,
                r#"{"grant_type":"password","grant_type":"client_credentials"}"#,
                granted(),
            ),
            // DOT's other grants run their own checks first, then authenticate the client.
            row(
                &wrong_secret,
                json_type,
                r#"{"grant_type":"authorization_code"}"#,
                described(400, "invalid_request", "Missing code parameter."),
            ),
            row(
                &wrong_secret,
                json_type,
                &with_body("authorization_code", json!({"code": "x"})),
                invalid_client(),
            ),
            row(
                &good,
                json_type,
                &with_body("authorization_code", json!({"code": "x"})),
                oauth(400, "unauthorized_client"),
            ),
            row(
                &wrong_secret,
                json_type,
                r#"{"grant_type":"password"}"#,
                described(
                    400,
                    "invalid_request",
                    "Request is missing username parameter.",
                ),
            ),
            row(
                &wrong_secret,
                json_type,
                &with_body("password", json!({"username": "u"})),
                described(
                    400,
                    "invalid_request",
                    "Request is missing password parameter.",
                ),
            ),
            row(
                &wrong_secret,
                json_type,
                &with_body("password", json!({"username": "u", "password": "p"})),
                invalid_client(),
            ),
            row(
                &good,
                json_type,
                &with_body("password", json!({"username": "u", "password": "p"})),
                described(400, "invalid_grant", "Invalid credentials given."),
            ),
            row(
                &wrong_secret,
                json_type,
                r#"{"grant_type":"refresh_token"}"#,
                described(400, "invalid_request", "Missing refresh token parameter."),
            ),
            row(
                &wrong_secret,
                json_type,
                &with_body("refresh_token", json!({"refresh_token": "r"})),
                invalid_client(),
            ),
            row(
                &good,
                json_type,
                &with_body("refresh_token", json!({"refresh_token": "r"})),
                oauth(400, "invalid_grant"),
            ),
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
    let json_type = "application/json";
    check(
        &emulator,
        &[
            row(&basic(AWKWARD, AWKWARD), json_type, GRANT, granted()),
            // Without the form-urlencoding, the id's `:` splits the pair in the wrong place
            // and `+` decodes to a space.
            row(&naive_basic(AWKWARD, AWKWARD), json_type, GRANT, invalid_client()),
            // Nor do the plain parts of it work.
            row(&basic("a b", "c+d/e=f%&é"), json_type, GRANT, invalid_client()),
            // In the body, the credentials are sent as they are.
            row(
                "",
                json_type,
                &json!({"grant_type": "client_credentials", "client_id": AWKWARD, "client_secret": AWKWARD}).to_string(),
                granted(),
            ),
        ],
    )
    .await;
}

/// Extra clients with any id and secret, and clients whose application does not allow the
/// client-credentials grant (DOT's `validate_grant_type`).
#[tokio::test]
async fn extra_clients_and_clients_without_the_grant() {
    let emulator = Emulator::builder()
        .client(Vendor::Podero, Client::new(AWKWARD, AWKWARD))
        .client(
            Vendor::Podero,
            Client::new("reports", "s3cret").without_client_credentials_grant(),
        )
        .start()
        .await
        .unwrap();
    let credentials = emulator.podero_credentials().clone();
    let main = basic(&credentials.client_id, &credentials.client_secret);
    let json_type = "application/json";
    let unauthorized = || oauth(400, "unauthorized_client");
    check(
        &emulator,
        &[
            row(&basic(AWKWARD, AWKWARD), json_type, GRANT, granted()),
            row(&main, json_type, GRANT, granted()),
            row(
                &basic("reports", "s3cret"),
                json_type,
                GRANT,
                unauthorized(),
            ),
            // Authentication comes first.
            row(
                &basic("reports", "wrong"),
                json_type,
                GRANT,
                invalid_client(),
            ),
        ],
    )
    .await;
    // At run time; the main client too can lose the grant.
    emulator
        .add_client(
            Vendor::Podero,
            Client::new(
                credentials.client_id.as_str(),
                credentials.client_secret.as_str(),
            )
            .without_client_credentials_grant(),
        )
        .unwrap();
    emulator
        .add_client(Vendor::Podero, Client::new("late", "comer"))
        .unwrap();
    assert!(
        emulator
            .add_client(Vendor::Podero, Client::new("", "x"))
            .is_err()
    );
    check(
        &emulator,
        &[
            row(&main, json_type, GRANT, unauthorized()),
            row(&basic("late", "comer"), json_type, GRANT, granted()),
        ],
    )
    .await;
    // A reset keeps the builder's clients and drops the others.
    emulator.reset();
    check(
        &emulator,
        &[
            row(&main, json_type, GRANT, granted()),
            row(&basic("late", "comer"), json_type, GRANT, invalid_client()),
            row(&basic(AWKWARD, AWKWARD), json_type, GRANT, granted()),
        ],
    )
    .await;
}

/// Some servers keep one token per client: with `revoke_on_new_token`, a second token fetch
/// silently invalidates the first, and whoever still holds it gets a 401 from the API.
#[tokio::test]
async fn a_new_token_can_revoke_the_earlier_ones() {
    let emulator = Emulator::builder()
        .revoke_on_new_token(Vendor::Podero, true)
        .client(Vendor::Podero, Client::new("other", "secret"))
        .start()
        .await
        .unwrap();
    let url = users_url(&emulator);
    let list = |token: String| {
        let url = url.clone();
        async move { send(http().get(url).bearer_auth(token)).await.status }
    };
    let other_token = || async {
        let got = send(podero_token_request(
            &emulator,
            &basic("other", "secret"),
            "application/json",
            GRANT,
        ))
        .await;
        got.json()["access_token"].as_str().unwrap().to_owned()
    };
    let first = podero_token(&emulator).await;
    let others = other_token().await;
    assert_eq!(list(first.clone()).await, 200);
    // A duplicate fetch, e.g. by a second process of the same service.
    let second = podero_token(&emulator).await;
    assert_eq!(list(first.clone()).await, 401, "the first token is gone");
    assert_eq!(list(second.clone()).await, 200);
    assert_eq!(list(others.clone()).await, 200, "other clients keep theirs");
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 3);
    assert_eq!(
        logged_statuses(&emulator, Endpoint::ListUsers),
        [200, 401, 200, 200]
    );

    // Off again: tokens already replaced stay invalid, new ones no longer replace.
    emulator.set_revoke_on_new_token(Vendor::Podero, false);
    let third = podero_token(&emulator).await;
    assert_eq!(list(first).await, 401);
    assert_eq!(list(second).await, 200);
    assert_eq!(list(third).await, 200);
    // The POA side is independent.
    let poa = poa_token(&emulator).await;
    poa_token(&emulator).await;
    let whoami = send(
        http()
            .get(format!("{}/__emulator/poa/whoami", emulator.base_url()))
            .bearer_auth(poa["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(whoami.status, 200);
}
