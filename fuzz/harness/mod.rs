//! The fuzz targets' bodies, in one place: each module's `run(data)` is what one cargo-fuzz
//! target executes (`fuzz/fuzz_targets/<name>.rs`, nightly features through libFuzzer) and what
//! the corpus replay test runs on stable for every committed input
//! (`crates/partner-sdk/tests/fuzz_replay`). Both include this directory with `#[path]`, so
//! there is one copy of each harness and no extra crate.
//!
//! A harness never returns an error: it panics when a property fails, and the parsers it
//! drives must not panic on any input. Inputs are split into fields by [`fields`], so that a
//! corpus file stays readable and easy to write by hand.

pub(crate) mod emulator_request;
pub(crate) mod env_config;
pub(crate) mod error_response;
pub(crate) mod jwt_expiry;
pub(crate) mod redactor;
pub(crate) mod retry_after;
pub(crate) mod token_response;
pub(crate) mod url;
pub(crate) mod users_page;

/// A harness: runs one input, panicking when a property fails.
pub(crate) type Harness = fn(&[u8]);

/// Every target by name (the name of its `fuzz_targets/` file and of its corpus directory).
pub(crate) const TARGETS: &[(&str, Harness)] = &[
    ("emulator_request", emulator_request::run),
    ("env_config", env_config::run),
    ("error_response", error_response::run),
    ("jwt_expiry", jwt_expiry::run),
    ("redactor", redactor::run),
    ("retry_after", retry_after::run),
    ("token_response", token_response::run),
    ("url", url::run),
    ("users_page", users_page::run),
];

/// The field separator of every target's input: ASCII unit separator (0x1F).
pub(crate) const SEPARATOR: u8 = 0x1f;

/// `data` cut at each [`SEPARATOR`] into `N` fields: the last one keeps the rest (separators
/// included), missing ones are empty.
pub(crate) fn fields<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut parts = data.splitn(N, |b| *b == SEPARATOR);
    for field in &mut out {
        match parts.next() {
            Some(part) => *field = part,
            None => break,
        }
    }
    out
}

/// Whether `c` must never reach a terminal raw: what `auth_core::redact` promises to escape
/// (C0, DEL and C1 controls, and the bidirectional overrides and isolates).
pub(crate) fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Fails if `text` (shown to a user as `what`) holds a raw control character.
#[track_caller]
pub(crate) fn assert_printable(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|c| is_unsafe_char(*c)) {
        panic!("{what} holds the raw control character {c:?}: {text:?}");
    }
}

/// A date from an ASCII integer of seconds since the epoch, or `default` if the field is not
/// one that chrono can represent.
pub(crate) fn date_or(field: &[u8], default: i64) -> chrono::DateTime<chrono::Utc> {
    let seconds = std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(default);
    chrono::DateTime::from_timestamp(seconds, 0)
        .or_else(|| chrono::DateTime::from_timestamp(default, 0))
        .unwrap_or_default()
}

/// 2025-01-01T00:00:00Z, the default "now" of the targets.
pub(crate) const EPOCH_2025: i64 = 1_735_689_600;

/// Base64 (RFC 4648), written here rather than taken from the crate the code under test uses,
/// so that the redactor's encodings are checked against an independent encoder.
pub(crate) fn base64(bytes: &[u8], url_safe: bool, pad: bool) -> String {
    let alphabet: &[u8; 64] = if url_safe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        let digits = chunk.len() + 1;
        for i in 0..4 {
            if i < digits {
                out.push(char::from(alphabet[(n >> (18 - 6 * i) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}
