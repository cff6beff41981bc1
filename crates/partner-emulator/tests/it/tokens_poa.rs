//! POA's Keycloak token endpoint (both paths) and the emulator-only `whoami` call.

use std::time::Duration;

use partner_emulator::{Emulator, Endpoint, Vendor};
use serde_json::json;

use crate::support::*;

/// One request to the token endpoint: extra headers, `Content-Type`, body.
struct Row {
    headers: Vec<(&'static str, String)>,
    content_type: &'static str,
    body: String,
    expect: Expect,
}

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

#[tokio::test]
async fn errors_are_keycloak_shaped_in_keycloak_order() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credentials = emulator.poa_credentials().clone();
    let (id, secret) = (
        credentials.client_id.as_str(),
        credentials.client_secret.as_str(),
    );
    let invalid_request = |description: &str| {
        expect(
            400,
            json!({"error": "invalid_request", "error_description": description}),
        )
    };
    let unauthorized_client = || {
        expect(
            401,
            json!({"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"}),
        )
    };
    let json_body =
        json!({"client_id": id, "client_secret": secret, "grant_type": "client_credentials"});
    check(
        &emulator,
        &[
            // 1. Form bodies only: the same parameters as JSON are refused.
            row(
                "application/json",
                json_body.to_string(),
                invalid_request("Content-Type must be application/x-www-form-urlencoded"),
            ),
            row(
                "text/plain",
                poa_form(id, secret),
                invalid_request("Content-Type must be application/x-www-form-urlencoded"),
            ),
            // 2. No parameter twice.
            row(
                FORM,
                format!("{}&client_id={id}", poa_form(id, secret)),
                invalid_request("duplicated parameter"),
            ),
            // 3. The grant type, before the client.
            row(
                FORM,
                "client_id=x&client_secret=y",
                invalid_request("Missing form parameter: grant_type"),
            ),
            row(
                FORM,
                "client_id=x&client_secret=y&grant_type=password",
                expect(
                    400,
                    json!({"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"}),
                ),
            ),
            // 4. The client's parameters.
            row(
                FORM,
                "grant_type=client_credentials",
                invalid_request("Missing form parameter: client_id or client_secret"),
            ),
            row(
                FORM,
                format!("grant_type=client_credentials&client_id={id}&client_secret="),
                invalid_request("Missing form parameter: client_id or client_secret"),
            ),
            // 5. The client; the vendor's documented rejection, exactly.
            row(
                FORM,
                poa_form(id, "wrong"),
                expect(401, fixture("poa/response-rejected-credentials.json")),
            ),
            row(FORM, poa_form("wrong", secret), unauthorized_client()),
            // A Basic header is neither needed nor used.
            row(FORM, "grant_type=client_credentials", status(400))
                .with("authorization", basic(id, secret)),
        ],
    )
    .await;
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
