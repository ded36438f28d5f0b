//! The markdown report: machine, parameters, one throughput table per backend, the filter
//! scaling and big-PATCH ratios against their bounds, database-side timings and query plans.

use crate::measure::Stats;
use crate::scenarios::BackendResult;
use crate::Args;
use std::fmt::Write;

/// Acceptance bound on large/small filter p50.
pub const FILTER_BOUND: f64 = 1.5;
/// Acceptance bound on big/single PATCH p50.
pub const PATCH_BOUND: f64 = 20.0;

/// Appends one formatted line (writing to a String cannot fail).
macro_rules! line {
    ($out:expr) => { $out.push('\n') };
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

/// The whole report.
pub fn markdown(args: &Args, results: &[BackendResult]) -> String {
    let mut out = String::new();
    header(&mut out);
    machine(&mut out);
    parameters(&mut out, args, results);
    for r in results {
        throughput(&mut out, r);
    }
    activity(&mut out, args, results);
    filter_scaling(&mut out, args, results);
    big_patch(&mut out, args, results);
    patch_costs(&mut out, args, results);
    db_times(&mut out, args, results);
    plans(&mut out, results);
    reproduce(&mut out, args);
    out
}

fn header(out: &mut String) {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let date = time::OffsetDateTime::now_utc()
        .format(fmt)
        .unwrap_or_else(|_| "unknown".into());
    line!(out, "# muster load benchmark");
    line!(out);
    line!(out, "Date: {date}");
    line!(out);
}

/// The first value of `key` in a `key: value` or `KEY=value` file.
fn field(path: &str, key: &str, sep: char) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(sep)?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

fn machine(out: &mut String) {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = field("/proc/cpuinfo", "model name", ':').unwrap_or_else(|| "unknown".into());
    let mem = field("/proc/meminfo", "MemTotal", ':')
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("unknown".into(), |kb| {
            format!("{:.1} GiB", kb / 1024.0 / 1024.0)
        });
    let os = field("/etc/os-release", "PRETTY_NAME", '=').unwrap_or_else(|| "unknown".into());
    let profile = if cfg!(debug_assertions) {
        "debug (numbers not meaningful)"
    } else {
        "release (`cargo bench` profile)"
    };
    line!(out, "## Machine");
    line!(out);
    line!(out, "- CPU: {model}, {cpus} logical CPUs (nproc)");
    line!(out, "- Memory: {mem}");
    line!(out, "- OS: {os}");
    line!(out, "- Build profile: {profile}");
    line!(
        out,
        "- Client and server share the machine: the load generator (reqwest on tokio) and muster \
         (actix-web) run in the same process over loopback, and PostgreSQL runs on the same host, \
         so all of them compete for the same {cpus} CPUs."
    );
    line!(out);
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn parameters(out: &mut String, args: &Args, results: &[BackendResult]) {
    line!(out, "## Parameters");
    line!(out);
    line!(out, "| parameter | value |");
    line!(out, "|---|---|");
    for r in results {
        line!(
            out,
            "| {} | {}; {} HTTP workers, pool of {} connections; load average {} at start, {} at end |",
            r.backend.name(),
            r.db_version,
            r.workers,
            r.pool_size,
            r.load_before,
            r.load_after
        );
    }
    line!(
        out,
        "| planner statistics | PostgreSQL: `ANALYZE` after seeding (what autovacuum does within a minute); SQLite: none, as muster never runs `ANALYZE` |"
    );
    line!(out, "| large tenant | {} users |", thousands(args.large));
    line!(out, "| small tenant | {} users |", thousands(args.small));
    line!(
        out,
        "| throughput phase | {} concurrent clients, {} s per operation, all on the large tenant |",
        args.concurrency,
        args.seconds
    );
    line!(
        out,
        "| filter scaling | {} sequential lookups of random existing users per tenant and filter, alternating small and large, after 50 unrecorded pairs |",
        args.lookups
    );
    line!(
        out,
        "| big PATCH | {} runs of each size after one unrecorded, a fresh group each run, random distinct users of the large tenant |",
        args.patch_runs
    );
    line!(out);
    line!(
        out,
        "Users are Okta-like (userName = work email, name, displayName, emails, phoneNumbers, \
         externalId, active, enterprise extension) and seeded with `store::create` in batches of \
         2,000 per `db.run`. On SQLite each user is its own transaction, as over HTTP \
         (`store::create` begins `IMMEDIATE`, which cannot nest); on PostgreSQL each batch is one \
         transaction and every create a savepoint in it:"
    );
    line!(out);
    for r in results {
        line!(
            out,
            "- {}: {} users in {:.1} s ({:.0} users/s); {} users in {:.1} s",
            r.backend.name(),
            thousands(args.large),
            r.seed_large.as_secs_f64(),
            args.large as f64 / r.seed_large.as_secs_f64().max(1e-9),
            thousands(args.small),
            r.seed_small.as_secs_f64()
        );
    }
    line!(out);
}

fn throughput(out: &mut String, r: &BackendResult) {
    line!(out, "## Throughput: {}", r.backend.name());
    line!(out);
    line!(
        out,
        "| operation | requests | req/s | p50 ms | p99 ms | errors |"
    );
    line!(out, "|---|---:|---:|---:|---:|---:|");
    for (name, s) in &r.ops {
        line!(
            out,
            "| {name} | {} | {:.0} | {:.2} | {:.2} | {} |",
            thousands(s.count()),
            s.rate(),
            s.p50(),
            s.p99(),
            s.errors
        );
    }
    line!(out);
    for (name, s) in r.ops.iter().filter(|(_, s)| s.errors > 0) {
        line!(out, "First error of {name}: `{}`", first_error(s));
        line!(out);
    }
    if let Some((_, s)) = r
        .ops
        .iter()
        .find(|(n, _)| n.starts_with("group member add"))
    {
        line!(
            out,
            "The member-add group started empty and grew to {} members; every client PATCHes the \
             same group, so these requests serialise on its row lock.",
            thousands(s.count())
        );
        line!(out);
    }
}

fn first_error(s: &Stats) -> String {
    s.first_error
        .as_deref()
        .unwrap_or("")
        .replace(['`', '\n'], " ")
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

fn filter_scaling(out: &mut String, args: &Args, results: &[BackendResult]) {
    line!(
        out,
        "## Filter scaling (acceptance: large/small p50 <= {FILTER_BOUND})"
    );
    line!(out);
    line!(
        out,
        "| backend | filter | p50 ms, {} users | p50 ms, {} users | p99 small / large | ratio | result |",
        thousands(args.small),
        thousands(args.large)
    );
    line!(out, "|---|---|---:|---:|---:|---:|---|");
    for r in results {
        for f in &r.filters {
            line!(
                out,
                "| {} | `{}` | {:.2} | {:.2} | {:.2} / {:.2} | {:.2} | {} |",
                r.backend.name(),
                f.lookup.label(),
                f.small.p50(),
                f.large.p50(),
                f.small.p99(),
                f.large.p99(),
                f.ratio(),
                verdict(f.ratio() <= FILTER_BOUND)
            );
        }
    }
    line!(out);
}

fn big_patch(out: &mut String, args: &Args, results: &[BackendResult]) {
    line!(out, "## Big PATCH (acceptance: p50 ratio <= {PATCH_BOUND})");
    line!(out);
    line!(
        out,
        "| backend | p50 ms, 1 member | p50 ms, {} members | ratio | result |",
        thousands(args.patch_members)
    );
    line!(out, "|---|---:|---:|---:|---|");
    for r in results {
        let b = &r.big_patch;
        line!(
            out,
            "| {} | {:.2} | {:.2} | {:.1} | {} |",
            r.backend.name(),
            b.one.p50(),
            b.many.p50(),
            b.ratio(),
            verdict(b.ratio() <= PATCH_BOUND)
        );
    }
    line!(out);
}

fn patch_costs(out: &mut String, args: &Args, results: &[BackendResult]) {
    line!(out, "## Database time of a member PATCH");
    line!(out);
    line!(
        out,
        "`store::patch` adding members to a fresh group, timed on a pooled connection without \
         HTTP or JSON; median of {} runs, tenants alternating, ms. On SQLite the server copies \
         the WAL into the database in the background once a second, and a commit that crosses \
         the automatic threshold (8,192 pages) does it itself, so runs vary with where they fall; \
         hence the fastest run beside the median.",
        args.patch_runs
    );
    line!(out);
    line!(
        out,
        "| backend | tenant users | 1 member | {m} members | ratio | fastest of {m} |",
        m = thousands(args.patch_members)
    );
    line!(out, "|---|---:|---:|---:|---:|---:|");
    for r in results {
        for c in &r.patch_costs {
            line!(
                out,
                "| {} | {} | {:.2} | {:.2} | {:.1} | {:.2} |",
                r.backend.name(),
                thousands(c.tenant_users),
                c.one_ms,
                c.many_ms,
                c.many_ms / c.one_ms.max(1e-9),
                c.many_min_ms
            );
        }
    }
    line!(out);
}

fn db_times(out: &mut String, args: &Args, results: &[BackendResult]) {
    line!(out, "## Database time of one lookup");
    line!(out);
    line!(
        out,
        "The two statements a filtered `GET /Users` runs (COUNT, then the page from \
         `store::page_sql`), timed on a pooled connection without HTTP; median of 30, ms."
    );
    line!(out);
    line!(
        out,
        "| backend | filter | COUNT, {s} | page, {s} | COUNT, {l} | page, {l} |",
        s = thousands(args.small),
        l = thousands(args.large)
    );
    line!(out, "|---|---|---:|---:|---:|---:|");
    for r in results {
        for p in &r.plans {
            let cells: Vec<String> = p
                .db_ms
                .iter()
                .flat_map(|(c, pg)| [format!("{c:.3}"), format!("{pg:.3}")])
                .collect();
            line!(
                out,
                "| {} | `{}` | {} |",
                r.backend.name(),
                p.lookup.label(),
                cells.join(" | ")
            );
        }
    }
    line!(out);
}

fn plans(out: &mut String, results: &[BackendResult]) {
    line!(out, "## Query plans in the large tenant");
    line!(out);
    for r in results {
        for p in &r.plans {
            line!(out, "### {}: `{}`", r.backend.name(), p.lookup.label());
            line!(out);
            line!(out, "```sql\n{}\n```", p.page_text);
            line!(out);
            line!(out, "COUNT:");
            line!(out);
            line!(out, "```text\n{}\n```", p.count_plan);
            line!(out);
            line!(out, "Page:");
            line!(out);
            line!(out, "```text\n{}\n```", p.page_plan);
            line!(out);
        }
    }
}

fn reproduce(out: &mut String, args: &Args) {
    line!(out, "## How to reproduce");
    line!(out);
    line!(
        out,
        "```sh\nMUSTER_TEST_PG=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench load -- \
         --backend both --large {} --small {} --concurrency {} --seconds {}\n```",
        args.large,
        args.small,
        args.concurrency,
        args.seconds
    );
}

/// Throughput with the activity log on and off, per backend.
fn activity(out: &mut String, args: &Args, results: &[BackendResult]) {
    line!(out, "## Activity log overhead");
    line!(out);
    line!(
        out,
        "The same operations on the server above (activity log on) and on a second muster over \
         the same database with the log off, alternating in two rounds of {} s each, {} \
         clients. Overhead = 1 - (on req/s / off req/s).",
        (args.seconds / 2).max(1),
        args.concurrency
    );
    line!(out);
    line!(
        out,
        "| backend | operation | log on req/s | log off req/s | overhead | p50 on / off ms | errors |"
    );
    line!(out, "|---|---|---:|---:|---:|---:|---:|");
    for r in results {
        for (name, on, off) in &r.activity {
            let overhead = if off.rate() > 0.0 {
                (1.0 - on.rate() / off.rate()) * 100.0
            } else {
                0.0
            };
            line!(
                out,
                "| {} | {name} | {:.0} | {:.0} | {overhead:+.1}% | {:.2} / {:.2} | {} |",
                r.backend.name(),
                on.rate(),
                off.rate(),
                on.p50(),
                off.p50(),
                on.errors + off.errors
            );
        }
    }
    line!(out);
}
