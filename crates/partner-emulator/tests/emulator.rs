//! The emulator's contract, over real HTTP on loopback with reqwest: never through the SDK,
//! which this emulator exists to check independently.
// Test code, helpers included: a failed unwrap is a failed test, with the value in its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Requests and decoding shared by every test module.
mod support {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use partner_emulator::Emulator;
    use reqwest::StatusCode;
    use serde_json::Value;

    /// An id and secret that break every shortcut: a space, a `:` (the Basic separator), and
    /// `+ / = % &` and a non-ASCII letter, which form-urlencoding must all escape.
    pub(crate) const AWKWARD: &str = "a b:c+d/e=f%&é";

    /// A new client, so that tests do not share pooled connections unless they mean to.
    /// The emulator speaks plain HTTP: loading no root certificates makes a client cost
    /// microseconds instead of tens of milliseconds.
    pub(crate) fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_only(std::iter::empty())
            .build()
            .unwrap()
    }

    /// A Basic header as RFC 6749 section 2.3.1 says: form-urlencode id and secret, then
    /// base64 `id:secret`.
    pub(crate) fn basic(id: &str, secret: &str) -> String {
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
        )
    }

    /// The status and the JSON body (`Null` when empty).
    pub(crate) async fn json(response: reqwest::Response) -> (StatusCode, Value) {
        let status = response.status();
        let body = response.bytes().await.unwrap();
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)))
        };
        (status, value)
    }

    pub(crate) async fn podero_token_request(
        emulator: &Emulator,
        authorization: &str,
        content_type: &str,
        body: &str,
    ) -> reqwest::Response {
        http()
            .post(format!("{}/oauth2/token/", emulator.base_url()))
            .header("authorization", authorization)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    pub(crate) const GRANT: &str = r#"{"grant_type":"client_credentials"}"#;

    /// A fresh Podero access token.
    pub(crate) async fn podero_token(emulator: &Emulator) -> String {
        let credentials = emulator.podero_credentials();
        let response = podero_token_request(
            emulator,
            &basic(&credentials.client_id, &credentials.client_secret),
            "application/json",
            GRANT,
        )
        .await;
        let (status, body) = json(response).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn poa_token_request(
        emulator: &Emulator,
        path: &str,
        content_type: &str,
        body: String,
    ) -> reqwest::Response {
        http()
            .post(format!("{}{path}", emulator.base_url()))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub(crate) fn poa_form(id: &str, secret: &str) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", id)
            .append_pair("client_secret", secret)
            .append_pair("grant_type", "client_credentials")
            .finish()
    }

    /// A fresh POA token response body.
    pub(crate) async fn poa_token(emulator: &Emulator) -> Value {
        let credentials = emulator.poa_credentials();
        let response = poa_token_request(
            emulator,
            "/v2/auth/cybrillarta/token",
            "application/x-www-form-urlencoded",
            poa_form(&credentials.client_id, &credentials.client_secret),
        )
        .await;
        let (status, body) = json(response).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub(crate) fn users_url(emulator: &Emulator) -> String {
        format!(
            "{}/api/partners/v2.0/org/{}/users",
            emulator.base_url(),
            emulator.org_id()
        )
    }

    /// One decoded part of a JWT: 0 the header, 1 the claims.
    pub(crate) fn jwt_part(jwt: &str, part: usize) -> Value {
        let encoded = jwt.split('.').nth(part).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap()
    }

    /// The keys and JSON types of an object, for comparing shapes.
    pub(crate) fn shape(value: &Value) -> Vec<(String, &'static str)> {
        let kind = |v: &Value| match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let mut shape: Vec<_> = value
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), kind(v)))
            .collect();
        shape.sort();
        shape
    }

    /// The response body of one of the repository's vendor fixtures.
    pub(crate) fn fixture(path: &str) -> Value {
        let path = format!("{}/../../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        fixture["response"]["body_json"].clone()
    }

    /// `RequestBuilder::json` needs reqwest's `json` feature; this is all the tests need of it.
    pub(crate) trait JsonBody {
        fn json_body(self, body: &Value) -> Self;
    }

    impl JsonBody for reqwest::RequestBuilder {
        fn json_body(self, body: &Value) -> Self {
            self.header("content-type", "application/json")
                .body(body.to_string())
        }
    }
}

mod podero_token {
    use partner_emulator::{Emulator, Endpoint};
    use serde_json::json;

    use crate::support::*;

    #[tokio::test]
    async fn success_matches_the_documented_shape() {
        let emulator = Emulator::builder().start().await.unwrap();
        let credentials = emulator.podero_credentials();
        let authorization = basic(&credentials.client_id, &credentials.client_secret);
        let response =
            podero_token_request(&emulator, &authorization, "application/json", GRANT).await;
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["pragma"], "no-cache");
        let (status, body) = json(response).await;
        assert_eq!(status, 200);
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

