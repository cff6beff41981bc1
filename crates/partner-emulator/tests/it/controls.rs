//! Observation (counters, request log) and the HTTP control API under `/__emulator/`.

use std::time::Duration;

use partner_emulator::{Emulator, Endpoint};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

/// One control call: method, path under `/__emulator/`, JSON body (none for `Null`).
pub(crate) struct Row {
    method: Method,
    path: &'static str,
    body: Value,
    expect: Expect,
}

pub(crate) fn row(method: Method, path: &'static str, body: Value, expect: Expect) -> Row {
    Row {
        method,
        path,
        body,
        expect,
    }
}

async fn control(emulator: &Emulator, row: &Row) -> Answer {
    let mut request = http().request(
        row.method.clone(),
        format!("{}/__emulator/{}", emulator.base_url(), row.path),
    );
    if !row.body.is_null() {
        request = request.json_body(&row.body);
    }
    send(request).await
}

/// Sends the rows in order and checks each answer.
pub(crate) async fn check(emulator: &Emulator, rows: &[Row]) {
    for row in rows {
        let got = control(emulator, row).await;
        row.expect
            .check(&got, &format!("{} {} {}", row.method, row.path, row.body));
    }
}

/// A change that must be accepted: 204, no body.
#[track_caller]
pub(crate) fn ok(method: Method, path: &'static str, body: Value) -> Row {
    row(method, path, body, status(204).empty_body())
}

#[tokio::test]
async fn counters_and_log_are_exact_and_hold_no_secrets() {
    let emulator = Emulator::builder().start().await.unwrap();
    let token = podero_token(&emulator).await;
    let poa = poa_token(&emulator).await;
    let jwt = poa["access_token"].as_str().unwrap();
    let url = users_url(&emulator);
    let base = emulator.base_url();
    send(http().get(format!("{url}?page=1")).bearer_auth(&token)).await;
    send(
        http()
            .get(format!("{url}/{}", uuid::Uuid::new_v4()))
            .bearer_auth(&token),
    )
    .await;
    send(http().get(format!("{base}/nowhere"))).await;
    send(
        http()
            .get(format!("{base}/__emulator/poa/whoami"))
            .bearer_auth(jwt),
    )
    .await;
    // A control request: neither counted nor logged.
    send(http().get(format!("{base}/__emulator/counters"))).await;

    let counters = emulator.counters();
    let expected = [
        (Endpoint::PoderoToken, 1),
        (Endpoint::PoaToken, 1),
        (Endpoint::ListUsers, 1),
        (Endpoint::GetUser, 1),
        (Endpoint::CreateUser, 0),
        (Endpoint::PoaWhoami, 1),
    ];
    for (endpoint, count) in expected {
        assert_eq!(counters.get(endpoint), count, "{endpoint}");
    }
    assert_eq!(counters.total(), 5);
    assert_eq!(counters.iter().count(), Endpoint::ALL.len());
    assert_eq!(
        serde_json::to_value(&counters).unwrap(),
        json!({
            "podero_token": 1, "poa_token": 1, "list_users": 1, "create_user": 0,
            "get_user": 1, "update_user": 0, "delete_user": 0, "poa_whoami": 1
        })
    );
    let over_http = send(http().get(format!("{base}/__emulator/counters")))
        .await
        .json();
    assert_eq!(over_http, serde_json::to_value(&counters).unwrap());
    assert_eq!(
        serde_json::from_value::<partner_emulator::Counters>(over_http).unwrap(),
        counters
    );

    let log = emulator.request_log();
    let org = emulator.org_id().to_string();
    let lines: Vec<(String, u16, Option<Endpoint>)> = log
        .iter()
        .map(|e| {
            (
                format!("{} {}", e.method, e.path.replace(&org, "{org}")),
                e.status,
                e.endpoint,
            )
        })
        .collect();
    let user_path = format!(
        "GET /api/partners/v2.0/org/{{org}}/users/{}",
        log[3].path.rsplit('/').next().unwrap()
    );
    let expected: Vec<(String, u16, Option<Endpoint>)> = [
        ("POST /oauth2/token/", 200, Some(Endpoint::PoderoToken)),
        (
            "POST /v2/auth/cybrillarta/token",
            200,
            Some(Endpoint::PoaToken),
        ),
        (
            "GET /api/partners/v2.0/org/{org}/users",
            200,
            Some(Endpoint::ListUsers),
        ),
        (user_path.as_str(), 404, Some(Endpoint::GetUser)),
        ("GET /nowhere", 404, None),
        ("GET /__emulator/poa/whoami", 200, Some(Endpoint::PoaWhoami)),
    ]
    .into_iter()
    .map(|(line, status, endpoint)| (line.to_owned(), status, endpoint))
    .collect();
    assert_eq!(lines, expected);
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));

    let over_http = send(http().get(format!("{base}/__emulator/requests")))
        .await
        .json();
    assert_eq!(over_http, serde_json::to_value(&log).unwrap());
    assert_eq!(over_http[0]["endpoint"], "podero_token");
    assert_eq!(over_http[4]["endpoint"], Value::Null);
    let podero = emulator.podero_credentials();
    let poa_credentials = emulator.poa_credentials();
    for text in [format!("{log:?}"), over_http.to_string()] {
        for secret in [
            token.as_str(),
            jwt,
            podero.client_secret.as_str(),
            poa_credentials.client_secret.as_str(),
        ] {
            assert!(!text.contains(secret), "the log leaks {secret}: {text}");
        }
        assert!(!text.contains("page="), "no query strings: {text}");
    }
    // Debug output of the credentials hides the secret too.
    let debug = format!("{podero:?}");
    assert!(debug.contains(&podero.client_id) && !debug.contains(&podero.client_secret));
}

