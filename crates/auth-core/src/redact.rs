//! Making server text safe to show: the [`Redactor`] removes secrets in every encoding a server
//! might echo them in, and [`sanitize`] escapes control characters and bounds the length, so
//! that nothing a server (or a user) sends can leak a credential or forge a terminal line.
//!
//! Every piece of text that reaches an error's `Display`, a log line or the terminal from
//! outside the program passes through here first. This module does no I/O and never panics.

use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// The start of a response body, safe to show: known secrets, values of credential-bearing
/// keys and every long token-like run of characters are replaced by `[redacted]`, control
/// characters are escaped, and the text is cut to [`Excerpt::MAX_CHARS`] characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Excerpt(String);

impl Excerpt {
    /// The longest excerpt, in characters (before escaping).
    pub const MAX_CHARS: usize = 160;

    /// The excerpt text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Removes secrets from text taken from a response before it goes into an error.
///
/// Three passes, in this order, over the whole text before it is shortened for display (so a
/// secret cut in half by the shortening is already gone), or over its first 64 KiB (`excerpt`)
/// or 4,096 characters (`text`), that bound moved back before any known secret's encoding it
/// would split:
/// 1. every known secret (the client secret, the token that was sent) is replaced in every
///    form a server may echo it in: as is, form-urlencoded, percent-encoded (either hex case),
///    JSON-escaped (with or without `\/` and `\u00e9`-style escapes, either hex case),
///    HTML-escaped, and base64 (alone, or as the `id:secret` of a Basic header);
/// 2. the value after a credential-bearing key (`access_token`, `refresh_token`, `id_token`,
///    `client_secret`, `password`, `assertion`) is replaced, in JSON and form syntax;
/// 3. every run of 20 or more characters from the token alphabet (`A-Z a-z 0-9 - . _ ~ + / =`)
///    is replaced: a token nobody told the redactor about.
///
/// Then control characters are escaped (see [`sanitize`]).
#[derive(Clone, Default)]
pub struct Redactor {
    /// Every encoded form of every known secret, longest first (so a longer form is replaced
    /// before a shorter one that it contains).
    forms: Vec<Arc<str>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secret forms)", self.forms.len())
    }
}

const SENSITIVE_KEYS: [&str; 6] = [
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "assertion",
];
const LONG_RUN: usize = 20;
/// How much of a body [`Redactor::excerpt`] reads.
const MAX_REDACTED_BYTES: usize = 64 * 1024;
/// How much of a text [`Redactor::text`] reads.
const MAX_REDACTED_CHARS: usize = 4 * 1024;

impl Redactor {
    /// A redactor that knows no specific secret (the generic passes still apply).
    pub fn new() -> Self {
        Self::default()
    }

    /// Also replaces every occurrence of `secret`, in every encoding (ignored if empty).
    #[must_use]
    pub fn with_secret(mut self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        let mut forms = vec![secret.to_owned()];
        forms.push(form_urlencode(secret));
        for upper in [true, false] {
            forms.push(percent_encode(secret, upper));
            for escape_slash in [true, false] {
                for ascii_only in [true, false] {
                    for short_controls in [true, false] {
                        forms.push(json_escape(
                            secret,
                            escape_slash,
                            ascii_only,
                            upper,
                            short_controls,
                        ));
                    }
                }
            }
        }
        forms.push(html_escape(secret));
        forms.extend(base64_forms(secret.as_bytes()));
        self.add_forms(forms);
        self
    }

    /// Also replaces the Basic credentials `id:secret` in base64, as RFC 6749 section 2.3.1
    /// builds them (form-urlencoded parts) and as many servers expect them (raw parts), and
    /// the secret itself in every encoding.
    #[must_use]
    pub fn with_basic_credentials(self, id: &str, secret: &str) -> Self {
        let mut this = self.with_secret(secret);
        if secret.is_empty() {
            return this;
        }
        let mut forms = Vec::new();
        for pair in [
            format!("{}:{}", form_urlencode(id), form_urlencode(secret)),
            format!("{id}:{secret}"),
        ] {
            forms.extend(base64_forms(pair.as_bytes()));
        }
        this.add_forms(forms);
        this
    }

    fn add_forms(&mut self, forms: Vec<String>) {
        for form in forms {
            if !form.is_empty() && !self.forms.iter().any(|f| **f == *form) {
                self.forms.push(Arc::from(form));
            }
        }
        self.forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    }

    /// Whether `text` contains a known secret in any of its encodings.
    pub fn contains_secret(&self, text: &[u8]) -> bool {
        self.forms
            .iter()
            .any(|form| contains(text, form.as_bytes()))
    }

