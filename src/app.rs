//! The application state and the HTTP server: routes, shared state, start-up.

use crate::auth::password::Hasher;
use crate::config::Config;
use crate::db::Db;
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;

/// What every request handler can reach. Nothing here is state that matters across processes:
/// that lives in the database.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub hasher: Hasher,
    pub mailer: crate::notify::mailer::Mailer,
    /// Stops this process's email worker between two messages (graceful shutdown).
    pub email_stop: crate::notify::outbox::Stop,
    /// The provisioning activity log's queue.
    pub activity: crate::activity::Log,
    /// This process's share of the SCIM rate counts.
    pub limiter: crate::limits::Limiter,
}

impl AppState {
    /// Opens the database (applying migrations) and builds the state.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated.
    pub fn open(config: Config) -> anyhow::Result<AppState> {
        let db = Db::open(&config.database, config.pool_size, config.db_wait)?;
        // The token signing key exists before the first request needs it.
        db.conn()
            .map_err(anyhow::Error::from)
            .and_then(|mut c| crate::keys::current(&mut c).map_err(anyhow::Error::from))?;
        let mailer = crate::notify::mailer::Mailer::new(
            config.smtp_url.as_deref(),
            config.outbox_dir.clone(),
        )
        .map_err(anyhow::Error::msg)?;
        Ok(AppState {
            mailer,
            email_stop: crate::notify::outbox::Stop::default(),
            activity: crate::activity::Log::new(config.activity_log),
            limiter: crate::limits::Limiter::default(),
            db,
            config: Arc::new(config),
            hasher: Hasher::new(2),
        })
    }
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(crate::ops::healthz))
        .route("/readyz", web::get().to(crate::ops::readyz))
        .route("/metrics", web::get().to(crate::ops::metrics))
        .route(
            "/.well-known/jwks.json",
            web::get().to(crate::sso::token::jwks),
        )
        .configure(crate::admin::routes)
        .service(crate::scim::http::scope())
        .service(crate::sso::http::scope());
}

/// Starts the HTTP server on an already-bound listener (tests bind port 0).
///
/// # Errors
/// When the server cannot start on the listener.
pub fn server(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let workers = state.config.workers;
    crate::ops::recorder();
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(crate::db::checkpoint_loop(state.db.clone()));
        rt.spawn(crate::notify::outbox::worker(
            state.db.clone(),
            state.mailer.clone(),
            state.config.mail_from.clone(),
            state.email_stop.clone(),
        ));
        rt.spawn(crate::limits::sync_loop(
            state.db.clone(),
            state.limiter.clone(),
        ));
        rt.spawn(crate::activity::writer(
            state.db.clone(),
            state.activity.clone(),
        ));
        if state.activity.enabled() {
            rt.spawn(crate::activity::prune_loop(
                state.db.clone(),
                state.config.activity_retention_days,
            ));
        }
    }
    let data = web::Data::new(state);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(actix_web::middleware::from_fn(crate::ops::observe))
            .configure(routes)
            .default_service(web::to(crate::scim::http::not_found))
    })
    .workers(workers)
    .listen(listener)?
    .run())
}
