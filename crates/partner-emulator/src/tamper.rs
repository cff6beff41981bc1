//! Bodies that break clients, for the faults that answer through hyper: echoed credentials in
//! several encodings, control characters, deep nesting, invalid UTF-8 inside a real answer,
//! and a real answer's JSON field replaced by raw text.
//!
//! Pure functions over bytes: nothing here touches the network or the state. Request bodies
//! come from clients and may be anything; none of these functions panics on any input.

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Value, json};

use crate::faults::EchoFormat;
use crate::http::authorization;
use crate::oauth::{Escapes, decode_component};

/// The text of the control-characters fault: clear the screen, ring the bell, and forge a
/// reassuring log line.
pub(crate) const CONTROL_TEXT: &str =
    "\u{1b}[2J\u{7}invalid request\r\nerror: nothing happened, all good";

/// The credential a request carried, as a server that echoes it would see it: the secret of
/// a Basic header, else a `client_secret` parameter (JSON or form body), else a bearer token,
/// else nothing.
pub(crate) fn presented_credential(headers: &HeaderMap, body: &[u8]) -> String {
    const BASE64: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let basic = authorization(headers, "basic")
        .and_then(|encoded| BASE64.decode(encoded).ok())
        .and_then(|decoded| {
            let decoded = String::from_utf8_lossy(&decoded).into_owned();
            let (_, secret) = decoded.split_once(':')?;
            decode_component(secret, Escapes::Lenient).ok()
        });
    if let Some(secret) = basic {
        return secret;
    }
    if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body)
        && let Some(Value::String(secret)) = object.get("client_secret")
    {
        return secret.clone();
    }
    if let Some((_, secret)) =
        form_urlencoded::parse(body).find(|(name, _)| name == "client_secret")
    {
        return secret.into_owned();
    }
    authorization(headers, "bearer")
        .unwrap_or_default()
        .to_owned()
}

