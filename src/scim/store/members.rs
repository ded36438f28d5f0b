//! Group membership rows: adding and removing members as set operations on `members` (one
//! multi-row statement per thousand), and a page's members or groups in one query.

use super::{table, Count, CHUNK};
use crate::db::sql::{self, Builder};
use crate::db::DbConn;
use crate::ids::TenantId;
use crate::scim::error::{ScimError, ScimResult, ScimType};
use crate::scim::patch::MemberOp;
use crate::scim::response::Related;
use crate::scim::schema::Kind;
use diesel::sql_types::{Nullable, Text};
use diesel::QueryableByName;
use std::collections::{HashMap, HashSet};

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    id: String,
}

/// The ids among `ids` that are neither a user nor a group of the tenant.
fn unknown_ids(c: &mut DbConn, tenant: &TenantId, ids: &[String]) -> ScimResult<Vec<String>> {
    let mut found = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let mut b = Builder::new(c.dialect());
        tenant_ids(&mut b, tenant, chunk, |b, _| {
            b.push("id");
        });
        found.extend(sql::load::<Id>(c, &b.sql)?.into_iter().map(|r| r.id));
    }
    Ok(ids
        .iter()
        .filter(|i| !found.contains(*i))
        .cloned()
        .collect())
}

/// `SELECT <columns> FROM users WHERE tenant_id = ? AND id IN (ids) UNION ALL` the same for
/// groups: the ids that exist in the tenant, whichever kind they are. `columns` writes the
/// select list for each kind.
fn tenant_ids(
    b: &mut Builder,
    tenant: &TenantId,
    ids: &[String],
    columns: impl Fn(&mut Builder, Kind),
) {
    for (i, kind) in [Kind::User, Kind::Group].into_iter().enumerate() {
        if i > 0 {
            b.push(" UNION ALL ");
        }
        kind_ids(b, kind, tenant, ids, &columns);
    }
}

/// `SELECT <columns> FROM <kind's table> WHERE tenant_id = ? AND id IN (ids)`.
fn kind_ids(
    b: &mut Builder,
    kind: Kind,
    tenant: &TenantId,
    ids: &[String],
    columns: impl Fn(&mut Builder, Kind),
) {
    b.push("SELECT ");
    columns(b, kind);
    b.push(&format!(" FROM {} WHERE tenant_id = ", table(kind)));
    b.text(tenant).push(" AND id IN (");
    in_list(b, ids);
    b.push(")");
}

fn in_list(b: &mut Builder, ids: &[String]) {
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.text(id.as_str());
    }
}

/// Adds members with `INSERT ... SELECT`: the database finds each id among the tenant's users
/// (then, for ids not found there, its groups), which also gives its type, and skips rows
/// already there, so adding 1,000 members moves no rows through muster. Only when fewer rows
/// went in than ids came does it count what is there, and only when ids are missing does it
/// look for which. Returns whether any row was added.
pub(super) fn add_members(
    c: &mut DbConn,
    tenant: &TenantId,
    group: &str,
    ids: &[String],
) -> ScimResult<bool> {
    let mut added = 0;
    for chunk in ids.chunks(CHUNK) {
        let mut inserted = 0;
        for kind in [Kind::User, Kind::Group] {
            let mut b = Builder::new(c.dialect());
            b.push("INSERT INTO members (tenant_id, group_id, member_id, member_type) ");
            kind_ids(&mut b, kind, tenant, chunk, |b, kind| {
                b.text(tenant).push(", ").text(group);
                b.push(&format!(", id, '{}'", kind.name()));
            });
            b.push(" ON CONFLICT DO NOTHING");
            inserted += sql::exec(c, &b.sql)?;
            if inserted == chunk.len() {
                break;
            }
        }
        added += inserted;
        if inserted == chunk.len() {
            continue;
        }
        // Some ids were already members, or are unknown: count the rows now there.
        let mut b = Builder::new(c.dialect());
        b.push("SELECT COUNT(*) AS n FROM members WHERE group_id = ")
            .text(group);
        b.push(" AND member_id IN (");
        in_list(&mut b, chunk);
        b.push(")");
        let present = sql::load::<Count>(c, &b.sql)?.first().map_or(0, |r| r.n);
        if usize::try_from(present).ok() != Some(chunk.len()) {
            let unknown = unknown_ids(c, tenant, chunk)?;
            let shown: Vec<&str> = unknown.iter().take(10).map(String::as_str).collect();
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                format!("members not found in this tenant: {}", shown.join(", ")),
            ));
        }
    }
    Ok(added > 0)
}

