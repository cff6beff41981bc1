//! The Podero organisation's users: the store (creation order, lookups by id and by email) and
//! the validation of create and update requests, with Django REST Framework's field errors.
//!
//! It knows nothing about HTTP: `users.rs` parses requests, checks tokens and answers; this
//! module decides what a valid user is and keeps them.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

const ROLES: [&str; 3] = ["admin", "staff", "user"];

/// Django's `EmailField` limit.
const MAX_EMAIL_LEN: usize = 254;

/// A user, serialised with exactly the documented fields, in the documented order; absent
/// optional fields are `null`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct User {
    id: Uuid,
    external_user_id: Option<String>,
    role: String,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    street_and_number: Option<String>,
    street_add_info: Option<String>,
    zip_code: Option<String>,
    town: Option<String>,
    country: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    location_last_updated: Option<String>,
}

impl User {
    /// A user that is in no store, for pages made up by a pagination trap.
    pub(crate) fn made_up(email: String) -> Self {
        Self {
            id: Uuid::new_v4(),
            external_user_id: None,
            role: "user".to_owned(),
            email,
            first_name: None,
            last_name: None,
            street_and_number: None,
            street_add_info: None,
            zip_code: None,
            town: None,
            country: None,
            latitude: None,
            longitude: None,
            location_last_updated: None,
        }
    }
}

/// The organisation's users, in creation order, indexed by id and by lowercased email.
#[derive(Debug, Default)]
pub(crate) struct UserStore {
    by_serial: BTreeMap<u64, User>,
    serial_of: HashMap<Uuid, u64>,
    email_owner: HashMap<String, Uuid>,
    next_serial: u64,
}

impl UserStore {
    /// Every user, in creation order.
    pub(crate) fn all(&self) -> impl Iterator<Item = &User> {
        self.by_serial.values()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_serial.len()
    }

    pub(crate) fn get(&self, id: Uuid) -> Option<&User> {
        self.by_serial.get(self.serial_of.get(&id)?)
    }

    /// Validates a create request and stores the new user; `now` stamps
    /// `location_last_updated` when the request sets a coordinate.
    pub(crate) fn create(
        &mut self,
        request: &Map<String, Value>,
        now: &DateTime<Utc>,
    ) -> Result<User, FieldErrors> {
        let changes = validate(self, request, None, now)?;
        let mut user = User {
            id: Uuid::new_v4(),
            external_user_id: None,
            role: String::new(),
            email: String::new(),
            first_name: None,
            last_name: None,
            street_and_number: None,
            street_add_info: None,
            zip_code: None,
            town: None,
            country: None,
            latitude: None,
            longitude: None,
            location_last_updated: None,
        };
        changes.apply(&mut user);
        self.insert(user.clone());
        Ok(user)
    }

    /// Validates an update request and applies it to user `id`; `None` if there is no such
    /// user.
    pub(crate) fn update(
        &mut self,
        id: Uuid,
        request: &Map<String, Value>,
        now: &DateTime<Utc>,
    ) -> Option<Result<User, FieldErrors>> {
        let mut user = self.get(id)?.clone();
        Some(validate(self, request, Some(id), now).map(|changes| {
            changes.apply(&mut user);
            self.replace(user.clone());
            user
        }))
    }

    fn insert(&mut self, user: User) {
        let serial = self.next_serial;
        self.next_serial += 1;
        self.email_owner.insert(user.email.to_lowercase(), user.id);
        self.serial_of.insert(user.id, serial);
        self.by_serial.insert(serial, user);
    }

    fn replace(&mut self, user: User) {
        let Some(serial) = self.serial_of.get(&user.id).copied() else {
            return;
        };
        if let Some(old) = self.by_serial.insert(serial, user.clone()) {
            self.email_owner.remove(&old.email.to_lowercase());
        }
        self.email_owner.insert(user.email.to_lowercase(), user.id);
    }

    /// Removes user `id`; `false` if there is no such user.
    pub(crate) fn remove(&mut self, id: Uuid) -> bool {
        let Some(serial) = self.serial_of.remove(&id) else {
            return false;
        };
        if let Some(user) = self.by_serial.remove(&serial) {
            self.email_owner.remove(&user.email.to_lowercase());
        }
        true
    }

    /// Whether another user than `me` has this email, compared case-insensitively.
    fn email_taken(&self, email: &str, me: Option<Uuid>) -> bool {
        self.email_owner
            .get(&email.to_lowercase())
            .is_some_and(|owner| Some(*owner) != me)
    }
}

/// A validated request: for each field, `None` leaves it alone, `Some(value)` sets it.
#[derive(Default)]
struct Changes {
    email: Option<String>,
    role: Option<String>,
    text: Vec<(TextField, Option<String>)>,
    zip_code: Option<Option<String>>,
    country: Option<Option<String>>,
    latitude: Option<Option<f64>>,
    longitude: Option<Option<f64>>,
    location_last_updated: Option<String>,
}

#[derive(Clone, Copy)]
enum TextField {
    ExternalUserId,
    FirstName,
    LastName,
    StreetAndNumber,
    StreetAddInfo,
    Town,
}

