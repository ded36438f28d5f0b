//! Why a big PATCH costs what it costs: `store::patch` adding members to a fresh group, timed on
//! a pooled connection without HTTP or JSON, in the small and in the large tenant. A cost that
//! grows with the tenant rather than with the member count points at the database.

use crate::seed::{TenantInfo, User};
use anyhow::anyhow;
use muster::scim::error::ScimError;
use muster::scim::patch::parse_ops;
use muster::scim::resource::normalize;
use muster::scim::schema::Kind;
use muster::scim::store::{self, Key, Precondition};
use muster::state::AppState;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Database-side median (ms) of adding one member and of adding many, in one tenant, and the
/// fastest of the many: on SQLite a commit can wait for a WAL checkpoint (the server's
/// background one, or its own past the automatic threshold), so the median can land on either
/// side of that step.
pub struct PatchCost {
    pub tenant_users: usize,
    pub one_ms: f64,
    pub many_ms: f64,
    pub many_min_ms: f64,
}

/// The PatchOp body adding these members.
fn add_body(ids: &[String]) -> Value {
    let value: Vec<Value> = ids.iter().map(|m| json!({"value": m})).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": value}],
    })
}

/// Creates an empty group and times one `store::patch` adding `ids` to it.
async fn timed_add(state: &AppState, tenant: &str, ids: Vec<String>) -> anyhow::Result<Duration> {
    let tenant = tenant.to_owned();
    let ops = parse_ops(&add_body(&ids)).map_err(|e| anyhow!("{e}"))?;
    state
        .db
        .run_write(move |c| {
            let tenant = muster::ids::TenantId::from(tenant);
            let now = muster::db::time::now();
            let group = normalize(Kind::Group, &json!({"displayName": "cost"}))?;
            let g = store::create(c, &tenant, Kind::Group, group, None, &now)?;
            let key = Key {
                tenant: &tenant,
                kind: Kind::Group,
                id: &g.id,
            };
            let t = Instant::now();
            store::patch(c, key, &ops, None, &Precondition::default(), &now)?;
            Ok::<_, ScimError>(t.elapsed())
        })
        .await
        .map_err(|e| anyhow!("store::patch failed: {e}"))
}

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort_unstable();
    v.get(v.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn min_ms(v: &[Duration]) -> f64 {
    v.iter().min().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// `runs` rounds; in each, every tenant gets a fresh group with `members` members and one with a
/// single member, alternating tenants so that background load weighs on all of them alike.
/// `users[i]` are the users of `tenants[i]`.
pub async fn costs(
    state: &AppState,
    tenants: &[&TenantInfo],
    users: &[&[User]],
    members: usize,
    runs: usize,
) -> anyhow::Result<Vec<PatchCost>> {
    let mut times: Vec<(Vec<Duration>, Vec<Duration>)> = vec![Default::default(); tenants.len()];
    for _ in 0..runs.max(1) {
        for ((tenant, users), (one, many)) in tenants.iter().zip(users).zip(times.iter_mut()) {
            let ids = crate::scenarios::sample_ids(users, members);
            many.push(timed_add(state, &tenant.id, ids).await?);
            let single = crate::scenarios::sample_ids(users, 1);
            one.push(timed_add(state, &tenant.id, single).await?);
        }
    }
    Ok(times
        .into_iter()
        .zip(users)
        .map(|((one, many), users)| PatchCost {
            tenant_users: users.len(),
            one_ms: median_ms(one),
            many_min_ms: min_ms(&many),
            many_ms: median_ms(many),
        })
        .collect())
}
