//! Load benchmark for muster: starts the real server in-process on a loopback port for each
//! backend (SQLite in a fresh temporary file, PostgreSQL in a fresh database created from
//! `MUSTER_TEST_PG` and dropped at the end), seeds a small and a large tenant directly through
//! the store, then measures over HTTP:
//!
//! * throughput and latency (req/s, p50, p99) of create, userName filter lookup, GET by id,
//!   user PATCH and one-member group add, with a fixed number of concurrent clients;
//! * filter scaling: the p50 of `userName`, `externalId` and `emails.value` equality lookups in
//!   the large tenant against the small one (acceptance: ratio <= 1.5);
//! * big PATCH: the p50 of one PATCH adding 1,000 members against one adding a single member
//!   (acceptance: ratio <= 20).
//!
//! The results go to a markdown file (default `benches/RESULTS.md`) and to stdout.
//!
//! ```text
//! MUSTER_TEST_PG=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench --bench load -- --backend both
//! ```

mod client;
mod explain;
mod measure;
mod patch_cost;
mod report;
mod scenarios;
mod seed;
mod server;

use clap::{Parser, ValueEnum};
use server::Backend;
use std::path::PathBuf;

/// Which backends one run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backends {
    Sqlite,
    Postgres,
    Both,
}

impl Backends {
    fn list(self) -> Vec<Backend> {
        match self {
            Backends::Sqlite => vec![Backend::Sqlite],
            Backends::Postgres => vec![Backend::Postgres],
            Backends::Both => vec![Backend::Sqlite, Backend::Postgres],
        }
    }
}

/// The command line (after `cargo bench --bench load --`).
#[derive(Debug, Clone, Parser)]
#[command(name = "load", about = "muster load benchmark")]
pub struct Args {
    /// Backends to measure, one after the other in the same run.
    #[arg(long, value_enum, default_value = "both")]
    backend: Backends,
    /// Users in the large tenant.
    #[arg(long, default_value_t = 100_000)]
    pub large: usize,
    /// Users in the small tenant.
    #[arg(long, default_value_t = 1_000)]
    pub small: usize,
    /// Concurrent HTTP clients in the throughput phase.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds each throughput operation runs.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Sequential lookups per tenant and filter in the filter-scaling phase.
    #[arg(long, default_value_t = 400)]
    pub lookups: usize,
    /// Runs of each PATCH size in the big-PATCH phase (a fresh group each run).
    #[arg(long, default_value_t = 20)]
    pub patch_runs: usize,
    /// Members added by the big PATCH.
    #[arg(long, default_value_t = 1_000)]
    pub patch_members: usize,
    /// HTTP worker threads of the server.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Database pool size (default: 8 on SQLite, 16 on PostgreSQL, as the server's own).
    #[arg(long)]
    pub pool: Option<u32>,
    /// Where the markdown report goes.
    #[arg(long, default_value = "benches/RESULTS.md")]
    out: PathBuf,
    /// Passed by `cargo bench` to every bench binary; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut results = Vec::new();
    for backend in args.backend.list() {
        println!("== {} ==", backend.name());
        results.push(scenarios::run_backend(backend, &args).await?);
    }
    let md = report::markdown(&args, &results);
    println!("\n{md}");
    std::fs::write(&args.out, &md)?;
    println!("written to {}", args.out.display());
    Ok(())
}
