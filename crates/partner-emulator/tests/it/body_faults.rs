//! Faults that answer through HTTP with bodies that break clients: gzip bombs, invalid UTF-8,
//! deep nesting, redirects to another origin, echoed credentials, control characters,
//! unacceptable JSON values and pagination traps.

use partner_emulator::{EchoFormat, Emulator, Endpoint, Fault, ListFormat, PaginationTrap};
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn a_gzip_bomb_is_small_on_the_wire() {
    let emulator = Emulator::builder().start().await.unwrap();
    let inflated = 1u64 << 30;
    emulator.inject_fault(Endpoint::PoderoToken, Fault::gzip_bomb(inflated));
    let credentials = emulator.podero_credentials();
    // This client does not decompress: it sees the bytes as sent.
    let got = send(podero_token_request(
        &emulator,
        &basic(&credentials.client_id, &credentials.client_secret),
        "application/json",
        GRANT,
    ))
    .await;
    status(200)
        .header("content-encoding", "gzip")
        .header("content-type", "application/json")
        .check(&got, "bomb");
    assert!(got.body.starts_with(&[0x1f, 0x8b, 8]), "a gzip stream");
    assert!(
        (got.body.len() as u64) < inflated / 500,
        "{} bytes",
        got.body.len()
    );
    // gzip's trailer: the inflated size modulo 2^32, here at least 2^30.
    let isize = u32::from_le_bytes(got.body[got.body.len() - 4..].try_into().unwrap());
    assert!(u64::from(isize) >= inflated, "{isize}");
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 1);
}

