//! `partner users list|get|create|update|delete` against a hostile users API (and one hostile
//! token endpoint underneath).
//!
//! Bounds met here (see `docs/robustness.md`): GET, PUT and DELETE get three attempts for
//! what may be transient, POST one once the request may have been sent (nothing is created
//! twice); a response body of at most 16 MiB; one token refresh per call on a 401; the
//! per-attempt timeout (`PODERO_TIMEOUT`; 1 s in the rows that time out).

use partner_emulator::{EchoFormat, Endpoint, Fault};

use crate::support::{Row, Vendor};

use Endpoint::{CreateUser, DeleteUser, GetUser, ListUsers, PoderoToken, UpdateUser};

/// The command that calls `endpoint`, with the user `{user}` where it needs one.
fn command(endpoint: Endpoint) -> Row {
    match endpoint {
        ListUsers => Row::users(&["list"]),
        GetUser => Row::users(&["get", "{user}"]),
        CreateUser => Row::users(&["create", "--email", "new@example.com"]),
        UpdateUser => Row::users(&["update", "{user}", "--town", "Dresden"]),
        _ => Row::users(&["delete", "{user}"]),
    }
    .with_user()
}

/// One fault (three times) on `endpoint`; the call is made `attempts` times after one token
/// request.
fn faulted(endpoint: Endpoint, fault: Fault, exit: i32, says: &str, attempts: u64) -> Row {
    command(endpoint)
        .fault(endpoint, fault.times(3))
        .exits(exit)
        .says(says)
        .requests(PoderoToken, 1)
        .requests(endpoint, attempts)
}

/// The connection breaks before a complete answer: retried where that is safe, and said as
/// what it is.
fn unreceived(endpoint: Endpoint, fault: Fault, says: &str, attempts: u64) -> Row {
    faulted(endpoint, fault, 5, says, attempts).never_says("could not send")
}

/// Only the client's timeout ends the wait.
fn timed_out(endpoint: Endpoint, fault: Fault, attempts: u64) -> Row {
    faulted(endpoint, fault, 5, "no answer within 1s", attempts).short_timeouts()
}

/// A credential echoed by the API: the bearer token the request carried.
fn echo(endpoint: Endpoint, status: u16, format: EchoFormat, exit: i32, attempts: u64) -> Row {
    faulted(
        endpoint,
        Fault::echo_credentials(status, format),
        exit,
        "[redacted]",
        attempts,
    )
}

