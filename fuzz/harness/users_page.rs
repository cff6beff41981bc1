//! The Podero users models and the list's shapes: `User` from JSON, and one page of the list
//! as the listing reads it (a bare array, or an envelope with `results` or `items` and
//! `next`), through `partner_sdk::podero::parse_users_page`.
//!
//! Input: the body.
//!
//! Properties: no panic; a user survives a write and read unchanged (unknown fields and roles
//! included); a page's `next` link is never empty; the error of a page that does not parse
//! is printable.

use partner_sdk::podero::{User, parse_users_page};

use super::{assert_printable, fields};

pub(crate) fn run(data: &[u8]) {
    let [body] = fields::<1>(data);
    if let Ok(user) = serde_json::from_slice::<User>(body) {
        round_trip(&user);
    }
    match parse_users_page(body) {
        Ok((users, next)) => {
            assert!(next.as_deref() != Some(""), "an empty next link");
            users.iter().for_each(round_trip);
        }
        Err(error) => assert_printable("page error", &error.to_string()),
    }
}

#[track_caller]
fn round_trip(user: &User) {
    let written = serde_json::to_value(user).expect("a user serialises");
    let read: User = serde_json::from_value(written.clone())
        .unwrap_or_else(|e| panic!("a user does not read back ({e}): {written}"));
    assert_eq!(&read, user, "a user changed in a write and read: {written}");
}
