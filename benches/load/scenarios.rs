//! What is measured on one backend: seeding, filter scaling, big PATCH, then the throughput of
//! the five everyday operations, and the query plans of the filter lookups.

use crate::client::{http_client, Scim};
use crate::explain::{self, Plan};
use crate::measure::{self, Limits, Stats};
use crate::patch_cost::{self, PatchCost};
use crate::seed::{self, TenantInfo, User};
use crate::server::{Backend, Server};
use crate::Args;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Upper bound on each sequential phase (filter scaling, big PATCH), whatever the counts.
const PHASE_LIMIT: Duration = Duration::from_secs(120);
/// Unrecorded lookups before each filter-scaling measurement.
const WARM_UP: usize = 50;

/// An equality lookup an IdP sends before creating or updating a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    UserName,
    ExternalId,
    Email,
}

impl Lookup {
    pub const ALL: [Lookup; 3] = [Lookup::UserName, Lookup::ExternalId, Lookup::Email];

    /// The attribute as written in the filter.
    pub fn label(self) -> &'static str {
        match self {
            Lookup::UserName => "userName eq",
            Lookup::ExternalId => "externalId eq",
            Lookup::Email => "emails.value eq",
        }
    }

    /// The filter that finds `u`.
    pub fn filter(self, u: &User) -> String {
        match self {
            Lookup::UserName => format!("userName eq \"{}\"", u.user_name),
            Lookup::ExternalId => format!("externalId eq \"{}\"", u.external_id),
            Lookup::Email => format!("emails.value eq \"{}\"", u.email),
        }
    }
}

/// One lookup's p50 in the small and the large tenant.
pub struct FilterScaling {
    pub lookup: Lookup,
    pub small: Stats,
    pub large: Stats,
}

impl FilterScaling {
    /// large p50 / small p50.
    pub fn ratio(&self) -> f64 {
        ratio(self.large.p50(), self.small.p50())
    }
}

/// One PATCH adding many members against one adding a single member.
pub struct BigPatch {
    pub one: Stats,
    pub many: Stats,
}

impl BigPatch {
    /// many p50 / one p50.
    pub fn ratio(&self) -> f64 {
        ratio(self.many.p50(), self.one.p50())
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::INFINITY
    }
}