    /// An excerpt of a raw body (lossy UTF-8), redacted, escaped and shortened; `None` if the
    /// body is empty or only whitespace.
    pub fn excerpt(&self, body: &[u8]) -> Option<Excerpt> {
        // Only the start is shown; redacting a bounded prefix keeps the cost bounded too.
        let end = self.cut_outside_secrets(body, body.len().min(MAX_REDACTED_BYTES));
        let text = String::from_utf8_lossy(&body[..end]);
        let text = self.redact(&text);
        let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            return None;
        }
        Some(Excerpt(sanitize(&collapsed, Excerpt::MAX_CHARS)))
    }

    /// Redacts free text (such as an `error_description`), escapes control characters and
    /// shortens it to 500 characters.
    pub fn text(&self, text: &str) -> String {
        let bound = text
            .char_indices()
            .nth(MAX_REDACTED_CHARS)
            .map_or(text.len(), |(i, _)| i);
        let end = self.cut_outside_secrets(text.as_bytes(), bound);
        // An encoding starts at a character boundary (its first byte leads a character).
        let prefix = text
            .get(..end)
            .or_else(|| text.get(..bound))
            .unwrap_or_default();
        sanitize(&self.redact(prefix), 500)
    }

    /// `bound`, moved back before every occurrence of a known secret's encoding that a cut at
    /// `bound` would split: each is then redacted whole, or not shown at all. (A split piece
    /// matches no form, and the redaction in front of it can shrink the text enough to bring
    /// it into view: found by the redactor fuzz target.)
    fn cut_outside_secrets(&self, text: &[u8], bound: usize) -> usize {
        let mut cut = bound.min(text.len());
        'again: loop {
            for form in &self.forms {
                let form = form.as_bytes();
                // Every occurrence inside this window starts before `cut` and ends after it.
                let window = &text[cut.saturating_sub(form.len() - 1)
                    ..cut.saturating_add(form.len() - 1).min(text.len())];
                if let Some(at) = window.windows(form.len()).position(|w| w == form) {
                    cut = cut.saturating_sub(form.len() - 1) + at;
                    continue 'again;
                }
            }
            return cut;
        }
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for form in &self.forms {
            if text.contains(&**form) {
                text = text.replace(&**form, REDACTED);
            }
        }
        redact_long_runs(&redact_sensitive_values(&text))
    }
}

/// Escapes every control character (C0, DEL, C1) and every bidirectional-override character
/// as `\u{..}`, and cuts the text to `max_chars` characters (adding `…`), so it can be shown on
/// one terminal line without changing what the terminal shows elsewhere.
pub fn sanitize(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    for (shown, c) in text.chars().enumerate() {
        if shown == max_chars {
            out.push('…');
            break;
        }
        if is_unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `c` must not reach a terminal raw.
fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn form_urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encode(text: &str, upper: bool) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else if upper {
            let _ = write!(out, "%{byte:02X}");
        } else {
            let _ = write!(out, "%{byte:02x}");
        }
    }
    out
}

/// The text as it appears inside a JSON string, the way common serialisers write it:
/// `serde_json` (neither option), Python's `json.dumps` (`ascii_only`), PHP's `json_encode`
/// (both). All three write backspace and form feed as `\b` and `\f` (`short_controls`);
/// others (Go) as `\u0008` and `\u000c`.
fn json_escape(
    text: &str,
    escape_slash: bool,
    ascii_only: bool,
    upper: bool,
    short_controls: bool,
) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let unit = |out: &mut String, u: u16| {
        if upper {
            let _ = write!(out, "\\u{u:04X}");
        } else {
            let _ = write!(out, "\\u{u:04x}");
        }
    };
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if escape_slash => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' if short_controls => out.push_str("\\b"),
            '\u{c}' if short_controls => out.push_str("\\f"),
            c if u32::from(c) < 0x20 || (ascii_only && !c.is_ascii()) => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    unit(&mut out, *u);
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

fn base64_forms(bytes: &[u8]) -> Vec<String> {
    vec![
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
    ]
}

