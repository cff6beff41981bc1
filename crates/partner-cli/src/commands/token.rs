//! `partner token --vendor podero|poa [--show-secret]`.

use auth_core::{AccessToken, Clock as _, SharedClock, TokenSource as _};
use chrono::SecondsFormat;
use poa_auth::PoaAuth;
use podero_auth::{PoderoAuth, SourceConfig as _};
use serde_json::{Map, Value, json};

use super::print_json;
use crate::cli::{TokenArgs, Vendor};
use crate::config::Overrides;
use crate::error::CliError;

pub(crate) async fn run(args: TokenArgs, overrides: &Overrides) -> Result<(), CliError> {
    let (vendor, token) = match args.vendor {
        Vendor::Podero => {
            let auth = PoderoAuth::from_lookup(overrides.lookup(podero_auth::ENV_BASE_URL))?;
            let token = auth.into_source()?.fetch_token().await;
            (
                "podero",
                token.map_err(|e| CliError::from_auth(e, Vendor::Podero))?,
            )
        }
        Vendor::Poa => {
            let auth = PoaAuth::from_lookup(overrides.lookup(poa_auth::ENV_BASE_URL))?;
            let token = auth.into_source()?.fetch_token().await;
            (
                "poa",
                token.map_err(|e| CliError::from_auth(e, Vendor::Poa))?,
            )
        }
    };
    print_json(&describe(vendor, &token, args.show_secret))
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
