//! Access tokens and the scopes they carry.
//!
//! An [`AccessToken`] is what a token endpoint issued: the secret value, its type, its scopes,
//! when it was requested and (optionally) when the server said it expires. A [`Token`] is what a
//! provider hands out: a cheap-to-clone handle to one, carrying the cache generation it came
//! from. This module does not decide when a token should be refreshed; that policy belongs to
//! the cache.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

/// The `token_type` of an access token (RFC 6749 section 7.1), compared case-insensitively.
///
/// Build one with [`TokenType::parse`]: `parse("bearer")` is [`TokenType::Bearer`] in any case,
/// so an `Other` always holds a type that is not bearer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// A bearer token (RFC 6750): sent as `Authorization: Bearer <token>`.
    Bearer,
    /// Any other type, kept as the server spelled it.
    Other(OtherTokenType),
}

/// A `token_type` other than bearer, as the server spelled it (see [`TokenType::parse`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OtherTokenType(String);

impl OtherTokenType {
    /// The type as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TokenType {
    /// Parses a `token_type` value; `bearer` matches in any case.
    pub fn parse(value: &str) -> Self {
        if value.eq_ignore_ascii_case("bearer") {
            Self::Bearer
        } else {
            Self::Other(OtherTokenType(value.to_owned()))
        }
    }

    /// The authentication scheme used in the `Authorization` header.
    pub fn scheme(&self) -> &str {
        match self {
            Self::Bearer => "Bearer",
            Self::Other(other) => other.as_str(),
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme())
    }
}

/// A set of OAuth2 scopes (RFC 6749 section 3.3), kept in the order first seen, without
/// duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// No scopes.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses a space-delimited `scope` value; extra whitespace is ignored.
    pub fn parse(value: &str) -> Self {
        value.split_whitespace().collect()
    }

    /// Whether `scope` is one of these scopes.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    /// Whether there are no scopes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The scopes in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl<S: Into<String>> FromIterator<S> for Scopes {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut scopes = Vec::new();
        for scope in iter {
            let scope = scope.into();
            if !scope.is_empty() && !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Self(scopes)
    }
}

/// Formats the scopes as a `scope` parameter: space-delimited.
impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// The access token value is empty or cannot travel in an HTTP header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the access token is empty or contains characters that are not allowed in an HTTP header")]
pub struct InvalidTokenValue;

/// An access token issued by a token endpoint.
///
/// The secret value lives in a [`SecretString`] (zeroized on drop) and is read through
/// [`expose_secret`](Self::expose_secret). `Debug` redacts it and there is no `Display`. It is
/// not `Clone`: providers hand out [`Token`] handles, which share one allocation.
///
/// Next to the secret the token keeps a prebuilt `Authorization` header value, marked
/// sensitive, so that attaching it to a request costs no formatting. `HeaderValue` cannot be
/// zeroized; like the copies reqwest and hyper make while writing a request, that copy is
/// freed but not wiped.
pub struct AccessToken {
    secret: SecretString,
    header: HeaderValue,
    token_type: TokenType,
    scopes: Scopes,
    obtained_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    extra: Map<String, Value>,
}

impl AccessToken {
    /// A bearer token obtained at `obtained_at` (the time the request was sent), with no
    /// expiry, no scopes and no extra fields; add those with the `with_*` methods.
    ///
    /// # Errors
    /// [`InvalidTokenValue`] if the value is empty or holds anything but visible ASCII.
    pub fn bearer(
        secret: impl Into<String>,
        obtained_at: DateTime<Utc>,
    ) -> Result<Self, InvalidTokenValue> {
        Self::new(secret, TokenType::Bearer, obtained_at)
    }

    /// A token of any type; see [`bearer`](Self::bearer).
    ///
    /// # Errors
    /// [`InvalidTokenValue`] if the value is empty or holds anything but visible ASCII.
    pub fn new(
        secret: impl Into<String>,
        token_type: TokenType,
        obtained_at: DateTime<Utc>,
    ) -> Result<Self, InvalidTokenValue> {
        let secret = SecretString::from(secret.into());
        let header = authorization_header(&token_type, secret.expose_secret())?;
        Ok(Self {
            secret,
            header,
            token_type,
            scopes: Scopes::empty(),
            obtained_at,
            expires_at: None,
            extra: Map::new(),
        })
    }