        // A form body, a media type parameter and a scope are all fine.
        for (content_type, body) in [
            (
                "application/x-www-form-urlencoded",
                "grant_type=client_credentials&scope=read",
            ),
            (
                "application/json; charset=utf-8",
                r#"{"grant_type":"client_credentials","scope":"write"}"#,
            ),
        ] {
            let response =
                podero_token_request(&emulator, &authorization, content_type, body).await;
            let (status, body) = json(response).await;
            assert_eq!(status, 200, "{content_type}: {body}");
            assert_eq!(body["scope"], "read write");
        }
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
        let invalid_client = || (401, json!({"error": "invalid_client"}));
        let invalid_request = |description: &str| {
            (
                400,
                json!({"error": "invalid_request", "error_description": description}),
            )
        };
        let form = "application/x-www-form-urlencoded";
        let cases = [
            // 1. Client authentication, before anything about the body.
            (
                wrong_secret.as_str(),
                "application/json",
                GRANT,
                invalid_client(),
            ),
            (
                wrong_id.as_str(),
                "application/json",
                GRANT,
                invalid_client(),
            ),
            (
                wrong_secret.as_str(),
                "text/plain",
                "garbage",
                invalid_client(),
            ),
            ("Basic !!!", "application/json", GRANT, invalid_client()),
            // base64 of "no-colon-here"
            (
                "Basic bm8tY29sb24taGVyZQ==",
                "application/json",
                GRANT,
                invalid_client(),
            ),
            // base64 of "id:%FF" (the secret decodes to a byte that is not UTF-8)
            (
                "Basic aWQ6JUZG",
                "application/json",
                GRANT,
                invalid_client(),
            ),
            ("Bearer abc", "application/json", GRANT, invalid_client()),
            ("", "application/json", GRANT, invalid_client()),
            // 2. The body.
            (
                good.as_str(),
                "application/json",
                "not json",
                invalid_request("The request body is not a JSON object."),
            ),
            (
                good.as_str(),
                "application/json",
                r#"["grant_type"]"#,
                invalid_request("The request body is not a JSON object."),
            ),
            (
                good.as_str(),
                "text/plain",
                "grant_type=client_credentials",
                invalid_request(
                    "Content-Type must be application/json or application/x-www-form-urlencoded.",
                ),
            ),
            (
                good.as_str(),
                form,
                "grant_type=client_credentials&grant_type=client_credentials",
                invalid_request("A parameter is repeated."),
            ),
            // 3. The grant type.
            (
                good.as_str(),
                "application/json",
                "{}",
                invalid_request("Missing grant_type parameter."),
            ),
            (
                good.as_str(),
                "application/json",
                r#"{"grant_type":1}"#,
                invalid_request("grant_type must be a string."),
            ),
            (
                good.as_str(),
                "application/json",
                r#"{"grant_type":"password"}"#,
                (400, json!({"error": "unsupported_grant_type"})),
            ),
            (
                good.as_str(),
                form,
                "grant_type=authorization_code",
                (400, json!({"error": "unsupported_grant_type"})),
            ),
        ];
        for (authorization, content_type, body, (status, expected)) in cases {
            let response = podero_token_request(&emulator, authorization, content_type, body).await;
            assert_eq!(response.headers()["content-type"], "application/json");
            if status == 401 {
                assert_eq!(
                    response.headers()["www-authenticate"],
                    "Basic realm=\"oauth2\""
                );
            }
            let (got_status, got) = json(response).await;
            assert_eq!(
                (got_status.as_u16(), &got),
                (status, &expected),
                "{authorization:?} {content_type} {body}"
            );
        }
        // No Authorization header at all.
        let response = http()
            .post(format!("{}/oauth2/token/", emulator.base_url()))
            .header("content-type", "application/json")
            .body(GRANT)
            .send()
            .await
            .unwrap();
        assert_eq!(json(response).await.1, json!({"error": "invalid_client"}));
        // The vendor's documented rejection, exactly.
        assert_eq!(
            invalid_client().1,
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
        let response = podero_token_request(
            &emulator,
            &basic(AWKWARD, AWKWARD),
            "application/json",
            GRANT,
        )
        .await;
        assert_eq!(response.status(), 200);
        // Without the form-urlencoding, the id's `:` splits the pair in the wrong place and
        // `+` decodes to a space.
        let naive = format!(
            "Basic {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{AWKWARD}:{AWKWARD}")
            )
        );
        let response = podero_token_request(&emulator, &naive, "application/json", GRANT).await;
        assert_eq!(response.status(), 401);
        // Nor do the plain parts of it work.
        let response = podero_token_request(
            &emulator,
            &basic("a b", "c+d/e=f%&é"),
            "application/json",
            GRANT,
        )
        .await;
        assert_eq!(response.status(), 401);
    }
}

mod poa_token {
    use std::time::Duration;

    use partner_emulator::{Emulator, Endpoint};
    use serde_json::json;

    use crate::support::*;

