//! Starting and stopping muster in-process: its own actix system on a separate thread, listening
//! on a loopback port, over a fresh database that is removed again at the end.

use anyhow::{bail, Context};
use muster::config::Config;
use muster::db::DbUrl;
use muster::http::server;
use muster::state::AppState;
use std::net::TcpListener;

/// Admin URL used when `MUSTER_TEST_PG` is unset.
const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Which database the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The name shown in reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }

    /// The server's own default pool size for this backend.
    fn default_pool(self) -> u32 {
        match self {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        }
    }
}

/// A PostgreSQL database created for this run; dropped by [`Server::stop`].
struct PgDatabase {
    admin: String,
    name: String,
}

impl PgDatabase {
    /// Creates a fresh database next to the one in the admin URL.
    fn create() -> anyhow::Result<(PgDatabase, String)> {
        use diesel::{Connection, RunQueryDsl};
        let admin = std::env::var("MUSTER_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_owned());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("muster_bench_{}", suffix.get(..10).unwrap_or("x"));
        let mut c = diesel::PgConnection::establish(&admin)
            .context("PostgreSQL not reachable: set MUSTER_TEST_PG to an admin URL")?;
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut c)?;
        let (base, _) = admin
            .rsplit_once('/')
            .context("MUSTER_TEST_PG must be a URL ending in a database name")?;
        let url = format!("{base}/{name}");
        Ok((PgDatabase { admin, name }, url))
    }

    fn drop_now(&self) -> anyhow::Result<()> {
        use diesel::{Connection, RunQueryDsl};
        let mut c = diesel::PgConnection::establish(&self.admin)?;
        diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut c)?;
        Ok(())
    }
}

/// A running muster.
pub struct Server {
    pub backend: Backend,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub state: AppState,
    pub pool_size: u32,
    pub workers: usize,
    database: DbUrl,
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
    pg: Option<PgDatabase>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts muster on `backend` with `workers` HTTP workers and a pool of `pool` connections.
    pub async fn start(
        backend: Backend,
        workers: usize,
        pool: Option<u32>,
    ) -> anyhow::Result<Self> {
        let (database, dir, pg) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let path = dir.path().join("muster.db");
                let url = DbUrl::Sqlite(path.to_string_lossy().into_owned());
                (url, Some(dir), None)
            }
            Backend::Postgres => {
                let (pg, url) = tokio::task::spawn_blocking(PgDatabase::create).await??;
                (DbUrl::Postgres(url), None, Some(pg))
            }
        };
        let mut s = Server::open(backend, workers, pool, database, true).await?;
        s.pg = pg;
        s._dir = dir;
        Ok(s)
    }

    /// A second muster on the same database (as a second process would be), with the activity
    /// log on or off. Stopping it leaves the database to the first.
    pub async fn beside(&self, activity_log: bool) -> anyhow::Result<Self> {
        Server::open(
            self.backend,
            self.workers,
            Some(self.pool_size),
            self.database.clone(),
            activity_log,
        )
        .await
    }

    async fn open(
        backend: Backend,
        workers: usize,
        pool: Option<u32>,
        database: DbUrl,
        activity_log: bool,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            bail!("refusing to listen on a non-loopback address");
        }
        let url = format!("http://{addr}");
        let pool_size = pool.unwrap_or(backend.default_pool());
        let mut config = Config::new(addr.to_string(), url.clone(), database.clone(), pool_size)?;
        config.workers = workers;
        config.activity_log = activity_log;
        // One process seals with one key: every server of a benchmark run shares this one.
        config.secret_key = Some(muster::vault::Key::derive("benchmark", "muster load").encoded());
        let state = tokio::task::spawn_blocking(move || AppState::open(config)).await??;
        let (handle, thread) = spawn_http(state.clone(), listener).await?;
        Ok(Server {
            backend,
            url,
            state,
            pool_size,
            workers,
            database,
            handle,
            thread,
            pg: None,
            _dir: None,
        })
    }

    /// Stops the server, closes the pool and drops the PostgreSQL database.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.handle.stop(true).await;
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("server thread panicked"))??;
        drop(self.state);
        if let Some(pg) = self.pg {
            tokio::task::spawn_blocking(move || pg.drop_now()).await??;
        }
        Ok(())
    }
}

/// Runs the HTTP server on its own thread with its own actix system.
async fn spawn_http(
    state: AppState,
    listener: TcpListener,
) -> anyhow::Result<(
    actix_web::dev::ServerHandle,
    std::thread::JoinHandle<std::io::Result<()>>,
)> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let srv = server(state, listener)?;
            // The receiver only goes away when start-up was abandoned.
            let _ = tx.send(srv.handle());
            srv.await
        })
    });
    let handle = rx.await.context("the HTTP server did not start")?;
    Ok((handle, thread))
}
