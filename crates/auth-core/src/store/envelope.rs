//! Tokens at rest: the AEAD envelope (AES-256-GCM from aws-lc-rs, the crypto library
//! reqwest's rustls already brings) and the keyed fingerprint compare-and-delete uses.
//!
//! Layout of an envelope: `1` (format), the key id's length and bytes, a 12-byte random nonce,
//! then the ciphertext and its 16-byte tag. The associated data is the header (format and key
//! id) followed by the store key's name, so a ciphertext moved to another key, or relabelled
//! with another key id, does not open. The plaintext is a small JSON document: the token, its
//! type, scopes and extra fields, when it was obtained, when it expires and its lifetime.
//!
//! An envelope that does not open (a wrong or rotated key, tampering, truncation, garbage) is
//! a miss for the caller, never an error, and its bytes are never logged.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{digest, hkdf, hmac, rand};
use chrono::{DateTime, Utc};
use secrecy::zeroize::Zeroize as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::token::{AccessToken, Scopes, TokenType};

const FORMAT: u8 = 1;
const SALT: &[u8] = b"partner-auth shared token store v1";
const TAG_LEN: usize = 16;

/// A key id: which key sealed an envelope (1 to 32 visible ASCII characters).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// A key id, if `id` is 1 to 32 visible ASCII characters.
    pub fn new(id: &str) -> Option<Self> {
        ((1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic()))
            .then(|| Self(id.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyId").field(&self.0).finish()
    }
}

/// A keyed fingerprint of a token (HMAC-SHA-256 under a key derived from the store keys):
/// stored in clear next to the envelope so a store can compare-and-delete without ever seeing
/// the token, and useless to anyone without the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, for stores that keep text.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses [`to_hex`](Self::to_hex)'s output.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Eight hex digits are enough to tell entries apart in logs.
        write!(f, "Fingerprint({}…)", &self.to_hex()[..8])
    }
}

/// One AEAD key with its id.
struct SealingKey {
    id: KeyId,
    key: LessSafeKey,
}

/// The keys that seal and open stored tokens, and the key of their fingerprints.
///
/// The default ([`from_secret`](Self::from_secret)) is derived with HKDF-SHA-256 from the
/// client secret, so every process holding the credentials can read the tokens and nothing
/// else can; a rotated secret makes old entries unreadable, which is a miss, and they are
/// overwritten. An explicit key ([`explicit`](Self::explicit)) has an id; a second id can be
/// accepted at once ([`also_accept`](Self::also_accept)) while a fleet rotates keys.
pub struct StoreKeys {
    current: SealingKey,
    accepted: Vec<SealingKey>,
    fingerprint: hmac::Key,
}