/// Replaces the value following any sensitive key, in JSON (`"key": "value"`, escapes
/// respected) or form (`key=value`) syntax: a quoted value to its closing quote, a bare one to
/// the next `&`, comma, brace or whitespace.
fn redact_sensitive_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for key in SENSITIVE_KEYS {
            let Some(after_key) = rest.strip_prefix(key) else {
                continue;
            };
            out.push_str(key);
            // The key's closing quote, then the separator.
            let after_quote = after_key.strip_prefix('"').unwrap_or(after_key);
            let trimmed = after_quote.trim_start_matches([' ', '\t']);
            let Some(after_sep) = trimmed.strip_prefix([':', '=']) else {
                rest = after_key;
                continue 'outer;
            };
            let value = after_sep.trim_start_matches([' ', '\t']);
            out.push_str(&after_key[..after_key.len() - value.len()]);
            let (inner, quoted) = match value.strip_prefix('"') {
                Some(inner) => (inner, true),
                None => (value, false),
            };
            let end = if quoted {
                closing_quote(inner)
            } else {
                inner.find(['&', ',', '}', ' ', '\n', '\r', '\t'])
            }
            .unwrap_or(inner.len());
            if quoted {
                out.push('"');
            }
            if end > 0 {
                out.push_str(REDACTED);
            }
            rest = &inner[end..];
            continue 'outer;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// The byte index of the first unescaped `"` in `text`.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '/' | '=')
}

