//! `BodyEncoding::Auto` (the default) against django-oauth-toolkit's default backend, which
//! finds no `grant_type` in a JSON body: one fallback to a form body, remembered; never a
//! second request for any other answer (one row per answer); fixed encodings never negotiate.

use auth_core::test_util::wire::{header, requests};
use auth_core::{
    AuthError, BodyEncoding, ManualClock, OAuthErrorCode, RetryPolicy, TokenSource as _,
};
use podero_auth::SourceConfig as _;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{SECRET, auth, documented_response, podero_answering};

/// DOT's default backend: a JSON body has no `grant_type` for it; a form body gets
/// `form_answer`.
async fn form_only_server(form_answer: ResponseTemplate) -> MockServer {
    use wiremock::matchers::header;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("content-type", "application/json"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"error": "unsupported_grant_type"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(form_answer)
        .mount(&server)
        .await;
    server
}

async fn content_types(server: &MockServer) -> Vec<String> {
    requests(server)
        .await
        .iter()
        .map(|r| header(r, "content-type").unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn auto_falls_back_to_a_form_body_once_and_remembers_it() {
    let server =
        form_only_server(ResponseTemplate::new(200).set_body_json(documented_response())).await;
    let clock = ManualClock::at_epoch_2025();
    let source = auth(&server, "id", SECRET, &clock).into_source().unwrap();
    source.fetch_token().await.unwrap();
    assert_eq!(source.current_body_encoding(), BodyEncoding::Form);
    source.fetch_token().await.unwrap();
    assert_eq!(
        content_types(&server).await,
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded"
        ]
    );
}

#[tokio::test]
async fn auto_reports_a_wrong_secret_on_a_form_only_server_as_rejected_credentials() {
    let server = form_only_server(
        ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": "invalid_client"})),
    )
    .await;
    let clock = ManualClock::at_epoch_2025();
    let error = auth(&server, "id", SECRET, &clock)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert!(error.is_rejected_credentials(), "{error:?}");
    assert_eq!(requests(&server).await.len(), 2);
}

/// Answers to the JSON body that must not make `Auto` try a form body.
fn other_answers() -> Vec<ResponseTemplate> {
    vec![
        ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": "invalid_client"})),
        ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_scope"})),
        ResponseTemplate::new(400).set_body_json(
            serde_json::json!({"error": "invalid_request", "error_description": "bad scope"}),
        ),
        ResponseTemplate::new(400)
            .set_body_json(serde_json::json!({"error": "unauthorized_client"})),
        ResponseTemplate::new(404).set_body_string("not found"),
    ]
}

#[tokio::test]
async fn auto_never_doubles_a_request_for_any_other_answer() {
    let clock = ManualClock::at_epoch_2025();
    for (row, answer) in other_answers().into_iter().enumerate() {
        let server = podero_answering(answer).await;
        let source = auth(&server, "id", SECRET, &clock)
            .retry(RetryPolicy::never())
            .into_source()
            .unwrap();
        source.fetch_token().await.unwrap_err();
        assert_eq!(requests(&server).await.len(), 1, "answer {row}");
        assert_eq!(
            source.current_body_encoding(),
            BodyEncoding::Json,
            "answer {row}"
        );
    }
}

#[tokio::test]
async fn fixed_encodings_never_negotiate() {
    let server =
        form_only_server(ResponseTemplate::new(200).set_body_json(documented_response())).await;
    let clock = ManualClock::at_epoch_2025();
    let error = auth(&server, "id", SECRET, &clock)
        .body_encoding(BodyEncoding::Json)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AuthError::OAuth { error, .. } if error.error == OAuthErrorCode::UnsupportedGrantType),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}
