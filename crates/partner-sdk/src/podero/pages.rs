//! The users list's shape, which Podero does not document: a bare JSON array, or a paginated
//! envelope with the users under `results` (Django REST Framework) or `items`, and the next
//! page's URL under `next`; and the cursor that follows `next` links safely.

use std::collections::HashSet;

use reqwest::{Method, Url};
use serde_json::Value;

use super::models::User;
use crate::client::ApiResponse;
use crate::error::ApiError;

/// One page of users and the link to the next.
pub(super) struct Page {
    pub(super) users: Vec<User>,
    pub(super) next: Option<String>,
}

pub(super) fn parse(response: &ApiResponse) -> Result<Page, ApiError> {
    let value: Value = response.json()?;
    let (items, next) = match value {
        Value::Array(items) => (items, None),
        Value::Object(mut envelope) => {
            let items = ["results", "items"]
                .iter()
                .find_map(|key| match envelope.remove(*key) {
                    Some(Value::Array(items)) => Some(items),
                    _ => None,
                });
            let Some(items) = items else {
                return Err(response.decode_error(
                    "the users list is an object without a `results` or `items` array",
                ));
            };
            let next = match envelope.remove("next") {
                Some(Value::String(next)) if !next.is_empty() => Some(next),
                _ => None,
            };
            (items, next)
        }
        _ => {
            return Err(
                response.decode_error("the users list is neither a JSON array nor an object")
            );
        }
    };
    let users = items
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(|e| response.decode_error(format!("a user does not parse: {e}")))?;
    Ok(Page { users, next })
}

/// Where the listing stands: the next URL to fetch, every URL fetched so far (a `next` link
/// back to any of them is a loop), and the page bound.
pub(super) struct Cursor {
    next: Option<Result<Url, ApiError>>,
    visited: HashSet<Url>,
    max_pages: usize,
}

impl Cursor {
    pub(super) fn new(first: Result<Url, ApiError>, max_pages: usize) -> Self {
        Self {
            next: Some(first),
            visited: HashSet::new(),
            max_pages,
        }
    }

    pub(super) fn next_url(&mut self) -> Result<Option<Url>, ApiError> {
        self.next.take().transpose()
    }

    /// Records that `current` was fetched and points to `next`, resolved by `resolve` (which
    /// refuses other origins).
    pub(super) fn advance(
        &mut self,
        current: Url,
        next: Option<&str>,
        resolve: impl Fn(&str) -> Result<Url, ApiError>,
    ) -> Result<(), ApiError> {
        let path = current.path().to_owned();
        self.visited.insert(current);
        let Some(next) = next else {
            return Ok(());
        };
        let error = |reason: String| ApiError::decode(&Method::GET, &path, reason, None);
        let next = resolve(next).map_err(|_| {
            error(format!(
                "the server linked the next page to another origin ({}); nothing was sent there",
                origin_of(next)
            ))
        })?;
        if self.visited.contains(&next) {
            return Err(error(format!(
                "pagination loops: the next link goes back to {}, fetched before (after {} pages)",
                next.path(),
                self.visited.len()
            )));
        }
        if self.visited.len() >= self.max_pages {
            return Err(error(format!(
                "pagination does not end within {} pages (the limit; see `ListOptions::max_pages`)",
                self.max_pages
            )));
        }
        self.next = Some(Ok(next));
        Ok(())
    }
}

/// The origin a link names, for the message (the link itself may carry anything).
fn origin_of(link: &str) -> String {
    Url::parse(link).map_or_else(
        |_| "an unparsable URL".to_owned(),
        |url| url.origin().ascii_serialization(),
    )
}
