//! `Redactor::with_basic_credentials` with `excerpt`, `text` and `contains_secret`.
//!
//! Input: `client id` SEP `secret` SEP `filler` SEP `layout`.
//!
//! Properties, for any input: the output holds no raw control character; and, for a non-empty
//! secret, every encoding the redactor promises (computed here by an independent encoder) is
//! recognised by `contains_secret`, and none of them survives in the output of `excerpt` or
//! `text`, whole or in part, wherever it sits in the text (the text may be long enough for a
//! shortening to cut through it).
//!
//! How "in part" is checked without false alarms: the filler keeps only characters that no
//! encoding of the secret contains (nor its escaped form), so every such character in the
//! output, outside the `[redacted]` markers, can only be a remnant of an encoding.

use std::collections::BTreeSet;

use auth_core::Redactor;
use auth_core::redact::REDACTED;

use super::{assert_printable, base64, fields, is_unsafe_char};

/// Candidate separators between the embedded encodings: the first one the secret leaves
/// usable is taken.
const SEPARATORS: [char; 10] = [' ', '|', '#', ';', '\n', '~', '^', '§', '¦', '\u{1}'];

/// At most this many characters of padding before the encodings: enough to move them across
/// the 4,096-character cut of `Redactor::text`.
const MAX_PADDING: usize = 5_100;

pub(crate) fn run(data: &[u8]) {
    let [id, secret, filler, layout] = fields::<4>(data);
    let id = String::from_utf8_lossy(id);
    let secret = String::from_utf8_lossy(secret);
    let filler = String::from_utf8_lossy(filler);
    let redactor = Redactor::new().with_basic_credentials(&id, &secret);

    // Any text, secret or not: nothing raw reaches the terminal.
    if let Some(excerpt) = redactor.excerpt(filler.as_bytes()) {
        assert_printable("excerpt", excerpt.as_str());
    }
    assert_printable("text", &redactor.text(&filler));
    if secret.is_empty() {
        return;
    }

    let forms = encodings(&id, &secret);
    for form in &forms {
        assert!(
            redactor.contains_secret(form.as_bytes()),
            "contains_secret misses the encoding {form:?} of {secret:?}"
        );
    }
    // What a leaked encoding would look like in each output: as is, escaped, and (in an
    // excerpt) with its whitespace collapsed.
    let shown: BTreeSet<String> = forms
        .iter()
        .flat_map(|form| [form.clone(), escape(form), escape(&collapse(form))])
        .collect();
    let mut forbidden = CharSet::default();
    shown
        .iter()
        .flat_map(|s| s.chars())
        .for_each(|c| forbidden.insert(c));
    let usable = |c: char| {
        !forbidden.contains(c)
            && (!is_unsafe_char(c)
                || escape(&c.to_string())
                    .chars()
                    .all(|e| !forbidden.contains(e)))
            && (!c.is_whitespace() || !forbidden.contains(' '))
    };
    let filler: Vec<char> = filler.chars().filter(|c| usable(*c)).collect();
    let Some(separator) = SEPARATORS.into_iter().find(|c| usable(*c)) else {
        return;
    };

    // (`contains_secret` is checked on each encoding alone above: on the whole text, its
    // naive search would cost most of the run.)
    let text = layout_text(&forms, &filler, separator, layout);
    if let Some(excerpt) = redactor.excerpt(text.as_bytes()) {
        check_output("excerpt", excerpt.as_str(), &shown, &forbidden, &secret);
    }
    check_output("text", &redactor.text(&text), &shown, &forbidden, &secret);
}

/// The text: padding, then every encoding once (rotated by the layout), then the encodings
/// the layout names, each between separators and followed by some filler.
fn layout_text(forms: &[String], filler: &[char], separator: char, layout: &[u8]) -> String {
    let mut text = String::new();
    let padding = usize::from(layout.first().copied().unwrap_or(0)) * 20;
    for i in 0..padding.min(MAX_PADDING) {
        text.push(if filler.is_empty() {
            separator
        } else {
            filler[i % filler.len()]
        });
    }
    let rotate = usize::from(layout.get(1).copied().unwrap_or(0));
    let extra = layout.iter().skip(2).map(|b| usize::from(*b));
    let order = (0..forms.len())
        .map(|i| (i + rotate) % forms.len())
        .chain(extra.take(32));
    for (n, i) in order.enumerate() {
        text.push(separator);
        text.push_str(&forms[i % forms.len()]);
        text.push(separator);
        let take = if filler.is_empty() {
            0
        } else {
            (n * 7 + i) % filler.len()
        };
        text.extend(&filler[..take.min(40)]);
    }
    text
}

