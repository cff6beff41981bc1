//! `partner token --vendor podero|poa` against a hostile token endpoint: every fault for both
//! vendors (Podero's django-oauth-toolkit endpoint and POA's Keycloak one).
//!
//! Bounds met here (see `docs/robustness.md`): three attempts for what may be transient,
//! one for an answer that will not change; a response body of at most 64 KiB; the
//! per-attempt timeout (`PODERO_TIMEOUT`, `POA_TIMEOUT`; 1 s in the rows that time out).

use partner_emulator::{EchoFormat, Fault};

use crate::support::{Row, Vendor};

use Vendor::{Poa, Podero};

/// A fault the client may retry: three attempts, then exit 5 saying the answer could not be
/// received, never that the request could not be sent.
fn unreceived(vendor: Vendor, fault: Fault, says: &str) -> Row {
    Row::token(vendor)
        .fault(vendor.token_endpoint(), fault.times(3))
        .exits(5)
        .says(says)
        .says("hint: the token endpoint is unreachable or failing")
        .never_says("could not send")
        .requests(vendor.token_endpoint(), 3)
}

/// A fault only the client's own timeout ends: three attempts of 1 s each.
fn timed_out(vendor: Vendor, fault: Fault) -> Row {
    // Three attempts of 1 s and two backoffs of at most 200 and 400 ms: 30 s (the default
    // bound) leaves room for a loaded machine, and is a third of what 30 s timeouts take.
    unreceived(vendor, fault, "the token request timed out after 1s").short_timeouts()
}

/// An answer that will not get better: one attempt, exit 4.
fn unusable(vendor: Vendor, fault: Fault, says: &str) -> Row {
    Row::token(vendor)
        .fault(vendor.token_endpoint(), fault.times(3))
        .exits(4)
        .says(says)
        .requests(vendor.token_endpoint(), 1)
}

fn redirected_elsewhere(vendor: Vendor) -> Row {
    Row::token(vendor)
        .other_origin()
        .setup(move |cx| {
            let location = format!("{}{}", cx.other_base(), vendor.token_path());
            cx.emulator.inject_fault(
                vendor.token_endpoint(),
                Fault::redirect(307, location).times(3),
            );
        })
        .exits(4)
        .says("answered HTTP 307 Temporary Redirect")
        .requests(vendor.token_endpoint(), 1)
}

fn control_characters(vendor: Vendor) -> Row {
    unusable(
        vendor,
        Fault::control_characters(400),
        "\\u{1b}[2J\\u{7}invalid request\\u{d}\\u{a}error: nothing happened",
    )
    .no_line_starts_with("error: nothing happened")
}

/// A secret echoed by a failing token endpoint, in `format`: the client's secret is
/// [`AWKWARD_SECRET`](crate::support::AWKWARD_SECRET), which every encoding changes.
fn echo(vendor: Vendor, status: u16, format: EchoFormat) -> Row {
    Row::token(vendor).awkward_secrets().fault(
        vendor.token_endpoint(),
        Fault::echo_credentials(status, format).times(3),
    )
}