/// Everything measured on one backend.
pub struct BackendResult {
    pub backend: Backend,
    pub db_version: String,
    pub pool_size: u32,
    pub workers: usize,
    /// The machine's load average when this backend's run began and ended.
    pub load_before: String,
    pub load_after: String,
    pub seed_large: Duration,
    pub seed_small: Duration,
    pub filters: Vec<FilterScaling>,
    pub big_patch: BigPatch,
    /// Database-side cost of the member PATCH, per tenant (small, large).
    pub patch_costs: Vec<PatchCost>,
    pub ops: Vec<(&'static str, Stats)>,
    /// The same operations with the activity log on and off (two servers on one database).
    pub activity: Vec<(&'static str, Stats, Stats)>,
    pub plans: Vec<Plan>,
}

/// The seeded tenants and HTTP clients for them.
struct Fixture {
    large: Scim,
    small: Scim,
    large_users: Arc<Vec<User>>,
    small_users: Arc<Vec<User>>,
    large_tenant: TenantInfo,
    small_tenant: TenantInfo,
}

/// Starts muster on `backend`, measures everything, and stops it again (also on failure).
pub async fn run_backend(backend: Backend, args: &Args) -> anyhow::Result<BackendResult> {
    let server = Server::start(backend, args.workers, args.pool).await?;
    let result = measure_all(&server, args).await;
    let stopped = server.stop().await;
    let result = result?;
    stopped?;
    Ok(result)
}

async fn measure_all(server: &Server, args: &Args) -> anyhow::Result<BackendResult> {
    let load_before = crate::report::load_average();
    let (fx, seed_large, seed_small) = fixture(server, args).await?;
    println!("filter scaling ...");
    let mut filters = Vec::new();
    for lookup in Lookup::ALL {
        filters.push(filter_scaling(&fx, lookup, args.lookups).await?);
    }
    println!("big PATCH ...");
    let big_patch = big_patch(&fx, args.patch_runs, args.patch_members).await?;
    println!("member PATCH in the database ...");
    let patch_costs = patch_cost::costs(
        &server.state,
        &[&fx.small_tenant, &fx.large_tenant],
        &[fx.small_users.as_slice(), fx.large_users.as_slice()],
        args.patch_members,
        args.patch_runs,
    )
    .await?;
    let ops = throughput(&fx, args).await?;
    println!("activity log on and off ...");
    let activity = activity_overhead(server, &fx, args).await?;
    println!("query plans ...");
    let plans = explain::plans(
        &server.state,
        &[&fx.small_tenant, &fx.large_tenant],
        &[fx.small_users.as_slice(), fx.large_users.as_slice()],
    )
    .await?;
    Ok(BackendResult {
        backend: server.backend,
        db_version: explain::db_version(&server.state).await?,
        pool_size: server.pool_size,
        workers: server.workers,
        load_before,
        load_after: crate::report::load_average(),
        seed_large,
        seed_small,
        filters,
        big_patch,
        patch_costs,
        ops,
        activity,
        plans,
    })
}

/// Creates and seeds the two tenants.
async fn fixture(server: &Server, args: &Args) -> anyhow::Result<(Fixture, Duration, Duration)> {
    // SQLite has one writer: parallel batches would only queue on the lock.
    let parallel = match server.backend {
        Backend::Sqlite => 1,
        Backend::Postgres => 4,
    };
    let large_tenant = seed::tenant(&server.state, "bench-large").await?;
    let small_tenant = seed::tenant(&server.state, "bench-small").await?;
    println!("seeding {} users ...", args.large);
    let (large_users, seed_large) =
        seed::users(&server.state, &large_tenant, args.large, parallel).await?;
    println!("  {:.1} s", seed_large.as_secs_f64());
    let (small_users, seed_small) =
        seed::users(&server.state, &small_tenant, args.small, parallel).await?;
    seed::analyze(&server.state).await?;
    let client = http_client(args.concurrency)?;
    let scim = |t: &TenantInfo| Scim::new(client.clone(), &server.url, &t.slug, &t.token);
    let fx = Fixture {
        large: scim(&large_tenant),
        small: scim(&small_tenant),
        large_users: Arc::new(large_users),
        small_users: Arc::new(small_users),
        large_tenant,
        small_tenant,
    };
    Ok((fx, seed_large, seed_small))
}

/// A random user of the list (which is never empty).
fn pick(users: &[User]) -> &User {
    let n = rand::random::<usize>() % users.len().max(1);
    &users[n]
}

/// `count` distinct random users' ids.
pub fn sample_ids(users: &[User], count: usize) -> Vec<String> {
    let mut rng = rand::thread_rng();
    rand::seq::index::sample(&mut rng, users.len(), count.min(users.len()))
        .into_iter()
        .map(|i| users[i].id.clone())
        .collect()
}

/// One lookup of a random existing user of the tenant, checked to find exactly one.
async fn lookup_once(scim: &Scim, users: &[User], lookup: Lookup) -> anyhow::Result<()> {
    scim.filter_users(&lookup.filter(pick(users)), 1).await
}

/// `n` sequential lookups in each tenant, alternating small and large so that whatever else the
/// machine is doing weighs on both alike; `WARM_UP` unrecorded pairs first.
async fn filter_scaling(fx: &Fixture, lookup: Lookup, n: usize) -> anyhow::Result<FilterScaling> {
    let (mut small, mut large) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let deadline = std::time::Instant::now() + PHASE_LIMIT;
    for i in 0..WARM_UP + n {
        if std::time::Instant::now() >= deadline {
            break;
        }
        let s = measure::timed(lookup_once(&fx.small, &fx.small_users, lookup)).await?;
        let l = measure::timed(lookup_once(&fx.large, &fx.large_users, lookup)).await?;
        if i >= WARM_UP {
            small.push(s);
            large.push(l);
        }
    }
    let s = FilterScaling {
        lookup,
        small: measure::from_latencies(small),
        large: measure::from_latencies(large),
    };
    println!(
        "  {:<16} small p50 {:.2} ms, large p50 {:.2} ms, ratio {:.2}",
        lookup.label(),
        s.small.p50(),
        s.large.p50(),
        s.ratio()
    );
    Ok(s)
}

/// `runs` times: a fresh group gets `members` members in one PATCH, another fresh group gets
/// one. The first run of each is a warm-up and not recorded.
async fn big_patch(fx: &Fixture, runs: usize, members: usize) -> anyhow::Result<BigPatch> {
    let (mut one, mut many) = (Vec::new(), Vec::new());
    let deadline = std::time::Instant::now() + PHASE_LIMIT;
    for run in 0..=runs {
        if std::time::Instant::now() >= deadline {
            break;
        }
        let ids = sample_ids(&fx.large_users, members);
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let g = fx.large.group(&format!("big-{run}")).await?;
        let t_many = measure::timed(fx.large.add_members(&g, &refs)).await?;
        let g = fx.large.group(&format!("one-{run}")).await?;
        let single = pick(&fx.large_users).id.clone();
        let t_one = measure::timed(fx.large.add_members(&g, &[single.as_str()])).await?;
        if run > 0 {
            many.push(t_many);
            one.push(t_one);
        }
    }
    let b = BigPatch {
        one: measure::from_latencies(one),
        many: measure::from_latencies(many),
    };
    println!(
        "  1 member p50 {:.2} ms, {members} members p50 {:.2} ms, ratio {:.1}",
        b.one.p50(),
        b.many.p50(),
        b.ratio()
    );
    Ok(b)
}

/// The five everyday operations, each with `--concurrency` clients for `--seconds`.
async fn throughput(fx: &Fixture, args: &Args) -> anyhow::Result<Vec<(&'static str, Stats)>> {
    let limits = Limits {
        clients: args.concurrency,
        duration: Duration::from_secs(args.seconds),
        per_client: 1_000_000,
    };
    let mut out = Vec::new();
    for (name, op) in [
        ("create (POST /Users)", Op::Create),
        ("userName filter lookup", Op::Filter),
        ("GET by id", Op::Get),
        ("PATCH user (displayName, active)", Op::Patch),
        ("group member add (1 per PATCH)", Op::MemberAdd),
    ] {
        println!("{name} ...");
        let stats = op
            .run(fx.large.clone(), Arc::clone(&fx.large_users), limits)
            .await?;
        println!(
            "  {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            stats.rate(),
            stats.p50(),
            stats.p99(),
            stats.errors
        );
        out.push((name, stats));
    }
    Ok(out)
}

/// What recording the activity log costs: the everyday SCIM operations on this server (log
/// on) and on a second server over the same database with the log off, alternating in
/// `ROUNDS` rounds so that drift weighs on both alike. The off server starts after the on
/// server's earlier phases, so both measure the same data.
async fn activity_overhead(
    server: &Server,
    fx: &Fixture,
    args: &Args,
) -> anyhow::Result<Vec<(&'static str, Stats, Stats)>> {
    const ROUNDS: usize = 2;
    let off = server.beside(false).await?;
    let client = http_client(args.concurrency)?;
    let off_scim = Scim::new(
        client,
        &off.url,
        &fx.large_tenant.slug,
        &fx.large_tenant.token,
    );
    let limits = Limits {
        clients: args.concurrency,
        duration: Duration::from_secs((args.seconds / ROUNDS as u64).max(1)),
        per_client: 1_000_000,
    };
    let mut out = Vec::new();
    let measured: anyhow::Result<()> = async {
        for (name, op) in [
            ("create (POST /Users)", Op::Create),
            ("userName filter lookup", Op::Filter),
            ("GET by id", Op::Get),
            ("PATCH user (displayName, active)", Op::Patch),
        ] {
            let (mut on_runs, mut off_runs) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                let users = Arc::clone(&fx.large_users);
                on_runs.push(op.run(fx.large.clone(), Arc::clone(&users), limits).await?);
                off_runs.push(op.run(off_scim.clone(), users, limits).await?);
            }
            let (on, offs) = (measure::merge(on_runs), measure::merge(off_runs));
            println!(
                "  {name}: log on {:.0} req/s, off {:.0} req/s",
                on.rate(),
                offs.rate()
            );
            out.push((name, on, offs));
        }
        Ok(())
    }
    .await;
    off.stop().await?;
    measured?;
    Ok(out)
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Create,
    Filter,
    Get,
    Patch,
    MemberAdd,
}

impl Op {
    async fn run(self, scim: Scim, users: Arc<Vec<User>>, limits: Limits) -> anyhow::Result<Stats> {
        // Numbers new users and picks the next member, so every add is a new one.
        let counter = Arc::new(AtomicUsize::new(0));
        // Each run creates users of its own, so a second run never meets the first's names.
        let domain = format!(
            "load-{}.example.com",
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..8)
                .unwrap_or("x")
        );
        let group = match self {
            Op::MemberAdd => scim.group("grows").await?,
            _ => String::new(),
        };
        measure::run(limits, move |_, i| {
            let (scim, users, counter, group, domain) = (
                scim.clone(),
                Arc::clone(&users),
                Arc::clone(&counter),
                group.clone(),
                domain.clone(),
            );
            async move {
                match self {
                    Op::Create => {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        scim.create_user(&seed::user_body(&domain, n)).await
                    }
                    Op::Filter => {
                        scim.filter_users(&Lookup::UserName.filter(pick(&users)), 1)
                            .await
                    }
                    Op::Get => scim.get_user(&pick(&users).id).await,
                    Op::Patch => {
                        let ops = json!([
                            {"op": "replace", "path": "displayName", "value": format!("Renamed {i}")},
                            {"op": "replace", "path": "active", "value": i % 2 == 0},
                        ]);
                        scim.patch_user(&pick(&users).id, ops).await
                    }
                    Op::MemberAdd => {
                        let n = counter.fetch_add(1, Ordering::Relaxed) % users.len().max(1);
                        scim.add_members(&group, &[users[n].id.as_str()]).await
                    }
                }
            }
        })
        .await
    }
}
