//! The environment, with the global flags layered on top.

use std::ffi::OsString;

/// Values from the command line that override the environment.
pub(crate) struct Overrides {
    pub(crate) base_url: Option<String>,
    pub(crate) org_id: Option<String>,
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
