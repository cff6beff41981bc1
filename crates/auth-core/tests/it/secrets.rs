//! Secrets never leak: not in `Debug`, `Display` or errors. (Tracing output is checked in its
//! own test binary, `tests/tracing.rs`, which owns the global subscriber.)

use auth_core::{AccessToken, ClientCredentials, ClientSecret, TokenCache, TokenUrl};
use chrono::DateTime;

use crate::support::assert_no_secret;

const SECRET: &str = "client-secret-value-4711";
const TOKEN: &str = "issued-token-value-0815";

#[test]
fn debug_output_is_redacted() {
    let secret = ClientSecret::new(SECRET);
    let token = AccessToken::bearer(TOKEN, DateTime::from_timestamp(1_735_689_600, 0).unwrap())
        .unwrap()
        .with_scopes(auth_core::Scopes::parse("read write"));
    insta::assert_snapshot!(format!("{secret:?}"), @"ClientSecret([redacted])");
    insta::assert_snapshot!(format!("{token:#?}"), @r#"
    AccessToken {
        secret: [redacted],
        token_type: Bearer,
        scopes: Scopes(
            [
                "read",
                "write",
            ],
        ),
        obtained_at: 2025-01-01T00:00:00Z,
        expires_at: None,
        extra: [],
    }
    "#);
    let header = format!("{:?}", token.authorization());
    assert_no_secret(&header, &[TOKEN]);
    assert_eq!(header, "Sensitive");
}

#[test]
fn configured_exchange_and_cache_print_no_secret() {
    let source = ClientCredentials::builder(
        TokenUrl::parse("https://auth.example.com/token").unwrap(),
        "client-id",
        SECRET,
    )
    .build()
    .unwrap();
    let request = source.token_request().unwrap();
    assert_no_secret(&format!("{source:?} {request:?}"), &[SECRET]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let cache = TokenCache::new(source);
        assert_no_secret(&format!("{cache:?}"), &[SECRET]);
    });
}
