//! Lists: a filtered, sorted page of a tenant's resources and its count, as indexed SQL.

use super::{table, Count, Row, Stored, COLUMNS};
use crate::db::sql::{self, Bind, Builder, Sql};
use crate::db::{DbConn, Dialect};
use crate::ids::TenantId;
use crate::scim::error::ScimResult;
use crate::scim::filter::Filter;
use crate::scim::query::FilterCompiler;
use crate::scim::schema::Kind;
use crate::scim::sort::sort_expr;

/// A list request, already validated.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort_by: Option<String>,
    pub descending: bool,
    /// 1-based.
    pub start: i64,
    pub count: i64,
}

fn list_from(b: &mut Builder, tenant: &TenantId, kind: Kind, q: &ListQuery) -> ScimResult<()> {
    b.push(&format!(" FROM {} r WHERE r.tenant_id = ", table(kind)))
        .text(tenant);
    if let Some(f) = &q.filter {
        b.push(" AND ");
        FilterCompiler { b, tenant, kind }.compile(f)?;
    }
    Ok(())
}

/// The SQL of one page of a list (exposed so tests can ask the planner how it runs).
///
/// # Errors
/// `invalidFilter`, `invalidValue` for an unknown `sortBy`.
pub fn page_sql(dialect: Dialect, tenant: &TenantId, kind: Kind, q: &ListQuery) -> ScimResult<Sql> {
    let mut b = Builder::new(dialect);
    b.push(&format!("SELECT {COLUMNS}"));
    list_from(&mut b, tenant, kind, q)?;
    b.push(" ORDER BY ");
    if let Some(sort_by) = &q.sort_by {
        let expr = sort_expr(kind, sort_by)?;
        // NULLs last in both directions, the same on both backends.
        let dir = if q.descending { "DESC" } else { "ASC" };
        b.push(&format!("({expr}) IS NULL, {expr} {dir}, "));
    }
    b.push("r.created_at, r.id LIMIT ");
    b.bind(Bind::Int(q.count))
        .push(" OFFSET ")
        .bind(Bind::Int(q.start - 1));
    Ok(b.sql)
}

/// Runs a filtered, sorted, paged list in the database: one COUNT and one page query.
///
/// # Errors
/// `invalidFilter` for filters that do not compile; database errors.
pub fn list(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    q: &ListQuery,
) -> ScimResult<(i64, Vec<Stored>)> {
    let mut b = Builder::new(c.dialect());
    b.push("SELECT COUNT(*) AS n");
    list_from(&mut b, tenant, kind, q)?;
    let total = sql::load::<Count>(c, &b.sql)?.first().map_or(0, |r| r.n);
    if q.count == 0 || q.start > total {
        return Ok((total, Vec::new()));
    }
    let rows: Vec<Row> = sql::load(c, &page_sql(c.dialect(), tenant, kind, q)?)?;
    let items = rows
        .into_iter()
        .map(Row::into_stored)
        .collect::<ScimResult<Vec<_>>>()?;
    Ok((total, items))
}
