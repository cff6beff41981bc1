//! The token endpoints' reading of a request, exposed (hidden from the documentation) so that
//! a fuzz target can feed it arbitrary bytes: both Podero body backends, POA's form, both
//! vendors' Basic header decoding, and the credential the echo fault looks for.
//!
//! It adds no behaviour: each field is what the endpoint code computes from the same input.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, HeaderValue, header};

use crate::types::PoderoTokenBackend;
use crate::{poa, podero, tamper};

/// What the token endpoints read from one request; see [`parse_token_request`].
#[doc(hidden)]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParsedTokenRequest {
    /// Podero's parameters with the JSON backend (last value of a repeated name wins).
    pub podero_json: BTreeMap<String, String>,
    /// Podero's parameters with the form backend.
    pub podero_form: BTreeMap<String, String>,
    /// Podero's reading of the Basic header: `(id, secret)`.
    pub podero_basic: Option<(String, String)>,
    /// POA's form pairs, in order, control characters removed.
    pub poa_form: Vec<(String, String)>,
    /// Whether POA would refuse the form for a repeated parameter.
    pub poa_duplicates: bool,
    /// POA's reading of the Basic header: `(id, secret)`; `None` when absent, undecodable
    /// or malformed.
    pub poa_basic: Option<(String, String)>,
    /// Whether a Basic half has a `%` escape Keycloak refuses (its 400).
    pub poa_basic_malformed: bool,
    /// The credential `Fault::echo_credentials` would echo.
    pub echoed: String,
}

/// Runs the emulator's token-request parsing over arbitrary bytes: a `Content-Type` value,
/// an `Authorization` value (either ignored when it is not a valid header value) and a body.
/// It never panics, whatever the input.
#[doc(hidden)]
pub fn parse_token_request(
    content_type: &[u8],
    authorization: &[u8],
    body: &[u8],
) -> ParsedTokenRequest {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_bytes(authorization) {
        headers.insert(header::AUTHORIZATION, value);
    }
    let media_type = crate::http::media_type(&headers);
    let sorted = |backend| {
        podero::token_parameters(backend, media_type.as_deref(), body)
            .into_iter()
            .collect()
    };
    let form = poa::Form::parse(body);
    let poa_basic = poa::keycloak_basic(&headers);
    ParsedTokenRequest {
        podero_json: sorted(PoderoTokenBackend::Json),
        podero_form: sorted(PoderoTokenBackend::Form),
        podero_basic: podero::dot_basic(&headers),
        poa_form: form.pairs().to_vec(),
        poa_duplicates: form.has_duplicates(),
        poa_basic_malformed: poa_basic.is_err(),
        poa_basic: poa_basic.ok().flatten(),
        echoed: tamper::presented_credential(&headers, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_input_never_panics() {
        let huge_percent = vec![b'%'; 1 << 18];
        let huge_escapes = "%C3%A9+".repeat(40_000).into_bytes();
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
        let bodies: [&[u8]; 7] = [
            b"",
            b"\xff\xfe\x00\x80",
            b"%",
            b"%%%41%4%zz%ff%C3%28+&=&&==",
            b"grant_type=%ff&grant_type=client_credentials&=x&y",
            br#"{"grant_type":1e309,"client_id":null,"client_secret":[{"a":"\ud800"}]}"#,
            b"{\"a\":\"\xff\"}",
        ];
        let headers: [&[u8]; 9] = [
            b"",
            b"Basic",
            b"Basic ",
            b"Basic \xff\xfe",
            b"Basic JSU=",
            b"Basic !!!!====",
            b"Basic YTolenolNA==",
            b"bAsIc YTpi\r\n",
            &huge_percent,
        ];
        for body in bodies {
            for authorization in headers {
                for content_type in [
                    &b"application/x-www-form-urlencoded"[..],
                    b"application/json",
                    b"\xff",
                    b"",
                ] {
                    let _ = parse_token_request(content_type, authorization, body);
                }
            }
        }
        // Huge ones, once each.
        for body in [&huge_percent, &huge_escapes, &deep] {
            let _ = parse_token_request(b"application/x-www-form-urlencoded", b"Basic JSU=", body);
            let _ = parse_token_request(b"application/json", b"", body);
        }
        // A few answers, to show the parsing is the endpoints'.
        let parsed = parse_token_request(
            b"application/x-www-form-urlencoded",
            b"Basic YTpi",
            b"grant_type=client_credentials&grant_type=x",
        );
        assert_eq!(
            parsed.podero_form.get("grant_type").map(String::as_str),
            Some("x")
        );
        assert!(parsed.podero_json.is_empty());
        assert_eq!(parsed.podero_basic, Some(("a".into(), "b".into())));
        assert!(parsed.poa_duplicates);
        assert_eq!(parsed.poa_basic, Some(("a".into(), "b".into())));
        assert_eq!(parsed.echoed, "b");
        // base64 of "a:%" — Keycloak refuses the escape, DOT keeps it.
        let parsed = parse_token_request(b"", b"Basic YTol", b"");
        assert!(parsed.poa_basic_malformed);
        assert_eq!(parsed.podero_basic, Some(("a".into(), "%".into())));
        let parsed = parse_token_request(b"", b"", &huge_percent);
        assert_eq!(parsed.poa_form, [("%".repeat(1 << 18), String::new())]);
        assert_eq!(
            parse_token_request(b"", b"", b""),
            ParsedTokenRequest::default()
        );
    }
}
