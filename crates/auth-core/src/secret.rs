//! Client credentials: the public client identifier and the confidential client secret.
//!
//! This module owns the rule that a secret is only ever read through an explicitly named
//! accessor. It must not grow a `Display` impl or any conversion that hands out the secret
//! implicitly.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// The OAuth2 client identifier (RFC 6749 section 2.2).
///
/// A client id is not confidential, so it prints as itself.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// Wraps a client id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The client id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientId").field(&self.0).finish()
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ClientId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for ClientId {
    fn from(id: String) -> Self {
        Self::new(id)
    }
}

/// The OAuth2 client secret.
///
/// Held in a [`SecretString`], so the memory is zeroized on drop. `Debug` prints
/// `ClientSecret([redacted])`; there is no `Display`. Read it with
/// [`expose_secret`](Self::expose_secret), which is easy to find in review.
#[derive(Clone)]
pub struct ClientSecret(SecretString);

impl ClientSecret {
    /// Wraps a client secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(SecretString::from(secret.into()))
    }

    /// The secret itself. Call it only where the secret goes onto the wire.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl From<String> for ClientSecret {
    fn from(secret: String) -> Self {
        Self::new(secret)
    }
}

impl From<&str> for ClientSecret {
    fn from(secret: &str) -> Self {
        Self::new(secret)
    }
}
