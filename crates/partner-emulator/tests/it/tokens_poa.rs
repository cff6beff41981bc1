//! POA's Keycloak token endpoint (both paths) and the emulator-only `whoami` call.

use std::time::Duration;

use partner_emulator::{Client, Emulator, Endpoint, Vendor};
use serde_json::json;

use crate::support::*;

/// One request to the token endpoint: extra headers, `Content-Type`, body.
struct Row {
    headers: Vec<(&'static str, String)>,
    content_type: &'static str,
    body: String,
    expect: Expect,
}

/// A row; an empty `content_type` sends none.
fn row(content_type: &'static str, body: impl Into<String>, expect: Expect) -> Row {
    Row {
        headers: Vec::new(),
        content_type,
        body: body.into(),
        expect,
    }
}

impl Row {
    fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Sends every row to both paths and checks the answers; every answer is JSON.
async fn check(emulator: &Emulator, rows: &[Row]) {
    for row in rows {
        for path in POA_PATHS {
            let mut request = poa_token_request(emulator, path, row.content_type, row.body.clone());
            for (name, value) in &row.headers {
                request = request.header(*name, value);
            }
            let got = send(request).await;
            let context = format!("{path} {:?} {} {}", row.headers, row.content_type, row.body);
            assert_eq!(
                got.header("content-type"),
                Some("application/json"),
                "{context}"
            );
            row.expect.check(&got, &context);
        }
    }
}

#[tokio::test]
async fn success_on_both_paths_with_a_jwt() {
    let emulator = Emulator::builder()
        .poa_client(AWKWARD, AWKWARD)
        .start()
        .await
        .unwrap();
    for path in POA_PATHS {
        let got = send(poa_token_request(
            &emulator,
            path,
            FORM,
            poa_form(AWKWARD, AWKWARD),
        ))
        .await;
        assert_eq!(got.header("content-type"), Some("application/json"));
        assert_eq!(got.header("cache-control"), Some("no-store"));
        assert_eq!(got.status, 200, "{path}");
        let body = got.json();
        let jwt = body["access_token"].as_str().unwrap();
        assert_eq!(
            body,
            json!({
                "access_token": jwt,
                "expires_in": 1800,
                "refresh_expires_in": 0,
                "token_type": "Bearer",
                "not-before-policy": 0,
                "scope": "partner",
            })
        );
        assert_eq!(
            shape(&body),
            shape(&fixture("poa/response-documented.json"))
        );

        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "{jwt}");
        assert!(!parts[2].is_empty() && !parts.iter().any(|p| p.contains('=')));
        assert_eq!(
            jwt_part(jwt, 0),
            json!({"alg": "RS256", "typ": "JWT", "kid": "emulator"})
        );
        let claims = jwt_part(jwt, 1);
        let iat = claims["iat"].as_i64().unwrap();
        assert_eq!(claims["exp"].as_i64().unwrap() - iat, 1800);
        assert!((iat - emulator.now().timestamp()).abs() <= 2, "{claims}");
        assert_eq!(
            claims["iss"],
            format!("{}/realms/cybrillarta", emulator.base_url())
        );
        assert_eq!(claims["azp"], AWKWARD);
        assert_eq!(claims["scope"], "partner");
        assert_eq!(claims["typ"], "Bearer");
        assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
    }
    assert_eq!(emulator.request_count(Endpoint::PoaToken), 2);
}

/// Keycloak's answers, row by row of the §2 table in `keycloak-token-endpoint.md` ("row N"),
/// in its check order (§1).
#[tokio::test]
async fn errors_are_keycloak_shaped_in_keycloak_order() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credentials = emulator.poa_credentials().clone();
    let (id, secret) = (
        credentials.client_id.as_str(),
        credentials.client_secret.as_str(),
    );
    let grant = ("grant_type", "client_credentials");
    // Every answer from §1 step 3 on: never cached, and no challenge, even after Basic.
    let keycloak = |expect: Expect| {
        expect
            .header("cache-control", "no-store")
            .header("pragma", "no-cache")
            .no_header("www-authenticate")
    };
    let oauth = |status: u16, error: &str, description: &str| {
        keycloak(self::expect(
            status,
            json!({"error": error, "error_description": description}),
        ))
    };
    let invalid_request = |description: &str| oauth(400, "invalid_request", description);
    let unsupported = || oauth(400, "unsupported_grant_type", "Unsupported grant_type");
    let invalid_client = || {
        oauth(
            401,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        )
    };
    let unauthorized_client = || {
        oauth(
            401,
            "unauthorized_client",
            "Invalid client or Invalid client credentials",
        )
    };
    let granted = || keycloak(status(200)).field("scope", json!("partner"));
    let unsupported_media_type = || {
        expect(415, json!({"error": "HTTP 415 Unsupported Media Type"}))
            .no_header("cache-control")
            .no_header("pragma")
    };
    let json_body =
        json!({"client_id": id, "client_secret": secret, "grant_type": "client_credentials"});
    check(
        &emulator,
        &[
            // Row 4: form bodies only, checked before anything else.
            row(
                "application/json",
                json_body.to_string(),
                unsupported_media_type(),
            ),
            row("text/plain", poa_form(id, secret), unsupported_media_type()),
            row("", poa_form(id, secret), unsupported_media_type()),
            // Row 7: the grant type comes before the credentials, even wrong ones.
            row(
                FORM,
                form(&[("client_id", id), ("client_secret", "wrong")]),
                invalid_request("Missing form parameter: grant_type"),
            ),
            row(
                FORM,
                "",
                invalid_request("Missing form parameter: grant_type"),
            ),
            // Row 8: unknown, misspelt, wrong case or empty; the first value counts.
            row(
                FORM,
                form(&[
                    ("client_id", "x"),
                    ("client_secret", "y"),
                    ("grant_type", "password"),
                ]),
                unsupported(),
            ),
            row(
                FORM,
                form(&[
                    ("grant_type", "Client_Credentials"),
                    ("client_id", id),
                    ("client_secret", secret),
                ]),
                unsupported(),
            ),
            row(FORM, form(&[("grant_type", "")]), unsupported()),
            row(
                FORM,
                form(&[
                    ("grant_type", "password"),
                    grant,
                    ("client_id", id),
                    ("client_secret", secret),
                ]),
                unsupported(),
            ),
            // Row 9: an unknown client.
            row(FORM, poa_form("wrong", secret), invalid_client()),
            // Row 10: no client identification at all.
            row(FORM, form(&[grant]), invalid_client()),
            row(
                FORM,
                form(&[grant, ("client_secret", secret)]),
                invalid_client(),
            ),
            // Row 12: a wrong secret; the vendor's documented rejection, exactly.
            row(
                FORM,
                poa_form(id, "wrong"),
                keycloak(expect(
                    401,
                    fixture("poa/response-rejected-credentials.json"),
                )),
            ),
            row(FORM, form(&[grant]), unauthorized_client())
                .with("authorization", basic(id, "wrong")),
            // Basic `id:` with an empty password lands in row 12.
            row(FORM, form(&[grant]), unauthorized_client()).with("authorization", basic(id, "")),
            // Row 13: an id without a secret.
            row(
                FORM,
                form(&[grant, ("client_id", id)]),
                unauthorized_client(),
            ),
            row(
                FORM,
                form(&[grant, ("client_id", id), ("client_secret", "")]),
                unauthorized_client(),
            ),
            // Row 16: an undecodable Basic header counts as none.
            row(FORM, form(&[grant]), invalid_client()).with("authorization", "Basic !!!"),
            row(FORM, form(&[grant]), invalid_client())
                .with("authorization", "Basic bm8tY29sb24taGVyZQ=="),
            row(FORM, poa_form(id, secret), granted()).with("authorization", "Basic !!!"),
            // Row 17: a malformed `%` escape in a Basic half, whatever the form says.
            row(
                FORM,
                poa_form(id, secret),
                oauth(
                    400,
                    "unauthorized_client",
                    "Unexpected error when authenticating client",
                ),
            )
            .with("authorization", naive_basic(id, "100%")),
            // Row 19: a repeated parameter, only once the client is authenticated.
            row(
                FORM,
                format!("{}&client_id={id}", poa_form(id, secret)),
                invalid_request("duplicated parameter"),
            ),
            row(
                FORM,
                format!("{}&scope=a&scope=b", poa_form(id, secret)),
                invalid_request("duplicated parameter"),
            ),
            row(
                FORM,
                format!("{}&grant_type=client_credentials", poa_form(id, "wrong")),
                unauthorized_client(),
            ),
            // §1 step 2: control characters are removed from values.
            row(
                FORM,
                form(&[
                    ("grant_type", "client_credentials\n"),
                    ("client_id", id),
                    ("client_secret", secret),
                ]),
                granted(),
            ),
        ],
    )
    .await;
}

