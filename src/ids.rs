//! Identifiers, one type each, so that a tenant's slug is never passed where its id belongs
//! (both are text). A slug from a URL or a command line is resolved to a [`TenantId`] once, at
//! the edge; domain and store functions take the id.
//!
//! Each is stored as text and binds in diesel queries as itself (`tenants::id.eq(&id)`).

use crate::db::Backend;
use diesel::deserialize::{FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{Output, ToSql};
use diesel::sql_types::Text;
use std::fmt;

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, AsExpression, FromSqlRow,
            serde::Serialize, serde::Deserialize,
        )]
        #[diesel(sql_type = Text)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The text of the identifier.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The identifier as owned text.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> $name {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> $name {
                $name(s.to_owned())
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ToSql<Text, Backend> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Backend>) -> diesel::serialize::Result {
                <str as ToSql<Text, Backend>>::to_sql(self.0.as_str(), out)
            }
        }

        // Subqueries are written by each backend's own query builder.
        impl ToSql<Text, diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                <str as ToSql<Text, diesel::pg::Pg>>::to_sql(self.0.as_str(), out)
            }
        }

        impl ToSql<Text, diesel::sqlite::Sqlite> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut Output<'b, '_, diesel::sqlite::Sqlite>,
            ) -> diesel::serialize::Result {
                <str as ToSql<Text, diesel::sqlite::Sqlite>>::to_sql(self.0.as_str(), out)
            }
        }

        // In the admin API's OpenAPI document, an id is a string.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <String as utoipa::PartialSchema>::schema()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl FromSql<Text, Backend> for $name {
            fn from_sql(
                bytes: <Backend as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<$name> {
                <String as FromSql<Text, Backend>>::from_sql(bytes).map($name)
            }
        }
    };
}

text_id!(
    /// A tenant's id: a UUID that never changes.
    TenantId
);

text_id!(
    /// A tenant's slug: what its URLs carry (`/t/<slug>`, `/scim/v2/<slug>`).
    TenantSlug
);

text_id!(
    /// A user's id (the SCIM `id`).
    UserId
);

text_id!(
    /// A group's id (the SCIM `id`).
    GroupId
);

/// A new random id (UUID v4), for a resource being created.
pub fn new_uuid<T: From<String>>() -> T {
    T::from(uuid::Uuid::new_v4().to_string())
}

/// Stores an enum as its name (`as_str`) and reads it back with `FromStr`: a name the enum
/// does not know is an error when the row is read, never a silent default.
macro_rules! stored_as_text {
    ($name:ty) => {
        impl diesel::serialize::ToSql<diesel::sql_types::Text, $crate::db::Backend> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, $crate::db::Backend>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, $crate::db::Backend>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, $crate::db::Backend> for $name {
            fn from_sql(
                bytes: <$crate::db::Backend as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<$name> {
                let text = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    $crate::db::Backend,
                >>::from_sql(bytes)?;
                text.parse::<$name>().map_err(|e| {
                    format!("stored {} {text:?} is unknown: {e}", stringify!($name)).into()
                })
            }
        }
    };
}
pub(crate) use stored_as_text;
