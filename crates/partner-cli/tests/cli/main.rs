//! The built `partner` binary, run as a user would: exit codes, stdout JSON, stderr messages
//! without secrets. Emulators are started in this test process; the binary talks to them over
//! loopback.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod readme;
mod token_cache;

use std::process::{Command, Output};
use std::time::Duration;

use partner_emulator::{Emulator, Endpoint};
use serde_json::Value;

/// The binary with a clean environment (no inherited credentials, a token cache directory of
/// its own unless `vars` names one), plus `vars`.
fn partner(args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_partner"));
    command.args(args);
    command.env(
        "PARTNER_TOKEN_CACHE_DIR",
        std::env::temp_dir().join(format!("partner-cli-test-{:016x}", fastrand_u64())),
    );
    for name in [
        "PARTNER_REDIS_URL",
        "XDG_CACHE_HOME",
        "PODERO_BASE_URL",
        "PODERO_CLIENT_ID",
        "PODERO_CLIENT_SECRET",
        "PODERO_ORG_ID",
        "POA_BASE_URL",
        "POA_CLIENT_ID",
        "POA_CLIENT_SECRET",
        "POA_TOKEN_PATH",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command.envs(vars.iter().copied());
    command
}

/// A random number for unique directory names (without a dependency for it).
fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(u64::from(std::process::id()));
    hasher.finish()
}

