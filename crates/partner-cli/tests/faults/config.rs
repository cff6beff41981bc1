//! Bad configuration and hostile input: refused before any request (exit 2, naming the
//! variable, never showing a secret), escaped and bounded when echoed back.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;

use partner_emulator::Endpoint;

use crate::support::{Row, Vendor};

use Endpoint::{CreateUser, GetUser, PoderoToken, UpdateUser};

/// Exit 2, saying `says`, with no request at all.
fn refused(row: Row, says: &str) -> Row {
    row.exits(2).says(says).max_error_line_chars(1_000)
}

fn podero_token() -> Row {
    Row::token(Vendor::Podero)
}

fn poa_token() -> Row {
    Row::token(Vendor::Poa)
}

fn users_list() -> Row {
    Row::users(&["list"])
}

/// 100 000 characters.
fn long_text() -> String {
    "a".repeat(100_000)
}

/// Clear the screen, ring, and forge a line.
const HOSTILE: &str = "\u{1b}[2J\u{7}\r\nerror: nothing happened, all good";

rows! {
    // Base URLs with a query or a fragment are refused, naming the variable (the flag stands
    // in for the variable of the vendor).
    podero_base_url_with_a_query_token: refused(podero_token().env("PODERO_BASE_URL", "{base}/prefix?tenant=a"), "invalid PODERO_BASE_URL: a base URL must not have a ?query or #fragment");
    podero_base_url_with_a_query_users: refused(users_list().env("PODERO_BASE_URL", "{base}?tenant=a"), "invalid PODERO_BASE_URL");
    podero_base_url_with_a_fragment: refused(Row::users(&["get", "016b78a7-0c7c-4241-a277-015c3ad3cb90"]).env("PODERO_BASE_URL", "{base}#users"), "invalid PODERO_BASE_URL").never_says("token URL");
    poa_base_url_with_a_fragment: refused(poa_token().env("POA_BASE_URL", "{base}#x"), "invalid POA_BASE_URL");
    poa_base_url_flag_with_a_query: refused(Row::cli(&["--base-url", "{base}?x=1", "token", "--vendor", "poa"]), "invalid --base-url: a base URL must not have a ?query");

    // Plain http:// to anything but loopback.
    podero_plain_http_to_a_remote_host: refused(users_list().env("PODERO_BASE_URL", "http://partner.example.com"), "PODERO_BASE_URL must use https://");
    poa_plain_http_to_a_remote_host: refused(poa_token().env("POA_BASE_URL", "http://partner.example.com"), "POA_BASE_URL must use https://");
    // Credentials in a base URL are refused and never shown.
    podero_base_url_with_credentials: refused(podero_token().env("PODERO_BASE_URL", "http://admin:hunter2-in-the-url@127.0.0.1:9"), "PODERO_BASE_URL").secret("hunter2-in-the-url");

    // Missing, empty, blank, non-UTF-8 or malformed variables.
    podero_secret_empty: refused(podero_token().env("PODERO_CLIENT_SECRET", ""), "environment variable PODERO_CLIENT_SECRET is empty");
    poa_client_id_missing: refused(poa_token().unset("POA_CLIENT_ID"), "environment variable POA_CLIENT_ID is not set");
    poa_base_url_missing: refused(poa_token().unset("POA_BASE_URL"), "environment variable POA_BASE_URL is not set");
    podero_org_id_blank: refused(users_list().env("PODERO_ORG_ID", "  \n"), "environment variable PODERO_ORG_ID is empty");
    podero_org_id_with_control_characters: refused(users_list().env("PODERO_ORG_ID", HOSTILE), "invalid PODERO_ORG_ID: it is not a UUID").no_line_starts_with("error: nothing happened");
    podero_secret_not_utf8: refused(podero_token().env("PODERO_CLIENT_SECRET", OsString::from_vec(vec![b's', 0xff, 0xfe, b'x'])), "PODERO_CLIENT_SECRET is not valid Unicode");
    podero_timeout_not_a_number: refused(podero_token().env("PODERO_TIMEOUT", "NaN"), "invalid PODERO_TIMEOUT");
    poa_timeout_negative: refused(poa_token().env("POA_TIMEOUT", "-1"), "invalid POA_TIMEOUT");
    podero_max_pages_zero: refused(users_list().env("PODERO_MAX_PAGES", "0"), "invalid PODERO_MAX_PAGES");
    podero_token_body_unknown: refused(podero_token().env("PODERO_TOKEN_BODY", "xml"), "invalid PODERO_TOKEN_BODY");

    // Hostile arguments: refused and echoed escaped and bounded, or sent and printed escaped.
    users_get_a_100_000_character_user_id: refused(Row::users(&["get", &long_text()]), "is not a user id").max_error_line_chars(200).never_says(&"a".repeat(81));
    users_delete_user_id_with_control_characters: refused(Row::users(&["delete", HOSTILE]), "\\u{1b}[2J\\u{7}\\u{d}\\u{a}error: nothing happened").no_line_starts_with("error: nothing happened");
    users_update_nothing_to_update: refused(Row::users(&["update", "016b78a7-0c7c-4241-a277-015c3ad3cb90"]), "nothing to update");
    users_create_email_with_control_characters: Row::users(&["create", "--email", "x\u{1b}[2J\u{7}@example.com", "--first-name", HOSTILE])
        .prints("x\\u001b[2J\\u0007@example.com")
        .requests(PoderoToken, 1)
        .requests(CreateUser, 1);
    users_update_town_with_an_osc_sequence: Row::users(&["update", "{user}", "--town", "\u{1b}]0;owned\u{7}"])
        .with_user()
        .prints("\\u001b]0;owned\\u0007")
        .requests(PoderoToken, 1)
        .requests(UpdateUser, 1);
    // A 100 000-character field makes a body over the server's 64 KiB limit: its 413 is an
    // API error, and nothing of the field comes back.
    users_create_a_100_000_character_name: Row::users(&["create", "--email", "long@example.com", "--first-name", &long_text()])
        .exits(4)
        .says("HTTP 413")
        .max_error_line_chars(500)
        .never_says(&"a".repeat(201))
        .requests(PoderoToken, 1)
        .requests(CreateUser, 1);
    users_get_unknown_user: Row::users(&["get", "016b78a7-0c7c-4241-a277-015c3ad3cb90"])
        .exits(4)
        .says("HTTP 404")
        .says("hint: check the organisation id and the user id")
        .requests(PoderoToken, 1)
        .requests(GetUser, 1);
}
