//! Every fault over the HTTP control API: `POST /__emulator/faults` with a `kind`, then what
//! one request observes; and the requests the control API refuses.

use std::time::Duration;

use partner_emulator::{Emulator, Endpoint};
use serde_json::{Value, json};

use crate::support::*;

/// What one faulted request observes.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// A status, and some bytes of the body that must be there.
    Status(u16, &'static str),
    /// A transport error or a timeout: no status.
    NoStatus,
    /// A status whose body fails to arrive whole.
    BrokenBody(u16),
}

async fn observe(
    request: reqwest::RequestBuilder,
) -> (Option<u16>, Result<Vec<u8>, reqwest::Error>) {
    match request.send().await {
        Err(error) => (None, Err(error)),
        Ok(response) => {
            let status = response.status().as_u16();
            (Some(status), response.bytes().await.map(|b| b.to_vec()))
        }
    }
}

#[tokio::test]
async fn every_fault_kind_over_http() {
    let emulator = Emulator::builder().start().await.unwrap();
    let other = Emulator::builder().start().await.unwrap();
    let token = podero_token(&emulator).await;
    let credentials = emulator.podero_credentials().clone();
    let base = emulator.base_url().to_owned();
    let elsewhere = format!("{}/x", other.base_url());
    let rows: Vec<(Value, Seen)> = vec![
        (
            json!({"kind": "status", "status": 503, "retry_after": 1}),
            Seen::Status(503, "injected"),
        ),
        (
            json!({"kind": "delay", "ms": 1}),
            Seen::Status(200, "access_token"),
        ),
        (json!({"kind": "close_connection"}), Seen::NoStatus),
        (json!({"kind": "reset_mid_headers"}), Seen::NoStatus),
        (json!({"kind": "truncated_body"}), Seen::BrokenBody(200)),
        (
            json!({"kind": "slow_headers", "bytes_per_second": 5}),
            Seen::NoStatus,
        ),
        (
            json!({"kind": "slow_body", "bytes_per_second": 5}),
            Seen::BrokenBody(200),
        ),
        (json!({"kind": "never_answer"}), Seen::NoStatus),
        (
            json!({"kind": "oversized_body", "bytes": 100_000}),
            Seen::Status(200, "oversized"),
        ),
        (
            json!({"kind": "oversized_body", "bytes": 100_000, "chunked": true}),
            Seen::Status(200, "oversized"),
        ),
        (
            json!({"kind": "gzip_bomb", "inflated_bytes": 1_000_000}),
            Seen::Status(200, "\u{1f}"),
        ),
        (
            json!({"kind": "invalid_utf8"}),
            Seen::Status(200, "access_token"),
        ),
        (
            json!({"kind": "deep_json", "depth": 100}),
            Seen::Status(200, "[[[["),
        ),
        (json!({"kind": "informational_flood"}), Seen::NoStatus),
        (
            json!({"kind": "conflicting_content_length"}),
            Seen::NoStatus,
        ),
        (
            json!({"kind": "redirect", "location": elsewhere}),
            Seen::Status(302, ""),
        ),
        (
            json!({"kind": "redirect", "location": elsewhere, "status": 308}),
            Seen::Status(308, ""),
        ),
        (
            json!({"kind": "echo_credentials", "format": "raw"}),
            Seen::Status(500, "client_secret="),
        ),
        (
            json!({"kind": "echo_credentials", "format": "html", "status": 400}),
            Seen::Status(400, "<code>client_secret="),
        ),
        (
            json!({"kind": "control_characters"}),
            Seen::Status(400, "nothing happened"),
        ),
        (
            json!({"kind": "json_field", "name": "expires_in", "raw": "1e309"}),
            Seen::Status(200, "\"expires_in\":1e309"),
        ),
    ];
    let client = impatient(Duration::from_millis(300));
    for (n, (fault, expected)) in rows.into_iter().enumerate() {
        let mut request = fault.clone();
        request["endpoint"] = json!("podero_token");
        let got = send(
            http()
                .post(format!("{base}/__emulator/faults"))
                .json_body(&request),
        )
        .await;
        status(204).empty_body().check(&got, &fault.to_string());
        let (status, body) = observe(
            client
                .post(format!("{base}/oauth2/token/"))
                .header(
                    "authorization",
                    basic(&credentials.client_id, &credentials.client_secret),
                )
                .header("content-type", "application/json")
                .body(GRANT),
        )
        .await;
        let seen = match (status, body) {
            (None, _) => Seen::NoStatus,
            (Some(status), Err(_)) => Seen::BrokenBody(status),
            (Some(status), Ok(body)) => match &expected {
                Seen::Status(_, part) => {
                    let text = String::from_utf8_lossy(&body);
                    assert!(text.contains(part), "{fault}: {text:.200}");
                    Seen::Status(status, part)
                }
                _ => Seen::Status(status, ""),
            },
        };
        assert_eq!(seen, expected, "{fault}");
        assert_eq!(emulator.request_count(Endpoint::PoderoToken), n as u64 + 2);
    }
    // A pagination trap, on list_users only.
    emulator.set_list_format(partner_emulator::ListFormat::Results { page_size: 1 });
    for (trap, next) in [
        (
            json!({"trap": "self_link"}),
            format!("{}?page=1", users_url(&emulator)),
        ),
        (
            json!({"trap": "cycle"}),
            format!("{}?page=2", users_url(&emulator)),
        ),
        (
            json!({"trap": "endless"}),
            format!("{}?page=2", users_url(&emulator)),
        ),
        (json!({"trap": "huge_page", "users": 3}), String::new()),
        (
            json!({"trap": "cross_origin", "next": elsewhere}),
            elsewhere.clone(),
        ),
    ] {
        let mut request = trap.clone();
        request["kind"] = json!("pagination");
        request["endpoint"] = json!("list_users");
        let got = send(
            http()
                .post(format!("{base}/__emulator/faults"))
                .json_body(&request),
        )
        .await;
        status(204).check(&got, &trap.to_string());
        let page = send(
            http()
                .get(format!("{}?page=1", users_url(&emulator)))
                .bearer_auth(&token),
        )
        .await
        .json();
        let want = if next.is_empty() {
            Value::Null
        } else {
            json!(next)
        };
        assert_eq!(page["next"], want, "{trap}");
    }
    assert_eq!(other.counters().total(), 0);
    drop(client);
    wait_until(
        Duration::from_secs(5),
        "every fault's connection is closed",
        || emulator.open_connections() == 0,
    )
    .await;
}

