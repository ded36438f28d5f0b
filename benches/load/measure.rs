//! Driving an operation with N concurrent clients for a bounded time and count, and the
//! statistics of the latencies collected (every latency kept, sorted, nearest-rank
//! percentiles).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one measured operation produced.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Latencies of the successful requests, sorted.
    pub latencies: Vec<Duration>,
    pub errors: usize,
    /// The first error seen, for the report.
    pub first_error: Option<String>,
    /// Wall time from the first request to the last answer.
    pub elapsed: Duration,
}

impl Stats {
    /// Successful requests.
    pub fn count(&self) -> usize {
        self.latencies.len()
    }

    /// Successful requests per second of wall time.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.count() as f64 / secs
        } else {
            0.0
        }
    }

    /// The nearest-rank percentile `q` (0..=1) in milliseconds; 0 without samples.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        let n = self.latencies.len();
        if n == 0 {
            return 0.0;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.latencies
            .get(rank - 1)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }

    pub fn p50(&self) -> f64 {
        self.percentile_ms(0.50)
    }

    pub fn p99(&self) -> f64 {
        self.percentile_ms(0.99)
    }

    fn merge(&mut self, other: Stats) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// How long and how often each client repeats the operation; whichever ends first.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub clients: usize,
    pub duration: Duration,
    pub per_client: usize,
}

/// Runs `op(client, i)` in `clients` concurrent tasks until the time or count limit.
pub async fn run<F, Fut>(limits: Limits, op: F) -> anyhow::Result<Stats>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let deadline = start + limits.duration;
    let tasks: Vec<_> = (0..limits.clients.max(1))
        .map(|client| {
            let op = Arc::clone(&op);
            tokio::spawn(async move { one_client(client, deadline, limits.per_client, &*op).await })
        })
        .collect();
    let mut total = Stats::default();
    for t in tasks {
        total.merge(t.await?);
    }
    total.elapsed = start.elapsed();
    total.latencies.sort_unstable();
    Ok(total)
}

async fn one_client<F, Fut>(client: usize, deadline: Instant, max: usize, op: &F) -> Stats
where
    F: Fn(usize, usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut s = Stats::default();
    for i in 0..max {
        if Instant::now() >= deadline {
            break;
        }
        let t = Instant::now();
        match op(client, i).await {
            Ok(()) => s.latencies.push(t.elapsed()),
            Err(e) => {
                s.errors += 1;
                s.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    s
}

/// Times one future.
pub async fn timed<Fut>(fut: Fut) -> anyhow::Result<Duration>
where
    Fut: Future<Output = anyhow::Result<()>>,
{
    let t = Instant::now();
    fut.await?;
    Ok(t.elapsed())
}

/// Sorted latencies as stats (for hand-timed sequences).
pub fn from_latencies(mut latencies: Vec<Duration>) -> Stats {
    latencies.sort_unstable();
    Stats {
        elapsed: latencies.iter().sum(),
        latencies,
        ..Stats::default()
    }
}

/// Several runs of one operation as one: their requests and their time added up.
pub fn merge(runs: Vec<Stats>) -> Stats {
    let mut all = Stats {
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    for r in runs {
        all.latencies.extend(r.latencies);
        all.errors += r.errors;
        all.first_error = all.first_error.or(r.first_error);
        all.elapsed += r.elapsed;
    }
    all.latencies.sort();
    all
}
