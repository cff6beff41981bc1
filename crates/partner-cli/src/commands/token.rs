//! `partner token --vendor podero|poa [--show-secret]`.

use auth_core::{
    AccessToken, AuthError, Clock as _, HasExchange, SharedClock, SourceConfig, Token,
    TokenSource as _,
};
use chrono::SecondsFormat;
use poa_auth::PoaAuth;
use podero_auth::PoderoAuth;
use serde_json::{Map, Value, json};

use super::print_json;
use crate::cli::{TokenArgs, Vendor};
use crate::config::Overrides;
use crate::error::CliError;
use crate::store::Store;

pub(crate) async fn run(args: TokenArgs, overrides: &Overrides) -> Result<(), CliError> {
    let store = overrides.store()?;
    let (vendor, token) = match args.vendor {
        Vendor::Podero => {
            let auth = PoderoAuth::from_lookup(overrides.lookup(podero_auth::ENV_BASE_URL))?;
            ("podero", obtain(auth, store, args.fresh).await)
        }
        Vendor::Poa => {
            let auth = PoaAuth::from_lookup(overrides.lookup(poa_auth::ENV_BASE_URL))?;
            ("poa", obtain(auth, store, args.fresh).await)
        }
    };
    let token = token.map_err(|e| CliError::from_auth(e, args.vendor))?;
    print_json(&describe(vendor, &token, args.show_secret))
}

/// A token: the one the store keeps if it is fresh enough (unless `fresh`), else a new one,
/// which the store then keeps for the next run.
async fn obtain<C>(config: C, store: Option<Store>, fresh: bool) -> Result<Token, AuthError>
where
    C: SourceConfig,
    C::Source: HasExchange,
{
    match store {
        Some(store) => {
            let cache = config.shared(store).into_cache()?;
            if fresh {
                let token = cache.source().replace().await?;
                return Ok(Token::new(token));
            }
            cache.token().await
        }
        None => Ok(Token::new(config.into_source()?.fetch_token().await?)),
    }
}

/// The token as JSON: type, scope, and the effective expiry (for POA, a JWT `exp` earlier than
/// `expires_in` wins) as seconds from now and as RFC 3339.
fn describe(vendor: &str, token: &AccessToken, show_secret: bool) -> Value {
    let now = SharedClock::system().now();
    let mut out = Map::new();
    out.insert("vendor".into(), json!(vendor));
    out.insert("token_type".into(), json!(token.token_type().to_string()));
    out.insert("scope".into(), json!(token.scopes().to_string()));
    out.insert(
        "expires_in".into(),
        json!(token.expires_at().map(|at| (at - now).num_seconds().max(0))),
    );
    out.insert(
        "expires_at".into(),
        json!(
            token
                .expires_at()
                .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true))
        ),
    );
    if show_secret {
        out.insert("access_token".into(), json!(token.expose_secret()));
    }
    Value::Object(out)
}
