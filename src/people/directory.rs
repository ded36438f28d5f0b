//! A tenant's users as an admin browses them: a page at a time in userName order, searched by
//! a part of a name or an email address.

use super::users::Role;
use crate::db::schema::users;
use crate::db::text::norm_str;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::{TenantId, UserId};
use crate::scim::schema::Kind;
use diesel::prelude::*;

/// A user as the admin API lists them.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: UserId,
    pub user_name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    pub role: Role,
    pub created_at: String,
    pub updated_at: String,
}

/// Which users to list: `q` is a case-insensitive part of the userName, display name or an
/// email address; `after` is the cursor of the previous page.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub q: Option<String>,
    pub active: Option<bool>,
    pub role: Option<Role>,
    pub after: Option<String>,
    pub limit: i64,
}

/// One page of a tenant's users in userName order, and the cursor of the next page (the last
/// userName key of this one) when there may be more.
///
/// # Errors
/// Database errors.
pub fn list(
    c: &mut DbConn,
    tenant: &TenantId,
    s: &Search,
) -> Result<(Vec<Listed>, Option<String>), Error> {
    use crate::db::schema::attrs;
    let mut query = users::table
        .filter(users::tenant_id.eq(tenant))
        .into_boxed();
    if let Some(q) = s.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = crate::db::text::contains_pattern(&norm_str(q, false));
        let by_email = attrs::table
            .filter(attrs::tenant_id.eq(tenant))
            .filter(attrs::rtype.eq(Kind::User.name()))
            .filter(attrs::path.eq("emails.value"))
            .filter(attrs::val.like(pattern.clone()).escape('\\'))
            .select(attrs::resource_id);
        query = query.filter(
            users::user_name_key
                .like(pattern.clone())
                .escape('\\')
                .or(
                    diesel::dsl::sql::<diesel::sql_types::Bool>("lower(display_name) LIKE ")
                        .bind::<diesel::sql_types::Text, _>(pattern)
                        .sql(" ESCAPE '\\'"),
                )
                .or(users::id.eq_any(by_email)),
        );
    }
    if let Some(active) = s.active {
        query = query.filter(users::active.eq(active));
    }
    if let Some(role) = s.role {
        query = query.filter(users::role.eq(role));
    }
    if let Some(after) = &s.after {
        query = query.filter(users::user_name_key.gt(after.clone()));
    }
    let limit = s.limit.clamp(1, 500);
    let rows: Vec<(String, Row)> = query
        .order(users::user_name_key)
        .limit(limit + 1)
        .select((users::user_name_key, Row::as_select()))
        .load(c)?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    let mut next = None;
    let mut out = Vec::with_capacity(rows.len());
    for (key, row) in rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
    {
        next = Some(key);
        out.push(listed(row));
    }
    Ok((out, next.filter(|_| more)))
}

/// One user by id.
///
/// # Errors
/// [`Error::NotFound`].
pub fn get(c: &mut DbConn, tenant: &TenantId, user: &UserId) -> Result<Listed, Error> {
    let row: Row = users::table
        .filter(users::tenant_id.eq(tenant))
        .filter(users::id.eq(user))
        .select(Row::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no user with id {:?} in this tenant",
                user.as_str()
            ))
        })?;
    Ok(listed(row))
}

/// The columns a listed user is read from.
#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct Row {
    id: UserId,
    user_name: String,
    display_name: Option<String>,
    external_id: Option<String>,
    active: bool,
    role: Role,
    created_at: String,
    updated_at: String,
    doc: String,
}

fn listed(row: Row) -> Listed {
    let doc: serde_json::Value = serde_json::from_str(&row.doc).unwrap_or_default();
    Listed {
        id: row.id,
        user_name: row.user_name,
        display_name: row.display_name,
        email: super::users::primary_email(&doc),
        external_id: row.external_id,
        active: row.active,
        role: row.role,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}