    /// Sets the expiry the server gave (or that the caller derived, e.g. from a JWT `exp`).
    #[must_use]
    pub fn with_expires_at(mut self, expires_at: DateTime<Utc>) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Sets the granted scopes.
    #[must_use]
    pub fn with_scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = scopes;
        self
    }

    /// Sets the response fields this crate does not interpret.
    #[must_use]
    pub fn with_extra(mut self, extra: Map<String, Value>) -> Self {
        self.extra = extra;
        self
    }

    /// The token value. Call it only where the token goes onto the wire.
    pub fn expose_secret(&self) -> &str {
        self.secret.expose_secret()
    }

    /// The `Authorization` header value (`Bearer <token>`), marked sensitive so that reqwest
    /// and hyper never print it.
    pub fn authorization(&self) -> &HeaderValue {
        &self.header
    }

    /// The token type.
    pub fn token_type(&self) -> &TokenType {
        &self.token_type
    }

    /// The scopes the server granted (empty if it did not say).
    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// When the token request was sent: the start of the token's lifetime.
    pub fn obtained_at(&self) -> DateTime<Utc> {
        self.obtained_at
    }

    /// When the token expires, if the server said. A cache applies its default lifetime to a
    /// token without one.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }

    /// Response fields this crate does not interpret (for example Keycloak's
    /// `refresh_expires_in` and `not-before-policy`). Credentials such as `refresh_token` or
    /// `id_token` are never kept here.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// Whether `other` carries the same token value: the identity used by
    /// compare-and-invalidate.
    pub fn same_token(&self, other: &AccessToken) -> bool {
        self.expose_secret() == other.expose_secret()
    }

    /// A copy that shares no allocation with `self`, so that concurrent readers of different
    /// copies never touch the same reference counts. Each copy holds the secret in its own
    /// zeroizing buffer.
    pub(crate) fn deep_copy(&self) -> Self {
        let header = HeaderValue::from_bytes(self.header.as_bytes())
            .map(|mut header| {
                header.set_sensitive(true);
                header
            })
            .unwrap_or_else(|_| self.header.clone());
        Self {
            secret: SecretString::from(self.expose_secret().to_owned()),
            header,
            token_type: self.token_type.clone(),
            scopes: self.scopes.clone(),
            obtained_at: self.obtained_at,
            expires_at: self.expires_at,
            extra: self.extra.clone(),
        }
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Extra fields print as their names only: their values are the server's business and
        // nothing guarantees they are not sensitive.
        let extra: Vec<&str> = self.extra.keys().map(String::as_str).collect();
        f.debug_struct("AccessToken")
            .field("secret", &format_args!("[redacted]"))
            .field("token_type", &self.token_type)
            .field("scopes", &self.scopes)
            .field("obtained_at", &self.obtained_at)
            .field("expires_at", &self.expires_at)
            .field("extra", &extra)
            .finish()
    }
}

/// A token as a [`TokenProvider`](crate::TokenProvider) hands it out: a cheap-to-clone handle
/// (an `Arc` inside) to an [`AccessToken`], which it dereferences to, plus the cache
/// generation it came from.
///
/// A cache's generation starts at 1 with its first token and grows with every change of the
/// cached token (a new token, an invalidation); a token from elsewhere has generation 0. It is how a rejected token is recognised
/// ([`TokenProvider::invalidate`](crate::TokenProvider::invalidate)) and how a client tells
/// that the token it got after a rejection is a newer one, without comparing clocks.
#[derive(Clone)]
pub struct Token {
    token: Arc<AccessToken>,
    generation: u64,
}

impl Token {
    /// A handle to `token` with generation 0 (for providers that do not number their tokens).
    pub fn new(token: AccessToken) -> Self {
        Self::with_generation(Arc::new(token), 0)
    }