#[tokio::test]
async fn the_http_controls_do_what_the_rust_api_does() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credentials = emulator.podero_credentials().clone();
    let token_response = || async {
        send(podero_token_request(
            &emulator,
            &basic(&credentials.client_id, &credentials.client_secret),
            "application/json",
            GRANT,
        ))
        .await
    };
    let url = users_url(&emulator);
    let list = |token: &str| send(http().get(&url).bearer_auth(token));

    // Faults: status (with Retry-After), delay and close_connection.
    check(
        &emulator,
        &[
            ok(
                Method::POST,
                "faults",
                json!({"endpoint": "podero_token", "count": 2, "status": 502, "retry_after": 1}),
            ),
            ok(
                Method::POST,
                "faults",
                json!({"endpoint": "podero_token", "delay_ms": 1}),
            ),
            ok(
                Method::POST,
                "faults",
                json!({"endpoint": "podero_token", "close_connection": true}),
            ),
        ],
    )
    .await;
    assert_eq!(token_response().await.status, 502);
    assert_eq!(token_response().await.status, 502);
    assert_eq!(token_response().await.status, 200);
    let closed = http()
        .post(format!("{}/oauth2/token/", emulator.base_url()))
        .send()
        .await
        .unwrap_err();
    assert!(closed.status().is_none(), "{closed:?}");

    // Lifetimes and the clock.
    let lifetime = |vendor: &str, seconds: u64| {
        ok(
            Method::POST,
            "token-lifetime",
            json!({"vendor": vendor, "seconds": seconds}),
        )
    };
    check(&emulator, &[lifetime("podero", 60)]).await;
    let body = token_response().await.json();
    assert_eq!(body["expires_in"], 60);
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(list(&token).await.status, 200);
    check(
        &emulator,
        &[ok(Method::POST, "advance-time", json!({"seconds": 61}))],
    )
    .await;
    assert_eq!(list(&token).await.status, 401);
    check(
        &emulator,
        &[
            lifetime("poa", 90),
            ok(Method::POST, "poa-jwt-lifetime", json!({"seconds": 30})),
        ],
    )
    .await;
    let poa = poa_token(&emulator).await;
    assert_eq!(poa["expires_in"], 90);
    assert_eq!(jwt_lifetime(&poa), 30);
    check(
        &emulator,
        &[ok(
            Method::POST,
            "poa-jwt-lifetime",
            json!({"seconds": null}),
        )],
    )
    .await;
    assert_eq!(jwt_lifetime(&poa_token(&emulator).await), 90);

    // Revocation.
    let token = token_response().await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    check(&emulator, &[ok(Method::POST, "revoke-tokens", Value::Null)]).await;
    assert_eq!(list(&token).await.status, 401);

    // The list format.
    let token = token_response().await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let formats = [
        (
            json!({"format": "items", "page_size": 2}),
            json!({"items": [], "next": null}),
        ),
        (
            json!({"format": "results", "page_size": 2}),
            json!({"count": 0, "next": null, "previous": null, "results": []}),
        ),
        (json!({"format": "bare_array"}), json!([])),
    ];
    for (format, listed) in formats {
        check(&emulator, &[ok(Method::PUT, "list-format", format)]).await;
        assert_eq!(list(&token).await.json(), listed);
    }

    // Observation: control requests are not in the counters or the log.
    let counters = control(
        &emulator,
        &row(Method::GET, "counters", Value::Null, status(200)),
    )
    .await
    .json();
    assert_eq!(counters, serde_json::to_value(emulator.counters()).unwrap());
    assert_eq!(counters["podero_token"], 7);
    assert_eq!(counters["list_users"], 6);
    assert_eq!(counters["poa_token"], 2);
    let log = control(
        &emulator,
        &row(Method::GET, "requests", Value::Null, status(200)),
    )
    .await
    .json();
    assert_eq!(log.as_array().unwrap().len(), 15, "{log}");
    assert_eq!(log, serde_json::to_value(emulator.request_log()).unwrap());

    // Reset.
    check(&emulator, &[ok(Method::POST, "reset", Value::Null)]).await;
    assert_eq!(emulator.counters().total(), 0);
    assert!(emulator.request_log().is_empty());
    let body = token_response().await.json();
    assert_eq!(body["expires_in"], 36000, "reset restores the lifetimes");
    assert_eq!(jwt_lifetime(&poa_token(&emulator).await), 1800);
    assert!(
        (emulator.now() - chrono::Utc::now()).num_seconds().abs() <= 2,
        "and the clock"
    );
}