#[track_caller]
fn check_output(
    what: &str,
    out: &str,
    shown: &BTreeSet<String>,
    forbidden: &CharSet,
    secret: &str,
) {
    assert_printable(what, out);
    let marker = |c: char| REDACTED.contains(c) || c == '…';
    for form in shown {
        if !form.chars().all(marker) {
            assert!(
                !out.contains(form.as_str()),
                "{what} shows the encoding {form:?} of the secret {secret:?}: {out:?}"
            );
        }
    }
    let rest = out.replace(REDACTED, "");
    if let Some(c) = rest.chars().find(|c| forbidden.contains(*c) && !marker(*c)) {
        panic!(
            "{what} shows {c:?}, a remnant of an encoding of the secret {secret:?} (only the filler's characters may remain): {out:?}"
        );
    }
}

/// Every encoding of the secret the redactor promises to catch (see its docs): as is,
/// form-urlencoded, percent-encoded (either hex case), JSON-escaped as serde_json, Python's
/// `json.dumps` and PHP's `json_encode` write it (with or without `\/` and `\u00e9`-style
/// escapes, either hex case, short or `\u` escapes for control characters), HTML-escaped,
/// and base64 (standard and URL-safe, padded or not) of the secret and of the Basic
/// credentials `id:secret`, with the parts raw or form-urlencoded.
fn encodings(id: &str, secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned(), form_urlencode(secret)];
    for upper in [false, true] {
        forms.push(percent_encode(secret, upper));
        for escape_slash in [false, true] {
            for ascii_only in [false, true] {
                for short in [false, true] {
                    forms.push(json_escape(secret, escape_slash, ascii_only, upper, short));
                }
            }
        }
    }
    forms.push(html_escape(secret));
    for bytes in [
        secret.to_owned(),
        format!("{id}:{secret}"),
        format!("{}:{}", form_urlencode(id), form_urlencode(secret)),
    ] {
        for url_safe in [false, true] {
            for pad in [false, true] {
                forms.push(base64(bytes.as_bytes(), url_safe, pad));
            }
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

/// `application/x-www-form-urlencoded` (WHATWG URL, section 5.2).
fn form_urlencode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// RFC 3986 percent-encoding of all but the unreserved characters.
fn percent_encode(text: &str, upper: bool) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'-' | b'.' | b'_' | b'~' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                out.push(char::from(byte));
            }
            _ if upper => out.push_str(&format!("%{byte:02X}")),
            _ => out.push_str(&format!("%{byte:02x}")),
        }
    }
    out
}

/// The inside of a JSON string. `short`: `\b` and `\f` as serde_json, Python and PHP write
/// them (otherwise `\u0008` and `\u000c`, as Go does).
fn json_escape(
    text: &str,
    escape_slash: bool,
    ascii_only: bool,
    upper: bool,
    short: bool,
) -> String {
    let unit = |u: u16| {
        if upper {
            format!("\\u{u:04X}")
        } else {
            format!("\\u{u:04x}")
        }
    };
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if escape_slash => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' if short => out.push_str("\\b"),
            '\u{c}' if short => out.push_str("\\f"),
            c if u32::from(c) < 0x20 || (ascii_only && !c.is_ascii()) => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&unit(*u));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// HTML escaping as Python's `html.escape` does it.
fn html_escape(text: &str) -> String {
    let mut out = String::new();
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

/// Control characters as the redactor shows them: `\u{1b}`.
fn escape(text: &str) -> String {
    if !text.chars().any(is_unsafe_char) {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        if is_unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whitespace runs collapsed to one space, as an excerpt shows text.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A set of characters, cheap to fill and query for the mostly-ASCII encodings.
struct CharSet {
    ascii: [bool; 128],
    other: BTreeSet<char>,
}

impl Default for CharSet {
    fn default() -> Self {
        Self {
            ascii: [false; 128],
            other: BTreeSet::new(),
        }
    }
}

impl CharSet {
    fn insert(&mut self, c: char) {
        match self.ascii.get_mut(c as usize) {
            Some(slot) => *slot = true,
            None => {
                self.other.insert(c);
            }
        }
    }

    fn contains(&self, c: char) -> bool {
        self.ascii
            .get(c as usize)
            .copied()
            .unwrap_or_else(|| self.other.contains(&c))
    }
}
