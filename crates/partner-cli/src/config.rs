//! The environment, with the global flags layered on top.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::error::CliError;
use crate::store::Store;

/// `PARTNER_TOKEN_CACHE_DIR`: where tokens are kept between runs.
pub(crate) const ENV_TOKEN_CACHE_DIR: &str = "PARTNER_TOKEN_CACHE_DIR";
/// `PARTNER_REDIS_URL`: share tokens through Redis instead.
pub(crate) const ENV_REDIS_URL: &str = "PARTNER_REDIS_URL";

/// Values from the command line that override the environment.
pub(crate) struct Overrides {
    pub(crate) base_url: Option<String>,
    pub(crate) org_id: Option<String>,
    pub(crate) no_token_cache: bool,
    pub(crate) redis_url: Option<String>,
}

impl Overrides {
    /// A variable lookup: the override for the variables it covers, the process environment
    /// for everything else.
    pub(crate) fn lookup<'a>(
        &'a self,
        base_url_var: &'static str,
    ) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name: &str| {
            let value = if name == base_url_var {
                self.base_url.as_ref()
            } else if name == partner_sdk::podero::ENV_ORG_ID {
                self.org_id.as_ref()
            } else {
                None
            };
            value
                .map(OsString::from)
                .or_else(|| auth_core::env::process(name))
        }
    }
}

impl Overrides {
    /// The token store the commands use: none with `--no-token-cache`; Redis with
    /// `--redis-url` or `PARTNER_REDIS_URL`; otherwise the encrypted file store in the cache
    /// directory. A cache directory that cannot be used means no store (the store is an
    /// optimisation, never a reason to fail).
    pub(crate) fn store(&self) -> Result<Option<Store>, CliError> {
        if self.no_token_cache {
            return Ok(None);
        }
        let redis = match &self.redis_url {
            Some(url) => Some(url.clone()),
            None => auth_core::env::optional(&auth_core::env::process, ENV_REDIS_URL)?,
        };
        if let Some(url) = redis {
            return Store::redis(&url).map(Some);
        }
        let Some(dir) = cache_dir()? else {
            return Ok(None);
        };
        Ok(Store::file(&dir))
    }
}

/// `PARTNER_TOKEN_CACHE_DIR`, else `$XDG_CACHE_HOME/partner`, else `$HOME/.cache/partner`.
fn cache_dir() -> Result<Option<PathBuf>, CliError> {
    let lookup = auth_core::env::process;
    if let Some(dir) = auth_core::env::optional(&lookup, ENV_TOKEN_CACHE_DIR)? {
        return Ok(Some(PathBuf::from(dir)));
    }
    let xdg = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty());
    if let Some(xdg) = xdg {
        return Ok(Some(PathBuf::from(xdg).join("partner")));
    }
    Ok(std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| PathBuf::from(home).join(".cache").join("partner")))
}
