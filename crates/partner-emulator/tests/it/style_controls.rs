//! The server styles over the HTTP control API: clients, Podero's body backend and bearer
//! rejection, revoke on new token; and the requests the control API refuses.

use reqwest::Method;
use serde_json::{Value, json};

use partner_emulator::Emulator;

use crate::controls::{check, ok, row};
use crate::support::*;

#[tokio::test]
async fn the_server_style_controls_do_what_the_rust_api_does() {
    let emulator = Emulator::builder().start().await.unwrap();
    let base = emulator.base_url().to_owned();
    let podero_token_with = |id: &'static str, secret: &'static str, content_type, body| {
        send(podero_token_request(
            &emulator,
            &basic(id, secret),
            content_type,
            body,
        ))
    };
    check(
        &emulator,
        &[
            ok(
                Method::POST,
                "clients",
                json!({"vendor": "podero", "client_id": "extra", "client_secret": "a b:c+d/e=f%&é"}),
            ),
            ok(
                Method::POST,
                "clients",
                json!({"vendor": "poa", "client_id": "reports", "client_secret": "s", "client_credentials_grant": false}),
            ),
            ok(Method::PUT, "podero-token-backend", json!({"backend": "form"})),
            ok(
                Method::PUT,
                "podero-bearer-rejection",
                json!({"style": "protected_resource_403"}),
            ),
            ok(
                Method::PUT,
                "revoke-on-new-token",
                json!({"vendor": "podero", "enabled": true}),
            ),
        ],
    )
    .await;
    // The form backend, with the extra client.
    let first = podero_token_with(
        "extra",
        "a b:c+d/e=f%&é",
        FORM,
        "grant_type=client_credentials",
    )
    .await
    .json();
    let first = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        podero_token_with("extra", "a b:c+d/e=f%&é", "application/json", GRANT)
            .await
            .json(),
        json!({"error": "unsupported_grant_type"})
    );
    let second = podero_token_with(
        "extra",
        "a b:c+d/e=f%&é",
        FORM,
        "grant_type=client_credentials",
    )
    .await
    .json();
    let second = second["access_token"].as_str().unwrap().to_owned();
    // The first token was revoked by the second, and rejections are bare 403s.
    let list = |token: String| send(http().get(users_url(&emulator)).bearer_auth(token));
    let got = list(first).await;
    assert_eq!((got.status, got.body.len()), (403, 0));
    assert_eq!(list(second).await.status, 200);
    // A POA client without the grant.
    let got = send(poa_token_request(
        &emulator,
        POA_PATHS[0],
        FORM,
        poa_form("reports", "s"),
    ))
    .await;
    assert_eq!(got.status, 401);
    assert_eq!(
        got.json()["error_description"],
        "Client not enabled to retrieve service account"
    );

    // Back to JSON and DRF's 401 over HTTP; a reset restores everything as built.
    check(
        &emulator,
        &[
            ok(
                Method::PUT,
                "podero-token-backend",
                json!({"backend": "json"}),
            ),
            ok(
                Method::PUT,
                "podero-bearer-rejection",
                json!({"style": "drf_401"}),
            ),
        ],
    )
    .await;
    assert_eq!(
        podero_token_with("extra", "a b:c+d/e=f%&é", "application/json", GRANT)
            .await
            .status,
        200
    );
    assert_eq!(list("unknown".to_owned()).await.status, 401);
    check(
        &emulator,
        &[ok(
            Method::PUT,
            "podero-bearer-rejection",
            json!({"style": "protected_resource_403"}),
        )],
    )
    .await;
    check(&emulator, &[ok(Method::POST, "reset", Value::Null)]).await;
    assert_eq!(
        list("unknown".to_owned()).await.status,
        401,
        "DRF's 401 again"
    );
    assert_eq!(
        podero_token_with("extra", "a b:c+d/e=f%&é", "application/json", GRANT)
            .await
            .status,
        401,
        "the extra client is gone"
    );
    let token = podero_token(&emulator).await;
    podero_token(&emulator).await;
    assert_eq!(list(token).await.status, 200, "no revocation on new tokens");

    // Bad requests change nothing.
    let bad = |method: Method, path: &'static str, body: Value| {
        row(
            method,
            path,
            body,
            status(400).field("error", json!("invalid_request")),
        )
    };
    check(
        &emulator,
        &[
            bad(
                Method::POST,
                "clients",
                json!({"vendor": "podero", "client_id": "", "client_secret": "s"}),
            ),
            bad(
                Method::POST,
                "clients",
                json!({"vendor": "podero", "client_id": "x", "client_secret": ""}),
            ),
            bad(
                Method::POST,
                "clients",
                json!({"vendor": "acme", "client_id": "x", "client_secret": "s"}),
            ),
            bad(
                Method::POST,
                "clients",
                json!({"vendor": "poa", "client_id": "x"}),
            ),
            bad(
                Method::POST,
                "clients",
                json!({"vendor": "poa", "client_id": "x", "client_secret": "s", "typo": 1}),
            ),
            bad(
                Method::PUT,
                "podero-token-backend",
                json!({"backend": "xml"}),
            ),
            bad(Method::PUT, "podero-token-backend", json!({})),
            bad(
                Method::PUT,
                "podero-bearer-rejection",
                json!({"style": "drf401"}),
            ),
            bad(Method::PUT, "revoke-on-new-token", json!({"vendor": "poa"})),
            bad(
                Method::PUT,
                "revoke-on-new-token",
                json!({"vendor": "poa", "enabled": "yes"}),
            ),
        ],
    )
    .await;
    let got = send(http().get(format!("{base}/__emulator/clients"))).await;
    assert_eq!(got.status, 405);
}
