//! Test data: Okta-like user bodies, and seeding many users straight through the store (one
//! `db.run` per batch of a few thousand, each user its own transaction as over HTTP), which is
//! far faster than POSTing them.

use anyhow::anyhow;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use muster::db::{DbConn, DbError, Dialect};
use muster::scim::error::ScimError;
use muster::scim::resource::normalize;
use muster::scim::schema::Kind;
use muster::scim::store;
use muster::state::AppState;
use muster::tenants::{self, Mode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Users created per `db.run` call while seeding.
const BATCH: usize = 2_000;
/// Seeding prints its progress every this many users.
const PROGRESS: usize = 20_000;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const GIVEN: [&str; 16] = [
    "Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jon", "Kai", "Lena",
    "Mateo", "Noor", "Omar", "Priya",
];
const FAMILY: [&str; 16] = [
    "Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel",
];
const DEPARTMENTS: [&str; 6] = [
    "Engineering",
    "Sales",
    "Finance",
    "Support",
    "Marketing",
    "Legal",
];

/// What the benchmark needs to know about a seeded user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub user_name: String,
    pub external_id: String,
    pub email: String,
}

/// A tenant with its SCIM token.
#[derive(Debug, Clone)]
pub struct TenantInfo {
    pub slug: String,
    pub id: String,
    pub token: String,
}

/// The body an IdP such as Okta POSTs for user number `n` of the tenant `domain`.
pub fn user_body(domain: &str, n: usize) -> Value {
    let given = GIVEN[n % GIVEN.len()];
    let family = FAMILY[(n / GIVEN.len()) % FAMILY.len()];
    let email = format!(
        "{}.{}.{n}@{domain}",
        given.to_lowercase(),
        family.to_lowercase()
    );
    let okta_id = uuid::Uuid::new_v4().simple().to_string();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": email,
        "externalId": format!("00u{}", okta_id.get(..17).unwrap_or("0")),
        "name": {"givenName": given, "familyName": family, "formatted": format!("{given} {family}")},
        "displayName": format!("{given} {family}"),
        "title": "Analyst",
        "locale": "en-US",
        "active": true,
        "emails": [{"value": email, "type": "work", "primary": true}],
        "phoneNumbers": [{"value": format!("+1 555 01{:05}", n % 100_000), "type": "work"}],
        ENTERPRISE: {
            "employeeNumber": n.to_string(),
            "department": DEPARTMENTS[n % DEPARTMENTS.len()],
            "costCenter": format!("CC-{}", n % 97),
            "organization": "Example Corp",
        },
    })
}

/// Creates a tenant in SCIM mode and a token for it.
pub async fn tenant(state: &AppState, slug: &str) -> anyhow::Result<TenantInfo> {
    let s = slug.to_owned();
    let (id, token) = state
        .db
        .run(move |c| {
            let t = tenants::create(c, &s.as_str().into(), None, Mode::Scim)?;
            let token = muster::auth::scim_tokens::create(c, &t.id, "bench")?;
            Ok::<_, muster::error::Error>((t.id.into_string(), token))
        })
        .await?;
    Ok(TenantInfo {
        slug: slug.to_owned(),
        id,
        token,
    })
}

/// Creates users `from..to` of the tenant in one trip to the blocking pool. On PostgreSQL the
/// batch is one transaction (each `store::create` nests as a savepoint): a commit per user
/// waits for a WAL flush each. SQLite cannot nest (`store::create` begins `IMMEDIATE`), so
/// there every user is its own transaction, as over HTTP.
async fn batch(
    state: &AppState,
    tenant: &TenantInfo,
    from: usize,
    to: usize,
) -> anyhow::Result<Vec<User>> {
    let (tenant_id, domain) = (tenant.id.clone(), format!("{}.example.com", tenant.slug));
    state
        .db
        .run_write(move |c| match c.dialect() {
            Dialect::Postgres => c.transaction(|c| create_users(c, &tenant_id, &domain, from, to)),
            Dialect::Sqlite => create_users(c, &tenant_id, &domain, from, to),
        })
        .await
        .map_err(|e| anyhow!("seeding failed: {e}"))
}

fn create_users(
    c: &mut DbConn,
    tenant_id: &str,
    domain: &str,
    from: usize,
    to: usize,
) -> Result<Vec<User>, ScimError> {
    let now = muster::db::time::now();
    let tenant = muster::ids::TenantId::from(tenant_id);
    let mut out = Vec::with_capacity(to.saturating_sub(from));
    for n in from..to {
        let body = user_body(domain, n);
        let incoming = normalize(Kind::User, &body)?;
        let s = store::create(c, &tenant, Kind::User, incoming, None, &now)?;
        out.push(User {
            id: s.id,
            user_name: text(&body, "userName"),
            external_id: text(&body, "externalId"),
            email: text(&body, "userName"),
        });
    }
    Ok(out)
}

fn text(body: &Value, key: &str) -> String {
    body[key].as_str().unwrap_or_default().to_owned()
}

/// Seeds `count` users, `parallel` batches at a time; returns them and the time it took.
pub async fn users(
    state: &AppState,
    tenant: &TenantInfo,
    count: usize,
    parallel: usize,
) -> anyhow::Result<(Vec<User>, Duration)> {
    let start = Instant::now();
    let ranges: Vec<(usize, usize)> = (0..count)
        .step_by(BATCH)
        .map(|from| (from, (from + BATCH).min(count)))
        .collect();
    let batches: Vec<Vec<User>> = stream::iter(ranges)
        .map(|(from, to)| async move {
            let users = batch(state, tenant, from, to).await?;
            if to % PROGRESS == 0 {
                println!("  {to} users, {:.0} s", start.elapsed().as_secs_f64());
            }
            Ok::<_, anyhow::Error>(users)
        })
        .buffered(parallel.max(1))
        .try_collect()
        .await?;
    Ok((batches.into_iter().flatten().collect(), start.elapsed()))
}

/// After seeding, PostgreSQL gets `ANALYZE`: autovacuum does it within a minute of a bulk load
/// anyway; doing it explicitly keeps the run from depending on its timing. SQLite is left as
/// muster leaves it in production: without planner statistics.
pub async fn analyze(state: &AppState) -> anyhow::Result<()> {
    state
        .db
        .run(|c| match c {
            DbConn::Postgres(pg) => pg.batch_execute("ANALYZE").map_err(DbError::from),
            DbConn::Sqlite(_) => Ok(()),
        })
        .await
        .map_err(|e: DbError| anyhow!("ANALYZE failed: {e}"))
}