fn remove_members(c: &mut DbConn, group: &str, ids: Option<&[String]>) -> ScimResult<bool> {
    let dialect = c.dialect();
    let Some(ids) = ids else {
        let mut b = Builder::new(dialect);
        b.push("DELETE FROM members WHERE group_id = ").text(group);
        return Ok(sql::exec(c, &b.sql)? > 0);
    };
    let mut removed = 0;
    for chunk in ids.chunks(CHUNK) {
        let mut b = Builder::new(dialect);
        b.push("DELETE FROM members WHERE group_id = ")
            .text(group)
            .push(" AND member_id IN (");
        in_list(&mut b, chunk);
        b.push(")");
        removed += sql::exec(c, &b.sql)?;
    }
    Ok(removed > 0)
}

#[derive(QueryableByName)]
struct MemberRow {
    #[diesel(sql_type = Text)]
    owner: String,
    #[diesel(sql_type = Text)]
    other: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    display: Option<String>,
}

fn current_members(c: &mut DbConn, group: &str) -> ScimResult<Vec<MemberRow>> {
    let mut b = Builder::new(c.dialect());
    b.push(
        "SELECT group_id AS owner, member_id AS other, member_type AS kind, NULL AS display \
            FROM members WHERE group_id = ",
    )
    .text(group);
    Ok(sql::load(c, &b.sql)?)
}

/// Applies membership changes in order; returns whether anything changed.
pub(super) fn apply_members(
    c: &mut DbConn,
    tenant: &TenantId,
    group: &str,
    ops: &[MemberOp],
) -> ScimResult<bool> {
    let mut changed = false;
    for op in ops {
        changed |= match op {
            MemberOp::Add(ids) => add_members(c, tenant, group, ids)?,
            MemberOp::Remove(ids) => remove_members(c, group, Some(ids))?,
            MemberOp::RemoveAll => remove_members(c, group, None)?,
            MemberOp::Replace(ids) => {
                // A diff, so replacing 1,000 members with the same 1,000 writes nothing; by
                // sets, so it stays linear in the group's size under the write lock.
                let have: Vec<String> = current_members(c, group)?
                    .into_iter()
                    .map(|m| m.other)
                    .collect();
                let (have_set, want): (HashSet<&String>, HashSet<&String>) =
                    (have.iter().collect(), ids.iter().collect());
                let gone: Vec<String> =
                    have.iter().filter(|h| !want.contains(h)).cloned().collect();
                let new: Vec<String> = ids
                    .iter()
                    .filter(|i| !have_set.contains(i))
                    .cloned()
                    .collect();
                let a = remove_members(c, group, Some(&gone))?;
                add_members(c, tenant, group, &new)? || a
            }
            MemberOp::RemoveWhere(f) => {
                let hits: Vec<String> = current_members(c, group)?
                    .into_iter()
                    .filter(|m| {
                        let el = serde_json::json!({"value": m.other, "type": m.kind});
                        crate::scim::filter::matches(f, &el, &|p| {
                            p.name.eq_ignore_ascii_case("value")
                        })
                    })
                    .map(|m| m.other)
                    .collect();
                remove_members(c, group, Some(&hits))?
            }
        };
    }
    Ok(changed)
}

/// A Group's members or a User's groups, for a page of resources, in one query.
///
/// # Errors
/// Database errors.
pub fn related(
    c: &mut DbConn,
    kind: Kind,
    ids: &[String],
) -> ScimResult<HashMap<String, Vec<Related>>> {
    let mut out: HashMap<String, Vec<Related>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let mut b = Builder::new(c.dialect());
        match kind {
            // members[].display is optional (RFC 7643 §4.2) and left out: clients that
            // compare members with what they sent expect none, and it saves two joins.
            Kind::Group => b.push(
                "SELECT m.group_id AS owner, m.member_id AS other, m.member_type AS kind, \
                 NULL AS display FROM members m WHERE m.group_id IN (",
            ),
            Kind::User => b.push(
                "SELECT m.member_id AS owner, m.group_id AS other, 'Group' AS kind, \
                 g.display_name AS display FROM members m JOIN groups g ON g.id = m.group_id \
                 WHERE m.member_id IN (",
            ),
        };
        in_list(&mut b, chunk);
        b.push(") ORDER BY 1, 2");
        for row in sql::load::<MemberRow>(c, &b.sql)? {
            out.entry(row.owner).or_default().push(Related {
                id: row.other,
                kind: if row.kind == "Group" {
                    Kind::Group
                } else {
                    Kind::User
                },
                display: row.display,
            });
        }
    }
    Ok(out)
}
