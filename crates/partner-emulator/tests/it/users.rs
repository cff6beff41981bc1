//! Podero's users API: CRUD, validation, paths, bearer checks and list formats.

use std::time::Duration;

use partner_emulator::{Emulator, Endpoint, ListFormat, PoderoBearerRejection, Vendor};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

/// One users call: method, URL, `Authorization` header (none when empty), body (`None`: no
/// body; `Some((content type, text))` otherwise).
struct Row {
    method: Method,
    url: String,
    authorization: String,
    body: Option<(&'static str, String)>,
    expect: Expect,
}

fn row(method: Method, url: impl Into<String>, authorization: &str, expect: Expect) -> Row {
    Row {
        method,
        url: url.into(),
        authorization: authorization.to_owned(),
        body: None,
        expect,
    }
}

impl Row {
    fn json(self, body: Value) -> Self {
        self.raw("application/json", body.to_string())
    }

    fn raw(mut self, content_type: &'static str, body: impl Into<String>) -> Self {
        self.body = Some((content_type, body.into()));
        self
    }
}

fn request(row: &Row) -> reqwest::RequestBuilder {
    let mut request = http().request(row.method.clone(), &row.url);
    if !row.authorization.is_empty() {
        let value = reqwest::header::HeaderValue::from_bytes(row.authorization.as_bytes()).unwrap();
        request = request.header("authorization", value);
    }
    if let Some((content_type, body)) = &row.body {
        request = request
            .header("content-type", *content_type)
            .body(body.clone());
    }
    request
}

/// Sends the rows in order and checks each answer.
async fn check(rows: &[Row]) {
    for row in rows {
        let got = send(request(row)).await;
        let context = format!(
            "{} {} {:?} {:?}",
            row.method, row.url, row.authorization, row.body
        );
        row.expect.check(&got, &context);
    }
}

/// Sends one row and answers the JSON body after checking it.
async fn call(row: Row) -> Value {
    let got = send(request(&row)).await;
    row.expect
        .check(&got, &format!("{} {}", row.method, row.url));
    got.json()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn not_found() -> Expect {
    expect(404, json!({"detail": "Not found."}))
}

#[tokio::test]
async fn crud_round_trip_with_the_documented_fields() {
    let emulator = Emulator::builder().start().await.unwrap();
    let auth = bearer(&podero_token(&emulator).await);
    let url = users_url(&emulator);

    // The documented minimum body: every other field is null.
    let minimal = call(
        row(Method::POST, &url, &auth, status(201))
            .json(json!({"role": "user", "email": "someone@example.com"})),
    )
    .await;
    let id = minimal["id"].as_str().unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(id).unwrap().get_version_num(),
        4,
        "{id}"
    );
    assert_eq!(
        minimal,
        json!({
            "id": id, "external_user_id": null, "role": "user", "email": "someone@example.com",
            "first_name": null, "last_name": null, "street_and_number": null,
            "street_add_info": null, "zip_code": null, "town": null, "country": null,
            "latitude": null, "longitude": null, "location_last_updated": null
        })
    );

    // Every field, with the documented request names; unknown fields are ignored.
    let user = call(
        row(
            Method::POST,
            &url,
            &auth,
            status(201).header("content-type", "application/json"),
        )
        .json(json!({
            "role": "staff", "email": "jane@example.com", "external_user_id": "customer_12345",
            "first_name": "Jane", "last_name": "Doe", "street_and_number": "Hauptstr. 1",
            "street_add_info": "2nd floor", "zip_code": 11011, "town": "Berlin",
            "country_iso2": "DEU", "latitude": 52.5, "longitude": 13.4, "unknown": [1]
        })),
    )
    .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let updated_at = user["location_last_updated"].as_str().unwrap();
    // RFC 3339 with milliseconds and `Z`, on the emulator's clock.
    assert_eq!(
        updated_at.len(),
        "2023-07-15T19:34:29.000Z".len(),
        "{updated_at}"
    );
    assert!(updated_at.ends_with('Z'));
    let at = chrono::DateTime::parse_from_rfc3339(updated_at).unwrap();
    assert!((at.timestamp() - emulator.now().timestamp()).abs() <= 2);
    let mut redacted = user.clone();
    redacted["id"] = json!("[id]");
    redacted["location_last_updated"] = json!("[timestamp]");
    insta::assert_json_snapshot!(redacted, @r#"
    {
      "country": "DEU",
      "email": "jane@example.com",
      "external_user_id": "customer_12345",
      "first_name": "Jane",
      "id": "[id]",
      "last_name": "Doe",
      "latitude": 52.5,
      "location_last_updated": "[timestamp]",
      "longitude": 13.4,
      "role": "staff",
      "street_add_info": "2nd floor",
      "street_and_number": "Hauptstr. 1",
      "town": "Berlin",
      "zip_code": "11011"
    }
    "#);
    // The documented field order, as sent on the wire.
    let raw = send(request(&row(
        Method::GET,
        format!("{url}/{id}"),
        &auth,
        status(200),
    )))
    .await;
    let raw = String::from_utf8(raw.body).unwrap();
    let positions: Vec<usize> = [
        "id",
        "external_user_id",
        "role",
        "email",
        "first_name",
        "last_name",
        "street_and_number",
        "street_add_info",
        "zip_code",
        "town",
        "country",
        "latitude",
        "longitude",
        "location_last_updated",
    ]
    .iter()
    .map(|key| raw.find(&format!("\"{key}\":")).unwrap())
    .collect();
    assert!(positions.is_sorted(), "{raw}");
    assert_eq!(user.as_object().unwrap().len(), 14);

    // PUT changes only the fields sent: a string zip code keeps its leading zero, and
    // `country` is accepted as well as `country_iso2`.
    let mut updated = user.clone();
    updated["zip_code"] = json!("01067");
    updated["town"] = json!("Dresden");
    updated["country"] = json!("DE");
    updated["last_name"] = Value::Null;
    let user_url = format!("{url}/{id}");
    check(&[
        row(Method::GET, &user_url, &auth, expect(200, user.clone())),
        row(Method::PUT, &user_url, &auth, expect(200, updated.clone())).json(
            json!({"zip_code": "01067", "town": "Dresden", "country": "DE", "last_name": null}),
        ),
        row(
            Method::GET,
            &url,
            &auth,
            expect(200, json!([minimal, updated])),
        ),
        row(
            Method::DELETE,
            &user_url,
            &auth,
            status(204).no_header("content-type").empty_body(),
        ),
        // Gone at once.
        row(Method::GET, &user_url, &auth, not_found()),
        row(Method::PUT, &user_url, &auth, not_found()).json(json!({})),
        row(Method::DELETE, &user_url, &auth, not_found()),
        row(Method::GET, &url, &auth, expect(200, json!([minimal]))),
    ])
    .await;
}

#[tokio::test]
async fn validation_errors_name_the_field_as_django_rest_framework_does() {
    let emulator = Emulator::builder().start().await.unwrap();
    let auth = bearer(&podero_token(&emulator).await);
    let url = users_url(&emulator);
    let post = |expect: Expect| row(Method::POST, &url, &auth, expect);
    let bad = |errors: Value| expect(400, errors);
    let required =
        || bad(json!({"email": ["This field is required."], "role": ["This field is required."]}));
    let taken = || bad(json!({"email": ["user with this email already exists."]}));
    check(&[
        post(required()).json(json!({})),
        post(bad(
            json!({"email": ["Enter a valid email address."], "role": ["\"boss\" is not a valid choice."]}),
        ))
        .json(json!({"email": "nope", "role": "boss"})),
        post(bad(
            json!({"email": ["This field may not be null."], "role": ["\"3\" is not a valid choice."]}),
        ))
        .json(json!({"email": null, "role": 3})),
        post(bad(json!({"email": ["This field may not be blank."]})))
            .json(json!({"email": " ", "role": "user"})),
        // Every failing field at once.
        post(bad(json!({
            "zip_code": ["A valid integer is required."],
            "latitude": ["A valid number is required."],
            "longitude": ["A valid number is required."],
            "first_name": ["Not a valid string."],
            "country_iso2": ["Not a valid string."]
        })))
        .json(json!({
            "email": "x@example.com", "role": "user", "zip_code": true, "latitude": "north",
            "longitude": [1], "first_name": {"a": 1}, "country_iso2": 49
        })),
        // Bodies that are not a JSON object.
        post(bad(json!({"detail": "JSON parse error"}))).raw("application/json", "{not json"),
        post(bad(
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        ))
        .raw("application/json", "[]"),
        post(expect(
            415,
            json!({"detail": "Unsupported media type \"text/plain\" in request."}),
        ))
        .raw("text/plain", "{}"),
        // An empty body is an empty object.
        post(required()).raw("application/json", ""),
    ])
    .await;

    let first = call(post(status(201)).json(json!({"email": "a@b.co", "role": "admin"}))).await;
    // Emails are unique case-insensitively.
    check(&[post(taken()).json(json!({"email": "A@B.CO", "role": "staff"}))]).await;
    // Numeric strings are numbers to DRF.
    let second = call(
        post(status(201)).json(json!({"email": "c@d.co", "role": "user", "latitude": "48.1"})),
    )
    .await;
    assert_eq!(second["latitude"], 48.1);
    let second_url = format!("{url}/{}", second["id"].as_str().unwrap());
    let first_url = format!("{url}/{}", first["id"].as_str().unwrap());
    let put = |url: &str, expect: Expect| row(Method::PUT, url, &auth, expect);
    check(&[
        // Also on update.
        put(&second_url, taken()).json(json!({"email": "a@B.co"})),
        put(
            &second_url,
            bad(json!({"role": ["\"boss\" is not a valid choice."]})),
        )
        .json(json!({"role": "boss"})),
    ])
    .await;
    // A user may keep its own email, in another case.
    let same = call(put(&second_url, status(200)).json(json!({"email": "C@d.co"}))).await;
    assert_eq!(same["email"], "C@d.co");
    // Renaming frees the old address.
    check(&[
        put(&first_url, status(200)).json(json!({"email": "e@f.co"})),
        post(status(201)).json(json!({"email": "a@b.co", "role": "user"})),
    ])
    .await;
}

#[tokio::test]
async fn unknown_orgs_and_users_are_404_after_authentication() {
    let emulator = Emulator::builder().start().await.unwrap();
    let auth = bearer(&podero_token(&emulator).await);
    let base = emulator.base_url();
    let other_org = format!(
        "{base}/api/partners/v2.0/org/{}/users",
        uuid::Uuid::new_v4()
    );
    let get = |url: String| row(Method::GET, url, &auth, not_found());
    check(&[
        get(other_org.clone()),
        get(format!("{base}/api/partners/v2.0/org/not-a-uuid/users")),
        get(format!("{base}/api/partners/v2.0/org/%FF%FE/users")),
        get(format!("{}/{}", users_url(&emulator), uuid::Uuid::new_v4())),
        get(format!("{}/not-a-uuid", users_url(&emulator))),
        get(format!("{other_org}/{}", uuid::Uuid::new_v4())),
        get(format!("{}/", users_url(&emulator))),
        get(format!("{base}/nowhere")),
        // Creating in an unknown organisation.
        row(Method::POST, &other_org, &auth, not_found())
            .json(json!({"email": "a@b.co", "role": "user"})),
        // Authentication comes first.
        row(Method::GET, &other_org, "", status(401)),
    ])
    .await;
}

/// The default style, Django REST Framework with DOT's `OAuth2Authentication`: every rejection
/// is DRF's `NotAuthenticated` 401, and the challenge carries the error DOT's validator
/// recorded.
#[tokio::test]
async fn missing_invalid_revoked_and_expired_tokens_get_drf_401() {
    let emulator = Emulator::builder().start().await.unwrap();
    let url = users_url(&emulator);
    let rejected = |challenge: &str| {
        expect(
            401,
            json!({"detail": "Authentication credentials were not provided."}),
        )
        .header("www-authenticate", challenge)
        .header("content-type", "application/json")
    };
    // oauthlib finds no token: DOT records no error.
    let missing = || rejected("Bearer realm=\"api\"");
    let invalid = || {
        rejected(
            "Bearer realm=\"api\",error=\"invalid_token\",error_description=\"The access token is invalid.\"",
        )
    };
    let expired = || {
        rejected(
            "Bearer realm=\"api\",error=\"invalid_token\",error_description=\"The access token has expired.\"",
        )
    };
    let get = |authorization: &str, expect: Expect| row(Method::GET, &url, authorization, expect);
    let token = podero_token(&emulator).await;
    check(&[
        get("", missing()),
        get("Token abc", missing()),
        // oauthlib's `get_token_from_header` wants exactly two words.
        get("Bearer", missing()),
        get("bearer  ", missing()),
        get(&format!("Bearer {token} extra"), missing()),
        get("Bearer unknown", invalid()),
        get(&bearer(&token), status(200)),
        // The scheme is case-insensitive.
        get(&format!("BEARER {token}x"), invalid()),
        get(&format!("BEARER {token}"), status(200)),
        get(&format!("bearer \t {token} "), status(200)),
    ])
    .await;
    emulator.revoke_all_tokens();
    check(&[get(&bearer(&token), invalid())]).await;

    // Expiry on the emulator's clock: no real waiting.
    emulator.set_token_lifetime(Vendor::Podero, Duration::from_secs(60));
    let token = podero_token(&emulator).await;
    emulator.advance_time(Duration::from_secs(58));
    check(&[get(&bearer(&token), status(200))]).await;
    emulator.advance_time(Duration::from_secs(2));
    check(&[get(&bearer(&token), expired())]).await;

    // A POA token is not a Podero token.
    let body = poa_token(&emulator).await;
    check(&[get(
        &bearer(body["access_token"].as_str().unwrap()),
        invalid(),
    )])
    .await;
}

/// DOT's own `ProtectedResourceView` style: a bare 403 for every rejection.
#[tokio::test]
async fn the_protected_resource_style_answers_a_bare_403() {
    let emulator = Emulator::builder()
        .podero_bearer_rejection(PoderoBearerRejection::ProtectedResource403)
        .start()
        .await
        .unwrap();
    let url = users_url(&emulator);
    let forbidden = || {
        status(403)
            .empty_body()
            .no_header("www-authenticate")
            .header("content-type", "text/html; charset=utf-8")
    };
    let token = podero_token(&emulator).await;
    let get = |authorization: &str, expect: Expect| row(Method::GET, &url, authorization, expect);
    check(&[
        get("", forbidden()),
        get("Bearer unknown", forbidden()),
        get(&bearer(&token), status(200)),
        row(Method::POST, &url, "", forbidden()).json(json!({"email": "a@b.co", "role": "user"})),
    ])
    .await;
    emulator.revoke_all_tokens();
    check(&[get(&bearer(&token), forbidden())]).await;
    // Switched at run time, and back.
    emulator.set_podero_bearer_rejection(PoderoBearerRejection::Drf401);
    check(&[get(&bearer(&token), status(401))]).await;
    emulator.set_podero_bearer_rejection(PoderoBearerRejection::ProtectedResource403);
    check(&[get(&bearer(&token), forbidden())]).await;
    assert_eq!(
        logged_statuses(&emulator, Endpoint::ListUsers),
        [403, 403, 200, 403, 401, 403]
    );
}

#[tokio::test]
async fn list_formats_paginate_with_absolute_links() {
    let emulator = Emulator::builder().start().await.unwrap();
    let auth = bearer(&podero_token(&emulator).await);
    let url = users_url(&emulator);
    let get = |url: String| call(row(Method::GET, url, &auth, status(200)));
    check(&[row(Method::GET, &url, &auth, expect(200, json!([])))]).await;
    emulator.set_list_format(ListFormat::Results { page_size: 2 });
    check(&[row(
        Method::GET,
        &url,
        &auth,
        expect(
            200,
            json!({"count": 0, "next": null, "previous": null, "results": []}),
        ),
    )])
    .await;
    emulator.set_list_format(ListFormat::BareArray);
    let creates: Vec<Row> = (0..5)
        .map(|n| {
            row(Method::POST, &url, &auth, status(201))
                .json(json!({"email": format!("u{n}@example.com"), "role": "user"}))
        })
        .collect();
    check(&creates).await;
    let emails = |users: &Value| -> Vec<String> {
        users
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect()
    };
    let all: Vec<String> = (0..5).map(|n| format!("u{n}@example.com")).collect();
    assert_eq!(emails(&get(url.clone()).await), all, "creation order");

    emulator.set_list_format(ListFormat::Results { page_size: 2 });
    let page1 = get(url.clone()).await;
    assert_eq!(page1["count"], 5);
    assert_eq!(page1["next"], format!("{url}?page=2"));
    assert_eq!(page1["previous"], Value::Null);
    let page2 = get(page1["next"].as_str().unwrap().to_owned()).await;
    assert_eq!(page2["previous"], url, "DRF drops page=1 from links");
    assert_eq!(page2["next"], format!("{url}?page=3"));
    let page3 = get(page2["next"].as_str().unwrap().to_owned()).await;
    assert_eq!(page3["previous"], format!("{url}?page=2"));
    assert_eq!(page3["next"], Value::Null);
    let mut seen = emails(&page1["results"]);
    seen.extend(emails(&page2["results"]));
    seen.extend(emails(&page3["results"]));
    assert_eq!(seen, all);
    let invalid_page = |page: &str| {
        row(
            Method::GET,
            format!("{url}?page={page}"),
            &auth,
            expect(404, json!({"detail": "Invalid page."})),
        )
    };
    check(&[invalid_page("4"), invalid_page("0"), invalid_page("x")]).await;

    emulator.set_list_format(ListFormat::Items { page_size: 4 });
    let first = get(url.clone()).await;
    assert_eq!(first.as_object().unwrap().len(), 2, "{first}");
    assert_eq!(emails(&first["items"]), all[..4]);
    assert_eq!(first["next"], format!("{url}?page=2"));
    let second = get(first["next"].as_str().unwrap().to_owned()).await;
    assert_eq!(emails(&second["items"]), all[4..]);
    assert_eq!(second["next"], Value::Null);
}