#[tokio::test]
async fn invalid_utf8_deep_json_and_unacceptable_values() {
    let emulator = Emulator::builder().start().await.unwrap();
    let token = || async {
        let credentials = emulator.podero_credentials();
        send(podero_token_request(
            &emulator,
            &basic(&credentials.client_id, &credentials.client_secret),
            "application/json",
            GRANT,
        ))
        .await
    };
    emulator.inject_fault(Endpoint::PoderoToken, Fault::invalid_utf8());
    let got = token().await;
    assert_eq!(got.status, 200);
    assert!(String::from_utf8(got.body.clone()).is_err());
    assert!(got.body.starts_with(b"{\"access_token\":\"\xff\xfe"));
    assert!(serde_json::from_slice::<Value>(&got.body).is_err());

    emulator.inject_fault(Endpoint::PoderoToken, Fault::deep_json(10_000));
    let got = token().await;
    status(200)
        .header("content-type", "application/json")
        .check(&got, "deep");
    assert_eq!(got.body.len(), 20_000);
    assert!(got.body.starts_with(b"[[[[") && got.body.ends_with(b"]]]]"));
    assert!(
        serde_json::from_slice::<Value>(&got.body).is_err(),
        "beyond serde_json's limit"
    );

    // Valid JSON, unacceptable values: a number beyond f64, a negative lifetime.
    emulator.inject_fault(
        Endpoint::PoderoToken,
        Fault::json_field("expires_in", "1e309"),
    );
    emulator.inject_fault(Endpoint::PoderoToken, Fault::json_field("expires_in", "-1"));
    emulator.inject_fault(
        Endpoint::PoderoToken,
        Fault::json_field("refresh_token", r#""r""#),
    );
    let text = String::from_utf8(token().await.body).unwrap();
    assert!(text.contains(r#","expires_in":1e309,"#), "{text}");
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "serde_json refuses 1e309"
    );
    assert_eq!(token().await.json()["expires_in"], -1);
    let body = token().await.json();
    assert_eq!(body["refresh_token"], "r");
    assert_eq!(body["expires_in"], 36000);
    // Errors are JSON objects too.
    emulator.inject_fault(Endpoint::PoaToken, Fault::json_field("error", "null"));
    let got = send(poa_token_request(
        &emulator,
        POA_PATHS[0],
        FORM,
        String::new(),
    ))
    .await;
    assert_eq!(got.status, 400);
    assert_eq!(got.json()["error"], Value::Null);
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 5);
}

/// A redirect to another origin, here a second emulator on another port.
#[tokio::test]
async fn redirects_to_another_origin() {
    let emulator = Emulator::builder()
        .podero_client("id", "secret")
        .start()
        .await
        .unwrap();
    let other = Emulator::builder().start().await.unwrap();
    let elsewhere = format!("{}/oauth2/token/", other.base_url());
    emulator.inject_fault(Endpoint::PoderoToken, Fault::redirect(302, &elsewhere));
    let got = send(podero_token_request(
        &emulator,
        &basic("id", "secret"),
        "application/json",
        GRANT,
    ))
    .await;
    status(302)
        .header("location", elsewhere.as_str())
        .empty_body()
        .check(&got, "302");
    assert_eq!(
        other.counters().total(),
        0,
        "this client does not follow redirects"
    );

    // A client that follows a 307 across origins resends the body but drops the credentials:
    // the other origin echoes what it got.
    emulator.inject_fault(Endpoint::PoderoToken, Fault::redirect(307, &elsewhere));
    other.inject_fault(
        Endpoint::PoderoToken,
        Fault::echo_credentials(200, EchoFormat::Raw),
    );
    let following = reqwest::Client::builder()
        .tls_certs_only(std::iter::empty())
        .build()
        .unwrap();
    let got = send(
        following
            .post(format!("{}/oauth2/token/", emulator.base_url()))
            .header("authorization", basic("id", "secret"))
            .header("content-type", "application/json")
            .body(GRANT),
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(
        String::from_utf8(got.body).unwrap(),
        "Internal error while checking client_secret=\n",
        "reqwest strips Authorization on a cross-origin redirect"
    );
    assert_eq!(other.request_count(Endpoint::PoderoToken), 1);
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 2);
}

/// The same secret, echoed in each format; the bytes a scrubber must recognise.
#[tokio::test]
async fn echoed_credentials_in_every_format() {
    let emulator = Emulator::builder()
        .podero_client(AWKWARD, AWKWARD)
        .poa_client("poa", AWKWARD)
        .start()
        .await
        .unwrap();
    let rows = [
        (
            EchoFormat::Raw,
            "text/plain; charset=utf-8",
            "client_secret=a b:c+d/e=f%&é\n",
        ),
        (
            EchoFormat::JsonEscaped,
            "application/json",
            r#"client_secret \"a b:c+d\/e=f%&\u00e9\""}"#,
        ),
        (
            EchoFormat::FormEncoded,
            "application/x-www-form-urlencoded",
            "&client_secret=a+b%3Ac%2Bd%2Fe%3Df%25%26%C3%A9",
        ),
        (
            EchoFormat::Html,
            "text/html; charset=utf-8",
            "<code>client_secret=a b:c+d/e=f%&amp;é</code>",
        ),
    ];
    for (format, content_type, tail) in rows {
        // The Basic header's secret (Podero), the form's client_secret (POA).
        emulator.inject_fault(Endpoint::PoderoToken, Fault::echo_credentials(500, format));
        emulator.inject_fault(Endpoint::PoaToken, Fault::echo_credentials(400, format));
        let podero = send(podero_token_request(
            &emulator,
            &basic(AWKWARD, AWKWARD),
            "application/json",
            GRANT,
        ))
        .await;
        let poa = send(poa_token_request(
            &emulator,
            POA_PATHS[0],
            FORM,
            poa_form("poa", AWKWARD),
        ))
        .await;
        for (got, status) in [(podero, 500), (poa, 400)] {
            self::status(status)
                .header("content-type", content_type)
                .check(&got, &format!("{format:?}"));
            let text = String::from_utf8(got.body).unwrap();
            assert!(text.contains(tail), "{format:?}: {text}");
        }
    }
    // The JSON one parses back to the secret.
    emulator.inject_fault(
        Endpoint::PoderoToken,
        Fault::echo_credentials(400, EchoFormat::JsonEscaped),
    );
    let got = send(podero_token_request(
        &emulator,
        &basic(AWKWARD, AWKWARD),
        "application/json",
        GRANT,
    ))
    .await;
    let description = got.json()["error_description"].as_str().unwrap().to_owned();
    assert!(
        description.ends_with(&format!("\"{AWKWARD}\"")),
        "{description}"
    );
    // On the users API, the bearer token.
    let token = send(podero_token_request(
        &emulator,
        &basic(AWKWARD, AWKWARD),
        "application/json",
        GRANT,
    ))
    .await
    .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    emulator.inject_fault(
        Endpoint::ListUsers,
        Fault::echo_credentials(502, EchoFormat::Raw),
    );
    let got = send(http().get(users_url(&emulator)).bearer_auth(&token)).await;
    assert_eq!(got.status, 502);
    assert!(String::from_utf8(got.body).unwrap().contains(&token));
}

#[tokio::test]
async fn control_characters_in_error_texts() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject_fault(Endpoint::PoderoToken, Fault::control_characters(400));
    emulator.inject_fault(Endpoint::GetUser, Fault::control_characters(404));
    let text = "\u{1b}[2J\u{7}invalid request\r\nerror: nothing happened, all good";
    let got = send(podero_token_request(
        &emulator,
        "",
        "application/json",
        GRANT,
    ))
    .await;
    expect(
        400,
        json!({"error": "invalid_request", "error_description": text, "detail": text}),
    )
    .check(&got, "token");
    let got = send(http().get(format!("{}/{}", users_url(&emulator), uuid::Uuid::new_v4()))).await;
    assert_eq!(
        (got.status, got.json()["detail"].as_str()),
        (404, Some(text))
    );
    // On the wire the characters are JSON escapes; a client decoding the JSON gets them raw.
    assert!(!got.body.contains(&0x1b));
}

