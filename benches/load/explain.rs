//! Why a lookup costs what it costs: the database-side time of the two statements a filtered
//! list runs (the COUNT and the page built by `store::page_sql`), timed directly on a pooled
//! connection in each tenant, and the planner's plan for both in the large tenant
//! (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN ANALYZE` on PostgreSQL).

use crate::scenarios::Lookup;
use crate::seed::{TenantInfo, User};
use anyhow::{anyhow, Context};
use diesel::sql_types::{BigInt, Integer, Text};
use diesel::QueryableByName;
use muster::db::sql::Sql;
use muster::db::{self, DbError, Dialect};
use muster::scim::filter::parse_filter;
use muster::scim::schema::Kind;
use muster::scim::service::DEFAULT_COUNT;
use muster::scim::store::{page_sql, ListQuery};
use muster::state::AppState;
use std::time::{Duration, Instant};

/// Executions of each statement timed per tenant.
const TIMED_RUNS: usize = 30;

/// One lookup's statements: the database time per tenant and the large tenant's plans.
pub struct Plan {
    pub lookup: Lookup,
    /// Per tenant (small, large): p50 milliseconds of the COUNT and of the page query.
    pub db_ms: Vec<(f64, f64)>,
    /// The page statement as the server sends it (placeholders unbound).
    pub page_text: String,
    pub count_plan: String,
    pub page_plan: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    #[allow(dead_code)]
    n: i64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    id: String,
}

#[derive(QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Integer)]
    parent: i32,
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    v: String,
}

/// The page query a `GET /Users?filter=...` runs, as the server builds it.
fn page(dialect: Dialect, tenant: &str, filter: &str) -> anyhow::Result<Sql> {
    let q = ListQuery {
        filter: Some(parse_filter(filter).map_err(|e| anyhow!("{e}"))?),
        sort_by: None,
        descending: false,
        start: 1,
        count: DEFAULT_COUNT,
    };
    page_sql(dialect, &tenant.into(), Kind::User, &q).map_err(|e| anyhow!("{e}"))
}

/// The COUNT the server runs before the page: the same FROM and WHERE, without ORDER BY,
/// LIMIT and OFFSET (the last two placeholders).
fn count(page: &Sql) -> anyhow::Result<Sql> {
    let from = page
        .text
        .find(" FROM ")
        .context("page query without FROM")?;
    let order = page
        .text
        .rfind(" ORDER BY ")
        .context("page query without ORDER BY")?;
    let body = page.text.get(from..order).context("page query shape")?;
    let keep = page.binds.len().saturating_sub(2);
    Ok(Sql {
        text: format!("SELECT COUNT(*) AS n{body}"),
        binds: page.binds.get(..keep).unwrap_or_default().to_vec(),
    })
}

fn prefixed(prefix: &str, sql: &Sql) -> Sql {
    Sql {
        text: format!("{prefix} {}", sql.text),
        binds: sql.binds.clone(),
    }
}

/// Runs `sql` `TIMED_RUNS` times and returns the median in milliseconds.
async fn time_sql<T>(state: &AppState, sql: Sql) -> anyhow::Result<f64>
where
    T: QueryableByName<db::Backend> + 'static,
{
    let mut times: Vec<Duration> = state
        .db
        .run(move |c| {
            (0..TIMED_RUNS)
                .map(|_| {
                    let t = Instant::now();
                    db::sql::load::<T>(c, &sql)?;
                    Ok(t.elapsed())
                })
                .collect::<Result<Vec<_>, DbError>>()
        })
        .await?;
    times.sort_unstable();
    Ok(times
        .get(times.len() / 2)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0))
}

/// The plan of `sql` as indented text.
async fn plan(state: &AppState, sql: &Sql) -> anyhow::Result<String> {
    match state.db.dialect() {
        Dialect::Sqlite => {
            let q = prefixed("EXPLAIN QUERY PLAN", sql);
            let rows = state
                .db
                .run(move |c| db::sql::load::<SqlitePlanRow>(c, &q).map_err(DbError::from))
                .await?;
            Ok(sqlite_tree(&rows))
        }
        Dialect::Postgres => {
            let q = prefixed("EXPLAIN (ANALYZE, BUFFERS)", sql);
            let rows = state
                .db
                .run(move |c| db::sql::load::<PgPlanRow>(c, &q).map_err(DbError::from))
                .await?;
            Ok(rows
                .into_iter()
                .map(|r| r.line)
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }
}

/// SQLite's plan rows indented by their depth in the tree.
fn sqlite_tree(rows: &[SqlitePlanRow]) -> String {
    let depth = |mut parent: i32| {
        let mut d = 0;
        while let Some(p) = rows.iter().find(|r| r.id == parent) {
            d += 1;
            parent = p.parent;
            if d > rows.len() {
                break;
            }
        }
        d
    };
    rows.iter()
        .map(|r| format!("{}{}", "  ".repeat(depth(r.parent)), r.detail))
        .collect::<Vec<_>>()
        .join("\n")
}

/// For each lookup, the database-side p50 of its COUNT and page query in every tenant, and the
/// plans in the last tenant (the large one). `users[i]` are the users of `tenants[i]`.
pub async fn plans(
    state: &AppState,
    tenants: &[&TenantInfo],
    users: &[&[User]],
) -> anyhow::Result<Vec<Plan>> {
    let dialect = state.db.dialect();
    let mut out = Vec::new();
    for lookup in Lookup::ALL {
        let mut db_ms = Vec::new();
        let mut last = None;
        for (tenant, users) in tenants.iter().zip(users) {
            let user = users
                .get(users.len() / 2)
                .context("a tenant without users")?;
            let page = page(dialect, &tenant.id, &lookup.filter(user))?;
            let count = count(&page)?;
            let count_ms = time_sql::<Count>(state, count.clone()).await?;
            let page_ms = time_sql::<Id>(state, page.clone()).await?;
            db_ms.push((count_ms, page_ms));
            last = Some((count, page));
        }
        let (count, page) = last.context("no tenants")?;
        out.push(Plan {
            lookup,
            db_ms,
            page_text: page.text.clone(),
            count_plan: plan(state, &count).await?,
            page_plan: plan(state, &page).await?,
        });
    }
    Ok(out)
}

/// The database server's version.
pub async fn db_version(state: &AppState) -> anyhow::Result<String> {
    let (name, query) = match state.db.dialect() {
        Dialect::Sqlite => ("SQLite", "SELECT sqlite_version() AS v"),
        Dialect::Postgres => (
            "PostgreSQL",
            "SELECT current_setting('server_version') AS v",
        ),
    };
    let sql = Sql {
        text: query.to_owned(),
        binds: Vec::new(),
    };
    let rows = state
        .db
        .run(move |c| db::sql::load::<Version>(c, &sql).map_err(DbError::from))
        .await?;
    Ok(format!(
        "{name} {}",
        rows.first().map_or("?", |r| r.v.as_str())
    ))
}