/// §5 of `keycloak-token-endpoint.md`: credentials in a Basic header (RFC 6749 section
/// 2.3.1) work as well as in the form, and when both are sent each form value replaces its
/// Basic half.
#[tokio::test]
async fn basic_and_form_credentials_and_their_precedence() {
    let emulator = Emulator::builder()
        .poa_client(AWKWARD, AWKWARD)
        .start()
        .await
        .unwrap();
    let grant = || form(&[("grant_type", "client_credentials")]);
    let granted = || status(200).field("scope", json!("partner"));
    let unauthorized_client = || {
        expect(
            401,
            json!({"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"}),
        )
    };
    let invalid_client = || status(401).field("error", json!("invalid_client"));
    check(
        &emulator,
        &[
            row(FORM, grant(), granted()).with("authorization", basic(AWKWARD, AWKWARD)),
            // The scheme is case-insensitive.
            row(FORM, grant(), granted()).with(
                "authorization",
                basic(AWKWARD, AWKWARD).replacen("Basic", "bAsIc", 1),
            ),
            // Without RFC 6749's encoding, the id's `:` splits the pair in the wrong place
            // and the `%&` is a malformed escape (row 17).
            row(
                FORM,
                grant(),
                status(400).field("error", json!("unauthorized_client")),
            )
            .with("authorization", naive_basic(AWKWARD, AWKWARD)),
            // Form values win, each independently.
            row(FORM, poa_form(AWKWARD, AWKWARD), granted())
                .with("authorization", basic(AWKWARD, "wrong")),
            row(FORM, poa_form(AWKWARD, "wrong"), unauthorized_client())
                .with("authorization", basic(AWKWARD, AWKWARD)),
            row(
                FORM,
                format!("{}&{}", grant(), form(&[("client_secret", AWKWARD)])),
                granted(),
            )
            .with("authorization", basic(AWKWARD, "wrong")),
            row(
                FORM,
                format!("{}&{}", grant(), form(&[("client_id", AWKWARD)])),
                granted(),
            )
            .with("authorization", basic("someone else", AWKWARD)),
            row(
                FORM,
                format!("{}&{}", grant(), form(&[("client_id", "someone else")])),
                invalid_client(),
            )
            .with("authorization", basic(AWKWARD, AWKWARD)),
        ],
    )
    .await;
    assert_eq!(emulator.request_count(Endpoint::PoaToken), 16);
}