rows! {
    // Wire level.
    users_list_close_before_any_byte: unreceived(ListUsers, Fault::close_connection(), "could not receive a complete answer from the server", 3);
    users_list_reset_mid_headers: unreceived(ListUsers, Fault::reset_mid_headers(), "could not receive a complete answer from the server", 3);
    users_get_truncated_body: unreceived(GetUser, Fault::truncated_body(), "could not read the response of the server", 3);
    users_get_conflicting_content_length: unreceived(GetUser, Fault::conflicting_content_length(), "could not receive a complete answer from the server", 3);
    users_delete_close_before_any_byte: unreceived(DeleteUser, Fault::close_connection(), "could not receive a complete answer from the server", 3);
    users_update_reset_mid_headers: unreceived(UpdateUser, Fault::reset_mid_headers(), "could not receive a complete answer from the server", 3);
    // A POST the server may have processed is not repeated: nothing is created twice.
    users_create_close_before_any_byte: unreceived(CreateUser, Fault::close_connection(), "could not receive a complete answer from the server", 1);
    users_create_never_answers: timed_out(CreateUser, Fault::never_answer(), 1);
    users_get_slow_headers: timed_out(GetUser, Fault::slow_headers(10), 3);
    users_update_slow_body: timed_out(UpdateUser, Fault::slow_body(10), 3);
    users_list_never_answers: timed_out(ListUsers, Fault::never_answer(), 3);
    users_list_endless_1xx: timed_out(ListUsers, Fault::informational_flood(), 3);

    // Bodies.
    users_list_oversized_body: faulted(ListUsers, Fault::oversized_body(20 << 20), 4, "larger than 16777216 bytes", 1).max_rss_mib(96);
    users_list_oversized_chunked_body: faulted(ListUsers, Fault::oversized_chunked_body(20 << 20), 4, "larger than 16777216 bytes", 1).max_rss_mib(96);
    users_get_gzip_bomb: faulted(GetUser, Fault::gzip_bomb(1 << 30), 4, "unexpected response body", 1).max_rss_mib(64);
    users_list_invalid_utf8: faulted(ListUsers, Fault::invalid_utf8(), 4, "unexpected response body", 1);
    users_get_deeply_nested_json: faulted(GetUser, Fault::deep_json(100_000), 4, "unexpected response body: invalid type: sequence", 1).never_says("not JSON");
    users_list_deeply_nested_json: faulted(ListUsers, Fault::deep_json(100_000), 4, "unexpected response body: recursion limit exceeded", 1).never_says("not JSON");
    users_get_id_not_a_uuid: faulted(GetUser, Fault::json_field("id", "\"not-a-uuid\""), 4, "unexpected response body", 1);
    users_update_email_beyond_f64: faulted(UpdateUser, Fault::json_field("email", "1e309"), 4, "unexpected response body", 1);

    // Redirects are not followed: nothing reaches the other origin.
    users_list_redirect_to_another_origin: command(ListUsers)
        .other_origin()
        .setup(|cx| {
            let location = format!("{}/api/partners/v2.0/org/{}/users", cx.other_base(), cx.emulator.org_id());
            cx.emulator.inject_fault(ListUsers, Fault::redirect(302, location).times(3));
        })
        .exits(4)
        .says("answered HTTP 302 Found")
        .requests(PoderoToken, 1)
        .requests(ListUsers, 1);

    // The bearer token echoed back, in each encoding.
    // A 500 is not retried (502, 503 and 504 are).
    users_get_echo_raw: echo(GetUser, 500, EchoFormat::Raw, 5, 1);
    users_get_echo_json_escaped: echo(GetUser, 404, EchoFormat::JsonEscaped, 4, 1);
    users_update_echo_form_encoded: echo(UpdateUser, 400, EchoFormat::FormEncoded, 4, 1);
    users_delete_echo_in_html: echo(DeleteUser, 400, EchoFormat::Html, 4, 1);

    // Server text with terminal control sequences and a forged line.
    users_list_control_characters: faulted(ListUsers, Fault::control_characters(400), 4, "\\u001b[2J", 1).no_line_starts_with("error: nothing happened");
    users_get_control_characters_in_a_500: faulted(GetUser, Fault::control_characters(500), 5, "\\u001b[2J", 1).no_line_starts_with("error: nothing happened");
    users_create_control_characters: faulted(CreateUser, Fault::control_characters(400), 4, "\\u001b[2J", 1).no_line_starts_with("error: nothing happened");

    // Statuses: a 503 storm with Retry-After; 401s get one refresh, never a loop.
    users_list_503_storm: faulted(ListUsers, Fault::status(503).retry_after(1), 5, "HTTP 503", 3);
    users_delete_401_twice: command(DeleteUser)
        .fault(DeleteUser, Fault::status(401).times(2))
        .exits(4)
        .says("refused a freshly obtained token")
        .requests(PoderoToken, 2)
        .requests(DeleteUser, 2);
    users_list_401_echoing_the_token_once: command(ListUsers)
        .fault(ListUsers, Fault::echo_credentials(401, EchoFormat::Html))
        .requests(PoderoToken, 2)
        .requests(ListUsers, 2);

    // The token endpoint underneath fails: no API call is made.
    users_list_token_endpoint_never_answers: Row::users(&["list"])
        .fault(Vendor::Podero.token_endpoint(), Fault::never_answer().times(3))
        .short_timeouts()
        .exits(5)
        .says("the token request timed out after 1s")
        .says("hint: the token endpoint is unreachable or failing")
        .requests(PoderoToken, 3);
}