    /// A handle with an explicit generation (for providers that number their tokens).
    pub fn with_generation(token: Arc<AccessToken>, generation: u64) -> Self {
        Self { token, generation }
    }

    /// The generation of the cache this token came from (0 if none).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether `other` is the same issued token: same value and same generation.
    pub fn is(&self, other: &Token) -> bool {
        self.generation == other.generation && self.token.same_token(&other.token)
    }
}

impl Deref for Token {
    type Target = AccessToken;

    fn deref(&self) -> &AccessToken {
        &self.token
    }
}

impl From<AccessToken> for Token {
    fn from(token: AccessToken) -> Self {
        Self::new(token)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("generation", &self.generation)
            .field("token", &*self.token)
            .finish()
    }
}

fn authorization_header(
    token_type: &TokenType,
    secret: &str,
) -> Result<HeaderValue, InvalidTokenValue> {
    // RFC 6750's b64token is stricter than this, but servers issue tokens outside it; anything
    // that survives in a header as visible ASCII is accepted.
    let visible_ascii = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
    if !visible_ascii(secret) || !visible_ascii(token_type.scheme()) {
        return Err(InvalidTokenValue);
    }
    let mut header = HeaderValue::try_from(format!("{} {secret}", token_type.scheme()))
        .map_err(|_| InvalidTokenValue)?;
    header.set_sensitive(true);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn scopes_parse_dedupe_and_display() {
        let scopes = Scopes::parse("  read write  read ");
        assert_eq!(scopes.iter().collect::<Vec<_>>(), ["read", "write"]);
        assert_eq!(scopes.to_string(), "read write");
        assert!(scopes.contains("write"));
        assert!(!scopes.contains("admin"));
        assert!(Scopes::parse("").is_empty());
    }

    #[test]
    fn token_type_is_case_insensitive() {
        assert_eq!(TokenType::parse("bEaReR"), TokenType::Bearer);
        assert_eq!(TokenType::parse("DPoP").scheme(), "DPoP");
        assert!(
            matches!(TokenType::parse("DPoP"), TokenType::Other(other) if other.as_str() == "DPoP")
        );
    }

    #[test]
    fn header_is_prebuilt_and_sensitive() {
        let token = AccessToken::bearer("abc.DEF-123", at()).unwrap();
        assert_eq!(
            token.authorization().to_str().unwrap(),
            "Bearer abc.DEF-123"
        );
        assert!(token.authorization().is_sensitive());
        assert!(token.deep_copy().authorization().is_sensitive());
    }

    #[test]
    fn rejects_values_that_cannot_be_sent() {
        assert_eq!(AccessToken::bearer("", at()).err(), Some(InvalidTokenValue));
        assert_eq!(
            AccessToken::bearer("a b", at()).err(),
            Some(InvalidTokenValue)
        );
        assert_eq!(
            AccessToken::bearer("a\r\nb", at()).err(),
            Some(InvalidTokenValue)
        );
        assert_eq!(
            AccessToken::bearer("tök", at()).err(),
            Some(InvalidTokenValue)
        );
    }

    #[test]
    fn handles_share_the_token_and_compare_by_generation() {
        let token = Arc::new(AccessToken::bearer("s3cr3t-value", at()).unwrap());
        let a = Token::with_generation(Arc::clone(&token), 3);
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.token, &b.token));
        assert!(a.is(&b));
        assert!(!a.is(&Token::with_generation(token, 4)));
        assert_eq!(
            Token::new(AccessToken::bearer("one", at()).unwrap()).generation(),
            0
        );
        let debug = format!("{a:?}");
        assert!(
            debug.contains("generation: 3") && !debug.contains("s3cr3t"),
            "{debug}"
        );
    }

    #[test]
    fn same_token_compares_values() {
        let a = AccessToken::bearer("one", at()).unwrap();
        assert!(a.same_token(&a.deep_copy()));
        assert!(!a.same_token(&AccessToken::bearer("two", at()).unwrap()));
    }
}