fn redact_long_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= LONG_RUN {
            out.push_str(REDACTED);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_redacts_known_secrets_keys_and_long_runs() {
        let redactor = Redactor::new().with_secret("s3cr3t!");
        let body = br#"{"access_token":"abc","note":"s3cr3t! leaked","jwt":"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln"}"#;
        let excerpt = redactor.excerpt(body).unwrap();
        assert_eq!(
            excerpt.as_str(),
            r#"{"access_token":"[redacted]","note":"[redacted] leaked","jwt":"[redacted]"}"#
        );
    }

    #[test]
    fn excerpt_redacts_form_syntax_and_encoded_secrets() {
        let redactor = Redactor::new().with_secret("a b&c");
        let text = redactor
            .excerpt(b"client_id=x&client_secret=a+b%26c&password=pw")
            .unwrap();
        assert_eq!(
            text.as_str(),
            "client_id=x&client_secret=[redacted]&password=[redacted]"
        );
    }

    #[test]
    fn every_encoding_of_a_secret_is_redacted() {
        let secret = "hs-P0d!s3cr&=/é";
        let redactor = Redactor::new().with_basic_credentials("client", secret);
        let echoes = [
            secret.to_owned(),
            r#"hs-P0d!s3cr&=\/\u00e9"#.to_owned(),
            r#"hs-P0d!s3cr&=\/\u00E9"#.to_owned(),
            r#"hs-P0d!s3cr&=/\u00e9"#.to_owned(),
            r#"hs-P0d!s3cr&=\/é"#.to_owned(),
            "hs-P0d%21s3cr%26%3D%2F%C3%A9".to_owned(),
            "hs-P0d%21s3cr%26%3d%2f%c3%a9".to_owned(),
            form_urlencode(secret),
            "hs-P0d!s3cr&amp;=/é".to_owned(),
            STANDARD.encode(secret),
            STANDARD.encode(format!("client:{}", form_urlencode(secret))),
            STANDARD.encode(format!("client:{secret}")),
        ];
        for echo in echoes {
            let body = format!(r#"{{"detail": "client authentication failed for secret {echo}"}}"#);
            let shown = redactor.excerpt(body.as_bytes()).unwrap();
            assert!(shown.as_str().contains(REDACTED), "{echo}: {shown}");
            assert!(!shown.as_str().contains("s3cr"), "{echo}: {shown}");
            assert!(redactor.contains_secret(body.as_bytes()), "{echo}");
            let described = redactor.text(&body);
            assert!(!described.contains("s3cr"), "{echo}: {described}");
        }
        assert!(!redactor.contains_secret(b"nothing to see"));
    }

    #[test]
    fn json_short_escapes_of_control_characters_are_redacted() {
        // serde_json, Python and PHP write backspace and form feed as `\b` and `\f`; Go
        // writes `\u0008` and `\u000c`. Found by the redactor fuzz target's oracle.
        let secret = "x\u{8}y\u{c}z";
        let redactor = Redactor::new().with_secret(secret);
        let serde = serde_json::to_string(secret).unwrap();
        for echo in [
            serde.trim_matches('"'),
            r"x\u0008y\u000cz",
            r"x\u0008y\u000Cz",
        ] {
            assert!(redactor.contains_secret(echo.as_bytes()), "{echo}");
            let shown = redactor.text(&format!("bad secret {echo}"));
            assert_eq!(shown, "bad secret [redacted]", "{echo}");
        }
    }

    #[test]
    fn a_secret_split_by_the_redaction_bound_is_not_shown() {
        // Redaction shrinks the long run in front to one marker, which brings the cut at the
        // bound into view: no piece of the secret may be there. Found by the redactor fuzz
        // target (a base64 Basic form cut at 4,096 characters).
        let secret = "hs-P0d!s3cr&=/é";
        let redactor = Redactor::new().with_basic_credentials("c", secret);
        let text = format!("{} {secret} more", "a".repeat(MAX_REDACTED_CHARS - 7));
        assert_eq!(redactor.text(&text), "[redacted] ");
        let body = format!("{} {secret} more", "a".repeat(MAX_REDACTED_BYTES - 12));
        assert_eq!(
            redactor.excerpt(body.as_bytes()).unwrap().as_str(),
            "[redacted]"
        );
        // Cut inside the two bytes of `é`.
        let body = format!("{} {secret} more", "a".repeat(MAX_REDACTED_BYTES - 16));
        assert_eq!(
            redactor.excerpt(body.as_bytes()).unwrap().as_str(),
            "[redacted]"
        );
    }

    #[test]
    fn a_secret_ending_at_the_redaction_bound_is_redacted_whole() {
        // Its last character also starts it: dropping "the start of a secret" at the bound
        // would have left the rest unredacted (found by the redactor fuzz target in a first
        // version of the fix).
        let secret = "s3cr3ts";
        let redactor = Redactor::new().with_secret(secret);
        let text = format!("{} {secret} more", "x".repeat(MAX_REDACTED_CHARS - 8));
        assert_eq!(redactor.text(&text), "[redacted] [redacted]");
        // Text that only looks like the start of a secret stays.
        assert_eq!(redactor.text("y s3cr"), "y s3cr");
    }

    #[test]
    fn short_known_tokens_are_redacted() {
        let redactor = Redactor::new().with_secret("tok-42");
        assert_eq!(
            redactor.excerpt(b"bad token tok-42").unwrap().as_str(),
            "bad token [redacted]"
        );
    }

    #[test]
    fn an_empty_value_does_not_swallow_the_next_key() {
        let shown = Redactor::new()
            .excerpt(br#"{"access_token":"","token_type":"bearer"}"#)
            .unwrap();
        assert_eq!(
            shown.as_str(),
            r#"{"access_token":"","token_type":"bearer"}"#
        );
        let shown = Redactor::new()
            .excerpt(br#"{"access_token": "a\"b", "x": 1}"#)
            .unwrap();
        assert_eq!(shown.as_str(), r#"{"access_token": "[redacted]", "x": 1}"#);
    }

    #[test]
    fn control_characters_are_escaped() {
        let shown = Redactor::new()
            .excerpt(b"bad\x1b[2J\x07 request\r\nerror: nothing happened, all good")
            .unwrap();
        assert_eq!(
            shown.as_str(),
            "bad\\u{1b}[2J\\u{7} request error: nothing happened, all good"
        );
        let text = Redactor::new().text("line\r\nerror: forged\u{202e}");
        assert_eq!(text, "line\\u{d}\\u{a}error: forged\\u{202e}");
        assert!(!text.chars().any(is_unsafe_char));
    }

    #[test]
    fn sanitize_bounds_the_length() {
        let long = "x".repeat(100_000);
        assert_eq!(sanitize(&long, 10).chars().count(), 11);
        assert_eq!(sanitize("short", 10), "short");
    }

    #[test]
    fn excerpt_is_short_and_secret_free_even_when_cut() {
        let secret = "x".repeat(10);
        let mut body = "<html>".repeat(30);
        body.push_str(&secret);
        let redactor = Redactor::new().with_secret(&secret);
        let excerpt = redactor.excerpt(body.as_bytes()).unwrap();
        assert!(excerpt.as_str().chars().count() <= Excerpt::MAX_CHARS + 1);
        assert!(!excerpt.as_str().contains("xxxx"));
    }

    #[test]
    fn html_stays_readable() {
        let excerpt = Redactor::new()
            .excerpt(
                b"<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>",
            )
            .unwrap();
        assert_eq!(
            excerpt.as_str(),
            "<html> <head><title>502 Bad Gateway</title></head> <body>nginx</body></html>"
        );
    }

    #[test]
    fn empty_bodies_have_no_excerpt() {
        assert_eq!(Redactor::new().excerpt(b" \n "), None);
        assert_eq!(Redactor::new().excerpt(b""), None);
    }

    #[test]
    fn invalid_utf8_is_handled() {
        let excerpt = Redactor::new().excerpt(&[0xff, 0xfe, b'o', b'k']).unwrap();
        assert!(excerpt.as_str().ends_with("ok"));
    }
}
