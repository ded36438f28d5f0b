//! Storage: one diesel connection type over SQLite and PostgreSQL, an r2d2 pool, embedded
//! migrations per backend, and the helper that runs diesel work on the blocking pool.

pub mod schema;
pub mod sql;
pub mod text;
pub mod time;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::result::Error as DieselError;
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever backend `DATABASE_URL` chose.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which SQL dialect a connection speaks, for the few statements built as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl DbConn {
    /// The dialect of this connection.
    pub fn dialect(&self) -> Dialect {
        match self {
            DbConn::Postgres(_) => Dialect::Postgres,
            DbConn::Sqlite(_) => Dialect::Sqlite,
        }
    }
}

/// Errors opening the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not get a database connection: {0}")]
    Connection(#[from] diesel::r2d2::PoolError),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error(transparent)]
    Query(#[from] DieselError),
}

/// Where the data lives, parsed from `DATABASE_URL`.
#[derive(Debug, Clone)]
pub enum DbUrl {
    Postgres(String),
    Sqlite(String),
}

impl DbUrl {
    /// `postgres://` or `postgresql://` selects PostgreSQL; anything else is a SQLite path
    /// (`sqlite://` prefix optional). Unset means `muster.db` in the working directory.
    pub fn parse(url: Option<&str>) -> DbUrl {
        match url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                DbUrl::Postgres(u.to_owned())
            }
            Some(u) => DbUrl::Sqlite(u.trim_start_matches("sqlite://").to_owned()),
            None => DbUrl::Sqlite("muster.db".to_owned()),
        }
    }
}

type ConnPool = Pool<ConnectionManager<DbConn>>;

/// A pool of connections plus the knowledge of which backend they speak.
///
/// On SQLite, writes go through one dedicated connection (`writer`): SQLite runs one writer
/// at a time anyway, and queueing writers on the pool is fair and immediate where the busy
/// timeout's sleep-and-retry is neither. The writer also keeps its page cache, which SQLite
/// drops whenever another connection wrote, so a large write (1,000 members) reads warm
/// pages. On PostgreSQL `writer` is the same pool as `pool`.
#[derive(Clone)]
pub struct Db {
    pool: ConnPool,
    writer: ConnPool,
    dialect: Dialect,
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(c) = conn {
            // The busy timeout comes first so that nothing after it fails on a locked file:
            // writers queue instead. case_sensitive_like makes LIKE agree with PostgreSQL and
            // lets prefix filters use the index. Reads go through a memory map and a 32 MiB
            // cache: with SQLite's 2 MiB default, a large tenant's random id lookups (1,000
            // members added at once) each cost several read syscalls. (WAL is set once, in
            // `migrate`: it persists.) A server checkpoints the WAL in the background (see
            // `checkpoint_loop`); the higher automatic threshold only bounds the WAL when no
            // server runs, so a commit rarely pays for copying the WAL into the database.
            c.batch_execute(
                "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON; \
                 PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -32768; \
                 PRAGMA wal_autocheckpoint = 8192;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

impl Db {
    /// Opens the pool and applies any pending migrations. A request waits up to `wait` for a
    /// connection; then it fails with [`DbError::Connection`], which callers answer 503.
    ///
    /// # Errors
    /// When the database cannot be reached or a migration fails.
    pub fn open(url: &DbUrl, max_size: u32, wait: Duration) -> Result<Db, DbError> {
        let (conn_url, dialect) = match url {
            // Build the variant from the scheme: SQLite would accept any string as a path.
            DbUrl::Postgres(u) => (u.clone(), Dialect::Postgres),
            DbUrl::Sqlite(p) => (p.clone(), Dialect::Sqlite),
        };
        let build = |size: u32| {
            Pool::builder()
                .max_size(size)
                // No connection before migrations ran: each one then loads the final schema.
                .min_idle(Some(0))
                .connection_timeout(wait)
                .connection_customizer(Box::new(SqlitePragmas))
                .build(ConnectionManager::<DbConn>::new(conn_url.clone()))
        };
        let pool = build(max_size)?;
        let writer = match dialect {
            Dialect::Sqlite => build(1)?,
            Dialect::Postgres => pool.clone(),
        };
        let db = Db {
            pool,
            writer,
            dialect,
        };
        db.migrate()?;
        Ok(db)
    }

    /// The dialect of every connection in this pool.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn migrate(&self) -> Result<(), DbError> {
        let mut conn = self.pool.get()?;
        let source = match &*conn {
            DbConn::Postgres(_) => POSTGRES_MIGRATIONS,
            DbConn::Sqlite(_) => SQLITE_MIGRATIONS,
        };
        match &mut *conn {
            // Several processes may start at once; one applies the migrations.
            DbConn::Postgres(c) => c.batch_execute("SELECT pg_advisory_lock(7342001)")?,
            // WAL lets readers run beside the one writer.
            DbConn::Sqlite(c) => c.batch_execute("PRAGMA journal_mode = WAL")?,
        }
        let result = conn
            .run_pending_migrations(source)
            .map(|_| ())
            .map_err(|e| DbError::Migration(e.to_string()));
        if let DbConn::Postgres(c) = &mut *conn {
            c.batch_execute("SELECT pg_advisory_unlock(7342001)")?;
        }
        result
    }

    /// Whether the database answers and every migration this build knows is applied.
    ///
    /// # Errors
    /// Why not, for the readiness probe.
    pub fn ready(&self) -> Result<(), String> {
        let mut conn = self.pool.get().map_err(|e| format!("no connection: {e}"))?;
        conn.batch_execute("SELECT 1")
            .map_err(|e| format!("the database does not answer: {e}"))?;
        let source = match &*conn {
            DbConn::Postgres(_) => POSTGRES_MIGRATIONS,
            DbConn::Sqlite(_) => SQLITE_MIGRATIONS,
        };
        match conn.has_pending_migration(source) {
            Ok(false) => Ok(()),
            Ok(true) => Err("migrations are pending".into()),
            Err(e) => Err(format!("cannot read the migrations: {e}")),
        }
    }

    /// Connections of the (reading) pool: (open, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    /// Checks out a connection on the current thread (CLI and start-up use).
    ///
    /// # Errors
    /// When no connection can be had within the pool's timeout.
    pub fn conn(
        &self,
    ) -> Result<diesel::r2d2::PooledConnection<ConnectionManager<DbConn>>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a connection on the blocking pool, keeping the caller's tracing span, so
    /// diesel never blocks an async worker. For reads; see [`Db::run_write`].
    ///
    /// # Errors
    /// `f`'s own error, or `E::from(DbError)` when no connection could be had.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        Self::run_on(self.pool.clone(), f).await
    }

    /// Like [`Db::run`], on the connection that writes (see [`Db`]).
    ///
    /// # Errors
    /// `f`'s own error, or `E::from(DbError)` when no connection could be had.
    pub async fn run_write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        Self::run_on(self.writer.clone(), f).await
    }