/// Runs the binary off the async runtime (the emulator serves on it meanwhile).
async fn run(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = partner(args, vars);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn podero_env(emulator: &Emulator) -> Vec<(&'static str, String)> {
    let credentials = emulator.podero_credentials();
    vec![
        ("PODERO_CLIENT_ID", credentials.client_id.clone()),
        ("PODERO_CLIENT_SECRET", credentials.client_secret.clone()),
        ("PODERO_ORG_ID", emulator.org_id().to_string()),
    ]
}

fn borrow<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_runs_with_one_token_request_for_many_calls() {
    let output = run(&["demo"], &[]).await;
    let transcript = stdout(&output);
    assert!(output.status.success(), "{transcript}\n{}", stderr(&output));
    assert!(
        transcript.contains("token requests at the emulator: 1"),
        "{transcript}"
    );
    assert!(
        transcript.contains("token requests still 1"),
        "{transcript}"
    );
    assert!(
        transcript.contains("all with the first token (token requests: 1)"),
        "{transcript}"
    );
    assert!(transcript.contains("-> 401"), "{transcript}");
    assert!(transcript.contains("token requests now 2"), "{transcript}");
    assert!(transcript.contains("[poa] token fetched"), "{transcript}");
}

#[tokio::test(flavor = "multi_thread")]
async fn podero_token_as_json_with_and_without_the_secret() {
    let emulator = Emulator::builder().start().await.unwrap();
    let vars = podero_env(&emulator);
    let base = emulator.base_url().to_owned();
    let output = run(
        &["--base-url", &base, "token", "--vendor", "podero"],
        &borrow(&vars),
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["vendor"], "podero");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["scope"], "read write");
    let expires_in = json["expires_in"].as_i64().unwrap();
    assert!((35_990..=36_000).contains(&expires_in), "{json}");
    assert!(json["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(json.get("access_token").is_none());

    let output = run(
        &[
            "--base-url",
            &base,
            "token",
            "--vendor",
            "podero",
            "--show-secret",
        ],
        &borrow(&vars),
    )
    .await;
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["access_token"].as_str().unwrap().len(), 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn poa_token_reports_the_jwt_expiry_when_it_is_earlier() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.set_poa_jwt_lifetime(Some(Duration::from_secs(600)));
    let credentials = emulator.poa_credentials();
    let output = run(
        &["token", "--vendor", "poa"],
        &[
            ("POA_BASE_URL", emulator.base_url()),
            ("POA_CLIENT_ID", &credentials.client_id),
            ("POA_CLIENT_SECRET", &credentials.client_secret),
        ],
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["vendor"], "poa");
    assert_eq!(json["scope"], "partner");
    let expires_in = json["expires_in"].as_i64().unwrap();
    assert!(
        (590..=600).contains(&expires_in),
        "the JWT exp, not expires_in 1800: {json}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn users_crud_through_the_cli() {
    let emulator = Emulator::builder().start().await.unwrap();
    let mut vars = podero_env(&emulator);
    vars.push(("PODERO_BASE_URL", emulator.base_url().to_owned()));
    let vars = borrow(&vars);

    let output = run(
        &[
            "users",
            "create",
            "--email",
            "cli@example.com",
            "--role",
            "staff",
            "--zip-code",
            "01067",
            "--first-name",
            "Cli",
        ],
        &vars,
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let created: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["role"], "staff");
    assert_eq!(created["zip_code"], "01067");

    // `--org-id` stands in for PODERO_ORG_ID.
    let org = emulator.org_id().to_string();
    let without_org: Vec<(&str, &str)> = vars
        .iter()
        .copied()
        .filter(|(name, _)| *name != "PODERO_ORG_ID")
        .collect();
    let output = run(&["--org-id", &org, "users", "list"], &without_org).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let listed: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let output = run(&["users", "update", &id, "--town", "Dresden"], &vars).await;
    let updated: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(updated["town"], "Dresden");
    assert_eq!(updated["first_name"], "Cli");

    let output = run(&["users", "get", &id], &vars).await;
    let fetched: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(fetched, updated);

    let output = run(&["users", "delete", &id], &vars).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");

    let output = run(&["users", "get", &id], &vars).await;
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("404"), "{}", stderr(&output));
    assert_eq!(emulator.request_count(Endpoint::DeleteUser), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_exits_3_without_printing_it() {
    let emulator = Emulator::builder().start().await.unwrap();
    let secret = "wrong-secret-do-not-print-4711";
    let output = run(
        &[
            "--base-url",
            emulator.base_url(),
            "token",
            "--vendor",
            "podero",
        ],
        &[
            ("PODERO_CLIENT_ID", &emulator.podero_credentials().client_id),
            ("PODERO_CLIENT_SECRET", secret),
            ("RUST_LOG", "trace"),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("rejected the client credentials"), "{err}");
    assert!(!err.contains(secret), "the secret leaked: {err}");
    assert!(!stdout(&output).contains(secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_host_exits_5() {
    // Bound, not listening: connections are refused, and no other test takes the port.
    let refusing = tokio::net::TcpSocket::new_v4().unwrap();
    refusing.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = refusing.local_addr().unwrap();
    let output = run(
        &[
            "--base-url",
            &format!("http://{addr}"),
            "token",
            "--vendor",
            "podero",
        ],
        &[
            ("PODERO_CLIENT_ID", "id"),
            ("PODERO_CLIENT_SECRET", "secret"),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("could not connect"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_environment_exits_2_naming_the_variable() {
    let output = run(&["users", "list"], &[("PODERO_CLIENT_ID", "id")]).await;
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("PODERO_CLIENT_SECRET"), "{err}");
    assert!(err.lines().count() <= 2, "{err}");

    let output = run(&["token", "--vendor", "poa"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("POA_BASE_URL"));
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_to_a_remote_host_exits_2() {
    let output = run(
        &[
            "--base-url",
            "http://app.podero.com",
            "token",
            "--vendor",
            "podero",
        ],
        &[
            ("PODERO_CLIENT_ID", "id"),
            ("PODERO_CLIENT_SECRET", "secret"),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("https://"), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2() {
    let output = run(&["users", "frobnicate"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    let output = run(&["token"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    let output = run(
        &["users", "get", "not-a-uuid"],
        &[
            ("PODERO_CLIENT_ID", "id"),
            ("PODERO_CLIENT_SECRET", "secret"),
            ("PODERO_ORG_ID", "016b78a7-0c7c-4241-a277-015c3ad3cb90"),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_command_prints_exports_that_the_other_commands_use() {
    // `partner emulator` runs until interrupted: start it, read its banner, use the printed
    // environment with `partner token`, stop it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut child = partner(
        &[
            "emulator",
            "--addr",
            &addr.to_string(),
            "--podero-token-lifetime",
            "90",
        ],
        &[],
    )
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let out = child.stdout.take().unwrap();
    let banner = tokio::task::spawn_blocking(move || {
        use std::io::BufRead as _;
        let mut banner = String::new();
        for line in std::io::BufReader::new(out).lines() {
            let line = line.unwrap();
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("export POA_CLIENT_SECRET=") {
                break;
            }
        }
        banner
    })
    .await
    .unwrap();
    let exports: Vec<(String, String)> = banner
        .lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.trim_matches('\'').to_owned()))
        .collect();
    let names: Vec<&str> = exports.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "PODERO_BASE_URL",
            "PODERO_CLIENT_ID",
            "PODERO_CLIENT_SECRET",
            "PODERO_ORG_ID",
            "POA_BASE_URL",
            "POA_CLIENT_ID",
            "POA_CLIENT_SECRET"
        ],
        "{banner}"
    );
    assert!(banner.contains(&format!("http://{addr}")), "{banner}");

    let vars: Vec<(&str, &str)> = exports
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let output = run(&["token", "--vendor", "podero"], &vars).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let expires_in = json["expires_in"].as_i64().unwrap();
    assert!(
        (85..=90).contains(&expires_in),
        "--podero-token-lifetime 90: {json}"
    );
}
