//! Reading configuration from environment variables, with errors that name the variable and
//! never echo its value.
//!
//! Lookups go through a function so that tests and configuration systems can supply values
//! without touching the process environment (`std::env::set_var` is `unsafe` in edition 2024).

use std::ffi::OsString;
use std::time::Duration;

use crate::error::ConfigError;

/// Reads the process environment: the default lookup.
pub fn process(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// An optional variable: `None` if unset; surrounding whitespace trimmed (a value pasted with a
/// trailing newline would otherwise fail at the server with a confusing 401).
///
/// # Errors
/// [`ConfigError::EmptyEnv`] if set but blank, [`ConfigError::NonUnicodeEnv`] if not UTF-8.
pub fn optional(
    lookup: &impl Fn(&str) -> Option<OsString>,
    name: &'static str,
) -> Result<Option<String>, ConfigError> {
    let Some(value) = lookup(name) else {
        return Ok(None);
    };
    let value = value
        .into_string()
        .map_err(|_| ConfigError::NonUnicodeEnv { name })?;
    let value = value.trim();
    if value.is_empty() {
        return Err(ConfigError::EmptyEnv { name });
    }
    Ok(Some(value.to_owned()))
}

/// A required variable; see [`optional`].
///
/// # Errors
/// [`ConfigError::MissingEnv`] if unset, otherwise as [`optional`].
pub fn required(
    lookup: &impl Fn(&str) -> Option<OsString>,
    name: &'static str,
) -> Result<String, ConfigError> {
    optional(lookup, name)?.ok_or(ConfigError::MissingEnv { name })
}

/// The longest timeout a variable read by [`optional_timeout`] may set.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// An optional timeout in seconds (`30`, or `0.5`): `None` if unset.
///
/// # Errors
/// As [`optional`]; [`ConfigError::Invalid`] naming the variable for anything but a number of
/// seconds greater than 0 and at most [`MAX_TIMEOUT`].
pub fn optional_timeout(
    lookup: &impl Fn(&str) -> Option<OsString>,
    name: &'static str,
) -> Result<Option<Duration>, ConfigError> {
    let Some(value) = optional(lookup, name)? else {
        return Ok(None);
    };
    value
        .parse::<f64>()
        .ok()
        .filter(|secs| *secs > 0.0 && *secs <= MAX_TIMEOUT.as_secs_f64())
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .map(Some)
        .ok_or_else(|| {
            ConfigError::invalid(
                name,
                format!(
                    "it must be a number of seconds greater than 0 and at most {}",
                    MAX_TIMEOUT.as_secs()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<OsString> {
        match name {
            "SET" => Some(" value\n".into()),
            "BLANK" => Some("  ".into()),
            "HALF" => Some("0.5".into()),
            "ZERO" => Some("0".into()),
            "NAN" => Some("NaN".into()),
            "DAY" => Some("86400".into()),
            _ => None,
        }
    }

    #[test]
    fn values_are_trimmed_and_errors_name_the_variable() {
        assert_eq!(required(&lookup, "SET").unwrap(), "value");
        assert_eq!(optional(&lookup, "UNSET").unwrap(), None);
        let missing = required(&lookup, "UNSET").unwrap_err();
        assert_eq!(missing.to_string(), "environment variable UNSET is not set");
        let blank = required(&lookup, "BLANK").unwrap_err();
        assert_eq!(blank.to_string(), "environment variable BLANK is empty");
    }

    #[test]
    fn timeouts_are_positive_bounded_seconds() {
        assert_eq!(
            optional_timeout(&lookup, "HALF").unwrap(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(optional_timeout(&lookup, "UNSET").unwrap(), None);
        for name in ["ZERO", "NAN", "DAY", "SET"] {
            let error = optional_timeout(&lookup, name).unwrap_err();
            assert!(
                error.to_string().starts_with(&format!("invalid {name}: ")),
                "{error}"
            );
        }
    }
}