#[tokio::test]
async fn bad_control_requests_are_400_with_a_json_error() {
    let emulator = Emulator::builder().start().await.unwrap();
    let bad = |method: Method, path: &'static str, body: Value| {
        row(
            method,
            path,
            body,
            status(400).header("content-type", "application/json"),
        )
    };
    let fault = |body: Value| bad(Method::POST, "faults", body);
    let rows = [
        fault(json!({"endpoint": "nope", "status": 502})),
        fault(json!({"endpoint": "get_user"})),
        fault(json!({"endpoint": "get_user", "status": 502, "delay_ms": 5})),
        fault(json!({"endpoint": "get_user", "status": 700})),
        fault(json!({"endpoint": "get_user", "status": 100})),
        fault(json!({"endpoint": "get_user", "status": 503, "count": 0})),
        fault(json!({"endpoint": "get_user", "delay_ms": 5, "retry_after": 1})),
        fault(json!({"endpoint": "get_user", "close_connection": false})),
        fault(json!({"endpoint": "get_user", "status": 503, "typo": 1})),
        bad(
            Method::POST,
            "token-lifetime",
            json!({"vendor": "acme", "seconds": 1}),
        ),
        bad(
            Method::POST,
            "token-lifetime",
            json!({"vendor": "poa", "seconds": -1}),
        ),
        bad(Method::POST, "advance-time", json!({"seconds": "soon"})),
        bad(Method::POST, "advance-time", json!([])),
        bad(Method::POST, "poa-jwt-lifetime", json!({})),
        bad(Method::PUT, "list-format", json!({"format": "results"})),
        bad(
            Method::PUT,
            "list-format",
            json!({"format": "results", "page_size": 0}),
        ),
        bad(
            Method::PUT,
            "list-format",
            json!({"format": "pages", "page_size": 2}),
        ),
        bad(
            Method::PUT,
            "list-format",
            json!({"format": "bare_array", "page_size": 2}),
        ),
    ];
    for row in &rows {
        let got = control(&emulator, row).await;
        row.expect
            .check(&got, &format!("{} {}", row.path, row.body));
        let error = got.json();
        assert_eq!(error["error"], "invalid_request", "{error}");
        assert!(error["error_description"].is_string(), "{error}");
    }
    let got = send(
        http()
            .post(format!("{}/__emulator/faults", emulator.base_url()))
            .body("{"),
    )
    .await;
    assert_eq!(got.status, 400);
    // Nothing was injected or changed.
    let token = podero_token(&emulator).await;
    expect(200, json!([])).check(
        &send(http().get(users_url(&emulator)).bearer_auth(token)).await,
        "untouched",
    );
    // The wrong method on a control path.
    check(
        &emulator,
        &[row(
            Method::GET,
            "reset",
            Value::Null,
            expect(405, json!({"detail": "Method \"GET\" not allowed."})),
        )],
    )
    .await;
}

#[tokio::test]
async fn reset_clears_everything_but_credentials_and_org() {
    let emulator = Emulator::builder()
        .podero_token_lifetime(Duration::from_secs(100))
        .start()
        .await
        .unwrap();
    let token = podero_token(&emulator).await;
    let url = users_url(&emulator);
    status(201).check(
        &send(
            http()
                .post(&url)
                .bearer_auth(&token)
                .json_body(&json!({"email": "a@b.co", "role": "user"})),
        )
        .await,
        "create",
    );
    emulator.inject_fault(Endpoint::ListUsers, partner_emulator::Fault::status(500));
    emulator.set_list_format(partner_emulator::ListFormat::Items { page_size: 1 });
    emulator.set_token_lifetime(partner_emulator::Vendor::Podero, Duration::from_secs(5));
    emulator.advance_time(Duration::from_secs(1000));
    let (credentials, org) = (emulator.podero_credentials().clone(), emulator.org_id());

    emulator.reset();
    assert_eq!(emulator.podero_credentials(), &credentials);
    assert_eq!(emulator.org_id(), org);
    assert!(emulator.request_log().is_empty());
    assert_eq!(emulator.counters().total(), 0);
    status(401).check(
        &send(http().get(&url).bearer_auth(&token)).await,
        "tokens are gone",
    );
    let token = podero_token(&emulator).await;
    expect(200, json!([])).check(
        &send(http().get(&url).bearer_auth(&token)).await,
        "no fault, bare array, no users",
    );
    let body = send(podero_token_request(
        &emulator,
        &basic(&credentials.client_id, &credentials.client_secret),
        "application/json",
        GRANT,
    ))
    .await
    .json();
    assert_eq!(
        body["expires_in"], 100,
        "the lifetime the emulator was built with"
    );
}