    async fn run_on<T, E, F>(pool: ConnPool, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let span = tracing::Span::current();
        let joined = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(E::from(DbError::Migration(
                "blocking task cancelled".into(),
            ))),
        }
    }
}

/// Copies the SQLite WAL into the database once a second, off the request path: left to
/// SQLite, the commit that crosses the threshold does it, and a 1,000-member PATCH writes
/// enough pages to cross it every time. Passive, so it never waits for readers or writers.
/// Does nothing on PostgreSQL; ends with the runtime it was spawned on.
pub async fn checkpoint_loop(db: Db) {
    if db.dialect() != Dialect::Sqlite {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let done: Result<(), DbError> = db
            .run(|c| {
                if let DbConn::Sqlite(c) = c {
                    c.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// Runs `f` in a write transaction. On SQLite it begins `IMMEDIATE`, so the write lock is taken
/// (waiting on the busy timeout) before anything is read: a deferred transaction that reads and
/// then writes fails outright when another writer got in between. Nested in another
/// `write_tx`, it is a savepoint on both backends.
///
/// # Errors
/// `f`'s error (after rolling back), or the error of begin/commit.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<DieselError>,
{
    match conn {
        DbConn::Sqlite(c) => {
            // Inside another write transaction, a savepoint: the lock is already held.
            let depth = <AnsiTransactionManager as TransactionManager<SqliteConnection>>::transaction_manager_status_mut(c)
                .transaction_depth()?;
            if depth.is_some() {
                <AnsiTransactionManager as TransactionManager<SqliteConnection>>::begin_transaction(c)?;
            } else {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            }
        }
        DbConn::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConn as TransactionManager<DbConn>>::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            // The caller's error is what matters; a failed rollback leaves the connection
            // marked broken and the pool discards it.
            let _ = <DbConn as TransactionManager<DbConn>>::rollback_transaction(conn);
            Err(e)
        }
    }
}

/// True when `e` is a unique-constraint violation (a duplicate userName, say).
pub fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// The backend type of [`DbConn`].
pub type Backend = <DbConn as Connection>::Backend;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    fn names(dir: &str) -> BTreeSet<String> {
        std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let (pg, lite) = (names("postgres"), names("sqlite"));
        assert!(!pg.is_empty());
        assert_eq!(pg, lite);
    }
}