impl TextField {
    const ALL: [(TextField, &'static str); 6] = [
        (TextField::ExternalUserId, "external_user_id"),
        (TextField::FirstName, "first_name"),
        (TextField::LastName, "last_name"),
        (TextField::StreetAndNumber, "street_and_number"),
        (TextField::StreetAddInfo, "street_add_info"),
        (TextField::Town, "town"),
    ];
}

impl Changes {
    fn apply(self, user: &mut User) {
        if let Some(email) = self.email {
            user.email = email;
        }
        if let Some(role) = self.role {
            user.role = role;
        }
        for (field, value) in self.text {
            let slot = match field {
                TextField::ExternalUserId => &mut user.external_user_id,
                TextField::FirstName => &mut user.first_name,
                TextField::LastName => &mut user.last_name,
                TextField::StreetAndNumber => &mut user.street_and_number,
                TextField::StreetAddInfo => &mut user.street_add_info,
                TextField::Town => &mut user.town,
            };
            *slot = value;
        }
        if let Some(zip_code) = self.zip_code {
            user.zip_code = zip_code;
        }
        if let Some(country) = self.country {
            user.country = country;
        }
        if let Some(latitude) = self.latitude {
            user.latitude = latitude;
        }
        if let Some(longitude) = self.longitude {
            user.longitude = longitude;
        }
        if let Some(at) = self.location_last_updated {
            user.location_last_updated = Some(at);
        }
    }
}

/// DRF-style field errors: `{"email": ["This field is required."]}`.
pub(crate) type FieldErrors = BTreeMap<String, Vec<String>>;

const REQUIRED: &str = "This field is required.";
const NOT_NULL: &str = "This field may not be null.";
const NOT_A_STRING: &str = "Not a valid string.";

/// Validates a create (`me` is `None`: `email` and `role` required) or an update (`me` is the
/// user: only the fields present are checked and changed). Unknown fields are ignored.
fn validate(
    users: &UserStore,
    request: &Map<String, Value>,
    me: Option<Uuid>,
    now: &DateTime<Utc>,
) -> Result<Changes, FieldErrors> {
    let creating = me.is_none();
    let mut errors = FieldErrors::new();
    let mut error = |field: &str, message: String| {
        errors.entry(field.to_owned()).or_default().push(message);
    };
    let mut changes = Changes::default();

    match request.get("email") {
        None if creating => error("email", REQUIRED.into()),
        None => {}
        Some(Value::Null) => error("email", NOT_NULL.into()),
        Some(Value::String(email)) => {
            let email = email.trim();
            if email.is_empty() {
                error("email", "This field may not be blank.".into());
            } else if email.chars().count() > MAX_EMAIL_LEN {
                error(
                    "email",
                    format!("Ensure this field has no more than {MAX_EMAIL_LEN} characters."),
                );
            } else if !looks_like_email(email) {
                error("email", "Enter a valid email address.".into());
            } else if users.email_taken(email, me) {
                error("email", "user with this email already exists.".into());
            } else {
                changes.email = Some(email.to_owned());
            }
        }
        Some(_) => error("email", "Enter a valid email address.".into()),
    }

    match request.get("role") {
        None if creating => error("role", REQUIRED.into()),
        None => {}
        Some(Value::Null) => error("role", NOT_NULL.into()),
        Some(Value::String(role)) if ROLES.contains(&role.as_str()) => {
            changes.role = Some(role.clone());
        }
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned);
            error("role", format!("\"{shown}\" is not a valid choice."));
        }
    }

    for (field, name) in TextField::ALL {
        match request.get(name) {
            None => {}
            Some(Value::Null) => changes.text.push((field, None)),
            Some(Value::String(text)) => changes.text.push((field, Some(text.clone()))),
            // DRF's CharField turns numbers into text.
            Some(Value::Number(number)) => changes.text.push((field, Some(number.to_string()))),
            Some(_) => error(name, NOT_A_STRING.into()),
        }
    }

    // Documented as an integer, sent as a string in the vendor's update example, and German
    // postcodes have leading zeros: a string is kept as it is, an integer becomes its digits.
    match request.get("zip_code") {
        None => {}
        Some(Value::Null) => changes.zip_code = Some(None),
        Some(Value::String(zip)) => changes.zip_code = Some(Some(zip.clone())),
        Some(Value::Number(zip)) if zip.is_i64() || zip.is_u64() => {
            changes.zip_code = Some(Some(zip.to_string()));
        }
        Some(_) => error("zip_code", "A valid integer is required.".into()),
    }

    // `country_iso2` is the documented request field and wins over `country`, the response
    // field, which is accepted too.
    for name in ["country", "country_iso2"] {
        match request.get(name) {
            None => {}
            Some(Value::Null) => changes.country = Some(None),
            Some(Value::String(country)) => changes.country = Some(Some(country.clone())),
            Some(_) => error(name, NOT_A_STRING.into()),
        }
    }

    for name in ["latitude", "longitude"] {
        let Some(value) = request.get(name) else {
            continue;
        };
        let Ok(value) = coordinate(value) else {
            error(name, "A valid number is required.".into());
            continue;
        };
        if value.is_some() {
            changes.location_last_updated = Some(now.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
        if name == "latitude" {
            changes.latitude = Some(value);
        } else {
            changes.longitude = Some(value);
        }
    }

    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

/// A latitude or longitude: a number, a numeric string (DRF's `FloatField` takes both) or
/// null; `Err` for anything else.
fn coordinate(value: &Value) -> Result<Option<f64>, ()> {
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => number.as_f64().map(Some).ok_or(()),
        Value::String(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite())
            .map(Some)
            .ok_or(()),
        _ => Err(()),
    }
}

/// Roughly Django's email check: one `@`, a non-empty local part, a dotted domain whose labels
/// are non-empty, no whitespace.
fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains('@')
        && !email.contains(char::is_whitespace)
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

#[cfg(test)]
mod tests {
    use super::looks_like_email;

    #[test]
    fn email_check() {
        assert!(looks_like_email("someone@example.com"));
        assert!(looks_like_email("a.b+c@sub.example.co"));
        for bad in [
            "", "a", "a@b", "@b.c", "a b@c.d", "a@.c", "a@c.", "a@@b.c", "a@b..c",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}
