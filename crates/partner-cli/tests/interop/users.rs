//! `partner users ...` against the users API behind DOT, in both resource styles.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::cli::Partner;
use crate::support::{DotServer, Variant};
use crate::{JSON_DRF, JSON_PROTECTED};

/// The keys of Podero's documented user object, which the CLI prints.
const USER_KEYS: [&str; 14] = [
    "country",
    "email",
    "external_user_id",
    "first_name",
    "id",
    "last_name",
    "latitude",
    "location_last_updated",
    "longitude",
    "role",
    "street_add_info",
    "street_and_number",
    "town",
    "zip_code",
];

#[test]
fn users_crud_on_the_json_backend_with_drf_resources() {
    crud(JSON_DRF, &[]);
}

#[test]
fn users_crud_on_the_json_backend_with_dot_protected_resources() {
    crud(JSON_PROTECTED, &[]);
}

fn keys(user: &Value) -> BTreeSet<&str> {
    user.as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// Create five users (three pages of two), get, list, update, refuse bad input, delete.
pub(crate) fn crud(variant: Variant, vars: &[(&str, &str)]) {
    let server = DotServer::shared(variant);
    let mut partner = Partner::new(server, &server.client);
    for (name, value) in vars {
        partner = partner.var(name, value);
    }

    let jane = partner
        .run(&[
            "users",
            "create",
            "--email",
            "jane@example.com",
            "--role",
            "staff",
            "--zip-code",
            "01067",
            "--first-name",
            "Jane",
            "--last-name",
            "Doe",
            "--country",
            "DE",
            "--external-user-id",
            "customer_12345",
        ])
        .ok_json();
    assert_eq!(keys(&jane), BTreeSet::from(USER_KEYS), "{jane}");
    assert_eq!(jane["role"], "staff");
    assert_eq!(jane["email"], "jane@example.com");
    assert_eq!(jane["zip_code"], "01067", "the leading zero survives");
    assert_eq!(
        jane["country"], "DE",
        "sent as country_iso2, answered as country"
    );
    assert_eq!(jane["external_user_id"], "customer_12345");
    assert_eq!(jane["town"], Value::Null);
    let jane_id = jane["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&jane_id).is_ok(), "{jane}");

    let mut ids = vec![jane_id.clone()];
    for n in 1..5 {
        let user = partner
            .run(&[
                "users",
                "create",
                "--email",
                &format!("user{n}@example.com"),
            ])
            .ok_json();
        assert_eq!(user["role"], "user");
        ids.push(user["id"].as_str().unwrap().to_owned());
    }

    // Five users, two per page: the server answers three pages and the CLI follows them.
    let (_, token) = partner.run_showing_token();
    let first_page = server.http(
        "GET",
        &format!("/api/partners/v2.0/org/{}/users", partner.org_id()),
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    );
    let envelope = first_page.json();
    assert_eq!(envelope["count"], 5, "{envelope}");
    assert_eq!(envelope["results"].as_array().unwrap().len(), 2);
    assert!(envelope["next"].as_str().unwrap().contains("page=2"));
    assert_eq!(envelope["previous"], Value::Null);

    let listed = partner.run(&["users", "list"]).ok_json();
    let listed_ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed_ids, ids, "every user once, in creation order");
    assert_eq!(listed[0], jane);

    let fetched = partner.run(&["users", "get", &jane_id]).ok_json();
    assert_eq!(fetched, jane);

    let updated = partner
        .run(&["users", "update", &jane_id, "--town", "Dresden"])
        .ok_json();
    assert_eq!(updated["town"], "Dresden");
    assert_eq!(
        updated["zip_code"], "01067",
        "a partial update keeps the rest"
    );
    assert_eq!(updated["first_name"], "Jane");
    assert_eq!(updated["role"], "staff");
    assert_eq!(partner.run(&["users", "get", &jane_id]).ok_json(), updated);

    // Validation errors are DRF's: 400 with the field's message.
    let duplicate = partner.run_plain(&["users", "create", "--email", "jane@example.com"]);
    duplicate.assert_code(4);
    assert!(duplicate.stderr.contains("HTTP 400"), "{duplicate:?}");
    assert!(
        duplicate
            .stderr
            .contains("user with this email already exists."),
        "{duplicate:?}"
    );
    let invalid = partner.run_plain(&["users", "update", &jane_id, "--email", "not-an-email"]);
    invalid.assert_code(4);
    assert!(
        invalid.stderr.contains("Enter a valid email address."),
        "{invalid:?}"
    );

    let deleted = partner.run(&["users", "delete", &jane_id]);
    deleted.assert_code(0);
    assert_eq!(deleted.stdout, "");
    let gone = partner.run_plain(&["users", "get", &jane_id]);
    gone.assert_code(4);
    assert!(gone.stderr.contains("HTTP 404"), "{gone:?}");
    let remaining = partner.run(&["users", "list"]).ok_json();
    assert_eq!(remaining.as_array().unwrap().len(), 4);
}
