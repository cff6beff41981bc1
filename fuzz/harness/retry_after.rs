//! `auth_core::http::retry_after`: delta-seconds or an HTTP date, relative to now.
//!
//! Input: `now` (ASCII seconds since the epoch; 2025 otherwise) SEP `header value` (skipped
//! when it is not a valid header value) SEP an optional second value.
//!
//! Properties: no panic (absurd values saturate); delta-seconds are read exactly; a date
//! never yields more than the distance from now; the first header counts.

use std::time::Duration;

use auth_core::http::retry_after;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

use super::{EPOCH_2025, date_or, fields};

pub(crate) fn run(data: &[u8]) {
    let [now, value, second] = fields::<3>(data);
    let now = date_or(now, EPOCH_2025);
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, value.clone());
    let asked = retry_after(&headers, now);
    if let Ok(second) = HeaderValue::from_bytes(second) {
        headers.append(RETRY_AFTER, second);
        assert_eq!(
            retry_after(&headers, now),
            asked,
            "a second header changed the answer"
        );
    }
    let text = value.to_str().map(str::trim).unwrap_or_default();
    if let Ok(seconds) = text.parse::<u64>() {
        assert_eq!(asked, Some(Duration::from_secs(seconds)));
    } else if let Some(asked) = asked {
        let at = chrono::DateTime::parse_from_rfc2822(text).expect("a date was read");
        let distance = (at.to_utc() - now).to_std().unwrap_or_default();
        assert_eq!(asked, distance);
    }
}
