//! Configuration from environment variables: `PoderoAuth::from_lookup` and
//! `PoaAuth::from_lookup` with any values, set or unset, Unicode or not.
//!
//! Input: `flags` SEP `client id` SEP `client secret` SEP `PODERO_BASE_URL` SEP
//! `PODERO_TOKEN_BODY` SEP `POA_BASE_URL` SEP `POA_TOKEN_PATH`. Bit `i` of the first flag byte
//! unsets variable `i` (in that order from the client id); bit 7 prefixes the secret with a
//! marker; the second flag byte's bits keep a value's raw bytes (not UTF-8) instead of lossy
//! text.
//!
//! Properties: no panic; an accepted configuration has a base URL that validates again and
//! joins its token path into a token URL; an error is printable and never shows the secret.

use std::collections::HashMap;
use std::ffi::OsString;

use auth_core::TokenUrl;
use poa_auth::PoaAuth;
use podero_auth::PoderoAuth;

use super::{assert_printable, fields};

/// What a secret starts with when the flags ask, so that an echo is recognisable.
const MARKER: &str = "S3CR3T-";

pub(crate) fn run(data: &[u8]) {
    let [flags, id, secret, podero_base, body, poa_base, poa_path] = fields::<7>(data);
    let unset = flags.first().copied().unwrap_or(0);
    let raw = flags.get(1).copied().unwrap_or(0);
    let marked = unset & 0x80 != 0;
    let mut secret = secret.to_vec();
    if marked {
        secret.splice(0..0, MARKER.bytes());
    }
    let values: [&[u8]; 6] = [id, &secret, podero_base, body, poa_base, poa_path];
    let mut vars = HashMap::new();
    for (i, value) in values.iter().enumerate() {
        if unset & (1 << i) != 0 {
            continue;
        }
        let value = os_string(value, raw & (1 << i) != 0);
        let names: &[&str] = match i {
            0 => &["PODERO_CLIENT_ID", "POA_CLIENT_ID"],
            1 => &["PODERO_CLIENT_SECRET", "POA_CLIENT_SECRET"],
            2 => &["PODERO_BASE_URL"],
            3 => &["PODERO_TOKEN_BODY"],
            4 => &["POA_BASE_URL"],
            _ => &["POA_TOKEN_PATH"],
        };
        for name in names {
            vars.insert(*name, value.clone());
        }
    }
    let lookup = |name: &str| vars.get(name).cloned();

    match PoderoAuth::from_lookup(lookup) {
        Ok(auth) => {
            let base = auth
                .base_url()
                .unwrap_or_else(|e| panic!("an accepted Podero base URL fails later: {e}"));
            TokenUrl::from_base(base.as_str(), podero_auth::TOKEN_PATH)
                .unwrap_or_else(|e| panic!("no Podero token URL from {base}: {e}"));
        }
        Err(error) => check_error(&error.to_string(), marked),
    }
    match PoaAuth::from_lookup(lookup) {
        Ok(auth) => {
            let base = auth
                .base_url()
                .unwrap_or_else(|e| panic!("an accepted POA base URL fails later: {e}"));
            let path = lookup("POA_TOKEN_PATH")
                .and_then(|p| p.into_string().ok())
                .map_or(poa_auth::DEFAULT_TOKEN_PATH.to_owned(), |p| {
                    p.trim().to_owned()
                });
            TokenUrl::from_base(base.as_str(), &path)
                .unwrap_or_else(|e| panic!("no POA token URL from {base} + {path:?}: {e}"));
        }
        Err(error) => check_error(&error.to_string(), marked),
    }
}

#[track_caller]
fn check_error(text: &str, marked: bool) {
    assert_printable("configuration error", text);
    if marked {
        assert!(
            !text.contains(MARKER),
            "the error shows the secret: {text:?}"
        );
    }
}

/// The value as the environment would hold it: raw bytes where the platform allows.
fn os_string(value: &[u8], raw: bool) -> OsString {
    #[cfg(unix)]
    if raw {
        use std::os::unix::ffi::OsStringExt as _;
        return OsString::from_vec(value.to_vec());
    }
    let _ = raw;
    OsString::from(String::from_utf8_lossy(value).into_owned())
}