#[tokio::test]
async fn jwt_exp_follows_the_lifetime_knobs_and_the_emulator_clock() {
    let emulator = Emulator::builder()
        .poa_token_lifetime(Duration::from_secs(900))
        .start()
        .await
        .unwrap();
    let body = poa_token(&emulator).await;
    assert_eq!(body["expires_in"], 900);
    assert_eq!(jwt_lifetime(&body), 900);

    // A JWT that expires before `expires_in` says, and the server agrees with the JWT.
    emulator.set_poa_jwt_lifetime(Some(Duration::from_secs(60)));
    let body = poa_token(&emulator).await;
    assert_eq!(
        body["expires_in"], 900,
        "expires_in keeps the token lifetime"
    );
    assert_eq!(jwt_lifetime(&body), 60);
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(whoami(&emulator, Some(&token)).await.status, 200);
    emulator.advance_time(Duration::from_secs(61));
    assert_eq!(whoami(&emulator, Some(&token)).await.status, 401);

    emulator.set_poa_jwt_lifetime(None);
    let body = poa_token(&emulator).await;
    assert_eq!(jwt_lifetime(&body), 900);
    // `iat` is on the emulator's clock, which is now 61 s ahead of the real one.
    let iat = jwt_part(body["access_token"].as_str().unwrap(), 1)["iat"]
        .as_i64()
        .unwrap();
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((iat - real - 61).abs() <= 2, "iat {iat}, real {real}");
}

async fn whoami(emulator: &Emulator, token: Option<&str>) -> Answer {
    let request = http().get(format!("{}/__emulator/poa/whoami", emulator.base_url()));
    send(match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    })
    .await
}

