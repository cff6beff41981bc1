//! The Podero users API's data, as documented, tolerant of the documents' inconsistencies.
//!
//! - `zip_code` is documented as an integer but sent as a string in the update example, and
//!   German postcodes have leading zeros: accepted as either, kept as text.
//! - Requests name the country `country_iso2`, responses `country`: both are accepted when
//!   reading; requests send `country_iso2`.
//! - Roles beyond `admin`/`staff`/`user` and fields this crate does not know are preserved, so
//!   nothing the server adds is lost in a read-modify-write.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID.
            pub fn new(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text.trim()).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// An organisation id: the UUID Podero assigns at partner onboarding.
    OrgId
);
uuid_id!(
    /// A user id: the UUID in a user's `id`.
    UserId
);

/// A user's role.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// Everything, including other admins and staff. Podero emails an invitation.
    Admin,
    /// End-users and devices, not staff or admins. Podero emails an invitation.
    Staff,
    /// Only the user's own resources.
    User,
    /// A role this crate does not know, kept as sent. Only parsing builds it (`"admin"`
    /// parses as [`Role::Admin`], never as `Other`).
    Other(OtherRole),
}

/// A role this crate does not know (see [`Role::Other`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OtherRole(String);

impl OtherRole {
    /// The role as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Role {
    /// The role as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Admin => "admin",
            Self::Staff => "staff",
            Self::User => "user",
            Self::Other(other) => other.as_str(),
        }
    }
}

impl FromStr for Role {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "admin" => Self::Admin,
            "staff" => Self::Staff,
            "user" => Self::User,
            other => Self::Other(OtherRole(other.to_owned())),
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match Self::from_str(&text) {
            Ok(role) => role,
            Err(never) => match never {},
        })
    }
}

/// A user of the organisation, as the API returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawUser")]
#[non_exhaustive]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The organisation, when the server includes it (the documented sample does not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<OrgId>,
    /// The e-mail address, unique within the organisation.
    pub email: String,
    /// The role.
    pub role: Role,
    /// The partner's own id for this customer.
    pub external_user_id: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Street and house number.
    pub street_and_number: Option<String>,
    /// Address supplement.
    pub street_add_info: Option<String>,
    /// Postcode, as text (leading zeros kept).
    pub zip_code: Option<String>,
    /// Town.
    pub town: Option<String>,
    /// Country code (`country` in responses, `country_iso2` in requests; ISO2 or ISO3 as sent).
    pub country: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// When the location was last set (read-only).
    pub location_last_updated: Option<DateTime<Utc>>,
    /// Fields this crate does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl User {
    /// A user with the required fields and nothing else: for fixtures in tests of code that
    /// consumes users (set the other public fields as needed).
    pub fn new(id: UserId, email: impl Into<String>, role: Role) -> Self {
        Self {
            id,
            org_id: None,
            email: email.into(),
            role,
            external_user_id: None,
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
            extra: Map::new(),
        }
    }
}

/// The wire shape of a user, before the documented inconsistencies are reconciled.
#[derive(Deserialize)]
struct RawUser {
    id: UserId,
    #[serde(default)]
    org_id: Option<OrgId>,
    #[serde(default)]
    email: Option<String>,
    role: Role,
    #[serde(default)]
    external_user_id: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    street_and_number: Option<String>,
    #[serde(default)]
    street_add_info: Option<String>,
    #[serde(default, deserialize_with = "zip_code")]
    zip_code: Option<String>,
    #[serde(default)]
    town: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    country_iso2: Option<String>,
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
    #[serde(default)]
    location_last_updated: Option<DateTime<Utc>>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl From<RawUser> for User {
    fn from(raw: RawUser) -> Self {
        Self {
            id: raw.id,
            org_id: raw.org_id,
            email: raw.email.unwrap_or_default(),
            role: raw.role,
            external_user_id: raw.external_user_id,
            first_name: raw.first_name,
            last_name: raw.last_name,
            street_and_number: raw.street_and_number,
            street_add_info: raw.street_add_info,
            zip_code: raw.zip_code,
            town: raw.town,
            country: raw.country.or(raw.country_iso2),
            latitude: raw.latitude,
            longitude: raw.longitude,
            location_last_updated: raw.location_last_updated,
            extra: raw.extra,
        }
    }
}

/// A postcode sent as a JSON number or string; kept as text.
fn zip_code<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Zip {
        Text(String),
        Integer(u64),
        Float(f64),
    }
    Ok(match Option::<Zip>::deserialize(deserializer)? {
        None => None,
        Some(Zip::Text(text)) => Some(text),
        Some(Zip::Integer(number)) => Some(number.to_string()),
        Some(Zip::Float(number)) => Some(number.to_string()),
    })
}

/// The optional fields shared by [`NewUser`] and [`UserUpdate`], serialised only when set.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
struct Fields {
    #[serde(skip_serializing_if = "Option::is_none")]
    external_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    street_and_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    street_add_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zip_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    town: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_iso2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    longitude: Option<f64>,
}

