//! A tenant's groups as admins browse them: a page at a time, with their members. Groups are
//! changed over SCIM (or by sign-ins in `jit` mode); this is the read side.

use crate::db::schema::{groups as g, members as m, users as u};
use crate::db::text::norm_str;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::{GroupId, TenantId};
use diesel::prelude::*;

/// Where a page of groups starts: after this (display name, id).
pub type Cursor = (String, String);

/// A group as listed.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: GroupId,
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: i64,
}

/// A member: a user (with their userName) or a nested group (with its name).
#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub kind: String,
    pub display: Option<String>,
}

/// One page of groups by display name (then id); `q` is a case-insensitive part of the name;
/// `after` is the cursor of the previous page.
///
/// # Errors
/// Database errors.
pub fn list(
    c: &mut DbConn,
    tenant: &TenantId,
    q: Option<&str>,
    after: Option<Cursor>,
    limit: i64,
) -> Result<(Vec<Listed>, Option<Cursor>), Error> {
    let limit = limit.clamp(1, 500);
    let mut query = g::table.filter(g::tenant_id.eq(tenant)).into_boxed();
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = crate::db::text::contains_pattern(&norm_str(q, false));
        query = query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(display_name) LIKE ")
                .bind::<diesel::sql_types::Text, _>(pattern)
                .sql(" ESCAPE '\\'"),
        );
    }
    if let Some((name, id)) = after {
        query = query.filter(
            g::display_name
                .gt(name.clone())
                .or(g::display_name.eq(name).and(g::id.gt(id))),
        );
    }
    let rows: Vec<(GroupId, String, Option<String>)> = query
        .order((g::display_name, g::id))
        .limit(limit + 1)
        .select((g::id, g::display_name, g::external_id))
        .load(c)?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let ids: Vec<&GroupId> = rows.iter().map(|r| &r.0).collect();
    let counts: Vec<(GroupId, i64)> = m::table
        .filter(m::group_id.eq_any(ids))
        .group_by(m::group_id)
        .select((m::group_id, diesel::dsl::count_star()))
        .load(c)?;
    let next = rows
        .last()
        .filter(|_| more)
        .map(|r| (r.1.clone(), r.0.to_string()));
    let out = rows
        .into_iter()
        .map(|(id, display_name, external_id)| Listed {
            members: counts.iter().find(|(g, _)| *g == id).map_or(0, |(_, n)| *n),
            id,
            display_name,
            external_id,
        })
        .collect();
    Ok((out, next))
}

/// One group and its members.
///
/// # Errors
/// [`Error::NotFound`].
pub fn get(
    c: &mut DbConn,
    tenant: &TenantId,
    id: &GroupId,
) -> Result<(Listed, Vec<Member>), Error> {
    let (gid, display_name, external_id): (GroupId, String, Option<String>) = g::table
        .filter(g::tenant_id.eq(tenant))
        .filter(g::id.eq(id))
        .select((g::id, g::display_name, g::external_id))
        .first(c)
        .optional()?
        .ok_or_else(|| {
            Error::NotFound(format!("no group with id {:?} in this tenant", id.as_str()))
        })?;
    let users: Vec<(String, String)> = m::table
        .inner_join(u::table.on(u::id.eq(m::member_id)))
        .filter(m::group_id.eq(&gid))
        .order(u::user_name_key)
        .select((u::id, u::user_name))
        .load(c)?;
    let nested: Vec<(String, String)> = m::table
        .inner_join(g::table.on(g::id.eq(m::member_id)))
        .filter(m::group_id.eq(&gid))
        .order(g::display_name)
        .select((g::id, g::display_name))
        .load(c)?;
    let mut members: Vec<Member> = users
        .into_iter()
        .map(|(id, name)| Member {
            id,
            kind: "User".into(),
            display: Some(name),
        })
        .collect();
    members.extend(nested.into_iter().map(|(id, name)| Member {
        id,
        kind: "Group".into(),
        display: Some(name),
    }));
    Ok((
        Listed {
            members: members.len() as i64,
            id: gid,
            display_name,
            external_id,
        },
        members,
    ))
}