/// The body echoing `secret` in `format`, and its content type.
pub(crate) fn echo(format: EchoFormat, secret: &str) -> (&'static str, Vec<u8>) {
    match format {
        EchoFormat::Raw => (
            "text/plain; charset=utf-8",
            format!("Internal error while checking client_secret={secret}\n").into_bytes(),
        ),
        EchoFormat::JsonEscaped => {
            // Already escaped: goes into the JSON text as it is.
            let description = format!(
                r#"Client authentication failed for client_secret \"{}\""#,
                php_json_escape(secret)
            );
            (
                "application/json",
                format!(r#"{{"error":"invalid_client","error_description":"{description}"}}"#)
                    .into_bytes(),
            )
        }
        EchoFormat::FormEncoded => (
            "application/x-www-form-urlencoded",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("error", "invalid_client")
                .append_pair("error_description", "Client authentication failed")
                .append_pair("client_secret", secret)
                .finish()
                .into_bytes(),
        ),
        EchoFormat::Html => (
            "text/html; charset=utf-8",
            format!(
                "<!DOCTYPE html>\n<html><head><title>Server Error</title></head><body>\
                 <h1>Server Error</h1><p>Client authentication failed for \
                 <code>client_secret={}</code></p></body></html>\n",
                html_escape(secret)
            )
            .into_bytes(),
        ),
    }
}

/// A JSON string's contents as PHP's `json_encode` writes them by default (and Python's
/// `json.dumps` but for the slash): `/` as `\/`, every non-ASCII character as `\uXXXX`
/// (UTF-16, lowercase hex), control characters escaped.
pub(crate) fn php_json_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            '/' => escaped.push_str("\\/"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            '\u{8}' => escaped.push_str("\\b"),
            '\u{c}' => escaped.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => escaped.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    escaped.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    escaped
}

fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The control-characters fault's JSON error, in both RFC 6749's and DRF's fields.
pub(crate) fn control_characters() -> Value {
    json!({
        "error": "invalid_request",
        "error_description": CONTROL_TEXT,
        "detail": CONTROL_TEXT,
    })
}

/// `depth` nested arrays.
pub(crate) fn deep_json(depth: usize) -> Vec<u8> {
    let mut body = vec![b'['; depth];
    body.resize(depth.saturating_mul(2), b']');
    body
}

/// `body` with the bytes `0xFF 0xFE` inserted at the start of its first string value (just
/// after the first `":"`), or at its end when it has none.
pub(crate) fn invalid_utf8(body: &[u8]) -> Vec<u8> {
    const INVALID: &[u8] = b"\xff\xfe";
    let at = body
        .windows(3)
        .position(|window| window == b"\":\"")
        .map_or(body.len(), |at| at + 3);
    let (before, after) = body.split_at(at);
    [before, INVALID, after].concat()
}

/// `body`, a JSON object, with its top-level field `name` set to the raw text `raw` (added
/// at the end when absent). `None` when `body` is not a JSON object.
pub(crate) fn set_json_field(body: &[u8], name: &str, raw: &str) -> Option<Vec<u8>> {
    if !matches!(serde_json::from_slice::<Value>(body), Ok(Value::Object(_))) {
        return None;
    }
    let key = serde_json::to_string(name).ok()?;
    let mut scanner = Scanner { body, at: 0 };
    scanner.skip_whitespace();
    scanner.expect(b'{')?;
    let mut members = 0;
    loop {
        scanner.skip_whitespace();
        if scanner.peek()? == b'}' {
            let close = scanner.at;
            let separator = if members == 0 { "" } else { "," };
            let inserted = format!("{separator}{key}:{raw}");
            return Some([body.get(..close)?, inserted.as_bytes(), body.get(close..)?].concat());
        }
        if members > 0 {
            scanner.expect(b',')?;
            scanner.skip_whitespace();
        }
        let key_start = scanner.at;
        scanner.skip_string()?;
        let this_key = body.get(key_start..scanner.at)?;
        scanner.skip_whitespace();
        scanner.expect(b':')?;
        scanner.skip_whitespace();
        let value_start = scanner.at;
        let value_end = scanner.skip_value()?;
        if this_key == key.as_bytes() {
            let (before, after) = (body.get(..value_start)?, body.get(value_end..)?);
            return Some([before, raw.as_bytes(), after].concat());
        }
        members += 1;
    }
}

/// A cursor over a JSON document already known to be valid.
struct Scanner<'a> {
    body: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.body.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn skip_string(&mut self) -> Option<()> {
        self.expect(b'"')?;
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(());
                }
                b'\\' => self.at += 2,
                _ => self.at += 1,
            }
        }
    }

    /// Skips one value and the whitespace after it, stopping before the `,` or `}` that
    /// follows; answers where the value itself ends.
    fn skip_value(&mut self) -> Option<usize> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => self.skip_string()?,
                b'{' | b'[' => {
                    depth += 1;
                    self.at += 1;
                }
                b'}' | b']' if depth > 0 => {
                    depth -= 1;
                    self.at += 1;
                }
                b',' | b'}' if depth == 0 => return Some(self.at),
                _ => self.at += 1,
            }
            if depth == 0 {
                let end = self.at;
                self.skip_whitespace();
                if matches!(self.peek(), Some(b',' | b'}')) {
                    return Some(end);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn secrets_are_escaped_as_php_and_python_do() {
        assert_eq!(php_json_escape("a b:c+d/e=f%&é"), "a b:c+d\\/e=f%&\\u00e9");
        assert_eq!(
            php_json_escape("\"\\\n\u{1}😀"),
            "\\\"\\\\\\n\\u0001\\ud83d\\ude00"
        );
        let (content_type, body) = echo(EchoFormat::JsonEscaped, "a/é");
        assert_eq!(content_type, "application/json");
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        assert!(
            parsed["error_description"]
                .as_str()
                .unwrap()
                .contains("\"a/é\"")
        );
        let (_, body) = echo(EchoFormat::Html, "<&>");
        assert!(String::from_utf8(body).unwrap().contains("&lt;&amp;&gt;"));
        let (_, body) = echo(EchoFormat::FormEncoded, "a b&");
        assert!(
            String::from_utf8(body)
                .unwrap()
                .ends_with("client_secret=a+b%26")
        );
    }

    #[test]
    fn the_presented_credential_is_found_where_servers_look() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            presented_credential(&headers, b"client_id=a&client_secret=s%2F"),
            "s/"
        );
        assert_eq!(
            presented_credential(&headers, br#"{"client_secret":"j"}"#),
            "j"
        );
        assert_eq!(presented_credential(&headers, b"\xff\x00"), "");
        headers.insert("authorization", HeaderValue::from_static("Bearer tok"));
        assert_eq!(presented_credential(&headers, b""), "tok");
        // base64 of "id:a+b%2F"
        headers.insert(
            "authorization",
            HeaderValue::from_static("Basic aWQ6YStiJTJG"),
        );
        assert_eq!(presented_credential(&headers, b"client_secret=x"), "a b/");
    }

    #[test]
    fn fields_are_replaced_or_added_at_the_top_level_only() {
        let set = |body: &str, name: &str, raw: &str| {
            set_json_field(body.as_bytes(), name, raw).map(|b| String::from_utf8(b).unwrap())
        };
        let token = r#"{"access_token":"a,}b","nested":{"expires_in":1},"expires_in":3600,"x":[1,{"y":2}]}"#;
        assert_eq!(
            set(token, "expires_in", "1e309").as_deref(),
            Some(
                r#"{"access_token":"a,}b","nested":{"expires_in":1},"expires_in":1e309,"x":[1,{"y":2}]}"#
            )
        );
        assert_eq!(
            set(r#"{ "a" : 1 , "b" : "x" }"#, "b", "null").as_deref(),
            Some(r#"{ "a" : 1 , "b" : null }"#)
        );
        assert_eq!(set("{}", "a", "-1").as_deref(), Some(r#"{"a":-1}"#));
        assert_eq!(
            set(r#"{"a":1}"#, "b\"", "2").as_deref(),
            Some(r#"{"a":1,"b\"":2}"#)
        );
        assert_eq!(set("[1]", "a", "1"), None);
        assert_eq!(set("{not json", "a", "1"), None);
    }

    #[test]
    fn invalid_bytes_go_into_the_first_string_value() {
        assert_eq!(invalid_utf8(br#"{"a":"b"}"#), b"{\"a\":\"\xff\xfeb\"}");
        assert_eq!(invalid_utf8(b"[]"), b"[]\xff\xfe");
        assert_eq!(deep_json(3), b"[[[]]]");
    }
}
