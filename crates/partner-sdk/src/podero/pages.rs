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

/// Where the listing stands: the next URL to fetch, every page fetched so far (a `next` link
/// back to any of them is a loop; see [`page_key`]), and the page bound.
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
        self.visited.insert(page_key(&current));
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
        if self.visited.contains(&page_key(&next)) {
            let pages = self.visited.len();
            return Err(error(format!(
                "pagination loops: the next link goes back to {}, fetched before (after {pages} page{})",
                next.path(),
                if pages == 1 { "" } else { "s" }
            )));
        }
        if self.visited.len() >= self.max_pages {
            return Err(error(format!(
                "pagination does not end within {} pages (the limit: `ListOptions::max_pages`, PODERO_MAX_PAGES)",
                self.max_pages
            )));
        }
        self.next = Some(Ok(next));
        Ok(())
    }
}

/// What identifies a page for loop detection: the URL without its fragment (never sent) and
/// without a `page=1` query pair, since Django REST Framework's page-number pagination serves
/// page 1 with and without it (its own links to page 1 carry no `page`): a cycle from page 2
/// back to `?page=1` is caught before page 1 is fetched a second time.
fn page_key(url: &Url) -> Url {
    let mut key = url.clone();
    key.set_fragment(None);
    if key
        .query_pairs()
        .any(|(name, value)| name == "page" && value == "1")
    {
        let kept: Vec<(String, String)> = key
            .query_pairs()
            .filter(|(name, value)| !(name == "page" && value == "1"))
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        if kept.is_empty() {
            key.set_query(None);
        } else {
            key.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    key
}

/// The origin a link names, for the message (the link itself may carry anything).
fn origin_of(link: &str) -> String {
    Url::parse(link).map_or_else(
        |_| "an unparsable URL".to_owned(),
        |url| url.origin().ascii_serialization(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn page_one_with_and_without_its_parameter_is_one_page() {
        let base = "https://api.example.com/users";
        assert_eq!(page_key(&url(&format!("{base}?page=1"))), url(base));
        assert_eq!(page_key(&url(&format!("{base}#top"))), url(base));
        assert_eq!(
            page_key(&url(&format!("{base}?page=1&size=2"))),
            page_key(&url(&format!("{base}?size=2")))
        );
        assert_ne!(page_key(&url(&format!("{base}?page=2"))), url(base));
    }

    #[test]
    fn a_cycle_back_to_page_one_is_caught_after_two_pages() {
        let resolve = |link: &str| Ok(url(link));
        let first = url("https://api.example.com/users");
        let mut cursor = Cursor::new(Ok(first.clone()), 10);
        assert_eq!(cursor.next_url().unwrap(), Some(first.clone()));
        let second = "https://api.example.com/users?page=2";
        cursor.advance(first, Some(second), resolve).unwrap();
        let fetched = cursor.next_url().unwrap().unwrap();
        let error = cursor
            .advance(
                fetched,
                Some("https://api.example.com/users?page=1"),
                resolve,
            )
            .unwrap_err();
        assert!(
            error.to_string().contains("pagination loops")
                && error.to_string().contains("after 2 pages"),
            "{error}"
        );
    }
}