#[tokio::test]
async fn pagination_traps() {
    let emulator = Emulator::builder().start().await.unwrap();
    let token = podero_token(&emulator).await;
    let url = users_url(&emulator);
    for n in 0..3 {
        let got = send(
            http()
                .post(&url)
                .bearer_auth(&token)
                .json_body(&json!({"email": format!("u{n}@example.com"), "role": "user"})),
        )
        .await;
        assert_eq!(got.status, 201);
    }
    emulator.set_list_format(ListFormat::Results { page_size: 2 });
    let get = |url: String| {
        let token = token.clone();
        async move {
            let got = send(http().get(url).bearer_auth(token)).await;
            assert_eq!(got.status, 200);
            got.json()
        }
    };
    let emails = |page: &Value, key: &str| -> Vec<String> {
        page[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect()
    };

    // `next` points at the page itself.
    emulator.inject_fault(
        Endpoint::ListUsers,
        Fault::pagination(PaginationTrap::SelfLink).times(2),
    );
    let page = get(format!("{url}?page=2")).await;
    assert_eq!(page["next"], format!("{url}?page=2"));
    assert_eq!(emails(&page, "results"), ["u2@example.com"]);
    assert_eq!(
        get(page["next"].as_str().unwrap().to_owned()).await["next"],
        page["next"]
    );

    // 1 → 2 → 1 → ...
    emulator.inject_fault(
        Endpoint::ListUsers,
        Fault::pagination(PaginationTrap::Cycle).times(3),
    );
    let first = get(url.clone()).await;
    assert_eq!(first["next"], format!("{url}?page=2"));
    let second = get(first["next"].as_str().unwrap().to_owned()).await;
    assert_eq!(second["next"], format!("{url}?page=1"));
    let again = get(second["next"].as_str().unwrap().to_owned()).await;
    assert_eq!(emails(&again, "results"), emails(&first, "results"));

    // Fresh users on every page, and always a next one.
    emulator.inject_fault(
        Endpoint::ListUsers,
        Fault::pagination(PaginationTrap::Endless).times(5),
    );
    let mut next = url.clone();
    let mut seen = std::collections::HashSet::new();
    for page in 1..=5 {
        let body = get(next).await;
        assert_eq!(body["next"], format!("{url}?page={}", page + 1));
        for email in emails(&body, "results") {
            assert!(seen.insert(email), "fresh users");
        }
        next = body["next"].as_str().unwrap().to_owned();
    }
    assert_eq!(seen.len(), 10);

    // One huge page, in the Items envelope.
    emulator.set_list_format(ListFormat::Items { page_size: 2 });
    emulator.inject_fault(
        Endpoint::ListUsers,
        Fault::pagination(PaginationTrap::HugePage { users: 20_000 }),
    );
    let huge = get(url.clone()).await;
    assert_eq!(huge["items"].as_array().unwrap().len(), 20_000);
    assert_eq!(huge["next"], Value::Null);

    // `next` on another origin.
    let other = "http://127.0.0.2:9/elsewhere?page=2";
    emulator.inject_fault(
        Endpoint::ListUsers,
        Fault::pagination(PaginationTrap::CrossOrigin { next: other.into() }),
    );
    assert_eq!(get(url.clone()).await["next"], other);

    // Traps used up: the real pages again; on other endpoints a trap changes nothing.
    assert_eq!(get(url.clone()).await["next"], format!("{url}?page=2"));
    emulator.set_list_format(ListFormat::BareArray);
    emulator.inject_fault(
        Endpoint::ListUsers,
        Fault::pagination(PaginationTrap::Cycle),
    );
    let trapped = get(url.clone()).await;
    assert_eq!(
        trapped["next"],
        format!("{url}?page=2"),
        "the Results envelope, 100 a page"
    );
    assert_eq!(trapped["count"], 3);
    emulator.inject_fault(
        Endpoint::PoderoToken,
        Fault::pagination(PaginationTrap::Endless),
    );
    assert_eq!(podero_token(&emulator).await.len(), 30);
    assert_eq!(emulator.request_count(Endpoint::ListUsers), 14);
}