impl fmt::Debug for StoreKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreKeys")
            .field("current", &self.current.id)
            .field(
                "accepted",
                &self.accepted.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// HKDF output length for a 32-byte key.
struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

fn derive(ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(ikm);
    let mut out = [0u8; 32];
    // Expanding 32 bytes of SHA-256 HKDF cannot fail (the limit is 255 × 32).
    if let Ok(okm) = prk.expand(&[info], Len32) {
        let _ = okm.fill(&mut out);
    }
    out
}

fn sealing_key(id: KeyId, mut bytes: [u8; 32]) -> SealingKey {
    // AES-256-GCM accepts every 32-byte key.
    let key = UnboundKey::new(&AES_256_GCM, &bytes).unwrap_or_else(|_| unreachable_key());
    bytes.zeroize();
    SealingKey {
        id,
        key: LessSafeKey::new(key),
    }
}

impl StoreKeys {
    /// Keys derived from the client secret (the default).
    pub fn from_secret(secret: &str) -> Self {
        let key = derive(secret.as_bytes(), b"aes-256-gcm key");
        let digest = digest::digest(&digest::SHA256, &derive(secret.as_bytes(), b"key id"));
        let hex: String = digest.as_ref()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let fingerprint = derive(secret.as_bytes(), b"fingerprint key");
        Self::build(KeyId(format!("d{hex}")), key, fingerprint)
    }

    /// An explicit 256-bit key with its id. Every process of a fleet must be given the same.
    pub fn explicit(id: KeyId, key: [u8; 32]) -> Self {
        let fingerprint = derive(&key, b"fingerprint key");
        Self::build(id, key, fingerprint)
    }

    fn build(id: KeyId, key: [u8; 32], mut fingerprint: [u8; 32]) -> Self {
        let current = sealing_key(id, key);
        let hmac = hmac::Key::new(hmac::HMAC_SHA256, &fingerprint);
        fingerprint.zeroize();
        Self {
            current,
            accepted: Vec::new(),
            fingerprint: hmac,
        }
    }

    /// Also opens envelopes sealed with `key` under `id` (new envelopes keep using the
    /// current key).
    #[must_use]
    pub fn also_accept(mut self, id: KeyId, key: [u8; 32]) -> Self {
        self.accepted.push(sealing_key(id, key));
        self
    }

    /// The id of the key new envelopes are sealed with.
    pub fn current_id(&self) -> &KeyId {
        &self.current.id
    }

    /// The fingerprint of a token value.
    pub fn fingerprint(&self, token: &str) -> Fingerprint {
        let tag = hmac::sign(&self.fingerprint, token.as_bytes());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&tag.as_ref()[..32]);
        Fingerprint(bytes)
    }

    /// Seals `token` for the store key named `aad` (see
    /// [`StoreKey::token_key`](super::StoreKey::token_key)).
    pub fn seal(&self, token: &StoredToken, aad: &str) -> Option<Vec<u8>> {
        let mut plaintext = serde_json::to_vec(token).ok()?;
        let id = self.current.id.as_str().as_bytes();
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(FORMAT);
        out.push(u8::try_from(id.len()).ok()?);
        out.extend_from_slice(id);
        let associated = associated_data(&out, aad);
        out.extend_from_slice(&nonce);
        let sealed = self.current.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&associated),
            &mut plaintext,
        );
        if sealed.is_err() {
            plaintext.zeroize();
            return None;
        }
        out.extend_from_slice(&plaintext);
        Some(out)
    }

    /// Opens an envelope sealed for `aad`; `None` for anything that does not open (wrong
    /// key or key id, other associated data, tampering, truncation, garbage).
    pub fn open(&self, envelope: &[u8], aad: &str) -> Option<StoredToken> {
        let (&format, rest) = envelope.split_first()?;
        let (&id_len, rest) = rest.split_first()?;
        if format != FORMAT {
            return None;
        }
        let id_len = usize::from(id_len);
        let id = rest.get(..id_len)?;
        let rest = rest.get(id_len..)?;
        if rest.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let key = std::iter::once(&self.current)
            .chain(&self.accepted)
            .find(|k| k.id.as_str().as_bytes() == id)?;
        let header = &envelope[..2 + id_len];
        let associated = associated_data(header, aad);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = ciphertext.to_vec();
        let opened = key
            .key
            .open_in_place(nonce, Aad::from(&associated), &mut buffer)
            .ok()
            .and_then(|plaintext| serde_json::from_slice::<StoredToken>(plaintext).ok());
        buffer.zeroize();
        opened
    }
}

fn associated_data(header: &[u8], aad: &str) -> Vec<u8> {
    let mut associated = header.to_vec();
    associated.extend_from_slice(aad.as_bytes());
    associated
}

#[allow(clippy::panic)] // Unreachable: AES-256-GCM accepts every 32-byte key.
fn unreachable_key() -> UnboundKey {
    panic!("AES-256-GCM refused a 32-byte key")
}

/// What an envelope holds: a token and its timing, independent of any process's clock
/// except through `lifetime` (see `SharedSource` on clock skew).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredToken {
    #[serde(rename = "t")]
    token: String,
    #[serde(rename = "y")]
    token_type: String,
    #[serde(rename = "s", default)]
    scopes: String,
    #[serde(rename = "o")]
    obtained_at_ms: i64,
    #[serde(rename = "e")]
    expires_at_ms: i64,
    #[serde(rename = "l")]
    lifetime_ms: i64,
    #[serde(rename = "x", default)]
    extra: Map<String, Value>,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("token", &format_args!("[redacted]"))
            .field("token_type", &self.token_type)
            .field("obtained_at_ms", &self.obtained_at_ms)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

impl Drop for StoredToken {
    fn drop(&mut self) {
        self.token.zeroize();
    }
}

impl StoredToken {
    /// The record of `token`, which expires at `expires_at` (its own expiry, or the cache's
    /// default lifetime applied).
    pub fn new(token: &AccessToken, expires_at: DateTime<Utc>) -> Self {
        let obtained = token.obtained_at().timestamp_millis();
        let expires = expires_at.timestamp_millis();
        Self {
            token: token.expose_secret().to_owned(),
            token_type: token.token_type().scheme().to_owned(),
            scopes: token.scopes().to_string(),
            obtained_at_ms: obtained,
            expires_at_ms: expires,
            lifetime_ms: expires.saturating_sub(obtained).max(0),
            extra: token.extra().clone(),
        }
    }

    /// The token's expiry, in Unix milliseconds of the clock of the process that stored it.
    pub fn expires_at_ms(&self) -> i64 {
        self.expires_at_ms
    }

    /// The token's lifetime in milliseconds.
    pub fn lifetime_ms(&self) -> i64 {
        self.lifetime_ms
    }

    /// The token value (for fingerprints).
    pub fn expose_secret(&self) -> &str {
        &self.token
    }