#[tokio::test]
async fn whoami_accepts_exactly_valid_poa_tokens() {
    let emulator = Emulator::builder().start().await.unwrap();
    let rejected = || {
        status(401)
            .header("www-authenticate", "Bearer error=\"invalid_token\"")
            .header("content-type", "application/json")
    };
    let check = |got: Answer, expect: Expect, context: &str| {
        expect.check(&got, context);
        if got.status == 401 {
            assert_eq!(got.json()["error"], "invalid_token", "{context}");
        }
    };
    let body = poa_token(&emulator).await;
    let token = body["access_token"].as_str().unwrap();
    let exp = jwt_part(token, 1)["exp"].clone();
    check(
        whoami(&emulator, Some(token)).await,
        expect(
            200,
            json!({"client_id": emulator.poa_credentials().client_id, "scope": "partner", "exp": exp}),
        ),
        "valid",
    );
    check(whoami(&emulator, None).await, rejected(), "no token");
    check(
        whoami(&emulator, Some("not-a-token")).await,
        rejected(),
        "unknown",
    );
    let podero = podero_token(&emulator).await;
    check(whoami(&emulator, Some(&podero)).await, rejected(), "podero");

    emulator.revoke_all_tokens();
    check(whoami(&emulator, Some(token)).await, rejected(), "revoked");

    emulator.set_token_lifetime(Vendor::Poa, Duration::from_secs(30));
    let body = poa_token(&emulator).await;
    let token = body["access_token"].as_str().unwrap();
    check(whoami(&emulator, Some(token)).await, status(200), "fresh");
    emulator.advance_time(Duration::from_secs(30));
    check(whoami(&emulator, Some(token)).await, rejected(), "expired");
    assert_eq!(emulator.request_count(Endpoint::PoaWhoami), 7);
}

/// Row 23 of the §2 table: a client whose service accounts are off authenticates, then may
/// not use the grant. Extra clients have their own tokens, and `whoami` names them.
#[tokio::test]
async fn extra_clients_and_clients_without_the_grant() {
    let emulator = Emulator::builder()
        .client(Vendor::Poa, Client::new(AWKWARD, AWKWARD))
        .client(
            Vendor::Poa,
            Client::new("reports", "s3cret").without_client_credentials_grant(),
        )
        .start()
        .await
        .unwrap();
    let not_enabled = || {
        expect(
            401,
            json!({"error": "unauthorized_client", "error_description": "Client not enabled to retrieve service account"}),
        )
        .header("cache-control", "no-store")
    };
    check(
        &emulator,
        &[
            row(FORM, poa_form(AWKWARD, AWKWARD), status(200)),
            row(FORM, poa_form("reports", "s3cret"), not_enabled()),
            // Authentication, then repeated parameters, come first.
            row(
                FORM,
                poa_form("reports", "wrong"),
                status(401)
                    .field("error", json!("unauthorized_client"))
                    .field(
                        "error_description",
                        json!("Invalid client or Invalid client credentials"),
                    ),
            ),
            row(
                FORM,
                format!("{}&scope=a&scope=b", poa_form("reports", "s3cret")),
                status(400),
            ),
        ],
    )
    .await;
    let body = send(poa_token_request(
        &emulator,
        POA_PATHS[0],
        FORM,
        poa_form(AWKWARD, AWKWARD),
    ))
    .await
    .json();
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_part(token, 1)["azp"], AWKWARD);
    let who = whoami(&emulator, Some(token)).await.json();
    assert_eq!(who["client_id"], AWKWARD);

    emulator
        .add_client(Vendor::Poa, Client::new("reports", "s3cret"))
        .unwrap();
    check(
        &emulator,
        &[row(FORM, poa_form("reports", "s3cret"), status(200))],
    )
    .await;
}

/// With `revoke_on_new_token`, a second fetch by the same client invalidates its first JWT.
#[tokio::test]
async fn a_new_token_can_revoke_the_earlier_ones() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.set_revoke_on_new_token(Vendor::Poa, true);
    let first = poa_token(&emulator).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(whoami(&emulator, Some(&first)).await.status, 200);
    let second = poa_token(&emulator).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(whoami(&emulator, Some(&first)).await.status, 401);
    assert_eq!(whoami(&emulator, Some(&second)).await.status, 200);
    // Podero tokens are not affected.
    let podero = podero_token(&emulator).await;
    podero_token(&emulator).await;
    let list = send(http().get(users_url(&emulator)).bearer_auth(podero)).await;
    assert_eq!(list.status, 200);
    assert_eq!(emulator.request_count(Endpoint::PoaToken), 2);
}
