//! `poa_auth::jwt::expiry`: the `exp` claim of a JWS compact token, decoded only.
//!
//! Input: either a token (any bytes, read as lossy UTF-8), or `{`-starting claims JSON that
//! the harness wraps into a token, base64url-encoded with and without padding.
//!
//! Properties: no panic; padding does not change the answer; an integer `exp` that chrono can
//! represent is read exactly; no other part but the payload matters.

use chrono::DateTime;
use poa_auth::jwt::expiry;
use serde_json::Value;

use super::base64;

/// base64url of `{"alg":"RS256","typ":"JWT"}`.
const HEADER: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9";

pub(crate) fn run(data: &[u8]) {
    if data.first() != Some(&b'{') {
        let _ = expiry(&String::from_utf8_lossy(data));
        return;
    }
    let unpadded = format!("{HEADER}.{}.c2lnbmF0dXJl", base64(data, true, false));
    let padded = format!("{HEADER}.{}.c2lnbmF0dXJl", base64(data, true, true));
    let other_parts = format!("e30.{}.", base64(data, true, false));
    let read = expiry(&unpadded);
    assert_eq!(read, expiry(&padded), "padding changed the answer");
    assert_eq!(
        read,
        expiry(&other_parts),
        "the header or signature changed the answer"
    );
    let exp = serde_json::from_slice::<Value>(data)
        .ok()
        .and_then(|claims| claims.get("exp")?.as_i64());
    if let Some(exp) = exp
        && let Some(at) = DateTime::from_timestamp(exp, 0)
    {
        assert_eq!(read, Some(at), "exp {exp} read as {read:?}");
    }
}