    #[tokio::test]
    async fn success_on_both_paths_with_a_jwt() {
        let emulator = Emulator::builder()
            .poa_client(AWKWARD, AWKWARD)
            .start()
            .await
            .unwrap();
        for path in ["/v2/auth/cybrillarta/token", "/poa/auth/token"] {
            let response = poa_token_request(
                &emulator,
                path,
                "application/x-www-form-urlencoded",
                poa_form(AWKWARD, AWKWARD),
            )
            .await;
            assert_eq!(response.headers()["content-type"], "application/json");
            assert_eq!(response.headers()["cache-control"], "no-store");
            let (status, body) = json(response).await;
            assert_eq!(status, 200, "{path}: {body}");
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
        let form = "application/x-www-form-urlencoded";
        let invalid_request = |description: &str| {
            (
                400,
                json!({"error": "invalid_request", "error_description": description}),
            )
        };
        let cases = [
            // 1. Form bodies only: the same parameters as JSON are refused.
            (
                "application/json",
                json!({"client_id": id, "client_secret": secret, "grant_type": "client_credentials"})
                    .to_string(),
                invalid_request("Content-Type must be application/x-www-form-urlencoded"),
            ),
            (
                "text/plain",
                poa_form(id, secret),
                invalid_request("Content-Type must be application/x-www-form-urlencoded"),
            ),
            // 2. No parameter twice.
            (
                form,
                format!("{}&client_id={id}", poa_form(id, secret)),
                invalid_request("duplicated parameter"),
            ),
            // 3. The grant type, before the client.
            (
                form,
                "client_id=x&client_secret=y".to_owned(),
                invalid_request("Missing form parameter: grant_type"),
            ),
            (
                form,
                "client_id=x&client_secret=y&grant_type=password".to_owned(),
                (
                    400,
                    json!({"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"}),
                ),
            ),
            // 4. The client's parameters.
            (
                form,
                "grant_type=client_credentials".to_owned(),
                invalid_request("Missing form parameter: client_id or client_secret"),
            ),
            (
                form,
                format!("grant_type=client_credentials&client_id={id}&client_secret="),
                invalid_request("Missing form parameter: client_id or client_secret"),
            ),
            // 5. The client.
            (
                form,
                poa_form(id, "wrong"),
                (
                    401,
                    fixture("poa/response-rejected-credentials.json"),
                ),
            ),
            (
                form,
                poa_form("wrong", secret),
                (
                    401,
                    json!({"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"}),
                ),
            ),
        ];
        for (content_type, body, (status, expected)) in cases {
            for path in ["/v2/auth/cybrillarta/token", "/poa/auth/token"] {
                let response = poa_token_request(&emulator, path, content_type, body.clone()).await;
                assert_eq!(response.headers()["content-type"], "application/json");
                let (got_status, got) = json(response).await;
                assert_eq!(
                    (got_status.as_u16(), &got),
                    (status, &expected),
                    "{path} {content_type} {body}"
                );
            }
        }
        // A Basic header is neither needed nor used.
        let response = http()
            .post(format!("{}/poa/auth/token", emulator.base_url()))
            .header("authorization", basic(id, secret))
            .header("content-type", form)
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
    }

    #[tokio::test]
    async fn jwt_exp_follows_the_lifetime_knobs_and_the_emulator_clock() {
        let emulator = Emulator::builder()
            .poa_token_lifetime(Duration::from_secs(900))
            .start()
            .await
            .unwrap();
        let lifetime_of = |body: &serde_json::Value| {
            let claims = jwt_part(body["access_token"].as_str().unwrap(), 1);
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap()
        };
        let body = poa_token(&emulator).await;
        assert_eq!(body["expires_in"], 900);
        assert_eq!(lifetime_of(&body), 900);

        // A JWT that expires before `expires_in` says, and the server agrees with the JWT.
        emulator.set_poa_jwt_lifetime(Some(Duration::from_secs(60)));
        let body = poa_token(&emulator).await;
        assert_eq!(
            body["expires_in"], 900,
            "expires_in keeps the token lifetime"
        );
        assert_eq!(lifetime_of(&body), 60);
        let token = body["access_token"].as_str().unwrap().to_owned();
        let whoami = || async {
            http()
                .get(format!("{}/__emulator/poa/whoami", emulator.base_url()))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status()
        };
        assert_eq!(whoami().await, 200);
        emulator.advance_time(Duration::from_secs(61));
        assert_eq!(whoami().await, 401);

        emulator.set_poa_jwt_lifetime(None);
        let body = poa_token(&emulator).await;
        assert_eq!(lifetime_of(&body), 900);
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
}

mod whoami {
    use std::time::Duration;

    use partner_emulator::{Emulator, Endpoint, Vendor};
    use serde_json::json;

    use crate::support::*;

    async fn whoami(emulator: &Emulator, token: Option<&str>) -> reqwest::Response {
        let request = http().get(format!("{}/__emulator/poa/whoami", emulator.base_url()));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
        .await
        .unwrap()
    }

    async fn assert_rejected(emulator: &Emulator, token: Option<&str>) {
        let response = whoami(emulator, token).await;
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
        let (status, body) = json(response).await;
        assert_eq!(status, 401, "{token:?}");
        assert_eq!(body["error"], "invalid_token");
    }

    #[tokio::test]
    async fn accepts_exactly_valid_poa_tokens() {
        let emulator = Emulator::builder().start().await.unwrap();
        let body = poa_token(&emulator).await;
        let token = body["access_token"].as_str().unwrap();
        let exp = jwt_part(token, 1)["exp"].clone();
        let (status, who) = json(whoami(&emulator, Some(token)).await).await;
        assert_eq!(status, 200);
        assert_eq!(
            who,
            json!({"client_id": emulator.poa_credentials().client_id, "scope": "partner", "exp": exp})
        );

        assert_rejected(&emulator, None).await;
        assert_rejected(&emulator, Some("not-a-token")).await;
        let podero = podero_token(&emulator).await;
        assert_rejected(&emulator, Some(&podero)).await;

        emulator.revoke_all_tokens();
        assert_rejected(&emulator, Some(token)).await;

        emulator.set_token_lifetime(Vendor::Poa, Duration::from_secs(30));
        let body = poa_token(&emulator).await;
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(whoami(&emulator, Some(token)).await.status(), 200);
        emulator.advance_time(Duration::from_secs(30));
        assert_rejected(&emulator, Some(token)).await;
        assert_eq!(emulator.request_count(Endpoint::PoaWhoami), 7);
    }
}

mod users {
    use std::time::Duration;

    use partner_emulator::{Emulator, ListFormat, Vendor};
    use reqwest::StatusCode;
    use serde_json::{Value, json};

    use crate::support::*;

    #[tokio::test]
    async fn crud_round_trip_with_the_documented_fields() {
        let emulator = Emulator::builder().start().await.unwrap();
        let token = podero_token(&emulator).await;
        let client = http();
        let url = users_url(&emulator);

        // The documented minimum body: every other field is null.
        let (status, minimal) = json(
            client
                .post(&url)
                .bearer_auth(&token)
                .json_body(&json!({"role": "user", "email": "someone@example.com"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201);
        let id = minimal["id"].as_str().unwrap();
        assert_eq!(
            uuid::Uuid::parse_str(id).unwrap().get_version_num(),
            4,
            "{id}"
        );
        assert_eq!(
            minimal,
            json!({
                "id": id,
                "external_user_id": null,
                "role": "user",
                "email": "someone@example.com",
                "first_name": null,
                "last_name": null,
                "street_and_number": null,
                "street_add_info": null,
                "zip_code": null,
                "town": null,
                "country": null,
                "latitude": null,
                "longitude": null,
                "location_last_updated": null
            })
        );

        // Every field, with the documented request names; unknown fields are ignored.
        let response = client
            .post(&url)
            .bearer_auth(&token)
            .json_body(&json!({
                "role": "staff", "email": "jane@example.com", "external_user_id": "customer_12345",
                "first_name": "Jane", "last_name": "Doe", "street_and_number": "Hauptstr. 1",
                "street_add_info": "2nd floor", "zip_code": 11011, "town": "Berlin",
                "country_iso2": "DEU", "latitude": 52.5, "longitude": 13.4, "unknown": [1]
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-type"], "application/json");
        let (status, user) = json(response).await;
        assert_eq!(status, 201, "{user}");
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
        let raw = client
            .get(format!("{url}/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
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

        let (status, fetched) = json(
            client
                .get(format!("{url}/{id}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status.as_u16(), &fetched), (200, &user));

        // PUT changes only the fields sent: a string zip code keeps its leading zero, and
        // `country` is accepted as well as `country_iso2`.
        let (status, updated) = json(
            client
                .put(format!("{url}/{id}"))
                .bearer_auth(&token)
                .json_body(&json!({"zip_code": "01067", "town": "Dresden", "country": "DE", "last_name": null}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{updated}");
        let mut expected = user.clone();
        expected["zip_code"] = json!("01067");
        expected["town"] = json!("Dresden");
        expected["country"] = json!("DE");
        expected["last_name"] = Value::Null;
        assert_eq!(updated, expected);

        let (status, listed) =
            json(client.get(&url).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!((status.as_u16(), listed), (200, json!([minimal, updated])));

        let response = client
            .delete(format!("{url}/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        assert!(response.headers().get("content-type").is_none());
        assert!(response.bytes().await.unwrap().is_empty());
        for request in [
            client.get(format!("{url}/{id}")),
            client.put(format!("{url}/{id}")).json_body(&json!({})),
            client.delete(format!("{url}/{id}")),
        ] {
            let response = request.bearer_auth(&token).send().await.unwrap();
            assert_eq!(
                json(response).await,
                (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
            );
        }
        let (_, listed) = json(client.get(&url).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(listed, json!([minimal]));
    }

    #[tokio::test]
    async fn validation_errors_name_the_field_as_django_rest_framework_does() {
        let emulator = Emulator::builder().start().await.unwrap();
        let token = podero_token(&emulator).await;
        let url = users_url(&emulator);
        let send = |method: reqwest::Method, url: String, body: Value| {
            let token = token.clone();
            async move {
                json(
                    http()
                        .request(method, url)
                        .bearer_auth(token)
                        .json_body(&body)
                        .send()
                        .await
                        .unwrap(),
                )
                .await
            }
        };
        let post = |body: Value| send(reqwest::Method::POST, url.clone(), body);
        let bad = |errors: Value| (StatusCode::BAD_REQUEST, errors);

        assert_eq!(
            post(json!({})).await,
            bad(json!({"email": ["This field is required."], "role": ["This field is required."]}))
        );
        assert_eq!(
            post(json!({"email": "nope", "role": "boss"})).await,
            bad(
                json!({"email": ["Enter a valid email address."], "role": ["\"boss\" is not a valid choice."]})
            )
        );
        assert_eq!(
            post(json!({"email": null, "role": 3})).await,
            bad(
                json!({"email": ["This field may not be null."], "role": ["\"3\" is not a valid choice."]})
            )
        );
        assert_eq!(
            post(json!({"email": " ", "role": "user"})).await,
            bad(json!({"email": ["This field may not be blank."]}))
        );
        assert_eq!(
            post(json!({
                "email": "x@example.com", "role": "user", "zip_code": true, "latitude": "north",
                "longitude": [1], "first_name": {"a": 1}, "country_iso2": 49
            }))
            .await,
            bad(json!({
                "zip_code": ["A valid integer is required."],
                "latitude": ["A valid number is required."],
                "longitude": ["A valid number is required."],
                "first_name": ["Not a valid string."],
                "country_iso2": ["Not a valid string."]
            }))
        );
        let (status, first) = post(json!({"email": "a@b.co", "role": "admin"})).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(
            post(json!({"email": "A@B.CO", "role": "staff"})).await,
            bad(json!({"email": ["user with this email already exists."]})),
            "emails are unique case-insensitively"
        );
        // Numeric strings are numbers to DRF; a user may keep its own email.
        let (status, second) =
            post(json!({"email": "c@d.co", "role": "user", "latitude": "48.1"})).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(second["latitude"], 48.1);
        let second_url = format!("{url}/{}", second["id"].as_str().unwrap());
        assert_eq!(
            send(
                reqwest::Method::PUT,
                second_url.clone(),
                json!({"email": "a@B.co"})
            )
            .await,
            bad(json!({"email": ["user with this email already exists."]})),
            "also on update"
        );
        assert_eq!(
            send(
                reqwest::Method::PUT,
                second_url.clone(),
                json!({"role": "boss"})
            )
            .await,
            bad(json!({"role": ["\"boss\" is not a valid choice."]}))
        );
        let (status, same) = send(
            reqwest::Method::PUT,
            second_url.clone(),
            json!({"email": "C@d.co"}),
        )
        .await;
        assert_eq!((status, &same["email"]), (StatusCode::OK, &json!("C@d.co")));
        // Renaming frees the old address.
        let first_url = format!("{url}/{}", first["id"].as_str().unwrap());
        let (status, _) = send(reqwest::Method::PUT, first_url, json!({"email": "e@f.co"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            post(json!({"email": "a@b.co", "role": "user"})).await.0,
            StatusCode::CREATED
        );

        // Bodies that are not a JSON object.
        let raw = |content_type: &str, body: &'static str| {
            let (url, token) = (url.clone(), token.clone());
            let content_type = content_type.to_owned();
            async move {
                json(
                    http()
                        .post(url)
                        .bearer_auth(token)
                        .header("content-type", content_type)
                        .body(body)
                        .send()
                        .await
                        .unwrap(),
                )
                .await
            }
        };
        assert_eq!(
            raw("application/json", "{not json").await,
            bad(json!({"detail": "JSON parse error"}))
        );
        assert_eq!(
            raw("application/json", "[]").await,
            bad(
                json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
            )
        );
        assert_eq!(
            raw("text/plain", "{}").await,
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({"detail": "Unsupported media type \"text/plain\" in request."})
            )
        );
        // An empty body is an empty object.
        assert_eq!(
            raw("application/json", "").await,
            bad(json!({"email": ["This field is required."], "role": ["This field is required."]}))
        );
    }

    #[tokio::test]
    async fn unknown_orgs_and_users_are_404_after_authentication() {
        let emulator = Emulator::builder().start().await.unwrap();
        let token = podero_token(&emulator).await;
        let not_found = (StatusCode::NOT_FOUND, json!({"detail": "Not found."}));
        let base = emulator.base_url();
        for url in [
            format!(
                "{base}/api/partners/v2.0/org/{}/users",
                uuid::Uuid::new_v4()
            ),
            format!("{base}/api/partners/v2.0/org/not-a-uuid/users"),
            format!("{base}/api/partners/v2.0/org/%FF%FE/users"),
            format!("{}/{}", users_url(&emulator), uuid::Uuid::new_v4()),
            format!("{}/not-a-uuid", users_url(&emulator)),
            format!(
                "{base}/api/partners/v2.0/org/{}/users/{}",
                uuid::Uuid::new_v4(),
                uuid::Uuid::new_v4()
            ),
            format!("{base}/api/partners/v2.0/org/{}/users/", emulator.org_id()),
            format!("{base}/nowhere"),
        ] {
            let response = http().get(&url).bearer_auth(&token).send().await.unwrap();
            assert_eq!(json(response).await, not_found, "{url}");
        }
        // Creating in an unknown organisation.
        let response = http()
            .post(format!(
                "{base}/api/partners/v2.0/org/{}/users",
                uuid::Uuid::new_v4()
            ))
            .bearer_auth(&token)
            .json_body(&json!({"email": "a@b.co", "role": "user"}))
            .send()
            .await
            .unwrap();
        assert_eq!(json(response).await, not_found);
        // Authentication comes first.
        let response = http()
            .get(format!(
                "{base}/api/partners/v2.0/org/{}/users",
                uuid::Uuid::new_v4()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }

    #[tokio::test]
    async fn missing_invalid_revoked_and_expired_tokens_get_401() {
        let emulator = Emulator::builder().start().await.unwrap();
        let url = users_url(&emulator);
        for request in [
            http().get(&url),
            http().get(&url).header("authorization", "Token abc"),
        ] {
            let response = request.send().await.unwrap();
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer realm=\"api\""
            );
            assert_eq!(
                json(response).await,
                (
                    StatusCode::UNAUTHORIZED,
                    json!({"detail": "Authentication credentials were not provided."})
                )
            );
        }

        let check_invalid = |authorization: String| {
            let url = url.clone();
            async move {
                let value =
                    reqwest::header::HeaderValue::from_bytes(authorization.as_bytes()).unwrap();
                let response = http()
                    .get(&url)
                    .header("authorization", value)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    response.headers()["www-authenticate"],
                    "Bearer error=\"invalid_token\""
                );
                assert_eq!(
                    json(response).await,
                    (
                        StatusCode::UNAUTHORIZED,
                        json!({"detail": "Invalid token."})
                    ),
                    "{authorization}"
                );
            }
        };
        check_invalid("Bearer unknown".into()).await;
        check_invalid("Bearer".into()).await;
        check_invalid("bearer  ".into()).await;

        let token = podero_token(&emulator).await;
        let ok = |token: String| {
            let url = url.clone();
            async move {
                http()
                    .get(&url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        assert_eq!(ok(token.clone()).await, 200);
        // The scheme is case-insensitive.
        check_invalid(format!("BEARER {token}x")).await;
        assert_eq!(
            http()
                .get(&url)
                .header("authorization", format!("BEARER {token}"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        emulator.revoke_all_tokens();
        check_invalid(format!("Bearer {token}")).await;

        // Expiry on the emulator's clock: no real waiting.
        emulator.set_token_lifetime(Vendor::Podero, Duration::from_secs(60));
        let token = podero_token(&emulator).await;
        emulator.advance_time(Duration::from_secs(58));
        assert_eq!(ok(token.clone()).await, 200);
        emulator.advance_time(Duration::from_secs(2));
        check_invalid(format!("Bearer {token}")).await;

        // A POA token is not a Podero token.
        let body = poa_token(&emulator).await;
        check_invalid(format!("Bearer {}", body["access_token"].as_str().unwrap())).await;
    }

    #[tokio::test]
    async fn list_formats_paginate_with_absolute_links() {
        let emulator = Emulator::builder().start().await.unwrap();
        let token = podero_token(&emulator).await;
        let url = users_url(&emulator);
        let get = |url: String| {
            let token = token.clone();
            async move { json(http().get(url).bearer_auth(token).send().await.unwrap()).await }
        };
        assert_eq!(get(url.clone()).await, (StatusCode::OK, json!([])));
        emulator.set_list_format(ListFormat::Results { page_size: 2 });
        assert_eq!(
            get(url.clone()).await.1,
            json!({"count": 0, "next": null, "previous": null, "results": []})
        );
        emulator.set_list_format(ListFormat::BareArray);
        for n in 0..5 {
            let response = http()
                .post(&url)
                .bearer_auth(&token)
                .json_body(&json!({"email": format!("u{n}@example.com"), "role": "user"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
        }
        let emails = |users: &Value| -> Vec<String> {
            users
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned())
                .collect()
        };
        let all: Vec<String> = (0..5).map(|n| format!("u{n}@example.com")).collect();
        assert_eq!(emails(&get(url.clone()).await.1), all, "creation order");

        emulator.set_list_format(ListFormat::Results { page_size: 2 });
        let (status, page1) = get(url.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(page1["count"], 5);
        assert_eq!(page1["next"], format!("{url}?page=2"));
        assert_eq!(page1["previous"], Value::Null);
        let (_, page2) = get(page1["next"].as_str().unwrap().to_owned()).await;
        assert_eq!(page2["previous"], url, "DRF drops page=1 from links");
        assert_eq!(page2["next"], format!("{url}?page=3"));
        let (_, page3) = get(page2["next"].as_str().unwrap().to_owned()).await;
        assert_eq!(page3["previous"], format!("{url}?page=2"));
        assert_eq!(page3["next"], Value::Null);
        let mut seen = emails(&page1["results"]);
        seen.extend(emails(&page2["results"]));
        seen.extend(emails(&page3["results"]));
        assert_eq!(seen, all);
        for page in ["4", "0", "x"] {
            assert_eq!(
                get(format!("{url}?page={page}")).await,
                (StatusCode::NOT_FOUND, json!({"detail": "Invalid page."})),
                "page {page}"
            );
        }

        emulator.set_list_format(ListFormat::Items { page_size: 4 });
        let (_, first) = get(url.clone()).await;
        assert_eq!(first.as_object().unwrap().len(), 2, "{first}");
        assert_eq!(emails(&first["items"]), all[..4]);
        assert_eq!(first["next"], format!("{url}?page=2"));
        let (_, second) = get(first["next"].as_str().unwrap().to_owned()).await;
        assert_eq!(emails(&second["items"]), all[4..]);
        assert_eq!(second["next"], Value::Null);
    }
}

mod faults {
    use std::time::Duration;

    use partner_emulator::{Emulator, Endpoint, Fault};
    use serde_json::json;

    use crate::support::*;

    #[tokio::test]
    async fn status_faults_apply_to_exactly_the_next_n_requests_in_order() {
        let emulator = Emulator::builder().start().await.unwrap();
        let token = podero_token(&emulator).await;
        let url = users_url(&emulator);
        emulator.inject_fault(
            Endpoint::ListUsers,
            Fault::status(503).retry_after(7).times(2),
        );
        emulator.inject_fault(Endpoint::ListUsers, Fault::status(429));
        let mut seen = Vec::new();
        for _ in 0..4 {
            let response = http().get(&url).bearer_auth(&token).send().await.unwrap();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(response.headers()["content-type"], "application/json");
            let (status, body) = json(response).await;
            seen.push((status.as_u16(), retry_after, body));
        }
        assert_eq!(
            seen,
            [
                (
                    503,
                    Some("7".to_owned()),
                    json!({"error": "injected", "status": 503})
                ),
                (
                    503,
                    Some("7".to_owned()),
                    json!({"error": "injected", "status": 503})
                ),
                (429, None, json!({"error": "injected", "status": 429})),
                (200, None, json!([])),
            ]
        );
        assert_eq!(emulator.request_count(Endpoint::ListUsers), 4);
        // Faults come before authentication, and other endpoints are untouched.
        emulator.inject_fault(Endpoint::ListUsers, Fault::status(500));
        assert_eq!(http().get(&url).send().await.unwrap().status(), 500);
        assert_eq!(http().get(&url).send().await.unwrap().status(), 401);
        podero_token(&emulator).await;
        let statuses: Vec<u16> = emulator
            .request_log()
            .iter()
            .filter(|entry| entry.endpoint == Some(Endpoint::ListUsers))
            .map(|entry| entry.status)
            .collect();
        assert_eq!(statuses, [503, 503, 429, 200, 500, 401]);
    }

    #[tokio::test]
    async fn a_delay_fault_delays_then_answers_normally() {
        let emulator = Emulator::builder().start().await.unwrap();
        emulator.inject_fault(
            Endpoint::PoderoToken,
            Fault::delay(Duration::from_millis(50)),
        );
        let started = tokio::time::Instant::now();
        let token = podero_token(&emulator).await;
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(token.len(), 30);
        // Only once.
        assert_eq!(podero_token(&emulator).await.len(), 30);
        let statuses: Vec<u16> = emulator.request_log().iter().map(|e| e.status).collect();
        assert_eq!(statuses, [200, 200]);
    }

    #[tokio::test]
    async fn a_close_connection_fault_answers_nothing() {
        let emulator = Emulator::builder().start().await.unwrap();
        let token = podero_token(&emulator).await;
        emulator.inject_fault(Endpoint::CreateUser, Fault::close_connection().times(2));
        // One client, so the second attempt may reuse a pooled connection: still no answer.
        let client = http();
        for _ in 0..2 {
            let error = client
                .post(users_url(&emulator))
                .bearer_auth(&token)
                .json_body(&json!({"email": "a@b.co", "role": "user"}))
                .send()
                .await
                .unwrap_err();
            assert!(
                error.status().is_none(),
                "a connection error, not a status: {error:?}"
            );
            assert!(error.is_request(), "{error:?}");
            assert!(!error.is_timeout(), "{error:?}");
        }
        // The request never reached the handler: nothing was created, and the next request is
        // served normally.
        let (status, listed) = json(
            client
                .get(users_url(&emulator))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status.as_u16(), listed), (200, json!([])));
        let response = client
            .post(users_url(&emulator))
            .bearer_auth(&token)
            .json_body(&json!({"email": "a@b.co", "role": "user"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let statuses: Vec<u16> = emulator
            .request_log()
            .iter()
            .filter(|entry| entry.endpoint == Some(Endpoint::CreateUser))
            .map(|e| e.status)
            .collect();
        assert_eq!(statuses, [0, 0, 201]);
        assert_eq!(emulator.request_count(Endpoint::CreateUser), 3);
    }
}

mod observation {
    use partner_emulator::{Emulator, Endpoint};
    use serde_json::{Value, json};

    use crate::support::*;

    #[tokio::test]
    async fn counters_and_log_are_exact_and_hold_no_secrets() {
        let emulator = Emulator::builder().start().await.unwrap();
        let token = podero_token(&emulator).await;
        let poa = poa_token(&emulator).await;
        let jwt = poa["access_token"].as_str().unwrap();
        let url = users_url(&emulator);
        http()
            .get(format!("{url}?page=1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        http()
            .get(format!("{url}/{}", uuid::Uuid::new_v4()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        http()
            .get(format!("{}/nowhere", emulator.base_url()))
            .send()
            .await
            .unwrap();
        http()
            .get(format!("{}/__emulator/poa/whoami", emulator.base_url()))
            .bearer_auth(jwt)
            .send()
            .await
            .unwrap();
        // A control request: neither counted nor logged.
        http()
            .get(format!("{}/__emulator/counters", emulator.base_url()))
            .send()
            .await
            .unwrap();

        let counters = emulator.counters();
        assert_eq!(counters.get(Endpoint::PoderoToken), 1);
        assert_eq!(counters.get(Endpoint::PoaToken), 1);
        assert_eq!(counters.get(Endpoint::ListUsers), 1);
        assert_eq!(counters.get(Endpoint::GetUser), 1);
        assert_eq!(counters.get(Endpoint::CreateUser), 0);
        assert_eq!(counters.get(Endpoint::PoaWhoami), 1);
        assert_eq!(counters.total(), 5);
        assert_eq!(counters.iter().count(), Endpoint::ALL.len());
        assert_eq!(
            serde_json::to_value(&counters).unwrap(),
            json!({
                "podero_token": 1, "poa_token": 1, "list_users": 1, "create_user": 0,
                "get_user": 1, "update_user": 0, "delete_user": 0, "poa_whoami": 1
            })
        );
        let (_, over_http) = json(
            http()
                .get(format!("{}/__emulator/counters", emulator.base_url()))
                .send()
                .await
                .unwrap(),
        )
        .await;
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
        assert_eq!(
            lines,
            [
                (
                    "POST /oauth2/token/".to_owned(),
                    200,
                    Some(Endpoint::PoderoToken)
                ),
                (
                    "POST /v2/auth/cybrillarta/token".to_owned(),
                    200,
                    Some(Endpoint::PoaToken)
                ),
                (
                    "GET /api/partners/v2.0/org/{org}/users".to_owned(),
                    200,
                    Some(Endpoint::ListUsers)
                ),
                (
                    format!(
                        "GET /api/partners/v2.0/org/{{org}}/users/{}",
                        log[3].path.rsplit('/').next().unwrap()
                    ),
                    404,
                    Some(Endpoint::GetUser)
                ),
                ("GET /nowhere".to_owned(), 404, None),
                (
                    "GET /__emulator/poa/whoami".to_owned(),
                    200,
                    Some(Endpoint::PoaWhoami)
                ),
            ]
        );
        assert!(log.windows(2).all(|w| w[0].at <= w[1].at));

        let (_, over_http) = json(
            http()
                .get(format!("{}/__emulator/requests", emulator.base_url()))
                .send()
                .await
                .unwrap(),
        )
        .await;
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
}

mod control {
    use std::time::Duration;

    use partner_emulator::{Emulator, Endpoint};
    use reqwest::Method;
    use serde_json::{Value, json};

    use crate::support::*;

    async fn control(
        emulator: &Emulator,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request =
            http().request(method, format!("{}/__emulator/{path}", emulator.base_url()));
        if let Some(body) = body {
            request = request.json_body(&body);
        }
        let (status, body) = json(request.send().await.unwrap()).await;
        (status.as_u16(), body)
    }

    #[tokio::test]
    async fn the_http_controls_do_what_the_rust_api_does() {
        let emulator = Emulator::builder().start().await.unwrap();
        let no_content = (204, Value::Null);
        let credentials = emulator.podero_credentials().clone();
        let token_response = || async {
            json(
                podero_token_request(
                    &emulator,
                    &basic(&credentials.client_id, &credentials.client_secret),
                    "application/json",
                    GRANT,
                )
                .await,
            )
            .await
        };
        let url = users_url(&emulator);
        let list_status = |token: String| {
            let url = url.clone();
            async move {
                http()
                    .get(&url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };

        // Faults: status (with Retry-After), delay and close_connection.
        assert_eq!(
            control(
                &emulator,
                Method::POST,
                "faults",
                Some(
                    json!({"endpoint": "podero_token", "count": 2, "status": 502, "retry_after": 1})
                )
            )
            .await,
            no_content
        );
        assert_eq!(
            control(
                &emulator,
                Method::POST,
                "faults",
                Some(json!({"endpoint": "podero_token", "delay_ms": 1}))
            )
            .await,
            no_content
        );
        assert_eq!(
            control(
                &emulator,
                Method::POST,
                "faults",
                Some(json!({"endpoint": "podero_token", "close_connection": true}))
            )
            .await,
            no_content
        );
        assert_eq!(token_response().await.0, 502);
        assert_eq!(token_response().await.0, 502);
        assert_eq!(token_response().await.0, 200);
        let closed = http()
            .post(format!("{}/oauth2/token/", emulator.base_url()))
            .send()
            .await
            .unwrap_err();
        assert!(closed.status().is_none(), "{closed:?}");

        // Lifetimes and the clock.
        assert_eq!(
            control(
                &emulator,
                Method::POST,
                "token-lifetime",
                Some(json!({"vendor": "podero", "seconds": 60}))
            )
            .await,
            no_content
        );
        let (_, body) = token_response().await;
        assert_eq!(body["expires_in"], 60);
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(list_status(token.clone()).await, 200);
        assert_eq!(
            control(
                &emulator,
                Method::POST,
                "advance-time",
                Some(json!({"seconds": 61}))
            )
            .await,
            no_content
        );
        assert_eq!(list_status(token).await, 401);
        assert_eq!(
            control(
                &emulator,
                Method::POST,
                "token-lifetime",
                Some(json!({"vendor": "poa", "seconds": 90}))
            )
            .await,
            no_content
        );
        assert_eq!(
            control(
                &emulator,
                Method::POST,
                "poa-jwt-lifetime",
                Some(json!({"seconds": 30}))
            )
            .await,
            no_content
        );
        let poa = poa_token(&emulator).await;
        assert_eq!(poa["expires_in"], 90);
        let claims = jwt_part(poa["access_token"].as_str().unwrap(), 1);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            30
        );
        assert_eq!(
            control(
                &emulator,
                Method::POST,
                "poa-jwt-lifetime",
                Some(json!({"seconds": null}))
            )
            .await,
            no_content
        );
        let claims = jwt_part(
            poa_token(&emulator).await["access_token"].as_str().unwrap(),
            1,
        );
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            90
        );

        // Revocation.
        let (_, body) = token_response().await;
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            control(&emulator, Method::POST, "revoke-tokens", None).await,
            no_content
        );
        assert_eq!(list_status(token).await, 401);

        // The list format.
        let (_, body) = token_response().await;
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            control(
                &emulator,
                Method::PUT,
                "list-format",
                Some(json!({"format": "items", "page_size": 2}))
            )
            .await,
            no_content
        );
        let (_, listed) = json(http().get(&url).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(listed, json!({"items": [], "next": null}));
        assert_eq!(
            control(
                &emulator,
                Method::PUT,
                "list-format",
                Some(json!({"format": "results", "page_size": 2}))
            )
            .await,
            no_content
        );
        let (_, listed) = json(http().get(&url).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(listed["count"], 0);
        assert_eq!(
            control(
                &emulator,
                Method::PUT,
                "list-format",
                Some(json!({"format": "bare_array"}))
            )
            .await,
            no_content
        );
        let (_, listed) = json(http().get(&url).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(listed, json!([]));

        // Observation: control requests are not in the counters or the log.
        let (status, counters) = control(&emulator, Method::GET, "counters", None).await;
        assert_eq!(status, 200);
        assert_eq!(counters, serde_json::to_value(emulator.counters()).unwrap());
        assert_eq!(counters["podero_token"], 7);
        assert_eq!(counters["list_users"], 6);
        assert_eq!(counters["poa_token"], 2);
        let (_, log) = control(&emulator, Method::GET, "requests", None).await;
        assert_eq!(log.as_array().unwrap().len(), 15, "{log}");
        assert_eq!(log, serde_json::to_value(emulator.request_log()).unwrap());

        // Reset.
        assert_eq!(
            control(&emulator, Method::POST, "reset", None).await,
            no_content
        );
        assert_eq!(emulator.counters().total(), 0);
        assert!(emulator.request_log().is_empty());
        let (_, body) = token_response().await;
        assert_eq!(body["expires_in"], 36000, "reset restores the lifetimes");
        let claims = jwt_part(
            poa_token(&emulator).await["access_token"].as_str().unwrap(),
            1,
        );
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            1800
        );
        assert!(
            (emulator.now() - chrono::Utc::now()).num_seconds().abs() <= 2,
            "and the clock"
        );
    }

    #[tokio::test]
    async fn bad_control_requests_are_400_with_a_json_error() {
        let emulator = Emulator::builder().start().await.unwrap();
        let cases = [
            (
                Method::POST,
                "faults",
                json!({"endpoint": "nope", "status": 502}),
            ),
            (Method::POST, "faults", json!({"endpoint": "get_user"})),
            (
                Method::POST,
                "faults",
                json!({"endpoint": "get_user", "status": 502, "delay_ms": 5}),
            ),
            (
                Method::POST,
                "faults",
                json!({"endpoint": "get_user", "status": 700}),
            ),
            (
                Method::POST,
                "faults",
                json!({"endpoint": "get_user", "status": 100}),
            ),
            (
                Method::POST,
                "faults",
                json!({"endpoint": "get_user", "status": 503, "count": 0}),
            ),
            (
                Method::POST,
                "faults",
                json!({"endpoint": "get_user", "delay_ms": 5, "retry_after": 1}),
            ),
            (
                Method::POST,
                "faults",
                json!({"endpoint": "get_user", "close_connection": false}),
            ),
            (
                Method::POST,
                "faults",
                json!({"endpoint": "get_user", "status": 503, "typo": 1}),
            ),
            (
                Method::POST,
                "token-lifetime",
                json!({"vendor": "acme", "seconds": 1}),
            ),
            (
                Method::POST,
                "token-lifetime",
                json!({"vendor": "poa", "seconds": -1}),
            ),
            (Method::POST, "advance-time", json!({"seconds": "soon"})),
            (Method::POST, "advance-time", json!([])),
            (Method::POST, "poa-jwt-lifetime", json!({})),
            (Method::PUT, "list-format", json!({"format": "results"})),
            (
                Method::PUT,
                "list-format",
                json!({"format": "results", "page_size": 0}),
            ),
            (
                Method::PUT,
                "list-format",
                json!({"format": "pages", "page_size": 2}),
            ),
            (
                Method::PUT,
                "list-format",
                json!({"format": "bare_array", "page_size": 2}),
            ),
        ];
        for (method, path, body) in cases {
            let (status, error) = control(&emulator, method, path, Some(body.clone())).await;
            assert_eq!(status, 400, "{path} {body}: {error}");
            assert_eq!(error["error"], "invalid_request", "{error}");
            assert!(error["error_description"].is_string(), "{error}");
        }
        let response = http()
            .post(format!("{}/__emulator/faults", emulator.base_url()))
            .body("{")
            .send()
            .await
            .unwrap();
        assert_eq!(json(response).await.0, 400);
        // Nothing was injected or changed.
        let token = podero_token(&emulator).await;
        let response = http()
            .get(users_url(&emulator))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(json(response).await.1, json!([]));
        // The wrong method on a control path.
        let (status, body) = control(&emulator, Method::GET, "reset", None).await;
        assert_eq!(
            (status, body),
            (405, json!({"detail": "Method \"GET\" not allowed."}))
        );
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
        let response = http()
            .post(&url)
            .bearer_auth(&token)
            .json_body(&json!({"email": "a@b.co", "role": "user"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
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
        assert_eq!(
            http()
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status(),
            401,
            "tokens are gone"
        );
        let token = podero_token(&emulator).await;
        let (status, listed) =
            json(http().get(&url).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(
            (status.as_u16(), listed),
            (200, json!([])),
            "no fault, bare array, no users"
        );
        let credentials = emulator.podero_credentials();
        let (_, body) = json(
            podero_token_request(
                &emulator,
                &basic(&credentials.client_id, &credentials.client_secret),
                "application/json",
                GRANT,
            )
            .await,
        )
        .await;
        assert_eq!(
            body["expires_in"], 100,
            "the lifetime the emulator was built with"
        );
    }
}

mod lifecycle {
    use std::future::Future;
    use std::net::SocketAddr;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use partner_emulator::{Emulator, EmulatorError, Endpoint, Vendor};
    use serde_json::json;

    use crate::support::*;

    #[test]
    fn the_emulator_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Emulator>();
        assert_send_sync::<EmulatorError>();
    }

    #[test]
    fn starting_outside_a_runtime_is_an_error_not_a_panic() {
        let mut start = pin!(Emulator::builder().start());
        let mut context = Context::from_waker(Waker::noop());
        match start.as_mut().poll(&mut context) {
            Poll::Ready(Err(EmulatorError::NoRuntime)) => {}
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_builder_is_honoured_and_checked() {
        let org = uuid::Uuid::new_v4();
        let emulator = Emulator::builder()
            .addr("127.0.0.1:0".parse().unwrap())
            .org_id(org)
            .podero_client("pid", "psecret")
            .poa_client("aid", "asecret")
            .podero_token_lifetime(Duration::from_secs(10))
            .poa_token_lifetime(Duration::from_secs(20))
            .start()
            .await
            .unwrap();
        assert_eq!(emulator.org_id(), org);
        assert_eq!(emulator.base_url(), format!("http://{}", emulator.addr()));
        assert!(!emulator.base_url().ends_with('/'));
        assert_eq!(emulator.podero_credentials().client_id, "pid");
        assert_eq!(emulator.poa_credentials().client_secret, "asecret");
        let response = podero_token_request(
            &emulator,
            &basic("pid", "psecret"),
            "application/json",
            GRANT,
        )
        .await;
        assert_eq!(json(response).await.1["expires_in"], 10);
        assert_eq!(poa_token(&emulator).await["expires_in"], 20);

        // Generated credentials differ between emulators; ids are vendor-prefixed.
        let other = Emulator::builder().start().await.unwrap();
        let third = Emulator::builder().start().await.unwrap();
        assert_ne!(other.podero_credentials(), third.podero_credentials());
        assert_ne!(other.org_id(), third.org_id());
        assert!(other.podero_credentials().client_id.starts_with("podero-"));
        assert!(other.poa_credentials().client_id.starts_with("poa-"));

        match Emulator::builder().poa_client("id", "").start().await {
            Err(EmulatorError::EmptyCredentials {
                vendor: Vendor::Poa,
            }) => {}
            other => panic!("{other:?}"),
        }
        match Emulator::builder().addr(emulator.addr()).start().await {
            Err(error @ EmulatorError::Bind { .. }) => {
                assert!(
                    error.to_string().contains(&emulator.addr().to_string()),
                    "{error}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn shutdown_frees_the_port() {
        let emulator = Emulator::builder().start().await.unwrap();
        let base = emulator.base_url().to_owned();
        let addr = emulator.addr();
        // A pooled keep-alive connection does not hold the shutdown up.
        let client = http();
        assert_eq!(
            client
                .get(format!("{base}/nowhere"))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        emulator.shutdown().await;
        let error = http()
            .get(format!("{base}/nowhere"))
            .send()
            .await
            .unwrap_err();
        assert!(error.is_connect(), "{error:?}");
        // The address can be bound again.
        let again = Emulator::builder().addr(addr).start().await.unwrap();
        assert_eq!(again.addr(), addr);
    }

    /// Whether a new TCP connection to `addr` is refused, giving the runtime a few turns to
    /// drop the aborted server task.
    async fn refused_soon(addr: SocketAddr) -> bool {
        for _ in 0..100 {
            tokio::task::yield_now().await;
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        false
    }

    #[tokio::test]
    async fn dropping_the_emulator_stops_the_server_and_its_connections() {
        let emulator = Emulator::builder().start().await.unwrap();
        let addr = emulator.addr();
        // A request in flight (a long delay) is cut off by the drop.
        emulator.inject_fault(
            Endpoint::PoderoToken,
            partner_emulator::Fault::delay(Duration::from_secs(600)),
        );
        let pending = tokio::spawn(
            http()
                .post(format!("{}/oauth2/token/", emulator.base_url()))
                .send(),
        );
        while emulator.request_count(Endpoint::PoderoToken) == 0 {
            tokio::task::yield_now().await;
        }
        drop(emulator);
        assert!(
            refused_soon(addr).await,
            "the port still accepts connections"
        );
        let error = tokio::time::timeout(Duration::from_secs(5), pending)
            .await
            .expect("the in-flight request must end with the emulator")
            .unwrap()
            .unwrap_err();
        assert!(error.status().is_none(), "{error:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_on_a_multi_thread_runtime_are_all_counted() {
        let emulator = Arc::new(Emulator::builder().start().await.unwrap());
        let token = podero_token(&emulator).await;
        let client = http();
        let calls: Vec<_> = (0..200)
            .map(|n| {
                let (client, emulator, token) =
                    (client.clone(), Arc::clone(&emulator), token.clone());
                tokio::spawn(async move {
                    let url = users_url(&emulator);
                    let response = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json_body(
                            &json!({"email": format!("user{n}@example.com"), "role": "user"}),
                        )
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 201);
                    client
                        .get(&url)
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap()
                        .status()
                })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap(), 200);
        }
        assert_eq!(emulator.request_count(Endpoint::CreateUser), 200);
        assert_eq!(emulator.request_count(Endpoint::ListUsers), 200);
        let (_, listed) = json(
            http()
                .get(users_url(&emulator))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(listed.as_array().unwrap().len(), 200);
    }

    #[tokio::test]
    async fn hostile_input_gets_json_errors_and_never_stops_the_server() {
        let emulator = Emulator::builder().start().await.unwrap();
        let base = emulator.base_url();
        let token = podero_token(&emulator).await;
        // Non-UTF-8 header values.
        let garbage = reqwest::header::HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap();
        let response = http()
            .post(format!("{base}/oauth2/token/"))
            .header("authorization", garbage.clone())
            .header(
                "content-type",
                reqwest::header::HeaderValue::from_bytes(b"\xff").unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let response = http()
            .get(users_url(&emulator))
            .header("authorization", garbage)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        // Oversized bodies: client authentication first, then 413 as JSON.
        let big = vec![b' '; 100 * 1024];
        let response = http()
            .post(format!("{base}/oauth2/token/"))
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let credentials = emulator.podero_credentials();
        let response = http()
            .post(format!("{base}/oauth2/token/"))
            .header(
                "authorization",
                basic(&credentials.client_id, &credentials.client_secret),
            )
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            json(response).await,
            (
                reqwest::StatusCode::PAYLOAD_TOO_LARGE,
                json!({"detail": "Request body larger than 65536 bytes."})
            )
        );
        let response = http()
            .post(users_url(&emulator))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413);
        // Deep nesting, unknown paths and methods.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let response = http()
            .post(users_url(&emulator))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(deep)
            .send()
            .await
            .unwrap();
        assert_eq!(
            json(response).await.1,
            json!({"detail": "JSON parse error"})
        );
        let response = http().patch(users_url(&emulator)).send().await.unwrap();
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.status(), 405);
        // Raw bytes that are not HTTP at all.
        let mut stream = std::net::TcpStream::connect(emulator.addr()).unwrap();
        std::io::Write::write_all(&mut stream, b"\x00\xffNOT HTTP\r\n\r\n").unwrap();
        drop(stream);
        // Still serving.
        assert_eq!(podero_token(&emulator).await.len(), 30);
    }
}