#[tokio::test]
async fn bad_fault_requests_are_400_and_change_nothing() {
    let emulator = Emulator::builder().start().await.unwrap();
    let bad = |kind: Value| {
        let mut body = kind;
        if body.get("endpoint").is_none() {
            body["endpoint"] = json!("podero_token");
        }
        body
    };
    let rows = [
        bad(json!({"kind": "teleport"})),
        bad(json!({"kind": "status", "status": 99})),
        bad(json!({"kind": "status"})),
        bad(json!({"kind": "delay", "ms": 1, "status": 500})),
        bad(json!({"kind": "close_connection", "typo": true})),
        bad(json!({"kind": "slow_body", "bytes_per_second": 0})),
        bad(json!({"kind": "slow_headers"})),
        bad(json!({"kind": "oversized_body", "bytes": 0})),
        bad(json!({"kind": "gzip_bomb", "inflated_bytes": 0})),
        bad(json!({"kind": "gzip_bomb", "inflated_bytes": 1u64 << 40})),
        bad(json!({"kind": "deep_json", "depth": 0})),
        bad(json!({"kind": "deep_json", "depth": 2_000_000})),
        bad(json!({"kind": "redirect", "location": ""})),
        bad(json!({"kind": "redirect", "location": "http://x/\n"})),
        bad(json!({"kind": "redirect", "location": "http://x/", "status": 200})),
        bad(json!({"kind": "echo_credentials", "format": "xml"})),
        bad(json!({"kind": "echo_credentials", "format": "raw", "status": 600})),
        bad(json!({"kind": "control_characters", "status": 100})),
        bad(json!({"kind": "json_field", "name": "", "raw": "1"})),
        bad(json!({"kind": "json_field", "name": "a"})),
        bad(json!({"kind": "pagination", "trap": "cycle", "endpoint": "get_user"})),
        bad(json!({"kind": "pagination", "trap": "loop", "endpoint": "list_users"})),
        bad(json!({"kind": "pagination", "trap": "huge_page", "endpoint": "list_users"})),
        bad(
            json!({"kind": "pagination", "trap": "huge_page", "users": 100_001, "endpoint": "list_users"}),
        ),
        bad(json!({"kind": "pagination", "trap": "cycle", "users": 2, "endpoint": "list_users"})),
        bad(json!({"kind": "pagination", "trap": "cross_origin", "endpoint": "list_users"})),
        bad(json!({"kind": "never_answer", "count": 0})),
        json!({"kind": "never_answer"}),
        json!([]),
    ];
    for body in rows {
        let got = send(
            http()
                .post(format!("{}/__emulator/faults", emulator.base_url()))
                .json_body(&body),
        )
        .await;
        status(400)
            .field("error", json!("invalid_request"))
            .check(&got, &body.to_string());
    }
    assert_eq!(
        podero_token(&emulator).await.len(),
        30,
        "nothing was injected"
    );
}