    /// The token, re-anchored on the reader's clock: it expires `remaining` after `now`, and
    /// was obtained its lifetime before that.
    pub fn to_access_token(
        &self,
        now: DateTime<Utc>,
        remaining: std::time::Duration,
    ) -> Option<AccessToken> {
        let remaining = chrono::TimeDelta::from_std(remaining).ok()?;
        let expires_at = now.checked_add_signed(remaining)?;
        let obtained_at =
            expires_at.checked_sub_signed(chrono::TimeDelta::milliseconds(self.lifetime_ms))?;
        Some(
            AccessToken::new(
                self.token.clone(),
                TokenType::parse(&self.token_type),
                obtained_at,
            )
            .ok()?
            .with_scopes(Scopes::parse(&self.scopes))
            .with_extra(self.extra.clone())
            .with_expires_at(expires_at),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAD: &str = "{partner-auth:abc}:token";

    fn token() -> StoredToken {
        let at = DateTime::from_timestamp(1_735_689_600, 0).unwrap();
        let token = AccessToken::bearer("s3cr3t-token-value", at).unwrap();
        StoredToken::new(&token, at + chrono::TimeDelta::seconds(3600))
    }

    #[test]
    fn a_sealed_token_opens_with_the_same_keys_and_aad() {
        let keys = StoreKeys::from_secret("client-secret");
        let sealed = keys.seal(&token(), AAD).unwrap();
        assert!(!sealed.windows(18).any(|w| w == b"s3cr3t-token-value"));
        let opened = keys.open(&sealed, AAD).unwrap();
        assert_eq!(opened.expose_secret(), "s3cr3t-token-value");
        assert_eq!(opened.lifetime_ms(), 3_600_000);
        // Each seal uses a fresh nonce.
        assert_ne!(keys.seal(&token(), AAD).unwrap(), sealed);
    }

    #[test]
    fn anything_else_is_a_miss() {
        let keys = StoreKeys::from_secret("client-secret");
        let sealed = keys.seal(&token(), AAD).unwrap();
        // Wrong associated data (the entry moved to another key).
        assert!(keys.open(&sealed, "{partner-auth:other}:token").is_none());
        // Wrong key (a rotated secret).
        assert!(
            StoreKeys::from_secret("rotated")
                .open(&sealed, AAD)
                .is_none()
        );
        // Tampering anywhere, truncation, garbage, empty.
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(keys.open(&tampered, AAD).is_none(), "byte {i}");
        }
        for len in 0..sealed.len() {
            assert!(keys.open(&sealed[..len], AAD).is_none(), "length {len}");
        }
        assert!(keys.open(b"garbage", AAD).is_none());
        assert!(keys.open(&[], AAD).is_none());
    }

    #[test]
    fn explicit_keys_rotate_with_two_ids_accepted() {
        let old = StoreKeys::explicit(KeyId::new("k1").unwrap(), [1; 32]);
        let sealed_old = old.seal(&token(), AAD).unwrap();
        let new = StoreKeys::explicit(KeyId::new("k2").unwrap(), [2; 32])
            .also_accept(KeyId::new("k1").unwrap(), [1; 32]);
        assert!(new.open(&sealed_old, AAD).is_some());
        let sealed_new = new.seal(&token(), AAD).unwrap();
        assert_eq!(sealed_new[2..4], *b"k2");
        assert!(old.open(&sealed_new, AAD).is_none());
        // The same id with another key: a miss, not a panic.
        let impostor = StoreKeys::explicit(KeyId::new("k2").unwrap(), [9; 32]);
        assert!(impostor.open(&sealed_new, AAD).is_none());
        // A relabelled key id does not open either.
        let mut relabelled = sealed_old.clone();
        relabelled[2..4].copy_from_slice(b"k2");
        assert!(new.open(&relabelled, AAD).is_none());
    }

    #[test]
    fn fingerprints_are_keyed_and_round_trip_as_hex() {
        let a = StoreKeys::from_secret("one").fingerprint("token");
        let b = StoreKeys::from_secret("two").fingerprint("token");
        assert_ne!(a, b);
        assert_eq!(Fingerprint::from_hex(&a.to_hex()), Some(a));
        assert_eq!(Fingerprint::from_hex("zz"), None);
        assert!(!format!("{a:?}").contains(&a.to_hex()));
        assert_eq!(KeyId::new(""), None);
        assert_eq!(KeyId::new("has space"), None);
    }

    #[test]
    fn a_stored_token_is_re_anchored_on_the_readers_clock() {
        let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let token = token()
            .to_access_token(now, std::time::Duration::from_secs(600))
            .unwrap();
        assert_eq!(
            token.expires_at(),
            Some(now + chrono::TimeDelta::seconds(600))
        );
        assert_eq!(
            token.obtained_at(),
            now + chrono::TimeDelta::seconds(600) - chrono::TimeDelta::seconds(3600)
        );
        assert!(!format!("{:?}", super::StoredToken::clone(&self::token())).contains("s3cr3t"));
    }
}
