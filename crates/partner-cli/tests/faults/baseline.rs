//! Every command against a healthy emulator, under the same checks as the faulted rows, and
//! a check of the checks: the secret scan finds a token that is printed.

use partner_emulator::{Emulator, Endpoint};

use crate::process;
use crate::support::{Row, Vendor};

use Endpoint::{CreateUser, DeleteUser, GetUser, ListUsers, PoaToken, PoderoToken, UpdateUser};

rows! {
    baseline_podero_token: Row::token(Vendor::Podero)
        .prints("\"vendor\": \"podero\"")
        .requests(PoderoToken, 1);
    baseline_poa_token: Row::token(Vendor::Poa)
        .prints("\"vendor\": \"poa\"")
        .requests(PoaToken, 1);
    baseline_podero_token_with_awkward_secret: Row::token(Vendor::Podero)
        .awkward_secrets()
        .prints("\"scope\": \"read write\"")
        .requests(PoderoToken, 1);
    baseline_poa_token_shown_on_request: Row::cli(&["token", "--vendor", "poa", "--show-secret"])
        .allow_token_on_stdout()
        .prints("\"access_token\": \"ey")
        .requests(PoaToken, 1);
    baseline_users_list: Row::users(&["list"])
        .with_user()
        .prints("row-0@example.com")
        .requests(PoderoToken, 1)
        .requests(ListUsers, 1);
    baseline_users_get: Row::users(&["get", "{user}"])
        .with_user()
        .prints("row-0@example.com")
        .requests(PoderoToken, 1)
        .requests(GetUser, 1);
    baseline_users_create: Row::users(&["create", "--email", "new@example.com", "--zip-code", "01067"])
        .prints("\"zip_code\": \"01067\"")
        .requests(PoderoToken, 1)
        .requests(CreateUser, 1);
    baseline_users_update: Row::users(&["update", "{user}", "--town", "Dresden"])
        .with_user()
        .prints("\"town\": \"Dresden\"")
        .requests(PoderoToken, 1)
        .requests(UpdateUser, 1);
    baseline_users_delete: Row::users(&["delete", "{user}"])
        .with_user()
        .requests(PoderoToken, 1)
        .requests(DeleteUser, 1);
}

/// The scan is not vacuous: a token printed with `--show-secret` is found, in the same run
/// that the row above passes because it allows exactly that.
#[test]
fn the_scan_finds_a_printed_token() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator: Emulator = runtime.block_on(Emulator::builder().start()).unwrap();
    let run = process::run_partner(&emulator, &["token", "--vendor", "podero", "--show-secret"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let tokens = emulator.issued_tokens();
    assert_eq!(tokens.len(), 1, "one token issued");
    let leaks = process::leaks(&emulator, &tokens, &[], &run, false);
    assert!(
        leaks
            .iter()
            .any(|leak| leak.contains("a token leaked on stdout")),
        "{leaks:?}"
    );
    assert!(process::leaks(&emulator, &tokens, &[], &run, true).is_empty());
}
