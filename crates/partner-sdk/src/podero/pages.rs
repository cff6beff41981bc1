//! The users list's shape, which Podero does not document: a bare JSON array, or a paginated
//! envelope with the users under `results` (Django REST Framework) or `items`, and the next
//! page's URL under `next`.

use reqwest::Url;
use serde_json::Value;

use super::MAX_PAGES;
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

/// Where the listing stands: the next URL to fetch, and a guard against loops.
pub(super) struct Cursor {
    next: Option<Result<Url, ApiError>>,
    pages: usize,
}

impl Cursor {
    pub(super) fn new(first: Result<Url, ApiError>) -> Self {
        Self {
            next: Some(first),
            pages: 0,
        }
    }

    pub(super) fn next_url(&mut self) -> Result<Option<Url>, ApiError> {
        self.next.take().transpose()
    }

    /// Records that `current` was fetched and points to `next`.
    pub(super) fn advance(
        &mut self,
        current: &Url,
        next: Option<&str>,
        resolve: impl Fn(&str) -> Result<Url, ApiError>,
    ) -> Result<(), ApiError> {
        self.pages += 1;
        let Some(next) = next else {
            return Ok(());
        };
        let next = resolve(next)?;
        if &next == current || self.pages >= MAX_PAGES {
            return Err(ApiError::Decode {
                method: reqwest::Method::GET,
                path: current.path().to_owned(),
                reason: format!(
                    "pagination does not end (next link {} after {} pages)",
                    next.path(),
                    self.pages
                ),
                excerpt: None,
            });
        }
        self.next = Some(Ok(next));
        Ok(())
    }
}