/// The setters of the optional fields: `name(value)` and `set_name(Option<value>)` (which
/// clears the field with `None`), for both request types.
macro_rules! field_setters {
    ($($(#[$doc:meta])* $name:ident, $set:ident => $field:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: impl Into<String>) -> Self {
                self.fields.$field = Some(value.into());
                self
            }

            $(#[$doc])*
            ///
            /// `None` leaves it unset.
            pub fn $set(mut self, value: Option<String>) -> Self {
                self.fields.$field = value;
                self
            }
        )*
    };
}

/// The optional fields' setters, listed once for both request types.
macro_rules! optional_field_setters {
    () => {
        field_setters! {
            /// The partner's own id for this customer.
            external_user_id, set_external_user_id => external_user_id;
            /// First name.
            first_name, set_first_name => first_name;
            /// Last name.
            last_name, set_last_name => last_name;
            /// Street and house number.
            street_and_number, set_street_and_number => street_and_number;
            /// Address supplement.
            street_add_info, set_street_add_info => street_add_info;
            /// Postcode, as text (sent as a string so leading zeros survive).
            zip_code, set_zip_code => zip_code;
            /// Town.
            town, set_town => town;
            /// Country code, sent as `country_iso2`.
            country, set_country => country_iso2;
        }

        /// Location.
        pub fn location(mut self, latitude: f64, longitude: f64) -> Self {
            self.fields.latitude = Some(latitude);
            self.fields.longitude = Some(longitude);
            self
        }
    };
}

/// A user to create: e-mail and role are required, everything else optional.
///
/// Creating an `admin` or `staff` user makes Podero e-mail them an invitation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[must_use]
pub struct NewUser {
    email: String,
    role: Role,
    #[serde(flatten)]
    fields: Fields,
}

impl NewUser {
    /// A user with the required fields.
    pub fn new(email: impl Into<String>, role: Role) -> Self {
        Self {
            email: email.into(),
            role,
            fields: Fields::default(),
        }
    }

    optional_field_setters!();
}

/// A partial update: only the fields that are set are sent (PUT with a partial body, as
/// Podero documents).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[must_use]
pub struct UserUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Role>,
    #[serde(flatten)]
    fields: Fields,
}

impl UserUpdate {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Changes the e-mail address.
    pub fn email(mut self, value: impl Into<String>) -> Self {
        self.email = Some(value.into());
        self
    }

    /// Changes the role.
    pub fn role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }

    /// Changes the e-mail address if `Some`.
    pub fn set_email(mut self, value: Option<String>) -> Self {
        self.email = value;
        self
    }

    /// Changes the role if `Some`.
    pub fn set_role(mut self, role: Option<Role>) -> Self {
        self.role = role;
        self
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    optional_field_setters!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_user_object_parses() {
        let user: User = serde_json::from_str(
            r#"{
              "id": "497f6eca-6276-4993-bfeb-53cbbbba6f08",
              "external_user_id": null, "role": "user", "email": "someone@example.com",
              "first_name": null, "last_name": null, "street_and_number": null,
              "street_add_info": null, "zip_code": null, "town": null, "country": null,
              "latitude": null, "longitude": null, "location_last_updated": null
            }"#,
        )
        .unwrap();
        assert_eq!(user.id.to_string(), "497f6eca-6276-4993-bfeb-53cbbbba6f08");
        assert_eq!(user.role, Role::User);
        assert!(user.extra.is_empty());
    }

    #[test]
    fn documented_inconsistencies_are_tolerated() {
        let user: User = serde_json::from_str(
            r#"{"id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "role": "installer",
                "email": "a@b.c", "zip_code": 11011, "country_iso2": "DE",
                "location_last_updated": "2023-07-15T19:34:29.000Z", "tariff": {"kind": "dynamic"}}"#,
        )
        .unwrap();
        assert_eq!(user.role.as_str(), "installer");
        assert!(matches!(user.role, Role::Other(_)));
        assert_eq!("admin".parse::<Role>().unwrap(), Role::Admin);
        assert_eq!(user.zip_code.as_deref(), Some("11011"));
        assert_eq!(user.country.as_deref(), Some("DE"));
        assert_eq!(
            user.location_last_updated.unwrap().timestamp(),
            1_689_449_669
        );
        assert_eq!(user.extra["tariff"]["kind"], "dynamic");
        // Unknown fields and roles survive a round trip.
        let again: User = serde_json::from_value(serde_json::to_value(&user).unwrap()).unwrap();
        assert_eq!(again, user);

        let leading_zero: User = serde_json::from_str(
            r#"{"id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "role": "user", "email": "x@y.z", "zip_code": "01067"}"#,
        )
        .unwrap();
        assert_eq!(leading_zero.zip_code.as_deref(), Some("01067"));
    }

    #[test]
    fn requests_send_only_what_is_set() {
        let new = NewUser::new("jane@example.com", Role::Staff)
            .zip_code("01067")
            .country("DE");
        assert_eq!(
            serde_json::to_string(&new).unwrap(),
            r#"{"email":"jane@example.com","role":"staff","zip_code":"01067","country_iso2":"DE"}"#
        );
        let update = UserUpdate::new().town("Berlin");
        assert_eq!(
            serde_json::to_string(&update).unwrap(),
            r#"{"town":"Berlin"}"#
        );
        assert!(UserUpdate::new().is_empty());
        assert!(!update.is_empty());
        assert!(UserUpdate::new().set_town(None).set_email(None).is_empty());
        assert_eq!(
            UserUpdate::new().set_town(Some("Berlin".into())),
            UserUpdate::new().town("Berlin")
        );
        let fixture = User::new(
            "497f6eca-6276-4993-bfeb-53cbbbba6f08".parse().unwrap(),
            "a@b.c",
            Role::Admin,
        );
        assert_eq!(fixture.email, "a@b.c");
    }

    #[test]
    fn ids_parse_and_print() {
        let id: OrgId = " 016b78a7-0c7c-4241-a277-015c3ad3cb90 ".parse().unwrap();
        assert_eq!(id.to_string(), "016b78a7-0c7c-4241-a277-015c3ad3cb90");
        assert_eq!(
            format!("{id:?}"),
            "OrgId(016b78a7-0c7c-4241-a277-015c3ad3cb90)"
        );
        assert!("not-a-uuid".parse::<UserId>().is_err());
    }
}
