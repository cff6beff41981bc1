//! Configuration from environment variables: what each set gives (one row per case).

use auth_core::test_util::{describe_config_error, env_lookup};
use poa_auth::{PoaAuth, SourceConfig as _};

use super::SECRET;

const BASE: (&str, &str) = ("POA_BASE_URL", "https://poa.example.com");
const ID: (&str, &str) = ("POA_CLIENT_ID", "id");
const SECRET_VAR: (&str, &str) = ("POA_CLIENT_SECRET", SECRET);

/// Environment variables and what loading them gives: the token URL and the client id, or
/// the error.
const ENV_ROWS: &[(&[(&str, &str)], &str)] = &[
    (
        &[BASE, ID, SECRET_VAR],
        "https://poa.example.com/v2/auth/cybrillarta/token id",
    ),
    (
        &[BASE, ID, SECRET_VAR, ("POA_TOKEN_PATH", "/poa/auth/token")],
        "https://poa.example.com/poa/auth/token id",
    ),
    (
        &[ID, SECRET_VAR],
        "MissingEnv: environment variable POA_BASE_URL is not set",
    ),
    (
        &[BASE, ID, ("POA_CLIENT_SECRET", "")],
        "EmptyEnv: environment variable POA_CLIENT_SECRET is empty",
    ),
    (
        &[
            ("POA_BASE_URL", "https://poa.example.com/base?tenant=a"),
            ID,
            SECRET_VAR,
        ],
        "InvalidUrl: invalid POA_BASE_URL: a base URL must not have a ?query or #fragment \
         (endpoint paths are appended to it): give only scheme, host, port and an optional \
         path prefix",
    ),
    (
        &[("POA_BASE_URL", "http://poa.example.com"), ID, SECRET_VAR],
        "InsecureUrl: POA_BASE_URL must use https:// (plain http:// is allowed for loopback \
         hosts only), got http://poa.example.com",
    ),
];

#[test]
fn each_set_of_environment_variables_gives_its_configuration() {
    for (vars, expected) in ENV_ROWS {
        check_env(vars, expected);
    }
}

#[test]
fn a_plain_http_base_url_is_refused_when_building_too() {
    let error = PoaAuth::new("http://poa.example.com", "id", SECRET)
        .into_source()
        .unwrap_err();
    assert_eq!(
        describe_config_error(&error),
        "InsecureUrl: POA base URL must use https:// (plain http:// is allowed for loopback \
         hosts only), got http://poa.example.com"
    );
}

#[track_caller]
fn check_env(vars: &[(&str, &str)], expected: &str) {
    let loaded = PoaAuth::from_lookup(env_lookup(vars)).and_then(|auth| {
        let client_id = auth.client_id().as_str().to_owned();
        let source = auth.into_source()?;
        Ok(format!("{} {client_id}", source.exchange().token_url()))
    });
    let actual = loaded.unwrap_or_else(|error| describe_config_error(&error));
    assert_eq!(actual, expected, "{vars:?}");
}
