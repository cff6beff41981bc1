//! Configuration: which URL each environment gives, and what each set of environment
//! variables gives (one row per case).

use auth_core::test_util::{describe_config_error, env_lookup};
use podero_auth::{Environment, PoderoAuth, SourceConfig as _};

use super::SECRET;

/// Environments and the base URL each gives, or the error.
fn environment_rows() -> Vec<(Environment, String)> {
    let sandbox = |name: &str| Environment::Sandbox(name.to_owned());
    let custom = |url: &str| Environment::Custom(url.to_owned());
    let not_a_label = |name: &str| {
        format!(
            "Invalid: invalid Podero sandbox name: {name:?} is not a subdomain label \
             (letters, digits and inner hyphens, at most 63)"
        )
    };
    let too_long = "x".repeat(64);
    vec![
        (Environment::Production, "https://app.podero.com/".into()),
        (sandbox("Acme-Test"), "https://acme-test.podero.com/".into()),
        (sandbox("acme"), "https://acme.podero.com/".into()),
        (sandbox(""), not_a_label("")),
        (sandbox("-acme"), not_a_label("-acme")),
        (sandbox("acme.evil.com"), not_a_label("acme.evil.com")),
        (sandbox("a/b"), not_a_label("a/b")),
        (sandbox(&too_long), not_a_label(&too_long)),
        (
            custom("http://podero.example.com"),
            "InsecureUrl: Podero base URL must use https:// (plain http:// is allowed for \
             loopback hosts only), got http://podero.example.com"
                .into(),
        ),
        (
            custom("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/".into(),
        ),
    ]
}

#[test]
fn each_environment_gives_its_base_url() {
    for (environment, expected) in environment_rows() {
        check_environment(&environment, &expected);
    }
    let source = PoderoAuth::new("id", "secret")
        .environment(Environment::Sandbox("acme".into()))
        .into_source()
        .unwrap();
    assert_eq!(
        source.token_url().to_string(),
        "https://acme.podero.com/oauth2/token/"
    );
}

#[track_caller]
fn check_environment(environment: &Environment, expected: &str) {
    let actual = match environment.base_url() {
        Ok(url) => url.to_string(),
        Err(error) => describe_config_error(&error),
    };
    assert_eq!(actual, expected, "{environment:?}");
}

const ID: (&str, &str) = ("PODERO_CLIENT_ID", "id");
const SECRET_VAR: (&str, &str) = ("PODERO_CLIENT_SECRET", SECRET);

const QUERY_OR_FRAGMENT: &str = "InvalidUrl: invalid PODERO_BASE_URL: a base URL must not have \
    a ?query or #fragment (endpoint paths are appended to it): give only scheme, host, port and \
    an optional path prefix";

/// Environment variables and what loading them gives: the base URL, the client id and the
/// body encoding the source starts with, or the error.
const ENV_ROWS: &[(&[(&str, &str)], &str)] = &[
    (&[ID, SECRET_VAR], "https://app.podero.com/ id Json"),
    (
        &[
            ID,
            SECRET_VAR,
            ("PODERO_BASE_URL", "https://sandbox.podero.com"),
        ],
        "https://sandbox.podero.com/ id Json",
    ),
    (
        &[ID],
        "MissingEnv: environment variable PODERO_CLIENT_SECRET is not set",
    ),
    (
        &[("PODERO_CLIENT_ID", " "), SECRET_VAR],
        "EmptyEnv: environment variable PODERO_CLIENT_ID is empty",
    ),
    (
        &[
            ID,
            SECRET_VAR,
            ("PODERO_BASE_URL", "http://podero.example.com"),
        ],
        "InsecureUrl: PODERO_BASE_URL must use https:// (plain http:// is allowed for loopback \
         hosts only), got http://podero.example.com",
    ),
    // A query or fragment would put the endpoint path in the wrong place: refused, naming the
    // variable.
    (
        &[
            ID,
            SECRET_VAR,
            ("PODERO_BASE_URL", "https://host/prefix?tenant=a"),
        ],
        QUERY_OR_FRAGMENT,
    ),
    (
        &[
            ID,
            SECRET_VAR,
            ("PODERO_BASE_URL", "https://host/prefix#frag"),
        ],
        QUERY_OR_FRAGMENT,
    ),
    // PODERO_TOKEN_BODY chooses the encoding; `auto` starts with JSON.
    (
        &[ID, SECRET_VAR, ("PODERO_TOKEN_BODY", "json")],
        "https://app.podero.com/ id Json",
    ),
    (
        &[ID, SECRET_VAR, ("PODERO_TOKEN_BODY", "FORM")],
        "https://app.podero.com/ id Form",
    ),
    (
        &[ID, SECRET_VAR, ("PODERO_TOKEN_BODY", "auto")],
        "https://app.podero.com/ id Json",
    ),
    (
        &[ID, SECRET_VAR, ("PODERO_TOKEN_BODY", "xml")],
        "Invalid: invalid PODERO_TOKEN_BODY: it must be `json`, `form` or `auto`",
    ),
];

#[test]
fn each_set_of_environment_variables_gives_its_configuration() {
    for (vars, expected) in ENV_ROWS {
        check_env(vars, expected);
    }
}

#[track_caller]
fn check_env(vars: &[(&str, &str)], expected: &str) {
    let loaded = PoderoAuth::from_lookup(env_lookup(vars)).and_then(|auth| {
        let base_url = auth.base_url()?;
        let client_id = auth.client_id().as_str().to_owned();
        let source = auth.into_source()?;
        Ok(format!(
            "{base_url} {client_id} {:?}",
            source.current_body_encoding()
        ))
    });
    let actual = loaded.unwrap_or_else(|error| describe_config_error(&error));
    assert_eq!(actual, expected, "{vars:?}");
}
