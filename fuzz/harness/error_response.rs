//! `auth_core::response::parse_error_response` with any body.
//!
//! Input: the body.
//!
//! Properties: no panic; the description and URI kept are printable, at most 500 characters
//! (before escaping) and free of the client secret the redactor knows.

use auth_core::Redactor;
use auth_core::response::parse_error_response;

use super::fields;
use super::token_response::{CLIENT_ID, CLIENT_SECRET, check_error_text};

pub(crate) fn run(data: &[u8]) {
    let [body] = fields::<1>(data);
    let redactor = Redactor::new().with_basic_credentials(CLIENT_ID, CLIENT_SECRET);
    let Some(response) = parse_error_response(body, &redactor) else {
        return;
    };
    for text in [&response.error_description, &response.error_uri]
        .into_iter()
        .flatten()
    {
        check_error_text(text);
        // 500 characters and an ellipsis, each escape counting as many characters.
        let unescaped = text.matches("\\u{").count();
        assert!(
            text.chars().count() <= 501 + 9 * unescaped,
            "an unbounded text: {} characters",
            text.chars().count()
        );
    }
    check_error_text(&response.to_string());
    check_error_text(&response.error.to_string());
}