rows! {
    // Wire level: the connection breaks before a complete answer.
    podero_token_close_before_any_byte: unreceived(Podero, Fault::close_connection(), "could not receive a complete answer from the token endpoint");
    poa_token_close_before_any_byte: unreceived(Poa, Fault::close_connection(), "could not receive a complete answer from the token endpoint");
    podero_token_reset_mid_headers: unreceived(Podero, Fault::reset_mid_headers(), "could not receive a complete answer from the token endpoint");
    poa_token_reset_mid_headers: unreceived(Poa, Fault::reset_mid_headers(), "could not receive a complete answer from the token endpoint");
    podero_token_truncated_body: unreceived(Podero, Fault::truncated_body(), "could not read the response of the token endpoint");
    poa_token_truncated_body: unreceived(Poa, Fault::truncated_body(), "could not read the response of the token endpoint");
    podero_token_conflicting_content_length: unreceived(Podero, Fault::conflicting_content_length(), "could not receive a complete answer from the token endpoint");
    poa_token_conflicting_content_length: unreceived(Poa, Fault::conflicting_content_length(), "could not receive a complete answer from the token endpoint");

    // Wire level: only the client's timeout ends the wait.
    podero_token_slow_headers: timed_out(Podero, Fault::slow_headers(10));
    poa_token_slow_headers: timed_out(Poa, Fault::slow_headers(10));
    podero_token_slow_body: timed_out(Podero, Fault::slow_body(10));
    poa_token_slow_body: timed_out(Poa, Fault::slow_body(10));
    podero_token_never_answers: timed_out(Podero, Fault::never_answer());
    poa_token_never_answers: timed_out(Poa, Fault::never_answer());
    podero_token_endless_1xx: timed_out(Podero, Fault::informational_flood());
    poa_token_endless_1xx: timed_out(Poa, Fault::informational_flood());

    // Bodies the client must not hold or cannot use. A gzip bomb is never inflated (the
    // client asks for no encoding): its 1 MiB on the wire is already over the bound.
    podero_token_oversized_body: unusable(Podero, Fault::oversized_body(100_000_000), "the body is larger than 65536 bytes").max_rss_mib(64);
    poa_token_oversized_body: unusable(Poa, Fault::oversized_body(100_000_000), "the body is larger than 65536 bytes").max_rss_mib(64);
    podero_token_oversized_chunked_body: unusable(Podero, Fault::oversized_chunked_body(100_000_000), "the body is larger than 65536 bytes").max_rss_mib(64);
    poa_token_oversized_chunked_body: unusable(Poa, Fault::oversized_chunked_body(100_000_000), "the body is larger than 65536 bytes").max_rss_mib(64);
    podero_token_gzip_bomb: unusable(Podero, Fault::gzip_bomb(1 << 30), "the body is larger than 65536 bytes").max_rss_mib(64);
    poa_token_gzip_bomb: unusable(Poa, Fault::gzip_bomb(1 << 30), "the body is larger than 65536 bytes").max_rss_mib(64);
    podero_token_invalid_utf8: unusable(Podero, Fault::invalid_utf8(), "malformed token response (HTTP 200 OK)");
    poa_token_invalid_utf8: unusable(Poa, Fault::invalid_utf8(), "malformed token response (HTTP 200 OK)");
    podero_token_deeply_nested_json: unusable(Podero, Fault::deep_json(10_000), "JSON nested too deeply").never_says("not JSON");
    poa_token_deeply_nested_json: unusable(Poa, Fault::deep_json(10_000), "JSON nested too deeply").never_says("not JSON");

    // Valid JSON the client must still refuse, each said as what it is.
    podero_token_expires_in_beyond_f64: unusable(Podero, Fault::json_field("expires_in", "1e309"), "JSON with a number out of range").never_says("not JSON");
    poa_token_expires_in_beyond_f64: unusable(Poa, Fault::json_field("expires_in", "1e309"), "JSON with a number out of range").never_says("not JSON");
    podero_token_empty_access_token: unusable(Podero, Fault::json_field("access_token", "\"\""), "`access_token` is empty").says(r#"{"access_token":"","expires_in":36000"#).never_says("\"\"[redacted]");
    poa_token_access_token_not_a_string: unusable(Poa, Fault::json_field("access_token", "42"), "`access_token` is not a string");
    poa_token_mac_token_type: unusable(Poa, Fault::json_field("token_type", "\"mac\""), "unsupported `token_type` `mac`");
    // An `error` in a 200 is the server's answer: here, that the credentials were rejected.
    podero_token_error_in_a_200: unusable(Podero, Fault::json_field("error", "\"invalid_client\""), "rejected the client credentials (HTTP 200 OK): invalid_client").exits(3);

    // Redirects are never followed: nothing reaches the other origin.
    podero_token_redirect_to_another_origin: redirected_elsewhere(Podero);
    poa_token_redirect_to_another_origin: redirected_elsewhere(Poa);

    // Server text with terminal control sequences and a forged line.
    podero_token_control_characters: control_characters(Podero);
    poa_token_control_characters: control_characters(Poa);

    // Statuses: a 503 storm is retried as Retry-After asks; a Retry-After beyond the cap
    // (30 s) ends the retries at once instead of waiting.
    podero_token_503_storm: unreceived(Podero, Fault::status(503).retry_after(1), "HTTP 503");
    poa_token_429_retry_after_beyond_the_cap: Row::token(Poa)
        .fault(Vendor::Poa.token_endpoint(), Fault::status(429).retry_after(120).times(3))
        .exits(5)
        .says("HTTP 429")
        .requests(Vendor::Poa.token_endpoint(), 1);

    // Credentials echoed by the token endpoint, in each encoding a server might use.
    podero_token_echo_raw: echo(Podero, 500, EchoFormat::Raw).exits(5).says("client_secret=[redacted]").requests(Vendor::Podero.token_endpoint(), 3);
    podero_token_echo_json_escaped: echo(Podero, 500, EchoFormat::JsonEscaped).exits(3).says("[redacted]").requests(Vendor::Podero.token_endpoint(), 1);
    podero_token_echo_form_encoded: echo(Podero, 500, EchoFormat::FormEncoded).exits(5).says("client_secret=[redacted]").requests(Vendor::Podero.token_endpoint(), 3);
    podero_token_echo_in_html: echo(Podero, 500, EchoFormat::Html).exits(5).says("client_secret=[redacted]").requests(Vendor::Podero.token_endpoint(), 3);
    poa_token_echo_raw: echo(Poa, 400, EchoFormat::Raw).exits(4).says("client_secret=[redacted]").requests(Vendor::Poa.token_endpoint(), 1);
    poa_token_echo_json_escaped: echo(Poa, 400, EchoFormat::JsonEscaped).exits(3).says("[redacted]").requests(Vendor::Poa.token_endpoint(), 1);
    poa_token_echo_form_encoded: echo(Poa, 400, EchoFormat::FormEncoded).exits(4).says("client_secret=[redacted]").requests(Vendor::Poa.token_endpoint(), 1);
    poa_token_echo_in_html: echo(Poa, 400, EchoFormat::Html).exits(4).says("client_secret=[redacted]").requests(Vendor::Poa.token_endpoint(), 1);
}
