//! Reading the `exp` claim of a JWT access token: decode only.
//!
//! The client does not verify the signature (it has no key, and the resource server verifies
//! anyway); it only reads when the token stops being accepted. Anything that is not a
//! readable JWS compact token with a numeric `exp` yields `None`, never an error.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// base64url that accepts tokens with and without padding.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The `exp` claim (seconds since the epoch, RFC 7519 section 4.1.4) of a JWS compact token.
pub fn expiry(token: &str) -> Option<DateTime<Utc>> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        // Five parts: an encrypted JWE, whose claims the client cannot read.
        return None;
    }
    let claims: Value = serde_json::from_slice(&BASE64URL.decode(payload).ok()?).ok()?;
    let exp = claims.get("exp")?;
    let seconds = exp.as_i64().or_else(|| {
        exp.as_f64()
            .filter(|f| f.is_finite())
            .map(|f| f.floor() as i64)
    })?;
    DateTime::from_timestamp(seconds, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let encode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.{}",
            encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            encode(claims),
            encode("signature")
        )
    }

    #[test]
    fn reads_exp() {
        let token = jwt(r#"{"exp":1735691400,"iat":1735689600}"#);
        assert_eq!(expiry(&token), DateTime::from_timestamp(1_735_691_400, 0));
        let token = jwt(r#"{"exp":1735691400.7}"#);
        assert_eq!(expiry(&token), DateTime::from_timestamp(1_735_691_400, 0));
    }

    #[test]
    fn anything_else_is_none() {
        for token in [
            "PaZDOD5UwzbGOFsQr34LQ7JUYOj3yK".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d.e".to_owned(),
            "!!!.@@@.###".to_owned(),
            jwt(r#"{"iat":1}"#),
            jwt(r#"{"exp":"tomorrow"}"#),
            jwt("[1,2]"),
            jwt("not json"),
            jwt(r#"{"exp":1e300}"#),
        ] {
            assert_eq!(expiry(&token), None, "{token}");
        }
    }
}
